//! A conversation's life in the inbox (open, snoozed, resolved) and private notes, which advisors
//! share and the customer never receives.

use std::time::Duration;

use confab_tests::*;
use relay::config::MetaArgs;
use relay::sandbox::{self, SandboxConfig};
use shared::*;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Write a private note and wait for its ack; returns its seq.
async fn note(advisor: &mut AdvisorClient, conversation: ConversationId, id: &str, text: &str) -> Seq {
    advisor.send(&AdvisorClientFrame::Note { id: id.into(), conversation, text: text.into() }).await;
    advisor
        .wait_for(|f| match f {
            AdvisorServerFrame::Ack { id: acked, seq, .. } if acked.0 == id => Some(Ok(*seq)),
            AdvisorServerFrame::Error(e) if e.reference.as_deref() == Some(id) => Some(Err(e.clone())),
            _ => None,
        })
        .await
        .unwrap_or_else(|e| panic!("note refused: {e:?}"))
}

async fn set_status(
    advisor: &mut AdvisorClient,
    conversation: ConversationId,
    status: ConversationStatus,
    snoozed_until: Option<i64>,
) {
    let frame = AdvisorClientFrame::SetStatus { reference: "st".into(), conversation, status, snoozed_until };
    advisor.send(&frame).await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test]
async fn a_private_note_reaches_advisors_and_never_the_visitor() {
    let relay = TestRelay::start().await;
    let (mut visitor, w) = relay.new_visitor().await;
    let c = w.conversation;
    let (mut ada, _) = relay.advisor().await;
    let (mut bob, _) = relay.advisor().await;
    visitor.say("v-1", "my order is late").await.unwrap();
    assert_eq!(ada.next_message().await.seq, 1);
    assert_eq!(bob.next_message().await.seq, 1);

    let seq = note(&mut ada, c, "n-1", "VIP customer, refund without asking").await;
    assert_eq!(seq, 2);
    // The other advisor sees it live, marked as a note; the thread holds it for both.
    let seen = bob.next_message().await;
    assert!(seen.note, "{seen:?}");
    assert_eq!(seen.text, "VIP customer, refund without asking");
    assert!(bob.open(c).await.iter().any(|m| m.note && m.seq == 2));
    let row = bob.summary_where(c, |s| s.last_seq == 2).await;
    assert_eq!(row.unread, 1, "a note is not unread, nor does it mark the thread read");
    // A retry of the same note is acked with the same seq and stored once.
    assert_eq!(note(&mut ada, c, "n-1", "VIP customer, refund without asking").await, 2);

    // Nothing of it reaches the visitor live (receipts may; no message, no read up to the note).
    let mut frames = Vec::new();
    while let Some(f) = visitor.try_recv(Duration::from_millis(400)).await {
        frames.push(f);
    }
    assert!(
        frames.iter().all(|f| !matches!(f, VisitorServerFrame::Message { .. } | VisitorServerFrame::Read { up_to: 2 })),
        "{frames:?}"
    );

    // Nor on a replay from the start: the thread the visitor gets back ends at their message.
    let mut back = relay.visitor().await;
    let again = back.hello(Some(&w.token), 0).await.unwrap();
    assert_eq!(again.last_seq, 1);
    assert_eq!(again.replay.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1]);
    assert!(again.replay.iter().all(|m| !m.note && !m.text.contains("VIP")));

    // The thread goes on: the visitor's next message takes the seq after the note, and replies and
    // read receipts reach them as before.
    let (seq, _) = back.say("v-2", "any news?").await.unwrap();
    assert_eq!(seq, 3);
    let reply = ada.reply(c, "a-1", "Refunded!").await.unwrap();
    assert_eq!(reply, 4);
    let m = back.next_message().await;
    assert_eq!((m.seq, m.text.as_str(), m.note), (4, "Refunded!", false));
    let mut later = relay.visitor().await;
    let replay = later.hello(Some(&w.token), 0).await.unwrap().replay;
    assert_eq!(replay.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 3, 4]);
}

#[tokio::test]
async fn a_resolved_conversation_reopens_when_the_visitor_writes() {
    let relay = TestRelay::start().await;
    let (mut visitor, w) = relay.new_visitor().await;
    let c = w.conversation;
    let (mut advisor, _) = relay.advisor().await;
    visitor.say("v-1", "thanks, all good").await.unwrap();
    assert_eq!(advisor.summary_where(c, |s| s.last_seq == 1).await.status, ConversationStatus::Open);

    set_status(&mut advisor, c, ConversationStatus::Resolved, None).await;
    advisor.summary_where(c, |s| s.status == ConversationStatus::Resolved).await;
    let (mut other, inbox) = relay.advisor().await;
    assert_eq!(inbox.iter().find(|s| s.id == c).unwrap().status, ConversationStatus::Resolved);

    visitor.say("v-2", "actually, one more thing").await.unwrap();
    let row = other.summary_where(c, |s| s.last_seq == 2).await;
    assert_eq!(row.status, ConversationStatus::Open);
    assert_eq!(row.unread, 2);

    // Reopened by hand, too.
    set_status(&mut advisor, c, ConversationStatus::Resolved, None).await;
    advisor.summary_where(c, |s| s.status == ConversationStatus::Resolved).await;
    set_status(&mut advisor, c, ConversationStatus::Open, None).await;
    advisor.summary_where(c, |s| s.status == ConversationStatus::Open).await;
}

