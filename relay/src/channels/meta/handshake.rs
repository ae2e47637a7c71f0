//! The subscription handshake (CONTRACTS §1): Meta sends one
//! `GET ?hub.mode=subscribe&hub.challenge=…&hub.verify_token=…` when the callback URL is saved.
//! It carries no body and no signature, so the signature check must not run on it.

use std::collections::HashMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::HandshakeError;

/// The query of a handshake GET. Every field is optional so that a request missing one still
/// reaches [`verify_subscription`] (and gets 403) instead of failing extraction with 400; use it
/// as `axum::extract::Query<SubscriptionQuery>`. The underscore spellings some PHP-style proxies
/// produce are accepted too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SubscriptionQuery {
    #[serde(rename = "hub.mode", alias = "hub_mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token", alias = "hub_verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge", alias = "hub_challenge")]
    pub challenge: Option<String>,
}

impl SubscriptionQuery {
    /// From already-decoded query parameters.
    pub fn from_map(params: &HashMap<String, String>) -> Self {
        let get = |dotted: &str, underscored: &str| params.get(dotted).or_else(|| params.get(underscored)).cloned();
        SubscriptionQuery {
            mode: get("hub.mode", "hub_mode"),
            verify_token: get("hub.verify_token", "hub_verify_token"),
            challenge: get("hub.challenge", "hub_challenge"),
        }
    }
}

/// Confirms a subscription: on success, answer `200 text/plain` with exactly the returned challenge;
/// on any error, answer 403.
///
/// The token comparison is constant-time in both content and length: SHA-256 digests of the two
/// tokens are compared, so neither a prefix match nor the configured token's length leaks.
pub fn verify_subscription(query: &SubscriptionQuery, configured_verify_token: &str) -> Result<String, HandshakeError> {
    if configured_verify_token.is_empty() {
        return Err(HandshakeError::NotConfigured);
    }
    if query.mode.as_deref() != Some("subscribe") {
        return Err(HandshakeError::WrongMode(query.mode.clone()));
    }
    let offered = query.verify_token.as_deref().unwrap_or("");
    let matches: bool =
        Sha256::digest(offered.as_bytes()).ct_eq(&Sha256::digest(configured_verify_token.as_bytes())).into();
    if !matches {
        return Err(HandshakeError::TokenMismatch);
    }
    match &query.challenge {
        Some(challenge) if !challenge.is_empty() => Ok(challenge.clone()),
        _ => Err(HandshakeError::MissingChallenge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::Query;
    use axum::http::Uri;

    fn query(uri: &str) -> SubscriptionQuery {
        let uri: Uri = uri.parse().unwrap();
        Query::<SubscriptionQuery>::try_from_uri(&uri).unwrap().0
    }

    #[test]
    fn a_matching_subscribe_request_returns_the_challenge_verbatim() {
        let q = query("/webhooks/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=s3cret-t%C3%B8ken");
        assert_eq!(verify_subscription(&q, "s3cret-tøken"), Ok("1158201444".to_owned()));
    }

    #[test]
    fn a_non_numeric_challenge_is_returned_unchanged() {
        let q = query("/w?hub.mode=subscribe&hub.challenge=abc-DEF_123%2B%3D&hub.verify_token=t");
        assert_eq!(verify_subscription(&q, "t"), Ok("abc-DEF_123+=".to_owned()));
    }

    #[test]
    fn a_wrong_token_is_refused() {
        let q = query("/w?hub.mode=subscribe&hub.challenge=42&hub.verify_token=guess");
        assert_eq!(verify_subscription(&q, "s3cret"), Err(HandshakeError::TokenMismatch));
        let prefix = query("/w?hub.mode=subscribe&hub.challenge=42&hub.verify_token=s3cre");
        assert_eq!(verify_subscription(&prefix, "s3cret"), Err(HandshakeError::TokenMismatch));
    }

    #[test]
    fn a_missing_token_is_refused() {
        let q = query("/w?hub.mode=subscribe&hub.challenge=42");
        assert_eq!(verify_subscription(&q, "s3cret"), Err(HandshakeError::TokenMismatch));
    }

    #[test]
    fn a_mode_other_than_subscribe_is_refused() {
        let q = query("/w?hub.mode=unsubscribe&hub.challenge=42&hub.verify_token=s3cret");
        assert_eq!(verify_subscription(&q, "s3cret"), Err(HandshakeError::WrongMode(Some("unsubscribe".into()))));
        let none = query("/w?hub.challenge=42&hub.verify_token=s3cret");
        assert_eq!(verify_subscription(&none, "s3cret"), Err(HandshakeError::WrongMode(None)));
    }

    #[test]
    fn a_missing_or_empty_challenge_is_refused() {
        let q = query("/w?hub.mode=subscribe&hub.verify_token=s3cret");
        assert_eq!(verify_subscription(&q, "s3cret"), Err(HandshakeError::MissingChallenge));
        let empty = query("/w?hub.mode=subscribe&hub.challenge=&hub.verify_token=s3cret");
        assert_eq!(verify_subscription(&empty, "s3cret"), Err(HandshakeError::MissingChallenge));
    }

    #[test]
    fn an_unconfigured_verify_token_confirms_nothing_not_even_an_empty_offer() {
        let q = query("/w?hub.mode=subscribe&hub.challenge=42&hub.verify_token=");
        assert_eq!(verify_subscription(&q, ""), Err(HandshakeError::NotConfigured));
    }

    #[test]
    fn a_request_with_no_query_at_all_still_extracts_and_is_refused() {
        let q = query("/w");
        assert_eq!(q, SubscriptionQuery::default());
        assert_eq!(verify_subscription(&q, "s3cret"), Err(HandshakeError::WrongMode(None)));
    }

    #[test]
    fn underscored_parameter_names_are_accepted_from_a_query_and_a_map() {
        let q = query("/w?hub_mode=subscribe&hub_challenge=7&hub_verify_token=s3cret");
        assert_eq!(verify_subscription(&q, "s3cret"), Ok("7".to_owned()));

        let map: HashMap<String, String> =
            [("hub_mode", "subscribe"), ("hub.challenge", "8"), ("hub.verify_token", "s3cret")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        assert_eq!(verify_subscription(&SubscriptionQuery::from_map(&map), "s3cret"), Ok("8".to_owned()));
    }
}
