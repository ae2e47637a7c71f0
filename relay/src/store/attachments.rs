//! Attachments in the store. A message's attachments are written with the message, in the same
//! commit ([`super::NewMessage::attachments`]), as `pending`; the relay's media worker then claims
//! them, fetches the bytes from the platform and records the outcome here. The bytes themselves
//! live on disk (`crate::attachments::files`), never in the database.
//!
//! Table-driven like the outbox: a pending attachment has a due time; claiming it counts an
//! attempt and leases it, so two fetches of one file never run at once, and whatever a stopped
//! relay left pending is picked up again after a restart.

use async_trait::async_trait;
use shared::{Attachment, AttachmentKind, AttachmentState, Channel, ConversationId, Seq};

use super::StoreResult;

/// Where a platform keeps a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaRef {
    /// A WhatsApp media id: look up its short-lived URL, then download it with the bearer token.
    WhatsAppId(String),
    /// A URL to download as it is (Messenger's CDN URLs).
    Url(String),
    /// Uploaded to the relay by `by` ([`Uploader::as_source`]) before the message was sent: the
    /// row is already there, ready; the message's commit takes it (only if it is still unsent,
    /// in this conversation, and the sender's).
    Upload { by: String },
}

/// Who uploaded a file: only they may send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploader {
    Visitor,
    Advisor(shared::AdvisorId),
}

impl Uploader {
    pub fn as_source(self) -> String {
        match self {
            Uploader::Visitor => "visitor".to_owned(),
            Uploader::Advisor(id) => format!("advisor:{}", id.0),
        }
    }
}

/// A file just uploaded (its bytes are in place), not in a message yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    pub id: String,
    pub conversation: ConversationId,
    pub by: Uploader,
    pub kind: AttachmentKind,
    pub mime: String,
    pub name: Option<String>,
    pub size: u64,
    /// Hex.
    pub sha256: String,
}

/// An attachment arriving with a message, not fetched yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    /// Random and unguessable: it is what a client fetches the file by.
    pub id: String,
    pub kind: AttachmentKind,
    /// The sender's file name, already cleaned up.
    pub name: Option<String>,
    pub channel: Channel,
    /// Our phone_number_id or page id: whose access token fetches it.
    pub account: String,
    pub source: MediaRef,
    /// What the platform said the type and checksum are: hints, never trusted.
    pub declared_mime: Option<String>,
    pub declared_sha256: Option<String>,
}

impl NewAttachment {
    /// How clients see it until it is fetched.
    pub fn pending(&self) -> Attachment {
        Attachment {
            id: self.id.clone(),
            kind: self.kind,
            mime: String::new(),
            name: self.name.clone(),
            size: 0,
            state: AttachmentState::Pending,
            error: None,
            url: None,
        }
    }

    /// An uploaded file to attach to a message.
    pub fn upload(id: String, by: Uploader) -> Self {
        NewAttachment {
            id,
            kind: AttachmentKind::Unknown,
            name: None,
            channel: Channel::Web,
            account: String::new(),
            source: MediaRef::Upload { by: by.as_source() },
            declared_mime: None,
            declared_sha256: None,
        }
    }

    pub fn is_upload(&self) -> bool {
        matches!(self.source, MediaRef::Upload { .. })
    }
}

/// A pending attachment claimed for one fetch attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentJob {
    pub id: String,
    pub conversation: ConversationId,
    pub seq: Seq,
    pub kind: AttachmentKind,
    pub name: Option<String>,
    pub channel: Channel,
    pub account: String,
    pub source: MediaRef,
    pub declared_mime: Option<String>,
    pub declared_sha256: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// What a successful fetch stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedFile {
    /// Sniffed from the bytes.
    pub mime: String,
    /// The declared kind, corrected when the bytes say otherwise.
    pub kind: AttachmentKind,
    pub size: u64,
    /// Hex.
    pub sha256: String,
}

