//! Who counts as present: auto-away when an advisor's tabs are gone, and handing back the
//! conversations of an advisor who went offline.

use std::collections::HashMap;

use super::{AdvisorState, Status};

/// The status routing should use for an advisor.
///
/// What the advisor chose wins when it is `Offline` or `Away`. An advisor who chose `Online` is
/// online while at least one dashboard tab is open, and for `away_after_ms` after the last one
/// closed (a reload or a train tunnel must not cost them their conversations); after that they
/// are `Away`. With no tab open and no known closing time (e.g. never connected since the relay
/// started) nobody is there to answer, so they are `Away` too.
pub fn auto_status(tabs_open: usize, last_tab_closed_at: Option<i64>, chosen: Status, now: i64, away_after_ms: i64) -> Status {
    match chosen {
        Status::Offline | Status::Away => chosen,
        Status::Online if tabs_open > 0 => Status::Online,
        Status::Online => match last_tab_closed_at {
            Some(closed) if now.saturating_sub(closed) < away_after_ms => Status::Online,
            _ => Status::Away,
        },
    }
}

/// Conversations to return to the queue: those assigned to an advisor who has been `Offline`
/// for at least `delay_ms` (`offline_since` maps advisor id to when they went offline), and
/// those assigned to an advisor who no longer exists. `Away` advisors keep theirs: away is a
/// pause, offline is leaving. An offline advisor with no known `offline_since` keeps theirs,
/// since we cannot tell that the delay has passed; the caller records the moment it sees an
/// advisor go offline (at startup too). Returned in the order of `assignments`, each once.
pub fn to_requeue(advisors: &[AdvisorState], assignments: &[(i64, i64)], offline_since: &HashMap<i64, i64>, now: i64, delay_ms: i64) -> Vec<i64> {
    let gone = |advisor: i64| match advisors.iter().find(|a| a.id == advisor) {
        None => true,
        Some(a) if a.status == Status::Offline => offline_since.get(&advisor).is_some_and(|&since| now.saturating_sub(since) >= delay_ms),
        Some(_) => false,
    };
    let mut out: Vec<i64> = Vec::new();
    for &(conversation, advisor) in assignments {
        if gone(advisor) && !out.contains(&conversation) {
            out.push(conversation);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    const AWAY_AFTER: i64 = 3 * 60_000;

    #[test]
    fn an_advisor_with_a_tab_open_is_online() {
        assert_eq!(auto_status(1, None, Online, 1_000_000, AWAY_AFTER), Online);
        assert_eq!(auto_status(3, Some(0), Online, 1_000_000, AWAY_AFTER), Online);
    }

    #[test]
    fn closing_the_last_tab_keeps_the_advisor_online_for_a_few_minutes() {
        assert_eq!(auto_status(0, Some(1_000), Online, 1_000, AWAY_AFTER), Online);
        assert_eq!(auto_status(0, Some(1_000), Online, 1_000 + AWAY_AFTER - 1, AWAY_AFTER), Online);
    }

    #[test]
    fn all_tabs_gone_for_a_few_minutes_means_away() {
        assert_eq!(auto_status(0, Some(1_000), Online, 1_000 + AWAY_AFTER, AWAY_AFTER), Away);
        assert_eq!(auto_status(0, Some(1_000), Online, 1_000 + 10 * AWAY_AFTER, AWAY_AFTER), Away);
    }

    #[test]
    fn no_tab_and_no_known_closing_time_means_away() {
        assert_eq!(auto_status(0, None, Online, 1_000, AWAY_AFTER), Away);
    }

    #[test]
    fn an_advisor_who_chose_offline_or_away_stays_so_whatever_their_tabs() {
        assert_eq!(auto_status(2, None, Offline, 0, AWAY_AFTER), Offline);
        assert_eq!(auto_status(0, Some(0), Offline, 10 * AWAY_AFTER, AWAY_AFTER), Offline);
        assert_eq!(auto_status(2, None, Away, 0, AWAY_AFTER), Away);
    }

    fn adv(id: i64, status: Status) -> AdvisorState {
        AdvisorState { id, status, capacity: 5, open: 1, teams: vec![1], last_assigned_at: None }
    }

    const DELAY: i64 = 5 * 60_000;

    #[test]
    fn an_offline_advisors_conversations_return_to_the_queue_after_the_delay() {
        let advisors = [adv(1, Offline), adv(2, Online)];
        let assignments = [(10, 1), (11, 2), (12, 1)];
        let since = HashMap::from([(1, 1_000)]);
        assert_eq!(to_requeue(&advisors, &assignments, &since, 1_000 + DELAY - 1, DELAY), Vec::<i64>::new());
        assert_eq!(to_requeue(&advisors, &assignments, &since, 1_000 + DELAY, DELAY), vec![10, 12]);
    }

    #[test]
    fn online_and_away_advisors_keep_their_conversations() {
        let advisors = [adv(1, Online), adv(2, Away)];
        // A stale offline_since does not matter once they are back.
        let since = HashMap::from([(1, 0), (2, 0)]);
        assert!(to_requeue(&advisors, &[(10, 1), (11, 2)], &since, 10 * DELAY, DELAY).is_empty());
    }

    #[test]
    fn an_offline_advisor_with_no_known_offline_time_keeps_their_conversations() {
        let advisors = [adv(1, Offline)];
        assert!(to_requeue(&advisors, &[(10, 1)], &HashMap::new(), 10 * DELAY, DELAY).is_empty());
    }

    #[test]
    fn conversations_of_an_advisor_who_no_longer_exists_return_at_once() {
        assert_eq!(to_requeue(&[adv(1, Online)], &[(10, 1), (11, 7)], &HashMap::new(), 0, DELAY), vec![11]);
    }

    #[test]
    fn a_zero_delay_requeues_as_soon_as_the_advisor_is_offline() {
        let since = HashMap::from([(1, 500)]);
        assert_eq!(to_requeue(&[adv(1, Offline)], &[(10, 1)], &since, 500, 0), vec![10]);
    }

    #[test]
    fn each_conversation_is_returned_once() {
        let since = HashMap::from([(1, 0)]);
        assert_eq!(to_requeue(&[adv(1, Offline)], &[(10, 1), (10, 1)], &since, DELAY, DELAY), vec![10]);
    }
}
