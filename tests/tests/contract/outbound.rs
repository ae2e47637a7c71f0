//! Replies out: the request bodies (against the `out_*.json` fixtures), the messaging windows, and
//! what happens when the Graph API refuses (CONTRACTS §6, §8).

use confab_tests::*;
use relay::sandbox::{ApiCall, Failure};
use shared::*;

use super::*;

const ANA: &str = "5511987654321";
const PSID_C: &str = "7011122233344455";

/// The message sends the sandbox recorded for `user`, as (HTTP status, Graph error code).
fn send_outcomes(b: &Bridged, user: &str) -> Vec<(u16, Option<i64>)> {
    b.sandbox.sends_to(user).iter().map(|c| (c.status, c.error_code())).collect()
}

fn check_request_basics(call: &ApiCall, node: &str) {
    let config = relay::sandbox::SandboxConfig::default();
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, format!("/{}/{node}/messages", config.api_version));
    assert_eq!(call.authorization.as_deref(), Some(format!("Bearer {}", config.access_token).as_str()));
    assert!(call.content_type.as_deref().is_some_and(|t| t.starts_with("application/json")), "{:?}", call.content_type);
    assert_eq!(call.query, None, "the token goes in the header, not the URL");
}

#[tokio::test]
async fn a_whatsapp_reply_goes_out_in_the_shape_of_out_whatsapp_text() {
    let b = bridged().await;
    let (mut advisor, _) = b.relay.advisor().await;
    let conversation = whatsapp_customer(&b, &mut advisor, ANA, "Ana Souza").await;
    let text = "Hi Ana, the blue kettle is back on Friday. I've reserved one for you.";
    reply_accepted(&b, &mut advisor, conversation, "r-1", text).await;
    let call = b.sandbox.wait_for(|c| c.is_message_send() && c.text() == Some(text), WAIT).await.unwrap();
    check_request_basics(&call, &b.sandbox.config().phone_number_id);
    // The fixture quotes a customer message (`context`); a plain reply has none.
    let mut expected = fixture_json("out_whatsapp_text.json");
    remove(&mut expected, "/context");
    set(&mut expected, "/to", ANA);
    set(&mut expected, "/text/body", text);
    assert_eq!(call.body.as_ref(), Some(&expected));

    // A link asks for a preview.
    let linked = "The manual: https://shop.test/kettle/manual.pdf";
    reply_accepted(&b, &mut advisor, conversation, "r-2", linked).await;
    let call = b.sandbox.wait_for(|c| c.is_message_send() && c.text() == Some(linked), WAIT).await.unwrap();
    assert_eq!(call.body.as_ref().unwrap()["text"]["preview_url"], true);
    assert_eq!(b.sandbox.sends_to(ANA).len(), 2, "each reply sent once");
}

#[tokio::test]
async fn a_messenger_reply_within_24_hours_is_a_response() {
    let b = bridged().await;
    let (mut advisor, _) = b.relay.advisor().await;
    let conversation = messenger_customer(&b, &mut advisor, PSID_C).await;
    let text = "Thanks for the details. An advisor is checking with the courier now.";
    reply_accepted(&b, &mut advisor, conversation, "r-1", text).await;
    let call = b.sandbox.wait_for(|c| c.is_message_send() && c.text() == Some(text), WAIT).await.unwrap();
    check_request_basics(&call, &b.sandbox.config().page_id);
    // The fixture carries a `metadata` tag; the relay recognises its echoes by mid instead.
    let mut expected = fixture_json("out_messenger_text.json");
    remove(&mut expected, "/message/metadata");
    set(&mut expected, "/recipient/id", PSID_C);
    assert_eq!(call.body.as_ref(), Some(&expected));
}

