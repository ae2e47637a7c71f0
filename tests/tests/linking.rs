//! One customer across channels, and the rest of the advisor's side of WhatsApp and Messenger:
//! "Continue on WhatsApp / Messenger" codes, unlinking, replying via a chosen channel, templates
//! outside the window, read receipts and typing sent back to the platforms, and the admin alert
//! for an expired token. Against a real relay and the Graph API sandbox.

use std::time::Duration;

use confab_tests::*;
use relay::sandbox::{Failure, Sandbox, SandboxConfig};
use serde_json::json;
use shared::*;
use tokio_util::sync::CancellationToken;

const WA_ID: &str = "5511987654321";
const PSID: &str = "7012345678905678";

struct Setup {
    relay: TestRelay,
    sandbox: Sandbox,
    _stop: CancellationToken,
    _templates: tempfile::NamedTempFile,
}

async fn bridged() -> Setup {
    bridged_with(|_| {}).await
}

/// [`bridged`], with the relay's configuration changed by `configure`.
async fn bridged_with(configure: impl FnOnce(&mut relay::Config)) -> Setup {
    let templates = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        templates.path(),
        json!([{"name": "follow_up", "language": "en_US", "text": "Hi {{1}}, we have an answer about {{2}}. Reply to continue."}])
            .to_string(),
    )
    .unwrap();
    let (relay, sandbox, _, stop) = start_with_sandbox_and(
        |meta, _| {
            let graph = meta.graph_base_url.clone();
            meta.whatsapp_number = Some("+1 555 014 2277".into());
            meta.whatsapp_templates = Some(templates.path().to_owned());
            meta.wa_me_url = format!("{graph}/wa.me").parse().unwrap();
            meta.m_me_url = format!("{graph}/m.me").parse().unwrap();
        },
        configure,
    )
    .await;
    Setup { relay, sandbox, _stop: stop, _templates: templates }
}

fn link(welcome: &Welcome, channel: Channel) -> url::Url {
    let link = welcome.continue_on.iter().find(|l| l.channel == channel).unwrap_or_else(|| panic!("a {channel:?} link"));
    url::Url::parse(&link.url).unwrap()
}

fn query(url: &url::Url, key: &str) -> String {
    url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned()).unwrap_or_else(|| panic!("{key} in {url}"))
}

