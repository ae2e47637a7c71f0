//! Durable state. The relay talks to a [`Store`]; SQLite ([`sqlite::SqliteStore`]) is the embedded
//! default and PostgreSQL drops in beside it as a second implementation of the same trait.

pub mod analytics;
pub mod attachments;
pub mod bot;
mod group_commit;
pub mod identity;
pub mod inbox;
pub mod notify;
pub mod routing;
pub mod sqlite;

use async_trait::async_trait;
use shared::{AdvisorId, AdvisorInfo, Author, Channel, ClientMsgId, ConversationId, ConversationSummary, Message, Seq};

pub use analytics::AnalyticsStore;
pub use attachments::{AttachmentStore, NewAttachment};
pub use identity::IdentityStore;
pub use bot::BotStore;
pub use inbox::InboxStore;
pub use notify::NotifyStore;
pub use routing::RoutingStore;
pub use group_commit::Arrival;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Duplicate(&'static str),
    /// The client id is already used in this conversation by another author.
    #[error("message id already used by another author")]
    IdConflict,
    /// A message names an uploaded file that is not the sender's, not in its conversation, or
    /// already in another message.
    #[error("an uploaded file is not available to this message")]
    UploadUnavailable,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The transaction this message was batched in failed; nothing of it was stored.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    #[error("the store is closed")]
    Closed,
    /// The change would leave no active admin.
    #[error("the last active admin can't stop being one")]
    LastAdmin,
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SiteId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VisitorId(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub id: SiteId,
    pub key: String,
    pub name: String,
    pub greeting: String,
    pub color: String,
    pub reply_time: String,
    pub allowed_origins: Vec<String>,
    /// The team that answers this site's customers (None: every advisor).
    pub team_id: Option<TeamId>,
    /// The launcher's corner: `right` or `left`.
    pub position: String,
    /// The launcher's icon: `chat`, `help` or `message`.
    pub launcher: String,
    /// An `https://` image URL shown in the panel's header, or "".
    pub avatar: String,
    /// The key of `user_hash` = HMAC-SHA256(secret, user_id), hex; None until an admin makes one.
    pub identity_secret: Option<String>,
    /// An identify without a valid `user_hash` is refused.
    pub require_identity: bool,
    /// The greeting and reply time in other languages.
    pub translations: Vec<shared::SiteTexts>,
}

impl Site {
    pub fn info(&self) -> shared::SiteInfo {
        shared::SiteInfo {
            key: self.key.clone(),
            name: self.name.clone(),
            greeting: self.greeting.clone(),
            color: self.color.clone(),
            reply_time: self.reply_time.clone(),
            position: self.position.clone(),
            launcher: self.launcher.clone(),
            avatar: self.avatar.clone(),
            translations: self.translations.clone(),
        }
    }
}

/// What `create_site`/`update_site` take.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    pub key: String,
    pub name: String,
    pub greeting: String,
    pub color: String,
    /// The usual reply time in words, shown to visitors when no advisor is online.
    pub reply_time: String,
    pub allowed_origins: Vec<String>,
    pub team_id: Option<TeamId>,
}

/// A visitor and their (web) conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorThread {
    pub visitor: VisitorId,
    pub conversation: ConversationId,
    /// The newest seq of the visitor's thread: private notes (seqs of their own) left out.
    pub last_seq: Seq,
    /// How far the visitor has read.
    pub read_seq: Seq,
    /// How far the visitor's messages have reached an advisor's dashboard.
    pub delivered_seq: Seq,
    /// How far the advisors have read.
    pub advisors_read_seq: Seq,
}

/// What the relay knows about a conversation's customer (the visitor row), for the customer panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub visitor: VisitorId,
    /// The name given by the platform or an advisor; None: shown as "Visitor N".
    pub name: Option<String>,
    pub email: Option<String>,
    /// The name / e-mail is the visitor's own word (see [`CustomerEdit::by_visitor`]).
    pub name_by_visitor: bool,
    pub email_by_visitor: bool,
    pub user_agent: Option<String>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub referrer: Option<String>,
    /// When the visitor was created (ms).
    pub first_seen: i64,
    /// Their last connection (ms); None for a customer who never had the widget open.
    pub last_seen: Option<i64>,
}

