//! The relay's HTTP endpoints the dashboard calls (same origin, session cookie).

use gloo_net::http::{Request, RequestBuilder, Response};
use shared::{AdvisorInfo, ConversationId, CustomerPatch, CustomerProfile, ErrorCode, ErrorFrame};
use web_sys::RequestCredentials;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 401: no session, or wrong e-mail/password; the relay's message.
    Unauthorized(String),
    /// Any other refusal, with the relay's message.
    Refused(ErrorFrame),
    /// The relay could not be reached.
    Network(String),
}

impl ApiError {
    /// A sentence for the advisor.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthorized(m) => m.clone(),
            ApiError::Refused(e) => e.message.clone(),
            ApiError::Network(_) => "Can't reach the Confab server. Check your connection and try again.".into(),
        }
    }
}

/// Who is logged in, or `Unauthorized`. Asks `/api/v1/auth/session`, which answers 200 either way,
/// so a logged-out start is not a failed request in the browser's console.
pub async fn me() -> Result<AdvisorInfo, ApiError> {
    #[derive(serde::Deserialize)]
    struct Session {
        advisor: Option<AdvisorInfo>,
    }
    let response = send(Request::get("/api/v1/auth/session")).await?;
    let session: Session = json_or_error(response).await?;
    session.advisor.ok_or_else(|| ApiError::Unauthorized("Log in to continue.".into()))
}

/// What a correct password leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    In(AdvisorInfo),
    /// The account has two-factor: ask for the code (the relay's sentence).
    NeedCode(String),
    /// An admin requires two-factor and this account has none: enrol now (the cookie set is an
    /// enrolment-only session).
    MustEnrol(String),
}

pub async fn login(email: &str, password: &str, code: Option<&str>) -> Result<LoginOutcome, ApiError> {
    #[derive(serde::Serialize)]
    struct Login<'a> {
        email: &'a str,
        password: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<&'a str>,
    }
    // `.json` sets `Content-Type: application/json`, which the relay requires (CSRF).
    let request = Request::post("/api/v1/auth/login")
        .credentials(RequestCredentials::Include)
        .json(&Login { email, password, code })
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let response = request.send().await.map_err(|e| ApiError::Network(e.to_string()))?;
    if response.ok() {
        return json_or_error(response).await.map(LoginOutcome::In);
    }
    let status = response.status();
    match response.json::<ErrorFrame>().await {
        Ok(e) if e.code == ErrorCode::TotpRequired => Ok(LoginOutcome::NeedCode(e.message)),
        Ok(e) if e.code == ErrorCode::TotpEnrolmentRequired => Ok(LoginOutcome::MustEnrol(e.message)),
        Ok(e) if status == 401 => Err(ApiError::Unauthorized(e.message)),
        Ok(e) => Err(ApiError::Refused(e)),
        Err(_) => Err(ApiError::Refused(ErrorFrame::new(ErrorCode::Unknown, format!("The server answered {status}.")))),
    }
}

/// `GET` a JSON resource.
pub async fn get_json<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    json_or_error(send(Request::get(path)).await?).await
}

/// A state-changing JSON request (`POST`, `PUT`, `PATCH`, `DELETE`); `None` for a 204 answer.
pub async fn send_json<T: serde::de::DeserializeOwned>(
    method: gloo_net::http::Method,
    path: &str,
    body: &serde_json::Value,
) -> Result<Option<T>, ApiError> {
    let request = RequestBuilder::new(path)
        .method(method)
        .credentials(RequestCredentials::Include)
        .json(body)
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let response = request.send().await.map_err(|e| ApiError::Network(e.to_string()))?;
    if response.status() == 204 {
        return Ok(None);
    }
    json_or_error(response).await.map(Some)
}

