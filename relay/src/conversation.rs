//! Posting a message, whoever writes it: validate, commit, then tell every live socket that should
//! know. Both socket kinds (and later the channel connectors and the bot) go through here.

use shared::limits::{text_chars, MAX_TEXT_CHARS};
use shared::{Author, Channel, ClientMsgId, ConversationId, ErrorCode, ErrorFrame};

use crate::hub::{ConnId, Event};
use crate::state::AppState;
use std::collections::HashMap;

use shared::ConversationSummary;

use crate::store::{Appended, Counters, NewMessage, PlatformPart, Reader, StoreError};

/// Check a message before it is stored. Returns the text to store (line endings normalised,
/// surrounding white space trimmed).
pub fn validate(id: &ClientMsgId, text: &str) -> Result<String, ErrorFrame> {
    let reference = Some(id.0.clone());
    if !id.is_valid() {
        return Err(ErrorFrame::new(
            ErrorCode::InvalidMessageId,
            "message id must be 1 to 64 printable ASCII characters without spaces",
        )
        .with_ref(reference));
    }
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    if text.is_empty() {
        return Err(ErrorFrame::new(ErrorCode::TextEmpty, "message text is empty").with_ref(reference));
    }
    let chars = text_chars(text);
    if chars > MAX_TEXT_CHARS {
        return Err(ErrorFrame::new(
            ErrorCode::TextTooLong,
            format!("message is {chars} characters long; the limit is {MAX_TEXT_CHARS}"),
        )
        .with_ref(reference));
    }
    Ok(text.to_owned())
}

/// Keeps each conversation's live fan-out in seq order. Appends to one conversation take a lock
/// (one of [`FanoutOrder::STRIPES`], chosen by conversation) from before the commit until the
/// message has been handed to every socket, so a later seq can never overtake an earlier one on
/// the way out — clients that resume "after the highest seq I hold" then never skip a message.
/// Different conversations still commit together in one group commit.
pub struct FanoutOrder {
    stripes: Box<[tokio::sync::Mutex<()>]>,
}

impl FanoutOrder {
    pub const STRIPES: usize = 1024;

    pub fn new() -> Self {
        FanoutOrder { stripes: (0..Self::STRIPES).map(|_| tokio::sync::Mutex::new(())).collect() }
    }

    fn stripe(&self, conversation: ConversationId) -> &tokio::sync::Mutex<()> {
        &self.stripes[conversation.0.rem_euclid(Self::STRIPES as i64) as usize]
    }
}

impl Default for FanoutOrder {
    fn default() -> Self {
        Self::new()
    }
}

/// How an advisor's reply goes out (a visitor's message has none of this).
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// One of the customer's channels; None: the one they last wrote from.
    pub via: Option<Channel>,
    /// Send this approved WhatsApp template instead of free text.
    pub template: Option<shared::TemplateSend>,
}

