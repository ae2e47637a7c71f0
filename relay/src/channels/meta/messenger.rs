//! Messenger Platform: inbound webhooks (`object = "page"`, CONTRACTS §7), Send API bodies and
//! sender actions (§8), and the answer to a send call.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::Channel;

use super::error::ResponseError;
use super::event::{
    Echo, InboundBatch, InboundBody, InboundEvent, InboundMessage, MediaKind, MediaSource, Referral, SkipReason,
    Skipped, Watermark, WatermarkKind,
};
use super::wire;

/// Longest text Messenger accepts, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Longest `metadata` string, echoed back with the message.
pub const MAX_METADATA_CHARS: usize = 1000;

// ---------------------------------------------------------------------------------------------
// Inbound

/// Reads every `entry[].messaging[]` of a Page webhook into `batch`.
pub(crate) fn parse_entries(body: &Value, batch: &mut InboundBatch) {
    let Some(entries) = body.get("entry").and_then(Value::as_array) else {
        batch.skipped.push(skip(None, SkipReason::Malformed("no entry array".into()), body));
        return;
    };
    for entry in entries {
        let page_id = wire::non_empty(entry.get("id"));
        let page = page_id.as_deref();
        let messaging = entry.get("messaging").and_then(Value::as_array);
        let standby = entry.get("standby").and_then(Value::as_array);
        let changes = entry.get("changes").and_then(Value::as_array);
        if messaging.is_none() && standby.is_none() && changes.is_none() {
            batch.skipped.push(skip(page, SkipReason::Malformed("entry without a messaging array".into()), entry));
            continue;
        }
        for item in messaging.into_iter().flatten() {
            parse_item(page, entry, item, batch);
        }
        // Handover protocol: another app owns these threads, so the relay must not answer them.
        for item in standby.into_iter().flatten() {
            let reason =
                SkipReason::NotHandled("standby event: another app controls this thread (handover protocol)".into());
            batch.skipped.push(skip(page, reason, item));
        }
        // Page feed webhooks (posts, comments) share `object = "page"` but are not conversations.
        for change in changes.into_iter().flatten() {
            let field = change.get("field").and_then(Value::as_str).unwrap_or("?");
            batch.skipped.push(skip(page, SkipReason::NotHandled(format!("page change field {field:?}")), change));
        }
    }
}

fn skip(account: Option<&str>, reason: SkipReason, raw: &Value) -> Skipped {
    Skipped { channel: Channel::Messenger, account: account.map(str::to_owned), reason, raw: raw.clone() }
}

fn malformed(what: &str) -> SkipReason {
    SkipReason::Malformed(what.to_owned())
}

fn party(item: &Value, key: &str) -> Option<String> {
    let p = item.get(key)?;
    wire::non_empty(p.get("id")).or_else(|| wire::non_empty(p.get("user_ref")))
}

fn parse_item(page: Option<&str>, entry: &Value, item: &Value, batch: &mut InboundBatch) {
    match parse_events(page, entry, item) {
        Ok(events) => batch.events.extend(events),
        Err(reason) => {
            let account = page.map(str::to_owned).or_else(|| party(item, "recipient"));
            batch.skipped.push(skip(account.as_deref(), reason, item));
        }
    }
}

