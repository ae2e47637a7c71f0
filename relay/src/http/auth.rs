//! Advisor login, logout and the session extractor.
//!
//! Session: a random token in an HttpOnly, SameSite=Strict cookie; the store keeps its SHA-256.
//! CSRF: SameSite=Strict, plus every state-changing request must be JSON (not a "simple" request a
//! cross-site form can send) and carry a same-origin `Origin`.

use axum::extract::rejection::JsonRejection;
use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shared::{AdvisorInfo, ErrorCode, ErrorFrame};

use crate::error::{ApiError, ApiResult};
use crate::origin;
use crate::secret;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "confab_session";
const SESSION_DAYS: i64 = 14;

#[derive(Deserialize)]
pub struct LoginRequest {
    email: String,
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> ApiResult<Response> {
    require_same_origin(&headers)?;
    let Json(req) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, e.body_text()))?;
    let email = req.email.trim().to_owned();
    let ip = peer.ip();
    if let Err(wait) = state.login_limiter.check(ip, &email, Instant::now()) {
        let seconds = wait.as_secs().max(1);
        let body = ErrorFrame::new(
            ErrorCode::RateLimited,
            format!("Too many failed logins. Try again in {} minute(s).", seconds.div_ceil(60)),
        );
        return Ok((StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, seconds.to_string())], Json(body)).into_response());
    }
    let credentials = state.store.advisor_credentials(&email).await?;
    let password = req.password;
    let verified = tokio::task::spawn_blocking(move || match credentials {
        Some(c) if secret::verify_password(&password, &c.password_hash) => Some((c.info, c.active)),
        Some(_) => None,
        None => {
            secret::burn_password_check(&password);
            None
        }
    })
    .await
    .map_err(|e| ApiError::internal("password check panicked", e))?;
    let Some((advisor, active)) = verified else {
        state.login_limiter.failed(ip, &email, Instant::now());
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::BadCredentials, "wrong e-mail or password"));
    };
    state.login_limiter.succeeded(ip, &email);
    // Said only to someone who knows the password, so it reveals nothing to a guesser.
    if !active {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "This account is deactivated. Ask an admin to reactivate it.",
        ));
    }
    let token = secret::new_token();
    let now = crate::now_ms();
    let max_age = SESSION_DAYS * 24 * 3600;
    state.store.create_session(&secret::token_hash(&token), advisor.id, now, now + max_age * 1000).await?;
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}");
    tracing::info!(advisor = advisor.id.0, "advisor logged in");
    Ok(([(header::SET_COOKIE, cookie)], Json(advisor)).into_response())
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    require_same_origin(&headers)?;
    if let Some(token) = session_token(&headers) {
        state.store.delete_session(&secret::token_hash(token)).await?;
    }
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

pub async fn me(SignedIn(advisor): SignedIn) -> Json<AdvisorInfo> {
    Json(advisor)
}

/// Whether the browser has a session: always 200, `{"advisor": null}` without one. The dashboard
/// asks this on start, where "not logged in" is an expected answer, not an error.
pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<serde_json::Value>> {
    let advisor = match session_token(&headers) {
        Some(token) => state.store.session_advisor(&secret::token_hash(token), crate::now_ms()).await?,
        None => None,
    };
    Ok(Json(serde_json::json!({ "advisor": advisor })))
}

pub(crate) fn require_same_origin(headers: &HeaderMap) -> ApiResult<()> {
    if origin::is_same_origin(headers) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "cross-site request refused: this endpoint only accepts requests from the dashboard's own origin",
        ))
    }
}

pub(crate) fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v: &HeaderValue| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// Extractor: the advisor of the request's session cookie, or 401 `not_authenticated`.
pub struct SignedIn(pub AdvisorInfo);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = session_token(&parts.headers).ok_or_else(ApiError::not_authenticated)?;
        let advisor = state.store.session_advisor(&secret::token_hash(token), crate::now_ms()).await?;
        advisor.map(SignedIn).ok_or_else(ApiError::not_authenticated)
    }
}
