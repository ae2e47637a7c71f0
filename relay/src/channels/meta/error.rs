//! Errors of the Meta connector. Each says what went wrong in words fit for a log line; none of them
//! is meant to be shown to the platform that sent the request (answer 403/401/400 without detail).

/// Why a subscription handshake (`GET ?hub.mode=subscribe&…`) was refused. Answer 403 for all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("no verify token is configured for this channel, so no subscription can be confirmed")]
    NotConfigured,
    #[error("hub.mode is {0:?}, not \"subscribe\"")]
    WrongMode(Option<String>),
    #[error("hub.verify_token does not match the configured verify token")]
    TokenMismatch,
    #[error("hub.challenge is missing or empty")]
    MissingChallenge,
}

/// Why a webhook POST failed the `X-Hub-Signature-256` check. Answer 401 or 403 (Meta retries on
/// any non-2xx, so log it: a wrong app secret shows up here as a steady stream of mismatches).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no app secret is configured for this channel, so no signature can be checked")]
    NoSecret,
    #[error("the X-Hub-Signature-256 header is missing")]
    MissingHeader,
    #[error("the X-Hub-Signature-256 header is not \"sha256=\" followed by 64 hex characters")]
    MalformedHeader,
    #[error("the X-Hub-Signature-256 header does not match the body (wrong app secret, or the body was altered)")]
    Mismatch,
}

/// Why a (correctly signed) webhook body could not be read at all. A body that parses but holds
/// bad items is not an error: those items are reported in [`super::InboundBatch::skipped`].
///
/// Log it and still acknowledge with 200: the body came from Meta, and a non-2xx only makes Meta
/// redeliver the same body for days (and may unsubscribe the Page).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the webhook body is not a JSON object: {0}")]
    NotJson(String),
    #[error("the webhook body has no \"object\" field, so it is not a Meta webhook")]
    MissingObject,
    #[error("webhooks for object {0:?} are not handled (only \"whatsapp_business_account\" and \"page\")")]
    UnknownObject(String),
}

/// Why a successful (2xx) Graph API answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("the Graph API answer is not JSON: {0}")]
    NotJson(String),
    #[error("the Graph API answer has no {0}")]
    Missing(&'static str),
    #[error("the Graph API answered without \"success\": true")]
    NotSuccessful,
}

/// Why a [`super::GraphApi`] could not be built from configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphConfigError {
    #[error("the Graph API base URL {0:?} is not an http(s) URL")]
    BadBaseUrl(String),
    #[error("the Graph API version {0:?} is not like \"v23.0\"")]
    BadVersion(String),
}