/// The window counts from the customer's message's own timestamp, which the relay takes from the
/// webhook: a hand-made, correctly signed payload dated in the past sets it up.
#[tokio::test]
async fn a_messenger_reply_between_24_hours_and_7_days_goes_with_the_human_agent_tag() {
    let b = bridged().await;
    let (mut advisor, _) = b.relay.advisor().await;
    let now = relay::now_ms();
    for (psid, age) in [("7000000000000025", DAY_MS + 60 * 60 * 1000), ("7000000000000167", 7 * DAY_MS - 60 * 60 * 1000)] {
        let at = now - age;
        deliver(&b.relay, MESSENGER, &messenger_text(psid, &format!("m_contract-{psid}"), "Any news on my parcel?", at)).await;
        b.sandbox.set_last_inbound(psid, at);
        let conversation = advisor.next_message().await.conversation;
        let text = "Following up: the courier confirmed a re-delivery for Monday.";
        let seq = advisor.reply(conversation, &format!("r-{psid}"), text).await.expect("a person's reply is allowed for 7 days");
        let call = b
            .sandbox
            .wait_for(|c| c.is_message_send() && c.recipient().as_deref() == Some(psid), WAIT)
            .await
            .expect("the reply reached the Graph API");
        assert!(call.is_success(), "Messenger accepts it: {:?}", call.response);
        let mut expected = fixture_json("out_messenger_human_agent_tag.json");
        set(&mut expected, "/recipient/id", psid);
        assert_eq!(call.body.as_ref(), Some(&expected), "{} hours after the customer wrote", age / (60 * 60 * 1000));
        delivery_reaches(&mut advisor, conversation, seq, PlatformState::Sent).await;
    }
}

#[tokio::test]
async fn a_messenger_reply_after_7_days_is_refused_and_nothing_is_sent() {
    let b = bridged().await;
    let (mut advisor, _) = b.relay.advisor().await;
    let at = relay::now_ms() - 7 * DAY_MS - 60_000;
    deliver(&b.relay, MESSENGER, &messenger_text(PSID_C, "m_contract-old", "Hello?", at)).await;
    b.sandbox.set_last_inbound(PSID_C, at);
    let conversation = advisor.next_message().await.conversation;
    let refused = advisor.reply(conversation, "r-1", "Sorry for the wait!").await.expect_err("refused");
    assert_eq!(refused.code, ErrorCode::ChannelWindowClosed);
    assert_eq!(refused.reference.as_deref(), Some("r-1"));
    assert!(refused.message.contains("7 days"), "{}", refused.message);
    assert_eq!(stored_outbox(&b.relay.data_dir).await, vec![], "nothing queued");
    assert_eq!(stored_messages(&b.relay.data_dir).await.len(), 1, "the refused reply is not stored");
    assert_eq!(b.sandbox.sends_to(PSID_C).len(), 0);
}

#[tokio::test]
async fn a_whatsapp_reply_is_allowed_for_24_hours_and_then_refused_with_nothing_sent() {
    let b = bridged().await;
    let (mut advisor, _) = b.relay.advisor().await;

    // whatsapp_text.json was sent on 2026-01-01: its window closed long ago.
    deliver(&b.relay, WHATSAPP, &fixture("whatsapp_text.json")).await;
    let old = advisor.next_message().await.conversation;
    let refused = advisor.reply(old, "r-old", "Yes, it's back!").await.expect_err("refused");
    assert_eq!(refused.code, ErrorCode::ChannelWindowClosed);
    assert!(refused.message.contains("template"), "{}", refused.message);

    // 23 hours ago: still open.
    let at = relay::now_ms() - 23 * 60 * 60 * 1000;
    deliver(&b.relay, WHATSAPP, &whatsapp_text(ANA, "Ana Souza", "wamid.contract-ana-23h", "Still there?", at)).await;
    b.sandbox.set_last_inbound(ANA, at);
    let recent = advisor.next_message().await.conversation;
    reply_accepted(&b, &mut advisor, recent, "r-recent", "Yes!").await;

    assert_eq!(b.sandbox.sends_to(TOMAS).len(), 0, "nothing sent to the customer whose window closed");
    let outbox = stored_outbox(&b.relay.data_dir).await;
    assert_eq!(outbox.len(), 1, "only the allowed reply was queued: {outbox:#?}");
    assert_eq!(outbox[0].conversation_id, recent.0);
}

