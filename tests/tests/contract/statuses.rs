//! What the platforms report about the relay's replies: WhatsApp statuses and Messenger receipts,
//! duplicated and out of order (CONTRACTS §3 Ordering, §4.3, §7).

use std::time::Duration;

use confab_tests::*;
use serde_json::Value;
use shared::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const ANA: &str = "5511987654321";
const PSID_B: &str = "7098765432109876";

fn states(deliveries: &[(ConversationId, Seq, PlatformDelivery)]) -> Vec<PlatformState> {
    deliveries.iter().map(|(_, _, d)| d.state).collect()
}

#[tokio::test]
async fn statuses_reach_the_advisor_only_for_messages_the_relay_sent() {
    let b = bridged_with(false).await;
    let (mut advisor, _) = b.relay.advisor().await;
    let conversation = whatsapp_customer(&b, &mut advisor, ANA, "Ana Souza").await;
    let (seq, wamid) = reply_accepted(&b, &mut advisor, conversation, "r-1", "Yes, in size M and L.").await;
    delivery_reaches(&mut advisor, conversation, seq, PlatformState::Sent).await;

    // The fixtures as they are: statuses of wamids this relay never sent.
    for name in ["whatsapp_status_delivered.json", "whatsapp_status_read.json", "whatsapp_status_failed.json"] {
        deliver(&b.relay, WHATSAPP, &fixture(name)).await;
    }
    let settled = settle(&b.relay, &mut advisor).await;
    assert_eq!(settled.deliveries(), vec![], "statuses of unknown wamids change nothing");

    // The delivered fixture naming the reply's wamid.
    deliver(&b.relay, WHATSAPP, &whatsapp_status("whatsapp_status_delivered.json", &wamid, ANA, None)).await;
    let settled = settle(&b.relay, &mut advisor).await;
    assert_eq!(
        settled.deliveries(),
        vec![(conversation, seq, PlatformDelivery { state: PlatformState::Delivered, error: None })]
    );
    assert_eq!(stored_state(&b.relay, conversation, seq).await.0.as_deref(), Some("delivered"));
}

/// Meta never reports on a customer's own message, but if a status (or a receipt's mid) names
/// one, the customer's message must not start showing ticks.
#[tokio::test]
async fn a_status_naming_a_customers_own_message_changes_nothing() {
    let b = bridged().await;
    let (mut advisor, _) = b.relay.advisor().await;
    deliver(&b.relay, WHATSAPP, &fixture("whatsapp_text.json")).await;
    let customer_wamid = "wamid.HBgMNjE0OTE1NzAxNTYVAgASGBQzQTdDOTJFMUY0MDg1QjZEMjM5OAA=";
    deliver(&b.relay, WHATSAPP, &whatsapp_status("whatsapp_status_read.json", customer_wamid, TOMAS, None)).await;
    deliver(&b.relay, MESSENGER, &fixture("messenger_text.json")).await;
    deliver(&b.relay, MESSENGER, &messenger_delivery(PSID, Some(&["m_Qk9yZWxheS1maXh0dXJlLXRleHQtMDAwMQ"]), relay::now_ms())).await;
    let settled = settle(&b.relay, &mut advisor).await;
    assert_eq!(settled.messages().len(), 2);
    assert_eq!(settled.deliveries(), vec![], "no delivery frame for a customer's message");
    let stored = stored_messages(&b.relay.data_dir).await;
    assert!(
        stored.iter().all(|m| m.platform_state.as_deref() == Some("received")),
        "customers' messages stay received: {stored:#?}"
    );
}

