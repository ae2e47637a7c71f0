//! `/ws/visitor?site=KEY`: the widget's socket. The page's origin is checked against the site's
//! allowed origins before the upgrade; after it, the first frame must be `hello`.

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use shared::limits::{MAX_REPLAY, MAX_URL_BYTES};
use shared::{
    decode_frame, Author, ErrorCode, ErrorFrame, Seq, VisitorClientFrame as In, VisitorServerFrame as Out,
    PROTOCOL_VERSION,
};

use super::{send, Sink};
use crate::conversation;
use crate::customer::Visit;
use crate::error::{ApiError, ApiResult};
use crate::hub::{Event, Member};
use crate::origin;
use crate::secret;
use crate::state::AppState;
use crate::store::{Reader, Site, VisitorThread};

#[derive(Debug, Deserialize)]
pub struct VisitorQuery {
    site: Option<String>,
}

pub async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<VisitorQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    let site = checked_site(&state, query.site.as_deref(), &headers).await?;
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let browser = Browser { user_agent: header(header::USER_AGENT), accept_language: header(header::ACCEPT_LANGUAGE) };
    Ok(super::limits(ws).on_upgrade(move |socket| session(state, site, browser, socket)))
}

/// The site named by `key`, if the request's `Origin` may use it. Shared with the site API.
pub async fn checked_site(state: &AppState, key: Option<&str>, headers: &HeaderMap) -> ApiResult<Site> {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::UnknownSite,
            "missing site key: connect to /ws/visitor?site=YOUR_SITE_KEY",
        ));
    };
    let site = state.store.site_by_key(key).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownSite,
            format!("no site with key \"{key}\"; check the data-site attribute of the script tag"),
        )
    })?;
    let Some(page_origin) = origin::request_origin(headers) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ForbiddenOrigin,
            "the request has no Origin header; the widget must be loaded by a web page on an allowed origin",
        ));
    };
    if !origin::is_allowed(page_origin, &site.allowed_origins) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ForbiddenOrigin,
            format!(
                "origin {page_origin} may not embed site \"{key}\"; add it to the site's allowed origins \
                 (confab-relay site create --key {key} … --origin {page_origin})"
            ),
        ));
    }
    Ok(site)
}

/// What the upgrade request said about the visitor's browser, stored at `hello`.
struct Browser {
    user_agent: Option<String>,
    accept_language: Option<String>,
}

struct VisitorSession {
    state: AppState,
    site: Site,
    browser: Browser,
    thread: Option<VisitorThread>,
    member: Option<Member>,
    /// Messages up to this seq were replayed after `hello`; live copies of them are skipped.
    replayed_up_to: Seq,
    typing: conversation::TypingThrottle,
}

async fn session(state: AppState, site: Site, browser: Browser, socket: WebSocket) {
    let stopping = state.stopping.clone();
    let session = VisitorSession { state, site, browser, thread: None, member: None, replayed_up_to: 0, typing: Default::default() };
    super::drive(session, socket, stopping).await;
}

impl super::Session for VisitorSession {
    type Out = Out;

    fn error(e: ErrorFrame) -> Out {
        Out::Error(e)
    }

    fn member(&mut self) -> &mut Option<Member> {
        &mut self.member
    }

    /// The advisors' inbox shows the visitor offline once their last socket is gone.
    async fn closed(self) {
        if let Some(thread) = &self.thread {
            conversation::announce_presence(&self.state, thread.conversation);
        }
    }

    /// Handle one client frame; false when the socket is gone.
    async fn handle(&mut self, text: &str, sink: &mut Sink) -> bool {
        let frame = match decode_frame::<In>(text) {
            Ok(frame) => frame,
            Err(e) => return send(sink, &Out::Error(e.into())).await,
        };
        match (frame, &self.thread) {
            (In::Hello { v, token, last_seq, page, referrer, timezone }, None) => {
                self.hello(v, token, last_seq, Landing { page, referrer, timezone }, sink).await
            }
            (In::Hello { .. }, Some(_)) => {
                send(sink, &Out::Error(ErrorFrame::new(ErrorCode::AlreadyGreeted, "hello was already sent on this connection"))).await
            }
            (_, None) => {
                let e = ErrorFrame::new(ErrorCode::HelloRequired, "send hello first");
                send(sink, &Out::Error(e)).await
            }
            (In::Send { id, text }, Some(thread)) => {
                let (conversation, origin) = (thread.conversation, self.member.as_ref().map(|m| m.id));
                let origin = origin.expect("a greeted session has joined the hub");
                match conversation::post(&self.state, conversation, id, Author::Visitor, &text, origin, Default::default()).await {
                    Ok(done) => {
                        let m = done.message;
                        super::flush_queued(self, sink).await
                            && send(sink, &Out::Ack { id: m.id, seq: m.seq, sent_at: m.sent_at }).await
                    }
                    Err(e) => send(sink, &Out::Error(e)).await,
                }
            }
            (In::Read { up_to }, Some(thread)) => {
                let conversation = thread.conversation;
                match conversation::read(&self.state, conversation, Reader::Visitor, up_to).await {
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not store a visitor read cursor"),
                }
                true
            }
            (In::Typing { on }, Some(thread)) => {
                if self.typing.should_forward(on) {
                    self.state.hub.to_advisors(Event::VisitorTyping { conversation: thread.conversation, on });
                }
                true
            }
            (In::Unknown, _) => unreachable!("decode_frame turns Unknown into an error"),
            #[allow(unreachable_patterns)]
            _ => true,
        }
    }

