//! The relay's HTTP endpoints the dashboard calls (same origin, session cookie).

use gloo_net::http::{Request, RequestBuilder, Response};
use shared::{AdvisorInfo, ErrorCode, ErrorFrame};
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