/// A refusal Meta says to retry: the reply goes out once it is accepted, and only once.
async fn retried_then_sent(failure: Failure, first_status: u16) {
    let b = bridged().await;
    let (mut advisor, _) = b.relay.advisor().await;
    let conversation = whatsapp_customer(&b, &mut advisor, ANA, "Ana Souza").await;
    b.sandbox.fail_next(1, failure);
    let seq = advisor.reply(conversation, "r-1", "One moment please").await.unwrap();
    let accepted = b.sandbox.wait_for(|c| c.is_message_send() && c.is_success(), RETRY_WAIT).await;
    assert!(accepted.is_some(), "retried after the {first_status} and accepted");
    delivery_reaches(&mut advisor, conversation, seq, PlatformState::Delivered).await;
    let outcomes: Vec<u16> = send_outcomes(&b, ANA).iter().map(|(status, _)| *status).collect();
    assert_eq!(outcomes, [first_status, 200], "one refused attempt, one accepted");
    let outbox = stored_outbox(&b.relay.data_dir).await;
    assert_eq!((outbox[0].state.as_str(), outbox[0].attempts), ("sent", 2), "{outbox:#?}");
    let reply = advisor.open(conversation).await.into_iter().find(|m| m.seq == seq).unwrap();
    assert_eq!(reply.delivery.unwrap().state, PlatformState::Delivered);
}

#[tokio::test]
async fn a_reply_refused_with_429_is_retried_and_sent_once() {
    retried_then_sent(Failure::RateLimited, 429).await;
}

#[tokio::test]
async fn a_reply_refused_with_500_is_retried_and_sent_once() {
    retried_then_sent(Failure::ServerError, 500).await;
}

#[tokio::test]
async fn an_expired_token_fails_the_reply_in_plain_words_without_retrying() {
    let b = bridged().await;
    let (mut advisor, _) = b.relay.advisor().await;
    let wa = whatsapp_customer(&b, &mut advisor, ANA, "Ana Souza").await;
    let ms = messenger_customer(&b, &mut advisor, PSID_C).await;
    for (conversation, user) in [(wa, ANA), (ms, PSID_C)] {
        b.sandbox.fail_next(1, Failure::TokenExpired);
        let seq = advisor.reply(conversation, &format!("r-{user}"), "Let me check.").await.unwrap();
        let reason = delivery_reaches(&mut advisor, conversation, seq, PlatformState::Failed).await.expect("a reason");
        assert!(reason.contains("access token") && reason.contains("administrator"), "{reason}");
        assert!(!reason.contains("190") && !reason.contains("OAuth"), "plain words, not Meta's: {reason}");
        assert_eq!(send_outcomes(&b, user), [(401, Some(190))], "one attempt");
        assert_eq!(stored_state(&b.relay, conversation, seq).await, (Some("failed".into()), Some(reason)));
    }
    // Nothing left to retry: no retry storm.
    let outbox = stored_outbox(&b.relay.data_dir).await;
    assert!(outbox.iter().all(|o| o.state == "failed" && o.attempts == 1), "{outbox:#?}");
}

/// WhatsApp accepts a free-form send, then fails it by status with 131047 (§4.3).
#[tokio::test]
async fn a_131047_failed_status_after_acceptance_marks_the_reply_failed() {
    let b = bridged().await;
    let (mut advisor, _) = b.relay.advisor().await;
    let conversation = whatsapp_customer(&b, &mut advisor, ANA, "Ana Souza").await;
    b.sandbox.fail_next(1, Failure::OutsideWindow);
    let seq = advisor.reply(conversation, "r-1", "Are you still there?").await.unwrap();
    let reason = delivery_reaches(&mut advisor, conversation, seq, PlatformState::Failed).await.expect("a reason");
    assert!(reason.contains("24 hours") && reason.contains("template"), "{reason}");
    assert_eq!(send_outcomes(&b, ANA), [(200, None)], "accepted once, failed later; not re-sent");
    assert_eq!(stored_state(&b.relay, conversation, seq).await, (Some("failed".into()), Some(reason)));
    assert_eq!(stored_outbox(&b.relay.data_dir).await[0].state, "sent", "the send itself went through");
}

