//! The advisor's tools around conversations (issue 5): canned responses (`/api/v1/canned`), labels
//! (`/api/v1/labels`, `/api/v1/conversations/{id}/labels`) and search (`/api/v1/search`).
//! Every route needs a session; state-changing requests pass the admin API's CSRF checks
//! (same-origin `Origin`, JSON content type). Conversation-level access is the [`Viewer`]'s.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use shared::limits::{text_chars, MAX_TEXT_CHARS};
use shared::{AdvisorId, ConversationId, ConversationSummary, ErrorCode, Seq};

use crate::access::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::http::admin_api::csrf;
use crate::http::auth::SignedIn;
use crate::state::AppState;
use crate::store::inbox::{CannedResponse, Label};
use crate::store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/canned", get(list_canned).post(create_canned))
        .route("/api/v1/canned/{id}", axum::routing::patch(update_canned).delete(delete_canned))
        .route("/api/v1/labels", get(list_labels))
        .route("/api/v1/labels/{id}", axum::routing::delete(delete_label))
        .route("/api/v1/conversations/{id}/labels", put(set_labels))
        .route("/api/v1/search", get(search))
        .route_layer(middleware::from_fn(csrf))
}

/// Longest shortcut, in characters.
pub const MAX_SHORTCUT_CHARS: usize = 32;
/// Longest label name, in characters.
pub const MAX_LABEL_CHARS: usize = 40;
/// Most labels on one conversation.
pub const MAX_LABELS: usize = 20;
/// Most search results.
pub const SEARCH_LIMIT: usize = 50;
/// Shortest search query, in characters.
pub const MIN_QUERY_CHARS: usize = 2;
/// Longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    body.map(|Json(t)| t).map_err(|e| bad_request(e.body_text()))
}

fn id(path: Result<Path<i64>, PathRejection>) -> ApiResult<i64> {
    path.map(|Path(id)| id).map_err(|_| ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "Not found."))
}

async fn viewer(state: &AppState, advisor: AdvisorId) -> ApiResult<Viewer> {
    Viewer::load(state, advisor).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_authenticated(),
        e => e.into(),
    })
}

// ---- canned responses ----

#[derive(Serialize)]
struct CannedView {
    id: i64,
    shortcut: String,
    text: String,
    /// Shared with every advisor (else only its owner's).
    shared: bool,
    created_by: Option<i64>,
    updated_at: i64,
    /// Whether the asking advisor may edit and delete it.
    can_edit: bool,
}

fn canned_view(c: CannedResponse, viewer: &Viewer) -> CannedView {
    CannedView {
        can_edit: may_edit(&c, viewer),
        id: c.id,
        shortcut: c.shortcut,
        text: c.text,
        shared: c.owner.is_none(),
        created_by: c.created_by.map(|a| a.0),
        updated_at: c.updated_at,
    }
}

/// A personal reply is its owner's alone; a shared one, its creator's or any admin's.
fn may_edit(c: &CannedResponse, viewer: &Viewer) -> bool {
    match c.owner {
        Some(owner) => owner == viewer.advisor,
        None => viewer.admin || c.created_by == Some(viewer.advisor),
    }
}

/// May `viewer` see it at all (a personal reply of someone else's is "not found", not "forbidden").
fn may_see(c: &CannedResponse, viewer: &Viewer) -> bool {
    c.owner.is_none_or(|owner| owner == viewer.advisor)
}

/// A shortcut: 1 to 32 letters, digits, `-` or `_` (what follows `/` in the composer).
pub fn check_shortcut(shortcut: &str) -> ApiResult<String> {
    let shortcut = shortcut.trim().trim_start_matches('/');
    if shortcut.is_empty() || shortcut.chars().count() > MAX_SHORTCUT_CHARS {
        return Err(bad_request(format!("A shortcut has 1 to {MAX_SHORTCUT_CHARS} characters.")));
    }
    if !shortcut.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
        return Err(bad_request("A shortcut has only letters, digits, '-' and '_' (no spaces)."));
    }
    Ok(shortcut.to_owned())
}

