//! TOTP two-factor enrolment (`/api/v1/auth/totp/...`): setup hands out a secret once, confirm
//! turns it on with a first code, disable turns it off with a current code. Setup and confirm also
//! accept the enrolment-only session login gives when an admin requires two-factor; confirming
//! upgrades that session to a full one. Same CSRF checks as the admin API.

use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use shared::{AdvisorInfo, ErrorCode};

use crate::error::{ApiError, ApiResult};
use crate::http::admin_api::csrf;
use crate::http::auth::{session_token, SignedIn};
use crate::http::client_ip::ClientIp;
use crate::secret;
use crate::settings::{self, SecuritySettings};
use crate::state::AppState;
use crate::totp;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/totp/setup", post(setup))
        .route("/api/v1/auth/totp/confirm", post(confirm))
        .route("/api/v1/auth/totp/disable", post(disable))
        .route_layer(middleware::from_fn(csrf))
}

/// Extractor: the advisor of a full session or of an enrolment-only one (and its token hash).
struct Enrolling {
    advisor: AdvisorInfo,
    token_hash: Vec<u8>,
    enrol_only: bool,
}

impl FromRequestParts<AppState> for Enrolling {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token_hash = secret::token_hash(session_token(&parts.headers).ok_or_else(ApiError::not_authenticated)?);
        let (advisor, enrol_only) =
            state.store.any_session_advisor(&token_hash, crate::now_ms()).await?.ok_or_else(ApiError::not_authenticated)?;
        Ok(Enrolling { advisor, token_hash, enrol_only })
    }
}

#[derive(Serialize)]
struct Setup {
    /// Base32, for typing into an app by hand. Shown this once.
    secret: String,
    uri: String,
    /// The URI as an SVG QR code.
    #[serde(skip_serializing_if = "Option::is_none")]
    qr_svg: Option<String>,
}

async fn setup(State(state): State<AppState>, who: Enrolling) -> ApiResult<Json<Setup>> {
    if state.store.totp_state(who.advisor.id).await?.secret.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::BadRequest,
            "Two-factor login is already on for this account; turn it off first to set up a new app.",
        ));
    }
    let secret = totp::new_secret();
    state.store.set_totp_pending(who.advisor.id, &secret).await?;
    let uri = totp::otpauth_uri(&who.advisor.email, &secret);
    Ok(Json(Setup { secret: totp::base32(&secret), qr_svg: totp::qr_svg(&uri), uri }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Code {
    code: String,
}

fn bad_code() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::BadCredentials,
        "Wrong or already used code. Check the app's clock and enter its current code.",
    )
}

fn body(req: Result<Json<Code>, JsonRejection>) -> ApiResult<Code> {
    req.map(|Json(c)| c).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, e.body_text()))
}

async fn confirm(
    State(state): State<AppState>,
    client: ClientIp,
    who: Enrolling,
    req: Result<Json<Code>, JsonRejection>,
) -> ApiResult<Response> {
    let req = body(req)?;
    // Code guesses share the login limiter's counts, and count before the code is checked.
    let attempt = match state.login_limiter.begin(client, &who.advisor.email, Instant::now()) {
        Ok(attempt) => attempt,
        Err(refusal) => return Ok(refusal.response("wrong codes")),
    };
    let Some(pending) = state.store.totp_state(who.advisor.id).await?.pending else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "Start the two-factor setup first."));
    };
    let Some(step) = totp::verify(&pending, &req.code, crate::now_ms()) else {
        attempt.failed();
        return Err(bad_code());
    };
    // A right code gives its place back but clears no count: only a full login does.
    drop(attempt);
    state.store.confirm_totp(who.advisor.id, step).await?;
    if who.enrol_only {
        state.store.upgrade_session(&who.token_hash).await?;
    }
    tracing::info!(advisor = who.advisor.id.0, "two-factor login turned on");
    Ok(Json(serde_json::json!({ "two_factor": true })).into_response())
}

async fn disable(
    State(state): State<AppState>,
    client: ClientIp,
    SignedIn(advisor): SignedIn,
    req: Result<Json<Code>, JsonRejection>,
) -> ApiResult<Response> {
    let req = body(req)?;
    // Code guesses share the login limiter's counts, and count before the code is checked.
    let attempt = match state.login_limiter.begin(client, &advisor.email, Instant::now()) {
        Ok(attempt) => attempt,
        Err(refusal) => return Ok(refusal.response("wrong codes")),
    };
    let security: SecuritySettings = settings::get(&*state.store).await?;
    if security.require_two_factor {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Forbidden,
            "Your admin requires two-factor login, so it can't be turned off.",
        ));
    }
    let Some(secret) = state.store.totp_state(advisor.id).await?.secret else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "Two-factor login is not on."));
    };
    let fresh = match totp::verify(&secret, &req.code, crate::now_ms()) {
        Some(step) => state.store.use_totp_step(advisor.id, step).await?,
        None => false,
    };
    if !fresh {
        attempt.failed();
        return Err(bad_code());
    }
    drop(attempt);
    state.store.disable_totp(advisor.id).await?;
    tracing::info!(advisor = advisor.id.0, "two-factor login turned off");
    Ok(Json(serde_json::json!({ "two_factor": false })).into_response())
}
