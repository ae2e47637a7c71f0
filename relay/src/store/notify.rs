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
    /// The site's first allowed origin: where the link points when the conversation has no page.
    pub site_origin: Option<String>,
    /// The page the conversation came from.
    pub page: Option<String>,
    pub read_seq: Seq,
    /// The newest message a notification already covered.
    pub notified_seq: Seq,
    /// Failed attempts at the pending notification so far.
    pub attempts: u32,
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

    /// Keep (or refresh) a browser's push subscription for a visitor.
    async fn save_push_subscription(&self, visitor: VisitorId, subscription: &crate::notify::push::Subscription, now: i64) -> StoreResult<()>;
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
