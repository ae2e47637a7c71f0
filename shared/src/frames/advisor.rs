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
    Send {
        id: ClientMsgId,
        conversation: ConversationId,
        text: String,
        /// Where to send it: one of the customer's linked channels. None: the channel the customer
        /// last wrote from. `web`: only into the web thread.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<Channel>,
        /// Send an approved WhatsApp template instead of free text (outside the 24-hour window);
        /// `text` is then ignored and the stored message is the template's text filled in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<TemplateSend>,
        /// Ids of files uploaded first (`POST /dashboard/api/conversations/{id}/uploads`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<String>,
    },
    /// The advisor has seen the conversation up to `up_to`.
    Read { conversation: ConversationId, up_to: Seq },
    Typing { conversation: ConversationId, on: bool },
    /// Undo a channel link: the identity leaves this customer and becomes a customer of its own.
    /// Answered by a `conversation` update (or `error` with this `ref`).
    Unlink {
        #[serde(rename = "ref")]
        reference: String,
        conversation: ConversationId,
        identity: i64,
    },
    /// Resolve, reopen or snooze a conversation (`snoozed_until`, ms since the epoch, only with
    /// `snoozed`). Answered by a `conversation` row update (or `error` with this `ref`).
    SetStatus {
        #[serde(rename = "ref")]
        reference: String,
        conversation: ConversationId,
        status: ConversationStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snoozed_until: Option<i64>,
    },
    /// A private note: stored in the thread for advisors only, never sent to the customer.
    /// Answered by `ack` (or `error` with `ref` = `id`), like `send`.
    Note { id: ClientMsgId, conversation: ConversationId, text: String },
    /// Give a conversation to an advisor, or transfer it to a team, or return it to the queue:
    /// - `advisor` set: assign it to that advisor (`team`, when set too, also moves it to that team);
    /// - only `team` set: transfer it to that team's queue, where routing picks the advisor;
    /// - neither: unassign it (back to its team's queue).
    /// Answered by a `conversation` row update (or `error` with this `ref`).
    Assign {
        #[serde(rename = "ref")]
        reference: String,
        conversation: ConversationId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        advisor: Option<AdvisorId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team: Option<i64>,
    },
    /// The advisor's chosen status: online takes new conversations, away keeps theirs and gets no
    /// new ones, offline hands theirs back to the queue after the configured delay.
    SetPresence { presence: Presence },
    #[serde(other)]
    Unknown,
}

/// An advisor's routing status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Presence {
    #[default]
    Online,
    Away,
    Offline,
    #[serde(other)]
    Unknown,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Offline | Presence::Unknown => "offline",
        }
    }

    /// The stored form back; anything unknown reads as offline (it must not attract conversations).
    pub fn parse(s: &str) -> Self {
        match s {
            "online" => Presence::Online,
            "away" => Presence::Away,
            _ => Presence::Offline,
        }
    }
}

/// A team, as the dashboard names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamInfo {
    pub id: i64,
    pub name: String,
    /// The team's first-response target (ms), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_target_ms: Option<i64>,
    /// The inbox highlights a conversation this long (ms) before its target falls due.
    #[serde(default)]
    pub warn_before_ms: i64,
}

/// One advisor as the others see them: for assigning and transferring, and for the load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntry {
    pub id: AdvisorId,
    pub name: String,
    /// The status routing uses now (their choice, with auto-away when their tabs are gone).
    pub presence: Presence,
    /// What they chose.
    #[serde(default)]
    pub chosen: Presence,
    /// Open conversations assigned to them, and the most they take.
    pub open: u32,
    pub capacity: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<i64>,
}

/// Where a conversation stands in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConversationStatus {
    #[default]
    Open,
    /// Out of the way until `snoozed_until`; then open again (or sooner, when the customer writes).
    Snoozed,
    /// Done; the customer writing again reopens it.
    Resolved,
    #[serde(other)]
    Unknown,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Snoozed => "snoozed",
            ConversationStatus::Resolved => "resolved",
            ConversationStatus::Unknown => "unknown",
        }
    }

    /// The stored form back; anything unknown reads as open (it must not hide a conversation).
    pub fn parse(s: &str) -> Self {
        match s {
            "snoozed" => ConversationStatus::Snoozed,
            "resolved" => ConversationStatus::Resolved,
            _ => ConversationStatus::Open,
        }
    }
}

