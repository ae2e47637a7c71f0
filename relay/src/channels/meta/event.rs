//! The normalised form of what Meta's webhooks deliver, the same for WhatsApp and Messenger.
//! Everything here is serde-serialisable so an integrator can queue or store it as JSON.

use serde::{Deserialize, Serialize};
use shared::Channel;

use super::failure::{classify_code, SendFailure};

/// Everything one webhook POST carried. Items that could not be read, or that the connector does
/// not handle, are listed in `skipped` instead of failing the whole batch (CONTRACTS §3, §14.6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InboundBatch {
    /// In payload order, which is not time order: sort by timestamp where it matters.
    pub events: Vec<InboundEvent>,
    pub skipped: Vec<Skipped>,
}

/// One thing that happened on a Meta channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum InboundEvent {
    /// A customer wrote (or tapped a button, or reacted).
    Message(InboundMessage),
    /// WhatsApp: what became of a message the business sent.
    Status(StatusUpdate),
    /// Messenger: everything the business sent to `sender` at or before `watermark_ms` was
    /// delivered or read.
    Watermark(Watermark),
    /// Messenger: a copy of a message the Page sent, through this relay (recognise it by `app_id`
    /// and `platform_id`, the mid the send call returned) or through another app such as the Page
    /// inbox. Never store it as a second copy of the relay's own send (CONTRACTS §14.9).
    Echo(Echo),
    /// Messenger: a customer who already has a thread came back through an m.me link or an ad,
    /// without writing. Opens the 24-hour window like a message does.
    Referral(Referral),
    /// WhatsApp: an error about the number or account that concerns no particular message
    /// (`value.errors[]`). Show it to an administrator.
    AccountError(AccountError),
}

impl InboundEvent {
    /// The key that makes redeliveries of this event recognisable (CONTRACTS §3). Keep seen keys
    /// for at least 7 days: WhatsApp retries that long. Prefixed by channel and kind, so one table
    /// can hold them all.
    pub fn dedup_key(&self) -> String {
        match self {
            InboundEvent::Message(m) => format!("{}:message:{}", channel_key(m.channel), m.platform_id),
            InboundEvent::Status(s) => {
                format!("{}:status:{}:{}", channel_key(s.channel), s.platform_id, s.status.name())
            }
            InboundEvent::Watermark(w) => {
                format!("{}:{}:{}:{}:{}", channel_key(w.channel), w.kind.name(), w.account, w.sender, w.watermark_ms)
            }
            InboundEvent::Echo(e) => format!("{}:echo:{}", channel_key(e.channel), e.platform_id),
            InboundEvent::Referral(r) => {
                format!("{}:referral:{}:{}:{}", channel_key(r.channel), r.account, r.sender, r.timestamp_ms)
            }
            InboundEvent::AccountError(e) => format!(
                "{}:account-error:{}:{}:{}",
                channel_key(e.channel),
                e.account,
                e.code.map_or_else(String::new, |c| c.to_string()),
                short_hash(&[e.title.as_deref().unwrap_or(""), e.details.as_deref().unwrap_or("")])
            ),
        }
    }

    pub fn channel(&self) -> Channel {
        match self {
            InboundEvent::Message(m) => m.channel,
            InboundEvent::Status(s) => s.channel,
            InboundEvent::Watermark(w) => w.channel,
            InboundEvent::Echo(e) => e.channel,
            InboundEvent::Referral(r) => r.channel,
            InboundEvent::AccountError(e) => e.channel,
        }
    }

    /// `(account, customer, timestamp_ms)` when this event is a customer action that opens or
    /// refreshes the messaging window (CONTRACTS §6.1, §8): a message or a referral. Feed it to
    /// the store's `last_inbound_at`, then to [`super::window::window_state`].
    pub fn customer_activity(&self) -> Option<(&str, &str, i64)> {
        match self {
            InboundEvent::Message(m) => Some((&m.account, &m.sender, m.timestamp_ms)),
            InboundEvent::Referral(r) => Some((&r.account, &r.sender, r.timestamp_ms)),
            _ => None,
        }
    }
}

fn channel_key(channel: Channel) -> &'static str {
    match channel {
        Channel::Whatsapp => "whatsapp",
        Channel::Messenger => "messenger",
        Channel::Web => "web",
        _ => "unknown",
    }
}

fn short_hash(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..8])
}

