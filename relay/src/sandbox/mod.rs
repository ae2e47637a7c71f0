//! A local stand-in for Meta's side of the WhatsApp Cloud API and the Messenger Platform, so the
//! end-to-end tests and `confab-relay demo` never need a Meta account:
//!
//! * the Graph API routes the relay calls ([`graph`], [`whatsapp`], [`messenger`]), checked the way
//!   the platform checks them and answered in Graph's shapes;
//! * the signed webhooks Meta posts to the relay ([`webhook`]), sent when a test or the phone page
//!   acts as the customer ([`customer`]) and after accepted sends (statuses, echoes);
//! * a "phone" page ([`phone`]) where a person plays a WhatsApp or Messenger user.
//!
//! Everything follows the channel contracts (`shared/channels/CONTRACTS.md`, cited by section) and
//! the fixtures in `relay/tests/fixtures/meta/`.
//!
//! Wiring: bind the relay's and the sandbox's listeners first, so each knows the other's address;
//! start the sandbox with the relay's webhook URLs ([`SandboxConfig::posting_to`] for one URL) and
//! give the relay [`Sandbox::base_url`] as its Graph base URL, with the same app secret and token.

mod customer;
mod graph;
mod media;
mod messenger;
mod phone;
mod webhook;
mod whatsapp;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use customer::{Batching, InteractiveReply, Location, StatusUpdate, WaInbound, WaMessage};
pub use media::MediaFailure;
pub use webhook::{meta_json, signature, Attempt, Handshake, WebhookDelivery, WebhookError};

use phone::Thread;

/// How the sandbox plays Meta. [`Default`] has the fixtures' ids and no webhook URLs; set those.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Where WhatsApp webhooks (`object: whatsapp_business_account`) are posted.
    pub relay_webhook_url_whatsapp: String,
    /// Where Messenger webhooks (`object: page`) are posted; may be the same URL.
    pub relay_webhook_url_messenger: String,
    /// Signs every webhook (`X-Hub-Signature-256`, §2).
    pub app_secret: String,
    /// The only token the Graph routes accept (bearer, or `access_token` where Meta allows it).
    pub access_token: String,
    /// The version used in URLs the sandbox hands out (media URLs); any `vNN.N` is accepted in paths.
    pub api_version: String,
    pub phone_number_id: String,
    /// The business number, digits only, as in webhook `metadata.display_phone_number`.
    pub display_phone_number: String,
    pub page_id: String,
    /// After an accepted send, emit `sent` + `delivered` (WhatsApp) or a delivery watermark (Messenger).
    pub auto_statuses: bool,
    /// `entry[].id` of WhatsApp webhooks (the WhatsApp Business Account id).
    pub waba_id: String,
    /// `app_id` in Messenger echoes.
    pub app_id: String,
    /// The business's name on the phone page.
    pub business_name: String,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            relay_webhook_url_whatsapp: String::new(),
            relay_webhook_url_messenger: String::new(),
            app_secret: "sandbox-app-secret".into(),
            access_token: "sandbox-access-token".into(),
            api_version: "v23.0".into(),
            phone_number_id: "208765432109876".into(),
            display_phone_number: "15550142277".into(),
            page_id: "104455667788990".into(),
            auto_statuses: true,
            waba_id: "310987654321098".into(),
            app_id: "2233445566778899".into(),
            business_name: "Northwind Outfitters".into(),
        }
    }
}

impl SandboxConfig {
    /// The relay's bridge settings for talking to this sandbox at `graph_base_url`: its secret,
    /// ids and token; new customers join the site `channels_site`.
    pub fn meta_args(&self, graph_base_url: &str, verify_token: &str, channels_site: &str) -> crate::config::MetaArgs {
        crate::config::MetaArgs {
            meta_app_secret: Some(self.app_secret.clone()),
            meta_verify_token: Some(verify_token.to_owned()),
            graph_base_url: graph_base_url.to_owned(),
            graph_api_version: self.api_version.clone(),
            whatsapp_phone_number_id: Some(self.phone_number_id.clone()),
            whatsapp_token: Some(self.access_token.clone()),
            messenger_page_id: Some(self.page_id.clone()),
            messenger_token: Some(self.access_token.clone()),
            channels_site: Some(channels_site.to_owned()),
            ..Default::default()
        }
    }

    /// The defaults, with both channels' webhooks posted to `url`.
    pub fn posting_to(url: impl Into<String>) -> Self {
        let url = url.into();
        SandboxConfig { relay_webhook_url_whatsapp: url.clone(), relay_webhook_url_messenger: url, ..Default::default() }
    }
}

