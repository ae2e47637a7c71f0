//! Public site information for the widget. Cross-origin: every answer, refusals included, carries
//! CORS headers for the asking page, so the widget can show the relay's reason ("this origin may
//! not embed the site") instead of an opaque network error. The page learns nothing it couldn't
//! learn by trying to connect.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::origin;
use crate::state::AppState;
use crate::ws::visitor::checked_site;

/// `POST /api/v1/sites/{key}/resume`, the body `{"code","token"?}` (as `text/plain`, so the
/// cross-origin request needs no preflight): the code from an e-mail's link and the browser's own
/// visitor token, if it has one. `{"token"}`, a visitor token of this browser's own for the visitor
/// the code was made for; 404 `not_found` for an unknown, used or expired code; 200
/// `{"code": "resume_conflict", "message", "email"}` (masked, no token) when the browser's token is
/// another visitor's who has written: the code is kept, the person chooses.
pub async fn resume(State(state): State<AppState>, Path(key): Path<String>, headers: HeaderMap, body: String) -> Response {
    use crate::notify::resume::{redeem, Redeemed, ResumeRequest};
    let request = ResumeRequest::parse(&body);
    let answer = match checked_site(&state, Some(&key), &headers).await {
        Ok(site) => match redeem(&state, &site, &request).await {
            Ok(Redeemed::Token(token)) => Json(serde_json::json!({ "token": token })).into_response(),
            Ok(Redeemed::Gone) => crate::error::ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                shared::ErrorCode::NotFound,
                "this link has expired or was already used; open the chat to write to us",
            )
            .into_response(),
            // Not an HTTP error: it is the expected answer when a person opens a link in a browser of
            // their own, and a 4xx would print a red line in the shop page's console.
            Ok(Redeemed::Conflict { email }) => Json(serde_json::json!({
                "code": shared::ErrorCode::ResumeConflict,
                "message": "this browser already holds another conversation with messages; nothing was changed. \
                            To open the linked one instead, ask again without this browser's token.",
                "email": email,
            }))
            .into_response(),
            Err(e) => crate::error::ApiError::internal("redeeming a resume code", e).into_response(),
        },
        Err(e) => e.into_response(),
    };
    with_cors(answer, &headers)
}

/// `GET /api/v1/push/key`: `{"public_key"}`, the relay's VAPID public key (base64url, uncompressed
/// P-256 point) that browsers subscribe with; 404 when Web Push is off. Public, readable from any page.
pub async fn push_key(State(state): State<AppState>) -> Response {
    let answer = match crate::notify::pusher(&state).await {
        Some(pusher) => Json(serde_json::json!({ "public_key": pusher.public_key() })).into_response(),
        None => crate::error::ApiError::new(axum::http::StatusCode::NOT_FOUND, shared::ErrorCode::NotFound, "Web Push is off on this relay")
            .into_response(),
    };
    let mut answer = answer;
    answer.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    answer
}

fn with_cors(mut response: Response, headers: &HeaderMap) -> Response {
    if let Some(page) = origin::request_origin(headers).and_then(|o| HeaderValue::from_str(o).ok()) {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, page);
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

pub async fn public_info(State(state): State<AppState>, Path(key): Path<String>, headers: HeaderMap) -> Response {
    let mut response = match checked_site(&state, Some(&key), &headers).await {
        Ok(site) => Json(site.info()).into_response(),
        Err(e) => e.into_response(),
    };
    if let Some(page) = origin::request_origin(&headers).and_then(|o| HeaderValue::from_str(o).ok()) {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, page);
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}
