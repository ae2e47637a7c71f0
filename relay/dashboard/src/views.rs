//! The inbox's views (Mine, Unassigned, All) and the first-response highlight: pure, so they run
//! in native unit tests.

use shared::{AdvisorId, ConversationStatus, ConversationSummary, TeamInfo};

/// Which conversations the inbox lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// Assigned to me.
    Mine,
    /// Nobody's yet: waiting in a queue (or never routed). Not those the bot is answering: nobody
    /// waits for an advisor there until it hands over (they are under All, "With bot").
    Unassigned,
    /// Everything I may see.
    #[default]
    All,
}

impl View {
    pub const ALL: [View; 3] = [View::Mine, View::Unassigned, View::All];

    pub fn admits(self, c: &ConversationSummary, me: Option<AdvisorId>) -> bool {
        match self {
            View::Mine => me.is_some() && c.assignee == me,
            View::Unassigned => c.assignee.is_none() && !c.with_bot,
            View::All => true,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            View::Mine => "mine",
            View::Unassigned => "unassigned",
            View::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            View::Mine => "Mine",
            View::Unassigned => "Unassigned",
            View::All => "All",
        }
    }
}

/// How many open conversations each view holds (the tabs' counts).
pub fn open_count(rows: &[ConversationSummary], view: View, me: Option<AdvisorId>) -> usize {
    rows.iter().filter(|c| c.status == ConversationStatus::Open && view.admits(c, me)).count()
}

/// Where a conversation stands against its team's first-response target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Breach {
    /// Nobody is waiting for an answer, or the team has no target.
    None,
    /// Waiting, with time to spare.
    Ok,
    /// Due within the warning window: ms left.
    Soon(i64),
    /// Past due: by this many ms.
    Breached(i64),
}

impl Breach {
    pub fn key(self) -> &'static str {
        match self {
            Breach::None => "none",
            Breach::Ok => "ok",
            Breach::Soon(_) => "soon",
            Breach::Breached(_) => "breached",
        }
    }
}

/// The highlight of an open conversation whose customer waits for an answer (the same rule as the
/// relay's `routing::breach`: about to breach from the warning window up to and including the due
/// moment, breached after it).
pub fn breach(c: &ConversationSummary, teams: &[TeamInfo], now: i64) -> Breach {
    if c.status != ConversationStatus::Open || c.waiting_since.is_none() {
        return Breach::None;
    }
    let Some(due) = c.first_response_due else { return Breach::None };
    let warn = c.team.and_then(|t| teams.iter().find(|x| x.id == t)).map_or(0, |t| t.warn_before_ms);
    if now > due {
        Breach::Breached(now - due)
    } else if now >= due - warn {
        Breach::Soon(due - now)
    } else {
        Breach::Ok
    }
}

/// The open conversation whose customer has waited longest for an answer, and since when.
pub fn oldest_waiting(rows: &[ConversationSummary]) -> Option<(&ConversationSummary, i64)> {
    rows.iter()
        .filter(|c| c.status == ConversationStatus::Open)
        .filter_map(|c| c.waiting_since.map(|w| (c, w)))
        .min_by_key(|(c, w)| (*w, c.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{Channel, ConversationId};

    fn row(id: i64, assignee: Option<i64>, waiting: Option<i64>, due: Option<i64>) -> ConversationSummary {
        ConversationSummary {
            id: ConversationId(id),
            visitor_name: format!("V{id}"),
            site_name: "Shop".into(),
            channel: Channel::Web,
            last_seq: 1,
            last_message: None,
            last_activity_at: 0,
            unread: 0,
            page: None,
            visitor_online: false,
            visitor_delivered_seq: 0,
            visitor_read_seq: 0,
            window_closes_at: None,
            identities: Vec::new(),
            reply_channel: Channel::Web,
            status: ConversationStatus::Open,
            snoozed_until: None,
            team: Some(1),
            assignee: assignee.map(AdvisorId),
            waiting_since: waiting,
            first_response_due: due,
            labels: Vec::new(),
            with_bot: false,
            unverified: false,
        }
    }

    #[test]
    fn views_split_the_inbox_by_assignee() {
        let me = Some(AdvisorId(7));
        let rows = [row(1, Some(7), None, None), row(2, None, Some(5), None), row(3, Some(8), None, None)];
        let ids = |v: View| rows.iter().filter(|c| v.admits(c, me)).map(|c| c.id.0).collect::<Vec<_>>();
        assert_eq!(ids(View::Mine), [1]);
        assert_eq!(ids(View::Unassigned), [2]);
        assert_eq!(ids(View::All), [1, 2, 3]);
        assert_eq!(open_count(&rows, View::Mine, me), 1);
        assert_eq!(open_count(&rows, View::Mine, None), 0, "nobody signed in owns nothing");
    }

    #[test]
    fn a_conversation_with_the_bot_is_under_all_but_not_unassigned() {
        let with_bot = ConversationSummary { with_bot: true, ..row(4, None, None, None) };
        assert!(!View::Unassigned.admits(&with_bot, None));
        assert!(View::All.admits(&with_bot, None));
        let handed_over = ConversationSummary { with_bot: false, ..with_bot };
        assert!(View::Unassigned.admits(&handed_over, None));
    }

    #[test]
    fn the_highlight_follows_the_target_and_its_warning_window() {
        let teams = [TeamInfo { id: 1, name: "Support".into(), first_response_target_ms: Some(600), warn_before_ms: 100 }];
        let waiting = row(1, None, Some(0), Some(600));
        assert_eq!(breach(&waiting, &teams, 499), Breach::Ok);
        assert_eq!(breach(&waiting, &teams, 500), Breach::Soon(100));
        assert_eq!(breach(&waiting, &teams, 600), Breach::Soon(0), "due now is not yet breached");
        assert_eq!(breach(&waiting, &teams, 601), Breach::Breached(1));
        assert_eq!(breach(&row(2, None, None, None), &teams, 10_000), Breach::None, "answered");
        let mut resolved = waiting.clone();
        resolved.status = ConversationStatus::Resolved;
        assert_eq!(breach(&resolved, &teams, 10_000), Breach::None);
    }

    #[test]
    fn the_oldest_waiting_customer_is_found() {
        let rows = [row(1, None, Some(50), None), row(2, Some(1), Some(20), None), row(3, None, None, None)];
        assert_eq!(oldest_waiting(&rows).map(|(c, w)| (c.id.0, w)), Some((2, 20)));
        assert!(oldest_waiting(&rows[2..]).is_none());
    }
}
