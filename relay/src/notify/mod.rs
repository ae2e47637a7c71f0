//! Reaching customers who left: when an advisor (or the bot) replies while the visitor has no page
//! open, the visitor is told by e-mail, once per burst of replies, and only about replies they
//! haven't read by then. See docs/NOTIFY.md.
//!
//! The path: `conversation::commit` → [`replied`] (a reply on the web channel, visitor away)
//! schedules the conversation's notification `batch` later in the store (a burst's later replies
//! find it already pending) → [`run`] picks it up when due, checks the visitor is still away and
//! which replies are still unread, and sends one e-mail with all of them and a link that reopens
//! the thread ([`resume`]). What is pending, and which replies were already covered, is in the
//! store, so a restart neither loses nor repeats a notification.
//!
//! WhatsApp and Messenger: a reply in a conversation whose customer last wrote from a platform is
//! sent to that platform by the bridge (`channels::bridge::reply_target`, within its window rules):
//! that *is* reaching them, so such replies (channel ≠ web) never start a notification. A customer
//! who wrote last on the web but linked an app earlier is told on that app as well
//! (`channels::bridge::notify_linked`), within its window, and can answer right there.

pub mod mail;
pub mod push;
pub mod resume;
pub mod survey;
mod text;

use std::sync::Arc;
use std::time::Duration;

use shared::{Author, Channel, ConversationId, Message};

use crate::state::AppState;
use mail::{Mail, Mailer};

/// How notifications go out.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// `smtp://host:port`, `smtp://…?tls=required`, `smtps://user:pass@host`. None: no e-mail.
    pub smtp_url: Option<String>,
    /// The sender of notification e-mails.
    pub mail_from: String,
    /// How long after the first reply of a burst the notification goes out.
    pub batch: Duration,
    /// Web Push on: visitors may subscribe their browser (the VAPID key pair is made once and kept).
    pub web_push: bool,
    /// VAPID's `sub`: how a push service reaches the operator (`mailto:…` or `https://…`).
    pub vapid_subject: String,
    /// Notification e-mails one address gets in 24 hours at most, whatever the site or visitor.
    pub max_mails_per_address: u32,
    /// Notification e-mails one site sends in 24 hours at most.
    pub max_mails_per_site: u32,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            smtp_url: None,
            mail_from: "Confab <confab@localhost>".into(),
            batch: DEFAULT_BATCH,
            web_push: false,
            vapid_subject: "mailto:confab@localhost".into(),
            max_mails_per_address: DEFAULT_MAILS_PER_ADDRESS,
            max_mails_per_site: DEFAULT_MAILS_PER_SITE,
        }
    }
}

/// Where the VAPID private key is kept (`settings`, base64url).
const VAPID_SETTING: &str = "vapid_private_key";

pub const DEFAULT_BATCH: Duration = Duration::from_secs(120);
/// An honest customer gets a handful a day; anyone can type anyone's address into a widget.
pub const DEFAULT_MAILS_PER_ADDRESS: u32 = 10;
pub const DEFAULT_MAILS_PER_SITE: u32 = 5_000;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// A resume link works once, within this time.
pub const RESUME_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Attempts at sending one notification before giving up (retried 1, 2, 4, … minutes apart).
const MAX_ATTEMPTS: u32 = 6;
/// Replies one e-mail quotes at most (the link shows the rest).
const MAX_QUOTED: usize = 20;

pub struct Notifier {
    mailer: Option<Arc<dyn Mailer>>,
    batch: Duration,
    /// Daily caps on e-mails: per address, per site.
    caps: (u32, u32),
    wake: tokio::sync::Notify,
    /// Web Push, when on: its VAPID subject, and the pusher once its key is loaded.
    web_push: Option<String>,
    pusher: tokio::sync::OnceCell<Arc<dyn push::Pusher>>,
}

impl Notifier {
    pub fn new(config: &NotifyConfig) -> Notifier {
        let mailer = config.smtp_url.as_deref().and_then(|url| match mail::SmtpMailer::new(url, &config.mail_from) {
            Ok(m) => Some(Arc::new(m) as Arc<dyn Mailer>),
            Err(e) => {
                tracing::error!("e-mail notifications are off: {e}");
                None
            }
        });
        let mut notifier = Notifier::with_mailer(mailer, config.batch);
        notifier.web_push = config.web_push.then(|| config.vapid_subject.clone());
        notifier.caps = (config.max_mails_per_address, config.max_mails_per_site);
        notifier
    }

