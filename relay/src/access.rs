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
    /// The signed-in advisor's access as stored now. `NotFound` for an account that is gone or
    /// deactivated: it sees nothing.
    pub async fn load(state: &AppState, advisor: AdvisorId) -> StoreResult<Viewer> {
        let account = state.store.account(advisor).await?.filter(|a| a.active).ok_or(StoreError::NotFound)?;
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

    /// Whether this sight takes in conversations that `other` (the same advisor's) does not: an
    /// admin's that became an advisor's, or one with a team `other` is not in.
    pub fn sees_more_than(&self, other: &Viewer) -> bool {
        !other.admin && (self.admin || self.teams.iter().any(|t| !other.teams.contains(t)))
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

/// The most conversations one change of access takes out of an open dashboard row by row; beyond
/// that its sockets are closed, and the dashboard reconnects to a fresh inbox.
const MAX_REMOVED: usize = 1000;

/// An advisor's access is now `viewer`: their open sockets see accordingly, and are told to drop
/// each conversation they could see and no longer may (`removed`). Call it after every change of
/// role or teams; the routing pass calls it too, so a change made elsewhere is not missed.
pub async fn apply(state: &AppState, viewer: &Viewer) {
    for old in state.hub.set_viewer(viewer) {
        // COALESCE: the condition is NULL, not false, for a conversation assigned to no one.
        let lost = format!("{} AND NOT COALESCE({}, 0)", old.sql_condition("c"), viewer.sql_condition("c"));
        match state.store.conversations_matching(&lost, MAX_REMOVED + 1).await {
            Ok(ids) if ids.len() <= MAX_REMOVED => state.hub.removed(viewer.advisor, &ids),
            Ok(_) => {
                let sockets = state.hub.reload_advisor(viewer.advisor);
                tracing::info!(advisor = viewer.advisor.0, sockets, "an advisor lost sight of many conversations; their dashboards reload");
            }
            Err(e) => {
                // Fail closed: a fresh inbox is built with the new access.
                let sockets = state.hub.reload_advisor(viewer.advisor);
                tracing::warn!(error = %e, advisor = viewer.advisor.0, sockets, "could not list the conversations an advisor lost; their dashboards reload");
            }
        }
    }
}

/// Read `advisor`'s access again and [`apply`] it; the sockets of an account that is gone or
/// deactivated are closed.
pub async fn refresh(state: &AppState, advisor: AdvisorId) {
    match Viewer::load(state, advisor).await {
        Ok(viewer) => apply(state, &viewer).await,
        Err(StoreError::NotFound) => {
            state.hub.end_advisor(advisor);
        }
        Err(e) => {
            let sockets = state.hub.reload_advisor(advisor);
            tracing::warn!(error = %e, advisor = advisor.0, sockets, "could not read an advisor's access; their dashboards reload");
        }
    }
}

/// [`refresh`] every advisor with a dashboard open (after a change to teams).
pub async fn refresh_online(state: &AppState) {
    let online: Vec<AdvisorId> = state.hub.advisor_tabs().into_keys().collect();
    for advisor in online {
        refresh(state, advisor).await;
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
    fn a_sight_is_wider_when_it_has_a_team_or_the_admin_role_the_other_lacks() {
        let admin = Viewer { advisor: AdvisorId(7), admin: true, teams: vec![] };
        assert!(admin.sees_more_than(&advisor(&[1, 2])));
        assert!(!advisor(&[1]).sees_more_than(&admin));
        assert!(advisor(&[1, 2]).sees_more_than(&advisor(&[2])));
        assert!(!advisor(&[2]).sees_more_than(&advisor(&[2, 1])));
        assert!(!advisor(&[1, 2]).sees_more_than(&advisor(&[2, 1])), "order doesn't matter");
    }

    #[test]
    fn admins_see_everything() {
        let v = Viewer { advisor: AdvisorId(1), admin: true, teams: vec![] };
        assert!(v.can_see(Some(9), Some(AdvisorId(4))));
        assert_eq!(v.sql_condition("c"), "1 = 1");
    }
}
