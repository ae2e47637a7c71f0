//! The advisor's tools around conversations: canned responses, labels and search. A separate
//! trait (like [`super::AttachmentStore`]) that every [`super::Store`] also implements.

use async_trait::async_trait;
use shared::{AdvisorId, ConversationId, ConversationSummary, Seq};

use super::StoreResult;

/// A reply advisors insert by its shortcut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannedResponse {
    pub id: i64,
    pub shortcut: String,
    pub text: String,
    /// None: shared with every advisor; otherwise only this advisor's.
    pub owner: Option<AdvisorId>,
    pub created_by: Option<AdvisorId>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub id: i64,
    pub name: String,
    pub color: String,
    /// Conversations carrying it (that the asking advisor can see).
    pub conversations: i64,
}

/// One search result: the conversation's inbox row and, when the query matched a message, the
/// newest such message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub summary: ConversationSummary,
    pub message: Option<MatchedMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedMessage {
    pub seq: Seq,
    pub text: String,
    pub note: bool,
}

#[async_trait]
pub trait InboxStore: Send + Sync {
    /// The shared replies and `advisor`'s own, by shortcut.
    async fn list_canned(&self, advisor: AdvisorId) -> StoreResult<Vec<CannedResponse>>;
    async fn canned(&self, id: i64) -> StoreResult<Option<CannedResponse>>;
    async fn create_canned(
        &self,
        shortcut: &str,
        text: &str,
        owner: Option<AdvisorId>,
        created_by: AdvisorId,
        now: i64,
    ) -> StoreResult<CannedResponse>;
    /// `NotFound` when it is gone.
    async fn update_canned(&self, id: i64, shortcut: &str, text: &str, now: i64) -> StoreResult<CannedResponse>;
    async fn delete_canned(&self, id: i64) -> StoreResult<()>;

    /// Every label by name, with how many conversations carry it among those matching `visible`
    /// (an SQL condition on `conversations c`, see `access::Viewer::sql_condition`).
    async fn list_labels(&self, visible: &str) -> StoreResult<Vec<Label>>;
    /// Replace a conversation's labels by these, each a name and the colour it gets if it is new
    /// (names match without regard to case). Returns the labels' names as stored.
    async fn set_conversation_labels(
        &self,
        conversation: ConversationId,
        labels: &[(String, String)],
        by: AdvisorId,
        now: i64,
    ) -> StoreResult<Vec<String>>;
    /// Delete a label from every conversation; returns the conversations that had it.
    async fn delete_label(&self, id: i64) -> StoreResult<Vec<ConversationId>>;

    /// Conversations (with at least one message) matching `query` in the customer's name, e-mail,
    /// platform identities or any message text (notes included), newest activity first.
    /// `visible` is an SQL condition on `conversations c` (see `access::Viewer::sql_condition`).
    async fn search(&self, query: &str, visible: &str, limit: usize) -> StoreResult<Vec<SearchHit>>;
}