fn check_canned_text(text: &str) -> ApiResult<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(bad_request("The reply's text is empty."));
    }
    if text_chars(text) > MAX_TEXT_CHARS {
        return Err(bad_request(format!("The reply's text is longer than {MAX_TEXT_CHARS} characters.")));
    }
    Ok(text.to_owned())
}

async fn list_canned(State(state): State<AppState>, SignedIn(advisor): SignedIn) -> ApiResult<Json<Vec<CannedView>>> {
    let viewer = viewer(&state, advisor.id).await?;
    let list = state.store.list_canned(advisor.id).await?;
    Ok(Json(list.into_iter().map(|c| canned_view(c, &viewer)).collect()))
}

#[derive(Deserialize)]
struct NewCanned {
    shortcut: String,
    text: String,
    /// Shared with every advisor (the default), or only the creator's.
    #[serde(default = "yes")]
    shared: bool,
}

fn yes() -> bool {
    true
}

async fn create_canned(
    State(state): State<AppState>,
    SignedIn(advisor): SignedIn,
    req: Result<Json<NewCanned>, JsonRejection>,
) -> ApiResult<Response> {
    let req = body(req)?;
    let shortcut = check_shortcut(&req.shortcut)?;
    let text = check_canned_text(&req.text)?;
    let viewer = viewer(&state, advisor.id).await?;
    let owner = (!req.shared).then_some(advisor.id);
    let created = state.store.create_canned(&shortcut, &text, owner, advisor.id, crate::now_ms()).await?;
    Ok((StatusCode::CREATED, Json(canned_view(created, &viewer))).into_response())
}

#[derive(Deserialize)]
struct CannedChange {
    shortcut: Option<String>,
    text: Option<String>,
}

/// The reply `id` if `viewer` may change it: 404 when they can't see it, 403 when they can't edit it.
async fn editable(state: &AppState, viewer: &Viewer, id: i64) -> ApiResult<CannedResponse> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "No such canned response.");
    let canned = state.store.canned(id).await?.filter(|c| may_see(c, viewer)).ok_or_else(not_found)?;
    if !may_edit(&canned, viewer) {
        return Err(forbidden("Only its creator or an admin can change or delete a shared reply."));
    }
    Ok(canned)
}

async fn update_canned(
    State(state): State<AppState>,
    SignedIn(advisor): SignedIn,
    path: Result<Path<i64>, PathRejection>,
    req: Result<Json<CannedChange>, JsonRejection>,
) -> ApiResult<Json<CannedView>> {
    let id = id(path)?;
    let req = body(req)?;
    let viewer = viewer(&state, advisor.id).await?;
    let canned = editable(&state, &viewer, id).await?;
    let shortcut = check_shortcut(req.shortcut.as_deref().unwrap_or(&canned.shortcut))?;
    let text = check_canned_text(req.text.as_deref().unwrap_or(&canned.text))?;
    let updated = state.store.update_canned(id, &shortcut, &text, crate::now_ms()).await?;
    Ok(Json(canned_view(updated, &viewer)))
}

async fn delete_canned(
    State(state): State<AppState>,
    SignedIn(advisor): SignedIn,
    path: Result<Path<i64>, PathRejection>,
) -> ApiResult<StatusCode> {
    let id = id(path)?;
    let viewer = viewer(&state, advisor.id).await?;
    editable(&state, &viewer, id).await?;
    state.store.delete_canned(id).await?;
    tracing::info!(advisor = advisor.id.0, canned = id, "canned response deleted");
    Ok(StatusCode::NO_CONTENT)
}

// ---- labels ----

#[derive(Serialize)]
struct LabelView {
    id: i64,
    name: String,
    color: String,
    conversations: i64,
}

