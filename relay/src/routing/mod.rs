//! Who answers which conversation: the routing policy as pure functions.
//!
//! Nothing here reads a clock, a socket or the store. The caller gathers the facts (advisors'
//! status and load, the waiting conversations, the time) and applies the decisions; that keeps
//! every rule testable on its own and lets the policy be read in one sitting. The rules in plain
//! words, and what the visitor is told in each case, are in `docs/ROUTING.md`.
//!
//! Times are milliseconds since the Unix epoch, like every timestamp Confab stores.

mod assign;
mod breach;
mod presence;
mod queue;
pub mod router;

pub use assign::{assign, drain_queue, Decision, Reason};
pub use breach::{breach, first_response_due, BreachState};
pub use presence::{auto_status, to_requeue};
pub use queue::{expected_wait, queue_position, QueuePlace, MIN_WAIT_SAMPLES};

/// Something routing depends on changed (an advisor's capacity, presence or teams, a team's target,
/// the routing settings): the router re-checks the queues and resends the roster.
pub fn changed(state: &crate::state::AppState) {
    state.routing_wake.notify_one();
}

/// What an advisor is, as far as routing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Online,
    Away,
    Offline,
}

/// One advisor's routing facts at the moment of deciding.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisorState {
    pub id: i64,
    /// The effective status (see [`auto_status`]), not merely the one the advisor chose.
    pub status: Status,
    /// How many open conversations this advisor takes at most.
    pub capacity: u32,
    /// Open conversations assigned to this advisor now.
    pub open: u32,
    pub teams: Vec<i64>,
    /// When this advisor was last given a conversation; drives round-robin on ties.
    pub last_assigned_at: Option<i64>,
}

impl AdvisorState {
    /// Can take `team`'s next conversation right now: online, under capacity, and in the team
    /// (a conversation without a team may go to anyone).
    pub fn can_take(&self, team: Option<i64>) -> bool {
        self.status == Status::Online && self.open < self.capacity && team.is_none_or(|t| self.teams.contains(&t))
    }
}

/// A conversation waiting for an advisor.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub conversation: i64,
    pub team: Option<i64>,
    pub waiting_since: i64,
    /// The advisor who last helped this customer, if any.
    pub last_helped_by: Option<i64>,
}
