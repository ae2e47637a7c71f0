//! `/ws/advisor`: the dashboard's socket. Authenticated by the session cookie at upgrade and
//! same-origin only (a cross-site page can't ride the advisor's cookie into a socket).

use axum::extract::ws::{Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use shared::{
    decode_frame, AdvisorClientFrame as In, AdvisorInfo, AdvisorServerFrame as Out, Author, ErrorCode, ErrorFrame,
    PROTOCOL_VERSION,
};

use super::{send, Sink};
use crate::conversation;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::SignedIn;
use crate::hub::{Delivery, Event, Member};
use crate::origin;
use crate::state::AppState;
use crate::store::Reader;

/// Inbox rows sent in `welcome`.
const INBOX_SIZE: usize = 200;

pub async fn upgrade(
    State(state): State<AppState>,
    SignedIn(advisor): SignedIn,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    if !origin::is_same_origin(&headers, state.config.public_url.as_ref()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ForbiddenOrigin,
            "the advisor socket only accepts connections from the dashboard's own origin",
        ));
    }
    Ok(super::limits(ws).on_upgrade(move |socket| session(state, advisor, socket)))
}

struct AdvisorSession {
    state: AppState,
    advisor: AdvisorInfo,
    member: Option<Member>,
    typing: std::collections::HashMap<shared::ConversationId, conversation::TypingThrottle>,
}

async fn session(state: AppState, advisor: AdvisorInfo, socket: WebSocket) {
    let stopping = state.stopping.clone();
    let id = advisor.id;
    super::drive(AdvisorSession { state: state.clone(), advisor, member: None, typing: Default::default() }, socket, stopping)
        .await;
    // Auto-away counts from the last tab closing.
    state.router.tab_closed(id, crate::now_ms());
    crate::routing::changed(&state);
}

impl super::Session for AdvisorSession {
    type Out = Out;

    fn error(e: ErrorFrame) -> Out {
        Out::Error(e)
    }

    fn member(&mut self) -> &mut Option<Member> {
        &mut self.member
    }

