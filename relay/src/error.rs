//! Errors at the edges: why the relay could not start, and what an HTTP request gets back.

use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared::{ErrorCode, ErrorFrame};

use crate::store::StoreError;

/// Why the relay could not start. Each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use data directory {path}: {source}. Choose a writable directory with --data-dir or CONFAB_DATA_DIR.")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the database {path}: {source}")]
    Database { path: PathBuf, source: StoreError },
    #[error("cannot listen: {0}")]
    Listen(std::io::Error),
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("demo setup failed: {0}")]
    Demo(String),
    #[error("configuration: {0}")]
    Config(String),
}

/// An HTTP error answer: a status and a [`shared::ErrorFrame`] body. Server-side failures are logged
/// with their detail and answered generically.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorFrame,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { status, body: ErrorFrame::new(code, message) }
    }
    /// 429 `rate_limited`, to try again after `wait` (the body's `retry_after_ms`, and `Retry-After`).
    pub fn rate_limited(wait: std::time::Duration, message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::TOO_MANY_REQUESTS, body: ErrorFrame::rate_limited(wait, message) }
    }
    pub fn not_authenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::NotAuthenticated, "Log in to continue.")
    }
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(%err, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "The relay failed to handle this request; it has been logged. Please try again.",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "Not found."),
            e => ApiError::internal("store error", e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Whole seconds, at least 1, as HTTP has it.
        match self.body.retry_after_ms {
            Some(ms) => {
                let seconds = ms.div_ceil(1000).max(1);
                (self.status, [(axum::http::header::RETRY_AFTER, seconds.to_string())], Json(self.body)).into_response()
            }
            None => (self.status, Json(self.body)).into_response(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A 429 `rate_limited` answer with `Retry-After` (whole seconds, at least 1): the limits that
/// tell a client when to come back.
pub fn rate_limited(wait: std::time::Duration, message: impl Into<String>) -> Response {
    ApiError::rate_limited(wait, message).into_response()
}
