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

use crate::hub::{Delivery, Event, Member};

/// One kind of socket session (visitor or advisor): how it answers client frames and which hub
/// events it forwards. [`drive`] runs the loop common to both.
pub trait Session: Send {
    type Out: Serialize + Send + Sync;
    /// Handle one text frame from the client; false when the socket is gone.
    fn handle(&mut self, text: &str, sink: &mut Sink) -> impl std::future::Future<Output = bool> + Send;
    /// The frame to forward for a hub event, if this socket cares about it.
    fn frame_for(&self, event: &Event) -> Option<Self::Out>;
    /// That frame as text (a session whose frames are the same for every socket caches it in the
    /// delivery).
    fn render(&self, delivery: &Delivery) -> Option<Utf8Bytes> {
        self.frame_for(delivery).and_then(|frame| to_text(&frame))
    }
    fn error(e: ErrorFrame) -> Self::Out;
    /// The close reason when the hub ends this socket for good (see `Hub::end_advisor`,
    /// `Hub::end_visitor`).
    const ENDED: &'static str = "your session has ended; log in again";
    fn member(&mut self) -> &mut Option<Member>;
    /// How long a new socket may take to greet (`hello`) before it is closed; None: no deadline
    /// (any more).
    fn hello_deadline(&self) -> Option<std::time::Duration> {
        None
    }
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
        // Fed, not flushed: the ack that follows flushes them all.
        if let Some(text) = session.render(&event) {
            if sink.feed(WsMessage::Text(text)).await.is_err() {
                return false;
            }
        }
    }
}

/// Most queued events written before one flush: under load a socket writes its backlog with a
/// few system calls instead of one per frame, without starving its reads.
const WRITE_BATCH: usize = 64;

/// Write the frame for `event` and for whatever else is already queued (up to [`WRITE_BATCH`]),
/// then flush once.
async fn forward<S: Session>(session: &mut S, sink: &mut Sink, event: Arc<Delivery>) -> bool {
    let mut next = Some(event);
    let mut written = 0;
    while let Some(event) = next.take() {
        if let Some(text) = session.render(&event) {
            if sink.feed(WsMessage::Text(text)).await.is_err() {
                return false;
            }
            written += 1;
        }
        if written < WRITE_BATCH {
            next = session.member().as_mut().and_then(|m| m.events.try_recv().ok());
        }
    }
    written == 0 || sink.flush().await.is_ok()
}

/// Read client frames, forward hub events, and close on shutdown or when too slow to keep up.
pub async fn drive<S: Session>(mut session: S, socket: WebSocket, stopping: CancellationToken) {
    let (mut sink, mut stream) = socket.split();
    // Boxed and dropped once greeted: an idle socket's task doesn't carry a timer it no longer needs.
    let mut hello_late: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = session.hello_deadline().map(|d| Box::pin(tokio::time::sleep(d)));
    loop {
        if hello_late.is_some() && session.hello_deadline().is_none() {
            hello_late = None;
        }
        tokio::select! {
            _ = stopping.cancelled() => {
                close(&mut sink, CLOSE_GOING_AWAY, "relay restarting").await;
                break;
            }
            _ = async { hello_late.as_mut().expect("guarded by the condition").await }, if hello_late.is_some() => {
                close(&mut sink, CLOSE_POLICY, "no hello in time; send hello first").await;
                break;
            }
            wake = wake(session.member()) => match wake {
                Wake::Event(event) => {
                    if !forward(&mut session, &mut sink, event).await { break; }
                }
                Wake::Kicked => {
                    close(&mut sink, CLOSE_TRY_AGAIN_LATER, "too slow; reconnect and resume").await;
                    break;
                }
                Wake::Ended => {
                    close(&mut sink, CLOSE_POLICY, S::ENDED).await;
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
                // Boxed: the answer to a frame (a hello reads and writes the store through many
                // awaits) is a large future, and inline it would make every idle socket's task
                // that large too.
                if !Box::pin(session.handle(text.as_str(), &mut sink)).await { break; }
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
/// our frames are at most `MAX_FRAME_BYTES` (16 KiB) and usually under 1 KiB, and the buffer grows
/// when a larger one comes. 2 KiB instead of 4 KiB saves 2 KB per idle connection at no measurable
/// cost in throughput (docs/PERFORMANCE.md).
const READ_BUFFER: usize = 2 * 1024;
/// Frames written with [`feed`] collect up to this much before going out; [`send`] and every
/// batch end with a flush, so nothing waits in the buffer.
const WRITE_BUFFER: usize = 64 * 1024;

pub fn limits(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
}

pub type Sink = SplitSink<WebSocket, WsMessage>;

/// Write one frame and flush; false when the client is gone.
pub async fn send<F: Serialize>(sink: &mut Sink, frame: &F) -> bool {
    feed(sink, frame).await && sink.flush().await.is_ok()
}

/// Write one frame into the socket's buffer, to go out with the next flush.
pub async fn feed<F: Serialize>(sink: &mut Sink, frame: &F) -> bool {
    match to_text(frame) {
        Some(text) => sink.feed(WsMessage::Text(text)).await.is_ok(),
        None => true,
    }
}

/// A frame as JSON text (None, logged, if it can't be serialized: a bug, not the client's).
pub fn to_text<F: Serialize>(frame: &F) -> Option<Utf8Bytes> {
    match serde_json::to_string(frame) {
        Ok(text) => Some(Utf8Bytes::from(text)),
        Err(e) => {
            tracing::error!(error = %e, "a frame failed to serialize");
            None
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
    Event(Arc<Delivery>),
    /// The hub found this socket's queue full.
    Kicked,
    /// The advisor's sessions were ended (account deactivated, password reset), or the visitor's
    /// token was revoked.
    Ended,
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
            _ = m.ended.notified() => Wake::Ended,
        },
        None => std::future::pending().await,
    }
}