fn parse_events(page: Option<&str>, entry: &Value, item: &Value) -> Result<Vec<InboundEvent>, SkipReason> {
    let sender = party(item, "sender").ok_or_else(|| malformed("event without sender.id"))?;
    let recipient = party(item, "recipient");
    // Delivery receipts have no timestamp of their own; the entry's time stands in elsewhere.
    let timestamp_ms = wire::int(item.get("timestamp")).or_else(|| wire::int(entry.get("time")));

    if let Some(message) = item.get("message").filter(|m| m.is_object()) {
        let timestamp_ms = timestamp_ms.ok_or_else(|| malformed("message without a timestamp"))?;
        let mid = wire::non_empty(message.get("mid")).ok_or_else(|| malformed("message without mid"))?;
        let parts = message_parts(message);
        if message.get("is_echo").and_then(Value::as_bool) == Some(true) {
            // An echo goes from the Page (sender) to the customer (recipient).
            let account = page.map(str::to_owned).unwrap_or_else(|| sender.clone());
            let recipient = recipient.ok_or_else(|| malformed("echo without recipient.id"))?;
            let app_id = wire::non_empty(message.get("app_id"));
            let metadata = wire::non_empty(message.get("metadata"));
            return Ok(numbered(&mid, parts)
                .map(|(platform_id, body)| {
                    InboundEvent::Echo(Echo {
                        channel: Channel::Messenger,
                        account: account.clone(),
                        recipient: recipient.clone(),
                        platform_id,
                        app_id: app_id.clone(),
                        metadata: metadata.clone(),
                        timestamp_ms,
                        body,
                    })
                })
                .collect());
        }
        let account = page.map(str::to_owned).or(recipient).ok_or_else(|| malformed("message without a Page id"))?;
        let reply_to = wire::non_empty(message.get("reply_to").and_then(|r| r.get("mid")));
        let referral = referral_ref(message.get("referral")).or_else(|| referral_ref(item.get("referral")));
        return Ok(numbered(&mid, parts)
            .map(|(platform_id, body)| {
                InboundEvent::Message(InboundMessage {
                    channel: Channel::Messenger,
                    account: account.clone(),
                    sender: sender.clone(),
                    sender_name: None,
                    platform_id,
                    timestamp_ms,
                    body,
                    reply_to: reply_to.clone(),
                    referral: referral.clone(),
                })
            })
            .collect());
    }

    let account = page.map(str::to_owned).or(recipient).ok_or_else(|| malformed("event without a Page id"))?;

    if let Some(postback) = item.get("postback").filter(|p| p.is_object()) {
        let timestamp_ms = timestamp_ms.ok_or_else(|| malformed("postback without a timestamp"))?;
        // Older postbacks carry no mid; sender and time are stable across redeliveries.
        let platform_id =
            wire::non_empty(postback.get("mid")).unwrap_or_else(|| format!("postback:{sender}:{timestamp_ms}"));
        let title = wire::string(postback.get("title")).unwrap_or_default();
        let payload = wire::string(postback.get("payload")).unwrap_or_default();
        return Ok(vec![InboundEvent::Message(InboundMessage {
            channel: Channel::Messenger,
            account,
            sender,
            sender_name: None,
            platform_id,
            timestamp_ms,
            body: InboundBody::Reply { title, payload },
            reply_to: None,
            referral: referral_ref(postback.get("referral")),
        })]);
    }

    for (key, kind) in [("delivery", WatermarkKind::Delivered), ("read", WatermarkKind::Read)] {
        if let Some(receipt) = item.get(key).filter(|r| r.is_object()) {
            let watermark_ms =
                wire::int(receipt.get("watermark")).ok_or_else(|| malformed(&format!("{key} without a watermark")))?;
            let mids = wire::items(receipt, "mids").iter().filter_map(|m| wire::non_empty(Some(m))).collect();
            return Ok(vec![InboundEvent::Watermark(Watermark {
                channel: Channel::Messenger,
                account,
                sender,
                kind,
                watermark_ms,
                mids,
                timestamp_ms: wire::int(item.get("timestamp")),
            })]);
        }
    }

    if let Some(referral) = item.get("referral").filter(|r| r.is_object()) {
        let timestamp_ms = timestamp_ms.ok_or_else(|| malformed("referral without a timestamp"))?;
        return Ok(vec![InboundEvent::Referral(Referral {
            channel: Channel::Messenger,
            account,
            sender,
            ref_param: wire::non_empty(referral.get("ref")),
            source: wire::non_empty(referral.get("source")),
            timestamp_ms,
        })]);
    }

    let keys: Vec<&str> = item
        .as_object()
        .map(|o| o.keys().map(String::as_str).filter(|k| !matches!(*k, "sender" | "recipient" | "timestamp")).collect())
        .unwrap_or_default();
    Err(SkipReason::NotHandled(format!("messaging event {}", keys.join("+"))))
}

fn referral_ref(referral: Option<&Value>) -> Option<String> {
    wire::non_empty(referral?.get("ref"))
}

