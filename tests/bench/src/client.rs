//! Opening visitor and advisor sockets the way the widget and the dashboard do.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use shared::{AdvisorServerFrame, ConversationId, VisitorServerFrame, PROTOCOL_VERSION};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::server::{Endpoint, ADVISOR_EMAIL, ADVISOR_PASSWORD, SITE, SITE_ORIGIN};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a handshake (upgrade, hello, welcome) may take before it counts as failed.
const HANDSHAKE: Duration = Duration::from_secs(30);

async fn connect(url: &str, headers: &[(&str, &str)]) -> Result<Ws, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        request.headers_mut().insert(name, HeaderValue::from_str(value).map_err(|e| e.to_string())?);
    }
    // Small read buffers: 10,000 idle client sockets should not cost the load generator gigabytes.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (ws, _) = tokio::time::timeout(HANDSHAKE, tokio_tungstenite::connect_async_with_config(request, Some(config), true))
        .await
        .map_err(|_| format!("{url}: upgrade timed out"))?
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(ws)
}

/// The next text frame, or an error on close or timeout.
async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match tokio::time::timeout(HANDSHAKE, ws.next()).await {
            Err(_) => return Err("no frame within 30 s".into()),
            Ok(Some(Ok(WsMessage::Text(t)))) => return Ok(t.to_string()),
            Ok(Some(Ok(WsMessage::Close(c)))) => return Err(format!("closed: {c:?}")),
            Ok(None) => return Err("connection ended".into()),
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// A new visitor on the bench site: upgrade, `hello` without a token, `welcome`.
pub async fn visitor(relay: &Endpoint) -> Result<(Ws, ConversationId), String> {
    let mut ws = connect(&relay.ws(&format!("/ws/visitor?site={SITE}")), &[("origin", SITE_ORIGIN)]).await?;
    let hello = format!(r#"{{"type":"hello","v":{PROTOCOL_VERSION}}}"#);
    ws.send(WsMessage::Text(hello.into())).await.map_err(|e| e.to_string())?;
    loop {
        let text = next_text(&mut ws).await?;
        match serde_json::from_str::<VisitorServerFrame>(&text) {
            Ok(VisitorServerFrame::Welcome { conversation, .. }) => return Ok((ws, conversation)),
            Ok(VisitorServerFrame::Error(e)) => return Err(format!("visitor hello refused: {} {}", e.code.as_str(), e.message)),
            _ => continue,
        }
    }
}

/// Log the bench advisor in over HTTP; returns the cookie (`confab_session=…`).
pub async fn login(relay: &Endpoint) -> Result<String, String> {
    let origin = relay.http("");
    let response = reqwest::Client::new()
        .post(relay.http("/api/v1/auth/login"))
        .header("origin", origin)
        .json(&serde_json::json!({ "email": ADVISOR_EMAIL, "password": ADVISOR_PASSWORD }))
        .send()
        .await
        .map_err(|e| format!("login: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("login: HTTP {}", response.status()));
    }
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or("login: no Set-Cookie")?;
    Ok(cookie.to_owned())
}

/// A dashboard socket: upgrade with the session cookie, `hello`, `welcome`.
pub async fn advisor(relay: &Endpoint, cookie: &str) -> Result<Ws, String> {
    let origin = relay.http("");
    let mut ws = connect(&relay.ws("/ws/advisor"), &[("origin", &origin), ("cookie", cookie)]).await?;
    let hello = format!(r#"{{"type":"hello","v":{PROTOCOL_VERSION}}}"#);
    ws.send(WsMessage::Text(hello.into())).await.map_err(|e| e.to_string())?;
    loop {
        let text = next_text(&mut ws).await?;
        match serde_json::from_str::<AdvisorServerFrame>(&text) {
            Ok(AdvisorServerFrame::Welcome { .. }) => return Ok(ws),
            Ok(AdvisorServerFrame::Error(e)) => return Err(format!("advisor hello refused: {} {}", e.code.as_str(), e.message)),
            _ => continue,
        }
    }
}