/// A change to a customer's name or e-mail: `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerEdit {
    pub name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    /// The visitor said it themselves (the widget, the bot's questions, an identify without a valid
    /// `user_hash`): kept, but marked unverified, and never used to join another customer's
    /// conversations. False for an advisor's edit and the site's verified identify.
    pub by_visitor: bool,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation: ConversationId,
    pub id: ClientMsgId,
    pub author: Author,
    pub channel: Channel,
    pub text: String,
    pub now: i64,
    /// The other side (the advisors for a visitor's message, the visitor otherwise) has a live
    /// socket that the message is pushed to right after the commit: record it as delivered in the
    /// same commit.
    pub delivered: bool,
    /// For a message relayed to or from WhatsApp or Messenger.
    pub platform: Option<PlatformPart>,
    /// Files that came with it, stored `pending` in the same commit (see [`attachments`]).
    pub attachments: Vec<NewAttachment>,
    /// A private note between advisors: moves no cursor and no unread count.
    pub note: bool,
}

/// The platform side of a message: its platform id and state, and for a reply the outbox entry
/// written in the same commit (so a committed reply is always sent, and sent once).
#[derive(Debug, Clone)]
pub struct PlatformPart {
    pub platform_id: Option<String>,
    pub state: shared::PlatformState,
    pub outbox: Option<ReplyTarget>,
    /// Send this approved WhatsApp template instead of the text.
    pub template: Option<shared::TemplateSend>,
}

/// Where a reply to a platform customer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTarget {
    pub channel: Channel,
    /// Our phone_number_id or page id.
    pub account: String,
    /// The customer's wa_id or PSID.
    pub recipient: String,
    /// When the customer last wrote (ms): the platform's window counts from it.
    pub last_inbound_at: Option<i64>,
    /// Messenger: send with the HUMAN_AGENT tag (more than 24 h after the customer's message).
    pub tagged: bool,
}

/// A reply waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub conversation: ConversationId,
    pub seq: Seq,
    pub target: ReplyTarget,
    pub attempts: u32,
    pub text: String,
    pub template: Option<shared::TemplateSend>,
}

/// A link code came back from a messaging app and joined its identity to a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    /// The customer's conversation the identity now belongs to.
    pub conversation: ConversationId,
    /// The conversation the identity had before, if it already wrote on that app.
    pub previous: Option<ConversationId>,
}

/// The newest message a platform customer sent in a conversation: what a read receipt or a typing
/// indicator refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastInbound {
    pub target: ReplyTarget,
    pub seq: Seq,
    pub platform_id: String,
}

/// A webhook body as received, not yet processed.
#[derive(Debug, Clone)]
pub struct WebhookEvent {
    pub id: i64,
    pub channel: String,
    pub body: Vec<u8>,
}

/// The result of an append: the committed message, and whether this call created it (false when
/// the client id was already stored: a retry).
#[derive(Debug, Clone)]
pub struct Appended {
    pub message: Message,
    pub created: bool,
    /// The conversation right after this message (only when `created`).
    pub counters: Option<Counters>,
    /// A customer's message that moved nothing routing looks at: the conversation was already
    /// open, started, and queued, assigned or with the bot. The router need not look again.
    pub routing_unchanged: bool,
}

/// A conversation's moving parts as of one commit: with the message in hand, enough to refresh
/// its inbox row without a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Commit order: of two counters of one conversation, the larger version is the later state.
    /// (0 from a store that doesn't number its commits.)
    pub version: u64,
    pub last_seq: Seq,
    pub last_activity_at: i64,
    /// Visitor messages after the advisors' read cursor.
    pub unread: u32,
    pub visitor_read_seq: Seq,
    pub visitor_delivered_seq: Seq,
    /// A visitor's message reopens a resolved or snoozed conversation in the same commit.
    pub status: shared::ConversationStatus,
    pub snoozed_until: Option<i64>,
    /// Routing: the conversation's team and advisor, how long the customer has waited for an
    /// answer, and when the team's first-response target falls due.
    pub team: Option<i64>,
    pub assignee: Option<AdvisorId>,
    pub waiting_since: Option<i64>,
    pub first_response_due: Option<i64>,
}

/// A cursor after a move, and the conversation's counters as of that commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advanced {
    pub seq: Seq,
    pub counters: Counters,
}

/// Whose cursor: the visitor's, or the advisors' (one cursor for all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Visitor,
    Advisors,
}

#[derive(Debug, Clone)]
pub struct AdvisorCredentials {
    pub info: AdvisorInfo,
    pub password_hash: String,
    /// A deactivated account can't log in.
    pub active: bool,
    /// The confirmed TOTP secret: login then needs a code too.
    pub totp_secret: Option<Vec<u8>>,
}

/// What an account may do: admins also manage accounts and teams. Kept server-side (not in
/// `shared::AdvisorInfo`); the admin API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Advisor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Advisor => "advisor",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TeamId(pub i64);