pub async fn logout() -> Result<(), ApiError> {
    let request = Request::post("/api/v1/auth/logout")
        .credentials(RequestCredentials::Include)
        .header("Content-Type", "application/json")
        .body("{}")
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let response = request.send().await.map_err(|e| ApiError::Network(e.to_string()))?;
    if response.ok() {
        Ok(())
    } else {
        Err(error_of(response).await)
    }
}

/// The customer panel's profile of a conversation's customer.
pub async fn customer(conversation: ConversationId) -> Result<CustomerProfile, ApiError> {
    let response = send(Request::get(&format!("/api/v1/conversations/{}/customer", conversation.0))).await?;
    json_or_error(response).await
}

/// Correct the customer's name or e-mail (an empty string clears it); answers the new profile.
pub async fn edit_customer(conversation: ConversationId, patch: &CustomerPatch) -> Result<CustomerProfile, ApiError> {
    let request = Request::patch(&format!("/api/v1/conversations/{}/customer", conversation.0))
        .credentials(RequestCredentials::Include)
        .json(patch)
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let response = request.send().await.map_err(|e| ApiError::Network(e.to_string()))?;
    json_or_error(response).await
}

async fn send(builder: RequestBuilder) -> Result<Response, ApiError> {
    builder
        .credentials(RequestCredentials::Include)
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))
}

async fn json_or_error<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    if response.ok() {
        response.json::<T>().await.map_err(|e| {
            ApiError::Refused(ErrorFrame::new(
                ErrorCode::Internal,
                format!("Unexpected answer from the server ({e})."),
            ))
        })
    } else {
        Err(error_of(response).await)
    }
}

async fn error_of(response: Response) -> ApiError {
    let status = response.status();
    let body = response.json::<ErrorFrame>().await.unwrap_or_else(|_| {
        ErrorFrame::new(
            ErrorCode::Unknown,
            format!("The server answered {status} {}.", response.status_text()),
        )
    });
    if status == 401 {
        ApiError::Unauthorized(body.message)
    } else {
        ApiError::Refused(body)
    }
}

/// The analytics report for the days `from..=to` (`YYYY-MM-DD`), counted in the browser's UTC
/// offset (minutes east of UTC).
pub async fn analytics(from: &str, to: &str, tz_offset_min: i32) -> Result<shared::analytics::AnalyticsReport, ApiError> {
    let url = format!("/api/v1/analytics?from={from}&to={to}&tz_offset_min={tz_offset_min}");
    let response = send(Request::get(&url)).await?;
    json_or_error(response).await
}

// ---- the advisor's tools (canned responses, labels, search) ----

use crate::tools::{Canned, LabelInfo, SearchResult};

/// A state-changing JSON request (the relay's CSRF check wants the JSON content type on each).
async fn send_body(builder: RequestBuilder, body: &impl serde::Serialize) -> Result<Response, ApiError> {
    let request = builder
        .credentials(RequestCredentials::Include)
        .json(body)
        .map_err(|e| ApiError::Network(e.to_string()))?;
    request.send().await.map_err(|e| ApiError::Network(e.to_string()))
}

async fn ok_or_error(response: Response) -> Result<(), ApiError> {
    if response.ok() {
        Ok(())
    } else {
        Err(error_of(response).await)
    }
}

pub async fn canned() -> Result<Vec<Canned>, ApiError> {
    json_or_error(send(Request::get("/api/v1/canned")).await?).await
}

#[derive(serde::Serialize)]
struct CannedBody<'a> {
    shortcut: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared: Option<bool>,
}

/// An empty JSON object, for a request whose only content is its JSON content type.
#[derive(serde::Serialize)]
struct Empty {}

pub async fn create_canned(shortcut: &str, text: &str, shared: bool) -> Result<Canned, ApiError> {
    let body = CannedBody { shortcut, text, shared: Some(shared) };
    json_or_error(send_body(Request::post("/api/v1/canned"), &body).await?).await
}

