//! Identity verification and appearance of a site (the developer embedding the widget). A separate
//! trait (like [`super::InboxStore`]) that every [`super::Store`] also implements.

use async_trait::async_trait;
use shared::ConversationId;

use super::{SiteId, StoreResult, VisitorId};

/// What binding a visitor to the site's user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// The visitor is now the user's (the user had no visitor yet).
    Bound,
    /// The visitor already was the user's.
    Already,
    /// The user already had a visitor: this (anonymous) visitor's messages were moved, with new seqs
    /// after the user's thread and their times kept, into `into`; `from` is now empty, and this
    /// visitor's token opens the user's thread.
    Merged { from: ConversationId, into: ConversationId, first_moved_seq: u64 },
    /// The visitor is bound to another user: nothing changed.
    OtherUser,
}

#[async_trait]
pub trait IdentityStore {
    /// Binds `visitor` (whose web conversation is `conversation`) to the site's `user_id`, merging it
    /// into the user's visitor if they have one. One transaction.
    ///
    /// Whoever else held this (so far anonymous) visitor must not keep reading the user's thread: on
    /// `Bound` and `Merged`, every token of the visitor stops working and `fresh_token_hash` becomes
    /// the one token of this device (for the user's visitor); its push subscriptions, unused resume
    /// codes and the e-mail it typed itself (`email_by_visitor`) go, since they may be another
    /// person's. A name it typed itself stays, marked as the visitor's own word.
    async fn bind_user(
        &self,
        site: SiteId,
        visitor: VisitorId,
        conversation: ConversationId,
        user_id: &str,
        fresh_token_hash: &[u8],
        now: i64,
    ) -> StoreResult<Bind>;
    /// The launcher's corner, icon, the header's avatar and the texts in other languages (checked
    /// by the caller).
    async fn set_site_appearance(
        &self,
        site: SiteId,
        position: &str,
        launcher: &str,
        avatar: &str,
        translations: &[shared::SiteTexts],
    ) -> StoreResult<()>;
    /// The identity secret (None: none) and whether a verified identity is required.
    async fn set_site_identity(&self, site: SiteId, secret: Option<&str>, require: bool) -> StoreResult<()>;
}