    async fn handle(&mut self, text: &str, sink: &mut Sink) -> bool {
        let frame = match decode_frame::<In>(text) {
            Ok(frame) => frame,
            Err(e) => return send(sink, &Out::Error(e.into())).await,
        };
        let greeted = self.member.is_some();
        if greeted {
            if let Some(conversation) = conversation_of(&frame) {
                if let Some(refusal) = self.refuse(conversation, &frame).await {
                    return send(sink, &Out::Error(refusal)).await;
                }
            }
        }
        match frame {
            In::Hello { v } if !greeted => self.hello(v, sink).await,
            In::Hello { .. } => {
                send(sink, &Out::Error(ErrorFrame::new(ErrorCode::AlreadyGreeted, "hello was already sent on this connection"))).await
            }
            _ if !greeted => send(sink, &Out::Error(ErrorFrame::new(ErrorCode::HelloRequired, "send hello first"))).await,
            In::Open { reference, conversation, after_seq } => {
                let store = &self.state.store;
                let summary = match store.conversation_summary(conversation).await {
                    Ok(Some(s)) => s,
                    Ok(None) => {
                        let e = ErrorFrame::new(ErrorCode::NotFound, format!("no conversation {conversation}"));
                        return send(sink, &Out::Error(e.with_ref(Some(reference)))).await;
                    }
                    Err(e) => return self.internal(sink, Some(reference), "loading a conversation", e).await,
                };
                match store.messages_after(conversation, after_seq, usize::MAX >> 1).await {
                    Ok(messages) => {
                        let last_seq = summary.last_seq;
                        if !send(sink, &Out::History { reference, conversation, messages, last_seq }).await {
                            return false;
                        }
                        // An advisor's dashboard now holds the whole thread.
                        if last_seq > 0 {
                            conversation::delivered(&self.state, conversation, Reader::Advisors, last_seq).await;
                        }
                        true
                    }
                    Err(e) => self.internal(sink, Some(reference), "loading a thread", e).await,
                }
            }
            In::Send { id, conversation, text, via, template, attachments } => {
                let author = Author::Advisor { id: self.advisor.id, name: self.advisor.name.clone() };
                let origin = self.member.as_ref().map(|m| m.id).expect("greeted");
                let reply = conversation::Reply { via, template };
                match conversation::post(&self.state, conversation, id, author, &text, origin, reply, attachments).await {
                    Ok(done) => {
                        let m = done.message;
                        super::flush_queued(self, sink).await
                            && send(sink, &Out::Ack { id: m.id, conversation, seq: m.seq, sent_at: m.sent_at }).await
                    }
                    Err(e) => send(sink, &Out::Error(e)).await,
                }
            }
            In::Note { id, conversation, text } => {
                let author = Author::Advisor { id: self.advisor.id, name: self.advisor.name.clone() };
                let origin = self.member.as_ref().map(|m| m.id).expect("greeted");
                match conversation::post_note(&self.state, conversation, id, author, &text, origin).await {
                    Ok(done) => {
                        let m = done.message;
                        super::flush_queued(self, sink).await
                            && send(sink, &Out::Ack { id: m.id, conversation, seq: m.seq, sent_at: m.sent_at }).await
                    }
                    Err(e) => send(sink, &Out::Error(e)).await,
                }
            }
            In::SetStatus { reference, conversation, status, snoozed_until } => {
                match conversation::set_status(&self.state, conversation, status, snoozed_until, reference).await {
                    Ok(()) => {
                        if status == shared::ConversationStatus::Resolved {
                            crate::notify::survey::resolved(&self.state, conversation, Some(self.advisor.id)).await;
                        }
                        true
                    }
                    Err(e) => send(sink, &Out::Error(e)).await,
                }
            }
            In::Read { conversation, up_to } => {
                match conversation::read(&self.state, conversation, Reader::Advisors, up_to).await {
                    Ok(_) => {
                        crate::channels::bridge::advisor_read(&self.state, conversation, up_to);
                        true
                    }
                    Err(crate::store::StoreError::NotFound) => {
                        let e = ErrorFrame::new(ErrorCode::NotFound, format!("no conversation {conversation}"));
                        send(sink, &Out::Error(e)).await
                    }
                    Err(e) => self.internal(sink, None, "storing a read cursor", e).await,
                }
            }
            In::Typing { conversation, on } => {
                if self.typing.entry(conversation).or_default().should_forward(on) {
                    let name = self.advisor.name.clone();
                    self.state.hub.to_visitor(conversation, Event::AdvisorTyping { conversation, on, name });
                }
                if on {
                    crate::channels::bridge::advisor_typing(&self.state, conversation);
                }
                true
            }
            In::Unlink { reference, conversation, identity } => {
                match crate::channels::bridge::unlink(&self.state, conversation, identity).await {
                    Ok(()) => true,
                    Err(e) => send(sink, &Out::Error(e.with_ref(Some(reference)))).await,
                }
            }
            In::Assign { reference, conversation, advisor, team } => {
                let handover = crate::store::routing::Handover { conversation, advisor, team, by: self.advisor.id, now: crate::now_ms() };
                match self.state.store.hand_over(handover).await {
                    Ok(scope) => {
                        self.state.hub.set_scope(conversation, scope);
                        crate::routing::router::handed_over(&self.state, conversation);
                        true
                    }
                    Err(crate::store::StoreError::NotFound) => {
                        let e = ErrorFrame::new(
                            ErrorCode::NotFound,
                            "no such conversation, active advisor or team: reload the dashboard and try again",
                        );
                        send(sink, &Out::Error(e.with_ref(Some(reference)))).await
                    }
                    Err(e) => self.internal(sink, Some(reference), "assigning a conversation", e).await,
                }
            }
            In::SetPresence { presence } => {
                if presence == shared::Presence::Unknown {
                    let e = ErrorFrame::new(ErrorCode::InvalidFrame, "presence must be online, away or offline");
                    return send(sink, &Out::Error(e)).await;
                }
                match self.state.store.set_presence(self.advisor.id, presence).await {
                    Ok(()) => {
                        crate::routing::changed(&self.state);
                        true
                    }
                    Err(e) => self.internal(sink, None, "storing a presence", e).await,
                }
            }
            In::Unknown => unreachable!("decode_frame turns Unknown into an error"),
            #[allow(unreachable_patterns)]
            _ => true,
        }
    }

    fn frame_for(&self, event: &Event) -> Option<Out> {
        match event {
            Event::Message { message, origin } => {
                let mine = self.member.as_ref().map(|m| m.id) == *origin;
                (!mine).then(|| Out::Message { message: message.clone() })
            }
            Event::Conversation(summary) => Some(Out::Conversation { conversation: summary.clone() }),
            Event::VisitorTyping { conversation, on } => Some(Out::Typing { conversation: *conversation, on: *on }),
            Event::PlatformDelivery { conversation, seq, delivery } => {
                Some(Out::Delivery { conversation: *conversation, seq: *seq, delivery: delivery.clone() })
            }
            Event::Channels(channels) => Some(Out::Channels { channels: channels.clone() }),
            Event::Attachment { conversation, seq, attachment } => {
                Some(Out::Attachment { conversation: *conversation, seq: *seq, attachment: attachment.clone() })
            }
            Event::Roster { roster, teams } => Some(Out::Roster { roster: roster.clone(), teams: teams.clone() }),
            Event::Removed { conversation } => Some(Out::Removed { conversation: *conversation }),
            Event::AdvisorTyping { .. }
            | Event::Queue { .. }
            | Event::Bot { .. }
            | Event::Visitor(_)
            | Event::AdvisorsRead { .. }
            | Event::DeliveredToAdvisors { .. }
            | Event::Presence { .. } => None,
        }
    }