    /// With any [`Mailer`] (a test's stand-in).
    pub fn with_mailer(mailer: Option<Arc<dyn Mailer>>, batch: Duration) -> Notifier {
        Notifier {
            mailer,
            batch,
            caps: (DEFAULT_MAILS_PER_ADDRESS, DEFAULT_MAILS_PER_SITE),
            wake: tokio::sync::Notify::new(),
            web_push: None,
            pusher: Default::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.mailer.is_some() || self.web_push.is_some()
    }

    /// The VAPID subject when Web Push is on.
    pub fn web_push(&self) -> Option<&str> {
        self.web_push.as_deref()
    }
}

/// The Web Push sender, its VAPID key read from the store (made and kept the first time). None
/// when Web Push is off or the key can't be had.
pub async fn pusher(state: &AppState) -> Option<Arc<dyn push::Pusher>> {
    let subject = state.notifier.web_push.clone()?;
    let got = state
        .notifier
        .pusher
        .get_or_try_init(|| async {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let stored = state.store.setting(VAPID_SETTING).await.map_err(|e| e.to_string())?;
            let key: [u8; 32] = match stored.and_then(|json| serde_json::from_str::<String>(&json).ok()) {
                Some(text) => b64.decode(text).ok().and_then(|k| k.try_into().ok()).ok_or("the stored VAPID key is corrupt")?,
                None => {
                    let key = push::WebPusher::generate_key();
                    let json = serde_json::to_string(&b64.encode(key)).map_err(|e| e.to_string())?;
                    state.store.put_setting(VAPID_SETTING, &json).await.map_err(|e| e.to_string())?;
                    key
                }
            };
            push::WebPusher::new(&key, subject, state.outbound.clone()).map(|p| Arc::new(p) as Arc<dyn push::Pusher>)
        })
        .await;
    match got {
        Ok(p) => Some(p.clone()),
        Err(e) => {
            tracing::error!("Web Push is unavailable: {e}");
            None
        }
    }
}

/// Whether any way of reaching a customer who left is set up: e-mail, Web Push, or the bridge to
/// the apps a customer may have linked.
fn active(state: &AppState) -> bool {
    state.notifier.enabled() || state.bridge.is_some()
}

/// A message was committed: when it is a reply the visitor can't see now, schedule a notification.
pub async fn replied(state: &AppState, message: &Message) {
    let reply = matches!(message.author, Author::Advisor { .. } | Author::Bot);
    if !active(state) || !reply || message.note || message.channel != Channel::Web {
        return;
    }
    let conversation = message.conversation;
    if state.hub.visitor_online(conversation) {
        return;
    }
    let due = crate::now_ms() + state.notifier.batch.as_millis() as i64;
    match state.store.schedule_notification(conversation, due).await {
        Ok(()) => state.notifier.wake.notify_one(),
        Err(e) => tracing::warn!(error = %e, %conversation, "could not schedule a notification"),
    }
}

/// Send notifications as they fall due, until the relay stops.
pub async fn run(state: AppState) {
    if !active(&state) {
        return;
    }
    let tick = (state.notifier.batch / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = state.stopping.cancelled() => return,
            _ = state.notifier.wake.notified() => {}
            _ = tokio::time::sleep(tick) => {}
        }
        let due = match state.store.due_notifications(crate::now_ms(), 50).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "could not read pending notifications; retrying");
                continue;
            }
        };
        for conversation in due {
            if let Err(e) = notify(&state, conversation).await {
                tracing::warn!(error = %e, %conversation, "a notification failed");
            }
        }
    }
}

/// The replies in `messages` that a notification is about.
pub fn replies_to_tell(messages: Vec<Message>) -> Vec<Message> {
    messages
        .into_iter()
        .filter(|m| matches!(m.author, Author::Advisor { .. } | Author::Bot) && !m.note && m.channel == Channel::Web)
        .collect()
}

