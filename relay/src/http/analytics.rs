//! `GET /api/v1/analytics`: the figures of the analytics page as JSON (docs/ANALYTICS.md). Any
//! signed-in advisor may ask; the figures only cover the conversations they may see
//! ([`crate::access::Viewer`]).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use shared::analytics::AnalyticsReport;
use shared::ErrorCode;

use crate::access::Viewer;
use crate::analytics::{self, Period};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::SignedIn;
use crate::state::AppState;
use crate::store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/analytics", get(report))
}

/// Everything as text, so that a bad value gets our own message rather than the extractor's.
#[derive(Deserialize)]
struct Params {
    from: Option<String>,
    to: Option<String>,
    tz_offset_min: Option<String>,
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
}

async fn report(
    State(state): State<AppState>,
    SignedIn(advisor): SignedIn,
    params: Result<Query<Params>, QueryRejection>,
) -> ApiResult<Json<AnalyticsReport>> {
    let Query(params) = params.map_err(|e| bad_request(e.body_text()))?;
    let offset = match params.tz_offset_min.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(s.parse::<i32>().map_err(|_| {
            bad_request(format!("`tz_offset_min` must be a whole number of minutes east of UTC (120 for UTC+2), not {s:?}"))
        })?),
        None => None,
    };
    let now = crate::now_ms();
    let period = Period::parse(params.from.as_deref(), params.to.as_deref(), offset, now).map_err(|e| bad_request(e.to_string()))?;
    let viewer = Viewer::load(&state, advisor.id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_authenticated(),
        e => e.into(),
    })?;
    let rows = state.store.analytics_rows(&viewer, period.start_ms(), period.end_ms()).await?;
    Ok(Json(analytics::compute(&rows, &period, now)))
}
