//! Picking the advisor for one conversation, and draining a queue when capacity frees up.

use super::{AdvisorState, Waiting};

/// Why a conversation went to the advisor it went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The advisor who last helped this customer.
    Sticky,
    /// The least-loaded available advisor of the team.
    LeastLoaded,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Assign { advisor: i64, reason: Reason },
    /// Nobody can take it now: it waits in its team's queue.
    Queue,
}

/// Decide who gets `conversation`.
///
/// 1. The advisor who last helped this customer, if they can take it (online, under capacity,
///    in the conversation's team or the conversation has none).
/// 2. Otherwise the available advisor with the fewest open conversations; on a tie the one
///    assigned least recently (never-assigned first), then the lowest id so the answer is
///    always the same.
/// 3. Otherwise the conversation waits.
pub fn assign(conversation: &Waiting, advisors: &[AdvisorState]) -> Decision {
    choose(conversation, advisors, &vec![0; advisors.len()])
}

/// `drained[i]` orders advisors already given a conversation in this drain (0 = not yet), so
/// round-robin holds among assignments that share the same `now`.
fn choose(conversation: &Waiting, advisors: &[AdvisorState], drained: &[u64]) -> Decision {
    if let Some(id) = conversation.last_helped_by {
        if advisors.iter().any(|a| a.id == id && a.can_take(conversation.team)) {
            return Decision::Assign { advisor: id, reason: Reason::Sticky };
        }
    }
    advisors
        .iter()
        .zip(drained)
        .filter(|(a, _)| a.can_take(conversation.team))
        .min_by_key(|(a, order)| (a.open, a.last_assigned_at, **order, a.id))
        .map_or(Decision::Queue, |(a, _)| Decision::Assign { advisor: a.id, reason: Reason::LeastLoaded })
}

