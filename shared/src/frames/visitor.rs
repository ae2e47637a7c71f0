//! Frames between the visitor's widget and the relay (`/ws/visitor?site=KEY`).

use serde::{Deserialize, Serialize};

use super::Frame;
use crate::error::ErrorFrame;
use crate::ids::{ClientMsgId, ConversationId, Seq};
use crate::message::Message;

/// Widget → relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum VisitorClientFrame {
    /// First frame on every connection. Without a token the relay creates a visitor and a
    /// conversation; with one it resumes that visitor's thread.
    Hello {
        v: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// The highest seq the client already has; the relay sends every message after it.
        #[serde(default)]
        last_seq: Seq,
        /// The page the visitor is on (shown to the advisor).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<String>,
        /// Where the visitor came from (`document.referrer`), kept with the conversation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        referrer: Option<String>,
        /// The browser's IANA time zone ("Europe/Paris"), for the advisor's "local time".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timezone: Option<String>,
    },
    /// A new message. Answered by `ack` (or `error` with `ref` = `id`).
    Send { id: ClientMsgId, text: String },
    /// The visitor has seen every message up to `up_to`.
    Read { up_to: Seq },
    /// The visitor started or stopped typing.
    Typing { on: bool },
    #[serde(other)]
    Unknown,
}

impl Frame for VisitorClientFrame {
    fn is_unknown(&self) -> bool {
        matches!(self, VisitorClientFrame::Unknown)
    }
}

/// What the widget shows of the site it is embedded on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SiteInfo {
    pub key: String,
    /// The company's name, shown in the panel's header.
    pub name: String,
    #[serde(default)]
    pub greeting: String,
    /// CSS colour of the launcher and the visitor's bubbles, e.g. `#4f46e5`.
    #[serde(default)]
    pub color: String,
    /// The company's usual reply time, in words ("usually replies within a few hours"), shown when
    /// no advisor is online.
    #[serde(default)]
    pub reply_time: String,
}

/// A deep link that continues this conversation on a messaging app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinueLink {
    pub channel: crate::Channel,
    /// `https://wa.me/…?text=…` or `https://m.me/…?ref=…`.
    pub url: String,
}

/// Relay → widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum VisitorServerFrame {
    /// Answer to `hello`. Followed by a `message` frame for every message after the client's
    /// `last_seq`, in order, then live traffic.
    Welcome {
        v: u32,
        /// The visitor's token: new if the hello had none, else the same one. Keep it.
        token: String,
        conversation: ConversationId,
        /// The conversation's newest seq at the time of the welcome.
        last_seq: Seq,
        /// The highest seq the visitor has read (for the unread badge).
        read_seq: Seq,
        site: SiteInfo,
        /// Whether an advisor is online right now.
        #[serde(default)]
        advisors_online: bool,
        /// The visitor's messages up to this seq have reached an advisor's dashboard.
        #[serde(default)]
        delivered_seq: Seq,
        /// The advisors have read the visitor's messages up to this seq.
        #[serde(default)]
        advisors_read_seq: Seq,
        /// "Continue on WhatsApp / Messenger" links for this visitor (each carries a one-time code
        /// that joins the new channel to this conversation). Empty when the site has none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        continue_on: Vec<ContinueLink>,
    },
    Message { message: Message },
    /// The message `id` is committed as `seq`.
    Ack { id: ClientMsgId, seq: Seq, sent_at: i64 },
    /// An advisor is typing (or stopped).
    Typing { on: bool, #[serde(default)] name: String },
    /// The advisors have read the visitor's messages up to `up_to`.
    Read { up_to: Seq },
    /// The visitor's messages up to `up_to` have reached an advisor's dashboard.
    Delivered { up_to: Seq },
    /// An advisor came online, or the last one left.
    Presence { advisors_online: bool },
    /// The conversation waits for an advisor: `position` in line (1 = next), and an expected wait
    /// in ms when the relay can estimate one honestly (else show the site's `reply_time`).
    /// `position` 0: no longer waiting (an advisor has it).
    Queue {
        position: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_ms: Option<i64>,
    },
    Error(ErrorFrame),
    #[serde(other)]
    Unknown,
}

impl Frame for VisitorServerFrame {
    fn is_unknown(&self) -> bool {
        matches!(self, VisitorServerFrame::Unknown)
    }
}
