//! `/ws/visitor?site=KEY`: the widget's socket. The page's origin is checked against the site's
//! allowed origins before the upgrade; after it, the first frame must be `hello`.

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
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
use crate::http::client_ip::ClientIp;
use crate::hub::{Event, Member};
use crate::limits::{RetryAfter, SocketLimits, SocketSlot};
use crate::origin;
use crate::secret;
use crate::state::AppState;
use crate::store::{Arrival, Reader, Site, VisitorThread};

#[derive(Debug, Deserialize)]
pub struct VisitorQuery {
    site: Option<String>,
}

pub async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<VisitorQuery>,
    client: ClientIp,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, Response> {
    // The in-memory count first: a client over its share costs no database lookup.
    let ip = client.limit_key();
    let slot = state.limits.open_socket(ip).map_err(|RetryAfter(wait)| {
        crate::error::rate_limited(wait, "too many chat connections are open from your network; close some tabs or try again shortly")
    })?;
    let site = checked_site(&state, query.site.as_deref(), &headers).await.map_err(IntoResponse::into_response)?;
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let browser = Browser { user_agent: header(header::USER_AGENT), accept_language: header(header::ACCEPT_LANGUAGE) };
    Ok(super::limits(ws).on_upgrade(move |socket| session(state, site, browser, Client { ip, _slot: slot }, socket)))
}

/// Who is on the other end, for the limits: the client's IP (its /64 for IPv6) and the socket slot
/// it holds until the socket ends.
struct Client {
    ip: std::net::IpAddr,
    _slot: SocketSlot,
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
    // The relay's own pages (the webview page `/c/KEY`) may use every site.
    if !origin::is_allowed(page_origin, &site.allowed_origins) && !origin::is_same_origin(headers, state.config.public_url.as_ref()) {
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
    /// The site's bot had this conversation at hello: each message may be the bot's to answer.
    bot: bool,
    /// `identify` merged this socket's conversation into the user's thread: sends are refused
    /// (`thread_moved`) until the client reconnects there, so nothing is acked into the emptied one.
    moved: bool,
    client: Client,
    limits: SocketLimits,
}

async fn session(state: AppState, site: Site, browser: Browser, client: Client, socket: WebSocket) {
    let stopping = state.stopping.clone();
    let limits = state.limits.socket();
    let session = VisitorSession {
        client,
        limits,
        state,
        site,
        browser,
        thread: None,
        member: None,
        replayed_up_to: 0,
        typing: Default::default(),
        bot: false,
        moved: false,
    };
    super::drive(session, socket, stopping).await;
}

impl super::Session for VisitorSession {
    type Out = Out;

    fn error(e: ErrorFrame) -> Out {
        Out::Error(e)
    }

    const ENDED: &'static str = "this visitor token was revoked; reload the page";