/// A message a customer sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub channel: Channel,
    /// The business side it was sent to: the WhatsApp `phone_number_id` (not the WABA id) or the
    /// Messenger Page id. The routing key for a relay serving several numbers or Pages.
    pub account: String,
    /// The customer: the WhatsApp `wa_id` (canonical, never the number as dialled) or the
    /// Messenger PSID (page-scoped: the same person has another PSID on another Page).
    pub sender: String,
    /// The WhatsApp profile name, when the payload has one. Messenger sends none.
    pub sender_name: Option<String>,
    /// The wamid or the mid. A Messenger message with several attachments becomes several
    /// messages: the first keeps the mid, the others get `{mid}#2`, `{mid}#3`…
    pub platform_id: String,
    /// When the customer sent it, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub body: InboundBody,
    /// The platform id of the message this one quotes or answers (a wamid or mid the business
    /// sent, usually), when there is one.
    pub reply_to: Option<String>,
    /// Messenger: the `ref` of the m.me link or ad the customer came through. None on WhatsApp.
    pub referral: Option<String>,
}

/// What a customer's message holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundBody {
    Text {
        text: String,
    },
    Media {
        kind: MediaKind,
        source: MediaSource,
        mime: Option<String>,
        caption: Option<String>,
        filename: Option<String>,
        /// Opaque: Meta documents hex, real payloads carry base64.
        sha256: Option<String>,
    },
    Location {
        lat: f64,
        lon: f64,
        name: Option<String>,
        address: Option<String>,
    },
    /// A tap on a button or list item (WhatsApp interactive replies and template quick replies,
    /// Messenger quick replies and postbacks): the label the customer saw and the payload the
    /// business attached to it.
    Reply {
        title: String,
        payload: String,
    },
    /// A reaction to message `to`; an empty `emoji` means the customer removed their reaction.
    Reaction {
        to: String,
        emoji: String,
    },
    /// Something the connector does not turn into one of the above; `kind` is the platform's type
    /// name and `detail` whatever readable hint the payload gave.
    Unsupported {
        kind: String,
        detail: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

/// Where to fetch a media file from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum MediaSource {
    /// A WhatsApp media id: look up its short-lived URL with [`super::GraphApi::whatsapp_media_url`]
    /// and fetch that URL with the same bearer token (CONTRACTS §5).
    #[serde(rename = "whatsapp_id")]
    WhatsAppId(String),
    /// A Messenger CDN URL, fetched without credentials; its lifetime is undocumented, so fetch it
    /// promptly.
    Url(String),
}

impl InboundBody {
    /// The text an advisor sees for this message in a conversation list or a thread.
    pub fn display_text(&self) -> String {
        match self {
            InboundBody::Text { text } => text.clone(),
            InboundBody::Media { kind, caption, filename, .. } => {
                if let Some(caption) = caption.as_deref().filter(|c| !c.trim().is_empty()) {
                    return caption.to_owned();
                }
                match (kind, filename.as_deref().filter(|f| !f.is_empty())) {
                    (MediaKind::Document, Some(name)) => format!("📄 {name}"),
                    (MediaKind::Document, None) => "📄 Document".to_owned(),
                    (MediaKind::Image, _) => "📷 Photo".to_owned(),
                    (MediaKind::Video, _) => "🎥 Video".to_owned(),
                    (MediaKind::Audio, _) => "🎤 Audio".to_owned(),
                    (MediaKind::Sticker, _) => "Sticker".to_owned(),
                }
            }
            InboundBody::Location { lat, lon, name, address } => {
                let words: Vec<&str> =
                    [name.as_deref(), address.as_deref()].into_iter().flatten().filter(|s| !s.is_empty()).collect();
                if words.is_empty() {
                    format!("📍 {lat}, {lon}")
                } else {
                    format!("📍 {}", words.join(", "))
                }
            }
            InboundBody::Reply { title, payload } => {
                if title.is_empty() {
                    payload.clone()
                } else {
                    title.clone()
                }
            }
            InboundBody::Reaction { emoji, .. } if emoji.is_empty() => "Removed a reaction".to_owned(),
            InboundBody::Reaction { emoji, .. } => format!("Reacted {emoji}"),
            InboundBody::Unsupported { kind, detail } => match detail {
                Some(detail) if !detail.is_empty() => format!("Unsupported message (type: {kind}): {detail}"),
                _ => format!("Unsupported message (type: {kind})"),
            },
        }
    }
}

/// A WhatsApp status update for a message the business sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub channel: Channel,
    /// The sending `phone_number_id`.
    pub account: String,
    /// The wamid the send call returned. A status may arrive before that call returned.
    pub platform_id: String,
    /// The customer's `wa_id`.
    pub recipient: String,
    pub status: DeliveryStatus,
    pub timestamp_ms: i64,
}