/// An attachment that changed, and the message it belongs to: what advisors are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentChange {
    pub conversation: ConversationId,
    pub seq: Seq,
    pub attachment: Attachment,
}

/// An attachment as the download route needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    pub conversation: ConversationId,
    pub seq: Seq,
    pub attachment: Attachment,
    /// Hex, once ready.
    pub sha256: Option<String>,
    /// Who uploaded it, for a file uploaded to the relay (`visitor`, `advisor:ID`).
    pub uploaded_by: Option<String>,
}

#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Up to `limit` pending attachments that are due at `now` and not being fetched: each gets
    /// one more attempt counted and is leased until `lease_until`.
    async fn claim_attachments(&self, now: i64, lease_until: i64, limit: usize) -> StoreResult<Vec<AttachmentJob>>;
    /// Drop every lease. Only for a relay that is starting: the fetches they stood for died with
    /// the process that held them.
    async fn release_attachment_leases(&self) -> StoreResult<u64>;
    /// The attempt failed for now: try again at `next_at`. `error` is kept for the log and for
    /// the final failure.
    async fn attachment_retry(&self, id: &str, next_at: i64, error: &str, now: i64) -> StoreResult<()>;
    /// The bytes are stored. `None` when the attachment was not pending (already settled).
    async fn attachment_ready(&self, id: &str, file: &FetchedFile, now: i64) -> StoreResult<Option<AttachmentChange>>;
    /// Given up: `reason` is shown to advisors. `None` when it was not pending.
    async fn attachment_failed(&self, id: &str, reason: &str, now: i64) -> StoreResult<Option<AttachmentChange>>;
    async fn attachment(&self, id: &str) -> StoreResult<Option<StoredAttachment>>;
    /// Record an uploaded file (ready, in no message yet).
    async fn create_upload(&self, upload: &NewUpload, now: i64) -> StoreResult<()>;
    /// Bytes of visitors' uploads no message took yet: of `conversation`'s visitor, and of every
    /// visitor of its site (the limits on what anonymous visitors may keep on the relay's disk).
    async fn unsent_upload_bytes(&self, conversation: ConversationId) -> StoreResult<(u64, u64)>;
    /// Forget uploads made before `before` that no message took; returns their ids (whose files
    /// the caller deletes).
    async fn sweep_uploads(&self, before: i64) -> StoreResult<Vec<String>>;
}

pub(crate) fn kind_str(kind: AttachmentKind) -> &'static str {
    match kind {
        AttachmentKind::Image => "image",
        AttachmentKind::Video => "video",
        AttachmentKind::Audio => "audio",
        AttachmentKind::Sticker => "sticker",
        _ => "document",
    }
}

pub(crate) fn kind_from(s: &str) -> AttachmentKind {
    match s {
        "image" => AttachmentKind::Image,
        "video" => AttachmentKind::Video,
        "audio" => AttachmentKind::Audio,
        "sticker" => AttachmentKind::Sticker,
        "document" => AttachmentKind::Document,
        _ => AttachmentKind::Unknown,
    }
}

pub(crate) fn state_from(s: &str) -> AttachmentState {
    match s {
        "pending" => AttachmentState::Pending,
        "ready" => AttachmentState::Ready,
        "failed" => AttachmentState::Failed,
        _ => AttachmentState::Unknown,
    }
}

pub(crate) fn source_columns(source: &MediaRef) -> (&'static str, &str) {
    match source {
        MediaRef::WhatsAppId(id) => ("whatsapp_id", id),
        MediaRef::Url(url) => ("url", url),
        MediaRef::Upload { by } => ("upload", by),
    }
}

pub(crate) fn source_from(kind: &str, value: String) -> MediaRef {
    match kind {
        "whatsapp_id" => MediaRef::WhatsAppId(value),
        "upload" => MediaRef::Upload { by: value },
        _ => MediaRef::Url(value),
    }
}