/// Assign waiting conversations now that capacity may have freed up: oldest first, each by
/// [`assign`], counting every assignment against the advisor's capacity before the next.
/// Returns `(conversation, advisor)` pairs; conversations not listed keep waiting.
///
/// Oldest first keeps each team's queue first-in first-out: if a team's oldest conversation
/// finds nobody, nobody in that team has room, and room only shrinks during a drain, so no
/// younger conversation of that team can jump ahead of it.
pub fn drain_queue(queue: &[Waiting], advisors: &[AdvisorState], now: i64) -> Vec<(i64, i64)> {
    let mut order: Vec<&Waiting> = queue.iter().collect();
    order.sort_by_key(|w| (w.waiting_since, w.conversation));
    let mut advisors = advisors.to_vec();
    let mut drained = vec![0u64; advisors.len()];
    let mut next = 1;
    let mut out = Vec::new();
    for w in order {
        if let Decision::Assign { advisor, .. } = choose(w, &advisors, &drained) {
            // Ids are unique in practice; if not, the first match is the one `choose` saw.
            if let Some(i) = advisors.iter().position(|a| a.id == advisor) {
                advisors[i].open += 1;
                advisors[i].last_assigned_at = Some(now);
                drained[i] = next;
                next += 1;
            }
            out.push((w.conversation, advisor));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Status::{self, *};
    use super::*;

    fn adv(id: i64, status: Status, capacity: u32, open: u32, teams: &[i64], last: Option<i64>) -> AdvisorState {
        AdvisorState { id, status, capacity, open, teams: teams.to_vec(), last_assigned_at: last }
    }

    fn online(id: i64, open: u32) -> AdvisorState {
        adv(id, Online, 5, open, &[1], None)
    }

    fn waiting(conversation: i64, team: Option<i64>, since: i64, last: Option<i64>) -> Waiting {
        Waiting { conversation, team, waiting_since: since, last_helped_by: last }
    }

    fn to(advisor: i64, reason: Reason) -> Decision {
        Decision::Assign { advisor, reason }
    }

    #[test]
    fn returning_customer_goes_to_the_advisor_who_last_helped_even_if_busier() {
        let advisors = [online(1, 0), online(2, 3)];
        assert_eq!(assign(&waiting(10, Some(1), 0, Some(2)), &advisors), to(2, Reason::Sticky));
    }

    #[test]
    fn stickiness_is_skipped_when_that_advisor_is_away() {
        let advisors = [online(1, 2), adv(2, Away, 5, 0, &[1], None)];
        assert_eq!(assign(&waiting(10, Some(1), 0, Some(2)), &advisors), to(1, Reason::LeastLoaded));
    }

    #[test]
    fn stickiness_is_skipped_when_that_advisor_is_offline() {
        let advisors = [online(1, 2), adv(2, Offline, 5, 0, &[1], None)];
        assert_eq!(assign(&waiting(10, Some(1), 0, Some(2)), &advisors), to(1, Reason::LeastLoaded));
    }

    #[test]
    fn stickiness_is_skipped_when_that_advisor_is_at_capacity() {
        let advisors = [online(1, 4), adv(2, Online, 3, 3, &[1], None)];
        assert_eq!(assign(&waiting(10, Some(1), 0, Some(2)), &advisors), to(1, Reason::LeastLoaded));
    }

    #[test]
    fn stickiness_is_skipped_when_that_advisor_is_not_in_the_team() {
        let advisors = [online(1, 4), adv(2, Online, 5, 0, &[7], None)];
        assert_eq!(assign(&waiting(10, Some(1), 0, Some(2)), &advisors), to(1, Reason::LeastLoaded));
    }

    #[test]
    fn stickiness_is_skipped_when_that_advisor_no_longer_exists() {
        let advisors = [online(1, 4)];
        assert_eq!(assign(&waiting(10, Some(1), 0, Some(99)), &advisors), to(1, Reason::LeastLoaded));
    }

    #[test]
    fn stickiness_ignores_teams_when_the_conversation_has_none() {
        let advisors = [online(1, 0), adv(2, Online, 5, 1, &[7], None)];
        assert_eq!(assign(&waiting(10, None, 0, Some(2)), &advisors), to(2, Reason::Sticky));
    }

    #[test]
    fn new_customer_goes_to_the_least_loaded_advisor() {
        let advisors = [online(1, 3), online(2, 1), online(3, 2)];
        assert_eq!(assign(&waiting(10, Some(1), 0, None), &advisors), to(2, Reason::LeastLoaded));
    }

    #[test]
    fn ties_go_to_the_advisor_assigned_least_recently() {
        let advisors = [adv(1, Online, 5, 1, &[1], Some(500)), adv(2, Online, 5, 1, &[1], Some(100)), adv(3, Online, 5, 1, &[1], Some(300))];
        assert_eq!(assign(&waiting(10, Some(1), 0, None), &advisors), to(2, Reason::LeastLoaded));
    }

    #[test]
    fn ties_go_first_to_an_advisor_never_assigned() {
        let advisors = [adv(1, Online, 5, 1, &[1], Some(100)), adv(2, Online, 5, 1, &[1], None)];
        assert_eq!(assign(&waiting(10, Some(1), 0, None), &advisors), to(2, Reason::LeastLoaded));
    }

    #[test]
    fn full_ties_go_to_the_lowest_id_whatever_the_order_given() {
        let advisors = [online(3, 1), online(1, 1), online(2, 1)];
        assert_eq!(assign(&waiting(10, Some(1), 0, None), &advisors), to(1, Reason::LeastLoaded));
    }

    #[test]
    fn only_advisors_of_the_conversations_team_are_considered() {
        let advisors = [adv(1, Online, 5, 0, &[2], None), adv(2, Online, 5, 4, &[1, 2], None)];
        assert_eq!(assign(&waiting(10, Some(1), 0, None), &advisors), to(2, Reason::LeastLoaded));
        assert_eq!(assign(&waiting(11, Some(3), 0, None), &advisors), Decision::Queue);
    }

    #[test]
    fn a_conversation_without_a_team_may_go_to_any_online_advisor() {
        let advisors = [adv(1, Online, 5, 2, &[2], None), adv(2, Online, 5, 1, &[], None)];
        assert_eq!(assign(&waiting(10, None, 0, None), &advisors), to(2, Reason::LeastLoaded));
    }

    #[test]
    fn advisors_at_capacity_are_skipped_even_if_they_have_least_load() {
        let advisors = [adv(1, Online, 1, 1, &[1], None), adv(2, Online, 5, 3, &[1], None)];
        assert_eq!(assign(&waiting(10, Some(1), 0, None), &advisors), to(2, Reason::LeastLoaded));
    }

    #[test]
    fn away_and_offline_advisors_get_nothing_and_the_conversation_waits() {
        let advisors = [adv(1, Away, 5, 0, &[1], None), adv(2, Offline, 5, 0, &[1], None), adv(3, Online, 2, 2, &[1], None)];
        assert_eq!(assign(&waiting(10, Some(1), 0, Some(1)), &advisors), Decision::Queue);
        assert_eq!(assign(&waiting(10, Some(1), 0, None), &[]), Decision::Queue);
    }

    #[test]
    fn an_advisor_with_zero_capacity_never_gets_a_conversation() {
        let advisors = [adv(1, Online, 0, 0, &[1], None)];
        assert_eq!(assign(&waiting(10, Some(1), 0, Some(1)), &advisors), Decision::Queue);
    }

    #[test]
    fn drain_assigns_the_oldest_waiting_conversation_first() {
        let advisors = [adv(1, Online, 1, 0, &[1], None)];
        let queue = [waiting(10, Some(1), 300, None), waiting(11, Some(1), 100, None), waiting(12, Some(1), 200, None)];
        assert_eq!(drain_queue(&queue, &advisors, 1000), vec![(11, 1)]);
    }

    #[test]
    fn drain_breaks_equal_waiting_times_by_conversation_id() {
        let advisors = [adv(1, Online, 1, 0, &[1], None)];
        let queue = [waiting(12, Some(1), 100, None), waiting(11, Some(1), 100, None)];
        assert_eq!(drain_queue(&queue, &advisors, 1000), vec![(11, 1)]);
    }

    #[test]
    fn drain_never_puts_an_advisor_over_capacity() {
        let advisors = [adv(1, Online, 3, 1, &[1], None), adv(2, Online, 2, 1, &[1], None)];
        let queue: Vec<_> = (0..10).map(|i| waiting(100 + i, Some(1), i, None)).collect();
        let out = drain_queue(&queue, &advisors, 1000);
        assert_eq!(out.iter().filter(|(_, a)| *a == 1).count(), 2);
        assert_eq!(out.iter().filter(|(_, a)| *a == 2).count(), 1);
        assert_eq!(out.iter().map(|(c, _)| *c).collect::<Vec<_>>(), vec![100, 101, 102]);
    }

    #[test]
    fn drain_spreads_work_round_robin_among_equally_loaded_advisors() {
        let advisors = [online(1, 0), online(2, 0), online(3, 0)];
        let queue: Vec<_> = (0..6).map(|i| waiting(100 + i, Some(1), i, None)).collect();
        let out = drain_queue(&queue, &advisors, 1000);
        assert_eq!(out.iter().map(|(_, a)| *a).collect::<Vec<_>>(), vec![1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn drain_keeps_each_team_first_in_first_out_and_serves_other_teams() {
        // Team 1 has one free slot; team 2 has two.
        let advisors = [adv(1, Online, 1, 0, &[1], None), adv(2, Online, 2, 0, &[2], None)];
        let queue = [
            waiting(10, Some(1), 100, None),
            waiting(20, Some(2), 150, None),
            waiting(11, Some(1), 200, Some(1)),
            waiting(21, Some(2), 250, None),
            waiting(22, Some(2), 300, None),
        ];
        assert_eq!(drain_queue(&queue, &advisors, 1000), vec![(10, 1), (20, 2), (21, 2)]);
    }

    #[test]
    fn drain_honours_stickiness_for_the_conversations_it_reaches() {
        let advisors = [online(1, 0), online(2, 3)];
        let queue = [waiting(10, Some(1), 100, None), waiting(11, Some(1), 200, Some(2))];
        assert_eq!(drain_queue(&queue, &advisors, 1000), vec![(10, 1), (11, 2)]);
    }

    #[test]
    fn drain_with_nobody_available_assigns_nothing() {
        let advisors = [adv(1, Away, 5, 0, &[1], None)];
        let queue = [waiting(10, Some(1), 100, None)];
        assert!(drain_queue(&queue, &advisors, 1000).is_empty());
        assert!(drain_queue(&[], &advisors, 1000).is_empty());
    }

    /// Random rosters and queues, checked against the rules rather than against expected pairs.
    #[test]
    fn random_drains_respect_capacity_teams_status_and_fifo() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(5);
        for _ in 0..500 {
            let advisors: Vec<AdvisorState> = (1..=rng.gen_range(0..6))
                .map(|id| {
                    let status = [Online, Online, Away, Offline][rng.gen_range(0..4)];
                    let capacity = rng.gen_range(0..4);
                    let teams = (1..=3).filter(|_| rng.gen_bool(0.5)).collect::<Vec<_>>();
                    let last = rng.gen_bool(0.5).then(|| rng.gen_range(0..100));
                    adv(id, status, capacity, rng.gen_range(0..=capacity), &teams, last)
                })
                .collect();
            let queue: Vec<Waiting> = (0..rng.gen_range(0..12))
                .map(|c| {
                    let team = rng.gen_bool(0.8).then(|| rng.gen_range(1..=3));
                    let last = rng.gen_bool(0.3).then(|| rng.gen_range(1..=6));
                    waiting(100 + c, team, rng.gen_range(0..50), last)
                })
                .collect();

            // One conversation at a time agrees with the rules too.
            for w in &queue {
                match assign(w, &advisors) {
                    Decision::Queue => assert!(!advisors.iter().any(|a| a.can_take(w.team))),
                    Decision::Assign { advisor, reason } => {
                        let a = advisors.iter().find(|a| a.id == advisor).unwrap();
                        assert!(a.can_take(w.team));
                        if reason == Reason::LeastLoaded {
                            assert!(advisors.iter().filter(|b| b.can_take(w.team)).all(|b| b.open >= a.open));
                        } else {
                            assert_eq!(w.last_helped_by, Some(advisor));
                        }
                    }
                }
            }

            let out = drain_queue(&queue, &advisors, 1000);
            let mut seen = std::collections::HashSet::new();
            for (c, a) in &out {
                assert!(seen.insert(*c), "conversation assigned twice");
                let w = queue.iter().find(|w| w.conversation == *c).unwrap();
                let adv = advisors.iter().find(|x| x.id == *a).unwrap();
                assert!(adv.status == Online && w.team.is_none_or(|t| adv.teams.contains(&t)));
            }
            for a in &advisors {
                let given = out.iter().filter(|(_, x)| *x == a.id).count() as u32;
                assert!(given == 0 || a.open + given <= a.capacity, "over capacity");
            }
            // Nobody younger in a team was served while an older one of that team still waits.
            for w in queue.iter().filter(|w| !seen.contains(&w.conversation)) {
                for (c, _) in &out {
                    let v = queue.iter().find(|v| v.conversation == *c).unwrap();
                    if v.team == w.team && w.team.is_some() {
                        assert!((v.waiting_since, v.conversation) < (w.waiting_since, w.conversation), "FIFO broken");
                    }
                }
            }
        }
    }
}
