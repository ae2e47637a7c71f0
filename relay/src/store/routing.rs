//! Routing in the store: the facts the router gathers (advisors' load, the queue) and the changes
//! it applies (assign, return to the queue). The decisions themselves are `crate::routing`'s.

use async_trait::async_trait;
use shared::{AdvisorId, ConversationId, ConversationSummary, Presence, TeamInfo};

use super::StoreResult;

/// One active advisor, as routing sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterFact {
    pub id: AdvisorId,
    pub name: String,
    pub admin: bool,
    /// What they chose.
    pub presence: Presence,
    pub capacity: u32,
    /// Open conversations assigned to them now.
    pub open: u32,
    pub teams: Vec<i64>,
    pub last_assigned_at: Option<i64>,
}

/// A conversation waiting in its team's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub conversation: ConversationId,
    pub team: Option<i64>,
    pub queued_at: i64,
    pub last_helped_by: Option<AdvisorId>,
}

/// Whose a conversation is: what decides who may see it (`crate::access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scope {
    pub team: Option<i64>,
    pub assignee: Option<AdvisorId>,
}

/// A hand assignment or transfer (an advisor chose it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handover {
    pub conversation: ConversationId,
    /// To this advisor; None: to the queue (of `team` when set).
    pub advisor: Option<AdvisorId>,
    /// Move it to this team as well.
    pub team: Option<i64>,
    pub by: AdvisorId,
    pub now: i64,
}

#[async_trait]
pub trait RoutingStore: Send + Sync {
    /// Every active advisor with their load.
    async fn roster(&self) -> StoreResult<Vec<RosterFact>>;
    /// Every team with its first-response target, by name.
    async fn routing_teams(&self) -> StoreResult<Vec<TeamInfo>>;
    /// Open, unassigned conversations waiting in a queue, oldest first.
    async fn queue(&self) -> StoreResult<Vec<Queued>>;
    /// Open conversations assigned to an advisor who chose offline or was deactivated.
    async fn held_by_leavers(&self) -> StoreResult<Vec<(ConversationId, AdvisorId)>>;
    /// Routing gives a waiting conversation to `advisor`, unless it is no longer waiting (an
    /// advisor took it meanwhile). `waited`: it sat in the queue rather than being taken at once.
    async fn assign_from_queue(&self, conversation: ConversationId, advisor: AdvisorId, waited: bool, now: i64) -> StoreResult<bool>;
    /// Return a conversation to its queue (its advisor left), where it keeps the customer's
    /// waiting time as its place.
    async fn requeue(&self, conversation: ConversationId, now: i64) -> StoreResult<bool>;
    /// An advisor assigns or transfers a conversation. `NotFound` for an unknown conversation,
    /// advisor (or an inactive one) or team.
    async fn hand_over(&self, handover: Handover) -> StoreResult<Scope>;
    async fn set_presence(&self, advisor: AdvisorId, presence: Presence) -> StoreResult<()>;
    /// When recent conversations of `team` that had waited were taken from its queue, newest
    /// first (at most `limit`): how often a place frees up.
    async fn queue_departures(&self, team: Option<i64>, limit: usize) -> StoreResult<Vec<i64>>;
    async fn conversation_scope(&self, conversation: ConversationId) -> StoreResult<Option<Scope>>;
    /// The inbox an advisor sees: conversations matching `visible` (an SQL condition on `c`, from
    /// `access::Viewer`), at least every open one assigned to `me` or waiting unassigned, plus
    /// the `limit` most recently active; newest activity first.
    async fn inbox(&self, visible: &str, me: AdvisorId, limit: usize) -> StoreResult<Vec<ConversationSummary>>;
    /// The ids of conversations with messages that match `visible` (an SQL condition on `c`),
    /// most recently active first, at most `limit`.
    async fn conversations_matching(&self, visible: &str, limit: usize) -> StoreResult<Vec<ConversationId>>;
}
