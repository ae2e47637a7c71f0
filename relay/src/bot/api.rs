//! HTTP for the bot: the admin's editor (`/api/v1/admin/sites/{key}/bot`, with the admin API's
//! session and CSRF rules) and the outside bot's answers (`/api/v1/bot/conversations/{id}/messages`,
//! with the site's bot token as `Authorization: Bearer …`).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use shared::{ConversationId, ErrorCode, Seq};

use super::{check_replies, BotConfig};
use crate::error::{ApiError, ApiResult};
use crate::http::admin_api::{csrf, SignedInAdmin};
use crate::state::AppState;
use crate::store::Site;

pub fn router() -> Router<AppState> {
    let admin = Router::new()
        .route("/api/v1/admin/sites/{key}/bot", get(get_bot).put(put_bot))
        .route("/api/v1/admin/sites/{key}/bot/token", post(new_token))
        .route_layer(middleware::from_fn(csrf));
    admin.route("/api/v1/bot/conversations/{id}/messages", post(bot_message))
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
}

async fn site(state: &AppState, key: &str) -> ApiResult<Site> {
    state
        .store
        .site_by_key(key)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "No site with this key."))
}

/// The editor's view: the configuration and whether a token was issued.
#[derive(Debug, Serialize)]
struct BotView {
    #[serde(flatten)]
    config: BotConfig,
    has_token: bool,
}

async fn get_bot(State(state): State<AppState>, SignedInAdmin(_): SignedInAdmin, Path(key): Path<String>) -> ApiResult<Json<BotView>> {
    let site = site(&state, &key).await?;
    let row = state.store.bot(site.id).await?;
    let (config, has_token) = match row {
        Some(row) => (serde_json::from_str(&row.config).unwrap_or_default(), row.has_token),
        None => (BotConfig::default(), false),
    };
    Ok(Json(BotView { config, has_token }))
}

async fn put_bot(
    State(state): State<AppState>,
    SignedInAdmin(admin): SignedInAdmin,
    Path(key): Path<String>,
    body: Result<Json<BotConfig>, JsonRejection>,
) -> ApiResult<Json<BotView>> {
    let site = site(&state, &key).await?;
    let Json(config) = body.map_err(|e| bad_request(e.body_text()))?;
    let config = config.check().map_err(bad_request)?;
    if let Some(hook) = &config.webhook {
        state.outbound.check_url(&hook.url).map_err(|e| bad_request(format!("the webhook URL can't be used: {e}")))?;
    }
    let json = serde_json::to_string(&config).expect("config serializes");
    state.store.put_bot(site.id, &json, crate::now_ms()).await?;
    tracing::info!(admin = admin.info.id.0, site = %site.key, enabled = config.enabled, "bot configuration saved");
    let has_token = state.store.bot(site.id).await?.is_some_and(|r| r.has_token);
    Ok(Json(BotView { config, has_token }))
}

/// A new token for the site's outside bot, shown this once; the previous one stops working.
async fn new_token(State(state): State<AppState>, SignedInAdmin(admin): SignedInAdmin, Path(key): Path<String>) -> ApiResult<Json<serde_json::Value>> {
    let site = site(&state, &key).await?;
    if state.store.bot(site.id).await?.is_none() {
        state.store.put_bot(site.id, &serde_json::to_string(&BotConfig::default()).expect("serializes"), crate::now_ms()).await?;
    }
    let token = format!("cbt_{}", crate::secret::new_token());
    state.store.set_bot_token(site.id, &crate::secret::token_hash(&token)).await?;
    tracing::info!(admin = admin.info.id.0, site = %site.key, "bot token issued");
    Ok(Json(serde_json::json!({ "token": token })))
}

/// What the outside bot sends: a message (with quick replies), a hand-off, or both (the message first).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotMessage {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub quick_replies: Vec<String>,
    #[serde(default)]
    pub handoff: bool,
}

#[derive(Debug, Serialize)]
struct BotAnswer {
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<Seq>,
    handed_off: bool,
}

async fn bot_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<BotMessage>, JsonRejection>,
) -> ApiResult<Json<BotAnswer>> {
    let unauthorized =
        || ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::NotAuthenticated, "Send the site's bot token as Authorization: Bearer <token>.");
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?;
    let site = state.store.site_by_bot_token(&crate::secret::token_hash(token.trim())).await?.ok_or_else(unauthorized)?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "No such conversation on this bot's site.");
    let Path(id) = path.map_err(|_| not_found())?;
    let conversation = ConversationId(id);
    let conv = state.store.bot_conversation(conversation).await?.filter(|c| c.site == site).ok_or_else(not_found)?;
    if !conv.with_bot {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Forbidden,
            "The bot no longer has this conversation (it was handed to a person).",
        ));
    }
    let Json(mut message) = body.map_err(|e| bad_request(e.body_text()))?;
    check_replies("quick_replies", &mut message.quick_replies).map_err(bad_request)?;
    let text = message.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if text.is_none() && !message.handoff {
        return Err(bad_request("Send a text, handoff: true, or both."));
    }
    if let Some(t) = text {
        if shared::limits::text_chars(t) > shared::limits::MAX_TEXT_CHARS {
            return Err(bad_request(format!("The text is longer than {} characters.", shared::limits::MAX_TEXT_CHARS)));
        }
    }
    let seq = match text {
        Some(t) => Some(
            super::engine::say_from_webhook(&state, conversation, t, message.quick_replies)
                .await
                .ok_or_else(|| ApiError::internal("posting the outside bot's message", "not stored"))?,
        ),
        None => None,
    };
    if message.handoff {
        super::engine::request_handoff(&state, site, conversation, "the site's bot handed over").await;
    }
    Ok(Json(BotAnswer { seq, handed_off: message.handoff }))
}
