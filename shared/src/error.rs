//! Machine-readable error codes, shared by error frames and the relay's HTTP JSON errors.

use serde::{Deserialize, Serialize};

/// Why the relay refused something. Stable strings on the wire (`snake_case`); a client that meets a
/// code it doesn't know yet gets [`ErrorCode::Unknown`] and shows the human-readable message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame is not valid JSON, or not a JSON object with a string `type`.
    MalformedFrame,
    /// The frame's `type` is not one this relay knows for this kind of socket.
    UnknownFrameType,
    /// The frame's type is known but its fields are missing or of the wrong kind.
    InvalidFrame,
    /// The frame is larger than [`crate::limits::MAX_FRAME_BYTES`].
    FrameTooLarge,
    /// Message text longer than [`crate::limits::MAX_TEXT_CHARS`].
    TextTooLong,
    /// Message text empty or only white space.
    TextEmpty,
    /// The client message id is empty, too long or has characters other than printable ASCII.
    InvalidMessageId,
    /// The first frame must be `hello`; this one came before it.
    HelloRequired,
    /// `hello` was sent twice on one connection.
    AlreadyGreeted,
    /// The client speaks another protocol version.
    UnsupportedVersion,
    /// No site with this key.
    UnknownSite,
    /// The page's origin is not in the site's allowed origins.
    ForbiddenOrigin,
    /// The visitor token is unknown or belongs to another site.
    BadToken,
    /// Login required (advisor endpoints).
    NotAuthenticated,
    /// Wrong e-mail or password.
    BadCredentials,
    /// Authenticated, but this is not yours to see or change.
    Forbidden,
    /// No such conversation (or other resource).
    NotFound,
    /// The request body is not what the endpoint takes.
    BadRequest,
    /// Too many requests; slow down (`retry_after_ms` says for how long).
    RateLimited,
    /// A quota of what is kept for an anonymous visitor or a site is full (files not yet sent):
    /// use some up, or wait for it to be swept.
    QuotaExceeded,
    /// The relay failed; it has logged the details. Try again.
    Internal,
    /// The customer's platform (WhatsApp, Messenger) no longer accepts free-form replies: its
    /// customer-service window has closed.
    ChannelWindowClosed,
    /// Login: the password was right and the account has two-factor: send the TOTP code too.
    TotpRequired,
    /// Login: an admin requires two-factor and this account has none yet: enrol first (the answer
    /// carries a session that can only do that).
    TotpEnrolmentRequired,
    /// `identify` refused: the site requires a verified identity and `user_hash` is missing or wrong,
    /// or this device is already bound to another user. Nothing was changed.
    IdentityRejected,
    /// An upload larger than [`crate::limits::MAX_UPLOAD_BYTES`].
    FileTooLarge,
    /// An upload whose bytes are not one of [`crate::limits::UPLOAD_TYPES`].
    FileTypeRefused,
    /// A message names an uploaded file that is not this sender's, not in this conversation, or
    /// already sent.
    UnknownUpload,
    /// A message sent on a socket whose conversation was merged into the identified user's thread
    /// (`identified` with `switched`): nothing was stored; reconnect and send it again there.
    ThreadMoved,
    /// A resume link opened in a browser that already holds another conversation with messages:
    /// nothing was changed; the person chooses to keep theirs or to open the linked one.
    ResumeConflict,
    /// A code this client version doesn't know.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedFrame => "malformed_frame",
            ErrorCode::UnknownFrameType => "unknown_frame_type",
            ErrorCode::InvalidFrame => "invalid_frame",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::TextTooLong => "text_too_long",
            ErrorCode::TextEmpty => "text_empty",
            ErrorCode::InvalidMessageId => "invalid_message_id",
            ErrorCode::HelloRequired => "hello_required",
            ErrorCode::AlreadyGreeted => "already_greeted",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::UnknownSite => "unknown_site",
            ErrorCode::ForbiddenOrigin => "forbidden_origin",
            ErrorCode::BadToken => "bad_token",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::Internal => "internal",
            ErrorCode::ChannelWindowClosed => "channel_window_closed",
            ErrorCode::TotpRequired => "totp_required",
            ErrorCode::TotpEnrolmentRequired => "totp_enrolment_required",
            ErrorCode::IdentityRejected => "identity_rejected",
            ErrorCode::FileTooLarge => "file_too_large",
            ErrorCode::FileTypeRefused => "file_type_refused",
            ErrorCode::UnknownUpload => "unknown_upload",
            ErrorCode::ThreadMoved => "thread_moved",
            ErrorCode::ResumeConflict => "resume_conflict",
            ErrorCode::Unknown => "unknown",
        }
    }
}

/// The body of an `error` frame, and of every HTTP error the relay answers with JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    pub code: ErrorCode,
    /// A sentence for a person: what was wrong and, where possible, what to do.
    pub message: String,
    /// The id of the request this error answers (a message's client id, or a request's `ref`).
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// With `rate_limited`: how long to wait before trying again (ms). A client that waits this
    /// long and sends the same thing again gets through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorFrame {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorFrame { code, message: message.into(), reference: None, retry_after_ms: None }
    }
    /// `rate_limited`, to try again after `wait`.
    pub fn rate_limited(wait: std::time::Duration, message: impl Into<String>) -> Self {
        ErrorFrame { retry_after_ms: Some(wait.as_millis().clamp(1, u64::MAX as u128) as u64), ..ErrorFrame::new(ErrorCode::RateLimited, message) }
    }
    pub fn with_ref(mut self, reference: Option<String>) -> Self {
        self.reference = reference;
        self
    }
}
