//! What a waiting visitor is told: their place in the team's queue and, when we can say it
//! honestly, how long that should take.

use std::time::Duration;

use super::Waiting;

/// A conversation's place in its team's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePlace {
    /// 1 for the next conversation to be assigned.
    pub position: usize,
    /// Conversations of the same team ahead of this one (`position - 1`).
    pub ahead: usize,
    /// Conversations of the same team waiting, this one included.
    pub waiting: usize,
}

/// Where `conversation` stands among the conversations of its own team (conversations without
/// a team form a queue of their own), in the order [`super::drain_queue`] serves them: longest
/// waiting first, then lowest id. `None` if it is not in the queue.
pub fn queue_position(queue: &[Waiting], conversation: i64) -> Option<QueuePlace> {
    let me = queue.iter().find(|w| w.conversation == conversation)?;
    let key = (me.waiting_since, me.conversation);
    let team: Vec<&Waiting> = queue.iter().filter(|w| w.team == me.team).collect();
    let ahead = team.iter().filter(|w| (w.waiting_since, w.conversation) < key).count();
    Some(QueuePlace { position: ahead + 1, ahead, waiting: team.len() })
}

/// Fewer observed intervals than this and we don't guess.
pub const MIN_WAIT_SAMPLES: usize = 3;

/// An honest estimate of the wait for the conversation at `position`, or `None` when we have
/// nothing honest to say (the visitor is then shown the team's usual reply time instead).
///
/// `recent_intervals_ms` are the gaps between consecutive assignments out of this team's queue
/// lately: how often a place has actually freed up, with whoever was online. The estimate is
/// `position × median gap`: the median so one lunch break doesn't dominate, and counting the
/// visitor's own place because a place must free up for them too. It errs long rather than
/// short. `None` when nobody who could take the conversation is online (a queue that is not
/// moving has no expected wait), or with fewer than [`MIN_WAIT_SAMPLES`] usable gaps.
pub fn expected_wait(position: usize, recent_intervals_ms: &[i64], online_advisors: usize) -> Option<Duration> {
    if online_advisors == 0 || position == 0 {
        return None;
    }
    let mut gaps: Vec<u64> = recent_intervals_ms.iter().filter(|&&g| g >= 0).map(|&g| g as u64).collect();
    if gaps.len() < MIN_WAIT_SAMPLES {
        return None;
    }
    gaps.sort_unstable();
    let n = gaps.len();
    let median = if n % 2 == 1 { gaps[n / 2] } else { (gaps[n / 2 - 1] + gaps[n / 2]) / 2 };
    Some(Duration::from_millis(median.saturating_mul(position as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(conversation: i64, team: Option<i64>, since: i64) -> Waiting {
        Waiting { conversation, team, waiting_since: since, last_helped_by: None }
    }

    #[test]
    fn position_counts_only_older_conversations_of_the_same_team() {
        let queue = [
            waiting(10, Some(1), 300),
            waiting(11, Some(2), 100),
            waiting(12, Some(1), 100),
            waiting(13, None, 50),
            waiting(14, Some(1), 200),
        ];
        assert_eq!(queue_position(&queue, 12), Some(QueuePlace { position: 1, ahead: 0, waiting: 3 }));
        assert_eq!(queue_position(&queue, 14), Some(QueuePlace { position: 2, ahead: 1, waiting: 3 }));
        assert_eq!(queue_position(&queue, 10), Some(QueuePlace { position: 3, ahead: 2, waiting: 3 }));
        assert_eq!(queue_position(&queue, 11), Some(QueuePlace { position: 1, ahead: 0, waiting: 1 }));
        assert_eq!(queue_position(&queue, 13), Some(QueuePlace { position: 1, ahead: 0, waiting: 1 }));
    }

    #[test]
    fn position_breaks_equal_waiting_times_by_conversation_id_like_the_drain() {
        let queue = [waiting(21, Some(1), 100), waiting(20, Some(1), 100)];
        assert_eq!(queue_position(&queue, 20).map(|p| p.position), Some(1));
        assert_eq!(queue_position(&queue, 21).map(|p| p.position), Some(2));
    }

    #[test]
    fn a_conversation_not_in_the_queue_has_no_position() {
        assert_eq!(queue_position(&[waiting(10, Some(1), 0)], 99), None);
        assert_eq!(queue_position(&[], 10), None);
    }

    #[test]
    fn the_first_in_line_is_served_first_by_the_drain() {
        use super::super::{drain_queue, AdvisorState, Status};
        let queue = [waiting(10, Some(1), 300), waiting(11, Some(1), 100), waiting(12, Some(1), 200)];
        let one_slot = [AdvisorState { id: 1, status: Status::Online, capacity: 1, open: 0, teams: vec![1], last_assigned_at: None }];
        let first = queue.iter().find(|w| queue_position(&queue, w.conversation).unwrap().position == 1).unwrap();
        assert_eq!(drain_queue(&queue, &one_slot, 0), vec![(first.conversation, 1)]);
    }

    #[test]
    fn expected_wait_is_position_times_the_median_gap() {
        let gaps = [60_000, 120_000, 90_000];
        assert_eq!(expected_wait(1, &gaps, 2), Some(Duration::from_secs(90)));
        assert_eq!(expected_wait(3, &gaps, 2), Some(Duration::from_secs(270)));
        assert_eq!(expected_wait(2, &[60_000, 60_000, 120_000, 120_000], 1), Some(Duration::from_secs(180)));
    }

    #[test]
    fn one_long_gap_does_not_dominate_the_estimate() {
        let gaps = [60_000, 60_000, 3_600_000, 60_000, 60_000];
        assert_eq!(expected_wait(1, &gaps, 1), Some(Duration::from_secs(60)));
    }

    #[test]
    fn no_estimate_when_nobody_is_online() {
        assert_eq!(expected_wait(1, &[60_000, 60_000, 60_000], 0), None);
    }

    #[test]
    fn no_estimate_without_enough_data() {
        assert_eq!(expected_wait(1, &[], 3), None);
        assert_eq!(expected_wait(1, &[60_000, 60_000], 3), None);
        // Negative gaps (clock trouble) are not data.
        assert_eq!(expected_wait(1, &[60_000, 60_000, -5], 3), None);
    }

    #[test]
    fn no_estimate_for_a_position_that_does_not_exist() {
        assert_eq!(expected_wait(0, &[60_000, 60_000, 60_000], 1), None);
    }

    #[test]
    fn expected_wait_grows_with_position() {
        let gaps = [30_000, 45_000, 200_000, 10_000];
        let waits: Vec<_> = (1..20).map(|p| expected_wait(p, &gaps, 1).unwrap()).collect();
        assert!(waits.windows(2).all(|w| w[0] < w[1]));
    }
}