async fn notify(state: &AppState, conversation: ConversationId) -> Result<(), crate::store::StoreError> {
    let store = &state.store;
    let Some(ctx) = store.notify_context(conversation).await? else {
        return Ok(());
    };
    // Back on the page: they see the replies there (and a later reply after they leave again
    // starts a new notification that covers whatever is still unread).
    if state.hub.visitor_online(conversation) {
        return store.notification_done(conversation, ctx.notified_seq).await;
    }
    let after = ctx.read_seq.max(ctx.notified_seq);
    let unread = replies_to_tell(store.visitor_messages_after(conversation, after, 200).await?);
    let Some(last) = unread.last().map(|m| m.seq) else {
        return store.notification_done(conversation, ctx.notified_seq).await;
    };
    // Only an answer to something the visitor wrote: a greeting to someone who only left an
    // address (anyone's address) and closed the tab tells nobody anything.
    let replies: Vec<Message> = unread.into_iter().filter(|m| ctx.visitor_wrote.is_some_and(|wrote| m.seq > wrote)).collect();
    if replies.is_empty() {
        return store.notification_done(conversation, last).await;
    }
    let now = crate::now_ms();
    let mail = match (ctx.email.clone(), state.notifier.mailer.clone()) {
        (Some(email), Some(mailer)) => match mail_allowance(state, &ctx, &email, now).await? {
            Allowance::Send(hash) => Some((email, mailer, hash)),
            Allowance::Later(due) => return store.defer_notification(conversation, due).await,
            Allowance::Capped => None,
        },
        _ => None,
    };
    // Web Push and the linked app are told once (not again when the e-mail is retried).
    if ctx.attempts == 0 {
        push_replies(state, &ctx, conversation, &replies, now).await?;
        app_replies(state, &ctx, conversation, &replies, now).await?;
    }
    let Some((email, mailer, address_hash)) = mail else {
        return store.notification_done(conversation, last).await;
    };
    let link = resume_link(state, &ctx, conversation, now).await?;
    let lang = text::Lang::of(ctx.language.as_deref());
    let quoted = &replies[replies.len().saturating_sub(MAX_QUOTED)..];
    let (subject, body) = text::compose(lang, &ctx.site_name, quoted, replies.len(), link.as_deref());
    let host = state.config.public_url.as_ref().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| "confab.localhost".into());
    let mail = Mail { to: email, subject, body, message_id: format!("confab-{}-{}@{}", conversation, last, host) };
    match mailer.send(mail).await {
        Ok(()) => {
            tracing::info!(%conversation, replies = replies.len(), "notified a visitor who left by e-mail");
            // Recorded as of when it went, not when it was composed: the next one to this address
            // waits a whole burst after the visitor got this one.
            store.record_mail(ctx.site, &address_hash, crate::now_ms()).await?;
            store.notification_done(conversation, last).await
        }
        Err(e) if e.retryable() => {
            let attempts = store.notification_failed(conversation, now, &e.to_string()).await?;
            if attempts >= MAX_ATTEMPTS {
                tracing::error!(error = %e, %conversation, attempts, "gave up e-mailing a visitor who left");
                store.notification_done(conversation, last).await
            } else {
                tracing::warn!(error = %e, %conversation, attempts, "e-mail not sent; trying again later");
                Ok(())
            }
        }
        Err(e) => {
            tracing::error!(error = %e, %conversation, "a notification e-mail could not be built; dropped");
            store.notification_done(conversation, last).await
        }
    }
}

/// Whether a notification e-mail to `email` may go out now.
enum Allowance {
    /// Yes; the address's hash, to record the mail under.
    Send(Vec<u8>),
    /// This address had one less than a burst ago (from another conversation, perhaps another
    /// visitor typing the same address): wait until then, so one burst makes one e-mail.
    Later(i64),
    /// The address's or the site's daily cap is reached: no e-mail (push and the linked app still go).
    Capped,
}

async fn mail_allowance(
    state: &AppState,
    ctx: &crate::store::notify::NotifyContext,
    email: &str,
    now: i64,
) -> Result<Allowance, crate::store::StoreError> {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(email.trim().to_lowercase().as_bytes()).to_vec();
    let sent = state.store.mails_sent(ctx.site, &hash, now - DAY_MS).await?;
    let burst = state.notifier.batch.as_millis() as i64;
    if let Some(last) = sent.last_to_address.filter(|last| last + burst > now) {
        return Ok(Allowance::Later(last + burst));
    }
    let (per_address, per_site) = state.notifier.caps;
    if sent.to_address >= per_address || sent.by_site >= per_site {
        // No address in the log: it is personal data.
        tracing::warn!(site = ctx.site.0, to_address = sent.to_address, by_site = sent.by_site, "notification e-mail not sent: daily cap reached");
        return Ok(Allowance::Capped);
    }
    Ok(Allowance::Send(hash))
}