/// The first part keeps the mid; later parts get `{mid}#2`, `{mid}#3`…
fn numbered(mid: &str, parts: Vec<InboundBody>) -> impl Iterator<Item = (String, InboundBody)> + '_ {
    parts.into_iter().enumerate().map(move |(i, body)| {
        let id = if i == 0 { mid.to_owned() } else { format!("{mid}#{}", i + 1) };
        (id, body)
    })
}

/// A message's text and attachments, each as one body, text first. Never empty.
fn message_parts(message: &Value) -> Vec<InboundBody> {
    let mut parts = Vec::new();
    let text = wire::string(message.get("text")).filter(|t| !t.is_empty());
    match (text, message.get("quick_reply")) {
        (Some(title), Some(qr)) => {
            parts.push(InboundBody::Reply { title, payload: wire::string(qr.get("payload")).unwrap_or_default() })
        }
        (Some(text), None) => parts.push(InboundBody::Text { text }),
        _ => {}
    }

    let attachments = wire::items(message, "attachments");
    let is_sticker = |a: &Value| {
        a.get("type").and_then(Value::as_str) == Some("sticker")
            || a.get("payload").and_then(|p| p.get("sticker_id")).is_some()
    };
    // During Meta's transition a sticker arrives as both a `sticker` and an `image` attachment;
    // a customer can't send a sticker with anything else, so one sticker is the whole message.
    let sticker_message = message.get("sticker_id").is_some() || attachments.iter().any(is_sticker);
    if sticker_message {
        let sticker = attachments
            .iter()
            .find(|a| a.get("type").and_then(Value::as_str) == Some("sticker"))
            .or_else(|| attachments.iter().find(|a| is_sticker(a)))
            .or_else(|| attachments.first());
        let url = sticker.and_then(|a| wire::non_empty(a.get("payload").and_then(|p| p.get("url"))));
        parts.push(match url {
            Some(url) => media(MediaKind::Sticker, url),
            None => InboundBody::Unsupported { kind: "sticker".into(), detail: None },
        });
    } else {
        parts.extend(attachments.iter().map(attachment_body));
    }

    if parts.is_empty() {
        parts.push(InboundBody::Unsupported { kind: "message".into(), detail: None });
    }
    parts
}

fn media(kind: MediaKind, url: String) -> InboundBody {
    InboundBody::Media { kind, source: MediaSource::Url(url), mime: None, caption: None, filename: None, sha256: None }
}

