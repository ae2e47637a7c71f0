//! Public site information for the widget (cross-origin, allowed origins only).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::ApiResult;
use crate::origin;
use crate::state::AppState;
use crate::ws::visitor::checked_site;

pub async fn public_info(State(state): State<AppState>, Path(key): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    let site = checked_site(&state, Some(&key), &headers).await?;
    let mut response = Json(site.info()).into_response();
    if let Some(allowed) = origin::request_origin(&headers).and_then(|o| HeaderValue::from_str(o).ok()) {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(response)
}
