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
use crate::settings::{self, SecuritySettings};
use crate::state::AppState;
use crate::totp;

pub const SESSION_COOKIE: &str = "confab_session";
const SESSION_DAYS: i64 = 14;

#[derive(Deserialize)]
pub struct LoginRequest {
    email: String,
    password: String,
    /// The TOTP code, for an account with two-factor.
    #[serde(default)]
    code: Option<String>,
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
        Some(c) if secret::verify_password(&password, &c.password_hash) => Some((c.info, c.active, c.totp_secret)),
        Some(_) => None,
        None => {
            secret::burn_password_check(&password);
            None
        }
    })
    .await
    .map_err(|e| ApiError::internal("password check panicked", e))?;
    let Some((advisor, active, totp_secret)) = verified else {
        state.login_limiter.failed(ip, &email, Instant::now());
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::BadCredentials, "wrong e-mail or password"));
    };
    // Said only to someone who knows the password, so it reveals nothing to a guesser.
    if !active {
        state.login_limiter.succeeded(ip, &email);
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "This account is deactivated. Ask an admin to reactivate it.",
        ));
    }
    let now = crate::now_ms();
    if let Some(totp_secret) = totp_secret {
        let Some(code) = req.code.as_deref().filter(|c| !c.trim().is_empty()) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::TotpRequired,
                "Enter the 6-digit code from your authenticator app.",
            ));
        };
        // A wrong code counts like a wrong password: the password alone must not buy unlimited guesses.
        let fresh = match totp::verify(&totp_secret, code, now) {
            Some(step) => state.store.use_totp_step(advisor.id, step).await?,
            None => false,
        };
        if !fresh {
            state.login_limiter.failed(ip, &email, Instant::now());
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::BadCredentials,
                "Wrong or already used two-factor code. Wait for the next code and try again.",
            ));
        }
        state.login_limiter.succeeded(ip, &email);
    } else {
        state.login_limiter.succeeded(ip, &email);
        let security: SecuritySettings = settings::get(&*state.store).await?;
        if security.require_two_factor {
            let (token, cookie) = new_session_cookie(&state, ENROLMENT_MINUTES * 60);
            state.store.create_enrolment_session(&secret::token_hash(&token), advisor.id, now, now + ENROLMENT_MINUTES * 60_000).await?;
            tracing::info!(advisor = advisor.id.0, "password accepted; two-factor enrolment required");
            let body = ErrorFrame::new(
                ErrorCode::TotpEnrolmentRequired,
                "Your admin requires two-factor login: set up an authenticator app to continue.",
            );
            return Ok((StatusCode::FORBIDDEN, [(header::SET_COOKIE, cookie)], Json(body)).into_response());
        }
    }
    let max_age = SESSION_DAYS * 24 * 3600;
    let (token, cookie) = new_session_cookie(&state, max_age);
    state.store.create_session(&secret::token_hash(&token), advisor.id, now, now + max_age * 1000).await?;
    tracing::info!(advisor = advisor.id.0, "advisor logged in");
    Ok(([(header::SET_COOKIE, cookie)], Json(advisor)).into_response())
}

/// How long a session that may only enrol in two-factor lasts.
const ENROLMENT_MINUTES: i64 = 15;

/// A new session token and its cookie.
fn new_session_cookie(state: &AppState, max_age_seconds: i64) -> (String, String) {
    let token = secret::new_token();
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_seconds}{secure}");
    (token, cookie)
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
/// asks this on start, where "not logged in" is an expected answer, not an error. A session that
/// may only enrol in two-factor answers `{"advisor": null, "enrol": true}`.
pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<serde_json::Value>> {
    let found = match session_token(&headers) {
        Some(token) => state.store.any_session_advisor(&secret::token_hash(token), crate::now_ms()).await?,
        None => None,
    };
    Ok(Json(match found {
        Some((advisor, false)) => serde_json::json!({ "advisor": advisor }),
        Some((_, true)) => serde_json::json!({ "advisor": null, "enrol": true }),
        None => serde_json::json!({ "advisor": null }),
    }))
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