/// Validate and commit a message written on a socket, then fan it out. An advisor's reply to a
/// WhatsApp or Messenger customer goes to that platform (through the outbox, in the same commit),
/// or is refused when the platform's window has closed. Returns the committed message (the
/// existing one on a retry, which is not fanned out again).
pub async fn post(
    state: &AppState,
    conversation: ConversationId,
    id: ClientMsgId,
    author: Author,
    text: &str,
    origin: ConnId,
    reply: Reply,
    files: Vec<String>,
) -> Result<Appended, ErrorFrame> {
    let reference = Some(id.0.clone());
    let from_visitor = matches!(author, Author::Visitor);
    let files = match files_of(state, conversation, &author, files).await {
        Ok(files) => files,
        Err(e) => return Err(e.with_ref(reference)),
    };
    // A message of files alone carries the words previews and platforms show ("📷 Photo").
    let label;
    let text = match files.first() {
        Some((_, first)) if text.trim().is_empty() && reply.template.is_none() => {
            label = shared::text::attachment_label(first.attachment.kind, first.attachment.name.as_deref());
            label.as_str()
        }
        _ => text,
    };
    let (text, target) = if matches!(author, Author::Advisor { .. }) {
        let (text, target) = match &reply.template {
            Some(template) => {
                let (text, target) = crate::channels::bridge::template_target(state, conversation, reply.via, template)
                    .await
                    .map_err(|e| e.with_ref(reference.clone()))?;
                (validate(&id, &text)?, Some(target))
            }
            None => {
                let text = validate(&id, text)?;
                let target = crate::channels::bridge::reply_target(state, conversation, reply.via)
                    .await
                    .map_err(|e| e.with_ref(reference.clone()))?;
                (text, target)
            }
        };
        (text, target)
    } else {
        (validate(&id, text)?, None)
    };
    if !files.is_empty() {
        if let Some(target) = &target {
            // The bridge does not send files to WhatsApp or Messenger (yet): refuse rather than
            // send the words without the file.
            let platform = if target.channel == Channel::Messenger { "Messenger" } else { "WhatsApp" };
            return Err(ErrorFrame::new(
                ErrorCode::BadRequest,
                format!("Files can't be sent to {platform} from Confab yet; this customer only gets the text. Send the text alone, or reply on the web chat."),
            )
            .with_ref(reference));
        }
    }
    let uploader = match &author {
        Author::Advisor { id, .. } => crate::store::attachments::Uploader::Advisor(*id),
        _ => crate::store::attachments::Uploader::Visitor,
    };
    // When the other side has a live socket, the message is pushed to it right after the commit:
    // it is recorded as delivered in that same commit instead of a second one.
    let other_side_online =
        if from_visitor { state.hub.advisors_online() } else { state.hub.visitor_online(conversation) };
    let new = NewMessage {
        conversation,
        id,
        author,
        channel: target.as_ref().map_or(Channel::Web, |t| t.channel),
        text,
        now: crate::now_ms(),
        delivered: other_side_online && target.is_none(),
        platform: target.map(|t| PlatformPart {
            platform_id: None,
            state: shared::PlatformState::Queued,
            outbox: Some(t),
            template: reply.template,
        }),
        attachments: files.into_iter().map(|(id, _)| crate::store::attachments::NewAttachment::upload(id, uploader)).collect(),
        note: false,
    };
    commit(state, new, Some(origin)).await.map_err(|e| store_error(e, conversation, reference))
}

/// The uploaded files a message names, checked before its commit (which checks again, atomically):
/// at most [`MAX_ATTACHMENTS_PER_MESSAGE`], each this sender's, in this conversation, and not sent
/// in another message (the same message sent again is a retry: its own files pass).
async fn files_of(
    state: &AppState,
    conversation: ConversationId,
    author: &Author,
    ids: Vec<String>,
) -> Result<Vec<(String, crate::store::attachments::StoredAttachment)>, ErrorFrame> {
    use shared::limits::MAX_ATTACHMENTS_PER_MESSAGE;
    if ids.len() > MAX_ATTACHMENTS_PER_MESSAGE {
        return Err(ErrorFrame::new(
            ErrorCode::BadRequest,
            format!("A message can carry at most {MAX_ATTACHMENTS_PER_MESSAGE} files."),
        ));
    }
    let by = match author {
        Author::Advisor { id, .. } => crate::store::attachments::Uploader::Advisor(*id),
        _ => crate::store::attachments::Uploader::Visitor,
    }
    .as_source();
    let unavailable = || ErrorFrame::new(ErrorCode::UnknownUpload, "This file is not available any more: attach it again.");
    let mut files = Vec::with_capacity(ids.len());
    for id in ids {
        if files.iter().any(|(seen, _)| *seen == id) {
            return Err(unavailable());
        }
        let stored = match state.store.attachment(&id).await {
            Ok(Some(stored)) => stored,
            Ok(None) => return Err(unavailable()),
            Err(e) => {
                tracing::error!(error = %e, %conversation, "reading an uploaded file");
                return Err(ErrorFrame::new(ErrorCode::Internal, "the message could not be stored; it was not sent. Try again."));
            }
        };
        if stored.conversation != conversation || stored.uploaded_by.as_deref() != Some(by.as_str()) {
            return Err(unavailable());
        }
        files.push((id, stored));
    }
    Ok(files)
}

