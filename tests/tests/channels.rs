//! WhatsApp and Messenger through the real webhook endpoints and outbox, against the Graph API
//! sandbox (which signs like Meta and checks requests like Meta).

use std::time::Duration;

use confab_tests::*;
use relay::sandbox::{Failure, Sandbox};
use shared::*;
use tokio_util::sync::CancellationToken;

const WA_ID: &str = "5511987654321";

async fn bridged() -> (TestRelay, Sandbox, CancellationToken) {
    let (relay, sandbox, _, stop) = start_with_sandbox(|_, _| {}).await;
    (relay, sandbox, stop)
}

#[tokio::test]
async fn the_subscription_handshake_echoes_the_challenge_only_with_the_right_token() {
    let (relay, _sandbox, _stop) = bridged().await;
    let http = reqwest::Client::new();
    let ok = http
        .get(relay.url(&format!("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444")))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let bad = http
        .get(relay.url("/webhooks/messenger?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
}

#[tokio::test]
async fn a_badly_signed_webhook_is_refused_and_nothing_is_stored() {
    let (relay, _sandbox, _stop) = bridged().await;
    let body = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../relay/tests/fixtures/meta/whatsapp_text.json")).unwrap();
    let http = reqwest::Client::new();
    for signature in [None, Some("sha256=0000000000000000000000000000000000000000000000000000000000000000")] {
        let mut request = http.post(relay.url("/webhooks/whatsapp")).body(body.clone());
        if let Some(s) = signature {
            request = request.header("X-Hub-Signature-256", s);
        }
        assert_eq!(request.send().await.unwrap().status(), 401);
    }
    let (_advisor, inbox) = relay.advisor().await;
    assert!(inbox.is_empty(), "nothing stored: {inbox:?}");
}

#[tokio::test]
async fn a_whatsapp_customer_reaches_the_advisor_once_and_the_reply_goes_back_to_whatsapp() {
    let (relay, sandbox, _stop) = bridged().await;
    let (mut advisor, _) = relay.advisor().await;

    sandbox.whatsapp_text(WA_ID, "Ana Souza", "Olá! Is the blue jacket in stock?").await.unwrap();
    let message = advisor.next_message().await;
    assert_eq!(message.channel, Channel::Whatsapp);
    assert_eq!(message.text, "Olá! Is the blue jacket in stock?");
    assert!(message.is_from_visitor());
    let conversation = message.conversation;
    let row = advisor.summary_where(conversation, |c| c.last_seq == 1).await;
    assert_eq!(row.visitor_name, "Ana Souza");
    assert_eq!(row.channel, Channel::Whatsapp);
    assert!(row.window_closes_at.unwrap() > relay::now_ms(), "the 24-hour window is open");

    // Meta redelivers: the same wamid is stored once.
    sandbox.replay_last().await.unwrap();
    sandbox.whatsapp_text(WA_ID, "Ana Souza", "second").await.unwrap();
    let second = advisor.next_message().await;
    assert_eq!((second.seq, second.text.as_str()), (2, "second"));
    let all = messages_in_database(&relay.data_dir, conversation).await;
    assert_eq!(all.len(), 2, "the redelivery was not stored again: {all:?}");

    // The reply goes out on WhatsApp, in the platform's format, once; its status comes back.
    advisor.open(conversation).await;
    let seq = advisor.reply(conversation, "r-1", "Yes, in size M and L.").await.unwrap();
    let sent = sandbox
        .wait_for(|c| c.is_message_send() && c.recipient().as_deref() == Some(WA_ID), WAIT)
        .await
        .expect("the reply reached the Graph API");
    assert!(sent.is_success(), "accepted: {:?}", sent.response);
    let body = sent.body.unwrap();
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["type"], "text");
    assert_eq!(body["text"]["body"], "Yes, in size M and L.");
    advisor
        .wait_for(|f| match f {
            AdvisorServerFrame::Delivery { seq: s, delivery, .. } if *s == seq && delivery.state == PlatformState::Delivered => Some(()),
            _ => None,
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sandbox.sends_to(WA_ID).iter().filter(|c| c.is_message_send()).count(), 1, "sent exactly once");
}

#[tokio::test]
async fn a_rate_limited_reply_is_retried_and_a_closed_window_fails_visibly() {
    let (relay, sandbox, _stop) = bridged().await;
    let (mut advisor, _) = relay.advisor().await;
    sandbox.whatsapp_text(WA_ID, "Ana Souza", "hello").await.unwrap();
    let conversation = advisor.next_message().await.conversation;

    sandbox.fail_next(1, Failure::RateLimited);
    advisor.reply(conversation, "r-1", "One moment").await.unwrap();
    let accepted = sandbox.wait_for(|c| c.is_message_send() && c.is_success(), Duration::from_secs(20)).await;
    assert!(accepted.is_some(), "retried after the 429 and accepted");
    let sends: Vec<_> = sandbox.sends_to(WA_ID).into_iter().filter(|c| c.is_message_send()).collect();
    assert_eq!(sends.iter().map(|c| c.status).collect::<Vec<_>>(), vec![429, 200]);

    // WhatsApp accepts, then reports 131047 (window closed): the message is marked failed, with
    // the reason in words.
    sandbox.fail_next(1, Failure::OutsideWindow);
    let seq = advisor.reply(conversation, "r-2", "Are you still there?").await.unwrap();
    let reason = advisor
        .wait_for(|f| match f {
            AdvisorServerFrame::Delivery { seq: s, delivery, .. } if *s == seq && delivery.state == PlatformState::Failed => {
                delivery.error.clone()
            }
            _ => None,
        })
        .await;
    assert!(!reason.is_empty());
    let history = advisor.open(conversation).await;
    let failed = history.iter().find(|m| m.seq == seq).unwrap();
    assert_eq!(failed.delivery.as_ref().unwrap().state, PlatformState::Failed);
}

