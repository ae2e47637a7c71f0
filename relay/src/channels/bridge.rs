//! The WhatsApp / Messenger bridge: the I/O around the pure [`meta`](super::meta) module.
//!
//! - **Webhooks** (`/webhooks/whatsapp`, `/webhooks/messenger`): the `GET` handshake; a `POST` is
//!   verified on its raw bytes, stored as received and answered 200 at once. A worker then parses
//!   it and applies every event: a customer's message takes the same path as a web visitor's
//!   (commit, fan-out to advisors), deduplicated by its platform id (it is the message's client
//!   id, so a redelivery is a retry of a stored message); statuses move a reply's state forward
//!   only. A restart finishes whatever was stored but not processed.
//! - **Outbox**: an advisor's reply to a platform customer is committed with an outbox entry in
//!   the same transaction; a worker sends it, retries temporary failures with backoff, and marks a
//!   permanent failure on the message with the platform's reason in plain words.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use shared::{
    Author, Channel, ChannelStatus, ClientMsgId, ContinueLink, ConversationId, ErrorCode, ErrorFrame, PlatformDelivery,
    PlatformState, TemplateInfo, TemplateSend,
};
use tokio::sync::Notify;

use super::meta::{self, DeliveryStatus, GraphApi, InboundEvent, SendFailure, SubscriptionQuery, WatermarkKind};
use super::link;
use crate::config::MetaArgs;
use crate::error::StartError;
use crate::conversation;
use crate::hub::Event;
use crate::state::AppState;
use crate::store::{NewMessage, OutboxItem, PlatformPart, ReplyTarget, SiteId};

/// The bridge's settings (see [`MetaArgs`]).
#[derive(Debug, Clone)]
pub struct MetaConfig {
    pub app_secret: String,
    pub verify_token: String,
    pub graph: GraphApi,
    pub whatsapp: Option<Account>,
    pub messenger: Option<Account>,
    pub channels_site: Option<String>,
    /// The number "Continue on WhatsApp" links open (no link without it).
    pub whatsapp_number: Option<String>,
    /// Approved WhatsApp templates advisors may send outside the window.
    pub templates: Vec<TemplateInfo>,
    pub wa_me_url: url::Url,
    pub m_me_url: url::Url,
}

/// One sending account: the phone number id or page id, and its access token.
#[derive(Clone)]
pub struct Account {
    pub id: String,
    pub token: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never log a token.
        f.debug_struct("Account").field("id", &self.id).field("token", &"…").finish()
    }
}

impl MetaConfig {
    /// The bridge is on when the app secret and verify token are both set. A settings error (an
    /// unreadable templates file, an unusable URL) stops the relay with what to fix.
    pub fn from_args(args: &MetaArgs) -> Result<Option<Self>, StartError> {
        let (Some(app_secret), Some(verify_token)) = (args.meta_app_secret.clone(), args.meta_verify_token.clone()) else {
            return Ok(None);
        };
        let graph = GraphApi::new(&args.graph_base_url, &args.graph_api_version)
            .map_err(|e| StartError::Config(format!("--graph-base-url / --graph-api-version: {e}")))?;
        let account = |id: &Option<String>, token: &Option<String>| match (id, token) {
            (Some(id), Some(token)) => Some(Account { id: id.clone(), token: token.clone() }),
            _ => None,
        };
        let templates = match &args.whatsapp_templates {
            Some(path) => load_templates(path)?,
            None => Vec::new(),
        };
        Ok(Some(MetaConfig {
            app_secret,
            verify_token,
            graph,
            whatsapp: account(&args.whatsapp_phone_number_id, &args.whatsapp_token),
            messenger: account(&args.messenger_page_id, &args.messenger_token),
            channels_site: args.channels_site.clone(),
            whatsapp_number: args.whatsapp_number.clone().filter(|n| n.chars().any(|c| c.is_ascii_digit())),
            templates,
            wa_me_url: args.wa_me_url.clone(),
            m_me_url: args.m_me_url.clone(),
        }))
    }

    fn account(&self, channel: Channel) -> Option<&Account> {
        match channel {
            Channel::Whatsapp => self.whatsapp.as_ref(),
            Channel::Messenger => self.messenger.as_ref(),
            _ => None,
        }
    }
}

/// The templates file: a JSON array of `{name, language, text}`.
fn load_templates(path: &std::path::Path) -> Result<Vec<TemplateInfo>, StartError> {
    let bytes = std::fs::read(path)
        .map_err(|e| StartError::Config(format!("cannot read the WhatsApp templates file {}: {e}", path.display())))?;
    let templates: Vec<TemplateInfo> = serde_json::from_slice(&bytes).map_err(|e| {
        StartError::Config(format!(
            "the WhatsApp templates file {} is not a JSON list of {{\"name\", \"language\", \"text\"}}: {e}",
            path.display()
        ))
    })?;
    if let Some(t) = templates.iter().find(|t| t.name.trim().is_empty() || t.language.trim().is_empty()) {
        return Err(StartError::Config(format!("a WhatsApp template in {} has no name or language: {t:?}", path.display())));
    }
    Ok(templates)
}

