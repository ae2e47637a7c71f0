//! Contract tests for the WhatsApp / Messenger bridge, through the real HTTP endpoints.
//!
//! Every fixture of `relay/tests/fixtures/meta/` (copies of the team's channel contracts) is posted
//! to a real relay on port 0 with a temporary database, signed with the relay's app secret or
//! signed wrongly; replies go out to the Graph API sandbox (`relay::sandbox`), which checks and
//! records every request and can answer 429, 500, 190 or 131047.
//!
//! - [`inbound`]: fixtures in, signatures, replays, platforms not handled yet.
//! - [`statuses`]: WhatsApp statuses and Messenger receipts, in and out of order.
//! - [`outbound`]: replies out, the messaging windows, the platform's refusals.
//!
//! Waiting: the relay applies stored webhooks one at a time, in the order it received them. So
//! [`settle`] posts one more customer message (the "sentinel") and waits for it: every frame the
//! earlier webhooks caused has then been sent, and "nothing happened" can be asserted without a
//! sleep.

mod inbound;
mod outbound;
mod statuses;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use confab_tests::*;
use relay::config::MetaArgs;
use relay::sandbox::{self, Sandbox, SandboxConfig};
use serde_json::Value;
use shared::*;
use tokio_util::sync::CancellationToken;

pub const WHATSAPP: &str = "/webhooks/whatsapp";
pub const MESSENGER: &str = "/webhooks/messenger";

/// The fixtures' customers.
pub const TOMAS: &str = "61491570156";
pub const PRIYA: &str = "447700900456";
pub const PSID: &str = "7012345678901234";

/// The customer `settle` writes as; never one of the fixtures' customers.
const SENTINEL_WA_ID: &str = "15550009999";

/// The app secret the relay checks webhooks with (the sandbox signs with the same one).
pub fn app_secret() -> String {
    SandboxConfig::default().app_secret
}

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// A relay with the bridge on, and the Graph API sandbox

pub struct Bridged {
    pub relay: TestRelay,
    pub sandbox: Sandbox,
    stop: CancellationToken,
}

impl Drop for Bridged {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A relay whose Graph API is the sandbox; the sandbox reports statuses after each accepted send.
pub async fn bridged() -> Bridged {
    bridged_with(true).await
}

/// `auto_statuses: false`: the sandbox sends no status or delivery receipt by itself, so a test
/// can post them in the order it wants.
pub async fn bridged_with(auto_statuses: bool) -> Bridged {
    let (relay, sandbox, _, stop) = start_with_sandbox(|_, sandbox| sandbox.auto_statuses = auto_statuses).await;
    Bridged { relay, sandbox, stop }
}

/// The bridge's settings: the sandbox's ids, secret and token, and `graph` as the Graph API.
pub fn meta_args(graph: &str) -> MetaArgs {
    SandboxConfig::default().meta_args(graph, VERIFY_TOKEN, SITE)
}

// ---------------------------------------------------------------------------------------------
// Fixtures and hand-made payloads

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../relay/tests/fixtures/meta");

/// A fixture's exact bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

/// Every inbound webhook fixture (the platforms' payloads, not the relay's requests or Meta's answers).
pub fn inbound_fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            ["whatsapp_", "messenger_", "instagram_", "telegram_", "twilio_"].iter().any(|p| n.starts_with(p))
                && (n.ends_with(".json") || n.ends_with(".txt"))
        })
        .collect();
    names.sort();
    names
}

/// The webhook a fixture belongs to. Instagram, Telegram and Twilio have none yet: Instagram
/// would come in on the Messenger callback (same Meta app); the others are posted there too.
pub fn endpoint_of(fixture: &str) -> &'static str {
    if fixture.starts_with("whatsapp_") {
        WHATSAPP
    } else {
        MESSENGER
    }
}

/// `value` as Meta writes it (compact, `\uXXXX`, `\/`).
pub fn meta_bytes(value: &Value) -> Vec<u8> {
    sandbox::meta_json(value)
}

/// Set the value at a JSON pointer (which must exist up to its parent).
pub fn set(value: &mut Value, pointer: &str, new: impl Into<Value>) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = value.pointer_mut(parent).unwrap_or_else(|| panic!("no {parent} in the payload"));
    match parent {
        Value::Object(map) => {
            map.insert(key.to_owned(), new.into());
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = new.into(),
        _ => panic!("{pointer}: the parent is not a container"),
    }
}

/// Remove the value at a JSON pointer.
pub fn remove(value: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let removed = value.pointer_mut(parent).and_then(Value::as_object_mut).and_then(|m| m.remove(key));
    assert!(removed.is_some(), "no {pointer} to remove");
}

const WA_MESSAGE: &str = "/entry/0/changes/0/value/messages/0";
const WA_CONTACT: &str = "/entry/0/changes/0/value/contacts/0";
const WA_STATUS: &str = "/entry/0/changes/0/value/statuses/0";
const MS_EVENT: &str = "/entry/0/messaging/0";

