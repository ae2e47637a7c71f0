//! The Confab wire protocol: JSON frames over WebSocket between the relay and its two kinds of
//! clients (the visitor's widget and the advisor's dashboard), plus the domain types they carry.
//!
//! Everything here builds for wasm32 and native alike; nothing here does I/O.
//!
//! Conventions every frame follows:
//! - A frame is a JSON object tagged by `"type"`; unknown fields are ignored, unknown types decode to
//!   an `Unknown` variant so the receiver can answer with [`ErrorCode::UnknownFrameType`] and carry on.
//! - Every request a client sends carries an id (`id` of a message, `ref` of other requests) that the
//!   relay's answer points back to through its `ref` field.
//! - The handshake (`hello`) carries [`PROTOCOL_VERSION`] and the client's resume cursor.

/// The analytics report (`GET /api/v1/analytics`).
pub mod analytics;
/// The reconnect backoff both clients use.
pub mod backoff;
pub mod customer;
pub mod decode;
pub mod error;
pub mod frames;
pub mod ids;
pub mod limits;
pub mod message;
/// Link detection in message text: a presentation helper both clients share; pure, no I/O.
pub mod text;
/// Calendar arithmetic on day numbers: a presentation helper both clients share; pure, no I/O.
pub mod time;

pub use customer::{CustomerPatch, CustomerProfile, PastConversation};
pub use decode::{decode_frame, DecodeError};
pub use error::{ErrorCode, ErrorFrame};
pub use frames::advisor::{
    AdvisorClientFrame, AdvisorInfo, AdvisorServerFrame, ChannelIdentity, ChannelStatus, ConversationStatus, ConversationSummary, TemplateInfo,
    TemplateSend, Presence, RosterEntry, TeamInfo,
};
pub use frames::visitor::{ContinueLink, SiteInfo, SiteTexts, VisitorClientFrame, VisitorServerFrame};
pub use ids::{AdvisorId, ClientMsgId, ConversationId, Seq};
pub use message::{Attachment, AttachmentKind, AttachmentState, Author, Channel, Message, PlatformDelivery, PlatformState};

/// Bumped on any incompatible change to a frame. The relay refuses a `hello` with another version
/// with [`ErrorCode::UnsupportedVersion`] and says which version it speaks.
pub const PROTOCOL_VERSION: u32 = 1;