/// Messenger refuses at once with (#10) / 2018278 when its window closed (§8).
#[tokio::test]
async fn messenger_refusing_a_reply_outside_its_window_fails_it_without_retrying() {
    let b = bridged().await;
    let (mut advisor, _) = b.relay.advisor().await;
    let conversation = messenger_customer(&b, &mut advisor, PSID_C).await;
    b.sandbox.fail_next(1, Failure::OutsideWindow);
    let seq = advisor.reply(conversation, "r-1", "Hello again").await.unwrap();
    let reason = delivery_reaches(&mut advisor, conversation, seq, PlatformState::Failed).await.expect("a reason");
    assert!(reason.contains("human agent"), "{reason}");
    assert_eq!(send_outcomes(&b, PSID_C), [(400, Some(10))]);
    assert_eq!(stored_outbox(&b.relay.data_dir).await[0].attempts, 1);
}

/// Text in, reply out, the echo of the reply not stored again, then delivery and read receipts.
/// Fails today at the read receipt (see `messenger_receipts_out_of_order_never_move_a_reply_backwards`).
#[tokio::test]
async fn a_messenger_conversation_end_to_end() {
    let b = bridged().await;
    let (mut advisor, _) = b.relay.advisor().await;
    b.sandbox.messenger_text(PSID_C, "Do you have the kettle in red?", None).await.unwrap();
    let first = advisor.next_message().await;
    assert_eq!((first.channel, first.text.as_str(), first.seq), (Channel::Messenger, "Do you have the kettle in red?", 1));
    let conversation = first.conversation;

    let text = "We do! Shall I reserve one?";
    let (seq, mid) = reply_accepted(&b, &mut advisor, conversation, "r-1", text).await;
    let call = b.sandbox.wait_for(|c| c.is_message_send() && c.text() == Some(text), WAIT).await.unwrap();
    assert_eq!(call.body.as_ref().unwrap()["messaging_type"], "RESPONSE");

    // The sandbox echoes the send (same mid) and then reports it delivered (mids + watermark).
    let echoed = b
        .sandbox
        .wait_for_webhook(|d| d.body.contains("\"is_echo\":true") && d.body.contains(&mid), WAIT)
        .await
        .expect("the echo was posted");
    assert!(echoed.delivered(), "the relay accepted the echo");
    delivery_reaches(&mut advisor, conversation, seq, PlatformState::Delivered).await;
    let settled = settle(&b.relay, &mut advisor).await;
    assert_eq!(settled.messages(), Vec::<&Message>::new(), "the echo is not a second copy");
    let stored: Vec<_> = stored_messages(&b.relay.data_dir).await.into_iter().filter(|m| m.conversation_id == conversation.0).collect();
    assert_eq!(stored.len(), 2, "{stored:#?}");
    assert_eq!(stored[1].platform_id.as_deref(), Some(mid.as_str()));

    b.sandbox.messenger_read(PSID_C, relay::now_ms()).await.unwrap();
    let settled = settle(&b.relay, &mut advisor).await;
    assert_eq!(
        states_of(&settled.deliveries(), conversation, seq),
        [PlatformState::Read],
        "the read watermark marks the reply read"
    );
    let reply = advisor.open(conversation).await.into_iter().find(|m| m.seq == seq).unwrap();
    assert_eq!(reply.delivery.unwrap().state, PlatformState::Read);
}

fn states_of(deliveries: &[(ConversationId, Seq, PlatformDelivery)], conversation: ConversationId, seq: Seq) -> Vec<PlatformState> {
    deliveries.iter().filter(|(c, s, _)| *c == conversation && *s == seq).map(|(_, _, d)| d.state).collect()
}
