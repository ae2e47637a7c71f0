//! WebSocket sessions. Each socket is one task running one loop that reads client frames, writes
//! answers and forwards hub events, so there is a single writer and both halves stop together.

pub mod advisor;
pub mod visitor;

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use shared::{ErrorCode, ErrorFrame};
use tokio_util::sync::CancellationToken;

use crate::hub::{Event, Member};

/// One kind of socket session (visitor or advisor): how it answers client frames and which hub
/// events it forwards. [`drive`] runs the loop common to both.
pub trait Session: Send {
    type Out: Serialize + Send + Sync;
    /// Handle one text frame from the client; false when the socket is gone.
    fn handle(&mut self, text: &str, sink: &mut Sink) -> impl std::future::Future<Output = bool> + Send;
    /// The frame to forward for a hub event, if this socket cares about it.
    fn frame_for(&self, event: &Event) -> Option<Self::Out>;
    fn error(e: ErrorFrame) -> Self::Out;
    fn member(&mut self) -> &mut Option<Member>;
    /// After the socket closed (it has already left the hub).
    fn closed(self) -> impl std::future::Future<Output = ()> + Send
    where
        Self: Sized,
    {
        async {}
    }
}

/// Forward the hub events already queued for this socket. Called before writing an ack: the
/// per-conversation fan-out lock guarantees that every lower seq of the conversation is queued by
/// the time a later one is committed, so the socket never sees seq N+1 (its own ack) before N.
pub async fn flush_queued<S: Session>(session: &mut S, sink: &mut Sink) -> bool {
    loop {
        let event = match session.member().as_mut().map(|m| m.events.try_recv()) {
            Some(Ok(event)) => event,
            _ => return true,
        };
        if let Some(frame) = session.frame_for(&event) {
            if !send(sink, &frame).await {
                return false;
            }
        }
    }
}

/// Read client frames, forward hub events, and close on shutdown or when too slow to keep up.
pub async fn drive<S: Session>(mut session: S, socket: WebSocket, stopping: CancellationToken) {
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            _ = stopping.cancelled() => {
                close(&mut sink, CLOSE_GOING_AWAY, "relay restarting").await;
                break;
            }
            wake = wake(session.member()) => match wake {
                Wake::Event(event) => {
                    if let Some(frame) = session.frame_for(&event) {
                        if !send(&mut sink, &frame).await { break; }
                    }
                }
                Wake::Kicked => {
                    close(&mut sink, CLOSE_TRY_AGAIN_LATER, "too slow; reconnect and resume").await;
                    break;
                }
            },
            incoming = stream.next() => {
                let text = match incoming {
                    Some(Ok(WsMessage::Text(text))) => text,
                    Some(Ok(WsMessage::Binary(_))) => {
                        let e = ErrorFrame::new(ErrorCode::MalformedFrame, "binary frames are not supported; send JSON text frames");
                        if !send(&mut sink, &S::error(e)).await { break; }
                        continue;
                    }
                    Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue, // ping/pong: answered by the WebSocket layer
                };
                if !session.handle(text.as_str(), &mut sink).await { break; }
            }
        }
    }
    session.member().take();
    session.closed().await;
}

/// Frames above this size are cut off by the WebSocket layer itself (close 1009). Between
/// `shared::limits::MAX_FRAME_BYTES` and this, the relay answers `frame_too_large` and the
/// connection lives on.
pub const HARD_FRAME_LIMIT: usize = 1 << 20;

/// Per-socket read buffer. axum's default (128 KiB) would cost ~135 KB of memory per idle visitor;
/// our frames are at most `MAX_FRAME_BYTES` (16 KiB), and a 4 KiB buffer grows when a larger one
/// comes. Writes go out at once (buffer 0): frames are small and latency matters more.
const READ_BUFFER: usize = 4 * 1024;

pub fn limits(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
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