impl From<Label> for LabelView {
    fn from(l: Label) -> Self {
        LabelView { id: l.id, name: l.name, color: l.color, conversations: l.conversations }
    }
}

/// Colours new labels get, picked by name so a label keeps its colour wherever it is made.
const LABEL_COLORS: [&str; 8] = ["#2563eb", "#059669", "#d97706", "#dc2626", "#7c3aed", "#db2777", "#0891b2", "#65a30d"];

pub fn label_color(name: &str) -> String {
    // FNV-1a over the lower-cased name: stable across runs and builds.
    let hash = name.to_lowercase().bytes().fold(0x811c9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x01000193));
    LABEL_COLORS[hash as usize % LABEL_COLORS.len()].to_owned()
}

/// Trimmed label names, without repeats (in any case); refused when one is empty, too long or has
/// a comma, or when there are too many.
pub fn check_labels(names: &[String]) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > MAX_LABEL_CHARS {
            return Err(bad_request(format!("A label has 1 to {MAX_LABEL_CHARS} characters.")));
        }
        if name.contains(',') {
            return Err(bad_request("A label can't contain a comma."));
        }
        if !out.iter().any(|n| n.to_lowercase() == name.to_lowercase()) {
            out.push(name);
        }
    }
    if out.len() > MAX_LABELS {
        return Err(bad_request(format!("A conversation has at most {MAX_LABELS} labels.")));
    }
    Ok(out)
}

/// Every label (names are shared by all advisors), counted over the conversations the advisor can see.
async fn list_labels(State(state): State<AppState>, SignedIn(advisor): SignedIn) -> ApiResult<Json<Vec<LabelView>>> {
    let viewer = viewer(&state, advisor.id).await?;
    Ok(Json(state.store.list_labels(&viewer.sql_condition("c")).await?.into_iter().map(LabelView::from).collect()))
}

#[derive(Deserialize)]
struct Labels {
    labels: Vec<String>,
}

#[derive(Serialize)]
struct ConversationLabels {
    conversation: ConversationId,
    labels: Vec<String>,
}

async fn set_labels(
    State(state): State<AppState>,
    SignedIn(advisor): SignedIn,
    path: Result<Path<i64>, PathRejection>,
    req: Result<Json<Labels>, JsonRejection>,
) -> ApiResult<Json<ConversationLabels>> {
    let conversation = ConversationId(id(path)?);
    let names = check_labels(&body(req)?.labels)?;
    let viewer = viewer(&state, advisor.id).await?;
    let summary = state
        .store
        .conversation_summary(conversation)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "No such conversation."))?;
    if !viewer.can_see_row(&summary) {
        return Err(forbidden("This conversation belongs to a team you are not in."));
    }
    let colored: Vec<(String, String)> = names.into_iter().map(|n| (label_color(&n), n)).map(|(color, name)| (name, color)).collect();
    let labels = state.store.set_conversation_labels(conversation, &colored, advisor.id, crate::now_ms()).await?;
    crate::conversation::announce_conversation(&state, conversation).await;
    Ok(Json(ConversationLabels { conversation, labels }))
}

async fn delete_label(
    State(state): State<AppState>,
    SignedIn(advisor): SignedIn,
    path: Result<Path<i64>, PathRejection>,
) -> ApiResult<StatusCode> {
    let id = id(path)?;
    if !viewer(&state, advisor.id).await?.admin {
        return Err(forbidden("Only admins can delete a label everywhere."));
    }
    let conversations = state.store.delete_label(id).await?;
    for conversation in &conversations {
        crate::conversation::announce_conversation(&state, *conversation).await;
    }
    tracing::info!(advisor = advisor.id.0, label = id, conversations = conversations.len(), "label deleted");
    Ok(StatusCode::NO_CONTENT)
}

// ---- search ----

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// A search result: the conversation's row, and the message that matched (if the query matched one).
#[derive(Serialize)]
struct SearchResult {
    conversation: ConversationSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    snippet: Option<Snippet>,
}