/// Validate and commit an advisor's private note: the same commit path as a reply (seq, ack,
/// idempotency), but never towards the customer: no platform, no outbox, no visitor socket.
pub async fn post_note(
    state: &AppState,
    conversation: ConversationId,
    id: ClientMsgId,
    author: Author,
    text: &str,
    origin: ConnId,
) -> Result<Appended, ErrorFrame> {
    let reference = Some(id.0.clone());
    let text = validate(&id, text)?;
    let new = NewMessage {
        conversation,
        id,
        author,
        channel: Channel::Web,
        text,
        now: crate::now_ms(),
        delivered: false,
        platform: None,
        attachments: Vec::new(),
        note: true,
    };
    commit(state, new, Some(origin)).await.map_err(|e| store_error(e, conversation, reference))
}

fn store_error(e: StoreError, conversation: ConversationId, reference: Option<String>) -> ErrorFrame {
    match e {
        StoreError::NotFound => ErrorFrame::new(ErrorCode::NotFound, "no such conversation").with_ref(reference.clone()),
        StoreError::UploadUnavailable => {
            ErrorFrame::new(ErrorCode::UnknownUpload, "This file is not available any more: attach it again.")
                .with_ref(reference.clone())
        }
        StoreError::IdConflict => {
            ErrorFrame::new(ErrorCode::InvalidMessageId, "this message id is already used in this conversation")
                .with_ref(reference.clone())
        }
        e => {
            tracing::error!(error = %e, %conversation, "storing a message failed");
            ErrorFrame::new(ErrorCode::Internal, "the message could not be stored; it was not sent. Try again.")
                .with_ref(reference.clone())
        }
    }
}

/// Resolve, reopen or snooze a conversation, then refresh its inbox row. Snoozing until a time
/// already past opens it at once (the snooze task would a moment later anyway).
pub async fn set_status(
    state: &AppState,
    conversation: ConversationId,
    status: shared::ConversationStatus,
    snoozed_until: Option<i64>,
    reference: String,
) -> Result<(), ErrorFrame> {
    use shared::ConversationStatus as S;
    let now = crate::now_ms();
    let status = match (status, snoozed_until) {
        (S::Snoozed, None) => {
            return Err(ErrorFrame::new(ErrorCode::InvalidFrame, "snoozing needs snoozed_until").with_ref(Some(reference)))
        }
        (S::Snoozed, Some(at)) if at <= now => S::Open,
        (S::Unknown, _) => {
            return Err(ErrorFrame::new(ErrorCode::InvalidFrame, "unknown status").with_ref(Some(reference)))
        }
        (s, _) => s,
    };
    match state.store.set_status(conversation, status, snoozed_until, now).await {
        Ok(()) => {
            state.inbox_updates.changed(conversation, Change::Reload);
            // Resolving frees capacity; reopening takes some.
            crate::routing::changed(state);
            Ok(())
        }
        Err(StoreError::NotFound) => {
            Err(ErrorFrame::new(ErrorCode::NotFound, format!("no conversation {conversation}")).with_ref(Some(reference)))
        }
        Err(e) => {
            tracing::error!(error = %e, %conversation, "storing a conversation status failed");
            Err(ErrorFrame::new(ErrorCode::Internal, "the status could not be stored. Try again.").with_ref(Some(reference)))
        }
    }
}

/// Reopen snoozed conversations when their time comes, checking every [`SNOOZE_CHECK`]: one indexed
/// query over snoozed conversations only, so a relay with none pays almost nothing.
pub const SNOOZE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