/// A WhatsApp text with a chosen timestamp, signed like Meta signs it.
async fn post_whatsapp_at(relay: &TestRelay, wa_id: &str, wamid: &str, text: &str, at_ms: i64) {
    let d = SandboxConfig::default();
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": d.waba_id, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": d.display_phone_number, "phone_number_id": d.phone_number_id},
        "contacts": [{"profile": {"name": "Ana Souza"}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": wamid, "timestamp": (at_ms / 1000).to_string(), "type": "text", "text": {"body": text}}]
    }}]}]})
    .to_string();
    let signature = relay::channels::meta::sign(d.app_secret.as_bytes(), body.as_bytes());
    let response = reqwest::Client::new()
        .post(relay.url("/webhooks/whatsapp"))
        .header("X-Hub-Signature-256", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_visitor_who_continues_on_whatsapp_stays_one_customer_and_the_reply_goes_to_whatsapp() {
    let Setup { relay, sandbox, .. } = bridged().await;
    let (mut advisor, _) = relay.advisor().await;
    let (mut visitor, welcome) = relay.new_visitor().await;
    visitor.say("w-1", "Hi, I asked about the Ridge tent on your site").await.unwrap();
    let web = advisor.next_message().await;
    assert_eq!((web.conversation, web.channel), (welcome.conversation, Channel::Web));

    // The widget's WhatsApp link: the business number, and a prefilled text carrying the code.
    let wa = link(&welcome, Channel::Whatsapp);
    assert!(wa.path().ends_with("/wa.me/15550142277"), "{wa}");
    let prefill = query(&wa, "text");
    let code = relay::channels::link::find_code(&prefill).expect("a code in the prefilled text");
    assert!(prefill.contains("Test Shop"), "{prefill}");
    // Asking again (a reload) gives the same live code.
    let (_again, again) = {
        let mut v = relay.visitor().await;
        let w = v.hello(Some(&welcome.token), 0).await.unwrap();
        (v, w)
    };
    assert_eq!(relay::channels::link::find_code(&query(&link(&again, Channel::Whatsapp), "text")).as_deref(), Some(code.as_str()));

    // The customer sends it from WhatsApp: the message lands in the same conversation.
    sandbox.whatsapp_text(WA_ID, "Ana Souza", &prefill).await.unwrap();
    let from_phone = advisor.next_message().await;
    assert_eq!(from_phone.conversation, welcome.conversation, "one customer, one thread");
    assert_eq!(from_phone.channel, Channel::Whatsapp);
    let row = advisor.summary_where(welcome.conversation, |c| !c.identities.is_empty() && c.last_seq == 2).await;
    assert_eq!(row.identities.len(), 1);
    assert_eq!(row.identities[0].channel, Channel::Whatsapp);
    assert!(row.identities[0].linked);
    assert_eq!(row.identities[0].label, format!("Ana Souza · +{WA_ID}"));
    assert_eq!(row.reply_channel, Channel::Whatsapp, "replies go where the customer last wrote");
    // The visitor's page shows the WhatsApp message too: it is one thread.
    assert_eq!(visitor.next_message().await.channel, Channel::Whatsapp);

    // The advisor's reply goes to WhatsApp (and into the thread).
    let history = advisor.open(welcome.conversation).await;
    assert_eq!(history.iter().map(|m| m.channel).collect::<Vec<_>>(), vec![Channel::Web, Channel::Whatsapp]);
    advisor.reply(welcome.conversation, "r-1", "Yes, it ships to Brazil in 5 days.").await.unwrap();
    let sent = sandbox.wait_for(|c| c.is_message_send() && c.recipient().as_deref() == Some(WA_ID), WAIT).await.expect("sent");
    assert_eq!(sent.body.unwrap()["text"]["body"], "Yes, it ships to Brazil in 5 days.");

    // "Web thread only": nothing more goes to WhatsApp.
    advisor
        .send(&AdvisorClientFrame::Send {
            id: "r-2".into(),
            conversation: welcome.conversation,
            text: "(also noted on your web chat)".into(),
            via: Some(Channel::Web),
            template: None,
            attachments: vec![],
        })
        .await;
    advisor.wait_for(|f| matches!(f, AdvisorServerFrame::Ack { id, .. } if id.0 == "r-2").then_some(())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sandbox.sends_to(WA_ID).len(), 1, "the web-only reply stayed on the web");

    // The code is used up: someone else sending the same text gets a conversation of their own.
    sandbox.whatsapp_text("447700900123", "Someone Else", &prefill).await.unwrap();
    let other = advisor.next_message().await;
    assert_ne!(other.conversation, welcome.conversation, "a used code links nobody");
}

/// Notifications go out this long after a reply.
const BATCH: Duration = Duration::from_millis(500);
/// Long enough for two replies sent one after the other to make one burst, even on a busy machine.
const BURST: Duration = Duration::from_secs(2);

/// A web visitor who linked WhatsApp earlier, came back to the site and wrote there last.
async fn linked_then_back_on_the_web(relay: &TestRelay, sandbox: &Sandbox, advisor: &mut AdvisorClient) -> (VisitorClient, Welcome) {
    let (mut visitor, welcome) = relay.new_visitor().await;
    visitor.say("w-1", "Do you ship the Ridge tent to Brazil?").await.unwrap();
    advisor.next_message().await;
    sandbox.whatsapp_text(WA_ID, "Ana Souza", &query(&link(&welcome, Channel::Whatsapp), "text")).await.unwrap();
    assert_eq!(advisor.next_message().await.channel, Channel::Whatsapp);
    visitor.say("w-2", "Back on the site: and to Portugal?").await.unwrap();
    let row = advisor.summary_where(welcome.conversation, |c| c.last_seq == 3).await;
    assert_eq!(row.reply_channel, Channel::Web, "she wrote last on the web");
    (visitor, welcome)
}

/// Wait until the notification of `conversation` has been dealt with up to `seq` (sent or not).
async fn notification_done(relay: &TestRelay, conversation: ConversationId, seq: Seq) {
    let sql = format!("SELECT notified_seq FROM notifications WHERE conversation_id = {} AND due_at IS NULL", conversation.0);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let done = sql_i64(&relay.data_dir, &sql).await;
        if done.is_some_and(|n| n >= seq as i64) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the notification of {conversation} was not dealt with");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_web_customer_who_left_is_told_on_the_app_they_linked_and_answers_there() {
    let Setup { relay, sandbox, .. } = bridged_with(|c| c.notify.batch = BURST).await;
    let (mut advisor, _) = relay.advisor().await;
    let (visitor, welcome) = linked_then_back_on_the_web(&relay, &sandbox, &mut advisor).await;
    let conversation = welcome.conversation;
    drop(visitor);
    advisor.summary_where(conversation, |s| !s.visitor_online).await;

    // Two replies in a burst: the thread keeps them on the web; WhatsApp tells her once, with both.
    advisor.reply(conversation, "r-1", "Yes to both.").await.unwrap();
    advisor.reply(conversation, "r-2", "Delivery takes 5 days.").await.unwrap();
    let told = sandbox.wait_for(|c| c.is_message_send() && c.recipient().as_deref() == Some(WA_ID), WAIT).await.expect("told on WhatsApp");
    assert!(told.is_success(), "{:?}", told.response);
    let body = told.body.unwrap();
    let text = body["text"]["body"].as_str().unwrap();
    assert!(
        text.starts_with("Test Shop sent you 2 replies on their website's chat:\n\nAda: Yes to both.\n\nAda: Delivery takes 5 days.\n\nAnswer here to continue the conversation. Or on the site: "),
        "{text}"
    );
    assert!(text.contains("#confab-resume="), "{text}");
    let thread = advisor.open(conversation).await;
    assert!(thread[3..].iter().all(|m| m.channel == Channel::Web), "the replies stay web messages");

    // She answers right there, in the same conversation; nothing more went to WhatsApp.
    sandbox.whatsapp_text(WA_ID, "Ana Souza", "Great, ordering now").await.unwrap();
    let answer = advisor
        .wait_for(|f| match f {
            AdvisorServerFrame::Message { message } if message.channel == Channel::Whatsapp => Some(message.clone()),
            _ => None,
        })
        .await;
    assert_eq!((answer.conversation, answer.text.as_str()), (conversation, "Great, ordering now"));
    assert_eq!(sandbox.sends_to(WA_ID).len(), 1, "one message for the burst");
}

#[tokio::test]
async fn no_app_message_while_on_the_page_after_the_window_or_for_a_reply_kept_on_the_web() {
    let Setup { relay, sandbox, .. } = bridged_with(|c| c.notify.batch = BATCH).await;
    let (mut advisor, _) = relay.advisor().await;
    let (visitor, welcome) = linked_then_back_on_the_web(&relay, &sandbox, &mut advisor).await;
    let conversation = welcome.conversation;

    // On the page: she reads it there.
    advisor.reply(conversation, "r-1", "Yes to both.").await.unwrap();
    tokio::time::sleep(BATCH * 3).await;
    assert!(sandbox.sends_to(WA_ID).is_empty(), "told nothing while on the page");

    // Gone, but her WhatsApp message is over 24 hours old: WhatsApp would refuse a free text.
    drop(visitor);
    advisor.summary_where(conversation, |s| !s.visitor_online).await;
    let long_ago = relay::now_ms() - 25 * 3600 * 1000;
    execute_sql(&relay.data_dir, &format!("UPDATE channel_identities SET last_inbound_at = {long_ago}")).await;
    let seq = advisor.reply(conversation, "r-2", "Delivery takes 5 days.").await.unwrap();
    notification_done(&relay, conversation, seq).await;
    assert!(sandbox.sends_to(WA_ID).is_empty(), "nothing outside the window");

    // She writes on WhatsApp: replies go there now. One the advisor keeps on the web stays there.
    sandbox.whatsapp_text(WA_ID, "Ana Souza", "Are you there?").await.unwrap();
    advisor.summary_where(conversation, |c| c.reply_channel == Channel::Whatsapp).await;
    advisor
        .send(&AdvisorClientFrame::Send {
            id: "r-3".into(),
            conversation,
            text: "(noted on your web chat)".into(),
            via: Some(Channel::Web),
            template: None,
            attachments: vec![],
        })
        .await;
    let seq = advisor.wait_for(|f| match f {
        AdvisorServerFrame::Ack { id, seq, .. } if id.0 == "r-3" => Some(*seq),
        _ => None,
    });
    let seq = seq.await;
    notification_done(&relay, conversation, seq).await;
    assert!(sandbox.sends_to(WA_ID).is_empty(), "the web-only note was not forwarded");
}

#[tokio::test]
async fn a_messenger_ref_links_and_an_advisor_can_undo_the_link() {
    let Setup { relay, sandbox, .. } = bridged().await;
    let (mut advisor, _) = relay.advisor().await;
    let (mut visitor, welcome) = relay.new_visitor().await;
    visitor.say("w-1", "Do you have the boots in 44?").await.unwrap();
    advisor.next_message().await;

    let m = link(&welcome, Channel::Messenger);
    assert!(m.path().ends_with(&format!("/m.me/{}", SandboxConfig::default().page_id)), "{m}");
    let code = query(&m, "ref");
    sandbox.messenger_text(PSID, "Hi, it's me from the website", Some(&code)).await.unwrap();
    let message = advisor.next_message().await;
    assert_eq!((message.conversation, message.channel), (welcome.conversation, Channel::Messenger));
    let row = advisor.summary_where(welcome.conversation, |c| c.identities.iter().any(|i| i.linked)).await;
    let identity = row.identities[0].clone();
    assert_eq!(identity.channel, Channel::Messenger);

    // Unlinking an identity that is not in this conversation is refused.
    advisor.send(&AdvisorClientFrame::Unlink { reference: "u-0".into(), conversation: welcome.conversation, identity: 9999 }).await;
    let refused = advisor.expect_error().await;
    assert_eq!((refused.code, refused.reference.as_deref()), (ErrorCode::NotFound, Some("u-0")));

    // Undo: the identity leaves the customer; the next Messenger message starts its own conversation.
    advisor.send(&AdvisorClientFrame::Unlink { reference: "u-1".into(), conversation: welcome.conversation, identity: identity.id }).await;
    let row = advisor.summary_where(welcome.conversation, |c| c.identities.is_empty()).await;
    assert_eq!(row.reply_channel, Channel::Web, "with Messenger gone, replies stay on the web");
    sandbox.messenger_text(PSID, "another question", None).await.unwrap();
    let after = advisor.next_message().await;
    assert_ne!(after.conversation, welcome.conversation);
    assert_eq!(after.channel, Channel::Messenger);
    // And a reply in the web conversation no longer goes to Messenger.
    advisor.reply(welcome.conversation, "r-1", "Yes, size 44 is in stock.").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sandbox.sends_to(PSID).is_empty(), "nothing sent to the unlinked Messenger user");
}