    fn render(&self, delivery: &Delivery) -> Option<Utf8Bytes> {
        if let Event::Message { origin, .. } = &delivery.event {
            if self.member.as_ref().map(|m| m.id) == *origin {
                return None; // the sender's own socket has the ack
            }
        }
        // Every other advisor socket sends the same frame.
        delivery.advisor_frame.get_or_init(|| self.frame_for(delivery).and_then(|f| super::to_text(&f))).clone()
    }
}

/// The conversation a frame acts on, if any.
fn conversation_of(frame: &In) -> Option<shared::ConversationId> {
    match frame {
        In::Open { conversation, .. }
        | In::Send { conversation, .. }
        | In::Read { conversation, .. }
        | In::Typing { conversation, .. }
        | In::Unlink { conversation, .. }
        | In::SetStatus { conversation, .. }
        | In::Note { conversation, .. }
        | In::Assign { conversation, .. } => Some(*conversation),
        _ => None,
    }
}

/// The `ref` an answer to this frame carries.
fn reference_of(frame: &In) -> Option<String> {
    match frame {
        In::Open { reference, .. }
        | In::Unlink { reference, .. }
        | In::SetStatus { reference, .. }
        | In::Assign { reference, .. } => Some(reference.clone()),
        In::Send { id, .. } | In::Note { id, .. } => Some(id.0.clone()),
        _ => None,
    }
}

impl AdvisorSession {
    /// Refuse a frame about a conversation this advisor may not see (another team's).
    async fn refuse(&self, conversation: shared::ConversationId, frame: &In) -> Option<ErrorFrame> {
        let viewer = self.member.as_ref().and_then(|m| self.state.hub.viewer(m.id))?;
        match crate::access::may_see(&self.state, &viewer, conversation).await {
            Ok(true) => None,
            Ok(false) => Some(
                ErrorFrame::new(ErrorCode::Forbidden, format!("conversation {conversation} belongs to a team you are not in"))
                    .with_ref(reference_of(frame)),
            ),
            Err(e) => {
                tracing::error!(error = %e, %conversation, "checking access to a conversation");
                Some(
                    ErrorFrame::new(ErrorCode::Internal, "the relay failed to handle this; it has been logged. Try again.")
                        .with_ref(reference_of(frame)),
                )
            }
        }
    }

    async fn hello(&mut self, v: u32, sink: &mut Sink) -> bool {
        if v != PROTOCOL_VERSION {
            let e = ErrorFrame::new(
                ErrorCode::UnsupportedVersion,
                format!("this relay speaks protocol version {PROTOCOL_VERSION}, not {v}; reload the dashboard"),
            );
            return send(sink, &Out::Error(e)).await;
        }
        let viewer = match crate::access::Viewer::load(&self.state, self.advisor.id).await {
            Ok(viewer) => viewer,
            // Deactivated between the upgrade and this hello: closed as if it had joined.
            Err(crate::store::StoreError::NotFound) => {
                super::close(sink, super::CLOSE_POLICY, "your session has ended; log in again").await;
                return false;
            }
            Err(e) => return self.internal(sink, None, "loading the advisor's access", e).await,
        };
        // Join first, so a change between the inbox query and joining is not missed.
        self.member = Some(self.state.hub.join_advisors(viewer.clone()));
        // A tab opened: the advisor may be online now, and able to take waiting conversations.
        crate::routing::changed(&self.state);
        let settings = crate::routing::router::RoutingSettings::load(&*self.state.store).await;
        let teams = match self.state.store.routing_teams().await {
            Ok(teams) => crate::routing::router::teams_with(teams, &settings),
            Err(e) => return self.internal(sink, None, "loading the teams", e).await,
        };
        let roster = self.state.router.roster().map(|(roster, _)| roster).unwrap_or_default();
        match self.state.store.inbox(&viewer.sql_condition("c"), self.advisor.id, INBOX_SIZE).await {
            Ok(mut conversations) => {
                for c in &mut conversations {
                    c.visitor_online = self.state.hub.visitor_online(c.id);
                }
                let welcome = Out::Welcome {
                    v: PROTOCOL_VERSION,
                    advisor: self.advisor.clone(),
                    conversations,
                    admin: viewer.admin,
                    teams,
                    roster,
                };
                if !send(sink, &welcome).await {
                    return false;
                }
                match &self.state.bridge {
                    Some(bridge) => send(sink, &Out::Channels { channels: bridge.statuses() }).await,
                    None => true,
                }
            }
            Err(e) => self.internal(sink, None, "loading the inbox", e).await,
        }
    }

    async fn internal(&self, sink: &mut Sink, reference: Option<String>, context: &str, err: impl std::fmt::Display) -> bool {
        tracing::error!(error = %err, advisor = self.advisor.id.0, "{context}");
        let e = ErrorFrame::new(ErrorCode::Internal, "the relay failed to handle this; it has been logged. Try again.");
        send(sink, &Out::Error(e.with_ref(reference))).await
    }
}