#[derive(Serialize)]
struct Snippet {
    seq: Seq,
    /// The message text around the match, with `…` where it was cut.
    text: String,
    /// The match was in a private note.
    note: bool,
}

/// Characters of context kept on each side of a match.
const SNIPPET_CONTEXT: usize = 40;

/// `text` cut to the match of `query` (found without regard to ASCII case) and some context
/// around it, on one line. The whole text (cut at the end) when the match isn't found.
pub fn snippet(text: &str, query: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars: Vec<char> = flat.chars().collect();
    let needle: Vec<char> = query.chars().map(|c| c.to_ascii_lowercase()).collect();
    let at = (0..chars.len().saturating_sub(needle.len().saturating_sub(1)))
        .find(|&i| chars[i..i + needle.len()].iter().zip(&needle).all(|(a, b)| a.to_ascii_lowercase() == *b));
    let (start, end) = match at {
        Some(i) => (i.saturating_sub(SNIPPET_CONTEXT), (i + needle.len() + SNIPPET_CONTEXT).min(chars.len())),
        None => (0, chars.len().min(2 * SNIPPET_CONTEXT)),
    };
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    out
}

async fn search(
    State(state): State<AppState>,
    SignedIn(advisor): SignedIn,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<SearchResult>>> {
    let Query(SearchQuery { q }) = query.map_err(|e| bad_request(e.body_text()))?;
    let q = q.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = q.chars().count();
    if n < MIN_QUERY_CHARS {
        return Err(bad_request(format!("Type at least {MIN_QUERY_CHARS} characters to search.")));
    }
    if n > MAX_QUERY_CHARS {
        return Err(bad_request(format!("A search has at most {MAX_QUERY_CHARS} characters.")));
    }
    let viewer = viewer(&state, advisor.id).await?;
    let hits = state.store.search(&q, &viewer.sql_condition("c"), SEARCH_LIMIT).await?;
    let results = hits
        .into_iter()
        // The SQL condition already filters; the row check keeps the two rules honest.
        .filter(|h| viewer.can_see_row(&h.summary))
        .map(|h| {
            let mut conversation = h.summary;
            conversation.visitor_online = state.hub.visitor_online(conversation.id);
            SearchResult {
                conversation,
                snippet: h.message.map(|m| Snippet { seq: m.seq, text: snippet(&m.text, &q), note: m.note }),
            }
        })
        .collect();
    Ok(Json(results))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snippet_is_the_match_with_some_context() {
        let long = format!("{} the parcel went to LISBON by mistake {}", "a".repeat(60), "b".repeat(60));
        let s = snippet(&long, "lisbon");
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("LISBON by mistake"), "{s}");
        assert_eq!(s.chars().count(), 2 + 2 * SNIPPET_CONTEXT + "lisbon".len());
        assert_eq!(snippet("Where is\nmy order?", "order"), "Where is my order?");
        assert_eq!(snippet("ação e mais", "mais"), "ação e mais");
    }

    #[test]
    fn shortcuts_are_one_word() {
        assert_eq!(check_shortcut(" /thanks ").unwrap(), "thanks");
        assert_eq!(check_shortcut("r\u{e9}sum\u{e9}_2").unwrap(), "r\u{e9}sum\u{e9}_2");
        assert!(check_shortcut("two words").is_err());
        assert!(check_shortcut("/").is_err());
        assert!(check_shortcut(&"x".repeat(MAX_SHORTCUT_CHARS + 1)).is_err());
    }

    #[test]
    fn labels_are_trimmed_and_deduplicated_without_regard_to_case() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(check_labels(&names(&[" VIP ", "vip", "needs  refund"])).unwrap(), ["VIP", "needs refund"]);
        assert!(check_labels(&names(&[""])).is_err());
        assert!(check_labels(&names(&["a,b"])).is_err());
        assert_eq!(label_color("VIP"), label_color("vip"));
    }
}