pub async fn update_canned(id: i64, shortcut: &str, text: &str) -> Result<Canned, ApiError> {
    let body = CannedBody { shortcut, text, shared: None };
    json_or_error(send_body(Request::patch(&format!("/api/v1/canned/{id}")), &body).await?).await
}

pub async fn delete_canned(id: i64) -> Result<(), ApiError> {
    ok_or_error(send_body(Request::delete(&format!("/api/v1/canned/{id}")), &Empty {}).await?).await
}

pub async fn labels() -> Result<Vec<LabelInfo>, ApiError> {
    json_or_error(send(Request::get("/api/v1/labels")).await?).await
}

/// Replace a conversation's labels; returns them as the relay stored them.
pub async fn set_labels(conversation: shared::ConversationId, labels: &[String]) -> Result<Vec<String>, ApiError> {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        labels: &'a [String],
    }
    #[derive(serde::Deserialize)]
    struct Labels {
        labels: Vec<String>,
    }
    let url = format!("/api/v1/conversations/{conversation}/labels");
    let answer: Labels = json_or_error(send_body(Request::put(&url), &Body { labels }).await?).await?;
    Ok(answer.labels)
}

pub async fn search(query: &str) -> Result<Vec<SearchResult>, ApiError> {
    let url = format!("/api/v1/search?q={}", js_sys::encode_uri_component(query));
    json_or_error(send(Request::get(&url)).await?).await
}

/// Upload a file for a reply in `conversation` (`POST /dashboard/api/conversations/{id}/uploads`,
/// session cookie, same origin). `progress` gets the percentage sent; `done` the relay's answer: the
/// stored file, or its refusal ("This file type can't be sent: …"). XMLHttpRequest rather than
/// fetch: fetch reports no upload progress.
pub fn upload(
    conversation: ConversationId,
    file: &web_sys::File,
    progress: impl Fn(u32) + 'static,
    done: impl FnOnce(Result<shared::Attachment, ApiError>) + 'static,
) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
        done(Err(ApiError::Network("no XMLHttpRequest".into())));
        return;
    };
    let name = String::from(js_sys::encode_uri_component(&file.name()));
    let url = format!("/dashboard/api/conversations/{}/uploads?name={name}", conversation.0);
    let _ = xhr.open("POST", &url);
    let on_progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
        if e.length_computable() && e.total() > 0.0 {
            progress((e.loaded() * 100.0 / e.total()) as u32);
        }
    })
    .into_js_value();
    if let Ok(up) = xhr.upload() {
        up.set_onprogress(Some(on_progress.unchecked_ref()));
    }
    let x = xhr.clone();
    let on_done = Closure::once_into_js(move || {
        let status = x.status().unwrap_or(0);
        let body = x.response_text().ok().flatten().unwrap_or_default();
        done(match status {
            201 => serde_json::from_str(&body).map_err(|e| ApiError::Network(e.to_string())),
            0 => Err(ApiError::Network("the upload did not reach the relay".into())),
            401 => Err(ApiError::Unauthorized("Log in again to send files.".into())),
            _ => Err(match serde_json::from_str::<ErrorFrame>(&body) {
                Ok(e) => ApiError::Refused(e),
                Err(_) => ApiError::Refused(ErrorFrame::new(ErrorCode::Unknown, format!("The upload failed ({status})."))),
            }),
        });
    });
    xhr.set_onloadend(Some(on_done.unchecked_ref()));
    if xhr.send_with_opt_blob(Some(file)).is_err() {
        // onloadend still fires with status 0.
    }
}

/// Why a file can't be sent, before uploading it (the relay checks again, from the bytes).
pub fn refuse_file(file: &web_sys::File) -> Option<&'static str> {
    if !shared::limits::upload_type_allowed(&file.type_()) {
        Some("This file type can't be sent: only photos, videos and PDFs.")
    } else if file.size() > shared::limits::MAX_UPLOAD_BYTES as f64 {
        Some("This file can't be sent: it is larger than 10 MB.")
    } else {
        None
    }
}