/// The running bridge: its settings, an HTTP client, the workers' wake-ups, and what advisors
/// must know about the accounts.
pub struct Bridge {
    pub config: MetaConfig,
    http: reqwest::Client,
    webhooks: Notify,
    outbox: Notify,
    /// Per channel, a problem only an administrator can fix (shown to every advisor).
    alerts: Mutex<HashMap<Channel, String>>,
    /// Per conversation, the platform message last marked read, and when a typing indicator was
    /// last sent (so neither is repeated needlessly).
    receipts: Mutex<HashMap<ConversationId, Receipts>>,
    /// Messenger customers whose profile name was already asked for.
    profiles_asked: Mutex<std::collections::HashSet<String>>,
    /// The site platform customers join, once found (sites are never deleted, and the oldest one
    /// stays the oldest): asked on every visitor hello and every platform message.
    channels_site: std::sync::OnceLock<SiteId>,
}

#[derive(Default)]
struct Receipts {
    read: Option<String>,
    typing_at: i64,
}

impl Bridge {
    pub fn new(config: MetaConfig) -> Arc<Self> {
        let http = reqwest::Client::builder().timeout(SEND_TIMEOUT).build().unwrap_or_default();
        Arc::new(Bridge {
            config,
            http,
            webhooks: Notify::new(),
            outbox: Notify::new(),
            alerts: Mutex::new(HashMap::new()),
            receipts: Mutex::new(HashMap::new()),
            profiles_asked: Mutex::new(Default::default()),
            channels_site: std::sync::OnceLock::new(),
        })
    }

    /// A reply was committed with an outbox entry: send it now.
    pub fn wake_outbox(&self) {
        self.outbox.notify_one();
    }

    /// The connected channels as advisors see them: alerts, and WhatsApp's templates.
    pub fn statuses(&self) -> Vec<ChannelStatus> {
        let alerts = self.alerts.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for channel in [Channel::Whatsapp, Channel::Messenger] {
            if self.config.account(channel).is_none() {
                continue;
            }
            out.push(ChannelStatus {
                channel,
                alert: alerts.get(&channel).cloned(),
                templates: if channel == Channel::Whatsapp { self.config.templates.clone() } else { Vec::new() },
            });
        }
        out
    }

    /// Raise (Some) or clear (None) a channel's alert; true when that changed it.
    fn set_alert(&self, channel: Channel, alert: Option<String>) -> bool {
        let mut alerts = self.alerts.lock().unwrap_or_else(|e| e.into_inner());
        let changed = alerts.get(&channel) != alert.as_ref();
        match alert {
            Some(a) => alerts.insert(channel, a),
            None => alerts.remove(&channel),
        };
        changed
    }
}

/// Raise or clear a channel's alert and tell every dashboard when that changed something.
fn alert(state: &AppState, bridge: &Bridge, channel: Channel, alert: Option<String>) {
    if let Some(a) = &alert {
        tracing::error!(?channel, alert = %a, "a channel needs an administrator");
    }
    if bridge.set_alert(channel, alert) {
        state.hub.to_advisors(Event::Channels(bridge.statuses()));
    }
}

/// A send that takes longer is retried. The platform may already have it: Meta's send API has no
/// idempotency key, so a timed-out send is the one case where a customer could get a reply twice.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts before a temporarily failing reply is marked failed.
const MAX_ATTEMPTS: u32 = 8;
/// The outbox looks for due retries at least this often.
const OUTBOX_POLL: Duration = Duration::from_secs(1);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/whatsapp", get(handshake).post(webhook_whatsapp))
        .route("/webhooks/messenger", get(handshake).post(webhook_messenger))
}

/// Start the workers: webhooks, outbox, media downloads (after a restart they pick up what was
/// stored and not yet done).
pub fn start(state: &AppState) {
    let Some(bridge) = state.bridge.clone() else { return };
    let s = state.clone();
    let b = bridge.clone();
    tokio::spawn(async move { process_webhooks(s, b).await });
    let s = state.clone();
    let b = bridge.clone();
    tokio::spawn(async move { run_outbox(s, b).await });
    let s = state.clone();
    tokio::spawn(async move { crate::attachments::worker::run(s, bridge).await });
}

async fn handshake(State(state): State<AppState>, Query(query): Query<SubscriptionQuery>) -> Response {
    let Some(bridge) = &state.bridge else { return StatusCode::NOT_FOUND.into_response() };
    match meta::verify_subscription(&query, &bridge.config.verify_token) {
        Ok(challenge) => (StatusCode::OK, [("content-type", "text/plain")], challenge).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "webhook subscription refused");
            StatusCode::FORBIDDEN.into_response()
        }
    }
}