#[tokio::test]
async fn outside_the_window_free_text_is_refused_and_an_approved_template_goes_out() {
    let Setup { relay, sandbox, .. } = bridged().await;
    let (mut advisor, _) = relay.advisor().await;
    let channels = advisor.wait_for(|f| match f {
        AdvisorServerFrame::Channels { channels } => Some(channels.clone()),
        _ => None,
    });
    let channels = channels.await;
    let whatsapp = channels.iter().find(|c| c.channel == Channel::Whatsapp).expect("WhatsApp status");
    assert_eq!(whatsapp.templates.len(), 1);
    assert_eq!(whatsapp.templates[0].param_count(), 2);
    assert!(whatsapp.alert.is_none());

    // The customer last wrote two days ago.
    let two_days_ago = relay::now_ms() - 2 * 24 * 3600 * 1000;
    post_whatsapp_at(&relay, WA_ID, "wamid.old-1", "Is my order ready?", two_days_ago).await;
    let conversation = advisor.next_message().await.conversation;
    let row = advisor.summary_where(conversation, |c| c.last_seq == 1).await;
    assert!(row.window_closes_at.unwrap() < relay::now_ms(), "the window is shown closed");

    let refused = advisor.reply(conversation, "r-1", "Yes it is").await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::ChannelWindowClosed);
    // A template with a missing value, or an unknown one, is refused with why.
    for (name, params) in [("follow_up", vec!["Ana".to_string()]), ("nope", vec![])] {
        let template = TemplateSend { name: name.into(), language: "en_US".into(), params };
        advisor
            .send(&AdvisorClientFrame::Send { id: "t-0".into(), conversation, text: String::new(), via: None, template: Some(template), attachments: vec![] })
            .await;
        let e = advisor.expect_error().await;
        assert_eq!((e.code, e.reference.as_deref()), (ErrorCode::InvalidFrame, Some("t-0")), "{e:?}");
    }

    let template = TemplateSend { name: "follow_up".into(), language: "en_US".into(), params: vec!["Ana".into(), "order NW-1".into()] };
    advisor.send(&AdvisorClientFrame::Send { id: "t-1".into(), conversation, text: String::new(), via: None, template: Some(template), attachments: vec![] }).await;
    advisor.wait_for(|f| matches!(f, AdvisorServerFrame::Ack { id, .. } if id.0 == "t-1").then_some(())).await;
    let sent = sandbox.wait_for(|c| c.is_message_send() && c.recipient().as_deref() == Some(WA_ID), WAIT).await.expect("sent");
    assert!(sent.is_success(), "the sandbox accepts a template outside the window: {:?}", sent.response);
    let body = sent.body.unwrap();
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "follow_up");
    assert_eq!(body["template"]["language"]["code"], "en_US");
    assert_eq!(body["template"]["components"][0]["parameters"][1]["text"], "order NW-1");
    // The thread shows what the customer got.
    let thread = advisor.open(conversation).await;
    assert_eq!(thread.last().unwrap().text, "Hi Ana, we have an answer about order NW-1. Reply to continue.");
    assert_eq!(refused.reference.as_deref(), Some("r-1"));
    assert_eq!(thread.len(), 2, "the refused free text was not stored");
}