/// A WhatsApp text from `wa_id`, sent at `at_ms`: `whatsapp_text.json` with its fields replaced.
pub fn whatsapp_text(wa_id: &str, name: &str, wamid: &str, text: &str, at_ms: i64) -> Vec<u8> {
    let mut v = fixture_json("whatsapp_text.json");
    set(&mut v, &format!("{WA_CONTACT}/wa_id"), wa_id);
    set(&mut v, &format!("{WA_CONTACT}/profile/name"), name);
    remove(&mut v, &format!("{WA_MESSAGE}/context"));
    set(&mut v, &format!("{WA_MESSAGE}/from"), wa_id);
    set(&mut v, &format!("{WA_MESSAGE}/id"), wamid);
    set(&mut v, &format!("{WA_MESSAGE}/timestamp"), (at_ms / 1000).to_string());
    set(&mut v, &format!("{WA_MESSAGE}/text/body"), text);
    meta_bytes(&v)
}

/// A status of the business's message `wamid`: a status fixture (`whatsapp_status_*.json`) with
/// its id and recipient replaced, and its status too when `status` is given.
pub fn whatsapp_status(fixture_name: &str, wamid: &str, recipient: &str, status: Option<&str>) -> Vec<u8> {
    let mut v = fixture_json(fixture_name);
    set(&mut v, &format!("{WA_STATUS}/id"), wamid);
    set(&mut v, &format!("{WA_STATUS}/recipient_id"), recipient);
    if let Some(status) = status {
        set(&mut v, &format!("{WA_STATUS}/status"), status);
    }
    meta_bytes(&v)
}

/// A Messenger text from `psid` at `at_ms`: `messenger_text.json` with its fields replaced.
pub fn messenger_text(psid: &str, mid: &str, text: &str, at_ms: i64) -> Vec<u8> {
    let mut v = fixture_json("messenger_text.json");
    set(&mut v, &format!("{MS_EVENT}/sender/id"), psid);
    set(&mut v, &format!("{MS_EVENT}/timestamp"), at_ms);
    set(&mut v, "/entry/0/time", at_ms);
    remove(&mut v, &format!("{MS_EVENT}/message/reply_to"));
    set(&mut v, &format!("{MS_EVENT}/message/mid"), mid);
    set(&mut v, &format!("{MS_EVENT}/message/text"), text);
    meta_bytes(&v)
}

/// `messenger_read.json` for `psid` with `watermark`.
pub fn messenger_read(psid: &str, watermark: i64) -> Vec<u8> {
    let mut v = fixture_json("messenger_read.json");
    set(&mut v, &format!("{MS_EVENT}/sender/id"), psid);
    set(&mut v, &format!("{MS_EVENT}/read/watermark"), watermark);
    meta_bytes(&v)
}

/// `messenger_delivery.json` for `psid` with `watermark`, naming `mids` (or, with `None`, without
/// the `mids` field: Meta may leave it out).
pub fn messenger_delivery(psid: &str, mids: Option<&[&str]>, watermark: i64) -> Vec<u8> {
    let mut v = fixture_json("messenger_delivery.json");
    set(&mut v, &format!("{MS_EVENT}/sender/id"), psid);
    set(&mut v, &format!("{MS_EVENT}/delivery/watermark"), watermark);
    match mids {
        Some(mids) => set(&mut v, &format!("{MS_EVENT}/delivery/mids"), mids.iter().map(|m| Value::from(*m)).collect::<Vec<_>>()),
        None => remove(&mut v, &format!("{MS_EVENT}/delivery/mids")),
    }
    meta_bytes(&v)
}

// ---------------------------------------------------------------------------------------------
// Posting webhooks

/// `X-Hub-Signature-256` for `body` under the relay's app secret.
pub fn sign(body: &[u8]) -> String {
    relay::channels::meta::sign(app_secret().as_bytes(), body)
}

/// POST `body` to the relay's `path` with the given `X-Hub-Signature-256` (or none); the status.
pub async fn post_webhook(relay: &TestRelay, path: &str, body: &[u8], signature: Option<&str>) -> u16 {
    let mut request =
        reqwest::Client::new().post(relay.url(path)).header("content-type", "application/json").body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("X-Hub-Signature-256", signature);
    }
    let response = tokio::time::timeout(WAIT, request.send()).await.expect("the relay answered in time");
    response.expect("the relay answered").status().as_u16()
}

/// POST `body` correctly signed; the relay must accept it.
pub async fn deliver(relay: &TestRelay, path: &str, body: &[u8]) {
    let status = post_webhook(relay, path, body, Some(&sign(body))).await;
    assert_eq!(status, 200, "a correctly signed webhook to {path} is accepted");
}

// ---------------------------------------------------------------------------------------------
// Waiting until the relay has applied what was posted

