//! What every handler shares.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::assets::AssetTable;
use crate::config::Config;
use crate::conversation::{FanoutOrder, InboxUpdates};
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
    /// Coalesces inbox-row updates (see `conversation::InboxUpdates`).
    pub inbox_updates: Arc<InboxUpdates>,
    /// Cancelled when the relay shuts down: open sockets close with "going away".
    pub stopping: CancellationToken,
    /// The WhatsApp/Messenger bridge, when configured.
    pub bridge: Option<Arc<crate::channels::bridge::Bridge>>,
    /// Attachment files, and the media worker's wake-up.
    pub attachments: Arc<crate::attachments::Attachments>,
    /// Failed-login counts (in this node's memory).
    pub login_limiter: Arc<crate::http::login_limit::LoginLimiter>,
    /// Password hashes for requests, a bounded number at once.
    pub passwords: Arc<crate::passwords::PasswordHashing>,
    /// What anonymous visitors may do (this node's counts).
    pub limits: Arc<crate::limits::Limits>,
    /// Wakes the router: something it depends on changed (see `routing::changed`).
    pub routing_wake: Arc<tokio::sync::Notify>,
    /// Live routing state: tabs, waiting visitors' places, the roster (see `routing::router`).
    pub router: Arc<crate::routing::router::Router>,
    /// E-mails visitors who left when they get a reply (see `notify`).
    pub notifier: Arc<crate::notify::Notifier>,
    /// The policy every visitor-, admin- or platform-supplied URL is fetched under.
    pub outbound: Arc<crate::outbound::Outbound>,
}

impl AppState {
    /// Build the state and start its background task (inbox updates). Needs a Tokio runtime.
    pub fn new(config: Config, store: SharedStore) -> Self {
        let bridge = config.meta.clone().map(crate::channels::bridge::Bridge::new);
        let attachments = Arc::new(crate::attachments::Attachments::new(&config.data_dir));
        let notifier = Arc::new(crate::notify::Notifier::new(&config.notify));
        let limits = crate::limits::Limits::new(config.limits.clone());
        let login_limiter = Arc::new(crate::http::login_limit::LoginLimiter::new(config.login.limits));
        let passwords = Arc::new(crate::passwords::PasswordHashing::new(config.login.hashes_at_once, crate::passwords::TURN_WAIT));
        let outbound = Arc::new(crate::outbound::Outbound::new(config.outbound.clone()));
        let state = AppState {
            config: Arc::new(config),
            store,
            hub: Hub::new(),
            assets: Arc::new(AssetTable::load()),
            fanout_order: Arc::new(FanoutOrder::new()),
            inbox_updates: Arc::new(InboxUpdates::new()),
            stopping: CancellationToken::new(),
            bridge,
            attachments,
            login_limiter,
            passwords,
            limits,
            routing_wake: Arc::default(),
            router: Arc::default(),
            notifier,
            outbound,
        };
        tokio::spawn(state.inbox_updates.clone().run(state.store.clone(), state.hub.clone(), state.stopping.clone()));
        tokio::spawn(crate::conversation::wake_snoozed(state.clone()));
        tokio::spawn(crate::routing::router::run(state.clone()));
        tokio::spawn(crate::attachments::upload::sweep_unsent(state.clone()));
        tokio::spawn(crate::limits::forget_silent_visitors(state.clone()));
        tokio::spawn(crate::notify::run(state.clone()));
        crate::channels::bridge::start(&state);
        state
    }
}
