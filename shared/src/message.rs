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
}

impl Message {
    pub fn is_from_visitor(&self) -> bool {
        matches!(self.author, Author::Visitor)
    }
}
