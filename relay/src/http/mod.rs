//! HTTP routes. Each module owns its handlers; `app` puts them together.

pub mod admin_api;
pub mod analytics;
pub mod assets;
pub mod auth;
pub mod client_ip;
pub mod customer;
pub mod dashboard;
pub mod inbox_api;
pub mod login_limit;
pub mod sites;
pub mod two_factor;
pub mod webview;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{extract::State, Json, Router};
use shared::ErrorCode;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;
use crate::ws;

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/healthz", get(health))
        .route("/widget.js", get(assets::loader))
        .route("/assets/{name}", get(assets::asset))
        .route("/api/v1/sites/{key}", get(sites::public_info))
        .route("/api/v1/sites/{key}/resume", post(sites::resume))
        .route("/api/v1/push/key", get(sites::push_key))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/me", get(auth::me))
        .route("/api/v1/auth/session", get(auth::session))
        .route("/ws/visitor", get(ws::visitor::upgrade))
        .route("/c/{key}", get(webview::page))
        .route("/webview/bridge.js", get(webview::bridge))
        .route("/ws/advisor", get(ws::advisor::upgrade))
        .route("/dashboard", get(dashboard::shell))
        .route("/dashboard/", get(dashboard::shell))
        .route("/dashboard/{*rest}", get(dashboard::shell))
        .merge(crate::channels::bridge::router())
        .merge(crate::attachments::router())
        .merge(admin_api::router())
        .merge(crate::bot::api::router())
        .merge(analytics::router())
        .merge(customer::router())
        .merge(inbox_api::router())
        .merge(two_factor::router())
        .fallback(not_found)
        // For the CSRF layer, which has no state (see `origin::is_same_origin`).
        .layer(axum::Extension(crate::origin::PublicUrl(state.config.public_url.clone())))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => {
            let (visitors, advisors) = state.hub.counts();
            (StatusCode::OK, Json(serde_json::json!({"status": "ok", "sockets": {"visitors": visitors, "advisors": advisors}})))
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "health check: store unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "store unavailable"}))).into_response()
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such page or endpoint")
}
