//! How long a client waits before reconnecting: the widget and the dashboard use the same policy.

/// The longest wait between two reconnect attempts.
pub const MAX_RECONNECT_MS: u32 = 30_000;

/// The wait before reconnect attempt `attempt` (0-based): a ceiling of `first_ms` doubled per
/// attempt, capped at [`MAX_RECONNECT_MS`]; half of it fixed, half scaled by `jitter` (0.0..=1.0), so
/// clients that lost the relay together don't all come back at the same instant.
pub fn reconnect_delay_ms(first_ms: u32, attempt: u32, jitter: f64) -> u32 {
    let ceiling = first_ms.saturating_mul(1u32 << attempt.min(16)).min(MAX_RECONNECT_MS);
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
}