#[tokio::test]
async fn reading_and_typing_reach_the_customer_and_an_expired_token_alerts_every_advisor() {
    let Setup { relay, sandbox, .. } = bridged().await;
    let (mut advisor, _) = relay.advisor().await;
    let wamid = sandbox.whatsapp_text(WA_ID, "Ana Souza", "Hello?").await.unwrap();
    let message = advisor.next_message().await;
    let conversation = message.conversation;

    // Reading it marks it read on WhatsApp.
    advisor.send(&AdvisorClientFrame::Read { conversation, up_to: message.seq }).await;
    let read = sandbox
        .wait_for(|c| c.body.as_ref().is_some_and(|b| b["status"] == "read" && b.get("typing_indicator").is_none()), WAIT)
        .await
        .expect("mark-as-read sent");
    assert_eq!(read.body.unwrap()["message_id"], wamid.as_str());
    // Typing shows WhatsApp's typing indicator.
    advisor.send(&AdvisorClientFrame::Typing { conversation, on: true }).await;
    let typing = sandbox
        .wait_for(|c| c.body.as_ref().is_some_and(|b| b["typing_indicator"]["type"] == "text"), WAIT)
        .await
        .expect("typing indicator sent");
    assert!(typing.is_success());

    // Messenger: the customer's name comes from the profile API; reading sends mark_seen.
    sandbox.set_messenger_name(PSID, "Jules Martin");
    sandbox.messenger_text(PSID, "hi from messenger", None).await.unwrap();
    let m = advisor.next_message().await;
    let row = advisor.summary_where(m.conversation, |c| c.last_seq == 1).await;
    assert_eq!(row.visitor_name, "Jules Martin");
    assert_eq!(row.identities[0].label, "Jules Martin");
    advisor.send(&AdvisorClientFrame::Read { conversation: m.conversation, up_to: m.seq }).await;
    sandbox.wait_for(|c| c.body.as_ref().is_some_and(|b| b["sender_action"] == "mark_seen"), WAIT).await.expect("mark_seen sent");

    // An expired token: the reply fails with the reason, and every advisor sees an alert.
    let (mut second, _) = relay.advisor().await;
    sandbox.fail_next(1, Failure::TokenExpired);
    let seq = advisor.reply(conversation, "r-1", "Hi Ana!").await.unwrap();
    let failed = advisor
        .wait_for(|f| match f {
            AdvisorServerFrame::Delivery { seq: s, delivery, .. } if *s == seq && delivery.state == PlatformState::Failed => {
                Some(delivery.clone())
            }
            _ => None,
        })
        .await;
    assert!(failed.error.unwrap().to_lowercase().contains("token"));
    let alert = second
        .wait_for(|f| match f {
            AdvisorServerFrame::Channels { channels } => channels.iter().find_map(|c| c.alert.clone()),
            _ => None,
        })
        .await;
    assert!(alert.contains("WhatsApp") && alert.contains("access token"), "{alert}");
    assert_eq!(sandbox.sends_to(WA_ID).len(), 1, "a token error is not retried");
    // A dashboard opened later sees it too.
    let (mut third, _) = relay.advisor().await;
    let shown = third.wait_for(|f| match f {
        AdvisorServerFrame::Channels { channels } => Some(channels.iter().any(|c| c.alert.is_some())),
        _ => None,
    });
    assert!(shown.await);
    // The token is fixed: the next send works and the alert clears.
    advisor.reply(conversation, "r-2", "Hi again").await.unwrap();
    second
        .wait_for(|f| match f {
            AdvisorServerFrame::Channels { channels } if channels.iter().all(|c| c.alert.is_none()) => Some(()),
            _ => None,
        })
        .await;
}
