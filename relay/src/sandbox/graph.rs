//! The Graph API routes the relay calls: sends (dispatched to [`super::whatsapp`] or
//! [`super::messenger`] by the node in the path), media lookup and download (§5), Messenger user
//! profiles. Every request and its answer is recorded; errors have Graph's shape (§6, §8).

use std::collections::HashMap;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use rand::Rng;
use serde_json::{json, Value};

use super::media::{Item, MediaFailure, MediaRequest};
use super::{ApiCall, Sandbox};

/// Which platform a route belongs to: WhatsApp errors carry `error_data`, Messenger ones put the
/// detail in the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Product {
    WhatsApp,
    Messenger,
}

/// A Graph API error answer: `{"error":{"message","type","code","error_subcode"?,"error_data"?,"fbtrace_id"}}`.
#[derive(Debug)]
pub(super) struct GraphError {
    status: StatusCode,
    code: i64,
    subcode: Option<i64>,
    message: String,
    /// WhatsApp's `error_data.details`.
    details: Option<String>,
    transient: bool,
    product: Option<Product>,
}

impl GraphError {
    fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        GraphError { status, code, subcode: None, message: message.into(), details: None, transient: false, product: None }
    }

    fn subcode(mut self, subcode: i64) -> Self {
        self.subcode = Some(subcode);
        self
    }

    fn details(mut self, product: Product, details: impl Into<String>) -> Self {
        self.product = Some(product);
        self.details = Some(details.into());
        self
    }

    pub fn missing_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 190, "An access token is required to request this resource.")
    }

    pub fn invalid_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token - Cannot parse access token")
    }

    pub fn token_expired() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            190,
            "Error validating access token: Session has expired. The current time is after the expiry time.",
        )
        .subcode(463)
    }

    pub fn parameter_required(product: Product, name: &str) -> Self {
        let message = format!("(#100) The parameter {name} is required.");
        match product {
            Product::WhatsApp => Self::new(StatusCode::BAD_REQUEST, 100, message).details(product, format!("{name} is required")),
            Product::Messenger => Self::new(StatusCode::BAD_REQUEST, 100, message),
        }
    }

    pub fn invalid_parameter(product: Product, details: impl Into<String>) -> Self {
        let details = details.into();
        match product {
            Product::WhatsApp => Self::new(StatusCode::BAD_REQUEST, 100, "(#100) Invalid parameter").details(product, details),
            Product::Messenger => Self::new(StatusCode::BAD_REQUEST, 100, format!("(#100) {details}")),
        }
    }

    pub fn no_such_object(method: &str, id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            100,
            format!(
                "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
        )
        .subcode(33)
    }

    fn unknown_path(path: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 2500, format!("Unknown path components: {path}"))
    }

    /// `err_whatsapp_130429.json`.
    pub fn whatsapp_rate_limited() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, 130429, "(#130429) Rate limit hit")
            .details(Product::WhatsApp, "Throughput limit for this business number reached; slow down and retry.")
    }

    pub fn messenger_rate_limited() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, 613, "(#613) Calls to this api have exceeded the rate limit.")
    }

    pub fn server_error() -> Self {
        let mut e = Self::new(StatusCode::INTERNAL_SERVER_ERROR, 2, "An unexpected error has occurred. Please retry your request later.");
        e.transient = true;
        e
    }

    /// `err_messenger_outside_window.json`.
    pub fn messenger_outside_window() -> Self {
        Self::new(StatusCode::BAD_REQUEST, 10, "(#10) This message is sent outside of allowed window.").subcode(2018278)
    }

    pub fn no_matching_user() -> Self {
        Self::new(StatusCode::BAD_REQUEST, 100, "(#100) No matching user found").subcode(2018001)
    }

    pub fn for_failure(failure: super::Failure, product: Product) -> Option<Self> {
        use super::Failure::*;
        match (failure, product) {
            (RateLimited, Product::WhatsApp) => Some(Self::whatsapp_rate_limited()),
            (RateLimited, Product::Messenger) => Some(Self::messenger_rate_limited()),
            (ServerError, _) => Some(Self::server_error()),
            (TokenExpired, _) => Some(Self::token_expired()),
            (OutsideWindow, Product::Messenger) => Some(Self::messenger_outside_window()),
            // WhatsApp accepts the send and fails it later by status.
            (OutsideWindow, Product::WhatsApp) => None,
        }
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut error = json!({
            "message": self.message,
            "type": "OAuthException",
            "code": self.code,
            "fbtrace_id": fbtrace_id(),
        });
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = subcode.into();
        }
        if let (Some(details), Some(Product::WhatsApp)) = (self.details, self.product) {
            error["error_data"] = json!({"messaging_product": "whatsapp", "details": details});
        }
        if self.transient {
            error["is_transient"] = true.into();
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if self.code == 190 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("OAuth \"Facebook Platform\" \"invalid_token\" \"Invalid OAuth access token\""),
            );
        }
        response
    }
}

