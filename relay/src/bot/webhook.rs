//! The outside bot: each customer message is POSTed to the site's webhook, signed with its secret
//! (`X-Confab-Signature: sha256=<hex HMAC-SHA256(secret, body)>`), retried a bounded number of
//! times on network errors, 429 and 5xx. The bot answers through `POST /api/v1/bot/…` (`api.rs`).
//! The URL is the admin's to choose, so the POST goes under the outbound policy
//! (`crate::outbound`): https to a public address, no redirects, its short timeouts.
//! Deliveries live in memory: a relay restart drops one still being retried (logged).

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use shared::{ConversationId, Seq};

use super::WebhookConfig;
use crate::outbound::{Outbound, OutboundError};
use crate::state::AppState;
use crate::store::bot::BotConversation;
use crate::store::Site;

/// Attempts per message, and the waits between them.
pub const ATTEMPTS: usize = 4;
const BACKOFF_MS: [u64; ATTEMPTS - 1] = [250, 1_000, 4_000];

pub const SIGNATURE_HEADER: &str = "X-Confab-Signature";

/// `sha256=` and the hex HMAC-SHA256 of `body` with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What the outside bot receives.
#[derive(Debug, Serialize)]
pub struct Delivery<'a> {
    /// Always "message" for now.
    pub event: &'static str,
    pub site: &'a str,
    pub conversation: ConversationId,
    pub message: DeliveredMessage<'a>,
    pub visitor: DeliveredVisitor<'a>,
}

#[derive(Debug, Serialize)]
pub struct DeliveredMessage<'a> {
    pub seq: Seq,
    pub text: &'a str,
}

#[derive(Debug, Serialize)]
pub struct DeliveredVisitor<'a> {
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub language: Option<&'a str>,
}

/// Send a customer message to the outside bot in the background.
pub fn post_message(state: &AppState, hook: &WebhookConfig, site: &Site, conversation: ConversationId, conv: &BotConversation, seq: Seq, text: &str) {
    let body = serde_json::to_vec(&Delivery {
        event: "message",
        site: &site.key,
        conversation,
        message: DeliveredMessage { seq, text },
        visitor: DeliveredVisitor {
            name: conv.name.as_deref(),
            email: conv.email.as_deref(),
            language: conv.language.as_deref(),
        },
    })
    .expect("a delivery serializes");
    let hook = hook.clone();
    let stopping = state.stopping.clone();
    let outbound = state.outbound.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = stopping.cancelled() => {}
            _ = deliver(&outbound, &hook, body, conversation) => {}
        }
    });
}

/// POST until the bot takes it (2xx), refuses it for good (another 4xx, a redirect, an address
/// the policy refuses), or attempts run out.
async fn deliver(outbound: &Outbound, hook: &WebhookConfig, body: Vec<u8>, conversation: ConversationId) -> bool {
    let signed = signature(&hook.secret, &body);
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(BACKOFF_MS[attempt - 1])).await;
        }
        let sent = outbound
            .send(reqwest::Method::POST, &hook.url, |request| {
                request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(SIGNATURE_HEADER, &signed)
                    .body(body.clone())
            })
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) if r.status().is_client_error() && r.status() != reqwest::StatusCode::TOO_MANY_REQUESTS => {
                tracing::warn!(status = %r.status(), %conversation, "the bot webhook refused a message; not retried");
                return false;
            }
            Ok(r) => tracing::warn!(status = %r.status(), attempt, %conversation, "the bot webhook failed; retrying"),
            Err(e @ OutboundError::Redirected(_)) => {
                tracing::error!(reason = %e, %conversation, "the bot webhook is not called: set its final URL in Settings → Bot");
                return false;
            }
            Err(e) if e.is_refusal() => {
                tracing::error!(reason = %e, %conversation, "the bot webhook's URL is refused by the outbound policy; not called");
                return false;
            }
            Err(e) => tracing::warn!(reason = %e, attempt, %conversation, "the bot webhook is unreachable; retrying"),
        }
    }
    tracing::error!(%conversation, "the bot webhook never took a message; giving up after {ATTEMPTS} attempts");
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
