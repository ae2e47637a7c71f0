//! The sandbox against a stand-in for the relay's webhook endpoint, which verifies every signature
//! itself (its own HMAC, over the raw bytes) before looking at the JSON.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::extract::Query;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::*;

const SECRET: &str = "test-app-secret";
const TOKEN: &str = "test-access-token";
const WAIT: Duration = Duration::from_secs(5);
const ANA: &str = "5511987654321";
const JULES: &str = "7012345678901234";

fn fixture(name: &str) -> Value {
    let text = match name {
        "whatsapp_text" => include_str!("../../tests/fixtures/meta/whatsapp_text.json"),
        "whatsapp_image" => include_str!("../../tests/fixtures/meta/whatsapp_image.json"),
        "whatsapp_status_failed" => include_str!("../../tests/fixtures/meta/whatsapp_status_failed.json"),
        "whatsapp_status_read" => include_str!("../../tests/fixtures/meta/whatsapp_status_read.json"),
        "whatsapp_interactive_reply" => include_str!("../../tests/fixtures/meta/whatsapp_interactive_reply.json"),
        "messenger_echo" => include_str!("../../tests/fixtures/meta/messenger_echo.json"),
        "messenger_delivery" => include_str!("../../tests/fixtures/meta/messenger_delivery.json"),
        "messenger_postback" => include_str!("../../tests/fixtures/meta/messenger_postback.json"),
        "out_whatsapp_text" => include_str!("../../tests/fixtures/meta/out_whatsapp_text.json"),
        "out_whatsapp_template" => include_str!("../../tests/fixtures/meta/out_whatsapp_template.json"),
        "out_whatsapp_document_link" => include_str!("../../tests/fixtures/meta/out_whatsapp_document_link.json"),
        "out_messenger_text" => include_str!("../../tests/fixtures/meta/out_messenger_text.json"),
        "out_messenger_human_agent_tag" => include_str!("../../tests/fixtures/meta/out_messenger_human_agent_tag.json"),
        "resp_whatsapp_send_ok" => include_str!("../../tests/fixtures/meta/resp_whatsapp_send_ok.json"),
        "resp_messenger_send_ok" => include_str!("../../tests/fixtures/meta/resp_messenger_send_ok.json"),
        "err_whatsapp_130429" => include_str!("../../tests/fixtures/meta/err_whatsapp_130429.json"),
        "err_messenger_outside_window" => include_str!("../../tests/fixtures/meta/err_messenger_outside_window.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// Every leaf path of `value` with its JSON type, array indices folded: the "shape" to compare.
fn shape(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, at: String, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, format!("{at}/{k}"), out)),
            Value::Array(items) => items.iter().for_each(|v| walk(v, format!("{at}/[]"), out)),
            Value::String(_) => drop(out.insert(format!("{at}: string"))),
            Value::Number(_) => drop(out.insert(format!("{at}: number"))),
            Value::Bool(_) => drop(out.insert(format!("{at}: bool"))),
            Value::Null => drop(out.insert(format!("{at}: null"))),
        }
    }
    let mut out = BTreeSet::new();
    walk(value, String::new(), &mut out);
    out
}

fn without_fbtrace(mut error: Value) -> Value {
    error["error"].as_object_mut().unwrap().remove("fbtrace_id");
    error
}

/// What the stand-in relay received.
#[derive(Clone, Debug)]
struct Received {
    raw: Bytes,
    verified: bool,
    json: Value,
}

#[derive(Clone)]
struct FakeRelay {
    received: Arc<Mutex<Vec<Received>>>,
    changed: Arc<watch::Sender<u64>>,
    refuse_next: Arc<AtomicUsize>,
}

impl FakeRelay {
    fn new() -> Self {
        FakeRelay {
            received: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
            refuse_next: Arc::default(),
        }
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    async fn wait_for(&self, what: &str, mut predicate: impl FnMut(&Value) -> bool) -> Received {
        let mut changes = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            changes.borrow_and_update();
            if let Some(found) = self.all().into_iter().find(|r| predicate(&r.json)) {
                return found;
            }
            if tokio::time::timeout_at(deadline, changes.changed()).await.is_err() {
                let bodies: Vec<String> = self.all().iter().map(|r| String::from_utf8_lossy(&r.raw).into_owned()).collect();
                panic!("the relay never received {what}; it received:\n{}", bodies.join("\n"));
            }
        }
    }
}

