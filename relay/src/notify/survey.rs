//! The satisfaction survey: a resolution opens one ("How did we do?", 1–5 and a comment), the
//! visitor's widget shows it (live, or at its next welcome while the conversation stays resolved),
//! and a rating is kept with the advisor who resolved: one per resolution, a new one replacing
//! the old. The advisors see it in the thread as one private note (rewritten when the visitor
//! rates again), and analytics counts it (CSAT).

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
    let resolved_at = match state.store.rate(conversation, rating, comment.as_deref(), now).await {
        Ok(Some(resolved_at)) => resolved_at,
        Ok(None) => return Err(ErrorFrame::new(ErrorCode::NotFound, "this conversation is not resolved: there is nothing to rate")),
        Err(e) => {
            tracing::error!(error = %e, %conversation, "storing a rating failed");
            return Err(ErrorFrame::new(ErrorCode::Internal, "the rating could not be stored. Try again."));
        }
    };
    show_in_thread(state, conversation, resolved_at, rating, comment.as_deref(), now).await;
    state.hub.to_visitor(conversation, Event::Visitor(VisitorServerFrame::Survey { rating }));
    Ok(rating)
}

/// The advisors see a rating where they work: one private note per resolution. The first rating
/// adds it; a second thought (the visitor rates again) rewrites that note rather than adding one.
async fn show_in_thread(state: &AppState, conversation: ConversationId, resolved_at: i64, rating: u8, comment: Option<&str>, now: i64) {
    let stars: String = (1..=5).map(|n| if n <= rating { '★' } else { '☆' }).collect();
    let text = match comment {
        Some(c) => format!("Customer rating: {stars} {rating}/5 — “{c}”"),
        None => format!("Customer rating: {stars} {rating}/5"),
    };
    // Named by the resolution: committing it again finds the note already there.
    let id = ClientMsgId(format!("csat-{resolved_at}"));
    let note = NewMessage {
        conversation,
        id: id.clone(),
        author: Author::System,
        channel: Channel::Web,
        text: text.clone(),
        now,
        delivered: false,
        platform: None,
        attachments: Vec::new(),
        note: true,
    };
    match crate::conversation::commit(state, note, None).await {
        Ok(appended) if appended.created => {}
        Ok(_) => match state.store.set_rating_note(conversation, resolved_at, rating, comment, &id.0, &text).await {
            Ok(Some(message)) => {
                // The same message (same seq) with its new text: the dashboard replaces it.
                crate::access::ensure_scope(state, conversation).await;
                state.hub.to_advisors(Event::Message { message, origin: None });
                state.inbox_updates.changed(conversation, crate::conversation::Change::Reload);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, %conversation, "could not update the rating's note in the thread"),
        },
        Err(e) => tracing::warn!(error = %e, %conversation, "could not add the rating to the thread"),
    }
}
