//! Frames between the advisor dashboard and the relay (`/ws/advisor`, authenticated by the session
//! cookie at upgrade).

use serde::{Deserialize, Serialize};

use super::Frame;
use crate::error::ErrorFrame;
use crate::ids::{AdvisorId, ClientMsgId, ConversationId, Seq};
use crate::message::{Channel, Message};

/// Dashboard → relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AdvisorClientFrame {
    Hello { v: u32 },
    /// Load a thread: every message after `after_seq`. Answered by `history` with the same `ref`.
    Open {
        #[serde(rename = "ref")]
        reference: String,
        conversation: ConversationId,
        #[serde(default)]
        after_seq: Seq,
    },
    /// A reply. Answered by `ack` (or `error` with `ref` = `id`).
    Send { id: ClientMsgId, conversation: ConversationId, text: String },
    /// The advisor has seen the conversation up to `up_to`.
    Read { conversation: ConversationId, up_to: Seq },
    Typing { conversation: ConversationId, on: bool },
    #[serde(other)]
    Unknown,
}

impl Frame for AdvisorClientFrame {
    fn is_unknown(&self) -> bool {
        matches!(self, AdvisorClientFrame::Unknown)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisorInfo {
    pub id: AdvisorId,
    pub name: String,
    pub email: String,
}

/// One row of the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: ConversationId,
    /// How the advisor sees the customer: their name if known, else e.g. "Visitor 12".
    pub visitor_name: String,
    pub site_name: String,
    #[serde(default)]
    pub channel: Channel,
    pub last_seq: Seq,
    /// The newest message, for the preview line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Message>,
    /// Milliseconds since the epoch of the newest activity (message or creation).
    pub last_activity_at: i64,
    /// Visitor messages no advisor has read yet.
    pub unread: u32,
    /// The page the visitor was last seen on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// Whether the visitor has the chat open in a page right now.
    #[serde(default)]
    pub visitor_online: bool,
    /// Messages up to this seq have reached the visitor's device.
    #[serde(default)]
    pub visitor_delivered_seq: Seq,
    /// The visitor has read messages up to this seq.
    #[serde(default)]
    pub visitor_read_seq: Seq,
    /// For a WhatsApp or Messenger customer: until when (ms since the epoch) free-form replies are
    /// allowed (the platform's customer-service window). None for web conversations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_closes_at: Option<i64>,
}

/// Relay → dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AdvisorServerFrame {
    /// Answer to `hello`: who you are and the inbox, newest activity first.
    Welcome { v: u32, advisor: AdvisorInfo, conversations: Vec<ConversationSummary> },
    /// A conversation changed (new message, unread count, the visitor coming online, delivery or
    /// read receipts): replace the row with this id.
    Conversation { conversation: ConversationSummary },
    /// Answer to `open`.
    History {
        #[serde(rename = "ref")]
        reference: String,
        conversation: ConversationId,
        messages: Vec<Message>,
        last_seq: Seq,
    },
    /// A live message in any conversation the advisor can see.
    Message { message: Message },
    Ack { id: ClientMsgId, conversation: ConversationId, seq: Seq, sent_at: i64 },
    /// The visitor of `conversation` started or stopped typing.
    Typing { conversation: ConversationId, on: bool },
    /// A platform (WhatsApp, Messenger) reported on a message: sent, delivered, read or failed.
    Delivery { conversation: ConversationId, seq: Seq, delivery: crate::PlatformDelivery },
    Error(ErrorFrame),
    #[serde(other)]
    Unknown,
}

impl Frame for AdvisorServerFrame {
    fn is_unknown(&self) -> bool {
        matches!(self, AdvisorServerFrame::Unknown)
    }
}