#[tokio::test]
async fn whatsapp_statuses_out_of_order_never_move_a_reply_backwards_and_failed_is_final() {
    let b = bridged_with(false).await;
    let (mut advisor, _) = b.relay.advisor().await;
    let conversation = whatsapp_customer(&b, &mut advisor, ANA, "Ana Souza").await;
    let (seq, wamid) = reply_accepted(&b, &mut advisor, conversation, "r-1", "Your order ships today.").await;
    delivery_reaches(&mut advisor, conversation, seq, PlatformState::Sent).await;

    deliver(&b.relay, WHATSAPP, &whatsapp_status("whatsapp_status_read.json", &wamid, ANA, None)).await;
    let settled = settle(&b.relay, &mut advisor).await;
    assert_eq!(states(&settled.deliveries()), [PlatformState::Read], "read arrives first and applies");

    // Then the earlier ones, late, and a duplicate read.
    deliver(&b.relay, WHATSAPP, &whatsapp_status("whatsapp_status_delivered.json", &wamid, ANA, None)).await;
    deliver(&b.relay, WHATSAPP, &whatsapp_status("whatsapp_status_delivered.json", &wamid, ANA, Some("sent"))).await;
    deliver(&b.relay, WHATSAPP, &whatsapp_status("whatsapp_status_read.json", &wamid, ANA, None)).await;
    let settled = settle(&b.relay, &mut advisor).await;
    assert_eq!(settled.deliveries(), vec![], "delivered and sent after read, and read again, change nothing");
    assert_eq!(stored_state(&b.relay, conversation, seq).await, (Some("read".into()), None));
    let history = advisor.open(conversation).await;
    let reply = history.iter().find(|m| m.seq == seq).unwrap();
    assert_eq!(reply.delivery, Some(PlatformDelivery { state: PlatformState::Read, error: None }));

    // The relay's rule (meta::should_apply): failed ranks above read, so a failure reported after
    // a read receipt still applies (Meta's word that it failed wins), and failed is final.
    deliver(&b.relay, WHATSAPP, &whatsapp_status("whatsapp_status_failed.json", &wamid, ANA, None)).await;
    let settled = settle(&b.relay, &mut advisor).await;
    let deliveries = settled.deliveries();
    assert_eq!(states(&deliveries), [PlatformState::Failed]);
    let reason = deliveries[0].2.error.clone().expect("a failure says why");
    assert!(reason.contains("24 hours") && reason.contains("template"), "{reason}");
    for status in ["sent", "delivered", "read"] {
        deliver(&b.relay, WHATSAPP, &whatsapp_status("whatsapp_status_delivered.json", &wamid, ANA, Some(status))).await;
    }
    let settled = settle(&b.relay, &mut advisor).await;
    assert_eq!(settled.deliveries(), vec![], "nothing moves a failed reply");
    assert_eq!(stored_state(&b.relay, conversation, seq).await, (Some("failed".into()), Some(reason)));
}

/// Meta posts webhooks concurrently. Statuses applied while other webhooks are being recorded
/// must not be lost. (They were: `set_platform_state` read, then wrote, in one deferred SQLite
/// transaction; a commit by another connection in between made the write fail with "database is
/// locked", and the worker marked the webhook done with that error: the status was gone.)
#[tokio::test]
async fn statuses_arriving_alongside_other_webhooks_are_never_lost() {
    let b = bridged_with(false).await;
    let (mut advisor, _) = b.relay.advisor().await;
    let conversation = whatsapp_customer(&b, &mut advisor, ANA, "Ana Souza").await;
    let mut replies = Vec::new();
    for i in 0..8 {
        let (seq, wamid) = reply_accepted(&b, &mut advisor, conversation, &format!("r-{i}"), &format!("Reply number {i}")).await;
        delivery_reaches(&mut advisor, conversation, seq, PlatformState::Sent).await;
        replies.push((seq, wamid));
    }
    let mut posts = Vec::new();
    for (i, (_, wamid)) in replies.iter().enumerate() {
        let status = whatsapp_status("whatsapp_status_delivered.json", wamid, ANA, None);
        let other = whatsapp_text(&format!("4479460{i:05}"), "Someone Else", &format!("wamid.contract-other-{i}"), "Hi", relay::now_ms());
        for body in [status, other] {
            let relay = &b.relay;
            posts.push(async move { post_webhook(relay, WHATSAPP, &body, Some(&sign(&body))).await });
        }
    }
    let answers = futures_util::future::join_all(posts).await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    let settled = settle(&b.relay, &mut advisor).await;

    let webhooks = stored_webhooks(&b.relay.data_dir).await;
    let failed: Vec<_> = webhooks.iter().filter(|w| w.error.is_some()).collect();
    let mut delivered = 0;
    for (seq, _) in &replies {
        if stored_state(&b.relay, conversation, *seq).await.0.as_deref() == Some("delivered") {
            delivered += 1;
        }
    }
    assert_eq!(failed, Vec::<&StoredWebhook>::new(), "no webhook failed to apply");
    assert_eq!(delivered, replies.len(), "every reply is delivered");
    assert_eq!(settled.deliveries().len(), replies.len(), "one delivery frame per reply");
}

