//! The customer panel: `GET /api/v1/conversations/{id}/customer` (what the relay knows about the
//! conversation's customer) and `PATCH` the same path (an advisor corrects the name or e-mail).
//! Session required (401); a conversation the advisor may not see is refused (403, see
//! `access::Viewer`); an unknown one is 404. The PATCH passes the admin API's CSRF checks.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::get;
use axum::{Json, Router};
use shared::limits::MAX_NAME_CHARS;
use shared::{ConversationId, CustomerPatch, CustomerProfile, ErrorCode, PastConversation};

use crate::access::Viewer;
use crate::customer;
use crate::error::{ApiError, ApiResult};
use crate::http::admin_api::csrf;
use crate::http::auth::SignedIn;
use crate::state::AppState;
use crate::store::{CustomerEdit, StoreError};

/// How many of the customer's other conversations the panel lists.
const PREVIOUS_LIMIT: usize = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations/{id}/customer", get(profile).patch(edit))
        .route_layer(middleware::from_fn(csrf))
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "No such conversation.")
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
}

/// The conversation named by the path, if this advisor may see it.
async fn visible_conversation(
    state: &AppState,
    advisor: &shared::AdvisorInfo,
    path: Result<Path<i64>, PathRejection>,
) -> ApiResult<(Viewer, shared::ConversationSummary)> {
    let Ok(Path(id)) = path else { return Err(not_found()) };
    let row = state.store.conversation_summary(ConversationId(id)).await?.ok_or_else(not_found)?;
    let viewer = Viewer::load(state, advisor.id).await.map_err(|e| match e {
        // The account went away after the session was checked.
        StoreError::NotFound => ApiError::not_authenticated(),
        e => e.into(),
    })?;
    if !viewer.can_see_row(&row) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "This conversation belongs to a team you are not in.",
        ));
    }
    Ok((viewer, row))
}

async fn profile(
    State(state): State<AppState>,
    SignedIn(advisor): SignedIn,
    path: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<CustomerProfile>> {
    let (viewer, row) = visible_conversation(&state, &advisor, path).await?;
    let record = state.store.customer(row.id).await?.ok_or_else(not_found)?;
    let (browser, os) = record.user_agent.as_deref().map(customer::browser_and_os).unwrap_or_default();
    let previous = state.store.related_conversations(row.id, &viewer.sql_condition("c"), PREVIOUS_LIMIT).await?;
    Ok(Json(CustomerProfile {
        conversation: row.id,
        display_name: row.visitor_name,
        name: record.name,
        email: record.email,
        name_unverified: record.name_by_visitor,
        email_unverified: record.email_by_visitor,
        channel: row.channel,
        identities: row.identities,
        page: row.page,
        referrer: record.referrer,
        browser,
        os: os.map(str::to_owned),
        language: record.language,
        timezone: record.timezone,
        first_seen: record.first_seen,
        last_seen: record.last_seen,
        previous: previous
            .into_iter()
            .map(|c| PastConversation {
                id: c.id,
                channel: c.channel,
                status: c.status,
                site_name: c.site_name,
                last_message: c.last_message,
                last_activity_at: c.last_activity_at,
            })
            .collect(),
    }))
}

/// Each field trimmed; empty clears it. The name is limited like a visitor's, the e-mail checked.
fn checked_edit(patch: CustomerPatch) -> ApiResult<CustomerEdit> {
    let clean = |v: Option<String>| v.map(|v| Some(v.trim().to_owned()).filter(|v| !v.is_empty()));
    let edit = CustomerEdit { name: clean(patch.name), email: clean(patch.email), by_visitor: false };
    if edit.name.is_none() && edit.email.is_none() {
        return Err(bad_request("Send a name, an e-mail, or both."));
    }
    if let Some(Some(name)) = &edit.name {
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(bad_request(format!("A name has at most {MAX_NAME_CHARS} characters, on one line.")));
        }
    }
    if let Some(Some(email)) = &edit.email {
        if !customer::is_email(email) {
            return Err(bad_request(format!("\"{email}\" is not an e-mail address (like ana@example.com).")));
        }
    }
    Ok(edit)
}

async fn edit(
    State(state): State<AppState>,
    SignedIn(advisor): SignedIn,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<CustomerPatch>, JsonRejection>,
) -> ApiResult<Json<CustomerProfile>> {
    let (_, row) = visible_conversation(&state, &advisor, path).await?;
    let Json(patch) = body.map_err(|e| bad_request(e.body_text()))?;
    let edit = checked_edit(patch)?;
    state.store.edit_customer(row.id, &edit).await?;
    tracing::info!(advisor = advisor.id.0, conversation = row.id.0, "customer details corrected");
    crate::conversation::announce_conversation(&state, row.id).await;
    profile(State(state), SignedIn(advisor), Ok(Path(row.id.0))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(name: Option<&str>, email: Option<&str>) -> CustomerPatch {
        CustomerPatch { name: name.map(str::to_owned), email: email.map(str::to_owned) }
    }

    #[test]
    fn an_edit_trims_and_clears_with_empty_strings() {
        let edit = checked_edit(patch(Some("  Ana Lima "), Some(""))).unwrap();
        assert_eq!(edit.name, Some(Some("Ana Lima".into())));
        assert_eq!(edit.email, Some(None));
        assert_eq!(checked_edit(patch(None, Some("ana@shop.example"))).unwrap().name, None);
    }

    #[test]
    fn a_bad_edit_is_refused_with_a_reason() {
        assert!(checked_edit(patch(None, None)).is_err());
        assert!(checked_edit(patch(None, Some("ana@shop"))).is_err());
        assert!(checked_edit(patch(Some(&"a".repeat(81)), None)).is_err());
        assert!(checked_edit(patch(Some("a\nb"), None)).is_err());
    }
}
