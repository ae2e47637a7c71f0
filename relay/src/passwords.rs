//! Password hashing for requests, a bounded number at once: each argon2id hash takes ~19 MiB and
//! a core for tens of milliseconds, so a burst of logins must queue, not run side by side. A
//! request waits a short while for its turn, then is refused (`Busy`, answered 429 with
//! `Retry-After`).
//!
//! The turn is held by the blocking task that hashes, not by the request: a client that hangs up
//! mid-check does not free a turn while its hash still runs.

use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::secret;

/// How long a request waits for a turn before it is refused.
pub const TURN_WAIT: Duration = Duration::from_secs(3);

/// No turn came within the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks at once")]
pub struct Busy;

impl IntoResponse for Busy {
    /// 429 `rate_limited`: a person retrying in a moment gets through.
    fn into_response(self) -> Response {
        crate::error::rate_limited(Duration::from_secs(2), "The relay is busy checking other logins. Try again in a few seconds.")
    }
}

#[derive(Debug)]
pub struct PasswordHashing {
    turns: Arc<Semaphore>,
    wait: Duration,
}

impl PasswordHashing {
    pub fn new(at_once: usize, wait: Duration) -> Self {
        PasswordHashing { turns: Arc::new(Semaphore::new(at_once.max(1))), wait }
    }

    /// The default number at once: one per core, at least two.
    pub fn default_at_once() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get()).max(2)
    }

    /// Wait for a turn; hold it while the hash runs.
    pub async fn turn(&self) -> Result<OwnedSemaphorePermit, Busy> {
        match tokio::time::timeout(self.wait, self.turns.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; treat it like a full one.
            Ok(Err(_)) | Err(_) => Err(Busy),
        }
    }

    /// Check `password` against a stored hash; without one (an unknown e-mail), spend the same
    /// work so the answer's timing does not tell which accounts exist.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Busy> {
        let turn = self.turn().await?;
        let checked = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            match stored {
                Some(hash) => secret::verify_password(&password, &hash),
                None => {
                    secret::burn_password_check(&password);
                    false
                }
            }
        })
        .await;
        // A panic inside argon2 is a failed check, never a pass.
        Ok(checked.unwrap_or_else(|e| {
            tracing::error!(error = %e, "password check panicked");
            false
        }))
    }
}

impl Default for PasswordHashing {
    fn default() -> Self {
        Self::new(Self::default_at_once(), TURN_WAIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn past_the_limit_a_check_waits_then_is_refused() {
        let hashing = PasswordHashing::new(1, Duration::from_millis(20));
        let held = hashing.turn().await.unwrap();
        assert_eq!(hashing.turn().await.unwrap_err(), Busy);
        assert_eq!(hashing.verify("x".into(), None).await, Err(Busy));
        drop(held);
        assert_eq!(hashing.verify("x".into(), None).await, Ok(false));
    }
}
