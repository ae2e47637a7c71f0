//! Test harness: [`TestRelay`] starts a real relay on port 0 with a temporary database, seeded with
//! one site and one advisor; [`VisitorClient`] and [`AdvisorClient`] speak the real protocol over
//! real sockets.
//!
//! For failure scenarios: [`process::RelayProcess`] runs the real binary (so it can be SIGKILLed and
//! restarted), [`proxy::ChaosProxy`] cuts and stalls connections, [`reliable`] has clients that
//! reconnect, resume and re-send like the widget and the dashboard, and [`check::audit`] compares
//! them all with the database.

pub mod check;
pub mod identity;
pub mod process;
pub mod proxy;
pub mod reliable;
pub mod smtp;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use relay::store::SiteSettings;
use relay::{AppState, Config};
use shared::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

pub const SITE: &str = "shop";
pub const SHOP_ORIGIN: &str = "http://shop.test:8000";
pub const ADVISOR_EMAIL: &str = "ada@shop.test";
pub const ADVISOR_PASSWORD: &str = "correct horse battery";
/// How long a test waits for a frame before failing.
pub const WAIT: Duration = Duration::from_secs(10);

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct TestRelay {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    stop: CancellationToken,
    task: JoinHandle<Result<(), relay::StartError>>,
}

