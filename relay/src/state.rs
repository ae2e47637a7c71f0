//! What every handler shares.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::assets::AssetTable;
use crate::config::Config;
use crate::conversation::FanoutOrder;
use crate::hub::Hub;
use crate::SharedStore;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: SharedStore,
    pub hub: Arc<Hub>,
    pub assets: Arc<AssetTable>,
    /// Keeps each conversation's live fan-out in seq order (see `conversation::post`).
    pub fanout_order: Arc<FanoutOrder>,
    /// Cancelled when the relay shuts down: open sockets close with "going away".
    pub stopping: CancellationToken,
}

impl AppState {
    pub fn new(config: Config, store: SharedStore) -> Self {
        AppState {
            config: Arc::new(config),
            store,
            hub: Hub::new(),
            assets: Arc::new(AssetTable::load()),
            fanout_order: Arc::new(FanoutOrder::new()),
            stopping: CancellationToken::new(),
        }
    }
}
