//! Opening visitor and advisor sockets the way the widget and the dashboard do.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use shared::{AdvisorServerFrame, ConversationId, ErrorFrame, VisitorServerFrame, PROTOCOL_VERSION};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::server::{Endpoint, ADVISOR_EMAIL, ADVISOR_PASSWORD, SITE, SITE_ORIGIN};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a handshake (upgrade, hello, welcome) may take before it counts as failed.
const HANDSHAKE: Duration = Duration::from_secs(30);

/// Why a socket could not be opened: the relay refused the upgrade with an HTTP status (429 when a
/// limit says no), or something else went wrong.
#[derive(Debug)]
pub enum ConnectError {
    Refused(u16),
    Failed(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Refused(status) => write!(f, "upgrade refused with HTTP {status}"),
            ConnectError::Failed(e) => f.write_str(e),
        }
    }
}

async fn connect(url: &str, headers: &[(&str, &str)]) -> Result<Ws, String> {
    connect_from(url, headers, None).await.map_err(|e| e.to_string())
}

/// Open a WebSocket, from the source address `from` when given (any 127.0.0.0/8 address: the relay
/// sees a different client IP per address, as it would see different machines).
pub async fn connect_from(url: &str, headers: &[(&str, &str)], from: Option<IpAddr>) -> Result<Ws, ConnectError> {
    let failed = |e: &dyn std::fmt::Display| ConnectError::Failed(format!("{url}: {e}"));
    let mut request = url.into_client_request().map_err(|e| failed(&e))?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| failed(&e))?;
        request.headers_mut().insert(name, HeaderValue::from_str(value).map_err(|e| failed(&e))?);
    }
    // Small read buffers: 10,000 idle client sockets should not cost the load generator gigabytes.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let handshake = async {
        let to: SocketAddr = request.uri().authority().map(|a| a.as_str()).unwrap_or_default().parse().map_err(|e| failed(&e))?;
        let socket = TcpSocket::new_v4().map_err(|e| failed(&e))?;
        if let Some(ip) = from {
            socket.bind(SocketAddr::new(ip, 0)).map_err(|e| failed(&e))?;
        }
        let stream = socket.connect(to).await.map_err(|e| failed(&e))?;
        stream.set_nodelay(true).map_err(|e| failed(&e))?;
        match tokio_tungstenite::client_async_with_config(request, MaybeTlsStream::Plain(stream), Some(config)).await {
            Ok((ws, _)) => Ok(ws),
            Err(WsError::Http(response)) => Err(ConnectError::Refused(response.status().as_u16())),
            Err(e) => Err(failed(&e)),
        }
    };
    tokio::time::timeout(HANDSHAKE, handshake).await.map_err(|_| ConnectError::Failed(format!("{url}: upgrade timed out")))?
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
    let (ws, greeted) = greet(relay, None, None).await.map_err(|e| e.to_string())?;
    Ok((ws, greeted.conversation))
}

/// What a `welcome` told a visitor.
#[derive(Debug, Clone)]
pub struct Greeted {
    pub token: String,
    pub conversation: ConversationId,
}

/// Why a visitor's `hello` did not end in a `welcome`.
#[derive(Debug)]
pub enum HelloError {
    Upgrade(ConnectError),
    /// The relay answered the hello with an error frame.
    Refused(ErrorFrame),
    /// The socket closed (with this close code, if any) before a welcome.
    Closed(Option<u16>),
    Failed(String),
}

impl std::fmt::Display for HelloError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HelloError::Upgrade(e) => write!(f, "{e}"),
            HelloError::Refused(e) => write!(f, "visitor hello refused: {} {}", e.code.as_str(), e.message),
            HelloError::Closed(code) => write!(f, "closed before the welcome (code {code:?})"),
            HelloError::Failed(e) => f.write_str(e),
        }
    }
}

/// A visitor socket from `from` (see [`connect_from`]): `hello` with `token` (a returning visitor)
/// or without (a new one), up to the `welcome`.
pub async fn greet(relay: &Endpoint, from: Option<IpAddr>, token: Option<&str>) -> Result<(Ws, Greeted), HelloError> {
    let url = relay.ws(&format!("/ws/visitor?site={SITE}"));
    let mut ws = connect_from(&url, &[("origin", SITE_ORIGIN)], from).await.map_err(HelloError::Upgrade)?;
    let hello = match token {
        Some(token) => serde_json::json!({ "type": "hello", "v": PROTOCOL_VERSION, "token": token }),
        None => serde_json::json!({ "type": "hello", "v": PROTOCOL_VERSION }),
    };
    ws.send(WsMessage::Text(hello.to_string().into())).await.map_err(|e| HelloError::Failed(e.to_string()))?;
    loop {
        let text = match tokio::time::timeout(HANDSHAKE, ws.next()).await {
            Err(_) => return Err(HelloError::Failed("no welcome within 30 s".into())),
            Ok(Some(Ok(WsMessage::Text(t)))) => t,
            Ok(Some(Ok(WsMessage::Close(c)))) => return Err(HelloError::Closed(c.map(|c| u16::from(c.code)))),
            Ok(None) => return Err(HelloError::Closed(None)),
            Ok(Some(Err(e))) => return Err(HelloError::Failed(e.to_string())),
            Ok(Some(Ok(_))) => continue,
        };
        match serde_json::from_str::<VisitorServerFrame>(&text) {
            Ok(VisitorServerFrame::Welcome { token, conversation, .. }) => return Ok((ws, Greeted { token, conversation })),
            Ok(VisitorServerFrame::Error(e)) => return Err(HelloError::Refused(e)),
            _ => continue,
        }
    }
}

/// Log the bench advisor in over HTTP; returns the cookie (`confab_session=…`).
pub async fn login(relay: &Endpoint) -> Result<String, String> {
    login_as(relay, ADVISOR_EMAIL).await
}

/// Log one of the bench's advisor accounts in (they share the password).
pub async fn login_as(relay: &Endpoint, email: &str) -> Result<String, String> {
    let origin = relay.http("");
    let response = reqwest::Client::new()
        .post(relay.http("/api/v1/auth/login"))
        .header("origin", origin)
        .json(&serde_json::json!({ "email": email, "password": ADVISOR_PASSWORD }))
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

/// A fresh dashboard socket after the relay dropped one: up to `tries` attempts, `pause` apart,
/// unless the run is over (`stop`).
pub async fn advisor_again(relay: &Endpoint, cookie: &str, stop: &tokio::sync::watch::Receiver<bool>, tries: u32, pause: Duration) -> Option<Ws> {
    for _ in 0..tries {
        if *stop.borrow() {
            return None;
        }
        if let Ok(ws) = advisor(relay, cookie).await {
            return Some(ws);
        }
        tokio::time::sleep(pause).await;
    }
    None
}