/// What the advisor received up to the sentinel's message (which is `sentinel`, not in `frames`).
pub struct Settled {
    pub frames: Vec<AdvisorServerFrame>,
    pub sentinel: Message,
}

impl Settled {
    pub fn messages(&self) -> Vec<&Message> {
        self.frames
            .iter()
            .filter_map(|f| match f {
                AdvisorServerFrame::Message { message } => Some(message),
                _ => None,
            })
            .collect()
    }

    pub fn deliveries(&self) -> Vec<(ConversationId, Seq, PlatformDelivery)> {
        self.frames
            .iter()
            .filter_map(|f| match f {
                AdvisorServerFrame::Delivery { conversation, seq, delivery } => Some((*conversation, *seq, delivery.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn errors(&self) -> Vec<&ErrorFrame> {
        self.frames
            .iter()
            .filter_map(|f| match f {
                AdvisorServerFrame::Error(e) => Some(e),
                _ => None,
            })
            .collect()
    }
}

static SENTINELS: AtomicU64 = AtomicU64::new(0);

/// Post a message from the sentinel customer and collect the advisor's frames until it arrives.
/// The relay applies stored webhooks in the order received, one at a time: when the sentinel's
/// message is out, everything posted before it has been applied and announced.
pub async fn settle(relay: &TestRelay, advisor: &mut AdvisorClient) -> Settled {
    let n = SENTINELS.fetch_add(1, Ordering::Relaxed);
    let text = format!("sentinel {n}");
    let body = whatsapp_text(SENTINEL_WA_ID, "Sentinel", &format!("wamid.sentinel-{n}"), &text, relay::now_ms());
    deliver(relay, WHATSAPP, &body).await;
    let collect = async {
        let mut frames = Vec::new();
        loop {
            match advisor.recv().await {
                AdvisorServerFrame::Message { message } if message.text == text => return Settled { frames, sentinel: message },
                frame => frames.push(frame),
            }
        }
    };
    tokio::time::timeout(WAIT, collect).await.expect("the sentinel message reached the advisor in time")
}

/// Wait until the advisor gets a delivery frame for message `seq` of `conversation` in `state`;
/// returns its error text. Frames before it are dropped.
pub async fn delivery_reaches(advisor: &mut AdvisorClient, conversation: ConversationId, seq: Seq, state: PlatformState) -> Option<String> {
    advisor
        .wait_for(|f| match f {
            AdvisorServerFrame::Delivery { conversation: c, seq: s, delivery } if *c == conversation && *s == seq && delivery.state == state => {
                Some(delivery.error.clone())
            }
            _ => None,
        })
        .await
}

/// What the store says the platform reported about message `seq` of `conversation`.
pub async fn stored_state(relay: &TestRelay, conversation: ConversationId, seq: Seq) -> (Option<String>, Option<String>) {
    let all = stored_messages(&relay.data_dir).await;
    let m = all
        .into_iter()
        .find(|m| m.conversation_id == conversation.0 && m.seq == seq as i64)
        .unwrap_or_else(|| panic!("message {seq} of conversation {conversation} is stored"));
    (m.platform_state, m.platform_error)
}

/// A customer writes on WhatsApp through the sandbox (now, so the window is open); returns the
/// conversation once the advisor sees the message.
pub async fn whatsapp_customer(b: &Bridged, advisor: &mut AdvisorClient, wa_id: &str, name: &str) -> ConversationId {
    b.sandbox.whatsapp_text(wa_id, name, "Hello, is anyone there?").await.expect("the relay accepted the webhook");
    let message = advisor.next_message().await;
    assert_eq!(message.channel, Channel::Whatsapp);
    message.conversation
}

/// The same on Messenger.
pub async fn messenger_customer(b: &Bridged, advisor: &mut AdvisorClient, psid: &str) -> ConversationId {
    b.sandbox.messenger_text(psid, "Hi there", None).await.expect("the relay accepted the webhook");
    let message = advisor.next_message().await;
    assert_eq!(message.channel, Channel::Messenger);
    message.conversation
}

/// Reply, and wait for the sandbox to accept the send; returns the seq and the platform's id
/// (wamid or mid) for it.
pub async fn reply_accepted(b: &Bridged, advisor: &mut AdvisorClient, conversation: ConversationId, id: &str, text: &str) -> (Seq, String) {
    let seq = advisor.reply(conversation, id, text).await.expect("the reply is accepted");
    let call = b
        .sandbox
        .wait_for(|c| c.is_message_send() && c.is_success() && c.text() == Some(text), WAIT)
        .await
        .expect("the reply reached the Graph API");
    (seq, call.message_id().expect("the send answer has a message id").to_owned())
}

/// Long enough for every retry the tests script (the outbox backs off 0.5–1 s, then 1–2 s…).
pub const RETRY_WAIT: Duration = Duration::from_secs(20);