/// BUG (bridge.rs, `InboundEvent::Watermark`): the relay only applies the mids a receipt lists; a
/// read receipt never lists any, so Messenger replies never show as read.
#[tokio::test]
async fn messenger_receipts_out_of_order_never_move_a_reply_backwards() {
    let b = bridged_with(false).await;
    let (mut advisor, _) = b.relay.advisor().await;
    let conversation = messenger_customer(&b, &mut advisor, PSID_B).await;
    let (seq, mid) = reply_accepted(&b, &mut advisor, conversation, "r-1", "We have it in red, yes.").await;
    delivery_reaches(&mut advisor, conversation, seq, PlatformState::Sent).await;
    let watermark = relay::now_ms();

    // The read receipt (watermark only, as in messenger_read.json) arrives before the delivery one.
    deliver(&b.relay, MESSENGER, &messenger_read(PSID_B, watermark)).await;
    let settled = settle(&b.relay, &mut advisor).await;
    let after_read = stored_state(&b.relay, conversation, seq).await.0;
    deliver(&b.relay, MESSENGER, &messenger_delivery(PSID_B, Some(&[&mid]), watermark)).await;
    deliver(&b.relay, MESSENGER, &messenger_read(PSID_B, watermark)).await;
    let later = settle(&b.relay, &mut advisor).await;
    let after_all = stored_state(&b.relay, conversation, seq).await.0;

    assert_eq!(
        states(&settled.deliveries()),
        [PlatformState::Read],
        "a read watermark at or after the reply marks it read (the reply was {after_read:?} after it)"
    );
    assert_eq!(states(&later.deliveries()), [], "a late delivery receipt and a repeated read change nothing");
    assert_eq!(after_all.as_deref(), Some("read"));
}

/// BUG (bridge.rs, `InboundEvent::Watermark`): Meta may leave `mids` out of a delivery receipt
/// (CONTRACTS §7); the watermark alone must then mark the replies sent before it.
#[tokio::test]
async fn a_messenger_delivery_receipt_without_mids_marks_the_replies_sent_before_its_watermark() {
    let b = bridged_with(false).await;
    let (mut advisor, _) = b.relay.advisor().await;
    let conversation = messenger_customer(&b, &mut advisor, PSID_B).await;
    let before_reply = relay::now_ms() - 60_000;
    let (seq, _mid) = reply_accepted(&b, &mut advisor, conversation, "r-1", "Sending the label now.").await;
    delivery_reaches(&mut advisor, conversation, seq, PlatformState::Sent).await;

    deliver(&b.relay, MESSENGER, &messenger_delivery(PSID_B, None, before_reply)).await;
    let early = settle(&b.relay, &mut advisor).await;
    assert_eq!(early.deliveries(), vec![], "a watermark older than the reply does not cover it");

    deliver(&b.relay, MESSENGER, &messenger_delivery(PSID_B, None, relay::now_ms())).await;
    let settled = settle(&b.relay, &mut advisor).await;
    assert_eq!(states(&settled.deliveries()), [PlatformState::Delivered], "the watermark covers the reply");
}

