//! Webhooks as Meta sends them: envelopes (§4, §7), serialised with Meta's escaping, signed with
//! the app secret (§2), posted, and retried on a non-2xx (§3).

use std::io;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::{Channel, Sandbox, SandboxConfig};

/// Waits before the retries after a refused delivery: Meta retries for days; tests need seconds.
const RETRY_DELAYS: [Duration; 3] = [Duration::from_millis(50), Duration::from_millis(200), Duration::from_millis(500)];

/// `value` as compact JSON the way Meta writes it: non-ASCII as `\uXXXX` (lowercase hex, UTF-16
/// surrogate pairs beyond the BMP) and `/` as `\/`. Re-serialising what you parsed will not give
/// these bytes back, which is the point: the relay must verify the signature on the raw body.
pub fn meta_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, MetaFormatter);
    // A `Value` has string keys and finite numbers only, and writing to a Vec cannot fail.
    value.serialize(&mut serializer).expect("a JSON value always serialises");
    out
}

struct MetaFormatter;

impl serde_json::ser::Formatter for MetaFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut plain_from = 0;
        for (at, ch) in fragment.char_indices() {
            if ch.is_ascii() && ch != '/' {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[plain_from..at])?;
            if ch == '/' {
                writer.write_all(b"\\/")?;
            } else {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
            plain_from = at + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[plain_from..])
    }
}

/// The `X-Hub-Signature-256` value for `body`: `sha256=` + hex HMAC-SHA256 keyed with the app secret.
/// (The same function the relay verifies with: the sandbox signs exactly as Meta does.)
pub fn signature(app_secret: &str, body: &[u8]) -> String {
    crate::channels::meta::sign(app_secret.as_bytes(), body)
}

/// One webhook posted to the relay, with every attempt it took.
#[derive(Clone, Debug)]
pub struct WebhookDelivery {
    pub seq: u64,
    pub at_ms: i64,
    pub channel: Channel,
    pub url: String,
    /// The exact body posted and signed (ASCII, thanks to the escaping).
    pub body: String,
    /// The `X-Hub-Signature-256` header sent.
    pub signature: String,
    /// The body as built, before serialisation.
    pub payload: Value,
    pub attempts: Vec<Attempt>,
    /// Set on a [`Sandbox::replay`]: the `seq` of the delivery repeated.
    pub replay_of: Option<u64>,
}

