//! The Meta platforms: WhatsApp Cloud API and Messenger Platform, which share one webhook scheme
//! (handshake, signature, batching) and one Graph API. Section numbers (§) in this module refer
//! to the team's channel contracts, `channels/CONTRACTS.md`, from which the fixtures in
//! `relay/tests/fixtures/meta` were copied.
//!
//! The webhook path, in order:
//! 1. `GET`: [`verify_subscription`] (no signature on it) → 200 with the challenge, or 403.
//! 2. `POST`: [`verify_signature`] on the raw body bytes → 401/403 on error; then answer 200 at
//!    once and hand the raw body to a worker (Meta redelivers anything not acknowledged fast).
//! 3. The worker: [`parse_webhook`] → an [`InboundBatch`]; drop events whose
//!    [`InboundEvent::dedup_key`] was seen; apply [`InboundEvent::Status`] with [`should_apply`];
//!    match [`InboundEvent::Echo`] to the relay's own sends by mid; log [`InboundBatch::skipped`].
//!
//! The send path: check [`window_state`], build a body ([`WhatsAppMessage`], [`MarkRead`],
//! [`MessengerMessage`], [`SenderAction`]), `POST` it to a [`GraphApi`] URL with the bearer
//! token, then read the answer with [`whatsapp::parse_send_response`] /
//! [`messenger::parse_send_response`], or [`classify_failure`] on a non-2xx.

mod error;
mod event;
mod failure;
mod graph;
mod handshake;
pub mod messenger;
mod signature;
pub mod whatsapp;
pub mod window;
mod wire;

pub use error::{GraphConfigError, HandshakeError, PayloadError, ResponseError, SignatureError};
pub use event::{
    should_apply, AccountError, DeliveryStatus, Echo, InboundBatch, InboundBody, InboundEvent, InboundMessage,
    MediaKind, MediaSource, Referral, SkipReason, Skipped, StatusUpdate, Watermark, WatermarkKind,
};
pub use failure::{classify_failure, parse_graph_error, GraphError, SendFailure};
pub use graph::GraphApi;
pub use handshake::{verify_subscription, SubscriptionQuery};
pub use messenger::{Action, MessageTag, MessagingType, MessengerMessage, SenderAction};
pub use signature::{sign, verify_signature, SIGNATURE_HEADER};
pub use whatsapp::{MarkRead, OutboundMedia, Template, WhatsAppMessage};
pub use window::{window_state, WindowState};

use serde_json::Value;

/// Reads a (signature-checked) webhook body of either platform. Fails only when the body is not a
/// JSON object or not a WhatsApp or Page webhook; anything wrong inside it is reported item by
/// item in [`InboundBatch::skipped`], next to the events that were fine.
pub fn parse_webhook(raw_body: &[u8]) -> Result<InboundBatch, PayloadError> {
    let body: Value = serde_json::from_slice(raw_body).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    if !body.is_object() {
        return Err(PayloadError::NotJson("the top level is not an object".into()));
    }
    let mut batch = InboundBatch::default();
    match body.get("object") {
        Some(Value::String(object)) if object == "whatsapp_business_account" => {
            whatsapp::parse_entries(&body, &mut batch)
        }
        Some(Value::String(object)) if object == "page" => messenger::parse_entries(&body, &mut batch),
        Some(Value::String(object)) => return Err(PayloadError::UnknownObject(object.clone())),
        _ => return Err(PayloadError::MissingObject),
    }
    Ok(batch)
}

#[cfg(test)]
mod tests;
