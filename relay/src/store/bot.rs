//! The bot in the store: each site's bot configuration and token, and what the bot remembers of a
//! conversation it has. The bot's decisions are `crate::bot`'s.

use async_trait::async_trait;
use shared::ConversationId;

use super::{SiteId, StoreResult};

/// A site's stored bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRow {
    /// `crate::bot::BotConfig` as JSON.
    pub config: String,
    pub has_token: bool,
}

/// A conversation as the bot sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotConversation {
    pub site: SiteId,
    /// The bot has it (not handed over yet, no advisor replied).
    pub with_bot: bool,
    /// `crate::bot::Memory` as JSON (None: the bot never had it).
    pub memory: Option<String>,
    /// The visitor's language tag ("fr", "en-GB") and what is known of them.
    pub language: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
}

#[async_trait]
pub trait BotStore: Send + Sync {
    async fn bot(&self, site: SiteId) -> StoreResult<Option<BotRow>>;
    async fn put_bot(&self, site: SiteId, config: &str, now: i64) -> StoreResult<()>;
    /// Replace the site's bot token (its SHA-256); the bot row must exist.
    async fn set_bot_token(&self, site: SiteId, token_hash: &[u8]) -> StoreResult<()>;
    async fn site_by_bot_token(&self, token_hash: &[u8]) -> StoreResult<Option<SiteId>>;
    /// The bot takes a new conversation: `with_bot` set and its memory stored.
    async fn start_bot(&self, conversation: ConversationId, memory: &str) -> StoreResult<()>;
    async fn bot_conversation(&self, conversation: ConversationId) -> StoreResult<Option<BotConversation>>;
    async fn save_bot_memory(&self, conversation: ConversationId, memory: &str) -> StoreResult<()>;
    /// The bot gives the conversation to routing: `with_bot` cleared, and an open, unassigned
    /// conversation queued with the customer waiting from `now`. False when the bot no longer had it
    /// (an earlier hand-off, an advisor's reply): nothing changed.
    async fn bot_handoff(&self, conversation: ConversationId, now: i64) -> StoreResult<bool>;
}
