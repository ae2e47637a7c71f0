//! The dashboard's HTML shell: it loads the hashed dashboard app, under a strict CSP.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::state::AppState;

pub async fn shell(State(state): State<AppState>) -> Response {
    let Some(shell) = state.assets.dashboard_shell.as_ref() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Html("<!doctype html><title>Confab</title><p>This relay was built without the dashboard. Run <code>cargo xtask build-assets</code> and rebuild the relay.</p>"),
        )
            .into_response();
    };
    let mut response = Html(shell.html.clone()).into_response();
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&shell.csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