async fn webhook(State(relay): State<FakeRelay>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let verified = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
        .is_some_and(|expected| {
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(&body);
            mac.verify_slice(&expected).is_ok()
        });
    let json = if verified { serde_json::from_slice(&body).unwrap_or(Value::Null) } else { Value::Null };
    relay.received.lock().unwrap().push(Received { raw: body, verified, json });
    relay.changed.send_modify(|v| *v += 1);
    if !verified {
        return StatusCode::UNAUTHORIZED;
    }
    let refuse = relay.refuse_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if refuse {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// §1: the challenge echoed verbatim when the verify token matches, else 403.
async fn handshake(Query(query): Query<std::collections::HashMap<String, String>>) -> axum::response::Response {
    let subscribe = query.get("hub.mode").map(String::as_str) == Some("subscribe");
    match (subscribe, query.get("hub.verify_token"), query.get("hub.challenge")) {
        (true, Some(token), Some(challenge)) if token == "verify-me" => challenge.clone().into_response(),
        _ => StatusCode::FORBIDDEN.into_response(),
    }
}

struct Harness {
    sandbox: Sandbox,
    relay: FakeRelay,
    http: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Harness {
    async fn start() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(tweak: impl FnOnce(&mut SandboxConfig)) -> Self {
        let shutdown = CancellationToken::new();
        let relay = FakeRelay::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks/meta", listener.local_addr().unwrap());
        let app = Router::new().route("/webhooks/meta", post(webhook).get(handshake)).with_state(relay.clone());
        let stop = shutdown.clone().cancelled_owned();
        tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stop).await });
        let mut config = SandboxConfig::posting_to(url);
        config.app_secret = SECRET.into();
        config.access_token = TOKEN.into();
        tweak(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sandbox = start(listener, config, shutdown.clone()).await.unwrap();
        Harness { sandbox, relay, http: reqwest::Client::new(), shutdown }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    fn whatsapp_path(&self) -> String {
        format!("/v23.0/{}/messages", self.sandbox.config().phone_number_id)
    }

    async fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
        let mut request = self.http.post(self.url(path)).json(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn whatsapp_send(&self, body: &Value) -> (u16, Value) {
        self.post(&self.whatsapp_path(), Some(TOKEN), body).await
    }

    async fn messenger_send(&self, body: &Value) -> (u16, Value) {
        self.post(&format!("/v23.0/me/messages?access_token={TOKEN}"), None, body).await
    }

    async fn get(&self, url: &str, bearer: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

fn text_to(wa_id: &str, body: &str) -> Value {
    json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": wa_id, "type": "text", "text": {"preview_url": false, "body": body}})
}

fn messages_of(payload: &Value) -> Vec<Value> {
    payload["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
        .flat_map(|c| c["value"]["messages"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn status_of(payload: &Value, wamid: &str, status: &str) -> bool {
    payload.pointer("/entry/0/changes/0/value/statuses").and_then(Value::as_array).is_some_and(|statuses| {
        statuses.iter().any(|s| s["id"] == wamid && s["status"] == status)
    })
}

#[test]
fn signature_reproduces_githubs_published_test_vector() {
    assert_eq!(
        signature("It's a Secret to Everybody", b"Hello, World!"),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
}

#[test]
fn meta_json_escapes_non_ascii_in_lowercase_and_slashes() {
    let body = meta_json(&json!({"t": "Olá ☕ 😕 a/b \"q\""}));
    assert_eq!(String::from_utf8(body).unwrap(), r#"{"t":"Ol\u00e1 \u2615 \ud83d\ude15 a\/b \"q\""}"#);
}

#[tokio::test]
async fn the_subscription_handshake_sends_a_challenge_and_checks_the_echo() {
    let h = Harness::start().await;
    let accepted = h.sandbox.handshake(Channel::WhatsApp, "verify-me").await.unwrap();
    assert!(accepted.accepted(), "{accepted:?}");
    let refused = h.sandbox.handshake(Channel::Messenger, "wrong").await.unwrap();
    assert_eq!((refused.status, refused.accepted()), (403, false));
    assert!(h.relay.all().is_empty(), "a handshake is a GET, not a webhook");
}

/// Tests and the demo spawn these; they must be `Send`.
#[allow(dead_code, clippy::let_underscore_future)]
fn the_handles_futures_are_send(sandbox: Sandbox, delivery: WebhookDelivery, listener: TcpListener) {
    fn send<T: Send>(_: T) {}
    send(sandbox.whatsapp_text("", "", ""));
    send(sandbox.whatsapp_batch(vec![], Batching::OneChange));
    send(sandbox.whatsapp_status("", StatusUpdate::Read));
    send(sandbox.messenger_text("", "", Some("")));
    send(sandbox.messenger_read("", 0));
    send(sandbox.replay(&delivery));
    send(sandbox.handshake(Channel::WhatsApp, ""));
    send(sandbox.wait_for(|_| true, WAIT));
    send(sandbox.wait_for_webhook(|_| true, WAIT));
    send(start(listener, SandboxConfig::default(), CancellationToken::new()));
}

#[tokio::test]
async fn a_customer_text_arrives_signed_and_shaped_like_the_fixture() {
    let h = Harness::start().await;
    let wamid = h
        .sandbox
        .whatsapp(ANA, "Ana Souza", WaMessage::Quoting { text: "Is it back in stock?".into(), wamid: "wamid.quoted".into() })
        .await
        .unwrap();

    let received = h.relay.wait_for("the text", |p| messages_of(p).iter().any(|m| m["id"] == wamid)).await;
    assert!(received.verified, "signature over the raw body");
    assert_eq!(shape(&received.json), shape(&fixture("whatsapp_text")));
    let message = &messages_of(&received.json)[0];
    assert_eq!(message["from"], ANA);
    assert_eq!(message["text"]["body"], "Is it back in stock?");
    assert_eq!(message["context"]["id"], "wamid.quoted");
    assert_eq!(received.json["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"], "Ana Souza");
    assert_eq!(received.json["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"], h.sandbox.config().phone_number_id);
    assert!(wamid.starts_with("wamid."));
    assert!(h.sandbox.webhooks().iter().any(|d| d.delivered() && d.payload == received.json));
}

#[tokio::test]
async fn non_ascii_text_is_u_escaped_in_the_raw_body_and_the_signature_still_verifies() {
    let h = Harness::start().await;
    let text = "Olá! Chá ☕ ou café? 😕 https://shop.example/a";
    h.sandbox.whatsapp_text(ANA, "Ana Souza", text).await.unwrap();

    let received = h.relay.wait_for("the text", |p| !messages_of(p).is_empty()).await;
    let raw = String::from_utf8(received.raw.to_vec()).unwrap();
    assert!(raw.is_ascii());
    assert!(raw.contains(r"Ol\u00e1! Ch\u00e1 \u2615 ou caf\u00e9? \ud83d\ude15 https:\/\/shop.example\/a"), "{raw}");
    assert!(received.verified);
    assert_eq!(messages_of(&received.json)[0]["text"]["body"], text);
    // Re-serialising the parsed JSON gives other bytes: verifying those would fail.
    assert_ne!(serde_json::to_vec(&received.json).unwrap(), received.raw.to_vec());
}

#[tokio::test]
async fn a_send_without_the_bearer_token_is_refused_with_code_190() {
    let h = Harness::start().await;
    h.sandbox.whatsapp_text(ANA, "Ana Souza", "hi").await.unwrap();
    for bearer in [None, Some("not-the-token")] {
        let (status, body) = h.post(&h.whatsapp_path(), bearer, &text_to(ANA, "hello")).await;
        assert_eq!(status, 401, "{bearer:?}");
        assert_eq!(body["error"]["code"], 190);
        assert_eq!(body["error"]["type"], "OAuthException");
        assert!(body["error"]["fbtrace_id"].is_string());
    }
    assert!(h.sandbox.sends_to(ANA).iter().all(|c| c.status == 401));
}

#[tokio::test]
async fn a_send_is_recorded_answered_with_a_wamid_and_followed_by_sent_and_delivered() {
    let h = Harness::start().await;
    h.sandbox.whatsapp_text(ANA, "Ana Souza", "hi").await.unwrap();
    let (status, answer) = h.whatsapp_send(&text_to("+55 11 98765-4321", "Hello Ana!")).await;

    assert_eq!(status, 200);
    assert_eq!(shape(&answer), shape(&fixture("resp_whatsapp_send_ok")));
    assert_eq!(answer["contacts"][0]["input"], "+55 11 98765-4321");
    assert_eq!(answer["contacts"][0]["wa_id"], ANA);
    let wamid = answer["messages"][0]["id"].as_str().unwrap().to_owned();
    assert!(wamid.starts_with("wamid."));

    let sends = h.sandbox.sends_to(ANA);
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].text(), Some("Hello Ana!"));
    assert_eq!(sends[0].message_id(), Some(wamid.as_str()));
    assert_eq!(sends[0].authorization.as_deref(), Some(&*format!("Bearer {TOKEN}")));

    h.relay.wait_for("delivered", |p| status_of(p, &wamid, "delivered")).await;
    let statuses: Vec<String> = h
        .relay
        .all()
        .iter()
        .filter_map(|r| r.json.pointer("/entry/0/changes/0/value/statuses/0").cloned())
        .filter(|s| s["id"] == wamid.as_str())
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["sent", "delivered"]);
}

#[tokio::test]
async fn without_auto_statuses_an_accepted_send_reports_nothing_until_asked() {
    let h = Harness::with(|c| c.auto_statuses = false).await;
    h.sandbox.whatsapp_text(ANA, "Ana Souza", "hi").await.unwrap();
    let (_, answer) = h.whatsapp_send(&text_to(ANA, "Hello")).await;
    let wamid = answer["messages"][0]["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.relay.all().len(), 1, "only the customer's text");

    h.sandbox.whatsapp_status(&wamid, StatusUpdate::Read).await.unwrap();
    let read = h.relay.wait_for("read", |p| status_of(p, &wamid, "read")).await;
    assert_eq!(shape(&read.json), shape(&fixture("whatsapp_status_read")));
    assert_eq!(read.json.pointer("/entry/0/changes/0/value/statuses/0/recipient_id"), Some(&json!(ANA)));
}

#[tokio::test]
async fn scripted_failures_answer_429_500_and_190_then_sends_recover() {
    let h = Harness::start().await;
    h.sandbox.whatsapp_text(ANA, "Ana Souza", "hi").await.unwrap();
    h.sandbox.fail_next(1, Failure::RateLimited);
    h.sandbox.fail_next(1, Failure::ServerError);
    h.sandbox.fail_next(1, Failure::TokenExpired);

    let (status, body) = h.whatsapp_send(&text_to(ANA, "1")).await;
    assert_eq!(status, 429);
    assert_eq!(without_fbtrace(body), without_fbtrace(fixture("err_whatsapp_130429")));
    let (status, body) = h.whatsapp_send(&text_to(ANA, "2")).await;
    assert_eq!((status, body["error"]["code"].clone()), (500, json!(2)));
    let (status, body) = h.whatsapp_send(&text_to(ANA, "3")).await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!(190)));
    let (status, body) = h.whatsapp_send(&text_to(ANA, "4")).await;
    assert_eq!(status, 200, "{body}");

    let statuses: Vec<u16> = h.sandbox.sends_to(ANA).iter().map(|c| c.status).collect();
    assert_eq!(statuses, [429, 500, 401, 200]);
}

#[tokio::test]
async fn mark_as_read_does_not_use_up_a_scripted_failure() {
    let h = Harness::start().await;
    let inbound = h.sandbox.whatsapp_text(ANA, "Ana Souza", "hi").await.unwrap();
    h.sandbox.fail_next(1, Failure::ServerError);
    let (status, body) =
        h.whatsapp_send(&json!({"messaging_product": "whatsapp", "status": "read", "message_id": inbound})).await;
    assert_eq!((status, body), (200, json!({"success": true})));
    let (status, _) = h.whatsapp_send(&text_to(ANA, "reply")).await;
    assert_eq!(status, 500);
}

#[tokio::test]
async fn a_free_form_send_after_24_hours_is_accepted_then_fails_with_131047() {
    let h = Harness::start().await;
    h.sandbox.set_last_inbound(ANA, crate::now_ms() - 25 * 60 * 60 * 1000);

    let (status, answer) = h.whatsapp_send(&text_to(ANA, "Are you still there?")).await;
    assert_eq!(status, 200, "Meta accepts it, then fails it");
    let wamid = answer["messages"][0]["id"].as_str().unwrap().to_owned();

    let failed = h.relay.wait_for("the failed status", |p| status_of(p, &wamid, "failed")).await;
    assert!(failed.verified);
    assert_eq!(shape(&failed.json), shape(&fixture("whatsapp_status_failed")));
    let status = failed.json.pointer("/entry/0/changes/0/value/statuses/0").unwrap();
    assert_eq!(status["errors"][0]["code"], 131047);
    assert_eq!(status["recipient_id"], ANA);

    // A template is allowed outside the window.
    let mut template = fixture("out_whatsapp_template");
    template["to"] = ANA.into();
    let (status, answer) = h.whatsapp_send(&template).await;
    assert_eq!(status, 200);
    let template_id = answer["messages"][0]["id"].as_str().unwrap().to_owned();
    h.relay.wait_for("the template delivered", |p| status_of(p, &template_id, "delivered")).await;
    assert!(!h.relay.all().iter().any(|r| status_of(&r.json, &template_id, "failed")));
}

#[tokio::test]
async fn a_user_who_never_wrote_is_outside_the_window_too() {
    let h = Harness::start().await;
    let (status, answer) = h.whatsapp_send(&text_to("447700900456", "Hello?")).await;
    assert_eq!(status, 200);
    let wamid = answer["messages"][0]["id"].as_str().unwrap().to_owned();
    h.relay.wait_for("the failed status", |p| status_of(p, &wamid, "failed")).await;
}

#[tokio::test]
async fn scripted_outside_window_fails_a_whatsapp_send_by_status() {
    let h = Harness::start().await;
    h.sandbox.whatsapp_text(ANA, "Ana Souza", "hi").await.unwrap();
    h.sandbox.fail_next(1, Failure::OutsideWindow);
    let (status, answer) = h.whatsapp_send(&text_to(ANA, "inside the window, but scripted to fail")).await;
    assert_eq!(status, 200);
    let wamid = answer["messages"][0]["id"].as_str().unwrap().to_owned();
    h.relay.wait_for("the failed status", |p| status_of(p, &wamid, "failed")).await;
}

#[tokio::test]
async fn a_messenger_send_is_answered_then_echoed_with_the_same_mid() {
    let h = Harness::start().await;
    h.sandbox.messenger_text(JULES, "Where is my parcel?", None).await.unwrap();

    let (status, answer) = h.messenger_send(&fixture("out_messenger_text")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(shape(&answer), shape(&fixture("resp_messenger_send_ok")));
    assert_eq!(answer["recipient_id"], JULES);
    let mid = answer["message_id"].as_str().unwrap().to_owned();

    let echo = h.relay.wait_for("the echo", |p| p.pointer("/entry/0/messaging/0/message/mid") == Some(&json!(mid))).await;
    assert!(echo.verified);
    assert_eq!(shape(&echo.json), shape(&fixture("messenger_echo")));
    let event = &echo.json["entry"][0]["messaging"][0];
    assert_eq!(event["message"]["is_echo"], true);
    assert_eq!(event["message"]["metadata"], "relay-out:9c41e3");
    assert_eq!(event["sender"]["id"], h.sandbox.config().page_id);
    assert_eq!(event["recipient"]["id"], JULES);

    let delivery =
        h.relay.wait_for("the delivery", |p| p.pointer("/entry/0/messaging/0/delivery/mids/0") == Some(&json!(mid))).await;
    assert_eq!(shape(&delivery.json), shape(&fixture("messenger_delivery")));
}

#[tokio::test]
async fn messenger_outside_24_hours_needs_the_human_agent_tag_which_lasts_seven_days() {
    let h = Harness::start().await;
    h.sandbox.set_last_inbound(JULES, crate::now_ms() - 2 * DAY_MS);

    let (status, body) = h.messenger_send(&fixture("out_messenger_text")).await;
    assert_eq!(status, 400);
    assert_eq!(without_fbtrace(body), without_fbtrace(fixture("err_messenger_outside_window")));
    let (status, _) = h.messenger_send(&fixture("out_messenger_human_agent_tag")).await;
    assert_eq!(status, 200);

    h.sandbox.set_last_inbound(JULES, crate::now_ms() - 8 * DAY_MS);
    let (status, body) = h.messenger_send(&fixture("out_messenger_human_agent_tag")).await;
    assert_eq!((status, body["error"]["error_subcode"].clone()), (400, json!(2018278)));
}

#[tokio::test]
async fn messenger_sends_take_the_token_as_a_bearer_too_and_refuse_a_wrong_one() {
    let h = Harness::start().await;
    h.sandbox.messenger_text(JULES, "hi", None).await.unwrap();
    let path = format!("/v23.0/{}/messages", h.sandbox.config().page_id);
    let (status, _) = h.post(&path, Some(TOKEN), &fixture("out_messenger_text")).await;
    assert_eq!(status, 200);
    let (status, body) = h.post("/v23.0/me/messages?access_token=wrong", None, &fixture("out_messenger_text")).await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!(190)));
}

#[tokio::test]
async fn messenger_sender_actions_are_answered_with_the_recipient_only() {
    let h = Harness::start().await;
    h.sandbox.messenger_text(JULES, "hi", None).await.unwrap();
    for action in ["mark_seen", "typing_on", "typing_off"] {
        let (status, body) = h.messenger_send(&json!({"recipient": {"id": JULES}, "sender_action": action})).await;
        assert_eq!((status, body), (200, json!({"recipient_id": JULES})), "{action}");
    }
    let (status, body) =
        h.messenger_send(&json!({"recipient": {"id": JULES}, "sender_action": "typing_on", "message": {"text": "x"}})).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!(100)));
    assert!(h.sandbox.sends_to(JULES).is_empty(), "sender actions are not message sends");
}

#[tokio::test]
async fn a_first_messenger_message_through_m_me_carries_the_referral() {
    let h = Harness::start().await;
    let mid = h.sandbox.messenger_text(JULES, "Hi, about my order", Some("order-A-5521")).await.unwrap();

    let first = h.relay.wait_for("the first message", |p| p.pointer("/entry/0/messaging/1/message/mid") == Some(&json!(mid))).await;
    let events = first.json["entry"][0]["messaging"].as_array().unwrap();
    assert_eq!(events[0]["postback"]["referral"], json!({"ref": "order-A-5521", "source": "SHORTLINK", "type": "OPEN_THREAD"}));
    assert_eq!(events[0]["postback"]["title"], "Get Started");
    assert_eq!(events[1]["message"]["text"], "Hi, about my order");
    let postback_only = json!({"object": "page", "entry": [{"id": first.json["entry"][0]["id"], "time": 1, "messaging": [events[0].clone()]}]});
    let mut expected = shape(&fixture("messenger_postback"));
    expected.extend(["ref", "source", "type"].map(|k| format!("/entry/[]/messaging/[]/postback/referral/{k}: string")));
    assert_eq!(shape(&postback_only), expected);

    // Coming back through another link: a referral event, then the message.
    let again = h.sandbox.messenger_text(JULES, "Me again", Some("returns")).await.unwrap();
    let second = h.relay.wait_for("the second message", |p| p.pointer("/entry/0/messaging/1/message/mid") == Some(&json!(again))).await;
    assert_eq!(second.json["entry"][0]["messaging"][0]["referral"]["ref"], "returns");
}

#[tokio::test]
async fn media_is_looked_up_and_downloaded_only_with_the_bearer_token() {
    let h = Harness::start().await;
    let wamid = h.sandbox.whatsapp_image(ANA, "Ana Souza", Some("The lid arrived cracked")).await.unwrap();
    let received = h.relay.wait_for("the image", |p| messages_of(p).iter().any(|m| m["id"] == wamid)).await;
    assert_eq!(shape(&received.json), shape(&fixture("whatsapp_image")));
    let image = messages_of(&received.json)[0]["image"].clone();
    let media_id = image["id"].as_str().unwrap();

    let lookup = h.url(&format!("/v23.0/{media_id}"));
    assert_eq!(h.get(&lookup, None).await.status(), 401);
    let info: Value = h.get(&lookup, Some(TOKEN)).await.json().await.unwrap();
    assert_eq!(info["messaging_product"], "whatsapp");
    assert_eq!(info["id"], media_id);
    assert_eq!(info["mime_type"], "image/png");
    assert_eq!(info["sha256"], image["sha256"]);
    let url = info["url"].as_str().unwrap();

    assert_eq!(h.get(url, None).await.status(), 401, "a plain GET does not return the file");
    let file = h.get(url, Some(TOKEN)).await;
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "image/png");
    let bytes = file.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(info["file_size"], bytes.len().to_string());
    use base64::Engine;
    assert_eq!(image["sha256"], base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes)));

    let document = h.sandbox.whatsapp_document(ANA, "Ana Souza", "warranty-card.pdf", None).await.unwrap();
    let received = h.relay.wait_for("the document", |p| messages_of(p).iter().any(|m| m["id"] == document)).await;
    let pdf_id = messages_of(&received.json)[0]["document"]["id"].as_str().unwrap().to_owned();
    let info: Value = h.get(&h.url(&format!("/v23.0/{pdf_id}")), Some(TOKEN)).await.json().await.unwrap();
    let pdf = h.get(info["url"].as_str().unwrap(), Some(TOKEN)).await.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));

    assert_eq!(h.get(&h.url("/v23.0/123456"), Some(TOKEN)).await.status(), 400, "an unknown media id");
}

