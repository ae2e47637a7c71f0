//! The satisfaction survey: a resolution opens one ("How did we do?", 1–5 and a comment), the
//! visitor's widget shows it (live, or at its next welcome while the conversation stays resolved),
//! and a rating is kept with the advisor who resolved. The advisors see it in the thread as a
//! private note, and analytics counts it (CSAT).

use shared::{AdvisorId, Author, Channel, ClientMsgId, ConversationId, ErrorCode, ErrorFrame, VisitorServerFrame};

use crate::hub::Event;
use crate::state::AppState;
use crate::store::NewMessage;

pub const MAX_COMMENT_CHARS: usize = 1000;

/// A conversation was resolved (by `by`): ask its visitor.
pub async fn resolved(state: &AppState, conversation: ConversationId, by: Option<AdvisorId>) {
    if let Err(e) = state.store.open_survey(conversation, by).await {
        tracing::warn!(error = %e, %conversation, "could not open a satisfaction survey");
        return;
    }
    state.hub.to_visitor(conversation, Event::Visitor(VisitorServerFrame::Survey { rating: 0 }));
}

/// The visitor rated the current resolution. Returns the kept rating.
pub async fn rate(state: &AppState, conversation: ConversationId, rating: u8, comment: Option<String>) -> Result<u8, ErrorFrame> {
    if !(1..=5).contains(&rating) {
        return Err(ErrorFrame::new(ErrorCode::BadRequest, "a rating is 1 to 5"));
    }
    let comment = comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        return Err(ErrorFrame::new(ErrorCode::BadRequest, format!("the comment is limited to {MAX_COMMENT_CHARS} characters")));
    }
    let now = crate::now_ms();
    match state.store.rate(conversation, rating, comment.as_deref(), now).await {
        Ok(true) => {}
        Ok(false) => return Err(ErrorFrame::new(ErrorCode::NotFound, "this conversation is not resolved: there is nothing to rate")),
        Err(e) => {
            tracing::error!(error = %e, %conversation, "storing a rating failed");
            return Err(ErrorFrame::new(ErrorCode::Internal, "the rating could not be stored. Try again."));
        }
    }
    // The advisors see it where they work: a private note in the thread.
    let stars: String = (1..=5).map(|n| if n <= rating { '★' } else { '☆' }).collect();
    let text = match &comment {
        Some(c) => format!("Customer rating: {stars} {rating}/5 — “{c}”"),
        None => format!("Customer rating: {stars} {rating}/5"),
    };
    let note = NewMessage {
        conversation,
        id: ClientMsgId(format!("csat-{now}")),
        author: Author::System,
        channel: Channel::Web,
        text,
        now,
        delivered: false,
        platform: None,
        attachments: Vec::new(),
        note: true,
    };
    if let Err(e) = crate::conversation::commit(state, note, None).await {
        tracing::warn!(error = %e, %conversation, "could not add the rating to the thread");
    }
    state.hub.to_visitor(conversation, Event::Visitor(VisitorServerFrame::Survey { rating }));
    Ok(rating)
}
