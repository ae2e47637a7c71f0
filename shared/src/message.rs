//! A message of a conversation, as stored by the relay and shown by both clients.

use serde::{Deserialize, Serialize};

use crate::ids::{AdvisorId, ClientMsgId, ConversationId, Seq};

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Author {
    Visitor,
    Advisor { id: AdvisorId, name: String },
    Bot,
    System,
    #[serde(other)]
    Unknown,
}

/// The channel a message came in through, or went out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Channel {
    #[default]
    Web,
    Whatsapp,
    Messenger,
    #[serde(other)]
    Unknown,
}

/// A committed message. A message exists on the wire only once the relay has stored it: it always
/// has a seq and a server timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The writer's idempotency key.
    pub id: ClientMsgId,
    pub conversation: ConversationId,
    pub seq: Seq,
    pub author: Author,
    #[serde(default)]
    pub channel: Channel,
    pub text: String,
    /// When the relay committed it, in milliseconds since the Unix epoch (UTC).
    pub sent_at: i64,
    /// For a message relayed to or from WhatsApp or Messenger: what the platform reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<PlatformDelivery>,
    /// Files that came with the message (a WhatsApp photo, a Messenger attachment…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// A private note between advisors: never sent to the customer, on any channel.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub note: bool,
}

/// A file attached to a message. The relay stores the bytes; a client fetches them by `id` from
/// the relay (the dashboard at `/dashboard/api/attachments/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Opaque and unguessable.
    pub id: String,
    pub kind: AttachmentKind,
    /// The content type, as the relay determined it (empty while `pending`).
    #[serde(default)]
    pub mime: String,
    /// The file name, when the sender gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Bytes (0 while `pending`).
    #[serde(default)]
    pub size: u64,
    pub state: AttachmentState,
    /// Why it could not be fetched (only when `failed`), in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A short-lived signed link to the bytes, relative to the relay (`/files/{id}?exp=…&sig=…`),
    /// on frames to a visitor once the file is ready. It expires after minutes: a client that
    /// needs the file later gets a fresh one with the message again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttachmentKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    #[serde(other)]
    Unknown,
}

/// Whether the relay has the file's bytes yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttachmentState {
    /// Being fetched from the platform (retried on temporary failures).
    Pending,
    /// Stored by the relay: it can be shown.
    Ready,
    /// Could not be fetched; see `error`.
    Failed,
    #[serde(other)]
    Unknown,
}

/// What a messaging platform (WhatsApp, Messenger) reported about a message Confab relayed to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformDelivery {
    pub state: PlatformState,
    /// Why it failed, in words an advisor understands (only when `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A platform message's state. Only moves forward (`failed` is final).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PlatformState {
    /// Received from the customer through the platform.
    Received,
    /// Waiting in the relay's outbox (being sent, or retried after a temporary failure).
    Queued,
    /// The platform accepted it.
    Sent,
    Delivered,
    Read,
    /// The platform refused it for good; see `error`.
    Failed,
    #[serde(other)]
    Unknown,
}

impl Message {
    pub fn is_from_visitor(&self) -> bool {
        matches!(self.author, Author::Visitor)
    }
}
