//! Uploads from the widget and the dashboard, and signed links to the files.
//!
//! - `POST /api/v1/uploads?site=KEY&name=FILE` — a visitor: `Authorization: Bearer <visitor token>`,
//!   from a page on one of the site's allowed origins (CORS answers for that page only).
//! - `POST /dashboard/api/conversations/{id}/uploads?name=FILE` — an advisor who may see the
//!   conversation: session cookie (`SameSite=Strict`) and a same-origin `Origin`.
//! - `GET /files/{id}?exp=…&sig=…` — the bytes, for whoever holds a link that hasn't expired.
//!
//! The body is the file's bytes. The relay reads at most [`MAX_UPLOAD_BYTES`] of it (a larger
//! `Content-Length` is refused before reading), sniffs the type from the bytes (the name and the
//! claimed type are ignored) and keeps only [`shared::limits::UPLOAD_TYPES`]. The answer (201) is
//! the file as a `shared::Attachment` with a signed `url`; the message that carries it names its
//! `id` (`send` frames' `attachments`). A file no message takes within a day is deleted.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Deserialize;
use shared::limits::{upload_type_allowed, MAX_UPLOAD_BYTES};
use shared::{Attachment, AttachmentKind, AttachmentState, ConversationId, ErrorCode};

use super::files::WriteError;
use super::http::{serve, Audience};
use super::signing::LinkError;
use super::sniff;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::SignedIn;
use crate::http::client_ip::ClientIp;
use crate::limits::RetryAfter;
use crate::state::AppState;
use crate::store::attachments::{NewUpload, Uploader};

/// Unsent uploads older than this are deleted.
pub const UNSENT_KEPT_MS: i64 = 24 * 60 * 60 * 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/uploads", post(visitor_upload).options(visitor_preflight))
        .route("/dashboard/api/conversations/{id}/uploads", post(advisor_upload))
        .route("/files/{id}", get(signed_file))
}

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    site: Option<String>,
    name: Option<String>,
}

pub fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::FileTooLarge, "This file can't be sent: it is larger than 10 MB.")
}

pub fn type_refused() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::FileTypeRefused,
        "This file type can't be sent: only photos, videos and PDFs.",
    )
}

/// CORS for the asking page, on every answer (refusals too, so the widget can show why).
fn with_cors(mut response: Response, headers: &HeaderMap) -> Response {
    if let Some(page) = crate::origin::request_origin(headers).and_then(|o| HeaderValue::from_str(o).ok()) {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, page);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

async fn visitor_preflight(State(state): State<AppState>, Query(query): Query<UploadQuery>, headers: HeaderMap) -> Response {
    match crate::ws::visitor::checked_site(&state, query.site.as_deref(), &headers).await {
        Ok(_) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            let h = response.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST"));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            with_cors(response, &headers)
        }
        Err(e) => with_cors(e.into_response(), &headers),
    }
}

async fn visitor_upload(
    State(state): State<AppState>,
    Query(query): Query<UploadQuery>,
    client: ClientIp,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        // The in-memory count first: a client over its share costs no database lookup.
        if let Err(RetryAfter(wait)) = state.limits.upload(client.limit_key()) {
            return Err(ApiError::rate_limited(wait, "You have sent many files in the last hour; try again later."));
        }
        let site = crate::ws::visitor::checked_site(&state, query.site.as_deref(), &headers).await?;
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::BadToken, "send the visitor token as Authorization: Bearer …"))?;
        let thread = state
            .store
            .visitor_by_token(site.id, &crate::secret::token_hash(token))
            .await?
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::BadToken, "this visitor token is not known on this site"))?;
        within_quota(&state, thread.conversation, &headers).await?;
        receive(&state, thread.conversation, Uploader::Visitor, query.name.as_deref(), &headers, body).await
    }
    .await;
    let response = match answer {
        Ok(a) => (StatusCode::CREATED, Json(a)).into_response(),
        Err(e) => e.into_response(),
    };
    with_cors(response, &headers)
}

/// What visitors keep on the relay's disk without sending it stays bounded: per visitor, so one
/// script can't fill it, and per site. Counted before reading: the file's declared size, else the
/// largest a file may be.
async fn within_quota(state: &AppState, conversation: ConversationId, headers: &HeaderMap) -> ApiResult<()> {
    let coming = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok()).unwrap_or(MAX_UPLOAD_BYTES);
    let (mine, site) = state.store.unsent_upload_bytes(conversation).await?;
    let limits = &state.limits.config;
    let quota = |message: &str| Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::QuotaExceeded, message));
    if mine + coming.min(MAX_UPLOAD_BYTES) > limits.unsent_upload_bytes_per_visitor {
        return quota("You have uploaded many files that aren't sent yet: send them in a message, or wait a day for them to be cleared.");
    }
    if site + coming.min(MAX_UPLOAD_BYTES) > limits.unsent_upload_bytes_per_site {
        return quota("This chat can't take more files right now; try again later.");
    }
    Ok(())
}