/// BUG (store `set_platform_state` + bridge.rs `send`): CONTRACTS §3, "a status may arrive before
/// your send call returned its ID". The Graph stand-in here posts the `delivered` status and waits
/// until the relay has applied it before it answers the send: the relay drops the status (no
/// message has that wamid yet), then marks the reply `sent` for good. (`outbox_sent`'s "keep the
/// later state" cannot help: the early status never reached the row.)
#[tokio::test]
async fn a_status_that_arrives_before_the_send_call_returns_is_not_lost() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let graph = format!("http://{}", listener.local_addr().unwrap());
    let relay = TestRelay::start_bridged(meta_args(&graph)).await;
    let wamid = "wamid.contract-early-status";
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stand_in = tokio::spawn(graph_that_reports_before_answering(
        listener,
        relay.url(WHATSAPP),
        relay.data_dir.clone(),
        wamid,
        calls.clone(),
    ));

    let (mut advisor, _) = relay.advisor().await;
    deliver(&relay, WHATSAPP, &whatsapp_text(ANA, "Ana Souza", "wamid.contract-ana-1", "Is it in stock?", relay::now_ms())).await;
    let conversation = advisor.next_message().await.conversation;
    let seq = advisor.reply(conversation, "r-1", "It is.").await.expect("the reply is accepted");
    // The outbox reports the send's outcome once the answer is in.
    let mut seen = vec![
        advisor
            .wait_for(|f| match f {
                AdvisorServerFrame::Delivery { conversation: c, seq: s, delivery } if *c == conversation && *s == seq => Some(delivery.state),
                _ => None,
            })
            .await,
    ];
    let settled = settle(&relay, &mut advisor).await;
    seen.extend(settled.deliveries().iter().filter(|(c, s, _)| *c == conversation && *s == seq).map(|(_, _, d)| d.state));
    let stored = stored_state(&relay, conversation, seq).await.0;
    stand_in.abort();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1, "one send");
    assert_eq!(stored.as_deref(), Some("delivered"), "the early `delivered` status is kept");
    assert_eq!(seen.last(), Some(&PlatformState::Delivered), "the advisor's last word on it is delivered: {seen:?}");
}

/// A Graph API that, for every WhatsApp send, posts `wamid`'s `delivered` status to the relay,
/// waits until the relay has applied it, then answers 200 with `wamid`.
async fn graph_that_reports_before_answering(
    listener: TcpListener,
    webhook_url: String,
    data_dir: std::path::PathBuf,
    wamid: &'static str,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    loop {
        let (mut stream, _) = listener.accept().await.unwrap();
        let (head, body) = read_request(&mut stream).await;
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert!(head.starts_with("POST /v23.0/"), "{head}");
        let request: Value = serde_json::from_slice(&body).unwrap();
        let to = request["to"].as_str().unwrap().to_owned();

        let status = whatsapp_status("whatsapp_status_delivered.json", wamid, &to, None);
        let response = reqwest::Client::new()
            .post(&webhook_url)
            .header("X-Hub-Signature-256", sign(&status))
            .body(status)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let applied = async {
            while !stored_webhooks(&data_dir).await.last().is_some_and(|w| w.processed) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(WAIT, applied).await.expect("the relay applied the status");

        let mut answer = fixture_json("resp_whatsapp_send_ok.json");
        set(&mut answer, "/contacts/0/input", to.as_str());
        set(&mut answer, "/contacts/0/wa_id", to.as_str());
        set(&mut answer, "/messages/0/id", wamid);
        let answer = serde_json::to_vec(&answer).unwrap();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            answer.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&answer).await.unwrap();
        stream.shutdown().await.ok();
    }
}

/// One HTTP/1.1 request with a `content-length` body: (request line and headers, body).
async fn read_request(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the request ended early");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()))
        .unwrap_or(0);
    while buf.len() < head_end + 4 + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the body ended early");
        buf.extend_from_slice(&chunk[..n]);
    }
    (head, buf[head_end + 4..head_end + 4 + length].to_vec())
}