impl TestRelay {
    /// A fresh relay with its own temporary database.
    pub async fn start() -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut relay = Self::start_in(temp.path()).await;
        relay._temp = Some(temp);
        relay
    }

    /// A fresh relay with its own temporary database and the configuration `configure` makes for
    /// that directory (`Config::new`: the production outbound policy).
    pub async fn start_configured(configure: impl FnOnce(&Path) -> Config) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut relay = Self::start_with(temp.path(), configure(temp.path())).await;
        relay._temp = Some(temp);
        relay
    }

    /// A relay on an existing data directory (seeding is idempotent), e.g. to restart one.
    pub async fn start_in(dir: &Path) -> Self {
        Self::start_with(dir, local_config(dir)).await
    }

    /// A fresh relay with the WhatsApp/Messenger bridge on, talking to a Graph API at `graph_base_url`.
    pub async fn start_bridged(meta: relay::config::MetaArgs) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut relay = Self::start_bridged_in(temp.path(), meta).await;
        relay._temp = Some(temp);
        relay
    }

    /// A bridged relay on an existing data directory, e.g. to restart one.
    pub async fn start_bridged_in(dir: &Path, meta: relay::config::MetaArgs) -> Self {
        let mut config = local_config(dir);
        config.meta = relay::channels::bridge::MetaConfig::from_args(&meta).expect("bridge settings");
        assert!(config.meta.is_some(), "bridge configured");
        Self::start_with(dir, config).await
    }

    /// A relay on `dir` with this configuration (e.g. e-mail notifications on), as given: from
    /// `Config::new` its outbound policy is the production one, from [`local_config`] it reaches
    /// the tests' stand-ins.
    pub async fn start_with(dir: &Path, config: Config) -> Self {
        let store = config.open_store().await.expect("open store");
        let site = SiteSettings {
            key: SITE.into(),
            name: "Test Shop".into(),
            greeting: "Hello from the test shop".into(),
            color: "#336699".into(),
            reply_time: "usually replies within a day".into(),
            allowed_origins: vec![SHOP_ORIGIN.into()],
            team_id: None,
        };
        relay::admin::put_site(&*store, site).await.expect("seed site");
        match relay::admin::create_advisor(&*store, ADVISOR_EMAIL, "Ada", ADVISOR_PASSWORD).await {
            Ok(_) | Err(relay::admin::AdminError::Duplicate(_)) => {}
            Err(e) => panic!("seed advisor: {e}"),
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let state = AppState::new(config, store);
        let task = tokio::spawn(relay::serve(state, listener, stop.clone().cancelled_owned()));
        TestRelay { addr, data_dir: dir.to_owned(), _temp: None, stop, task }
    }

    /// Stop gracefully; returns the temp dir (if this relay owns one) so it can be restarted on it.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        self.stop.cancel();
        let result = tokio::time::timeout(WAIT, &mut self.task).await.expect("relay stops in time");
        result.expect("relay task").expect("relay ran without error");
        self._temp.take()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// The relay's own origin (what the dashboard sends).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Open a visitor socket with the given Origin; the HTTP error on refusal.
    pub async fn visitor_socket(&self, site: &str, origin: Option<&str>) -> Result<Ws, HttpRefusal> {
        let mut request = self.ws_url(&format!("/ws/visitor?site={site}")).into_client_request().unwrap();
        if let Some(origin) = origin {
            request.headers_mut().insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        connect(request).await
    }

    /// A visitor on the test shop's page, not yet greeted.
    pub async fn visitor(&self) -> VisitorClient {
        let ws = self.visitor_socket(SITE, Some(SHOP_ORIGIN)).await.expect("visitor socket");
        VisitorClient { ws, backlog: Default::default() }
    }

    /// A visitor that has said hello without a token: a new thread.
    pub async fn new_visitor(&self) -> (VisitorClient, Welcome) {
        let mut v = self.visitor().await;
        let welcome = v.hello(None, 0).await.expect("welcome");
        (v, welcome)
    }

    /// Log the seeded advisor in; returns the session cookie (`name=value`).
    pub async fn login(&self) -> String {
        let response = self.post_login(ADVISOR_EMAIL, ADVISOR_PASSWORD, Some(&self.origin())).await;
        assert_eq!(response.status(), 200, "login");
        let cookie = response.headers().get("set-cookie").expect("set-cookie").to_str().unwrap().to_owned();
        cookie.split(';').next().unwrap().to_owned()
    }

    pub async fn post_login(&self, email: &str, password: &str, origin: Option<&str>) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": email, "password": password}));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send().await.unwrap()
    }

    pub async fn advisor_socket(&self, cookie: Option<&str>, origin: Option<&str>) -> Result<Ws, HttpRefusal> {
        let mut request = self.ws_url("/ws/advisor").into_client_request().unwrap();
        if let Some(cookie) = cookie {
            request.headers_mut().insert("cookie", HeaderValue::from_str(cookie).unwrap());
        }
        if let Some(origin) = origin {
            request.headers_mut().insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        connect(request).await
    }

    /// A logged-in advisor socket that has said hello; returns the inbox too.
    pub async fn advisor(&self) -> (AdvisorClient, Vec<ConversationSummary>) {
        let cookie = self.login().await;
        self.advisor_as(&cookie).await
    }

    /// An HTTP request as the dashboard sends it: same origin, the session cookie if any, and a JSON
    /// body if any (without one: no body and no content type, for the CSRF refusals).
    pub async fn request(
        &self,
        cookie: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new().request(method, self.url(path)).header("origin", self.origin());
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// As the admin with this session, create an advisor (role advisor) and log them in; returns
    /// their id and session cookie.
    pub async fn new_advisor(&self, admin: &str, email: &str, name: &str) -> (i64, String) {
        let body = serde_json::json!({"email": email, "name": name, "password": NEW_ADVISOR_PASSWORD});
        let created = self.request(Some(admin), reqwest::Method::POST, "/api/v1/admin/advisors", Some(&body)).await;
        assert_eq!(created.status(), 201, "creating {email}");
        let created: serde_json::Value = created.json().await.unwrap();
        let login = self.post_login(email, NEW_ADVISOR_PASSWORD, Some(&self.origin())).await;
        assert_eq!(login.status(), 200, "{email} logs in");
        (created["advisor"]["id"].as_i64().unwrap(), cookie_of(&login))
    }

    /// An advisor socket for this session cookie that has said hello; returns the inbox too.
    pub async fn advisor_as(&self, cookie: &str) -> (AdvisorClient, Vec<ConversationSummary>) {
        let ws = self.advisor_socket(Some(cookie), Some(&self.origin())).await.expect("advisor socket");
        let mut a = AdvisorClient { ws, next_ref: 0, backlog: Default::default() };
        a.send(&AdvisorClientFrame::Hello { v: PROTOCOL_VERSION }).await;
        match a.recv().await {
            AdvisorServerFrame::Welcome { conversations, .. } => (a, conversations),
            other => panic!("expected welcome, got {other:?}"),
        }
    }
}

/// A relay's configuration as the tests use it: the outbound policy lets it reach the stand-ins on
/// this machine (plain HTTP to 127.0.0.0/8: push services, bot webhooks, the Graph API's media links),
/// as `--outbound-allow-http --outbound-allow-net 127.0.0.0/8` would.
pub fn local_config(dir: &Path) -> Config {
    let mut config = Config::new(dir);
    config.outbound = relay::outbound::OutboundConfig::local_stand_ins();
    config.limits = unlimited();
    config
}

/// The anonymous-traffic limits lifted: every test client comes from 127.0.0.1, and load and chaos
/// tests open hundreds of visitors from it. `tests/tests/anonymous_limits.rs` sets its own.
pub fn unlimited() -> relay::limits::LimitArgs {
    relay::limits::LimitArgs {
        new_visitors_per_minute: 1_000_000,
        sockets_per_ip: 1_000_000,
        uploads_per_hour: 1_000_000,
        messages_per_second: 1_000_000,
        messages_burst: 1_000_000,
        messages_per_ip_per_minute: 1_000_000,
        typing_per_second: 1_000_000,
        ..Default::default()
    }
}

/// The same for a relay binary, as environment variables (an older binary ignores them).
pub const UNLIMITED_ENV: [(&str, &str); 7] = [
    ("CONFAB_NEW_VISITORS_PER_MINUTE", "1000000"),
    ("CONFAB_SOCKETS_PER_IP", "1000000"),
    ("CONFAB_UPLOADS_PER_HOUR", "1000000"),
    ("CONFAB_MESSAGES_PER_SECOND", "1000000"),
    ("CONFAB_MESSAGES_BURST", "1000000"),
    ("CONFAB_MESSAGES_PER_IP_PER_MINUTE", "1000000"),
    ("CONFAB_TYPING_PER_SECOND", "1000000"),
];

/// An HTTP answer instead of a WebSocket upgrade.
/// The verify token the bridged test relays are configured with.
pub const VERIFY_TOKEN: &str = "verify-me";

/// A fresh relay with the WhatsApp/Messenger bridge on, and the Graph API sandbox it talks to (which
/// posts signed webhooks to the relay). `tweak` adjusts the bridge's settings and the sandbox's
/// before either starts. Cancel the token (or drop the runtime) to stop the sandbox.
pub async fn start_with_sandbox(
    tweak: impl FnOnce(&mut relay::config::MetaArgs, &mut relay::sandbox::SandboxConfig),
) -> (TestRelay, relay::sandbox::Sandbox, relay::config::MetaArgs, CancellationToken) {
    start_with_sandbox_and(tweak, |_| {}).await
}

/// [`start_with_sandbox`], with the rest of the relay's configuration changed by `configure`
/// (e.g. a short notification batch).
pub async fn start_with_sandbox_and(
    tweak: impl FnOnce(&mut relay::config::MetaArgs, &mut relay::sandbox::SandboxConfig),
    configure: impl FnOnce(&mut Config),
) -> (TestRelay, relay::sandbox::Sandbox, relay::config::MetaArgs, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the sandbox");
    let graph = format!("http://{}", listener.local_addr().expect("sandbox address"));
    let mut config = relay::sandbox::SandboxConfig::default();
    let mut meta = config.meta_args(&graph, VERIFY_TOKEN, SITE);
    tweak(&mut meta, &mut config);
    let temp = tempfile::tempdir().expect("temp dir");
    let mut relay_config = local_config(temp.path());
    relay_config.meta = relay::channels::bridge::MetaConfig::from_args(&meta).expect("bridge settings");
    assert!(relay_config.meta.is_some(), "bridge configured");
    configure(&mut relay_config);
    let mut relay = TestRelay::start_with(temp.path(), relay_config).await;
    relay._temp = Some(temp);
    config.relay_webhook_url_whatsapp = relay.url("/webhooks/whatsapp");
    config.relay_webhook_url_messenger = relay.url("/webhooks/messenger");
    let stop = CancellationToken::new();
    let sandbox = relay::sandbox::start(listener, config, stop.clone()).await.expect("start the sandbox");
    (relay, sandbox, meta, stop)
}

#[derive(Debug)]
pub struct HttpRefusal {
    pub status: u16,
    pub body: serde_json::Value,
    /// The `Retry-After` header, in seconds.
    pub retry_after: Option<u64>,
}

async fn connect(request: tokio_tungstenite::tungstenite::handshake::client::Request) -> Result<Ws, HttpRefusal> {
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response.body().as_ref().map(|b| serde_json::from_slice(b).unwrap_or_default()).unwrap_or_default();
            let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
            Err(HttpRefusal { status, body, retry_after })
        }
        Err(e) => panic!("websocket connect failed: {e}"),
    }
}