async fn advisor_upload(
    State(state): State<AppState>,
    SignedIn(advisor): SignedIn,
    Path(conversation): Path<i64>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    // CSRF: the cookie is SameSite=Strict, and the page must be the dashboard's own.
    if !crate::origin::is_same_origin(&headers, state.config.public_url.as_ref()) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, "uploads must come from the dashboard's own origin"));
    }
    let conversation = ConversationId(conversation);
    let viewer = crate::access::Viewer::load(&state, advisor.id).await?;
    let exists = state.store.conversation_scope(conversation).await?.is_some();
    if !exists || !crate::access::may_see(&state, &viewer, conversation).await? {
        return Err(ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such conversation"));
    }
    let attachment = receive(&state, conversation, Uploader::Advisor(advisor.id), query.name.as_deref(), &headers, body).await?;
    Ok((StatusCode::CREATED, Json(attachment)).into_response())
}

/// The kind a sniffed upload type is shown as.
pub fn kind_of(mime: &str) -> AttachmentKind {
    if mime.starts_with("image/") {
        AttachmentKind::Image
    } else if mime.starts_with("video/") {
        AttachmentKind::Video
    } else {
        AttachmentKind::Document
    }
}

/// Read, check and keep an uploaded file of `conversation`.
async fn receive(
    state: &AppState,
    conversation: ConversationId,
    by: Uploader,
    name: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Attachment> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_UPLOAD_BYTES) {
        return Err(too_large());
    }
    let id = super::new_id();
    let files = state.attachments.files();
    let mut incoming = files.create(&id, MAX_UPLOAD_BYTES).await.map_err(|e| ApiError::internal("starting an upload", e))?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "the upload was interrupted; try again")
        })?;
        match incoming.write(&chunk).await {
            Ok(()) => {}
            Err(WriteError::TooLarge { .. }) => return Err(too_large()),
            Err(WriteError::Io(e)) => return Err(ApiError::internal("writing an upload", e)),
        }
    }
    let written = incoming.finish().await.map_err(|e| ApiError::internal("finishing an upload", e))?;
    if written.size == 0 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "the file is empty"));
    }
    let mime = sniff::sniff(&written.head).mime;
    if !upload_type_allowed(mime) {
        return Err(type_refused());
    }
    let upload = NewUpload {
        id: id.clone(),
        conversation,
        by,
        kind: kind_of(mime),
        mime: mime.to_owned(),
        name: name.and_then(sniff::clean_file_name),
        size: written.size,
        sha256: hex::encode(written.sha256),
    };
    written.keep(files, &id).await.map_err(|e| ApiError::internal("keeping an upload", e))?;
    if let Err(e) = state.store.create_upload(&upload, crate::now_ms()).await {
        if let Some(path) = files.path(&id) {
            let _ = tokio::fs::remove_file(path).await;
        }
        return Err(e.into());
    }
    Ok(Attachment {
        url: Some(state.attachments.link(&id)),
        id,
        kind: upload.kind,
        mime: upload.mime,
        name: upload.name,
        size: upload.size,
        state: AttachmentState::Ready,
        error: None,
    })
}

#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    exp: Option<i64>,
    sig: Option<String>,
}

async fn signed_file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(link): Query<LinkQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let refused = |message: &str| ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message);
    let (Some(exp), Some(sig)) = (link.exp, link.sig.as_deref()) else {
        return Err(refused("This link is not valid."));
    };
    match state.attachments.signer().check(&id, exp, sig, crate::now_ms() / 1000) {
        Ok(()) => {}
        Err(LinkError::Expired) => return Err(refused("This link has expired: open the conversation again for a fresh one.")),
        Err(LinkError::BadSignature) => return Err(refused("This link is not valid.")),
    }
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "No such file.");
    let path = state.attachments.files().path(&id).ok_or_else(not_found)?;
    let stored = state.store.attachment(&id).await?.ok_or_else(not_found)?;
    serve(&path, &stored, &headers, Audience::Link).await
}

/// Delete uploads no message took within [`UNSENT_KEPT_MS`], with their files: at start, then hourly.
pub async fn sweep_unsent(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = state.stopping.cancelled() => return,
            _ = tick.tick() => {}
        }
        match state.store.sweep_uploads(crate::now_ms() - UNSENT_KEPT_MS).await {
            Ok(ids) => {
                for id in ids {
                    if let Some(path) = state.attachments.files().path(&id) {
                        if let Err(e) = tokio::fs::remove_file(&path).await {
                            tracing::warn!(error = %e, attachment = %id, "could not delete an unsent upload's file");
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not sweep unsent uploads"),
        }
    }
}