#[tokio::test]
async fn mark_as_read_answers_success_and_refuses_a_message_the_number_never_received() {
    let h = Harness::start().await;
    let inbound = h.sandbox.whatsapp_text(ANA, "Ana Souza", "hi").await.unwrap();
    let (status, body) = h
        .whatsapp_send(&json!({"messaging_product": "whatsapp", "status": "read", "message_id": inbound, "typing_indicator": {"type": "text"}}))
        .await;
    assert_eq!((status, body), (200, json!({"success": true})));

    let thread: Value = h.get(&h.url(&format!("/phone/api/thread?channel=whatsapp&user={ANA}")), None).await.json().await.unwrap();
    assert_eq!(thread["messages"][0]["tick"], "read");
    assert_eq!(thread["typing"], true);

    let (status, body) = h.whatsapp_send(&json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.nope"})).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!(100)));
}

#[tokio::test]
async fn invalid_send_bodies_get_graph_shaped_errors() {
    let h = Harness::start().await;
    let cases = [
        json!({"to": ANA, "type": "text", "text": {"body": "x"}}),
        json!({"messaging_product": "sms", "to": ANA, "type": "text", "text": {"body": "x"}}),
        json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}),
        json!({"messaging_product": "whatsapp", "to": ANA, "type": "text", "text": {}}),
        json!({"messaging_product": "whatsapp", "to": ANA, "type": "text"}),
        json!({"messaging_product": "whatsapp", "to": ANA, "type": "image", "image": {"link": "https://x.example/a.png", "id": "1"}}),
        json!({"messaging_product": "whatsapp", "to": ANA, "type": "template", "template": {"name": "x"}}),
        json!({"messaging_product": "whatsapp", "to": ANA, "type": "carrier_pigeon", "carrier_pigeon": {}}),
    ];
    for body in cases {
        let (status, answer) = h.whatsapp_send(&body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error"]["code"], 100, "{body}");
        assert_eq!(answer["error"]["error_data"]["messaging_product"], "whatsapp");
    }
    let (status, answer) = h.post("/v23.0/999/messages", Some(TOKEN), &text_to(ANA, "x")).await;
    assert_eq!((status, answer["error"]["error_subcode"].clone()), (400, json!(33)));
    let (status, answer) = h.post(&format!("/latest/{}/messages", h.sandbox.config().phone_number_id), Some(TOKEN), &text_to(ANA, "x")).await;
    assert_eq!((status, answer["error"]["code"].clone()), (400, json!(2500)));
    assert!(h.sandbox.requests().len() >= 10, "refused requests are recorded too");
}