pub async fn wake_snoozed(state: AppState) {
    let mut tick = tokio::time::interval(SNOOZE_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.stopping.cancelled() => return,
            _ = tick.tick() => {}
        }
        match state.store.wake_snoozed(crate::now_ms()).await {
            Ok(woken) => {
                if !woken.is_empty() {
                    crate::routing::changed(&state);
                }
                for conversation in woken {
                    state.inbox_updates.changed(conversation, Change::Reload);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not reopen snoozed conversations; retrying"),
        }
    }
}

/// Commit a message (from a socket, or from a platform webhook), then tell every live socket that
/// should know and wake the outbox when it holds a reply for a platform.
pub async fn commit(state: &AppState, new: NewMessage, origin: Option<ConnId>) -> Result<Appended, StoreError> {
    let conversation = new.conversation;
    let from_visitor = matches!(new.author, Author::Visitor);
    let note = new.note;
    let delivered = new.delivered;
    let outbox = new.platform.as_ref().is_some_and(|p| p.outbox.is_some());
    let ordered = state.fanout_order.stripe(conversation).lock().await;
    let appended = state.store.append_message(new).await?;
    if !appended.created {
        return Ok(appended);
    }
    let message = appended.message.clone();
    let seq = message.seq;
    if let Some(c) = &appended.counters {
        state.hub.set_scope(conversation, crate::store::routing::Scope { team: c.team, assignee: c.assignee });
    }
    if !note {
        state.hub.to_visitor(conversation, Event::Message { message: message.clone(), origin });
    }
    state.hub.to_advisors(Event::Message { message, origin });
    // Receipts the commit recorded, queued before the sender's ack so they go out in the same write.
    if from_visitor && delivered {
        state.hub.to_visitor(conversation, Event::DeliveredToAdvisors { conversation, up_to: seq });
    }
    if matches!(appended.message.author, Author::Advisor { .. }) && !note {
        // The store counts a reply as the advisors having read up to it.
        state.hub.to_visitor(conversation, Event::AdvisorsRead { conversation, up_to: seq });
    }
    drop(ordered);
    // A customer entering a queue, or an advisor taking a conversation: routing has work. (A
    // customer's next message into a queue they already wait in changes nothing the router reads:
    // waking it for each would have it read the whole queue again and again under load.)
    let queued = appended.counters.is_some_and(|c| c.assignee.is_none() && c.status == shared::ConversationStatus::Open && from_visitor);
    if (queued && !appended.routing_unchanged) || (!from_visitor && !note)
    {
        crate::routing::changed(state);
    }
    state.inbox_updates.changed(conversation, Change::Committed(appended.counters, Some(appended.message.clone())));
    crate::notify::replied(state, &appended.message).await;
    if outbox {
        if let Some(bridge) = &state.bridge {
            bridge.wake_outbox();
        }
    }
    Ok(appended)
}

/// Move a reader's cursor, refresh the inbox row, and tell the visitor when the advisors read.
pub async fn read(state: &AppState, conversation: ConversationId, reader: Reader, up_to: shared::Seq) -> Result<shared::Seq, StoreError> {
    let advanced = state.store.mark_read(conversation, reader, up_to).await?;
    if reader == Reader::Advisors {
        state.hub.to_visitor(conversation, Event::AdvisorsRead { conversation, up_to: advanced.seq });
    }
    state.inbox_updates.changed(conversation, Change::Committed(Some(advanced.counters), None));
    Ok(advanced.seq)
}

/// Record that messages up to `up_to` reached `to`'s device, and tell the other side: the visitor
/// by a frame, the advisors by the inbox row.
pub async fn delivered(state: &AppState, conversation: ConversationId, to: Reader, up_to: shared::Seq) {
    match state.store.mark_delivered(conversation, to, up_to).await {
        Ok(advanced) => {
            if to == Reader::Advisors {
                state.hub.to_visitor(conversation, Event::DeliveredToAdvisors { conversation, up_to: advanced.seq });
            }
            state.inbox_updates.changed(conversation, Change::Committed(Some(advanced.counters), None));
        }
        Err(e) => tracing::warn!(error = %e, %conversation, "could not store a delivery receipt"),
    }
}

/// Typing indicators are forwarded when they change, or to refresh an "on" every few seconds;
/// a client that sends one per keystroke doesn't flood the other side.
#[derive(Default)]
pub struct TypingThrottle {
    last: Option<(bool, std::time::Instant)>,
}

impl TypingThrottle {
    pub const REFRESH: std::time::Duration = std::time::Duration::from_secs(3);

    pub fn should_forward(&mut self, on: bool) -> bool {
        let now = std::time::Instant::now();
        let forward = match self.last {
            Some((was, at)) => was != on || (on && now.duration_since(at) >= Self::REFRESH),
            None => true,
        };
        if forward {
            self.last = Some((on, now));
        }
        forward
    }
}

/// The inbox row of a conversation changed in a way the relay can't compute from a commit (its
/// page, its customer): reload it from the store.
pub async fn announce_conversation(state: &AppState, conversation: ConversationId) {
    state.inbox_updates.changed(conversation, Change::Reload);
}

/// Only live state changed (the visitor came or went): resend the row as it is.
pub fn announce_presence(state: &AppState, conversation: ConversationId) {
    state.inbox_updates.changed(conversation, Change::Live);
}

/// What changed about a conversation's inbox row.
#[derive(Debug, Clone)]
pub enum Change {
    /// A commit: the conversation's counters after it, and the newest message when it was one.
    Committed(Option<Counters>, Option<shared::Message>),
    /// Live state only (presence), filled in from the hub when the row is sent.
    Live,
    /// Something outside the counters: read the row from the store again.
    Reload,
}

/// Inbox rows are built from what each commit returns ([`Counters`] and the message in hand) on
/// top of a cached row, and sent at most once per [`InboxUpdates::WINDOW`] per conversation: a busy
/// conversation changes several times per message (the message, its delivery, its reading), while
/// advisors only need the latest row. Messages themselves are never delayed; only the inbox row is
/// coalesced. A conversation not in the cache (or marked for reload) costs one query.
pub struct InboxUpdates {
    pending: std::sync::Mutex<HashMap<ConversationId, Pending>>,
    wake: tokio::sync::Notify,
}

#[derive(Default)]
struct Pending {
    counters: Option<Counters>,
    last_message: Option<shared::Message>,
    reload: bool,
}

/// A row as last sent, and the commit version it reflects.
struct Row {
    summary: ConversationSummary,
    version: u64,
}

impl InboxUpdates {
    pub const WINDOW: std::time::Duration = std::time::Duration::from_millis(200);
    /// Rows kept between updates; past this the cache starts over (each row reloads once).
    const CACHED_ROWS: usize = 20_000;

    pub fn new() -> Self {
        InboxUpdates { pending: Default::default(), wake: tokio::sync::Notify::new() }
    }

    pub fn changed(&self, conversation: ConversationId, change: Change) {
        let first = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let was_empty = pending.is_empty();
            let entry = pending.entry(conversation).or_default();
            match change {
                Change::Committed(counters, message) => {
                    if let Some(c) = counters {
                        if entry.counters.is_none_or(|old| old.version < c.version) {
                            entry.counters = Some(c);
                        }
                    }
                    if let Some(m) = message {
                        if entry.last_message.as_ref().is_none_or(|old| old.seq < m.seq) {
                            entry.last_message = Some(m);
                        }
                    }
                }
                Change::Live => {}
                Change::Reload => entry.reload = true,
            }
            was_empty
        };
        if first {
            self.wake.notify_one();
        }
    }

    fn take(&self) -> HashMap<ConversationId, Pending> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Send the rows of changed conversations until `stopping`.
    pub async fn run(
        self: std::sync::Arc<Self>,
        store: crate::SharedStore,
        hub: std::sync::Arc<crate::hub::Hub>,
        stopping: tokio_util::sync::CancellationToken,
    ) {
        let mut rows: HashMap<ConversationId, Row> = HashMap::new();
        loop {
            tokio::select! {
                _ = stopping.cancelled() => return,
                _ = self.wake.notified() => {}
            }
            tokio::time::sleep(Self::WINDOW).await;
            let changed = self.take();
            if rows.len() + changed.len() > Self::CACHED_ROWS {
                rows.clear();
            }
            for (conversation, pending) in changed {
                if pending.reload || !rows.contains_key(&conversation) {
                    // Whatever committed up to `version` is in what we read (maybe more).
                    let version = store.committed_version();
                    match store.conversation_summary(conversation).await {
                        Ok(Some(summary)) => drop(rows.insert(conversation, Row { summary, version })),
                        // Not in the inbox (nobody has written yet, or merged away): nothing to send or keep.
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, %conversation, "could not load a conversation summary");
                            rows.remove(&conversation);
                            continue;
                        }
                    }
                }
                let row = rows.get_mut(&conversation).expect("loaded above");
                row.apply(pending);
                if row.summary.last_seq > 0 {
                    let scope = crate::store::routing::Scope { team: row.summary.team, assignee: row.summary.assignee };
                    hub.set_scope(conversation, scope);
                    let mut summary = row.summary.clone();
                    summary.visitor_online = hub.visitor_online(conversation);
                    hub.to_advisors(Event::Conversation(summary));
                }
            }
        }
    }
}

