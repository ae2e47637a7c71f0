//! Who may see which conversation. An admin sees every conversation; an advisor sees those of the
//! teams they belong to, those of no team (a site no team owns), and those assigned to them.
//! Every way into a conversation (the advisor socket, the dashboard's HTTP API, search, the
//! customer panel, attachments) asks the same [`Viewer`].

use shared::{AdvisorId, ConversationId, ConversationSummary};

use crate::state::AppState;
use crate::store::{Role, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub advisor: AdvisorId,
    pub admin: bool,
    pub teams: Vec<i64>,
}

impl Viewer {
    /// The signed-in advisor's access as stored now. `NotFound` for an account that is gone.
    pub async fn load(state: &AppState, advisor: AdvisorId) -> StoreResult<Viewer> {
        let account = state.store.account(advisor).await?.ok_or(StoreError::NotFound)?;
        Ok(Viewer {
            advisor,
            admin: account.role == Role::Admin,
            teams: account.teams.iter().map(|t| t.0).collect(),
        })
    }

    /// May this advisor see a conversation of `team`, assigned to `assignee`?
    pub fn can_see(&self, team: Option<i64>, assignee: Option<AdvisorId>) -> bool {
        self.admin || assignee == Some(self.advisor) || team.is_none_or(|t| self.teams.contains(&t))
    }

    pub fn can_see_row(&self, row: &ConversationSummary) -> bool {
        self.can_see(row.team, row.assignee)
    }

    /// The same rule as an SQL condition on the `conversations` table under `alias`, for queries
    /// that list conversations (built from integers only: nothing to escape).
    pub fn sql_condition(&self, alias: &str) -> String {
        if self.admin {
            return "1 = 1".to_owned();
        }
        let teams: Vec<String> = self.teams.iter().map(i64::to_string).collect();
        let in_teams = if teams.is_empty() { String::new() } else { format!(" OR {alias}.team_id IN ({})", teams.join(",")) };
        format!("({alias}.team_id IS NULL OR {alias}.assignee_id = {}{in_teams})", self.advisor.0)
    }
}

/// Make sure the hub knows whose `conversation` is before an event about it goes to advisors
/// (the hub tells only admins about a conversation it doesn't know).
pub async fn ensure_scope(state: &AppState, conversation: ConversationId) {
    if state.hub.scope(conversation).is_some() {
        return;
    }
    match state.store.conversation_scope(conversation).await {
        Ok(Some(scope)) => state.hub.init_scope(conversation, scope),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, %conversation, "could not load who may see a conversation"),
    }
}

/// Whether this advisor may see `conversation` (false for one that doesn't exist).
pub async fn may_see(state: &AppState, viewer: &Viewer, conversation: ConversationId) -> StoreResult<bool> {
    if viewer.admin {
        return Ok(true);
    }
    let scope = match state.hub.scope(conversation) {
        Some(scope) => Some(scope),
        None => state.store.conversation_scope(conversation).await?,
    };
    Ok(scope.is_some_and(|s| viewer.can_see(s.team, s.assignee)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advisor(teams: &[i64]) -> Viewer {
        Viewer { advisor: AdvisorId(7), admin: false, teams: teams.to_vec() }
    }

    #[test]
    fn advisors_see_their_teams_no_team_and_their_own() {
        let v = advisor(&[1, 2]);
        assert!(v.can_see(None, None));
        assert!(v.can_see(Some(1), None));
        assert!(v.can_see(Some(2), Some(AdvisorId(3))));
        assert!(!v.can_see(Some(3), None));
        assert!(!v.can_see(Some(3), Some(AdvisorId(8))));
        assert!(v.can_see(Some(3), Some(AdvisorId(7))), "assigned to them across teams");
        assert_eq!(v.sql_condition("c"), "(c.team_id IS NULL OR c.assignee_id = 7 OR c.team_id IN (1,2))");
        assert_eq!(advisor(&[]).sql_condition("c"), "(c.team_id IS NULL OR c.assignee_id = 7)");
    }

    #[test]
    fn admins_see_everything() {
        let v = Viewer { advisor: AdvisorId(1), admin: true, teams: vec![] };
        assert!(v.can_see(Some(9), Some(AdvisorId(4))));
        assert_eq!(v.sql_condition("c"), "1 = 1");
    }
}