impl StatusUpdate {
    /// For a failed status: what went wrong, in the same plain words as a refused send call.
    pub fn failure(&self) -> Option<SendFailure> {
        match &self.status {
            DeliveryStatus::Failed { code, title, details } => Some(classify_code(
                *code,
                None,
                title.as_deref().or(details.as_deref()),
                details.as_deref(),
                false,
                None,
            )),
            _ => None,
        }
    }
}

/// How far a sent message got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    /// Also WhatsApp's `played` (first play of a voice message), which implies read.
    Read,
    /// The message will not arrive (CONTRACTS §4.3: most send failures surface this way, after the
    /// send call itself succeeded). Terminal.
    Failed {
        code: Option<i64>,
        title: Option<String>,
        details: Option<String>,
    },
}

impl DeliveryStatus {
    /// Sent 1 < delivered 2 < read 3 < failed 4. A status only ever moves up.
    pub fn rank(&self) -> u8 {
        match self {
            DeliveryStatus::Sent => 1,
            DeliveryStatus::Delivered => 2,
            DeliveryStatus::Read => 3,
            DeliveryStatus::Failed { .. } => 4,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed { .. } => "failed",
        }
    }
}

/// Whether a status that just arrived should replace the stored one. Statuses arrive out of order
/// and more than once (CONTRACTS §3, §14.5), so: never move backwards (read > delivered > sent),
/// never leave failed (terminal), and a repeat of the current status changes nothing.
///
/// Failed ranks above read, so a failure reported after a read receipt is still applied: Meta's
/// word that the message failed wins over showing it as read.
pub fn should_apply(current: Option<&DeliveryStatus>, new: &DeliveryStatus) -> bool {
    match current {
        None => true,
        Some(current) => new.rank() > current.rank(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatermarkKind {
    Delivered,
    Read,
}

impl WatermarkKind {
    pub fn name(&self) -> &'static str {
        match self {
            WatermarkKind::Delivered => "delivered",
            WatermarkKind::Read => "read",
        }
    }

    /// The per-message status everything at or before the watermark reaches.
    pub fn as_status(&self) -> DeliveryStatus {
        match self {
            WatermarkKind::Delivered => DeliveryStatus::Delivered,
            WatermarkKind::Read => DeliveryStatus::Read,
        }
    }
}

/// Messenger delivery and read receipts: they name a point in time, not a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub channel: Channel,
    /// The Page id.
    pub account: String,
    /// The customer's PSID: the receipts concern messages sent to them.
    pub sender: String,
    pub kind: WatermarkKind,
    /// Every message sent to `sender` at or before this time (ms) reached `kind`.
    pub watermark_ms: i64,
    /// Delivery receipts may name the mids; often they don't.
    pub mids: Vec<String>,
    /// When the receipt was made, if the payload says (delivery receipts usually don't).
    pub timestamp_ms: Option<i64>,
}

/// A Messenger message echo: something the Page sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Echo {
    pub channel: Channel,
    /// The Page id (the echo's sender).
    pub account: String,
    /// The customer's PSID (the echo's recipient).
    pub recipient: String,
    /// The mid; for the relay's own sends, the `message_id` the send call returned.
    pub platform_id: String,
    /// The app that sent it: compare with the relay's own app id to tell its sends from the Page
    /// inbox's or another app's.
    pub app_id: Option<String>,
    /// The `metadata` string passed at send time, echoed back.
    pub metadata: Option<String>,
    pub timestamp_ms: i64,
    pub body: InboundBody,
}

/// A Messenger `messaging_referrals` event (m.me link or ad, into an existing thread).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    pub channel: Channel,
    pub account: String,
    pub sender: String,
    /// The `ref` parameter, when the link or ad had one.
    pub ref_param: Option<String>,
    /// Meta's `source`, e.g. `SHORTLINK` or `ADS`.
    pub source: Option<String>,
    pub timestamp_ms: i64,
}

/// A WhatsApp error about the account rather than one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountError {
    pub channel: Channel,
    pub account: String,
    pub code: Option<i64>,
    pub title: Option<String>,
    pub details: Option<String>,
}

/// An item of the batch that did not become an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub channel: Channel,
    /// The phone number id or Page id, when it could be read.
    pub account: Option<String>,
    pub reason: SkipReason,
    /// The item as received, for the log or for replay once the connector handles it.
    pub raw: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum SkipReason {
    /// The item lacks something every item of its kind must have (worth a warning).
    #[error("malformed item: {0}")]
    Malformed(String),
    /// A well-formed item the connector does not handle (worth a debug line).
    #[error("not handled: {0}")]
    NotHandled(String),
}
