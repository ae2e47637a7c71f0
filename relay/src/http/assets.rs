//! The widget loader and the hashed, immutable wasm/JS/CSS files, served brotli- or gzip-compressed
//! when the client accepts it (compressed once per file, then kept).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::ErrorCode;

use crate::assets::{Asset, Coding};
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

pub async fn loader(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let asset = state.assets.loader.clone().ok_or_else(assets_missing)?;
    respond(asset, LOADER_CACHE, &headers).await
}

pub async fn asset(State(state): State<AppState>, Path(name): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(asset) = state.assets.by_served_name(&name) else {
        if state.assets.is_empty() {
            return Err(assets_missing());
        }
        return Err(ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("no asset {name}")));
    };
    respond(asset, IMMUTABLE, &headers).await
}

async fn respond(asset: Arc<Asset>, cache: &'static str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let accept = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
    let coding = if asset.compressible() { Coding::negotiate(accept) } else { Coding::Identity };
    let body = if asset.is_compressed(coding) {
        asset.encoded(coding)
    } else {
        let asset = asset.clone();
        tokio::task::spawn_blocking(move || asset.encoded(coding))
            .await
            .map_err(|e| ApiError::internal("compressing an asset", e))?
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::VARY, HeaderValue::from_static("Accept-Encoding")),
        ],
        body,
    )
        .into_response();
    if let Some(encoding) = coding.header() {
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brotli_is_preferred_and_q0_refuses() {
        assert_eq!(Coding::negotiate(Some("gzip, deflate, br, zstd")), Coding::Brotli);
        assert_eq!(Coding::negotiate(Some("gzip")), Coding::Gzip);
        assert_eq!(Coding::negotiate(Some("br;q=0, gzip")), Coding::Gzip);
        assert_eq!(Coding::negotiate(None), Coding::Identity);
        assert_eq!(Coding::negotiate(Some("identity")), Coding::Identity);
    }
}