impl Row {
    fn apply(&mut self, pending: Pending) {
        let s = &mut self.summary;
        if let Some(c) = pending.counters.filter(|c| c.version > self.version) {
            self.version = c.version;
            s.last_seq = c.last_seq;
            s.last_activity_at = c.last_activity_at;
            s.unread = c.unread;
            s.visitor_read_seq = c.visitor_read_seq;
            s.visitor_delivered_seq = c.visitor_delivered_seq;
            s.status = c.status;
            s.snoozed_until = c.snoozed_until;
            s.team = c.team;
            s.assignee = c.assignee;
            s.waiting_since = c.waiting_since;
            s.first_response_due = c.first_response_due;
        }
        if let Some(m) = pending.last_message {
            // An advisor's reply ends the bot's turn in the same commit (store/group_commit.rs).
            if matches!(m.author, shared::Author::Advisor { .. }) && !m.note {
                s.with_bot = false;
            }
            if m.seq == s.last_seq {
                s.last_message = Some(m);
            }
        }
    }
}

impl Default for InboxUpdates {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_is_forwarded_on_change_not_per_keystroke() {
        let mut t = TypingThrottle::default();
        assert!(t.should_forward(true));
        assert!(!t.should_forward(true));
        assert!(!t.should_forward(true));
        assert!(t.should_forward(false));
        assert!(!t.should_forward(false));
        assert!(t.should_forward(true));
    }

    #[test]
    fn text_is_trimmed_and_limited() {
        let id = ClientMsgId::from("m1");
        assert_eq!(validate(&id, "  hi\r\nthere \n").unwrap(), "hi\nthere");
        assert_eq!(validate(&id, " \n ").unwrap_err().code, ErrorCode::TextEmpty);
        let long = "é".repeat(MAX_TEXT_CHARS + 1);
        let err = validate(&id, &long).unwrap_err();
        assert_eq!(err.code, ErrorCode::TextTooLong);
        assert_eq!(err.reference.as_deref(), Some("m1"));
        assert!(validate(&id, &"é".repeat(MAX_TEXT_CHARS)).is_ok());
        assert_eq!(validate(&ClientMsgId::from("a b"), "x").unwrap_err().code, ErrorCode::InvalidMessageId);
    }
}
