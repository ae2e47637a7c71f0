//! First-response targets: which waiting conversations the inbox should highlight.

/// Where a conversation stands against its team's first-response target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreachState {
    Ok,
    /// Due within the warning window; highlight it.
    Soon { ms_left: i64 },
    /// Past due.
    Breached { ms_over: i64 },
}

/// When the first answer is due: the team's target counted from when the conversation started
/// waiting.
pub fn first_response_due(waiting_since: i64, target_ms: i64) -> i64 {
    waiting_since.saturating_add(target_ms)
}

/// `Breached` once `now` is past `due`; `Soon` from `warn_before_ms` before it up to and
/// including the due moment itself; `Ok` before that.
pub fn breach(first_response_due: i64, now: i64, warn_before_ms: i64) -> BreachState {
    let left = first_response_due.saturating_sub(now);
    if left < 0 {
        BreachState::Breached { ms_over: -left }
    } else if left <= warn_before_ms {
        BreachState::Soon { ms_left: left }
    } else {
        BreachState::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn due_is_waiting_since_plus_the_target() {
        assert_eq!(first_response_due(1_000, 5 * MIN), 1_000 + 5 * MIN);
    }

    #[test]
    fn well_before_the_target_all_is_well() {
        let due = first_response_due(0, 10 * MIN);
        assert_eq!(breach(due, 0, 2 * MIN), BreachState::Ok);
        assert_eq!(breach(due, 8 * MIN - 1, 2 * MIN), BreachState::Ok);
    }

    #[test]
    fn inside_the_warning_window_it_is_about_to_breach() {
        let due = first_response_due(0, 10 * MIN);
        assert_eq!(breach(due, 8 * MIN, 2 * MIN), BreachState::Soon { ms_left: 2 * MIN });
        assert_eq!(breach(due, 10 * MIN - 1, 2 * MIN), BreachState::Soon { ms_left: 1 });
        assert_eq!(breach(due, 10 * MIN, 2 * MIN), BreachState::Soon { ms_left: 0 });
    }

    #[test]
    fn past_the_target_it_is_breached_by_how_much() {
        let due = first_response_due(0, 10 * MIN);
        assert_eq!(breach(due, 10 * MIN + 1, 2 * MIN), BreachState::Breached { ms_over: 1 });
        assert_eq!(breach(due, 25 * MIN, 2 * MIN), BreachState::Breached { ms_over: 15 * MIN });
    }

    #[test]
    fn without_a_warning_window_it_goes_straight_from_ok_to_breached() {
        assert_eq!(breach(100, 99, 0), BreachState::Ok);
        assert_eq!(breach(100, 101, 0), BreachState::Breached { ms_over: 1 });
    }
}