/// The two Meta channels the sandbox plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    #[serde(rename = "whatsapp")]
    WhatsApp,
    Messenger,
}

/// A scripted failure for the next send requests (see [`Sandbox::fail_next`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 429: WhatsApp code 130429 (`err_whatsapp_130429.json`), Messenger code 613.
    RateLimited,
    /// HTTP 500, code 2, `is_transient`.
    ServerError,
    /// HTTP 401, code 190 (subcode 463, session expired).
    TokenExpired,
    /// WhatsApp: accepted (200 + wamid), then a `failed` status with 131047.
    /// Messenger: 400, code 10 / subcode 2018278 (`err_messenger_outside_window.json`).
    OutsideWindow,
}

/// One request the sandbox answered on its Graph routes, with the answer it gave.
#[derive(Clone, Debug)]
pub struct ApiCall {
    pub seq: u64,
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    /// The request body parsed as JSON (`None` when empty or not JSON).
    pub body: Option<Value>,
    pub status: u16,
    /// The JSON answer (`None` for a binary one, such as media bytes).
    pub response: Option<Value>,
    pub response_len: usize,
}

impl ApiCall {
    /// A POST that sends a message: not a mark-as-read and not a sender action.
    pub fn is_message_send(&self) -> bool {
        let Some(body) = &self.body else { return false };
        self.method == "POST"
            && self.path.ends_with("/messages")
            && body.get("status").is_none()
            && body.get("sender_action").is_none()
    }

    /// The addressee: WhatsApp `to` (digits only) or Messenger `recipient.id`.
    pub fn recipient(&self) -> Option<String> {
        let body = self.body.as_ref()?;
        if let Some(to) = body.get("to").and_then(Value::as_str) {
            return Some(digits(to));
        }
        body.pointer("/recipient/id").and_then(Value::as_str).map(str::to_owned)
    }

    /// The id the answer gave the message: a wamid or a Messenger mid.
    pub fn message_id(&self) -> Option<&str> {
        let response = self.response.as_ref()?;
        response
            .pointer("/messages/0/id")
            .or_else(|| response.get("message_id"))
            .and_then(Value::as_str)
    }

    /// The text sent: WhatsApp `text.body` or Messenger `message.text`.
    pub fn text(&self) -> Option<&str> {
        let body = self.body.as_ref()?;
        body.pointer("/text/body").or_else(|| body.pointer("/message/text")).and_then(Value::as_str)
    }

    /// The Graph error code of the answer, if it was an error.
    pub fn error_code(&self) -> Option<i64> {
        self.response.as_ref()?.pointer("/error/code").and_then(Value::as_i64)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A running sandbox. Cheap to clone; every clone drives the same server.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    config: SandboxConfig,
    base_url: String,
    http: reqwest::Client,
    world: Mutex<World>,
    /// Bumped on every recorded call or webhook, so `wait_for` wakes up.
    changed: watch::Sender<u64>,
    shutdown: CancellationToken,
    files: media::Files,
}

/// Everything the sandbox remembers. Locked briefly, never across an `.await`.
#[derive(Default)]
struct World {
    seq: u64,
    calls: Vec<ApiCall>,
    webhooks: Vec<WebhookDelivery>,
    failures: VecDeque<Failure>,
    media_failures: VecDeque<media::MediaFailure>,
    /// Last customer message per user (wa_id or PSID), ms: the 24 h / 7 day windows.
    last_inbound: HashMap<String, i64>,
    threads: HashMap<(Channel, String), Thread>,
    media: HashMap<String, media::Item>,
    /// Accepted sends: message id → (channel, user), to address statuses and deliveries.
    outbound: HashMap<String, (Channel, String)>,
    /// Display names of Messenger users, for the profile route.
    profiles: HashMap<String, String>,
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Serve the sandbox on `listener` until `shutdown` is cancelled.
pub async fn start(listener: TcpListener, config: SandboxConfig, shutdown: CancellationToken) -> std::io::Result<Sandbox> {
    let base_url = http_url(listener.local_addr()?);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .user_agent("facebookexternalua")
        .build()
        .map_err(std::io::Error::other)?;
    let sandbox = Sandbox {
        inner: Arc::new(Inner {
            config,
            base_url: base_url.clone(),
            http,
            world: Mutex::new(World::default()),
            changed: watch::channel(0).0,
            shutdown: shutdown.clone(),
            files: media::Files::generate(),
        }),
    };
    let app = app(sandbox.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await {
            tracing::error!(error = %e, "Graph API sandbox stopped");
        }
    });
    tracing::info!(%base_url, "Graph API sandbox listening");
    Ok(sandbox)
}

fn app(sandbox: Sandbox) -> Router {
    Router::new().merge(phone::router(sandbox.clone())).merge(graph::router(sandbox))
}

fn http_url(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
    format!("http://{host}:{}", addr.port())
}

/// Digits only: `+55 11 98765-4321` → `5511987654321`.
fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

impl Sandbox {
    /// `http://127.0.0.1:<port>`: the Graph base URL to give the relay (instead of
    /// `https://graph.facebook.com`), and the host of the phone page.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The phone page, where a person plays the customer.
    pub fn phone_url(&self) -> String {
        format!("{}/phone", self.inner.base_url)
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Answer the next `n` send requests (messages, not mark-as-read or sender actions) with `failure`.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        self.world().failures.extend(std::iter::repeat_n(failure, n));
    }

