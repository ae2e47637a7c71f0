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
