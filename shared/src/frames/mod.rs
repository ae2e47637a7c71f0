//! Frames: one tagged enum per direction and per kind of socket. A visitor socket only ever decodes
//! [`visitor::VisitorClientFrame`], so a visitor cannot speak advisor frames at all.

pub mod advisor;
pub mod visitor;

/// Implemented by every frame enum so [`crate::decode_frame`] can turn the fallback variant into an
/// `unknown_frame_type` error.
pub trait Frame: serde::de::DeserializeOwned {
    fn is_unknown(&self) -> bool;
}