pub(super) fn router(sandbox: Sandbox) -> Router {
    Router::new()
        .route("/{version}/{node}/messages", post(messages))
        .route("/{version}/{node}", get(node))
        .route("/lookaside/whatsapp_business/attachments/", get(download))
        .fallback(unknown)
        .layer(middleware::from_fn_with_state(sandbox.clone(), record))
        .with_state(sandbox)
}

/// Keep a copy of the request and of the answer (see [`Sandbox::requests`]).
async fn record(State(sandbox): State<Sandbox>, request: Request, next: Next) -> Response {
    const LIMIT: usize = 16 * 1024 * 1024;
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let header_text = |name| parts.headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_owned);
    let mut call = ApiCall {
        seq: 0,
        at_ms: crate::now_ms(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        authorization: header_text(header::AUTHORIZATION),
        content_type: header_text(header::CONTENT_TYPE),
        body: serde_json::from_slice(&bytes).ok(),
        status: 0,
        response: None,
        response_len: 0,
    };
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let is_json = parts.headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    call.status = parts.status.as_u16();
    call.response = if is_json { serde_json::from_slice(&bytes).ok() } else { None };
    call.response_len = bytes.len();
    sandbox.record_call(call);
    Response::from_parts(parts, Body::from(bytes))
}

async fn unknown(request: Request) -> GraphError {
    GraphError::unknown_path(request.uri().path())
}

/// Graph accepts any `vNN.N`; anything else is an unknown path.
fn check_version(version: &str, path: &str) -> Result<(), GraphError> {
    let valid = version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty() && !minor.is_empty() && major.chars().chain(minor.chars()).all(|c| c.is_ascii_digit())
        });
    if valid {
        Ok(())
    } else {
        Err(GraphError::unknown_path(path))
    }
}

async fn messages(
    State(sandbox): State<Sandbox>,
    Path((version, node)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GraphError> {
    check_version(&version, &format!("/{version}/{node}/messages"))?;
    let config = sandbox.config();
    if node == config.phone_number_id {
        sandbox.authorize(&headers, None)?;
        super::whatsapp::send(&sandbox, parse_json(&body, Product::WhatsApp)?)
    } else if node == "me" || node == config.page_id {
        sandbox.authorize(&headers, query_token(query.as_deref()).as_deref())?;
        super::messenger::send(&sandbox, parse_json(&body, Product::Messenger)?)
    } else {
        Err(GraphError::no_such_object("post", &node))
    }
}

fn parse_json(body: &[u8], product: Product) -> Result<Value, GraphError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err(GraphError::invalid_parameter(product, "the request body must be a JSON object")),
    }
}

fn query_token(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes()).find(|(k, _)| k == "access_token").map(|(_, v)| v.into_owned())
}

impl Sandbox {
    /// The bearer header (or, where Meta allows it, `access_token` in the query) must carry the token.
    fn authorize(&self, headers: &HeaderMap, query_token: Option<&str>) -> Result<(), GraphError> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        match bearer.or(query_token) {
            None | Some("") => Err(GraphError::missing_token()),
            Some(token) if token == self.inner.config.access_token => Ok(()),
            Some(_) => Err(GraphError::invalid_token()),
        }
    }
}

/// `GET /{v}/{id}`: a media object (§5) or a Messenger user's profile.
async fn node(
    State(sandbox): State<Sandbox>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, GraphError> {
    check_version(&version, &format!("/{version}/{id}"))?;
    let media = sandbox.world().media.get(&id).cloned();
    if let Some(item) = media {
        sandbox.authorize(&headers, None)?;
        match sandbox.take_media_failure(MediaRequest::Lookup) {
            Some(MediaFailure::ServerError) => return Err(GraphError::server_error()),
            Some(MediaFailure::Deleted) => return Err(GraphError::no_such_object("get", &id)),
            _ => {}
        }
        if query.get("phone_number_id").is_some_and(|p| *p != sandbox.config().phone_number_id) {
            return Err(GraphError::no_such_object("get", &id));
        }
        return Ok(Json(media_info(&sandbox, &item)));
    }
    let profile = sandbox.world().profiles.get(&id).cloned();
    if let Some(name) = profile {
        sandbox.authorize(&headers, query.get("access_token").map(String::as_str))?;
        return Ok(Json(profile_fields(&id, &name, query.get("fields").map(String::as_str))));
    }
    sandbox.authorize(&headers, query.get("access_token").map(String::as_str))?;
    Err(GraphError::no_such_object("get", &id))
}

/// The media lookup answer; its URL works for five minutes, and only with the bearer token.
fn media_info(sandbox: &Sandbox, item: &Item) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "url": sandbox.download_url(&item.id),
        "mime_type": item.mime_type,
        "sha256": item.sha256,
        // §5: "file_size may be a string" — Meta's example sends one.
        "file_size": item.bytes.len().to_string(),
        "id": item.id,
    })
}