#[tokio::test]
async fn every_outbound_fixture_is_accepted() {
    let h = Harness::start().await;
    for user in ["61491570156", "447700900456", JULES] {
        h.sandbox.set_last_inbound(user, crate::now_ms());
    }
    for name in ["out_whatsapp_text", "out_whatsapp_template", "out_whatsapp_document_link"] {
        let (status, answer) = h.whatsapp_send(&fixture(name)).await;
        assert_eq!(status, 200, "{name}: {answer}");
    }
    for name in ["out_messenger_text", "out_messenger_human_agent_tag"] {
        let (status, answer) = h.messenger_send(&fixture(name)).await;
        assert_eq!(status, 200, "{name}: {answer}");
    }
}

#[tokio::test]
async fn a_refused_webhook_is_retried_and_a_replay_repeats_the_same_bytes() {
    let h = Harness::start().await;
    h.relay.refuse_next.store(2, Ordering::SeqCst);
    h.sandbox.whatsapp_text(ANA, "Ana Souza", "hello?").await.unwrap();
    let delivery = h.sandbox.webhooks().pop().unwrap();
    let statuses: Vec<Option<u16>> = delivery.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);

    let replay = h.sandbox.replay_last().await.unwrap();
    assert_eq!(replay.replay_of, Some(delivery.seq));
    let all = h.relay.all();
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|r| r.raw == all[0].raw && r.verified));

    h.relay.refuse_next.store(10, Ordering::SeqCst);
    let error = h.sandbox.whatsapp_text(ANA, "Ana Souza", "anyone?").await.unwrap_err();
    assert!(matches!(error, WebhookError::Undelivered(ref d) if d.attempts.len() == 4), "{error}");
}