    /// Pretend `user` (a wa_id or PSID) last wrote at `at_ms`, to put them inside or outside a window.
    pub fn set_last_inbound(&self, user: &str, at_ms: i64) {
        self.world().last_inbound.insert(user.to_owned(), at_ms);
    }

    /// The name the Messenger profile route gives `psid`.
    pub fn set_messenger_name(&self, psid: &str, name: &str) {
        self.world().profiles.insert(psid.to_owned(), name.to_owned());
    }

    /// Every request answered on the Graph routes, oldest first.
    pub fn requests(&self) -> Vec<ApiCall> {
        self.world().calls.clone()
    }

    /// Message sends addressed to `user` (a wa_id or PSID), accepted or refused.
    pub fn sends_to(&self, user: &str) -> Vec<ApiCall> {
        let user = user.to_owned();
        self.world()
            .calls
            .iter()
            .filter(|c| c.is_message_send() && c.recipient().as_deref() == Some(&user))
            .cloned()
            .collect()
    }

    /// Every webhook posted to the relay (customer messages, statuses, echoes, replays), oldest first.
    pub fn webhooks(&self) -> Vec<WebhookDelivery> {
        self.world().webhooks.clone()
    }

    /// The first recorded request (already recorded or arriving within `timeout`) matching `predicate`.
    pub async fn wait_for(&self, mut predicate: impl FnMut(&ApiCall) -> bool, timeout: Duration) -> Option<ApiCall> {
        self.wait(|w| w.calls.iter().find(|c| predicate(c)).cloned(), timeout).await
    }

    /// The first webhook (already posted or posted within `timeout`) matching `predicate`.
    pub async fn wait_for_webhook(
        &self,
        mut predicate: impl FnMut(&WebhookDelivery) -> bool,
        timeout: Duration,
    ) -> Option<WebhookDelivery> {
        self.wait(|w| w.webhooks.iter().find(|d| predicate(d)).cloned(), timeout).await
    }

    async fn wait<T>(&self, mut probe: impl FnMut(&World) -> Option<T>, timeout: Duration) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.inner.changed.subscribe();
        loop {
            changes.borrow_and_update();
            let found = probe(&self.world());
            if found.is_some() {
                return found;
            }
            // The sender lives in `Inner`, which `self` keeps alive: `changed` only ends by timeout.
            if tokio::time::timeout_at(deadline, changes.changed()).await.is_err() {
                return None;
            }
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        // A panic elsewhere while holding the lock leaves plain data behind; keep serving it.
        self.inner.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record_call(&self, mut call: ApiCall) {
        {
            let mut world = self.world();
            world.seq += 1;
            call.seq = world.seq;
            world.calls.push(call);
        }
        self.inner.changed.send_modify(|v| *v += 1);
    }

    fn record_webhook(&self, mut delivery: WebhookDelivery) -> WebhookDelivery {
        {
            let mut world = self.world();
            world.seq += 1;
            delivery.seq = world.seq;
            world.webhooks.push(delivery.clone());
        }
        self.inner.changed.send_modify(|v| *v += 1);
        delivery
    }

    fn take_failure(&self) -> Option<Failure> {
        self.world().failures.pop_front()
    }

    /// Whether `user` wrote within `window_ms` of `now`.
    fn within_window(&self, user: &str, now: i64, window_ms: i64) -> bool {
        self.world().last_inbound.get(user).is_some_and(|&at| now - at <= window_ms)
    }

    fn note_inbound(&self, user: &str, at_ms: i64) {
        self.world().last_inbound.insert(user.to_owned(), at_ms);
    }

    /// Run `task` in the background until it ends or the sandbox shuts down.
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let shutdown = self.inner.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = task => {}
            }
        });
    }
}
