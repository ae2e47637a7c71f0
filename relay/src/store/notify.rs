//! What reaching customers who left and the satisfaction survey keep: pending notifications, resume
//! codes (the link in an e-mail), extra visitor tokens, and survey ratings. Its own trait (like
//! [`super::InboxStore`]) that every [`super::Store`] also implements.

use async_trait::async_trait;
use shared::{AdvisorId, ConversationId, Seq};

use super::{SiteId, StoreResult, VisitorId};

/// What a notification about a conversation needs to know, read when it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyContext {
    pub site: SiteId,
    pub visitor: VisitorId,
    pub email: Option<String>,
    /// The visitor's language tag ("fr-FR"), if known.
    pub language: Option<String>,
    /// The company's name (the site's).
    pub site_name: String,
    /// The site's allowed origins, in order: a link points at the conversation's page only when
    /// that page is on one of them, else at the first.
    pub site_origins: Vec<String>,
    /// The page the conversation came from, as the visitor's widget reported it (not trusted).
    pub page: Option<String>,
    /// The seq of the visitor's own newest message; None when they never wrote. Only a reply after
    /// it is worth telling them about.
    pub visitor_wrote: Option<Seq>,
    pub read_seq: Seq,
    /// The newest message a notification already covered.
    pub notified_seq: Seq,
    /// Failed attempts at the pending notification so far.
    pub attempts: u32,
}

/// Notification e-mails sent lately: to one address (any site), and by one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailsSent {
    pub to_address: u32,
    pub by_site: u32,
    /// When the newest one to this address went out (ms).
    pub last_to_address: Option<i64>,
}

/// The visitor a live resume code opens, and the e-mail it was sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeOwner {
    pub visitor: VisitorId,
    pub email: Option<String>,
}

/// The latest survey of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Survey {
    pub resolved_at: i64,
    pub rating: Option<u8>,
}

#[async_trait]
pub trait NotifyStore: Send + Sync {
    /// A reply went out to a visitor who is away: a notification is due at `due_at`, unless one is
    /// already pending (the burst it starts covers this reply too).
    async fn schedule_notification(&self, conversation: ConversationId, due_at: i64) -> StoreResult<()>;
    /// Conversations whose notification is due, oldest first.
    async fn due_notifications(&self, now: i64, limit: usize) -> StoreResult<Vec<ConversationId>>;
    async fn notify_context(&self, conversation: ConversationId) -> StoreResult<Option<NotifyContext>>;
    /// Nothing pending any more; messages up to `covered` were notified (or need not be).
    async fn notification_done(&self, conversation: ConversationId, covered: Seq) -> StoreResult<()>;
    /// Sending failed at `now`: try again 1, 2, 4, … (at most 64) minutes later. Returns the
    /// attempts made so far.
    async fn notification_failed(&self, conversation: ConversationId, now: i64, error: &str) -> StoreResult<u32>;

    /// Keep a resume code (its hash) for a visitor's conversation.
    async fn create_resume_code(
        &self,
        code_hash: &[u8],
        visitor: VisitorId,
        conversation: ConversationId,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// Use up a live code of this site's visitor and give the visitor a further token (its hash).
    /// False for an unknown, used or expired code.
    async fn redeem_resume_code(&self, site: SiteId, code_hash: &[u8], token_hash: &[u8], now: i64) -> StoreResult<bool>;
    /// Whose thread a live code of this site opens (the visitor it was merged into, if it was),
    /// without using it up. None for an unknown, used or expired code.
    async fn resume_code_owner(&self, site: SiteId, code_hash: &[u8], now: i64) -> StoreResult<Option<ResumeOwner>>;
    /// The seq of the visitor's newest own message in `conversation`, if they ever wrote.
    async fn last_visitor_message(&self, conversation: ConversationId) -> StoreResult<Option<Seq>>;

    /// Notification e-mails to this address (SHA-256 of it lower-cased) and by this site since `since`.
    async fn mails_sent(&self, site: SiteId, address_hash: &[u8], since: i64) -> StoreResult<MailsSent>;
    /// A notification e-mail went out.
    async fn record_mail(&self, site: SiteId, address_hash: &[u8], now: i64) -> StoreResult<()>;
    /// Push back a pending notification to `due_at` (the address had one moments ago).
    async fn defer_notification(&self, conversation: ConversationId, due_at: i64) -> StoreResult<()>;

    /// Keep (or refresh) a browser's push subscription for a visitor, as their newest; of their
    /// subscriptions only the `keep` newest stay (the older ones are dropped in the same write).
    async fn save_push_subscription(
        &self,
        visitor: VisitorId,
        subscription: &crate::notify::push::Subscription,
        now: i64,
        keep: usize,
    ) -> StoreResult<()>;
    async fn push_subscriptions(&self, visitor: VisitorId) -> StoreResult<Vec<crate::notify::push::Subscription>>;
    /// The push service says it is gone.
    async fn delete_push_subscription(&self, endpoint: &str) -> StoreResult<()>;

    /// The visitor's own e-mail (given in the widget).
    async fn set_visitor_email(&self, visitor: VisitorId, email: &str) -> StoreResult<()>;
    async fn visitor_email(&self, visitor: VisitorId) -> StoreResult<Option<String>>;

    /// A conversation was just resolved (by `by`, when an advisor did it): a survey of this
    /// resolution (its `resolved_at`) awaits a rating. Nothing when it isn't resolved.
    async fn open_survey(&self, conversation: ConversationId, by: Option<AdvisorId>) -> StoreResult<()>;
    /// The latest survey of a conversation that is resolved now; None otherwise.
    async fn current_survey(&self, conversation: ConversationId) -> StoreResult<Option<Survey>>;
    /// Rate the current survey (replacing an earlier rating of it): the rated resolution's
    /// `resolved_at`, or None when there is nothing to rate.
    async fn rate(&self, conversation: ConversationId, rating: u8, comment: Option<&str>, now: i64) -> StoreResult<Option<i64>>;
    /// The private note `note_id` that shows resolution `resolved_at`'s rating in the thread says
    /// `text` now, unless the survey no longer holds this `rating` and `comment` (a later rating
    /// replaced it meanwhile, and writes its own). The updated note, or None when nothing changed.
    async fn set_rating_note(
        &self,
        conversation: ConversationId,
        resolved_at: i64,
        rating: u8,
        comment: Option<&str>,
        note_id: &str,
        text: &str,
    ) -> StoreResult<Option<shared::Message>>;
}