/// An advisor account as admins manage it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub info: AdvisorInfo,
    pub role: Role,
    pub active: bool,
    pub teams: Vec<TeamId>,
    /// The most open conversations routing gives this advisor at once.
    pub capacity: u32,
    /// Logs in with a TOTP code as well as the password.
    pub two_factor: bool,
}

/// What `update_account` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub capacity: Option<u32>,
}

/// An advisor's TOTP state, server-side only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TotpState {
    pub secret: Option<Vec<u8>>,
    pub pending: Option<Vec<u8>>,
    pub last_step: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub members: Vec<AdvisorId>,
    /// Answer a waiting customer within this many ms (None: no target).
    pub first_response_target_ms: Option<i64>,
}

/// A session unused for this long ends, even before its absolute expiry.
pub const SESSION_IDLE_MS: i64 = 7 * 24 * 3600 * 1000;
/// A session's last use is written at most this often.
pub const SESSION_TOUCH_MS: i64 = 3600 * 1000;

#[async_trait]
pub trait Store: AttachmentStore + AnalyticsStore + BotStore + IdentityStore + InboxStore + NotifyStore + RoutingStore + Send + Sync + 'static {
    /// Cheap round trip, for health checks.
    async fn ping(&self) -> StoreResult<()>;
    async fn close(&self);

    async fn create_site(&self, site: &SiteSettings, now: i64) -> StoreResult<Site>;
    /// Replace a site's settings (matched by key).
    async fn update_site(&self, site: &SiteSettings) -> StoreResult<Site>;
    async fn site_by_key(&self, key: &str) -> StoreResult<Option<Site>>;
    /// Every site, oldest first.
    async fn list_sites(&self) -> StoreResult<Vec<Site>>;

    /// A new visitor with an empty web conversation.
    async fn create_visitor(&self, site: SiteId, token_hash: &[u8], now: i64) -> StoreResult<VisitorThread>;
    /// A new web visitor from a hello, with the page and the browser's details, in one commit
    /// batched with the messages.
    async fn open_visitor(&self, site: SiteId, token_hash: &[u8], arrival: Arrival) -> StoreResult<VisitorThread>;
    /// Delete up to `limit` web visitors last seen before `before` who never said anything: no
    /// conversation anyone started, no verified user, no file or app link, nobody merged into them.
    /// With them go what they left (a typed name or e-mail, push subscriptions, tokens, the bot's
    /// greeting): nothing is ever sent to a visitor who never wrote. Except those whose conversation
    /// `online` says has a socket open. The number forgotten.
    async fn forget_silent_visitors(&self, before: i64, limit: usize, online: &(dyn Fn(ConversationId) -> bool + Sync)) -> StoreResult<u64>;
    async fn visitor_by_token(&self, site: SiteId, token_hash: &[u8]) -> StoreResult<Option<VisitorThread>>;
    /// A visitor connected again: keep the page and what their browser told (a part that is None
    /// is left as it was), their last-seen time, and the referrer on the conversation unless it
    /// already has one. Batched with the messages.
    async fn record_arrival(&self, visitor: VisitorId, conversation: ConversationId, arrival: Arrival) -> StoreResult<()>;
    /// The customer of a conversation. None for an unknown conversation.
    async fn customer(&self, conversation: ConversationId) -> StoreResult<Option<CustomerRecord>>;
    /// Correct the customer's name or e-mail. `NotFound` for an unknown conversation.
    async fn edit_customer(&self, conversation: ConversationId, edit: &CustomerEdit) -> StoreResult<()>;
    /// The customer's other conversations, newest activity first: those of the same visitor, of
    /// visitors with the same e-mail, and those a linked channel identity came from or went to.
    /// Only rows matching `visible` (an SQL condition on `c`, from `access::Viewer::sql_condition`).
    async fn related_conversations(&self, conversation: ConversationId, visible: &str, limit: usize) -> StoreResult<Vec<ConversationSummary>>;

    /// Commit a message with the next seq of its conversation, or return the one already stored
    /// under the same client id. Returns only after the commit is durable.
    async fn append_message(&self, new: NewMessage) -> StoreResult<Appended>;
    /// Messages with seq > `after`, oldest first, at most `limit`.
    async fn messages_after(&self, conversation: ConversationId, after: Seq, limit: usize) -> StoreResult<Vec<Message>>;
    /// Like `messages_after`, without private notes: what the visitor's socket may replay.
    async fn visitor_messages_after(&self, conversation: ConversationId, after: Seq, limit: usize) -> StoreResult<Vec<Message>>;
    /// Resolve, reopen or snooze (`snoozed_until` is kept only with `Snoozed`).
    async fn set_status(
        &self,
        conversation: ConversationId,
        status: shared::ConversationStatus,
        snoozed_until: Option<i64>,
        now: i64,
    ) -> StoreResult<()>;
    /// Reopen every snoozed conversation whose time has come; returns them.
    async fn wake_snoozed(&self, now: i64) -> StoreResult<Vec<ConversationId>>;
    /// Move a reader's cursor forward (never back, never past the last seq); returns the cursor.
    async fn mark_read(&self, conversation: ConversationId, reader: Reader, up_to: Seq) -> StoreResult<Advanced>;
    /// Move a delivery cursor forward (messages up to `up_to` reached `to`'s device), like `mark_read`.
    async fn mark_delivered(&self, conversation: ConversationId, to: Reader, up_to: Seq) -> StoreResult<Advanced>;
    /// Every write whose [`Counters::version`] is at most this one is committed and visible to
    /// reads. 0 from a store that doesn't number its commits.
    fn committed_version(&self) -> u64 {
        0
    }

    async fn conversation_summary(&self, conversation: ConversationId) -> StoreResult<Option<ConversationSummary>>;
    /// The inbox, newest activity first. A conversation enters it with its first message: a visitor
    /// who only opened the panel is not a conversation yet.
    async fn list_conversations(&self, limit: usize) -> StoreResult<Vec<ConversationSummary>>;

    // --- WhatsApp and Messenger ---

    /// Durably record a verified webhook body before the platform gets its 200.
    async fn record_webhook(&self, channel: &str, body: &[u8], now: i64) -> StoreResult<i64>;
    /// Recorded webhooks not yet processed, oldest first.
    async fn pending_webhooks(&self, limit: usize) -> StoreResult<Vec<WebhookEvent>>;
    async fn finish_webhook(&self, id: i64, error: Option<&str>, now: i64) -> StoreResult<()>;
    /// The conversation of a platform customer, created (with its identity) on first contact.
    async fn channel_customer(
        &self,
        site: SiteId,
        channel: Channel,
        account: &str,
        external_id: &str,
        name: Option<&str>,
        now: i64,
    ) -> StoreResult<ConversationId>;
    /// The customer wrote on this platform at `at`: it is where replies go now, and its window
    /// counts from there.
    async fn note_inbound(&self, channel: Channel, account: &str, external_id: &str, at: i64) -> StoreResult<()>;
    /// Where a reply in this conversation goes: the platform identity of `via`, or by default of
    /// the channel the customer last wrote from. None for the web (no identity on that channel).
    async fn reply_target(&self, conversation: ConversationId, via: Option<Channel>) -> StoreResult<Option<ReplyTarget>>;
    /// The newest platform message of the conversation's customer (for read receipts and typing).
    async fn last_inbound(&self, conversation: ConversationId) -> StoreResult<Option<LastInbound>>;
    /// Give a platform customer their profile name, unless they already have a name.
    async fn name_channel_customer(&self, channel: Channel, account: &str, external_id: &str, name: &str) -> StoreResult<bool>;
    /// This conversation's unused, unexpired link code for `channel`, or a new one.
    async fn link_code(&self, conversation: ConversationId, channel: Channel, now: i64) -> StoreResult<String>;
    /// A message on `channel` carried `code`: if it is a live code for that channel, use it up and
    /// join the sender's identity (created if new) to the code's conversation.
    async fn redeem_link_code(
        &self,
        code: &str,
        channel: Channel,
        account: &str,
        external_id: &str,
        name: Option<&str>,
        now: i64,
    ) -> StoreResult<Option<Linked>>;
    /// Undo a link: the identity (which must be linked, and in `conversation`) goes back to the
    /// conversation it had, or to a new one of its own. Returns where it went.
    async fn unlink_identity(&self, conversation: ConversationId, identity: i64, now: i64) -> StoreResult<ConversationId>;
    /// Apply a platform's report on a message the business sent, found by its platform id, unless
    /// it would move the state backwards. Returns the message's place and new state when it changed.
    async fn set_platform_state(
        &self,
        platform_id: &str,
        state: shared::PlatformState,
        error: Option<&str>,
    ) -> StoreResult<Option<(ConversationId, Seq, shared::PlatformDelivery)>>;
    /// A Messenger receipt: every reply sent on `channel` to the customer `external_id` of
    /// `account` at or before `watermark` reaches `state` (unless it is already further).
    /// Returns the messages that changed.
    async fn apply_watermark(
        &self,
        channel: Channel,
        account: &str,
        external_id: &str,
        watermark: i64,
        state: shared::PlatformState,
    ) -> StoreResult<Vec<(ConversationId, Seq, shared::PlatformDelivery)>>;
    /// Replies due for a (re)try.
    async fn due_outbox(&self, now: i64, limit: usize) -> StoreResult<Vec<OutboxItem>>;
    /// The platform accepted a reply: it has this platform id.
    /// Returns the reply's state now: `sent`, or further when a status for `platform_id` came first.
    async fn outbox_sent(&self, item: &OutboxItem, platform_id: &str) -> StoreResult<shared::PlatformDelivery>;
    /// Try again at `next_at`.
    async fn outbox_retry(&self, item: &OutboxItem, next_at: i64, error: &str) -> StoreResult<()>;
    /// The platform refused a reply for good; `reason` is shown to advisors.
    async fn outbox_failed(&self, item: &OutboxItem, reason: &str) -> StoreResult<()>;
    /// The oldest site (where platform customers go unless configured otherwise).
    async fn first_site(&self) -> StoreResult<Option<Site>>;

    async fn create_advisor(&self, email: &str, name: &str, password_hash: &str, now: i64) -> StoreResult<AdvisorInfo>;
    async fn advisor_credentials(&self, email: &str) -> StoreResult<Option<AdvisorCredentials>>;
    async fn set_advisor_password(&self, advisor: AdvisorId, password_hash: &str) -> StoreResult<()>;
    async fn create_session(&self, token_hash: &[u8], advisor: AdvisorId, now: i64, expires_at: i64) -> StoreResult<()>;
    /// The advisor of an unexpired session.
    async fn session_advisor(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<AdvisorInfo>>;
    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()>;
    /// End every session of an account.
    async fn end_sessions(&self, advisor: AdvisorId) -> StoreResult<()>;

    // --- accounts and teams ---

    /// A new account with this role, except that the very first account is always an admin.
    async fn create_account(&self, email: &str, name: &str, password_hash: &str, role: Role, now: i64) -> StoreResult<Account>;
    async fn account(&self, advisor: AdvisorId) -> StoreResult<Option<Account>>;
    /// Every account, oldest first.
    async fn list_accounts(&self) -> StoreResult<Vec<Account>>;
    /// Deactivating also ends the account's sessions, in the same transaction.
    async fn set_advisor_active(&self, advisor: AdvisorId, active: bool) -> StoreResult<Account>;
    /// Teams by name, with their members.
    async fn list_teams(&self) -> StoreResult<Vec<Team>>;
    async fn create_team(&self, name: &str, now: i64) -> StoreResult<Team>;
    async fn rename_team(&self, team: TeamId, name: &str) -> StoreResult<Team>;
    async fn delete_team(&self, team: TeamId) -> StoreResult<()>;
    /// Replace a team's members. `NotFound` when the team or one of the advisors doesn't exist.
    async fn set_team_members(&self, team: TeamId, members: &[AdvisorId]) -> StoreResult<Team>;
    async fn set_team_target(&self, team: TeamId, first_response_target_ms: Option<i64>) -> StoreResult<Team>;
    /// Change an account's name, role or capacity. `LastAdmin` when it would demote the last
    /// active admin (checked in the same statement, so two admins demoting each other can't both win).
    async fn update_account(&self, advisor: AdvisorId, changes: &AccountChanges) -> StoreResult<Account>;

    // --- relay-wide settings (JSON values by key) ---

    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    async fn put_setting(&self, key: &str, json: &str) -> StoreResult<()>;

    // --- two-factor ---

    async fn totp_state(&self, advisor: AdvisorId) -> StoreResult<TotpState>;
    /// Hand out a new secret to confirm (replacing one not yet confirmed).
    async fn set_totp_pending(&self, advisor: AdvisorId, secret: &[u8]) -> StoreResult<()>;
    /// The pending secret, confirmed by a code of time step `step`, becomes the advisor's secret.
    async fn confirm_totp(&self, advisor: AdvisorId, step: i64) -> StoreResult<()>;
    async fn disable_totp(&self, advisor: AdvisorId) -> StoreResult<()>;
    /// Record that a code of time step `step` was used; false when that step (or a later one) was
    /// used already: a code works once.
    async fn use_totp_step(&self, advisor: AdvisorId, step: i64) -> StoreResult<bool>;
    /// A session that may only enrol in two-factor (see `session_advisor`, which ignores it).
    async fn create_enrolment_session(&self, token_hash: &[u8], advisor: AdvisorId, now: i64, expires_at: i64) -> StoreResult<()>;
    /// The advisor of an unexpired session of either kind, and whether it is enrolment-only.
    async fn any_session_advisor(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<(AdvisorInfo, bool)>>;
    /// Make an enrolment-only session a full one.
    async fn upgrade_session(&self, token_hash: &[u8]) -> StoreResult<()>;
}