/// Which template to send, and the values of its `{{1}}`, `{{2}}`… placeholders, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSend {
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub params: Vec<String>,
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
    /// The customer's WhatsApp and Messenger identities (empty for a web-only customer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<ChannelIdentity>,
    /// Where a reply goes by default: the channel the customer last wrote from.
    #[serde(default)]
    pub reply_channel: Channel,
    #[serde(default)]
    pub status: ConversationStatus,
    /// With `snoozed`: when it opens again (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<i64>,
    /// The team whose conversation this is (None: every advisor's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<i64>,
    /// The advisor it is assigned to; None while it waits in the queue (or was never routed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<AdvisorId>,
    /// Since when (ms) the customer's oldest unanswered message has waited for an advisor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<i64>,
    /// When the first answer is due by the team's first-response target (with `waiting_since`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_due: Option<i64>,
    /// Labels advisors gave the conversation, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The site's bot has the conversation: not in a queue until it hands over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_bot: bool,
    /// The name or e-mail shown is only the visitor's own word (typed in the widget, not vouched
    /// for by the site's verified identify or an advisor): the dashboard marks it "unverified".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
}

/// One of a customer's identities on a messaging platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelIdentity {
    /// The relay's id for it (what `unlink` takes).
    pub id: i64,
    pub channel: Channel,
    /// How to show it: the profile name and the number for WhatsApp, the name or PSID for Messenger.
    pub label: String,
    /// Joined to this customer by a "Continue on …" link (an advisor can undo it).
    #[serde(default)]
    pub linked: bool,
    /// Until when free-form replies on this channel are allowed (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_closes_at: Option<i64>,
}

/// A connected platform account, as advisors need to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStatus {
    pub channel: Channel,
    /// Something an administrator must fix (an expired access token, a restricted account), in
    /// plain words. None when the channel works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// WhatsApp: the approved templates that can be sent outside the 24-hour window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<TemplateInfo>,
}

/// An approved WhatsApp message template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateInfo {
    pub name: String,
    pub language: String,
    /// The body as approved, with `{{1}}`, `{{2}}`… placeholders.
    pub text: String,
}

impl TemplateInfo {
    /// How many `{{n}}` placeholders the body has (the highest n).
    pub fn param_count(&self) -> usize {
        let mut max = 0;
        let mut rest = self.text.as_str();
        while let Some(start) = rest.find("{{") {
            rest = &rest[start + 2..];
            if let Some(end) = rest.find("}}") {
                if let Ok(n) = rest[..end].trim().parse::<usize>() {
                    max = max.max(n);
                }
                rest = &rest[end + 2..];
            }
        }
        max
    }

    /// The body with its placeholders filled in (a missing value leaves the placeholder).
    pub fn render(&self, params: &[String]) -> String {
        let mut text = self.text.clone();
        for (i, value) in params.iter().enumerate() {
            text = text.replace(&format!("{{{{{}}}}}", i + 1), value);
        }
        text
    }
}

/// Relay → dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AdvisorServerFrame {
    /// Answer to `hello`: who you are and the inbox, newest activity first.
    Welcome {
        v: u32,
        advisor: AdvisorInfo,
        conversations: Vec<ConversationSummary>,
        /// The advisor manages accounts, teams and settings.
        #[serde(default)]
        admin: bool,
        /// Every team, and the advisors this one can assign to.
        #[serde(default)]
        teams: Vec<TeamInfo>,
        #[serde(default)]
        roster: Vec<RosterEntry>,
    },
    /// Advisors' status or load changed, or teams changed: replace both lists.
    Roster { roster: Vec<RosterEntry>, teams: Vec<TeamInfo> },
    /// The conversation is no longer visible to this advisor (transferred to a team they are not
    /// in): drop its row.
    Removed { conversation: ConversationId },
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
    /// An attachment of message `seq` changed (fetched from the platform, or failed): replace it.
    Attachment { conversation: ConversationId, seq: Seq, attachment: crate::Attachment },
    /// The connected platforms: sent after `welcome`, and again whenever one changes (an alert
    /// raised or cleared).
    Channels { channels: Vec<ChannelStatus> },
    Error(ErrorFrame),
    #[serde(other)]
    Unknown,
}

impl Frame for AdvisorServerFrame {
    fn is_unknown(&self) -> bool {
        matches!(self, AdvisorServerFrame::Unknown)
    }
}