    /// A socket that never says hello holds a slot for nothing.
    fn hello_deadline(&self) -> Option<std::time::Duration> {
        self.thread.is_none().then(|| self.state.limits.hello_timeout())
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
            (In::Hello { v, token, last_seq, page, referrer, timezone, locale }, None) => {
                self.hello(v, token, last_seq, Landing { page, referrer, timezone, locale }, sink).await
            }
            (In::Hello { .. }, Some(_)) => {
                send(sink, &Out::Error(ErrorFrame::new(ErrorCode::AlreadyGreeted, "hello was already sent on this connection"))).await
            }
            (_, None) => {
                let e = ErrorFrame::new(ErrorCode::HelloRequired, "send hello first");
                send(sink, &Out::Error(e)).await
            }
            (In::Send { id, .. }, Some(_)) if self.moved => {
                let e = ErrorFrame::new(
                    ErrorCode::ThreadMoved,
                    "this conversation moved into your account's thread; reconnect (hello with the token from `identified`) and send it again",
                );
                send(sink, &Out::Error(e.with_ref(Some(id.0)))).await
            }
            (In::Send { id, text, attachments }, Some(thread)) => {
                if let Err(RetryAfter(wait)) = self.limits.message() {
                    let e = ErrorFrame::rate_limited(wait, "you are sending messages faster than the relay takes them; this one was not stored, send it again shortly");
                    return send(sink, &Out::Error(e.with_ref(Some(id.0)))).await;
                }
                if let Err(RetryAfter(wait)) = self.state.limits.message_from(self.client.ip) {
                    let e = ErrorFrame::rate_limited(wait, "too many messages are coming from your network; this one was not stored, send it again shortly");
                    return send(sink, &Out::Error(e.with_ref(Some(id.0)))).await;
                }
                let (conversation, origin) = (thread.conversation, self.member.as_ref().map(|m| m.id));
                let origin = origin.expect("a greeted session has joined the hub");
                match conversation::post(&self.state, conversation, id, Author::Visitor, &text, origin, Default::default(), attachments)
                    .await {
                    Ok(done) => {
                        let m = done.message;
                        let acked = super::flush_queued(self, sink).await
                            && send(sink, &Out::Ack { id: m.id.clone(), seq: m.seq, sent_at: m.sent_at }).await;
                        if acked && done.created && self.bot {
                            crate::bot::engine::on_visitor_message(&self.state, &self.site, conversation, m.seq, &m.text).await;
                        }
                        acked
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
            (In::Handoff, Some(thread)) => {
                if self.bot {
                    crate::bot::engine::request_handoff(&self.state, self.site.id, thread.conversation, "asked for a person").await;
                }
                true
            }
            (In::Typing { on }, Some(thread)) => {
                // Past its rate a typing change is dropped, unanswered: an error per frame would
                // be a flood of its own.
                if self.limits.typing() && self.typing.should_forward(on) {
                    self.state.hub.to_advisors(Event::VisitorTyping { conversation: thread.conversation, on });
                }
                true
            }
            (In::Identify { user_id, user_hash, name, email }, Some(_)) => {
                let frame = match self.identify(user_id, user_hash, name, email).await {
                    Ok(frame) => frame,
                    Err(e) => Out::Error(e),
                };
                send(sink, &frame).await
            }
            (In::SetEmail { email }, Some(thread)) => {
                let email = email.trim();
                if email.len() > 254 || !crate::customer::is_email(email) {
                    let e = ErrorFrame::new(ErrorCode::BadRequest, "this doesn't look like an e-mail address");
                    return send(sink, &Out::Error(e)).await;
                }
                let (visitor, conversation) = (thread.visitor, thread.conversation);
                if let Err(e) = self.state.store.set_visitor_email(visitor, email).await {
                    return self.internal(sink, "storing a visitor's e-mail", e).await;
                }
                // The customer panel and the inbox row show the e-mail.
                conversation::announce_conversation(&self.state, conversation).await;
                send(sink, &Out::Email { email: email.to_owned() }).await
            }
            (In::PushSubscribe { endpoint, p256dh, auth }, Some(thread)) => {
                let subscription = crate::notify::push::Subscription { endpoint, p256dh, auth };
                if let Err(why) = crate::notify::push::check(&subscription, &self.state.outbound) {
                    let e = ErrorFrame::new(ErrorCode::BadRequest, format!("this push subscription can't be used: {why}"));
                    return send(sink, &Out::Error(e)).await;
                }
                if self.state.notifier.web_push().is_none() {
                    let e = ErrorFrame::new(ErrorCode::BadRequest, "this relay doesn't send Web Push");
                    return send(sink, &Out::Error(e)).await;
                }
                let keep = crate::notify::push::MAX_SUBSCRIPTIONS_PER_VISITOR;
                match self.state.store.save_push_subscription(thread.visitor, &subscription, crate::now_ms(), keep).await {
                    Ok(()) => true,
                    Err(e) => self.internal(sink, "storing a push subscription", e).await,
                }
            }
            (In::Rate { rating, comment }, Some(thread)) => {
                // The answer (`survey` with the rating) comes through the hub, to every tab of the visitor.
                match crate::notify::survey::rate(&self.state, thread.conversation, rating, comment).await {
                    Ok(_) => true,
                    Err(e) => send(sink, &Out::Error(e)).await,
                }
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
                (!mine && !message.note && message.seq > self.replayed_up_to)
                    .then(|| Out::Message { message: self.state.attachments.signed(message.clone()) })
            }
            Event::AdvisorTyping { on, name, .. } => Some(Out::Typing { on: *on, name: name.clone() }),
            Event::AdvisorsRead { up_to, .. } => Some(Out::Read { up_to: *up_to }),
            Event::DeliveredToAdvisors { up_to, .. } => Some(Out::Delivered { up_to: *up_to }),
            Event::Presence { advisors_online } => Some(Out::Presence { advisors_online: *advisors_online }),
            Event::Queue { position, wait_ms } => Some(Out::Queue { position: *position, wait_ms: *wait_ms }),
            Event::Bot { active, seq, replies } => Some(Out::Bot { active: *active, seq: *seq, replies: replies.clone() }),
            Event::Visitor(frame) => Some(frame.clone()),
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
    locale: Option<String>,
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
        let visit = Visit::new(
            self.browser.user_agent.as_deref(),
            // The widget's own choice (an override by the site) wins over the browser's header.
            landing.locale.as_deref().or(self.browser.accept_language.as_deref()),
            landing.referrer.as_deref(),
            landing.timezone.as_deref(),
        );
        let language = visit.language.clone();
        let page = landing.page.filter(|p| p.len() <= MAX_URL_BYTES);
        let arrival = Arrival { page, visit, now };
        let found = match &token {
            Some(token) => store.visitor_by_token(self.site.id, &secret::token_hash(token)).await,
            None => Ok(None),
        };
        let (mut thread, token, created) = match (found, token) {
            (Ok(Some(thread)), Some(token)) => {
                // Recorded, not required: a chat is never refused over its page or browser.
                if let Err(e) = store.record_arrival(thread.visitor, thread.conversation, arrival).await {
                    tracing::warn!(error = %e, "could not store the visitor's page, browser and referrer");
                }
                (thread, token, false)
            }
            (Ok(None), Some(_)) => {
                let e = ErrorFrame::new(
                    ErrorCode::BadToken,
                    "this visitor token is not known on this site; send hello without a token to start a new conversation",
                );
                return send(sink, &Out::Error(e)).await;
            }
            (Ok(_), None) => {
                if let Err(RetryAfter(wait)) = self.state.limits.new_visitor(self.client.ip) {
                    let e = ErrorFrame::rate_limited(wait, "too many new chats are starting from your network; try again shortly");
                    // Nothing to do on this socket without a visitor: the client reconnects later.
                    if send(sink, &Out::Error(e)).await {
                        super::close(sink, super::CLOSE_TRY_AGAIN_LATER, "too many new visitors from your network").await;
                    }
                    return false;
                }
                let token = secret::new_token();
                match store.open_visitor(self.site.id, &secret::token_hash(&token), arrival).await {
                    Ok(thread) => (thread, token, true),
                    Err(e) => return self.internal(sink, "creating a visitor", e).await,
                }
            }
            (Err(e), _) => return self.internal(sink, "looking up a visitor token", e).await,
        };
        // A new conversation on a site with a bot: the bot takes it and greets first.
        if created {
            if let Some(seq) = crate::bot::engine::start(&self.state, &self.site, thread.conversation, language.as_deref()).await {
                thread.last_seq = seq;
            }
        }
        // Join before reading the backlog so nothing committed in between is missed; live copies
        // of replayed messages are skipped by seq.
        self.member = Some(self.state.hub.join_visitor(thread.conversation));
        crate::access::ensure_scope(&self.state, thread.conversation).await;
        // A conversation the bot greeted shows the bot's greeting, not the site's static one too.
        let bot = crate::bot::engine::frame(&self.state, thread.conversation).await;
        let mut site = self.site.info();
        if bot.is_some() {
            site.greeting.clear();
            site.translations.iter_mut().for_each(|t| t.greeting.clear());
        }
        let welcome = Out::Welcome {
            v: PROTOCOL_VERSION,
            token,
            conversation: thread.conversation,
            last_seq: thread.last_seq,
            read_seq: thread.read_seq,
            site,
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
        // A conversation this hello just opened holds what the bot said, if anything: nobody else
        // knows it yet. Below, the same goes for an e-mail, a survey and an inbox row (advisors see
        // a conversation from its first word): a page view costs no reads it can't need.
        let fresh = created && thread_last_seq == 0;
        while !fresh {
            let batch = match self.state.store.visitor_messages_after(conversation, cursor, MAX_REPLAY).await {
                Ok(batch) => batch,
                Err(e) => return self.internal(sink, "replaying a thread", e).await,
            };
            let Some(last) = batch.last() else { break };
            cursor = last.seq;
            replayed_up_to = last.seq;
            for message in batch {
                if !send(sink, &Out::Message { message: self.state.attachments.signed(message) }).await {
                    return false;
                }
            }
        }
        self.replayed_up_to = replayed_up_to;
        if let Some(bot) = bot {
            self.bot = matches!(bot, Out::Bot { active: true, .. });
            if !send(sink, &bot).await {
                return false;
            }
        }
        // Still waiting in a queue: where they stand.
        if let Some((position, wait_ms)) = self.state.router.place(conversation) {
            if !send(sink, &Out::Queue { position, wait_ms }).await {
                return false;
            }
        }
        // The e-mail replies go to while they are away, and a survey still waiting for a rating.
        // A new visitor has no e-mail and no survey yet.
        if !created {
            match self.state.store.visitor_email(self.thread.as_ref().map(|t| t.visitor).expect("set above")).await {
                Ok(Some(email)) => {
                    if !send(sink, &Out::Email { email }).await {
                        return false;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not read a visitor's e-mail"),
            }
            match self.state.store.current_survey(conversation).await {
                Ok(Some(survey)) => {
                    if !send(sink, &Out::Survey { rating: survey.rating.unwrap_or(0) }).await {
                        return false;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not read a conversation's survey"),
            }
        }
        // The visitor's device now holds the thread up to here; the inbox row shows them online.
        if replayed_up_to > 0 {
            conversation::delivered(&self.state, conversation, Reader::Visitor, replayed_up_to).await;
        }
        if !created {
            conversation::announce_conversation(&self.state, conversation).await;
        }
        true
    }

    /// `identify`: the user id binds this visitor only with a valid `user_hash`; name and e-mail are
    /// kept either way, marked as the visitor's own word without one (unless a verified identity
    /// is required: then nothing changes).
    async fn identify(&mut self, user_id: String, user_hash: Option<String>, name: Option<String>, email: Option<String>) -> Result<Out, ErrorFrame> {
        let rejected = |message: &str| ErrorFrame::new(ErrorCode::IdentityRejected, message);
        let user_id = user_id.trim().to_owned();
        if user_id.is_empty() || user_id.chars().count() > 256 {
            return Err(ErrorFrame::new(ErrorCode::InvalidFrame, "identify: user_id must be 1 to 256 characters"));
        }
        let verified = match (&self.site.identity_secret, &user_hash) {
            (Some(secret), Some(hash)) => crate::identity::verify(secret, &user_id, hash),
            _ => false,
        };
        if self.site.require_identity && !verified {
            return Err(rejected(if user_hash.is_none() {
                "this site requires a verified identity: pass user_hash = HMAC-SHA256(the site's identity secret, user_id) in hex; nothing was changed"
            } else {
                "user_hash does not match user_id for this site's identity secret; nothing was changed"
            }));
        }
        let thread = self.thread.as_ref().expect("identify is handled after hello");
        let (visitor, conversation) = (thread.visitor, thread.conversation);
        let clean = |v: Option<String>, max: usize| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty() && v.chars().count() <= max && !v.contains(['\n', '\r']));
        let edit = crate::store::CustomerEdit {
            name: clean(name, 80).map(Some),
            email: clean(email, 254).filter(|e| crate::customer::is_email(e)).map(Some),
            by_visitor: !verified,
        };
        if !verified {
            self.remember(conversation, &edit).await;
            conversation::announce_conversation(&self.state, conversation).await;
            return Ok(Out::Identified { verified: false, switched: false, token: None });
        }
        let internal = |e: crate::store::StoreError| {
            tracing::error!(error = %e, site = %self.site.key, "binding a visitor to a user");
            ErrorFrame::new(ErrorCode::Internal, "the relay failed to handle this; it has been logged. Try again.")
        };
        let token = secret::new_token();
        let store = &self.state.store;
        let bind = store
            .bind_user(self.site.id, visitor, conversation, &user_id, &secret::token_hash(&token), crate::now_ms())
            .await
            .map_err(internal)?;
        let me = self.member.as_ref().map(|m| m.id).expect("a greeted session has joined the hub");
        use crate::store::identity::Bind;
        match bind {
            Bind::Already => {
                self.remember(conversation, &edit).await;
                conversation::announce_conversation(&self.state, conversation).await;
                Ok(Out::Identified { verified: true, switched: false, token: None })
            }
            Bind::Bound => {
                // Whoever else held this visitor's token (another browser, a link) is out now.
                let ended = self.state.hub.end_visitor(conversation, me);
                tracing::info!(site = %self.site.key, %conversation, other_sockets_closed = ended, "a visitor was bound to a verified user");
                self.remember(conversation, &edit).await;
                conversation::announce_conversation(&self.state, conversation).await;
                Ok(Out::Identified { verified: true, switched: false, token: Some(token) })
            }
            Bind::OtherUser => Err(rejected(
                "this device is signed in as another user: call Confab('shutdown') when a user logs out, before identifying the next one",
            )),
            Bind::Merged { from, into, first_moved_seq } => {
                self.moved = true;
                let ended = self.state.hub.end_visitor(from, me);
                tracing::info!(site = %self.site.key, %from, %into, other_sockets_closed = ended, "a visitor was merged into a verified user's");
                self.remember(into, &edit).await;
                // The user's other devices see the moved messages at once; the dashboards drop the
                // emptied conversation and reload the user's.
                if let Ok(moved) = store.visitor_messages_after(into, first_moved_seq - 1, MAX_REPLAY).await {
                    for message in moved {
                        self.state.hub.to_visitor(into, Event::Message { message, origin: None });
                    }
                }
                self.state.hub.to_advisors(Event::Removed { conversation: from });
                conversation::announce_conversation(&self.state, into).await;
                crate::routing::changed(&self.state);
                Ok(Out::Identified { verified: true, switched: true, token: Some(token) })
            }
        }
    }

    /// Keep the name and e-mail an `identify` carried (a failure is logged: identifying still works).
    async fn remember(&self, conversation: shared::ConversationId, edit: &crate::store::CustomerEdit) {
        if edit.name.is_some() || edit.email.is_some() {
            if let Err(e) = self.state.store.edit_customer(conversation, edit).await {
                tracing::warn!(error = %e, "could not store an identified visitor's name");
            }
        }
    }

    async fn internal(&self, sink: &mut Sink, context: &str, err: impl std::fmt::Display) -> bool {
        tracing::error!(error = %err, site = %self.site.key, "{context}");
        let e = ErrorFrame::new(ErrorCode::Internal, "the relay failed to handle this; it has been logged. Try again.");
        send(sink, &Out::Error(e)).await
    }
}