async fn webhook_whatsapp(state: State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    receive(state, headers, body, "whatsapp").await
}

async fn webhook_messenger(state: State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    receive(state, headers, body, "messenger").await
}

/// Verify on the raw bytes, store, answer; processing happens after.
async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes, channel: &str) -> Response {
    let Some(bridge) = &state.bridge else { return StatusCode::NOT_FOUND.into_response() };
    let header = headers.get(meta::SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if let Err(e) = meta::verify_signature(bridge.config.app_secret.as_bytes(), header, &body) {
        tracing::warn!(error = %e, channel, bytes = body.len(), "webhook refused: bad signature; nothing stored");
        return (StatusCode::UNAUTHORIZED, "invalid X-Hub-Signature-256").into_response();
    }
    match state.store.record_webhook(channel, &body, crate::now_ms()).await {
        Ok(_) => {
            bridge.webhooks.notify_one();
            StatusCode::OK.into_response()
        }
        Err(e) => {
            // Not stored: a non-2xx makes the platform deliver it again.
            tracing::error!(error = %e, channel, "could not store a webhook; the platform will redeliver it");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn process_webhooks(state: AppState, bridge: Arc<Bridge>) {
    loop {
        loop {
            let pending = match state.store.pending_webhooks(32).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "could not read stored webhooks");
                    break;
                }
            };
            if pending.is_empty() {
                break;
            }
            for event in pending {
                // Applying is idempotent (messages dedup by platform id, statuses only move
                // forward), so a batch that failed part-way (a busy database) is applied again.
                let mut attempt = 0;
                let error = loop {
                    match apply_webhook(&state, &bridge, &event.body).await {
                        Ok(()) => break None,
                        Err(Unapplied::Unreadable(e)) => break Some(e),
                        Err(Unapplied::Failed(e)) if attempt + 1 >= WEBHOOK_ATTEMPTS || state.stopping.is_cancelled() => {
                            break Some(e)
                        }
                        Err(Unapplied::Failed(e)) => {
                            tracing::info!(error = %e, id = event.id, attempt, "a webhook will be applied again");
                            tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                            attempt += 1;
                        }
                    }
                };
                if let Some(e) = &error {
                    tracing::warn!(error = %e, id = event.id, channel = %event.channel, "a webhook could not be applied");
                }
                if let Err(e) = state.store.finish_webhook(event.id, error.as_deref(), crate::now_ms()).await {
                    tracing::error!(error = %e, "could not mark a webhook processed");
                }
            }
        }
        tokio::select! {
            _ = state.stopping.cancelled() => return,
            _ = bridge.webhooks.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Apply every event of a stored webhook. An event that fails is logged and the others still apply.
/// Tries at applying a stored webhook whose events failed, before it is set aside with the error.
const WEBHOOK_ATTEMPTS: u32 = 5;

enum Unapplied {
    /// Not a payload the parser understands: trying again changes nothing.
    Unreadable(String),
    /// Some events failed (e.g. the database was busy); the others applied.
    Failed(String),
}

async fn apply_webhook(state: &AppState, bridge: &Bridge, body: &[u8]) -> Result<(), Unapplied> {
    let batch = meta::parse_webhook(body).map_err(|e| Unapplied::Unreadable(e.to_string()))?;
    for skipped in &batch.skipped {
        tracing::info!(channel = ?skipped.channel, reason = ?skipped.reason, "webhook item skipped");
    }
    let mut failures = Vec::new();
    for event in batch.events {
        if let Err(e) = apply_event(state, bridge, event).await {
            failures.push(e);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Unapplied::Failed(failures.join("; ")))
    }
}

async fn apply_event(state: &AppState, bridge: &Bridge, event: InboundEvent) -> Result<(), String> {
    match event {
        InboundEvent::Message(m) => {
            let site = channels_site(state, bridge).await?;
            let store = &state.store;
            let now = crate::now_ms();
            // A "Continue on …" code (in the text wa.me prefilled, or m.me's ref) joins this
            // identity to the conversation it came from.
            let code = match m.channel {
                Channel::Messenger => m.referral.clone(),
                _ => match &m.body {
                    meta::InboundBody::Text { text } => link::find_code(text),
                    _ => None,
                },
            };
            if let Some(code) = code {
                redeem(state, &code, m.channel, &m.account, &m.sender, m.sender_name.as_deref()).await?;
            }
            let conversation = store
                .channel_customer(site, m.channel, &m.account, &m.sender, m.sender_name.as_deref(), now)
                .await
                .map_err(|e| e.to_string())?;
            if m.channel == Channel::Messenger {
                // Messenger payloads carry no name: ask the profile API, once per customer.
                messenger_name(state, bridge, &m.account, &m.sender, conversation).await;
            }
            store.note_inbound(m.channel, &m.account, &m.sender, m.timestamp_ms).await.map_err(|e| e.to_string())?;
            let mut text = m.body.display_text();
            if text.trim().is_empty() {
                text = "(empty message)".into();
            }
            let text: String = text.chars().take(shared::limits::MAX_TEXT_CHARS).collect();
            // A photo or file is committed `pending` with its message; the media worker fetches it.
            let attachments = crate::attachments::from_inbound(&m);
            let fetch = !attachments.is_empty();
            let new = NewMessage {
                conversation,
                id: platform_client_id(&m.platform_id),
                author: Author::Visitor,
                channel: m.channel,
                text,
                now,
                delivered: state.hub.advisors_online(),
                platform: Some(PlatformPart {
                    platform_id: Some(m.platform_id.clone()),
                    state: PlatformState::Received,
                    outbox: None,
                    template: None,
                }),
                attachments,
                note: false,
            };
            conversation::commit(state, new, None).await.map_err(|e| e.to_string())?;
            if fetch {
                state.attachments.wake();
            }
            // The window moved: the inbox row shows it.
            conversation::announce_conversation(state, conversation).await;
            Ok(())
        }
        InboundEvent::Status(s) => {
            let (platform_state, error) = match &s.status {
                DeliveryStatus::Sent => (PlatformState::Sent, None),
                DeliveryStatus::Delivered => (PlatformState::Delivered, None),
                DeliveryStatus::Read => (PlatformState::Read, None),
                DeliveryStatus::Failed { .. } => {
                    (PlatformState::Failed, Some(s.failure().map(|f| f.reason().to_owned()).unwrap_or_default()))
                }
            };
            report(state, &s.platform_id, platform_state, error.as_deref()).await
        }
        InboundEvent::Watermark(w) => {
            let platform_state = match w.kind {
                WatermarkKind::Delivered => PlatformState::Delivered,
                WatermarkKind::Read => PlatformState::Read,
            };
            for mid in &w.mids {
                report(state, mid, platform_state, None).await?;
            }
            // `mids` is optional on delivery receipts and absent on read receipts: the watermark
            // covers every reply sent to this customer at or before it.
            let changed = state
                .store
                .apply_watermark(w.channel, &w.account, &w.sender, w.watermark_ms, platform_state)
                .await
                .map_err(|e| e.to_string())?;
            for (conversation, seq, delivery) in changed {
                crate::access::ensure_scope(state, conversation).await;
                state.hub.to_advisors(Event::PlatformDelivery { conversation, seq, delivery });
            }
            Ok(())
        }
        // An m.me link opened in an existing Messenger thread: its ref may be a link code.
        InboundEvent::Referral(r) => {
            if let Some(code) = &r.ref_param {
                redeem(state, code, r.channel, &r.account, &r.sender, None).await?;
            }
            Ok(())
        }
        // The Page's own sends come back as echoes: the relay's are already stored (matched by
        // mid); sends from other apps (the Page inbox) are not brought in yet.
        InboundEvent::Echo(_) => Ok(()),
        InboundEvent::AccountError(e) => {
            let what = [e.title.as_deref(), e.details.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(": ");
            let code = e.code.map(|c| format!(" (code {c})")).unwrap_or_default();
            let text = format!("{} reported a problem with the business account{code}: {what}", super::platform_name(e.channel));
            alert(state, bridge, e.channel, Some(text));
            Ok(())
        }
    }
}

/// Apply a platform's report on a message and tell the advisors.
async fn report(state: &AppState, platform_id: &str, platform_state: PlatformState, error: Option<&str>) -> Result<(), String> {
    match state.store.set_platform_state(platform_id, platform_state, error).await {
        Ok(Some((conversation, seq, delivery))) => {
            crate::access::ensure_scope(state, conversation).await;
            state.hub.to_advisors(Event::PlatformDelivery { conversation, seq, delivery });
            Ok(())
        }
        Ok(None) => Ok(()), // unknown id, or older than what we have
        Err(e) => Err(e.to_string()),
    }
}

/// Look up a new Messenger customer's name (best effort: without the permission, or if Meta is
/// slow, they stay "Visitor N"). Asked once per PSID per run.
async fn messenger_name(state: &AppState, bridge: &Bridge, account: &str, psid: &str, conversation: ConversationId) {
    if !bridge.profiles_asked.lock().unwrap_or_else(|e| e.into_inner()).insert(psid.to_owned()) {
        return;
    }
    let Some(page) = bridge.config.account(Channel::Messenger) else { return };
    let url = bridge.config.graph.messenger_profile_url(psid);
    let request = bridge.http.get(url).bearer_auth(&page.token).timeout(Duration::from_secs(3)).send();
    let profile: serde_json::Value = match request.await {
        Ok(r) if r.status().is_success() => r.json().await.unwrap_or_default(),
        Ok(r) => {
            tracing::info!(status = r.status().as_u16(), "no Messenger profile name (the app may lack the permission)");
            return;
        }
        Err(e) => {
            tracing::info!(error = super::network_error(&e), "the Messenger profile could not be fetched");
            return;
        }
    };
    let name = [profile["first_name"].as_str(), profile["last_name"].as_str()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        return;
    }
    let name: String = name.chars().take(100).collect();
    match state.store.name_channel_customer(Channel::Messenger, account, psid, &name).await {
        Ok(true) => conversation::announce_conversation(state, conversation).await,
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not store a Messenger customer's name"),
    }
}

/// Use a link code, if it is live; both conversations' inbox rows change.
async fn redeem(state: &AppState, code: &str, channel: Channel, account: &str, sender: &str, name: Option<&str>) -> Result<(), String> {
    let linked = state
        .store
        .redeem_link_code(code, channel, account, sender, name, crate::now_ms())
        .await
        .map_err(|e| e.to_string())?;
    if let Some(linked) = linked {
        tracing::info!(?channel, conversation = %linked.conversation, "a link code joined a channel identity to a conversation");
        conversation::announce_conversation(state, linked.conversation).await;
        if let Some(previous) = linked.previous {
            conversation::announce_conversation(state, previous).await;
        }
    }
    Ok(())
}

/// The visitor's "Continue on WhatsApp / Messenger" links, each with this conversation's code.
/// Empty when the bridge is off, the site is not the one platform customers join, or no account
/// is set up for links.
pub async fn continue_links(state: &AppState, site: SiteId, site_name: &str, conversation: ConversationId) -> Vec<ContinueLink> {
    let Some(bridge) = &state.bridge else { return Vec::new() };
    match channels_site(state, bridge).await {
        Ok(id) if id == site => {}
        _ => return Vec::new(),
    }
    let config = &bridge.config;
    let now = crate::now_ms();
    let mut links = Vec::new();
    for channel in [Channel::Whatsapp, Channel::Messenger] {
        let Some(account) = config.account(channel) else { continue };
        if channel == Channel::Whatsapp && config.whatsapp_number.is_none() {
            continue;
        }
        let code = match state.store.link_code(conversation, channel, now).await {
            Ok(code) => code,
            Err(e) => {
                tracing::warn!(error = %e, %conversation, "could not make a link code; no continue link offered");
                continue;
            }
        };
        let url = match (channel, &config.whatsapp_number) {
            (Channel::Whatsapp, Some(number)) => {
                link::whatsapp_link(&config.wa_me_url, number, &link::whatsapp_prefill(site_name, &code))
            }
            _ => link::messenger_link(&config.m_me_url, &account.id, &code),
        };
        links.push(ContinueLink { channel, url: url.to_string() });
    }
    links
}

/// Undo a link; both conversations' rows change.
pub async fn unlink(state: &AppState, conversation: ConversationId, identity: i64) -> Result<(), ErrorFrame> {
    match state.store.unlink_identity(conversation, identity, crate::now_ms()).await {
        Ok(to) => {
            tracing::info!(%conversation, identity, %to, "an advisor unlinked a channel identity");
            conversation::announce_conversation(state, conversation).await;
            conversation::announce_conversation(state, to).await;
            Ok(())
        }
        Err(crate::store::StoreError::NotFound) => Err(ErrorFrame::new(
            ErrorCode::NotFound,
            "this conversation has no such linked channel (it may have been unlinked already)",
        )),
        Err(e) => {
            tracing::error!(error = %e, %conversation, identity, "unlinking failed");
            Err(ErrorFrame::new(ErrorCode::Internal, "the relay failed to handle this; it has been logged. Try again."))
        }
    }
}

/// An advisor read the conversation up to `up_to`: tell the platform the customer's messages were
/// seen (WhatsApp mark-as-read, Messenger mark_seen). Best effort, once per message.
pub fn advisor_read(state: &AppState, conversation: ConversationId, up_to: shared::Seq) {
    let Some(bridge) = state.bridge.clone() else { return };
    let state = state.clone();
    tokio::spawn(async move {
        let Ok(Some(last)) = state.store.last_inbound(conversation).await else { return };
        if last.seq > up_to {
            return;
        }
        {
            let mut receipts = bridge.receipts.lock().unwrap_or_else(|e| e.into_inner());
            let r = receipts.entry(conversation).or_default();
            if r.read.as_deref() == Some(last.platform_id.as_str()) {
                return;
            }
            r.read = Some(last.platform_id.clone());
        }
        sender_action(&bridge, &last, Action::Read).await;
    });
}

/// An advisor is typing in the conversation: show it on the customer's app (WhatsApp's typing
/// indicator also marks the message read; Messenger's typing_on). At most every 15 s.
pub fn advisor_typing(state: &AppState, conversation: ConversationId) {
    let Some(bridge) = state.bridge.clone() else { return };
    let state = state.clone();
    tokio::spawn(async move {
        let Ok(Some(last)) = state.store.last_inbound(conversation).await else { return };
        let now = crate::now_ms();
        if !meta::window_state(last.target.channel, last.target.last_inbound_at, now).allows_free_form(true) {
            return;
        }
        {
            let mut receipts = bridge.receipts.lock().unwrap_or_else(|e| e.into_inner());
            let r = receipts.entry(conversation).or_default();
            if now - r.typing_at < TYPING_EVERY_MS {
                return;
            }
            r.typing_at = now;
            r.read = Some(last.platform_id.clone());
        }
        sender_action(&bridge, &last, Action::Typing).await;
    });
}

const TYPING_EVERY_MS: i64 = 15_000;

#[derive(Debug, Clone, Copy)]
enum Action {
    Read,
    Typing,
}

async fn sender_action(bridge: &Bridge, last: &crate::store::LastInbound, action: Action) {
    let config = &bridge.config;
    let Some(account) = config.account(last.target.channel) else { return };
    let (url, body) = match last.target.channel {
        Channel::Whatsapp => {
            let mark = meta::MarkRead::new(last.platform_id.clone());
            let mark = if matches!(action, Action::Typing) { mark.with_typing_indicator() } else { mark };
            (config.graph.whatsapp_messages_url(&account.id), mark.to_json())
        }
        _ => {
            let what = match action {
                Action::Read => meta::Action::MarkSeen,
                Action::Typing => meta::Action::TypingOn,
            };
            let body = meta::SenderAction::new(last.target.recipient.clone(), what).to_json();
            (config.graph.messenger_messages_url(Some(&account.id)), body)
        }
    };
    match bridge.http.post(url).bearer_auth(&account.token).json(&body).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::info!(status = r.status().as_u16(), ?action, "the platform refused a read receipt or typing indicator"),
        Err(e) => tracing::info!(error = super::network_error(&e), ?action, "a read receipt or typing indicator could not be sent"),
    }
}

/// A platform message id as a message's client id: the store's retry detection then makes a
/// redelivered webhook a no-op. (Hashed: wamids can be longer than a client id may be.)
pub fn platform_client_id(platform_id: &str) -> ClientMsgId {
    let digest = Sha256::digest(platform_id.as_bytes());
    ClientMsgId(format!("p-{}", hex::encode(&digest[..20])))
}

async fn channels_site(state: &AppState, bridge: &Bridge) -> Result<SiteId, String> {
    if let Some(site) = bridge.channels_site.get() {
        return Ok(*site);
    }
    let site = match &bridge.config.channels_site {
        Some(key) => state.store.site_by_key(key).await,
        None => state.store.first_site().await,
    };
    match site {
        Ok(Some(site)) => Ok(*bridge.channels_site.get_or_init(|| site.id)),
        Ok(None) => Err("no site to put platform customers in (create one, or set --channels-site)".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Where an advisor's reply in this conversation goes, if it is a platform customer's: the
/// target, or why it can't be sent now. `via` picks one of the customer's channels (`web`: none).
pub async fn reply_target(
    state: &AppState,
    conversation: ConversationId,
    via: Option<Channel>,
) -> Result<Option<ReplyTarget>, ErrorFrame> {
    let Some(bridge) = &state.bridge else { return Ok(None) };
    if via == Some(Channel::Web) {
        return Ok(None);
    }
    let Some(mut target) = load_target(state, bridge, conversation, via).await? else { return Ok(None) };
    let window = meta::window_state(target.channel, target.last_inbound_at, crate::now_ms());
    if !window.allows_free_form(true) {
        let why = match target.channel {
            Channel::Messenger => "The customer's last Messenger message is over 7 days old: Messenger no longer accepts replies until they write again.",
            _ => "The customer's last WhatsApp message is over 24 hours old: WhatsApp only delivers approved template messages now.",
        };
        return Err(ErrorFrame::new(ErrorCode::ChannelWindowClosed, why));
    }
    target.tagged = matches!(window, meta::WindowState::HumanAgent { .. });
    Ok(Some(target))
}

/// A template reply: the text the thread shows, and where it goes (WhatsApp only; allowed outside
/// the window, which is what templates are for).
pub async fn template_target(
    state: &AppState,
    conversation: ConversationId,
    via: Option<Channel>,
    template: &TemplateSend,
) -> Result<(String, ReplyTarget), ErrorFrame> {
    let Some(bridge) = &state.bridge else {
        return Err(ErrorFrame::new(ErrorCode::InvalidFrame, "templates need the WhatsApp bridge, which is not set up"));
    };
    let Some(known) = bridge.config.templates.iter().find(|t| t.name == template.name && t.language == template.language) else {
        return Err(ErrorFrame::new(
            ErrorCode::InvalidFrame,
            format!("there is no approved template {:?} in {:?}", template.name, template.language),
        ));
    };
    let wanted = known.param_count();
    if template.params.len() != wanted || template.params.iter().any(|p| p.trim().is_empty()) {
        return Err(ErrorFrame::new(
            ErrorCode::InvalidFrame,
            format!("the template {:?} needs {wanted} filled-in value(s); {} given", template.name, template.params.len()),
        ));
    }
    let target = load_target(state, bridge, conversation, Some(via.unwrap_or(Channel::Whatsapp))).await?;
    match target {
        Some(target) if target.channel == Channel::Whatsapp => Ok((known.render(&template.params), target)),
        _ => Err(ErrorFrame::new(ErrorCode::InvalidFrame, "templates are for WhatsApp; this customer has no WhatsApp")),
    }
}

/// Where to tell a customer who wrote last on the web, and has left the page, that replies are
/// waiting (`notify`): the messaging app they linked and wrote from most recently, when its window
/// allows a message now. None: no app linked, the customer is on an app now (where the reply
/// itself went; a reply the advisor kept on the web stays there), or the window is closed.
pub async fn linked_app(state: &AppState, conversation: ConversationId, by_a_person: bool) -> Option<ReplyTarget> {
    let bridge = state.bridge.as_ref()?;
    let store = &state.store;
    let failed = |e: crate::store::StoreError| tracing::warn!(error = %e, %conversation, "could not load a customer's linked apps");
    if store.reply_target(conversation, None).await.map_err(failed).ok()?.is_some() {
        return None;
    }
    let mut newest: Option<ReplyTarget> = None;
    for channel in [Channel::Whatsapp, Channel::Messenger] {
        if bridge.config.account(channel).is_none() {
            continue;
        }
        if let Some(target) = store.reply_target(conversation, Some(channel)).await.map_err(failed).ok()? {
            if newest.as_ref().is_none_or(|n| target.last_inbound_at > n.last_inbound_at) {
                newest = Some(target);
            }
        }
    }
    let mut target = newest?;
    let window = meta::window_state(target.channel, target.last_inbound_at, crate::now_ms());
    if !window.allows_free_form(by_a_person) {
        tracing::info!(%conversation, channel = ?target.channel, "the customer's app window is closed; not told there");
        return None;
    }
    target.tagged = matches!(window, meta::WindowState::HumanAgent { .. });
    Some(target)
}

/// Send `text` to `target` now, once (a notification, not a message of the thread). Whether the
/// platform took it; a refusal is logged.
pub async fn tell(state: &AppState, conversation: ConversationId, target: ReplyTarget, text: String) -> bool {
    let Some(bridge) = &state.bridge else { return false };
    let channel = target.channel;
    let item = OutboxItem { id: 0, conversation, seq: 0, target, attempts: 0, text, template: None };
    match post(bridge, &item).await {
        Ok(_) => true,
        Err(failure) => {
            tracing::warn!(%conversation, ?channel, reason = failure.reason(), "could not tell a customer on their app");
            false
        }
    }
}

async fn load_target(
    state: &AppState,
    bridge: &Bridge,
    conversation: ConversationId,
    via: Option<Channel>,
) -> Result<Option<ReplyTarget>, ErrorFrame> {
    let target = state.store.reply_target(conversation, via).await.map_err(|e| {
        tracing::error!(error = %e, %conversation, "could not load a conversation's channel");
        ErrorFrame::new(ErrorCode::Internal, "the relay failed to handle this; it has been logged. Try again.")
    })?;
    let Some(target) = target else {
        return match via {
            Some(channel) => Err(ErrorFrame::new(
                ErrorCode::InvalidFrame,
                format!("this customer has no {} linked", super::platform_name(channel)),
            )),
            None => Ok(None),
        };
    };
    if bridge.config.account(target.channel).is_none() {
        return Err(ErrorFrame::new(
            ErrorCode::ChannelWindowClosed,
            "this channel is not connected to the relay any more; an administrator has to set it up again",
        ));
    }
    Ok(Some(target))
}

async fn run_outbox(state: AppState, bridge: Arc<Bridge>) {
    loop {
        match state.store.due_outbox(crate::now_ms(), 16).await {
            Ok(items) => {
                for item in items {
                    send(&state, &bridge, item).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "could not read the outbox"),
        }
        tokio::select! {
            _ = state.stopping.cancelled() => return,
            _ = bridge.outbox.notified() => {}
            _ = tokio::time::sleep(OUTBOX_POLL) => {}
        }
    }
}

/// Send one reply and record the outcome.
async fn send(state: &AppState, bridge: &Bridge, item: OutboxItem) {
    let outcome = post(bridge, &item).await;
    crate::access::ensure_scope(state, item.conversation).await;
    let store = &state.store;
    let result = match outcome {
        Ok(platform_id) => {
            // A send that works clears a token alert (the token was replaced).
            alert(state, bridge, item.target.channel, None);
            store.outbox_sent(&item, &platform_id).await.map(|delivery| {
                state.hub.to_advisors(Event::PlatformDelivery { conversation: item.conversation, seq: item.seq, delivery });
            })
        }
        Err(failure) if failure.is_retryable() && item.attempts + 1 < MAX_ATTEMPTS => {
            let delay = retry_delay(item.attempts, &failure);
            tracing::info!(reason = failure.reason(), attempt = item.attempts + 1, "a reply will be retried");
            store.outbox_retry(&item, crate::now_ms() + delay.as_millis() as i64, failure.reason()).await
        }
        Err(failure) => {
            match &failure {
                SendFailure::TokenExpired { .. } => {
                    let text = format!(
                        "{}: the access token has expired or was revoked, so replies are not sent. An administrator must set a new token and restart the relay.",
                        super::platform_name(item.target.channel)
                    );
                    alert(state, bridge, item.target.channel, Some(text));
                }
                SendFailure::NeedsAdmin { .. } => {
                    let text = format!("{}: {} An administrator must fix this.", super::platform_name(item.target.channel), failure.reason());
                    alert(state, bridge, item.target.channel, Some(text));
                }
                _ => {}
            }
            let reason = failure.reason().to_owned();
            let r = store.outbox_failed(&item, &reason).await;
            if r.is_ok() {
                let delivery = PlatformDelivery { state: PlatformState::Failed, error: Some(reason) };
                state.hub.to_advisors(Event::PlatformDelivery { conversation: item.conversation, seq: item.seq, delivery });
            }
            r
        }
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "could not record a reply's outcome");
    }
}

/// Backoff with jitter, from 1 s doubling to 5 min, at least what the platform asked for.
fn retry_delay(attempts: u32, failure: &SendFailure) -> Duration {
    let base = u64::from(shared::backoff::reconnect_delay_ms(1_000, attempts, rand::random::<f64>())).min(300_000);
    let asked = match failure {
        SendFailure::Retryable { retry_after: Some(d), .. } => *d,
        _ => Duration::ZERO,
    };
    Duration::from_millis(base).max(asked)
}

/// The HTTP call: Ok(platform message id) or the classified failure.
async fn post(bridge: &Bridge, item: &OutboxItem) -> Result<String, SendFailure> {
    let config = &bridge.config;
    let Some(account) = config.account(item.target.channel) else {
        return Err(SendFailure::NeedsAdmin { code: None, reason: "this channel is not connected to the relay".into() });
    };
    let (url, body) = match item.target.channel {
        Channel::Whatsapp => {
            let message = match &item.template {
                Some(t) => meta::WhatsAppMessage::template(
                    item.target.recipient.clone(),
                    meta::Template::new(t.name.clone(), t.language.clone()).with_body_texts(t.params.clone()),
                ),
                None => meta::WhatsAppMessage::text(item.target.recipient.clone(), item.text.clone()),
            };
            (config.graph.whatsapp_messages_url(&account.id), message.to_json())
        }
        _ => {
            let kind = if item.target.tagged { meta::MessagingType::HUMAN_AGENT } else { meta::MessagingType::Response };
            (
                config.graph.messenger_messages_url(Some(&account.id)),
                meta::MessengerMessage::text(item.target.recipient.clone(), item.text.clone(), kind).to_json(),
            )
        }
    };
    let response = bridge.http.post(url).bearer_auth(&account.token).json(&body).send().await.map_err(|e| {
        SendFailure::Retryable { code: None, reason: format!("the platform could not be reached ({})", super::network_error(&e)), retry_after: None }
    })?;
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = response.bytes().await.map_err(|e| SendFailure::Retryable {
        code: None,
        reason: format!("the platform's answer was cut off ({})", super::network_error(&e)),
        retry_after: None,
    })?;
    if !(200..300).contains(&status) {
        return Err(meta::classify_failure(status, &bytes).with_retry_after_header(retry_after.as_deref()));
    }
    let id = match item.target.channel {
        Channel::Whatsapp => meta::whatsapp::parse_send_response(&bytes).map(|s| s.message_id),
        _ => meta::messenger::parse_send_response(&bytes).map(|s| s.message_id),
    };
    id.map_err(|e| SendFailure::Permanent { code: None, reason: format!("the platform's answer could not be read: {e}") })
}
