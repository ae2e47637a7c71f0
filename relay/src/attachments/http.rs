//! `GET /dashboard/api/attachments/{id}`: a stored file, for a logged-in advisor.
//!
//! Files come from strangers, so they are served to be looked at, never run: the sniffed type
//! (markup and script as opaque bytes), `nosniff`, a sandboxing CSP, `inline` only for pictures,
//! video and sound, and only to pages of the relay's own origin.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use shared::{AttachmentState, ErrorCode};

use super::sniff;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::SignedIn;
use crate::state::AppState;

/// A file never changes under its id; the browser may keep it for a day.
const CACHE_CONTROL: &str = "private, max-age=86400";
/// Whatever a browser makes of the file, it gets no script, no plugins, no forms, no origin.
const CSP: &str = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'";

pub fn router() -> Router<AppState> {
    Router::new().route("/dashboard/api/attachments/{id}", get(download))
}

async fn download(
    State(state): State<AppState>,
    SignedIn(advisor): SignedIn,
    Path(id): Path<String>,
    request_headers: HeaderMap,
) -> ApiResult<Response> {
    let not_found = |message: &str| ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message);
    let files = state.attachments.files();
    let Some(path) = files.path(&id) else { return Err(not_found("No such file.")) };
    let Some(stored) = state.store.attachment(&id).await? else { return Err(not_found("No such file.")) };
    // Only to advisors who may see the conversation (the same answer as for no file: an id
    // tells nothing about a conversation of another team).
    let viewer = crate::access::Viewer::load(&state, advisor.id).await?;
    if !crate::access::may_see(&state, &viewer, stored.conversation).await? {
        return Err(not_found("No such file."));
    }
    serve(&path, &stored, &request_headers, Audience::Dashboard).await
}

/// Who a file is served to: the dashboard (same origin, cookie) or a signed link (any origin: the
/// widget shows pictures on the customer's site).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Audience {
    Dashboard,
    Link,
}

/// The response for a stored file: its bytes (or 304), with the headers that keep it inert.
pub(super) async fn serve(
    path: &std::path::Path,
    stored: &crate::store::attachments::StoredAttachment,
    request_headers: &HeaderMap,
    audience: Audience,
) -> ApiResult<Response> {
    let not_found = |message: &str| ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message);
    let id = &stored.attachment.id;
    let attachment = &stored.attachment;
    match attachment.state {
        AttachmentState::Ready => {}
        AttachmentState::Pending => return Err(not_found("This file is still being fetched from the platform.")),
        _ => {
            let why = attachment.error.as_deref().unwrap_or("it could not be fetched from the platform");
            return Err(not_found(&format!("This file is not available: {why}")));
        }
    }
    let etag = stored.sha256.as_deref().and_then(|s| HeaderValue::from_str(&format!("\"{s}\"")).ok());
    let fresh = etag.as_ref().is_some_and(|etag| {
        request_headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|candidate| candidate.trim().trim_start_matches("W/") == etag.to_str().unwrap_or_default())
    });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let file = match tokio::fs::File::open(path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::error!(attachment = %id, path = %path.display(), "an attachment is recorded as ready but its file is missing");
                return Err(not_found("This file is missing from the relay's storage."));
            }
            Err(e) => return Err(ApiError::internal("opening an attachment", e)),
        };
        let length = file.metadata().await.map_err(|e| ApiError::internal("reading an attachment's size", e))?.len();
        let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        let served = sniff::served_type(&attachment.mime);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&served).unwrap_or(HeaderValue::from_static("application/octet-stream")),
        );
        let name = sniff::download_name(attachment.name.as_deref(), attachment.kind, &attachment.mime);
        let disposition = sniff::content_disposition(sniff::shows_inline(&served), &name);
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    match audience {
        Audience::Dashboard => {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
            headers.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
        }
        Audience::Link => {
            // No longer than the link itself lives; pages of any origin may show it (the widget).
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=900"));
            headers.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
        }
    }
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Some(etag) = etag {
        headers.insert(header::ETAG, etag);
    }
    Ok(response)
}