#[tokio::test]
async fn a_batch_puts_several_messages_in_one_post() {
    let h = Harness::start().await;
    let batch = || {
        vec![
            WaInbound::new(ANA, "Ana Souza", WaMessage::Text("first".into())),
            WaInbound::new("447700900456", "Priya Raman", WaMessage::Text("second".into())),
            WaInbound::new(ANA, "Ana Souza", WaMessage::Location(Location { latitude: 52.37, longitude: 4.89, name: None, address: None })),
        ]
    };
    let ids = h.sandbox.whatsapp_batch(batch(), Batching::EntryEach).await.unwrap();
    let received = h.relay.wait_for("the batch", |p| messages_of(p).len() == 3).await;
    assert_eq!(received.json["entry"].as_array().unwrap().len(), 3);
    let got: Vec<Value> = messages_of(&received.json).iter().map(|m| m["id"].clone()).collect();
    assert_eq!(got, ids.iter().map(|id| json!(id)).collect::<Vec<_>>());

    h.sandbox.whatsapp_batch(batch(), Batching::OneChange).await.unwrap();
    let one = h.relay.wait_for("the single change", |p| p.pointer("/entry/0/changes/0/value/messages/2").is_some()).await;
    assert_eq!(one.json["entry"][0]["changes"][0]["value"]["contacts"].as_array().unwrap().len(), 2);

    h.sandbox.whatsapp_batch(batch(), Batching::ChangeEach).await.unwrap();
    h.relay.wait_for("three changes", |p| p.pointer("/entry/0/changes/2").is_some() && p["entry"].as_array().unwrap().len() == 1).await;
}

