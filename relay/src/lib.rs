//! The Confab relay as a library: [`run`] starts it on any listener, so `main` only reads
//! configuration and tests start as many relays as they like on port 0.

pub mod access;
pub mod admin;
pub mod analytics;
pub mod assets;
pub mod attachments;
pub mod bot;
pub mod channels;
pub mod config;
pub mod conversation;
pub mod customer;
pub mod demo;
pub mod error;
pub mod http;
pub mod hub;
pub mod identity;
pub mod limits;
pub mod notify;
pub mod origin;
pub mod outbound;
pub mod owner_only;
pub mod passwords;
pub mod routing;
pub mod sandbox;
pub mod secret;
pub mod settings;
pub mod state;
pub mod store;
pub mod totp;
pub mod ws;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use error::StartError;
pub use state::AppState;

/// Open the store, then serve until `shutdown` resolves. Open WebSockets are closed with
/// "going away" on shutdown, and the store is closed last.
pub async fn run(config: Config, listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
    let store = config.open_store().await?;
    let state = AppState::new(config, store);
    serve(state, listener, shutdown).await
}

/// Serve an already-built state (the demo seeds the store first).
pub async fn serve(state: AppState, listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
    let addr = listener.local_addr().map_err(StartError::Listen)?;
    tracing::info!(%addr, "relay listening");
    let stopping: CancellationToken = state.stopping.clone();
    let router = http::app(state.clone());
    let result = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping.cancel();
        })
        .await;
    state.stopping.cancel();
    state.store.close().await;
    result.map_err(StartError::Serve)
}

/// Milliseconds since the Unix epoch, the unit of every timestamp Confab stores.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub type SharedStore = Arc<dyn store::Store>;