/// The close code of a socket the relay closes, skipping the frames before it (0: no close frame).
pub async fn closed_with(ws: &mut Ws) -> u16 {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("the relay closes the socket in time") {
            Some(Ok(WsMessage::Close(frame))) => return frame.map_or(0, |f| f.code.into()),
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => return 0,
        }
    }
}

async fn recv_text(ws: &mut Ws) -> Option<String> {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a frame within the wait") {
            Some(Ok(WsMessage::Text(t))) => return Some(t.to_string()),
            Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// What `hello` answered, plus the replayed messages.
#[derive(Debug)]
pub struct Welcome {
    pub token: String,
    pub conversation: ConversationId,
    pub last_seq: Seq,
    pub site: SiteInfo,
    pub replay: Vec<Message>,
    /// The "Continue on WhatsApp / Messenger" links.
    pub continue_on: Vec<ContinueLink>,
}

pub struct VisitorClient {
    pub ws: Ws,
    /// Frames that arrived while waiting for something else (an ack); `recv` returns them first.
    backlog: std::collections::VecDeque<VisitorServerFrame>,
}

impl VisitorClient {
    /// A client on a socket opened by the test itself (custom headers), not yet greeted.
    pub fn from_ws(ws: Ws) -> Self {
        VisitorClient { ws, backlog: Default::default() }
    }

    pub async fn send(&mut self, frame: &VisitorClientFrame) {
        self.send_raw(&serde_json::to_string(frame).unwrap()).await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(WsMessage::Text(text.into())).await.expect("send");
    }

    pub async fn recv(&mut self) -> VisitorServerFrame {
        if let Some(frame) = self.backlog.pop_front() {
            return frame;
        }
        let text = recv_text(&mut self.ws).await.expect("socket open");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad frame {text}: {e}"))
    }

    /// The next frame, or `None` if none comes within `wait`.
    pub async fn try_recv(&mut self, wait: Duration) -> Option<VisitorServerFrame> {
        if let Some(frame) = self.backlog.pop_front() {
            return Some(frame);
        }
        match tokio::time::timeout(wait, self.ws.next()).await {
            Ok(Some(Ok(WsMessage::Text(t)))) => Some(serde_json::from_str(&t).unwrap()),
            _ => None,
        }
    }

    /// Say hello and collect the welcome and every replayed message; the error frame on refusal.
    pub async fn hello(&mut self, token: Option<&str>, last_seq: Seq) -> Result<Welcome, ErrorFrame> {
        self.send(&VisitorClientFrame::Hello { v: PROTOCOL_VERSION, token: token.map(str::to_owned), last_seq, page: None, referrer: None, timezone: None, locale: None })
            .await;
        let (token, conversation, last_seq_now, site, continue_on) = match self.recv().await {
            VisitorServerFrame::Welcome { token, conversation, last_seq, site, continue_on, .. } => {
                (token, conversation, last_seq, site, continue_on)
            }
            VisitorServerFrame::Error(e) => return Err(e),
            other => panic!("expected welcome, got {other:?}"),
        };
        let mut replay = Vec::new();
        let mut have = last_seq;
        while have < last_seq_now {
            match self.recv().await {
                VisitorServerFrame::Message { message } => {
                    have = message.seq;
                    replay.push(message);
                }
                other => panic!("expected a replayed message, got {other:?}"),
            }
        }
        Ok(Welcome { token, conversation, last_seq: last_seq_now, site, replay, continue_on })
    }

    /// Send a message and wait for its ack; returns `(seq, sent_at)`.
    pub async fn say(&mut self, id: &str, text: &str) -> Result<(Seq, i64), ErrorFrame> {
        self.send(&VisitorClientFrame::Send { id: id.into(), text: text.into(), attachments: vec![] }).await;
        // Other frames may come first (the relay flushes queued events before an ack); keep them.
        let mut passed = Vec::new();
        loop {
            match self.recv().await {
                VisitorServerFrame::Ack { id: acked, seq, sent_at } if acked.0 == id => {
                    self.backlog.extend(passed);
                    return Ok((seq, sent_at));
                }
                VisitorServerFrame::Error(e) if e.reference.as_deref() == Some(id) => {
                    self.backlog.extend(passed);
                    return Err(e);
                }
                other @ (VisitorServerFrame::Typing { .. }
                | VisitorServerFrame::Read { .. }
                | VisitorServerFrame::Delivered { .. }
                | VisitorServerFrame::Presence { .. }
                | VisitorServerFrame::Queue { .. }
                | VisitorServerFrame::Bot { .. }
                | VisitorServerFrame::Email { .. }
                | VisitorServerFrame::Survey { .. }
                | VisitorServerFrame::Message { .. }) => passed.push(other),
                other => panic!("expected ack for {id}, got {other:?}"),
            }
        }
    }

    /// Wait for the next `message` frame, skipping typing and receipts.
    pub async fn next_message(&mut self) -> Message {
        loop {
            match self.recv().await {
                VisitorServerFrame::Message { message } => return message,
                VisitorServerFrame::Typing { .. }
                | VisitorServerFrame::Read { .. }
                | VisitorServerFrame::Delivered { .. }
                | VisitorServerFrame::Presence { .. }
                | VisitorServerFrame::Queue { .. }
                | VisitorServerFrame::Bot { .. } => {}
                | VisitorServerFrame::Email { .. }
                | VisitorServerFrame::Survey { .. } => {}
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// Skip frames until `want` picks one.
    pub async fn wait_for<T>(&mut self, mut want: impl FnMut(&VisitorServerFrame) -> Option<T>) -> T {
        loop {
            let frame = self.recv().await;
            if let Some(found) = want(&frame) {
                return found;
            }
        }
    }

    /// The next error frame, skipping what the relay sends on its own at any time (typing, receipts,
    /// presence, and the queue place after each routing pass); any other frame first is a failure.
    pub async fn expect_error(&mut self) -> ErrorFrame {
        loop {
            match self.recv().await {
                VisitorServerFrame::Error(e) => return e,
                VisitorServerFrame::Typing { .. }
                | VisitorServerFrame::Read { .. }
                | VisitorServerFrame::Delivered { .. }
                | VisitorServerFrame::Presence { .. }
                | VisitorServerFrame::Queue { .. } => {}
                other => panic!("expected an error frame, got {other:?}"),
            }
        }
    }
}

pub struct AdvisorClient {
    pub ws: Ws,
    next_ref: u32,
    /// Frames that arrived while waiting for an answer (ack, history); `recv` returns them first.
    backlog: std::collections::VecDeque<AdvisorServerFrame>,
}

impl AdvisorClient {
    pub async fn send(&mut self, frame: &AdvisorClientFrame) {
        self.send_raw(&serde_json::to_string(frame).unwrap()).await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(WsMessage::Text(text.into())).await.expect("send");
    }

    pub async fn recv(&mut self) -> AdvisorServerFrame {
        if let Some(frame) = self.backlog.pop_front() {
            return frame;
        }
        let text = recv_text(&mut self.ws).await.expect("socket open");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad frame {text}: {e}"))
    }

    /// Wait for a frame `want` picks (the frames before it are dropped).
    pub async fn wait_for<T>(&mut self, mut want: impl FnMut(&AdvisorServerFrame) -> Option<T>) -> T {
        loop {
            let frame = tokio::time::timeout(WAIT, self.recv()).await.expect("the awaited frame came in time");
            if let Some(found) = want(&frame) {
                return found;
            }
        }
    }

    /// Wait for a live message, skipping inbox updates, typing and platform receipts.
    pub async fn next_message(&mut self) -> Message {
        loop {
            match self.recv().await {
                AdvisorServerFrame::Message { message } => return message,
                AdvisorServerFrame::Conversation { .. }
                | AdvisorServerFrame::Typing { .. }
                | AdvisorServerFrame::Delivery { .. }
                | AdvisorServerFrame::Attachment { .. }
                | AdvisorServerFrame::Channels { .. }
                | AdvisorServerFrame::Roster { .. } => {}
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// Wait for an inbox update of `conversation`.
    pub async fn next_summary_of(&mut self, conversation: ConversationId) -> ConversationSummary {
        self.summary_where(conversation, |_| true).await
    }

    /// Wait for an inbox update of `conversation` that satisfies `want` (earlier ones are skipped).
    pub async fn summary_where(
        &mut self,
        conversation: ConversationId,
        want: impl Fn(&ConversationSummary) -> bool,
    ) -> ConversationSummary {
        loop {
            match self.recv().await {
                AdvisorServerFrame::Conversation { conversation: c } if c.id == conversation && want(&c) => return c,
                AdvisorServerFrame::Conversation { .. }
                | AdvisorServerFrame::Message { .. }
                | AdvisorServerFrame::Typing { .. }
                | AdvisorServerFrame::Delivery { .. }
                | AdvisorServerFrame::Attachment { .. }
                | AdvisorServerFrame::Channels { .. }
                | AdvisorServerFrame::Roster { .. } => {}
                other => panic!("expected a conversation update, got {other:?}"),
            }
        }
    }

    /// Load a whole thread.
    pub async fn open(&mut self, conversation: ConversationId) -> Vec<Message> {
        self.next_ref += 1;
        let reference = format!("open-{}", self.next_ref);
        self.send(&AdvisorClientFrame::Open { reference: reference.clone(), conversation, after_seq: 0 }).await;
        let mut passed = Vec::new();
        loop {
            match self.recv().await {
                AdvisorServerFrame::History { reference: r, messages, .. } if r == reference => {
                    self.backlog.extend(passed);
                    return messages;
                }
                AdvisorServerFrame::Error(e) if e.reference.as_deref() == Some(&reference) => panic!("open failed: {e:?}"),
                other @ (AdvisorServerFrame::Conversation { .. }
                | AdvisorServerFrame::Message { .. }
                | AdvisorServerFrame::Delivery { .. }
                | AdvisorServerFrame::Attachment { .. }
                | AdvisorServerFrame::Channels { .. }
                | AdvisorServerFrame::Roster { .. }
                | AdvisorServerFrame::Typing { .. }) => passed.push(other),
                other => panic!("expected history, got {other:?}"),
            }
        }
    }

    /// Reply and wait for the ack.
    pub async fn reply(&mut self, conversation: ConversationId, id: &str, text: &str) -> Result<Seq, ErrorFrame> {
        self.send(&AdvisorClientFrame::Send { id: id.into(), conversation, text: text.into(), via: None, template: None, attachments: vec![] }).await;
        let mut passed = Vec::new();
        loop {
            match self.recv().await {
                AdvisorServerFrame::Ack { id: acked, seq, .. } if acked.0 == id => {
                    self.backlog.extend(passed);
                    return Ok(seq);
                }
                AdvisorServerFrame::Error(e) if e.reference.as_deref() == Some(id) => {
                    self.backlog.extend(passed);
                    return Err(e);
                }
                other @ (AdvisorServerFrame::Conversation { .. }
                | AdvisorServerFrame::Message { .. }
                | AdvisorServerFrame::Delivery { .. }
                | AdvisorServerFrame::Attachment { .. }
                | AdvisorServerFrame::Channels { .. }
                | AdvisorServerFrame::Roster { .. }
                | AdvisorServerFrame::Typing { .. }) => passed.push(other),
                other => panic!("expected ack, got {other:?}"),
            }
        }
    }

    pub async fn expect_error(&mut self) -> ErrorFrame {
        loop {
            match self.recv().await {
                AdvisorServerFrame::Error(e) => return e,
                AdvisorServerFrame::Conversation { .. }
                | AdvisorServerFrame::Typing { .. }
                | AdvisorServerFrame::Delivery { .. }
                | AdvisorServerFrame::Attachment { .. }
                | AdvisorServerFrame::Channels { .. }
                | AdvisorServerFrame::Roster { .. } => {}
                other => panic!("expected an error frame, got {other:?}"),
            }
        }
    }
}

/// The password [`TestRelay::new_advisor`] gives.
pub const NEW_ADVISOR_PASSWORD: &str = "a long enough password";

/// The session cookie (`name=value`) a login answer sets.
pub fn cookie_of(response: &reqwest::Response) -> String {
    let header = response.headers().get("set-cookie").expect("set-cookie").to_str().unwrap();
    header.split(';').next().unwrap().to_owned()
}

/// Change the relay's SQLite database behind its back (for settings no API sets yet in a test).
pub async fn execute_sql(data_dir: &Path, sql: &str) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", data_dir.join("confab.sqlite3").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open database");
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.ok();
}

/// One number read straight from the relay's SQLite file (read-only): the first column of the first
/// row, None when there is no row.
pub async fn sql_i64(data_dir: &Path, sql: &str) -> Option<i64> {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=ro", data_dir.join("confab.sqlite3").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open database read-only");
    let value = sqlx::query_scalar(sql).fetch_optional(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.ok();
    value
}

/// Read the messages of a conversation straight from the relay's SQLite file, bypassing the relay.
pub async fn messages_in_database(data_dir: &Path, conversation: ConversationId) -> Vec<(i64, String, String)> {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=ro", data_dir.join("confab.sqlite3").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open database read-only");
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT seq, client_id, text FROM messages WHERE conversation_id = ? ORDER BY seq")
            .bind(conversation.0)
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.ok();
    rows
}

/// The seed of a randomized scenario: `$CONFAB_CHAOS_SEED` to replay a run, else a fresh one. Printed
/// so a failure can be replayed (timing still varies; the random decisions don't).
pub fn chaos_seed() -> u64 {
    let seed = match std::env::var("CONFAB_CHAOS_SEED") {
        Ok(s) => s.trim().parse().expect("CONFAB_CHAOS_SEED is a u64"),
        Err(_) => {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            nanos.as_nanos() as u64 ^ u64::from(std::process::id()) << 32
        }
    };
    eprintln!("chaos seed {seed} (replay with CONFAB_CHAOS_SEED={seed})");
    seed
}

/// A message as the relay's database holds it, platform columns included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub conversation_id: i64,
    pub seq: i64,
    pub client_id: String,
    pub author_kind: String,
    pub channel: String,
    pub text: String,
    pub platform_id: Option<String>,
    pub platform_state: Option<String>,
    pub platform_error: Option<String>,
}

/// A webhook body as the relay recorded it (before answering the platform).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWebhook {
    pub id: i64,
    pub channel: String,
    pub processed: bool,
    pub error: Option<String>,
}

/// An outbox entry: a reply on its way to a platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOutbox {
    pub conversation_id: i64,
    pub seq: i64,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

async fn read_only_database(data_dir: &Path) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=ro", data_dir.join("confab.sqlite3").display());
    sqlx::SqliteConnection::connect(&url).await.expect("open database read-only")
}

/// Every message of every conversation, straight from the relay's SQLite file.
pub async fn stored_messages(data_dir: &Path) -> Vec<StoredMessage> {
    use sqlx::Connection;
    let mut conn = read_only_database(data_dir).await;
    #[allow(clippy::type_complexity)]
    let rows: Vec<(i64, i64, String, String, String, String, Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT conversation_id, seq, client_id, author_kind, channel, text, platform_id, platform_state, platform_error
           FROM messages ORDER BY conversation_id, seq",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    rows.into_iter()
        .map(|(conversation_id, seq, client_id, author_kind, channel, text, platform_id, platform_state, platform_error)| {
            StoredMessage { conversation_id, seq, client_id, author_kind, channel, text, platform_id, platform_state, platform_error }
        })
        .collect()
}

/// Every webhook the relay recorded, oldest first.
pub async fn stored_webhooks(data_dir: &Path) -> Vec<StoredWebhook> {
    use sqlx::Connection;
    let mut conn = read_only_database(data_dir).await;
    let rows: Vec<(i64, String, Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT id, channel, processed_at, error FROM webhook_events ORDER BY id").fetch_all(&mut conn).await.unwrap();
    conn.close().await.ok();
    rows.into_iter()
        .map(|(id, channel, processed_at, error)| StoredWebhook { id, channel, processed: processed_at.is_some(), error })
        .collect()
}

/// Every outbox entry, oldest first.
pub async fn stored_outbox(data_dir: &Path) -> Vec<StoredOutbox> {
    use sqlx::Connection;
    let mut conn = read_only_database(data_dir).await;
    let rows: Vec<(i64, i64, String, i64, Option<String>)> =
        sqlx::query_as("SELECT conversation_id, seq, state, attempts, last_error FROM outbox ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.ok();
    rows.into_iter()
        .map(|(conversation_id, seq, state, attempts, last_error)| StoredOutbox { conversation_id, seq, state, attempts, last_error })
        .collect()
}

/// An advisor socket for the session `cookie` (any account) that has said hello; returns the inbox too.
pub async fn advisor_with_cookie(relay: &TestRelay, cookie: &str) -> (AdvisorClient, Vec<ConversationSummary>) {
    let ws = relay.advisor_socket(Some(cookie), Some(&relay.origin())).await.expect("advisor socket");
    let mut a = AdvisorClient { ws, next_ref: 0, backlog: Default::default() };
    a.send(&AdvisorClientFrame::Hello { v: PROTOCOL_VERSION }).await;
    match a.recv().await {
        AdvisorServerFrame::Welcome { conversations, .. } => (a, conversations),
        other => panic!("expected welcome, got {other:?}"),
    }
}