fn profile_fields(psid: &str, name: &str, fields: Option<&str>) -> Value {
    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
    let mut profile = json!({"id": psid});
    for field in fields.unwrap_or("name").split(',').map(str::trim) {
        match field {
            "name" => profile["name"] = name.into(),
            "first_name" => profile["first_name"] = first.into(),
            "last_name" => profile["last_name"] = last.into(),
            _ => {}
        }
    }
    profile
}

impl Sandbox {
    /// A download URL for `media_id`, valid for five minutes (§5).
    pub(super) fn download_url(&self, media_id: &str) -> String {
        let expires = crate::now_ms() / 1000 + 300;
        let hash = self.download_hash(media_id, expires);
        format!("{}/lookaside/whatsapp_business/attachments/?mid={media_id}&ext={expires}&hash={hash}", self.base_url())
    }

    /// Signs a download URL so it can be checked without storing it.
    fn download_hash(&self, media_id: &str, expires: i64) -> String {
        let signed = super::signature(&self.inner.config.app_secret, format!("{media_id}:{expires}").as_bytes());
        format!("ATt{}", &signed["sha256=".len().."sha256=".len() + 20])
    }
}

/// `GET <media url>` with the bearer token: the file itself.
async fn download(
    State(sandbox): State<Sandbox>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    sandbox.authorize(&headers, None)?;
    let failure = sandbox.take_media_failure(MediaRequest::Download);
    match failure {
        Some(MediaFailure::ServerError) => return Ok((StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()),
        Some(MediaFailure::ExpiredUrl) => return Ok((StatusCode::NOT_FOUND, "URL signature expired").into_response()),
        _ => {}
    }
    let (Some(id), Some(expires), Some(hash)) = (query.get("mid"), query.get("ext"), query.get("hash")) else {
        return Err(GraphError::no_such_object("get", "attachments"));
    };
    let expires: i64 = expires.parse().unwrap_or(0);
    let item = sandbox.world().media.get(id).cloned();
    match item {
        Some(item) if *hash == sandbox.download_hash(id, expires) && crate::now_ms() / 1000 <= expires => {
            let bytes = if failure == Some(MediaFailure::Corrupted) { item.corrupted_bytes() } else { item.bytes };
            Ok(([(header::CONTENT_TYPE, item.mime_type)], bytes).into_response())
        }
        // An expired or forged URL: look the media up again (§5 step 2).
        _ => Ok((StatusCode::NOT_FOUND, "URL signature expired").into_response()),
    }
}

/// `fbtrace_id`: opaque, different on every error.
fn fbtrace_id() -> String {
    let bytes: [u8; 8] = rand::thread_rng().gen();
    format!("A{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A fresh WhatsApp message id, shaped like Meta's (`wamid.` + base64 of an opaque record).
pub(super) fn wamid(wa_id: &str, outbound: bool) -> String {
    let mut record = vec![0x1c, 0x18, wa_id.len() as u8];
    record.extend_from_slice(wa_id.as_bytes());
    record.extend_from_slice(&[0x15, 0x02, 0x00, if outbound { 0x11 } else { 0x12 }, 0x18, 0x14]);
    let mut rng = rand::thread_rng();
    record.extend((0..20).map(|_| b"0123456789ABCDEF"[rng.gen_range(0..16)]));
    record.push(0);
    format!("wamid.{}", base64::engine::general_purpose::STANDARD.encode(record))
}

/// A fresh Messenger message id (`m_` + opaque base64url).
pub(super) fn mid() -> String {
    let bytes: [u8; 24] = rand::thread_rng().gen();
    format!("m_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A fresh numeric media id.
pub(super) fn media_id() -> String {
    let n: u64 = rand::thread_rng().gen_range(1_000_000_000_000_000..10_000_000_000_000_000);
    n.to_string()
}
