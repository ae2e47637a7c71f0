//! The media worker: fetches pending attachments, a few at a time, retries temporary failures with
//! backoff, gives up after [`MAX_ATTEMPTS`], and tells the advisors about every attachment that
//! became ready or failed. Driven by the table, like the outbox: it claims what is due, so it picks
//! up after a restart whatever the previous process left pending.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use super::fetch::{self, FetchError};
use crate::channels::bridge::Bridge;
use crate::hub::Event;
use crate::state::AppState;
use crate::store::attachments::{AttachmentChange, AttachmentJob};

/// Attempts before a temporarily failing file is marked failed. With the backoff below the last
/// one comes roughly a quarter of an hour after the first.
pub const MAX_ATTEMPTS: u32 = 10;
/// Files fetched at once.
const PARALLEL: usize = 4;
/// A claimed file is not claimed again for this long: longer than any attempt can take (a
/// download is given up after 5 minutes).
const LEASE: Duration = Duration::from_secs(600);
/// The worker looks for due retries at least this often.
const POLL: Duration = Duration::from_secs(1);
/// Backoff: from 1 s, doubling, at most 10 minutes (half of it random).
const FIRST_RETRY_MS: u32 = 1_000;
const MAX_RETRY_MS: u32 = 600_000;

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    RetryIn(Duration),
    /// Give up; the reason is shown to advisors.
    Fail(String),
}

/// After attempt number `attempts` (1-based) failed with `error`.
pub fn after_failure(attempts: u32, error: &FetchError, jitter: f64) -> Next {
    match error {
        FetchError::Temporary(reason) if attempts >= MAX_ATTEMPTS => {
            Next::Fail(format!("The file could not be fetched after {attempts} tries. The last problem: {reason}"))
        }
        FetchError::Temporary(_) => {
            let ms = shared::backoff::delay_ms(FIRST_RETRY_MS, attempts.saturating_sub(1), MAX_RETRY_MS, jitter);
            Next::RetryIn(Duration::from_millis(u64::from(ms)))
        }
        FetchError::Permanent(reason) => Next::Fail(reason.clone()),
    }
}

pub async fn run(state: AppState, bridge: Arc<Bridge>) {
    let files = state.attachments.files().clone();
    // This process is the only one fetching: what a previous one had claimed is free again, and
    // its half-written files are garbage.
    match state.store.release_attachment_leases().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(attachments = n, "resuming downloads interrupted by a restart"),
        Err(e) => tracing::error!(error = %e, "could not release attachment leases; they expire on their own"),
    }
    if let Err(e) = files.clear_temp().await {
        tracing::warn!(error = %e, dir = %files.root().display(), "could not clear unfinished downloads");
    }
    let http = fetch::client();
    loop {
        loop {
            let now = crate::now_ms();
            let jobs = match state.store.claim_attachments(now, now + LEASE.as_millis() as i64, PARALLEL).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::error!(error = %e, "could not read pending attachments");
                    break;
                }
            };
            if jobs.is_empty() {
                break;
            }
            // A shutdown drops downloads under way (their temporary files go with them); the files
            // stay pending and are fetched again after the restart.
            tokio::select! {
                _ = state.stopping.cancelled() => return,
                _ = join_all(jobs.into_iter().map(|job| attempt(&state, &bridge, &http, &files, job))) => {}
            }
        }
        tokio::select! {
            _ = state.stopping.cancelled() => return,
            _ = state.attachments.woken() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// One attempt at one file, and its outcome recorded and announced.
async fn attempt(state: &AppState, bridge: &Bridge, http: &reqwest::Client, files: &super::Files, job: AttachmentJob) {
    let outcome = fetch::fetch(http, &state.outbound, &bridge.config, files, &job).await;
    let store = &state.store;
    let now = crate::now_ms();
    let recorded = match outcome {
        Ok(file) => {
            tracing::info!(attachment = %job.id, mime = %file.mime, size = file.size, "attachment fetched");
            store.attachment_ready(&job.id, &file, now).await
        }
        Err(error) => match after_failure(job.attempts, &error, rand::random::<f64>()) {
            Next::RetryIn(wait) => {
                tracing::info!(attachment = %job.id, attempt = job.attempts, reason = error.reason(), ?wait, "attachment fetch will be retried");
                let next_at = now + wait.as_millis() as i64;
                if let Err(e) = store.attachment_retry(&job.id, next_at, error.reason(), now).await {
                    tracing::error!(error = %e, attachment = %job.id, "could not schedule an attachment retry");
                }
                return;
            }
            Next::Fail(reason) => {
                tracing::warn!(attachment = %job.id, attempts = job.attempts, %reason, "attachment fetch failed for good");
                store.attachment_failed(&job.id, &reason, now).await
            }
        },
    };
    match recorded {
        Ok(Some(AttachmentChange { conversation, seq, attachment })) => {
            crate::access::ensure_scope(state, conversation).await;
            state.hub.to_advisors(Event::Attachment { conversation, seq, attachment });
        }
        Ok(None) => {} // settled meanwhile
        Err(e) => tracing::error!(error = %e, attachment = %job.id, "could not record an attachment's outcome; it will be fetched again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_failures_back_off_until_the_last_attempt() {
        let temporary = FetchError::Temporary("WhatsApp had a temporary problem.".into());
        assert_eq!(after_failure(1, &temporary, 1.0), Next::RetryIn(Duration::from_secs(1)));
        assert_eq!(after_failure(2, &temporary, 1.0), Next::RetryIn(Duration::from_secs(2)));
        assert_eq!(after_failure(2, &temporary, 0.0), Next::RetryIn(Duration::from_secs(1)));
        assert_eq!(after_failure(MAX_ATTEMPTS - 1, &temporary, 1.0), Next::RetryIn(Duration::from_secs(256)));
        let Next::Fail(reason) = after_failure(MAX_ATTEMPTS, &temporary, 1.0) else { panic!("gives up") };
        assert_eq!(reason, "The file could not be fetched after 10 tries. The last problem: WhatsApp had a temporary problem.");
    }

    #[test]
    fn a_permanent_failure_is_final_at_once() {
        let gone = FetchError::Permanent("WhatsApp no longer has this file.".into());
        assert_eq!(after_failure(1, &gone, 0.5), Next::Fail("WhatsApp no longer has this file.".into()));
    }
}
