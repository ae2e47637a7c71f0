//! The widget loader and the hashed, immutable wasm/JS/CSS files.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::ErrorCode;

use crate::error::ApiError;
use crate::state::AppState;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The loader keeps a stable URL, so it may be cached only briefly: a new release reaches pages
/// within five minutes.
const LOADER_CACHE: &str = "public, max-age=300";

fn assets_missing() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal,
        "this relay was built without the widget and dashboard assets; run `cargo xtask build-assets` and rebuild the relay",
    )
}

pub async fn loader(State(state): State<AppState>) -> Result<Response, ApiError> {
    let body = state.assets.loader.clone().ok_or_else(assets_missing)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static(LOADER_CACHE)),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        body,
    )
        .into_response())
}

pub async fn asset(State(state): State<AppState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let Some(asset) = state.assets.by_served_name(&name) else {
        if state.assets.is_empty() {
            return Err(assets_missing());
        }
        return Err(ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("no asset {name}")));
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        asset.bytes.clone(),
    )
        .into_response())
}
