//! Advisor login, logout and the session extractor.
//!
//! Session: a random token in an HttpOnly, SameSite=Strict cookie; the store keeps its SHA-256.
//! CSRF: SameSite=Strict, plus every state-changing request must be JSON (not a "simple" request a
//! cross-site form can send) and carry a same-origin `Origin`.

use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shared::{AdvisorInfo, ErrorCode, ErrorFrame};

use crate::error::{ApiError, ApiResult};
use crate::http::client_ip::{ClientIp, ViaHttps};
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
    client: ClientIp,
    ViaHttps(https): ViaHttps,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> ApiResult<Response> {
    require_same_origin(&headers, state.config.public_url.as_ref())?;
    let Json(req) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, e.body_text()))?;
    let email = req.email.trim().to_owned();
    // Before any count or hash: a megabyte of "e-mail" is not a key worth keeping.
    if email.len() > MAX_EMAIL_BYTES {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("an e-mail address has at most {MAX_EMAIL_BYTES} bytes"),
        ));
    }
    if req.password.len() > secret::MAX_PASSWORD_BYTES {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("a password has at most {} bytes", secret::MAX_PASSWORD_BYTES),
        ));
    }
    // The attempt counts from here, before the hash, so concurrent guesses can't pass as one.
    let attempt = match state.login_limiter.begin(client, &email, Instant::now()) {
        Ok(attempt) => attempt,
        Err(refusal) => return Ok(refusal.response("failed logins")),
    };
    let credentials = state.store.advisor_credentials(&email).await?;
    let stored = credentials.as_ref().map(|c| c.password_hash.clone());
    let verified = match state.passwords.verify(req.password, stored).await {
        Ok(verified) => verified,
        Err(busy) => return Ok(busy.into_response()),
    };
    let Some(credentials) = credentials.filter(|_| verified) else {
        attempt.failed();
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::BadCredentials, "wrong e-mail or password"));
    };
    let (advisor, active, totp_secret) = (credentials.info, credentials.active, credentials.totp_secret);
    // Said only to someone who knows the password, so it reveals nothing to a guesser.
    if !active {
        attempt.succeeded();
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "This account is deactivated. Ask an admin to reactivate it.",
        ));
    }
    let now = crate::now_ms();
    if let Some(totp_secret) = totp_secret {
        let Some(code) = req.code.as_deref().filter(|c| !c.trim().is_empty()) else {
            // The password was right: the attempt neither counts nor clears the count.
            drop(attempt);
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
            attempt.failed();
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::BadCredentials,
                "Wrong or already used two-factor code. Wait for the next code and try again.",
            ));
        }
        attempt.succeeded();
    } else {
        attempt.succeeded();
        let security: SecuritySettings = settings::get(&*state.store).await?;
        if security.require_two_factor {
            let (token, cookie) = new_session_cookie(https, ENROLMENT_MINUTES * 60);
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
    let (token, cookie) = new_session_cookie(https, max_age);
    state.store.create_session(&secret::token_hash(&token), advisor.id, now, now + max_age * 1000).await?;
    tracing::info!(advisor = advisor.id.0, "advisor logged in");
    Ok(([(header::SET_COOKIE, cookie)], Json(advisor)).into_response())
}

/// The longest e-mail address (RFC 5321's path limit; accounts are created within it).
pub const MAX_EMAIL_BYTES: usize = 254;

/// How long a session that may only enrol in two-factor lasts.
const ENROLMENT_MINUTES: i64 = 15;

/// A new session token and its cookie; `Secure` when the browser came over https.
fn new_session_cookie(https: bool, max_age_seconds: i64) -> (String, String) {
    let token = secret::new_token();
    let secure = if https { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_seconds}{secure}");
    (token, cookie)
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    require_same_origin(&headers, state.config.public_url.as_ref())?;
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

pub(crate) fn require_same_origin(headers: &HeaderMap, public_url: Option<&url::Url>) -> ApiResult<()> {
    if origin::is_same_origin(headers, public_url) {
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
