//! The customer panel's HTTP API (`/api/v1/conversations/{id}/customer`): what the relay knows
//! about a conversation's customer, and an advisor's correction of it.

use serde::{Deserialize, Serialize};

use crate::frames::advisor::{ChannelIdentity, ConversationStatus};
use crate::ids::ConversationId;
use crate::message::{Channel, Message};

/// `GET …/customer`. Every optional field is absent when the relay doesn't know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerProfile {
    pub conversation: ConversationId,
    /// How advisors see the customer: the name if known, else e.g. "Visitor 12".
    pub display_name: String,
    /// The name given by the platform or an advisor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The name / e-mail is the visitor's own word (typed in the widget or to the bot, or an
    /// identify without a valid `user_hash`), not the site's verified identity or an advisor's entry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub name_unverified: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub email_unverified: bool,
    #[serde(default)]
    pub channel: Channel,
    /// WhatsApp and Messenger identities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<ChannelIdentity>,
    /// The page the visitor was last seen on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// Where they came from when the conversation started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// In words: "Chrome 120", "Safari 17".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// In words: "Windows", "macOS", "iOS", "Android", "Linux".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// The first tag of the browser's `Accept-Language`, e.g. `fr-CH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// IANA time zone, e.g. `Europe/Paris`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// ms since the epoch.
    pub first_seen: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<i64>,
    /// The customer's other conversations the advisor may see, newest first.
    #[serde(default)]
    pub previous: Vec<PastConversation>,
}

/// One of the customer's other conversations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastConversation {
    pub id: ConversationId,
    #[serde(default)]
    pub channel: Channel,
    #[serde(default)]
    pub status: ConversationStatus,
    pub site_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Message>,
    pub last_activity_at: i64,
}

/// `PATCH …/customer`: a field left out stays as it is; an empty string clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}
