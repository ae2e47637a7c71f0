//! How long to wait before trying again: the widget and the dashboard reconnect with the same
//! policy, and the relay retries its own work (platform downloads) with the same shape.

/// The longest wait between two reconnect attempts.
pub const MAX_RECONNECT_MS: u32 = 30_000;

/// The wait before reconnect attempt `attempt` (0-based): a ceiling of `first_ms` doubled per
/// attempt, capped at [`MAX_RECONNECT_MS`]; half of it fixed, half scaled by `jitter` (0.0..=1.0), so
/// clients that lost the relay together don't all come back at the same instant.
pub fn reconnect_delay_ms(first_ms: u32, attempt: u32, jitter: f64) -> u32 {
    delay_ms(first_ms, attempt, MAX_RECONNECT_MS, jitter)
}

/// The wait before attempt `attempt` (0-based) of anything retried: a ceiling of `first_ms`
/// doubled per attempt, capped at `max_ms`; half of it fixed, half scaled by `jitter` (0.0..=1.0).
pub fn delay_ms(first_ms: u32, attempt: u32, max_ms: u32, jitter: f64) -> u32 {
    let ceiling = first_ms.saturating_mul(1u32 << attempt.min(16)).min(max_ms);
    let half = ceiling / 2;
    half + (f64::from(half) * jitter.clamp(0.0, 1.0)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_is_capped_and_is_at_least_half_the_ceiling() {
        assert_eq!(reconnect_delay_ms(1000, 0, 0.0), 500);
        assert_eq!(reconnect_delay_ms(1000, 1, 1.0), 2000);
        assert_eq!(reconnect_delay_ms(1000, 40, 1.0), MAX_RECONNECT_MS);
        assert_eq!(reconnect_delay_ms(1000, 40, 0.0), MAX_RECONNECT_MS / 2);
        assert_eq!(reconnect_delay_ms(500, 2, 7.0), 2000, "jitter is clamped");
    }

    #[test]
    fn a_longer_cap_lets_the_delay_keep_doubling() {
        assert_eq!(delay_ms(1000, 6, 600_000, 1.0), 64_000);
        assert_eq!(delay_ms(1000, 12, 600_000, 1.0), 600_000);
        assert_eq!(delay_ms(1000, 12, 600_000, 0.0), 300_000);
    }
}
