//! Posting a message, whoever writes it: validate, commit, then tell every live socket that should
//! know. Both socket kinds (and later the channel connectors and the bot) go through here.

use shared::limits::{text_chars, MAX_TEXT_CHARS};
use shared::{Author, Channel, ClientMsgId, ConversationId, ErrorCode, ErrorFrame};

use crate::hub::{ConnId, Event};
use crate::state::AppState;
use crate::store::{Appended, NewMessage, Reader, StoreError};

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

/// Commit a message, then fan it out. Returns the committed message (the existing one on a retry,
/// which is not fanned out again).
pub async fn post(
    state: &AppState,
    conversation: ConversationId,
    id: ClientMsgId,
    author: Author,
    text: &str,
    origin: ConnId,
) -> Result<Appended, ErrorFrame> {
    let text = validate(&id, text)?;
    let reference = Some(id.0.clone());
    let new = NewMessage { conversation, id, author, channel: Channel::Web, text, now: crate::now_ms() };
    let ordered = state.fanout_order.stripe(conversation).lock().await;
    let appended = state.store.append_message(new).await.map_err(|e| match e {
        StoreError::NotFound => ErrorFrame::new(ErrorCode::NotFound, "no such conversation").with_ref(reference.clone()),
        StoreError::IdConflict => {
            ErrorFrame::new(ErrorCode::InvalidMessageId, "this message id is already used in this conversation")
                .with_ref(reference.clone())
        }
        e => {
            tracing::error!(error = %e, %conversation, "storing a message failed");
            ErrorFrame::new(ErrorCode::Internal, "the message could not be stored; it was not sent. Try again.")
                .with_ref(reference.clone())
        }
    })?;
    if !appended.created {
        return Ok(appended);
    }
    let message = appended.message.clone();
    let seq = message.seq;
    let from_visitor = message.is_from_visitor();
    let to_visitor = state.hub.to_visitor(conversation, Event::Message { message: message.clone(), origin: Some(origin) });
    let to_advisors = state.hub.to_advisors(Event::Message { message, origin: Some(origin) });
    drop(ordered);

    if !from_visitor {
        // Replying means the advisor has read the thread up to their reply.
        if let Err(e) = state.store.mark_read(conversation, Reader::Advisors, seq).await {
            tracing::warn!(error = %e, %conversation, "could not move the advisors' read cursor");
        }
    }
    // "Delivered" once the other side's device has it: a live socket took it.
    if from_visitor && to_advisors > 0 {
        delivered(state, conversation, Reader::Advisors, seq).await;
    } else if !from_visitor && to_visitor > 0 {
        delivered(state, conversation, Reader::Visitor, seq).await;
    }
    announce_conversation(state, conversation).await;
    Ok(appended)
}

/// Record that messages up to `up_to` reached `to`'s device, and tell the writer's side. (The
/// advisors' side learns it from the inbox row, which the caller announces.)
pub async fn delivered(state: &AppState, conversation: ConversationId, to: Reader, up_to: shared::Seq) {
    match state.store.mark_delivered(conversation, to, up_to).await {
        Ok(up_to) if to == Reader::Advisors => {
            state.hub.to_visitor(conversation, Event::DeliveredToAdvisors { conversation, up_to });
        }
        Ok(_) => {}
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

/// Send the advisors the fresh inbox row of a conversation (once it has a message: an empty
/// conversation is not in the inbox).
pub async fn announce_conversation(state: &AppState, conversation: ConversationId) {
    state.inbox_updates.mark(conversation);
}

/// Inbox rows are sent at most once per [`InboxUpdates::WINDOW`] per conversation: a busy
/// conversation changes several times per message (the message, its delivery, its reading) and
/// rebuilding its row costs queries each time, while advisors only need the latest row. Messages
/// themselves are never delayed; only the inbox row is coalesced.
pub struct InboxUpdates {
    dirty: std::sync::Mutex<std::collections::HashSet<ConversationId>>,
    wake: tokio::sync::Notify,
}

impl InboxUpdates {
    pub const WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

    pub fn new() -> Self {
        InboxUpdates { dirty: Default::default(), wake: tokio::sync::Notify::new() }
    }

    fn mark(&self, conversation: ConversationId) {
        let first = {
            let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
            dirty.insert(conversation) && dirty.len() == 1
        };
        if first {
            self.wake.notify_one();
        }
    }

    fn take(&self) -> Vec<ConversationId> {
        self.dirty.lock().unwrap_or_else(|p| p.into_inner()).drain().collect()
    }

    /// Send the rows of changed conversations until `stopping`.
    pub async fn run(
        self: std::sync::Arc<Self>,
        store: crate::SharedStore,
        hub: std::sync::Arc<crate::hub::Hub>,
        stopping: tokio_util::sync::CancellationToken,
    ) {
        loop {
            tokio::select! {
                _ = stopping.cancelled() => return,
                _ = self.wake.notified() => {}
            }
            tokio::time::sleep(Self::WINDOW).await;
            for conversation in self.take() {
                match store.conversation_summary(conversation).await {
                    Ok(Some(mut summary)) if summary.last_seq > 0 => {
                        summary.visitor_online = hub.visitor_online(conversation);
                        hub.to_advisors(Event::Conversation(summary));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, %conversation, "could not load a conversation summary"),
                }
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