/// A link that reopens the thread in any browser (a new single-use resume code), when the conversation's
/// page or the site's origin is known.
async fn resume_link(
    state: &AppState,
    ctx: &crate::store::notify::NotifyContext,
    conversation: ConversationId,
    now: i64,
) -> Result<Option<String>, crate::store::StoreError> {
    let relay_origin = state.config.public_url.as_ref().map(|u| u.origin().ascii_serialization());
    let Some(base) = resume::link_base(ctx.page.as_deref(), &ctx.site_origins, relay_origin.as_deref()) else {
        return Ok(None);
    };
    let code = crate::secret::new_token();
    state
        .store
        .create_resume_code(&crate::secret::token_hash(&code), ctx.visitor, conversation, now, now + RESUME_TTL_MS)
        .await?;
    Ok(Some(resume::link(&base, &code)))
}

/// The customer's linked WhatsApp or Messenger gets the replies, when its window allows a message.
async fn app_replies(
    state: &AppState,
    ctx: &crate::store::notify::NotifyContext,
    conversation: ConversationId,
    replies: &[Message],
    now: i64,
) -> Result<(), crate::store::StoreError> {
    let by_a_person = replies.iter().any(|m| matches!(m.author, Author::Advisor { .. }));
    let Some(target) = crate::channels::bridge::linked_app(state, conversation, by_a_person).await else { return Ok(()) };
    let channel = target.channel;
    let link = resume_link(state, ctx, conversation, now).await?;
    let lang = text::Lang::of(ctx.language.as_deref());
    let message = text::platform(lang, &ctx.site_name, replies, link.as_deref());
    if crate::channels::bridge::tell(state, conversation, target, message).await {
        tracing::info!(%conversation, ?channel, replies = replies.len(), "notified a visitor who left on their linked app");
    }
    Ok(())
}

/// The visitor's subscribed browsers get a push: the newest reply, and a link that reopens the thread.
/// The pushes go out in the background, all at once (within the outbound policy's bound and
/// timeouts), so a slow push service holds up neither this e-mail nor the next notification.
async fn push_replies(
    state: &AppState,
    ctx: &crate::store::notify::NotifyContext,
    conversation: ConversationId,
    replies: &[Message],
    now: i64,
) -> Result<(), crate::store::StoreError> {
    let store = &state.store;
    let Some(pusher) = pusher(state).await else { return Ok(()) };
    let subscriptions = store.push_subscriptions(ctx.visitor).await?;
    if subscriptions.is_empty() {
        return Ok(());
    }
    let link = resume_link(state, ctx, conversation, now).await?;
    let lang = text::Lang::of(ctx.language.as_deref());
    let (title, _) = text::compose(lang, &ctx.site_name, &[], replies.len(), None);
    let newest = replies.last().map(|m| m.text.as_str()).unwrap_or("");
    let body: String = newest.chars().take(200).collect();
    let payload = serde_json::json!({ "title": title, "body": body, "url": link, "tag": format!("confab-{conversation}") });
    let payload = payload.to_string();
    let state = state.clone();
    tokio::spawn(async move {
        let pushes = subscriptions.iter().map(|s| push_to(&state, &*pusher, s, payload.as_bytes(), conversation));
        tokio::select! {
            _ = state.stopping.cancelled() => {}
            _ = futures_util::future::join_all(pushes) => {}
        }
    });
    Ok(())
}

/// One browser's push; a subscription that can never be pushed to again is forgotten.
async fn push_to(state: &AppState, pusher: &dyn push::Pusher, subscription: &push::Subscription, payload: &[u8], conversation: ConversationId) {
    match pusher.push(subscription, payload, 24 * 3600).await {
        Ok(()) => tracing::info!(%conversation, "notified a visitor who left by Web Push"),
        Err(e @ (push::PushError::Gone | push::PushError::BadKeys(_) | push::PushError::NotAllowed(_))) => {
            tracing::info!(reason = %e, %conversation, "forgetting a push subscription");
            if let Err(e) = state.store.delete_push_subscription(&subscription.endpoint).await {
                tracing::warn!(error = %e, %conversation, "could not forget a push subscription");
            }
        }
        Err(e) => tracing::warn!(error = %e, %conversation, "a Web Push failed"),
    }
}
