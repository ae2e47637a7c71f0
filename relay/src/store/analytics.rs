//! What analytics reads from the store: plain rows, already restricted to the conversations a
//! [`Viewer`] may see. The figures are computed from them by [`crate::analytics`], without I/O.

use async_trait::async_trait;
use shared::Channel;

use super::StoreResult;
use crate::access::Viewer;

/// Who wrote a message, as far as response times care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// The visitor or platform customer.
    Customer,
    Advisor(i64),
    /// A bot or a system line: neither starts nor ends a wait.
    Other,
}

/// One message of a conversation in scope (see [`AnalyticsStore::analytics_rows`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub conversation: i64,
    pub at: i64,
    pub speaker: Speaker,
    /// A private note: never a reply.
    pub note: bool,
}

/// A conversation in scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: i64,
    /// The channel of its first message.
    pub channel: Channel,
    pub first_message_at: i64,
    /// Set while it is resolved (reopening clears it).
    pub resolved_at: Option<i64>,
}

/// A conversation given to an advisor (routing or by hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentRow {
    pub advisor: i64,
    pub at: i64,
}

/// Open conversations now, grouped by assignee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenGroup {
    pub assignee: Option<i64>,
    pub count: u32,
    pub oldest_waiting_since: Option<i64>,
}

/// Everything one report needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyticsRows {
    /// Conversations with a message in the period, or resolved in it.
    pub conversations: Vec<ConversationRow>,
    /// Every message of those conversations (notes included), grouped by conversation, in seq
    /// order: whether a customer message starts a wait depends on what came before the period.
    pub messages: Vec<MessageRow>,
    /// Assignments to an advisor in the period.
    pub assignments: Vec<AssignmentRow>,
    pub open: Vec<OpenGroup>,
    /// Every advisor's id and name (for the names in the report).
    pub advisors: Vec<(i64, String)>,
    /// Survey ratings (1–5) given in the period, of conversations in sight.
    pub ratings: Vec<u8>,
}

#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// The rows for a report on `[from, to)` (ms), limited to what `viewer` may see, read in one
    /// transaction.
    async fn analytics_rows(&self, viewer: &Viewer, from: i64, to: i64) -> StoreResult<AnalyticsRows>;
}