/// One POST of a webhook: the relay's status, or why there was none.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl WebhookDelivery {
    /// Whether the relay finally answered 2xx.
    pub fn delivered(&self) -> bool {
        self.attempts.last().and_then(|a| a.status).is_some_and(|s| (200..300).contains(&s))
    }

    fn last_outcome(&self) -> String {
        match self.attempts.last() {
            Some(Attempt { status: Some(status), .. }) => format!("HTTP {status}"),
            Some(Attempt { error: Some(error), .. }) => error.clone(),
            _ => "no attempt".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the relay did not accept the webhook to {} after {} attempts (last: {})", .0.url, .0.attempts.len(), .0.last_outcome())]
    Undelivered(Box<WebhookDelivery>),
    #[error("no webhook has been posted yet, so there is nothing to replay")]
    NothingToReplay,
    #[error("the relay's webhook URL {url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the sandbox is shutting down")]
    ShuttingDown,
}

/// What the relay answered to the subscription handshake (§1).
#[derive(Clone, Debug)]
pub struct Handshake {
    pub status: u16,
    pub body: String,
    /// The `hub.challenge` sent, which the relay must echo verbatim.
    pub challenge: String,
}

impl Handshake {
    /// 200 with the challenge as the whole body.
    pub fn accepted(&self) -> bool {
        self.status == 200 && self.body == self.challenge
    }
}

impl Sandbox {
    /// Do what Meta does when the callback URL is saved (§1): `GET <callback>?hub.mode=subscribe&
    /// hub.challenge=<random>&hub.verify_token=<verify_token>`, with no body and no signature.
    pub async fn handshake(&self, channel: Channel, verify_token: &str) -> Result<Handshake, WebhookError> {
        let url = self.webhook_url(channel).to_owned();
        let challenge = rand::Rng::gen_range(&mut rand::thread_rng(), 100_000_000u64..10_000_000_000).to_string();
        let query = [("hub.mode", "subscribe"), ("hub.challenge", challenge.as_str()), ("hub.verify_token", verify_token)];
        let unreachable = |e: reqwest::Error| WebhookError::Unreachable { url: url.clone(), reason: e.to_string() };
        let response = self.inner.http.get(&url).query(&query).send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(unreachable)?;
        Ok(Handshake { status, body, challenge })
    }

    fn webhook_url(&self, channel: Channel) -> &str {
        match channel {
            Channel::WhatsApp => &self.inner.config.relay_webhook_url_whatsapp,
            Channel::Messenger => &self.inner.config.relay_webhook_url_messenger,
        }
    }

    /// Serialise, sign and post `payload` to the relay's webhook for `channel`.
    pub(super) async fn post_webhook(&self, channel: Channel, payload: Value) -> Result<WebhookDelivery, WebhookError> {
        let body = String::from_utf8(meta_json(&payload)).expect("Meta-escaped JSON is ASCII");
        self.post_raw(channel, payload, body, None).await
    }

    /// Post the very same bytes again, as Meta does when it redelivers (§3 Duplicates).
    pub async fn replay(&self, delivery: &WebhookDelivery) -> Result<WebhookDelivery, WebhookError> {
        self.post_raw(delivery.channel, delivery.payload.clone(), delivery.body.clone(), Some(delivery.seq)).await
    }

    /// [`Sandbox::replay`] the last webhook posted.
    pub async fn replay_last(&self) -> Result<WebhookDelivery, WebhookError> {
        let last = self.world().webhooks.last().cloned().ok_or(WebhookError::NothingToReplay)?;
        self.replay(&last).await
    }

    async fn post_raw(
        &self,
        channel: Channel,
        payload: Value,
        body: String,
        replay_of: Option<u64>,
    ) -> Result<WebhookDelivery, WebhookError> {
        let url = self.webhook_url(channel).to_owned();
        let signature = signature(&self.inner.config.app_secret, body.as_bytes());
        let at_ms = crate::now_ms();
        let mut attempts = Vec::new();
        let waits = std::iter::once(Duration::ZERO).chain(RETRY_DELAYS);
        for wait in waits {
            let post = async {
                tokio::time::sleep(wait).await;
                self.inner
                    .http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("X-Hub-Signature-256", &signature)
                    .body(body.clone())
                    .send()
                    .await
            };
            let result = tokio::select! {
                _ = self.inner.shutdown.cancelled() => return Err(WebhookError::ShuttingDown),
                result = post => result,
            };
            let attempt = match result {
                Ok(response) => Attempt { status: Some(response.status().as_u16()), error: None },
                Err(e) => Attempt { status: None, error: Some(e.to_string()) },
            };
            let accepted = attempt.status.is_some_and(|s| (200..300).contains(&s));
            attempts.push(attempt);
            if accepted {
                break;
            }
        }
        let delivery =
            self.record_webhook(WebhookDelivery { seq: 0, at_ms, channel, url, body, signature, payload, attempts, replay_of });
        if delivery.delivered() {
            Ok(delivery)
        } else {
            let (attempts, last) = (delivery.attempts.len(), delivery.last_outcome());
            tracing::warn!(url = %delivery.url, attempts, %last, "sandbox webhook not accepted");
            Err(WebhookError::Undelivered(Box::new(delivery)))
        }
    }
}

/// A WhatsApp webhook (§4): one `entry` per inner list, one `change` per value in it.
pub(super) fn whatsapp_envelope(config: &SandboxConfig, entries: Vec<Vec<Value>>) -> Value {
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|values| {
            let changes: Vec<Value> = values.into_iter().map(|value| json!({"value": value, "field": "messages"})).collect();
            json!({"id": config.waba_id, "changes": changes})
        })
        .collect();
    json!({"object": "whatsapp_business_account", "entry": entries})
}

/// A WhatsApp `change.value`; empty arrays are left out, as Meta does.
pub(super) fn whatsapp_value(config: &SandboxConfig, contacts: Vec<Value>, messages: Vec<Value>, statuses: Vec<Value>) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": config.display_phone_number, "phone_number_id": config.phone_number_id},
    });
    for (key, list) in [("contacts", contacts), ("messages", messages), ("statuses", statuses)] {
        if !list.is_empty() {
            value[key] = Value::Array(list);
        }
    }
    value
}

pub(super) fn whatsapp_contact(wa_id: &str, name: &str) -> Value {
    json!({"profile": {"name": name}, "wa_id": wa_id})
}

/// A Messenger webhook (§7): one `entry` for the page with the given `messaging` events.
pub(super) fn page_envelope(config: &SandboxConfig, time_ms: i64, messaging: Vec<Value>) -> Value {
    json!({"object": "page", "entry": [{"id": config.page_id, "time": time_ms, "messaging": messaging}]})
}

/// A Messenger event from the user to the page: `{sender, recipient, timestamp, <key>: <body>}`.
pub(super) fn page_event(config: &SandboxConfig, psid: &str, timestamp_ms: i64, key: &str, body: Value) -> Value {
    let mut event = json!({"sender": {"id": psid}, "recipient": {"id": config.page_id}, "timestamp": timestamp_ms});
    event[key] = body;
    event
}