#[tokio::test]
async fn interactive_replies_reactions_and_quick_replies_have_the_fixture_shapes() {
    let h = Harness::start().await;
    h.sandbox
        .whatsapp_batch(
            vec![
                WaInbound::new(ANA, "Ana Souza", WaMessage::InteractiveReply {
                    context: "wamid.menu".into(),
                    reply: InteractiveReply::Button { id: "btn-refund".into(), title: "Refund please".into() },
                }),
                WaInbound::new(ANA, "Ana Souza", WaMessage::InteractiveReply {
                    context: "wamid.menu".into(),
                    reply: InteractiveReply::List {
                        id: "slot-thu-am".into(),
                        title: "Thursday morning".into(),
                        description: Some("08:00 to 12:00".into()),
                    },
                }),
            ],
            Batching::OneChange,
        )
        .await
        .unwrap();
    let received = h.relay.wait_for("the replies", |p| messages_of(p).len() == 2).await;
    assert_eq!(shape(&received.json), shape(&fixture("whatsapp_interactive_reply")));

    h.sandbox.whatsapp_reaction(ANA, "Ana Souza", "wamid.x", None).await.unwrap();
    let removed = h.relay.wait_for("the reaction", |p| messages_of(p).iter().any(|m| m["type"] == "reaction")).await;
    assert_eq!(messages_of(&removed.json)[0]["reaction"], json!({"message_id": "wamid.x"}), "no emoji: removed");

    let mid = h.sandbox.messenger_quick_reply(JULES, "Track my order", "QR_TRACK_ORDER").await.unwrap();
    let quick = h.relay.wait_for("the quick reply", |p| p.pointer("/entry/0/messaging/0/message/mid") == Some(&json!(mid))).await;
    assert_eq!(quick.json["entry"][0]["messaging"][0]["message"]["quick_reply"]["payload"], "QR_TRACK_ORDER");
}