fn attachment_body(a: &Value) -> InboundBody {
    let kind = wire::non_empty(a.get("type")).unwrap_or_else(|| "attachment".into());
    let payload = a.get("payload");
    let url = wire::non_empty(payload.and_then(|p| p.get("url")));
    let media_kind = match kind.as_str() {
        "image" => Some(MediaKind::Image),
        "video" => Some(MediaKind::Video),
        "audio" => Some(MediaKind::Audio),
        "file" => Some(MediaKind::Document),
        _ => None,
    };
    match (media_kind, url) {
        (Some(media_kind), Some(url)) => media(media_kind, url),
        (None, url) if kind == "fallback" => {
            // A shared link: title and URL, either of which may be missing.
            let url = url.or_else(|| wire::non_empty(a.get("url"))).or_else(|| wire::non_empty(a.get("URL")));
            let words: Vec<String> = [wire::non_empty(a.get("title")), url].into_iter().flatten().collect();
            if words.is_empty() {
                InboundBody::Unsupported { kind, detail: None }
            } else {
                InboundBody::Text { text: words.join("\n") }
            }
        }
        (None, _) if kind == "location" => {
            let coordinates = payload.and_then(|p| p.get("coordinates"));
            let lat = wire::float(coordinates.and_then(|c| c.get("lat")));
            let lon = wire::float(coordinates.and_then(|c| c.get("long")));
            match (lat, lon) {
                (Some(lat), Some(lon)) => {
                    InboundBody::Location { lat, lon, name: wire::non_empty(a.get("title")), address: None }
                }
                _ => InboundBody::Unsupported { kind, detail: None },
            }
        }
        (_, url) => {
            let detail = url
                .or_else(|| wire::non_empty(a.get("title")))
                .or_else(|| wire::non_empty(payload.and_then(|p| p.get("text"))));
            InboundBody::Unsupported { kind, detail }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Outbound

/// Why a message may be sent now (CONTRACTS §8). Pick it with
/// [`super::window::WindowState::messenger_messaging_type`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "messaging_type")]
pub enum MessagingType {
    /// A reply inside the 24-hour window.
    #[serde(rename = "RESPONSE")]
    Response,
    /// Proactive, but still inside the 24-hour window.
    #[serde(rename = "UPDATE")]
    Update,
    /// Outside the window, with a tag. For support chat only `HUMAN_AGENT`, and only for replies a
    /// person wrote, within 7 days of the customer's last message.
    #[serde(rename = "MESSAGE_TAG")]
    MessageTag { tag: MessageTag },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageTag {
    HumanAgent,
}

impl MessagingType {
    pub const HUMAN_AGENT: MessagingType = MessagingType::MessageTag { tag: MessageTag::HumanAgent };
}

/// A Send API body (`POST /{version}/me/messages` or `/{version}/{page-id}/messages`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessengerMessage {
    recipient: Recipient,
    #[serde(flatten)]
    messaging_type: MessagingType,
    message: MessengerContent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Recipient {
    id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessengerContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<OutboundAttachment>,
    /// Echoed back in the message echo: a way to recognise the relay's own sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundAttachment {
    /// `image`, `audio`, `video` or `file`.
    #[serde(rename = "type")]
    pub kind: String,
    pub payload: AttachmentPayload,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentPayload {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_reusable: Option<bool>,
}

impl MessengerMessage {
    /// A text message to a PSID (< 2000 characters).
    pub fn text(psid: impl Into<String>, text: impl Into<String>, messaging_type: MessagingType) -> Self {
        MessengerMessage {
            recipient: Recipient { id: psid.into() },
            messaging_type,
            message: MessengerContent { text: Some(text.into()), attachment: None, metadata: None },
        }
    }

    /// A file sent by public URL (≤ 25 MB). Stickers go as images.
    pub fn attachment(
        psid: impl Into<String>,
        kind: MediaKind,
        url: impl Into<String>,
        messaging_type: MessagingType,
    ) -> Self {
        let kind = match kind {
            MediaKind::Image | MediaKind::Sticker => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "file",
        };
        MessengerMessage {
            recipient: Recipient { id: psid.into() },
            messaging_type,
            message: MessengerContent {
                text: None,
                attachment: Some(OutboundAttachment {
                    kind: kind.into(),
                    payload: AttachmentPayload { url: url.into(), is_reusable: None },
                }),
                metadata: None,
            },
        }
    }

    /// A string (≤ 1000 characters) Messenger echoes back with this message.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.message.metadata = Some(metadata.into());
        self
    }

    pub fn recipient(&self) -> &str {
        &self.recipient.id
    }

    pub fn messaging_type(&self) -> MessagingType {
        self.messaging_type
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a Messenger message serialises")
    }
}

/// A sender action: a request of its own, carrying only the recipient and the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderAction {
    recipient: Recipient,
    sender_action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    MarkSeen,
    /// Clears after 20 seconds or when a message is sent.
    TypingOn,
    TypingOff,
}

impl SenderAction {
    pub fn new(psid: impl Into<String>, action: Action) -> Self {
        SenderAction { recipient: Recipient { id: psid.into() }, sender_action: action }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a sender action serialises")
    }
}

// ---------------------------------------------------------------------------------------------
// Answers

/// What a successful send call answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessengerSent {
    pub recipient_id: Option<String>,
    /// The mid. The same mid comes back as an [`Echo`]: that is how the echo is recognised.
    pub message_id: String,
}

pub fn parse_send_response(body: &[u8]) -> Result<MessengerSent, ResponseError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ResponseError::NotJson(e.to_string()))?;
    Ok(MessengerSent {
        recipient_id: wire::non_empty(v.get("recipient_id")),
        message_id: wire::non_empty(v.get("message_id")).ok_or(ResponseError::Missing("message_id"))?,
    })
}
