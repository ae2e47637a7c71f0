//! The minimal relay the bench compares against: the same routes, frames and socket settings as
//! `confab-relay` (4 KiB read buffer, unbuffered writes, one task per socket, a bounded queue per
//! advisor socket that drops a socket too slow to keep up), but nothing is stored: `hello` is
//! answered at once, `send` is acked at once and fanned out to every advisor socket as a `message`
//! frame. What the real relay costs beyond this is the cost of durability (and of the inbox row
//! it also sends advisors for every message).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use shared::{
    decode_frame, AdvisorId, AdvisorInfo, AdvisorServerFrame, Author, Channel, ConversationId, ErrorCode, ErrorFrame,
    Message, SiteInfo, VisitorClientFrame, VisitorServerFrame, PROTOCOL_VERSION,
};
use tokio::sync::{mpsc, Notify};

/// Same per-socket settings as the relay (`relay/src/ws/mod.rs`).
const READ_BUFFER: usize = 4 * 1024;
const HARD_FRAME_LIMIT: usize = 1 << 20;
/// Same as the relay's hub.
const QUEUE: usize = 256;

/// An advisor socket's queue and the signal that drops it when the queue is full.
struct AdvisorConn {
    id: u64,
    tx: mpsc::Sender<Arc<Message>>,
    kick: Arc<Notify>,
}

#[derive(Clone, Default)]
struct Baseline {
    advisors: Arc<Mutex<Vec<AdvisorConn>>>,
    next_id: Arc<AtomicU64>,
    next_conversation: Arc<AtomicI64>,
}

pub fn main(listen: SocketAddr) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {listen}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().expect("bound address");
        println!("relay listening on http://{addr}");
        let app = Router::new()
            .route("/ws/visitor", get(visitor))
            .route("/ws/advisor", get(advisor))
            .route("/api/v1/auth/login", post(login))
            .with_state(Baseline::default());
        let stop = async {
            if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                s.recv().await;
            }
        };
        match axum::serve(listener, app).with_graceful_shutdown(stop).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

fn limits(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
}

fn bench_advisor() -> AdvisorInfo {
    AdvisorInfo { id: AdvisorId(1), name: "Bench".into(), email: crate::server::ADVISOR_EMAIL.into() }
}

async fn login() -> Response {
    ([(header::SET_COOKIE, "confab_session=baseline; HttpOnly; SameSite=Strict; Path=/")], Json(bench_advisor()))
        .into_response()
}

async fn visitor(State(state): State<Baseline>, ws: WebSocketUpgrade) -> Response {
    limits(ws).on_upgrade(move |socket| visitor_session(state, socket))
}

async fn advisor(State(state): State<Baseline>, ws: WebSocketUpgrade) -> Response {
    limits(ws).on_upgrade(move |socket| advisor_session(state, socket))
}

type Sink = futures_util::stream::SplitSink<WebSocket, WsMessage>;

async fn send<F: serde::Serialize>(sink: &mut Sink, frame: &F) -> bool {
    let text = serde_json::to_string(frame).expect("frames serialize");
    sink.send(WsMessage::Text(Utf8Bytes::from(text))).await.is_ok()
}

async fn visitor_session(state: Baseline, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let mut conversation = None;
    let mut seq = 0;
    while let Some(Ok(incoming)) = stream.next().await {
        let WsMessage::Text(text) = incoming else {
            if matches!(incoming, WsMessage::Close(_)) {
                break;
            }
            continue;
        };
        let out = match (decode_frame::<VisitorClientFrame>(text.as_str()), conversation) {
            (Err(e), _) => VisitorServerFrame::Error(e.into()),
            (Ok(VisitorClientFrame::Hello { .. }), None) => {
                let id = ConversationId(state.next_conversation.fetch_add(1, Relaxed) + 1);
                conversation = Some(id);
                // Built as JSON rather than as the enum variant, so fields the protocol gains later
                // (all defaulted for old clients) don't need the baseline to follow.
                let welcome = serde_json::json!({
                    "type": "welcome", "v": PROTOCOL_VERSION, "token": format!("baseline-{}", id.0),
                    "conversation": id, "last_seq": 0, "read_seq": 0,
                    "site": SiteInfo { key: crate::server::SITE.into(), name: "Bench".into(), ..SiteInfo::default() },
                });
                if !send(&mut sink, &welcome).await {
                    break;
                }
                continue;
            }
            (Ok(VisitorClientFrame::Send { id, text, .. }), Some(conversation)) => {
                let text = text.trim();
                if text.is_empty() || !id.is_valid() {
                    VisitorServerFrame::Error(ErrorFrame::new(ErrorCode::InvalidFrame, "empty text or bad id").with_ref(Some(id.0)))
                } else {
                    seq += 1;
                    let message = Message {
                        delivery: None,
                        attachments: Vec::new(),
                        note: false,
                        id,
                        conversation,
                        seq,
                        author: Author::Visitor,
                        channel: Channel::Web,
                        text: text.to_owned(),
                        sent_at: now_ms(),
                    };
                    let ack = VisitorServerFrame::Ack { id: message.id.clone(), seq, sent_at: message.sent_at };
                    fan_out(&state, Arc::new(message));
                    ack
                }
            }
            (Ok(_), None) => VisitorServerFrame::Error(ErrorFrame::new(ErrorCode::HelloRequired, "send hello first")),
            (Ok(_), Some(_)) => continue,
        };
        if !send(&mut sink, &out).await {
            break;
        }
    }
}

fn fan_out(state: &Baseline, message: Arc<Message>) {
    let advisors = state.advisors.lock().unwrap_or_else(|p| p.into_inner());
    for conn in advisors.iter() {
        if let Err(mpsc::error::TrySendError::Full(_)) = conn.tx.try_send(message.clone()) {
            conn.kick.notify_one();
        }
    }
}

async fn advisor_session(state: Baseline, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Arc<Message>>(QUEUE);
    let me = state.next_id.fetch_add(1, Relaxed);
    let kicked = Arc::new(Notify::new());
    let mut joined = false;
    let mut probe = Some(tx);
    loop {
        tokio::select! {
            _ = kicked.notified() => {
                let close = CloseFrame { code: 1013, reason: Utf8Bytes::from_static("too slow; reconnect and resume") };
                let _ = sink.send(WsMessage::Close(Some(close))).await;
                break;
            }
            message = rx.recv(), if joined => {
                let Some(message) = message else { break };
                let frame = AdvisorServerFrame::Message { message: (*message).clone() };
                if !send(&mut sink, &frame).await { break; }
            }
            incoming = stream.next() => {
                let Some(Ok(WsMessage::Text(text))) = incoming else {
                    match incoming {
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                        _ => continue,
                    }
                };
                if let Ok(shared::AdvisorClientFrame::Hello { .. }) = decode_frame::<shared::AdvisorClientFrame>(text.as_str()) {
                    if let Some(tx) = probe.take() {
                        state.advisors.lock().unwrap_or_else(|p| p.into_inner()).push(AdvisorConn { id: me, tx, kick: kicked.clone() });
                        joined = true;
                        let welcome = AdvisorServerFrame::Welcome {
        v: PROTOCOL_VERSION,
        advisor: bench_advisor(),
        conversations: vec![],
        admin: false,
        teams: Vec::new(),
        roster: Vec::new(),
    };
                        if !send(&mut sink, &welcome).await { break; }
                    }
                }
            }
        }
    }
    state.advisors.lock().unwrap_or_else(|p| p.into_inner()).retain(|conn| conn.id != me);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
