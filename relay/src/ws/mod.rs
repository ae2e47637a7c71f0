//! WebSocket sessions. Each socket is one task running one loop that reads client frames, writes
//! answers and forwards hub events, so there is a single writer and both halves stop together.

pub mod advisor;
pub mod visitor;

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use serde::Serialize;

use crate::hub::{Event, Member};

/// Frames above this size are cut off by the WebSocket layer itself (close 1009). Between
/// `shared::limits::MAX_FRAME_BYTES` and this, the relay answers `frame_too_large` and the
/// connection lives on.
pub const HARD_FRAME_LIMIT: usize = 1 << 20;

pub fn limits(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(HARD_FRAME_LIMIT).max_frame_size(HARD_FRAME_LIMIT)
}

pub type Sink = SplitSink<WebSocket, WsMessage>;

/// Write one frame; false when the client is gone.
pub async fn send<F: Serialize>(sink: &mut Sink, frame: &F) -> bool {
    match serde_json::to_string(frame) {
        Ok(text) => sink.send(WsMessage::Text(Utf8Bytes::from(text))).await.is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "a frame failed to serialize");
            true
        }
    }
}

pub async fn close(sink: &mut Sink, code: u16, reason: &'static str) {
    let _ = sink.send(WsMessage::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))).await;
}

/// Close codes (RFC 6455 §7.4.1).
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_POLICY: u16 = 1008;
pub const CLOSE_TRY_AGAIN_LATER: u16 = 1013;

/// What woke a joined socket up.
pub enum Wake {
    Event(Arc<Event>),
    /// The hub found this socket's queue full.
    Kicked,
}

/// The next hub event or kick, or never when the socket hasn't joined yet.
pub async fn wake(member: &mut Option<Member>) -> Wake {
    match member {
        Some(m) => tokio::select! {
            event = m.events.recv() => match event {
                Some(e) => Wake::Event(e),
                None => std::future::pending().await,
            },
            _ = m.kicked.notified() => Wake::Kicked,
        },
        None => std::future::pending().await,
    }
}