#[tokio::test]
async fn a_snoozed_conversation_reopens_when_its_time_comes_or_the_visitor_writes() {
    let relay = TestRelay::start().await;
    let (mut visitor, w) = relay.new_visitor().await;
    let c = w.conversation;
    let (mut advisor, _) = relay.advisor().await;
    visitor.say("v-1", "call me tomorrow").await.unwrap();
    advisor.summary_where(c, |s| s.last_seq == 1).await;

    let until = now_ms() + 1_500;
    set_status(&mut advisor, c, ConversationStatus::Snoozed, Some(until)).await;
    let row = advisor.summary_where(c, |s| s.status == ConversationStatus::Snoozed).await;
    assert_eq!(row.snoozed_until, Some(until));
    let row = advisor.summary_where(c, |s| s.status == ConversationStatus::Open).await;
    assert_eq!(row.snoozed_until, None);
    assert!(now_ms() >= until, "not before its time");

    // A time already past: open at once.
    set_status(&mut advisor, c, ConversationStatus::Snoozed, Some(now_ms() - 1_000)).await;
    set_status(&mut advisor, c, ConversationStatus::Resolved, None).await;
    advisor.summary_where(c, |s| s.status == ConversationStatus::Resolved).await;

    // Snoozed for a week, the visitor writes: open.
    set_status(&mut advisor, c, ConversationStatus::Snoozed, Some(now_ms() + 7 * 24 * 3_600_000)).await;
    advisor.summary_where(c, |s| s.status == ConversationStatus::Snoozed).await;
    visitor.say("v-2", "hello?").await.unwrap();
    let row = advisor.summary_where(c, |s| s.last_seq == 2).await;
    assert_eq!((row.status, row.snoozed_until), (ConversationStatus::Open, None));
}

#[tokio::test]
async fn status_and_notes_on_an_unknown_conversation_are_refused() {
    let relay = TestRelay::start().await;
    let (mut advisor, _) = relay.advisor().await;
    set_status(&mut advisor, ConversationId(9_999), ConversationStatus::Resolved, None).await;
    let e = advisor.expect_error().await;
    assert_eq!((e.code, e.reference.as_deref()), (ErrorCode::NotFound, Some("st")));

    advisor.send(&AdvisorClientFrame::Note { id: "n-x".into(), conversation: ConversationId(9_999), text: "hm".into() }).await;
    let e = advisor.expect_error().await;
    assert_eq!((e.code, e.reference.as_deref()), (ErrorCode::NotFound, Some("n-x")));

    // Snoozing needs a time; an empty note is refused like an empty reply.
    let (mut visitor, w) = relay.new_visitor().await;
    visitor.say("v1", "hello").await.unwrap();
    advisor.next_message().await;
    set_status(&mut advisor, w.conversation, ConversationStatus::Snoozed, None).await;
    assert_eq!(advisor.expect_error().await.code, ErrorCode::InvalidFrame);
    advisor.send(&AdvisorClientFrame::Note { id: "n-y".into(), conversation: w.conversation, text: "  ".into() }).await;
    assert_eq!(advisor.expect_error().await.code, ErrorCode::TextEmpty);
    // The socket lives on.
    advisor.open(w.conversation).await;
}

#[tokio::test]
async fn a_note_in_a_whatsapp_conversation_never_goes_to_whatsapp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let defaults = SandboxConfig::default();
    let meta = MetaArgs {
        meta_app_secret: Some(defaults.app_secret.clone()),
        meta_verify_token: Some("verify-me".into()),
        graph_base_url: format!("http://{}", listener.local_addr().unwrap()),
        graph_api_version: defaults.api_version.clone(),
        whatsapp_phone_number_id: Some(defaults.phone_number_id.clone()),
        whatsapp_token: Some(defaults.access_token.clone()),
        channels_site: Some(SITE.into()),
        ..MetaArgs::default()
    };
    let relay = TestRelay::start_bridged(meta).await;
    let config = SandboxConfig { relay_webhook_url_whatsapp: relay.url("/webhooks/whatsapp"), ..defaults };
    let stop = CancellationToken::new();
    let sandbox = sandbox::start(listener, config, stop.clone()).await.unwrap();
    let (mut advisor, _) = relay.advisor().await;
    const WA_ID: &str = "5511987654321";

    sandbox.whatsapp_text(WA_ID, "Ana Souza", "Is the blue jacket in stock?").await.unwrap();
    let c = advisor.next_message().await.conversation;
    advisor.open(c).await;
    assert_eq!(note(&mut advisor, c, "n-1", "Check the Lisbon warehouse first").await, 2);
    // The reply after it goes out; the note never does, nor does it wait in the outbox.
    advisor.reply(c, "r-1", "Yes, in M and L.").await.unwrap();
    sandbox.wait_for(|x| x.is_message_send() && x.recipient().as_deref() == Some(WA_ID), WAIT).await.expect("the reply was sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sends: Vec<_> = sandbox.sends_to(WA_ID).into_iter().filter(|x| x.is_message_send()).collect();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].body.as_ref().unwrap()["text"]["body"], "Yes, in M and L.");
    let outbox = stored_outbox(&relay.data_dir).await;
    assert_eq!(outbox.iter().map(|o| o.seq).collect::<Vec<_>>(), vec![3]);
}