#[tokio::test]
async fn wait_for_sees_a_request_made_after_it_started_waiting() {
    let h = Harness::start().await;
    h.sandbox.whatsapp_text(ANA, "Ana Souza", "hi").await.unwrap();
    let sender = {
        let (http, url) = (h.http.clone(), h.url(&h.whatsapp_path()));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            http.post(url).bearer_auth(TOKEN).json(&text_to(ANA, "late reply")).send().await.unwrap();
        })
    };
    let call = h.sandbox.wait_for(|c| c.text() == Some("late reply"), WAIT).await.expect("the late send");
    assert_eq!(call.status, 200);
    sender.await.unwrap();
    assert!(h.sandbox.wait_for(|c| c.text() == Some("never sent"), Duration::from_millis(50)).await.is_none());
}

#[tokio::test]
async fn the_phone_page_sends_as_the_customer_and_shows_the_advisors_reply_then_reads_it() {
    let h = Harness::start().await;
    let page = h.get(&h.sandbox.phone_url(), None).await.text().await.unwrap();
    assert!(page.contains("Sandbox phone") && !page.contains("/*SETTINGS*/"));
    assert!(page.contains(r#""business":"Northwind Outfitters""#));

    let sent: Value = h
        .http
        .post(h.url("/phone/api/send"))
        .json(&json!({"channel": "whatsapp", "user": "+55 11 98765 4321", "name": "Ana Souza", "kind": "text", "text": "Oi! 👋"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let inbound = sent["id"].as_str().unwrap().to_owned();
    h.relay.wait_for("the phone's text", |p| messages_of(p).iter().any(|m| m["id"] == inbound.as_str() && m["from"] == ANA)).await;

    let (_, answer) = h
        .whatsapp_send(&json!({
            "messaging_product": "whatsapp", "to": ANA, "type": "interactive",
            "interactive": {"type": "button", "body": {"text": "Refund or exchange?"},
                "action": {"buttons": [
                    {"type": "reply", "reply": {"id": "refund", "title": "Refund"}},
                    {"type": "reply", "reply": {"id": "exchange", "title": "Exchange"}},
                ]}}
        }))
        .await;
    let reply = answer["messages"][0]["id"].as_str().unwrap().to_owned();
    let thread: Value = h.get(&h.url(&format!("/phone/api/thread?channel=whatsapp&user={ANA}")), None).await.json().await.unwrap();
    let messages = thread["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!((messages[0]["mine"].clone(), messages[0]["text"].clone()), (json!(true), json!("Oi! 👋")));
    assert_eq!(messages[1]["text"], "Refund or exchange?");
    assert_eq!(messages[1]["choices"][1]["title"], "Exchange");

    let read = h.http.post(h.url("/phone/api/read")).json(&json!({"channel": "whatsapp", "user": ANA})).send().await.unwrap();
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["read"], 1);
    h.relay.wait_for("the read status", |p| status_of(p, &reply, "read")).await;

    // Tapping a button is an interactive reply quoting the advisor's message.
    h.http
        .post(h.url("/phone/api/send"))
        .json(&json!({"channel": "whatsapp", "user": ANA, "name": "Ana Souza", "kind": "choice", "message_id": reply, "id": "exchange", "title": "Exchange"}))
        .send()
        .await
        .unwrap();
    h.relay
        .wait_for("the button reply", |p| {
            messages_of(p).iter().any(|m| m["context"]["id"] == reply.as_str() && m["interactive"]["button_reply"]["id"] == "exchange")
        })
        .await;
}

#[tokio::test]
async fn the_phone_page_carries_an_m_me_ref_and_reads_messenger_replies_by_watermark() {
    let h = Harness::start().await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let redirect = no_redirects.get(h.url("/m.me/northwind?ref=summer-sale")).send().await.unwrap();
    assert_eq!(redirect.headers()["location"], "/phone?channel=messenger&to=northwind&ref=summer-sale");
    let redirect = no_redirects.get(h.url("/wa.me/15550142277?text=Hi%20there")).send().await.unwrap();
    assert_eq!(redirect.headers()["location"], "/phone?channel=whatsapp&to=15550142277&text=Hi+there");

    let send = json!({"channel": "messenger", "user": JULES, "name": "Jules Martin", "kind": "text", "text": "Bonjour", "ref": "summer-sale"});
    let sent = h.http.post(h.url("/phone/api/send")).json(&send).send().await.unwrap();
    assert_eq!(sent.status(), 200);
    h.relay.wait_for("the referral", |p| p.pointer("/entry/0/messaging/0/postback/referral/ref") == Some(&json!("summer-sale"))).await;

    let profile = h.get(&h.url(&format!("/v23.0/{JULES}?fields=first_name,last_name&access_token={TOKEN}")), None).await;
    let profile: Value = profile.json().await.unwrap();
    assert_eq!(profile, json!({"id": JULES, "first_name": "Jules", "last_name": "Martin"}));

    let (_, answer) = h.messenger_send(&json!({"recipient": {"id": JULES}, "messaging_type": "RESPONSE", "message": {"text": "Bonjour Jules !"}})).await;
    let mid = answer["message_id"].as_str().unwrap().to_owned();
    h.http.post(h.url("/phone/api/read")).json(&json!({"channel": "messenger", "user": JULES})).send().await.unwrap();
    let read = h.relay.wait_for("the read watermark", |p| p.pointer("/entry/0/messaging/0/read/watermark").is_some()).await;
    let echo_at = h.sandbox.world().threads[&(Channel::Messenger, JULES.to_owned())].messages.iter().find(|b| b.id == mid).unwrap().at;
    assert_eq!(read.json["entry"][0]["messaging"][0]["read"]["watermark"], echo_at);
}