    fn frame_for(&self, event: &Event) -> Option<Out> {
        match event {
            Event::Message { message, origin } => {
                let mine = self.member.as_ref().map(|m| m.id) == *origin;
                // Notes are never handed to a visitor socket; this is the second lock on that door.
                (!mine && !message.note && message.seq > self.replayed_up_to).then(|| Out::Message { message: message.clone() })
            }
            Event::AdvisorTyping { on, name, .. } => Some(Out::Typing { on: *on, name: name.clone() }),
            Event::AdvisorsRead { up_to, .. } => Some(Out::Read { up_to: *up_to }),
            Event::DeliveredToAdvisors { up_to, .. } => Some(Out::Delivered { up_to: *up_to }),
            Event::Presence { advisors_online } => Some(Out::Presence { advisors_online: *advisors_online }),
            Event::Queue { position, wait_ms } => Some(Out::Queue { position: *position, wait_ms: *wait_ms }),
            Event::Conversation(_)
            | Event::Roster { .. }
            | Event::Removed { .. }
            | Event::VisitorTyping { .. }
            | Event::PlatformDelivery { .. }
            | Event::Channels(_)
            | Event::Attachment { .. } => None,
        }
    }
}

/// Where the hello says the visitor is and came from.
struct Landing {
    page: Option<String>,
    referrer: Option<String>,
    timezone: Option<String>,
}

impl VisitorSession {
    async fn hello(&mut self, v: u32, token: Option<String>, last_seq: Seq, landing: Landing, sink: &mut Sink) -> bool {
        if v != PROTOCOL_VERSION {
            let e = ErrorFrame::new(
                ErrorCode::UnsupportedVersion,
                format!("this relay speaks protocol version {PROTOCOL_VERSION}, not {v}; reload the page"),
            );
            return send(sink, &Out::Error(e)).await;
        }
        let store = &self.state.store;
        let now = crate::now_ms();
        let found = match &token {
            Some(token) => store.visitor_by_token(self.site.id, &secret::token_hash(token)).await,
            None => Ok(None),
        };
        let (thread, token) = match (found, token) {
            (Ok(Some(thread)), Some(token)) => (thread, token),
            (Ok(None), Some(_)) => {
                let e = ErrorFrame::new(
                    ErrorCode::BadToken,
                    "this visitor token is not known on this site; send hello without a token to start a new conversation",
                );
                return send(sink, &Out::Error(e)).await;
            }
            (Ok(_), None) => {
                let token = secret::new_token();
                match store.create_visitor(self.site.id, &secret::token_hash(&token), now).await {
                    Ok(thread) => (thread, token),
                    Err(e) => return self.internal(sink, "creating a visitor", e).await,
                }
            }
            (Err(e), _) => return self.internal(sink, "looking up a visitor token", e).await,
        };
        if let Some(page) = landing.page.as_deref().filter(|p| p.len() <= MAX_URL_BYTES) {
            if let Err(e) = store.set_conversation_page(thread.conversation, page).await {
                tracing::warn!(error = %e, "could not store the visitor's page");
            }
        }
        let visit = Visit::new(
            self.browser.user_agent.as_deref(),
            self.browser.accept_language.as_deref(),
            landing.referrer.as_deref(),
            landing.timezone.as_deref(),
        );
        if let Err(e) = store.record_visit(thread.visitor, thread.conversation, &visit, now).await {
            tracing::warn!(error = %e, "could not store the visitor's browser and referrer");
        }
        // Join before reading the backlog so nothing committed in between is missed; live copies
        // of replayed messages are skipped by seq.
        self.member = Some(self.state.hub.join_visitor(thread.conversation));
        crate::access::ensure_scope(&self.state, thread.conversation).await;
        let welcome = Out::Welcome {
            v: PROTOCOL_VERSION,
            token,
            conversation: thread.conversation,
            last_seq: thread.last_seq,
            read_seq: thread.read_seq,
            site: self.site.info(),
            advisors_online: self.state.hub.advisors_online(),
            delivered_seq: thread.delivered_seq,
            advisors_read_seq: thread.advisors_read_seq,
            continue_on: crate::channels::bridge::continue_links(&self.state, self.site.id, &self.site.name, thread.conversation).await,
        };
        let conversation = thread.conversation;
        let thread_last_seq = thread.last_seq;
        self.thread = Some(thread);
        if !send(sink, &welcome).await {
            return false;
        }
        // A client may claim more than the thread has (a restored database, a client bug): replay
        // from its cursor, but let live messages through from what the thread really holds.
        let mut cursor = last_seq;
        let mut replayed_up_to = last_seq.min(thread_last_seq);
        loop {
            let batch = match self.state.store.visitor_messages_after(conversation, cursor, MAX_REPLAY).await {
                Ok(batch) => batch,
                Err(e) => return self.internal(sink, "replaying a thread", e).await,
            };
            let Some(last) = batch.last() else { break };
            cursor = last.seq;
            replayed_up_to = last.seq;
            for message in batch {
                if !send(sink, &Out::Message { message }).await {
                    return false;
                }
            }
        }
        self.replayed_up_to = replayed_up_to;
        // Still waiting in a queue: where they stand.
        if let Some((position, wait_ms)) = self.state.router.place(conversation) {
            if !send(sink, &Out::Queue { position, wait_ms }).await {
                return false;
            }
        }
        // The visitor's device now holds the thread up to here; the inbox row shows them online.
        if replayed_up_to > 0 {
            conversation::delivered(&self.state, conversation, Reader::Visitor, replayed_up_to).await;
        }
        conversation::announce_conversation(&self.state, conversation).await;
        true
    }

    async fn internal(&self, sink: &mut Sink, context: &str, err: impl std::fmt::Display) -> bool {
        tracing::error!(error = %err, site = %self.site.key, "{context}");
        let e = ErrorFrame::new(ErrorCode::Internal, "the relay failed to handle this; it has been logged. Try again.");
        send(sink, &Out::Error(e)).await
    }
}
