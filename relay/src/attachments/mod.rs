//! Attachments: files that come with a customer's WhatsApp or Messenger message.
//!
//! 1. The bridge commits the message with its attachments `pending` ([`from_inbound`] →
//!    `NewMessage::attachments`), so advisors see "downloading…" at once, and wakes the worker.
//! 2. The [`worker`] fetches each file with the platform's flow ([`fetch`]), stores the bytes on
//!    disk ([`files`]) with their type sniffed from the bytes ([`sniff`]), and tells the advisors
//!    (`attachment` frame) when it is ready, or failed for good with a reason in plain words.
//! 3. Advisors get the bytes from `GET /dashboard/api/attachments/{id}` ([`http`]).
//!
//! Files sent from the widget or the dashboard are uploaded first ([`upload`]: type sniffed from
//! the bytes, size and type limits from `shared::limits`), stored ready in the same table and
//! directory, then taken by the message that names them. Visitors get them through short-lived
//! signed links ([`signing`], `GET /files/{id}`).

pub mod fetch;
pub mod files;
mod http;
pub mod signing;
pub mod sniff;
pub mod upload;
pub mod worker;

use std::path::Path;

use base64::Engine;
use shared::AttachmentKind;
use tokio::sync::Notify;

pub use files::Files;

pub fn router() -> axum::Router<crate::state::AppState> {
    http::router().merge(upload::router())
}

use crate::channels::meta::{InboundBody, InboundMessage, MediaKind, MediaSource};
use crate::store::attachments::{MediaRef, NewAttachment};

/// The relay's attachment files and the worker's wake-up.
#[derive(Debug)]
pub struct Attachments {
    files: Files,
    wake: Notify,
    signer: signing::Signer,
}

impl Attachments {
    /// Files under `<data_dir>/attachments/`; the link-signing key in `<data_dir>/link-signing.key`.
    pub fn new(data_dir: &Path) -> Self {
        Attachments {
            files: Files::new(data_dir.join("attachments")),
            wake: Notify::new(),
            signer: signing::Signer::load_or_create(&data_dir.join("link-signing.key")),
        }
    }

    pub fn signer(&self) -> &signing::Signer {
        &self.signer
    }

    /// A fresh signed link to a ready file (relative to the relay).
    pub fn link(&self, id: &str) -> String {
        self.signer.link(id, crate::now_ms() / 1000 + signing::LINK_LIFETIME_SECS)
    }

    /// `message` with a fresh signed link on each ready attachment: what a visitor is sent.
    pub fn signed(&self, mut message: shared::Message) -> shared::Message {
        for a in &mut message.attachments {
            if a.state == shared::AttachmentState::Ready {
                a.url = Some(self.link(&a.id));
            }
        }
        message
    }

    pub fn files(&self) -> &Files {
        &self.files
    }

    /// Pending attachments were committed: fetch them now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await
    }
}

/// A fresh attachment id: 144 random bits, URL- and file-name-safe.
pub fn new_id() -> String {
    let bytes: [u8; 18] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The attachments of a customer's platform message, to commit with it.
pub fn from_inbound(message: &InboundMessage) -> Vec<NewAttachment> {
    let InboundBody::Media { kind, source, mime, filename, sha256, .. } = &message.body else { return Vec::new() };
    vec![NewAttachment {
        id: new_id(),
        kind: match kind {
            MediaKind::Image => AttachmentKind::Image,
            MediaKind::Video => AttachmentKind::Video,
            MediaKind::Audio => AttachmentKind::Audio,
            MediaKind::Document => AttachmentKind::Document,
            MediaKind::Sticker => AttachmentKind::Sticker,
        },
        name: filename.as_deref().and_then(sniff::clean_file_name),
        channel: message.channel,
        account: message.account.clone(),
        source: match source {
            MediaSource::WhatsAppId(id) => MediaRef::WhatsAppId(id.clone()),
            MediaSource::Url(url) => MediaRef::Url(url.clone()),
        },
        declared_mime: mime.clone(),
        declared_sha256: sha256.clone(),
    }]
}

#[cfg(test)]
mod tests {
    use shared::Channel;

    use super::*;

    #[test]
    fn ids_are_unguessable_and_safe_in_paths() {
        let a = new_id();
        assert_eq!(a.len(), 24);
        assert!(files::is_valid_id(&a));
        assert_ne!(a, new_id());
    }

    #[test]
    fn a_whatsapp_document_becomes_a_pending_attachment_with_its_cleaned_name() {
        let message = InboundMessage {
            channel: Channel::Whatsapp,
            account: "208765432109876".into(),
            sender: "5511987654321".into(),
            sender_name: None,
            platform_id: "wamid.X".into(),
            timestamp_ms: 0,
            body: InboundBody::Media {
                kind: MediaKind::Document,
                source: MediaSource::WhatsAppId("1290384756102938".into()),
                mime: Some("application/pdf".into()),
                caption: None,
                filename: Some("docs/Garantía\u{202e}.pdf".into()),
                sha256: Some("abc".into()),
            },
            reply_to: None,
            referral: None,
        };
        let [a] = from_inbound(&message).try_into().unwrap();
        assert_eq!(a.kind, AttachmentKind::Document);
        assert_eq!(a.name.as_deref(), Some("Garantía.pdf"));
        assert_eq!(a.source, MediaRef::WhatsAppId("1290384756102938".into()));
        assert_eq!(a.account, "208765432109876");
        assert_eq!(a.pending().state, shared::AttachmentState::Pending);
        let text = InboundMessage { body: InboundBody::Text { text: "hi".into() }, ..message };
        assert!(from_inbound(&text).is_empty());
    }
}
