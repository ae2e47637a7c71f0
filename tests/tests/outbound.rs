//! The relay is nobody's weapon: every URL a visitor (Web Push endpoints), an admin (the bot webhook)
//! or a platform (media links) hands it is fetched under one outbound policy — https only, no
//! private or local address (checked after DNS resolution), no redirects, short timeouts — and a
//! slow push service delays nobody else's notification.
//!
//! A relay from `Config::new` has the production policy. The stand-ins these tests reach live on
//! 127.0.0.0/8 and speak plain HTTP, so the relays that must reach them allow exactly that, or only
//! 127.0.0.2 when a test needs an address on this machine the relay must *not* reach (127.0.0.1).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::IntoResponse;
use base64::Engine;
use confab_tests::*;
use relay::outbound::OutboundConfig;
use relay::Config;
use reqwest::Method;
use serde_json::json;
use shared::*;

const BATCH: Duration = Duration::from_millis(300);

/// A relay that sends Web Push, with this outbound policy.
async fn push_relay(dir: &std::path::Path, outbound: OutboundConfig) -> TestRelay {
    let mut config = Config::new(dir);
    config.notify.web_push = true;
    config.notify.batch = BATCH;
    config.outbound = outbound;
    TestRelay::start_with(dir, config).await
}

/// Plain HTTP, and of this machine only 127.0.0.2: 127.0.0.1 (and `localhost`) stay internal.
fn only_127_0_0_2() -> OutboundConfig {
    OutboundConfig {
        allow_http: true,
        allow_nets: vec![relay::outbound::parse_net("127.0.0.2/32").unwrap()],
        ..OutboundConfig::default()
    }
}

/// A browser's subscription keys (a P-256 public key and a 16-byte secret), base64url.
fn browser_keys() -> (String, String) {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let auth: [u8; 16] = rand::random();
    (b64.encode(secret.public_key().to_encoded_point(false).as_bytes()), b64.encode(auth))
}

fn subscribe(endpoint: &str) -> VisitorClientFrame {
    let (p256dh, auth) = browser_keys();
    VisitorClientFrame::PushSubscribe { endpoint: endpoint.to_owned(), p256dh, auth }
}

/// A visitor who wrote, subscribed these endpoints (their order is the order they subscribed), and
/// left; the advisor sees them offline.
async fn subscribed_visitor_who_left(relay: &TestRelay, advisor: &mut AdvisorClient, endpoints: &[String]) -> ConversationId {
    let (mut v, welcome) = relay.new_visitor().await;
    v.say("q1", "Is the tent waterproof?").await.unwrap();
    for endpoint in endpoints {
        v.send(&subscribe(endpoint)).await;
    }
    // Frames are handled in order: once this is acked, the subscriptions are stored.
    v.say("q2", "(subscribed)").await.expect("the subscriptions were taken");
    drop(v);
    advisor.summary_where(welcome.conversation, |s| !s.visitor_online).await;
    welcome.conversation
}

async fn endpoints_in_database(relay: &TestRelay) -> Vec<String> {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=ro", relay.data_dir.join("confab.sqlite3").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let endpoints = sqlx::query_scalar("SELECT endpoint FROM push_subscriptions ORDER BY endpoint").fetch_all(&mut conn).await.unwrap();
    conn.close().await.ok();
    endpoints
}

/// What a stand-in HTTP server was asked: (method, path), in order.
type Hits = Arc<Mutex<Vec<(String, String)>>>;

/// A push service (any method on any path answers 201), or with `redirect_to`, one that answers
/// every request with a 302 to that URL. Returns its base URL.
async fn http_stand_in(ip: &str, redirect_to: Option<String>) -> (String, Hits) {
    let hits: Hits = Arc::default();
    let seen = hits.clone();
    let app = axum::Router::new().fallback(move |method: axum::http::Method, uri: axum::http::Uri| {
        let (seen, redirect_to) = (seen.clone(), redirect_to.clone());
        async move {
            seen.lock().unwrap().push((method.to_string(), uri.path().to_owned()));
            match redirect_to {
                Some(to) => (axum::http::StatusCode::FOUND, [(axum::http::header::LOCATION, to)]).into_response(),
                None => axum::http::StatusCode::CREATED.into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, hits)
}

/// A server that accepts connections and never answers: counts connections, and requests read.
struct Silent {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

async fn silent_server() -> Silent {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (connections, requests) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (c, r) = (connections.clone(), requests.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let r = r.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                    if head.windows(4).any(|w| w == b"\r\n\r\n") {
                        r.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                }
                // Hold the connection open, never answering.
                std::future::pending::<()>().await;
                drop(stream);
            });
        }
    });
    Silent { port, connections, requests }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what} within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_push_subscription_to_plain_http_or_an_internal_address_is_refused_when_the_visitor_subscribes() {
    let dir = tempfile::tempdir().unwrap();
    let relay = push_relay(dir.path(), OutboundConfig::default()).await;
    let (mut v, _) = relay.new_visitor().await;
    v.say("q", "Hello").await.unwrap();
    let long = format!("https://push.invalid/{}", "a".repeat(1100));
    for (endpoint, why) in [
        ("http://push.invalid/send/1", "https://"),
        ("https://127.0.0.1/send/1", "private or local"),
        ("https://169.254.169.254/latest/meta-data/", "private or local"),
        ("https://10.0.0.7:8443/send/1", "private or local"),
        ("https://[::ffff:192.168.1.1]/send/1", "private or local"),
        ("https://[::1]/send/1", "private or local"),
        (long.as_str(), "longer than"),
    ] {
        v.send(&subscribe(endpoint)).await;
        let refused = v.expect_error().await;
        assert_eq!(refused.code, ErrorCode::BadRequest, "{endpoint}");
        assert!(refused.message.contains(why), "{endpoint}: {}", refused.message);
    }
    v.send(&subscribe("https://push.invalid/send/ok")).await;
    v.say("q2", "(subscribed)").await.expect("a public https endpoint is taken");
    assert_eq!(endpoints_in_database(&relay).await, ["https://push.invalid/send/ok"]);
}

#[tokio::test]
async fn a_push_endpoint_whose_host_name_resolves_to_loopback_is_never_contacted_and_is_forgotten() {
    let inside = silent_server().await;
    let (outside, pushed) = http_stand_in("127.0.0.2", None).await;
    let dir = tempfile::tempdir().unwrap();
    let relay = push_relay(dir.path(), only_127_0_0_2()).await;
    let (mut advisor, _) = relay.advisor().await;
    let sneaky = format!("http://localhost:{}/send/internal", inside.port);
    let honest = format!("{outside}/send/browser");
    let conversation = subscribed_visitor_who_left(&relay, &mut advisor, &[sneaky.clone(), honest.clone()]).await;
    advisor.reply(conversation, "r1", "Yes, 3000 mm.").await.unwrap();

    until("the allowed push service is pushed to", || !pushed.lock().unwrap().is_empty()).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while endpoints_in_database(&relay).await.contains(&sneaky) {
        assert!(tokio::time::Instant::now() < deadline, "the refused subscription is forgotten");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(inside.connections.load(Ordering::SeqCst), 0, "nothing connected to the address behind localhost");
    assert_eq!(endpoints_in_database(&relay).await, [honest]);
}

#[tokio::test]
async fn a_push_service_that_redirects_is_not_followed() {
    let (target, followed) = http_stand_in("127.0.0.1", None).await;
    let (redirector, redirected) = http_stand_in("127.0.0.1", Some(format!("{target}/send/followed"))).await;
    let dir = tempfile::tempdir().unwrap();
    let relay = push_relay(dir.path(), OutboundConfig::local_stand_ins()).await;
    let (mut advisor, _) = relay.advisor().await;
    let first = subscribed_visitor_who_left(&relay, &mut advisor, &[format!("{redirector}/send/a")]).await;
    let second = subscribed_visitor_who_left(&relay, &mut advisor, &[format!("{target}/send/b")]).await;

    advisor.reply(first, "r1", "Hello!").await.unwrap();
    until("the redirecting push service is asked", || !redirected.lock().unwrap().is_empty()).await;
    // A redirect would be followed at once; the second visitor's push comes after the first's
    // answer, and is the only request the target ever sees.
    advisor.reply(second, "r2", "Hello too!").await.unwrap();
    until("the second visitor's push arrives", || !followed.lock().unwrap().is_empty()).await;
    assert_eq!(*followed.lock().unwrap(), [("POST".to_owned(), "/send/b".to_owned())], "the redirect was not followed");
    assert_eq!(redirected.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_push_service_that_never_answers_does_not_delay_another_visitors_notification() {
    let hanging = silent_server().await;
    let (push_service, pushed) = http_stand_in("127.0.0.1", None).await;
    let dir = tempfile::tempdir().unwrap();
    let relay = push_relay(dir.path(), OutboundConfig::local_stand_ins()).await;
    let (mut advisor, _) = relay.advisor().await;
    let slow = subscribed_visitor_who_left(&relay, &mut advisor, &[format!("http://127.0.0.1:{}/send/slow", hanging.port)]).await;
    let other = subscribed_visitor_who_left(&relay, &mut advisor, &[format!("{push_service}/send/other")]).await;

    advisor.reply(slow, "r1", "Your order shipped.").await.unwrap();
    until("the first visitor's push service has the request", || hanging.requests.load(Ordering::SeqCst) == 1).await;
    advisor.reply(other, "r2", "Your refund is on its way.").await.unwrap();
    until("the second visitor's push arrives while the first hangs", || !pushed.lock().unwrap().is_empty()).await;
    assert_eq!(hanging.requests.load(Ordering::SeqCst), 1, "the first push is still unanswered");
}

#[tokio::test]
async fn a_visitor_keeps_at_most_five_push_subscriptions_the_newest_ones() {
    let (push_service, pushed) = http_stand_in("127.0.0.1", None).await;
    let dir = tempfile::tempdir().unwrap();
    let relay = push_relay(dir.path(), OutboundConfig::local_stand_ins()).await;
    let (mut advisor, _) = relay.advisor().await;
    let endpoints: Vec<String> = (1..=7).map(|n| format!("{push_service}/send/{n}")).collect();
    let conversation = subscribed_visitor_who_left(&relay, &mut advisor, &endpoints).await;
    let newest: Vec<String> = endpoints[2..].to_vec();
    assert_eq!(endpoints_in_database(&relay).await, newest, "the two oldest were dropped");

    advisor.reply(conversation, "r1", "Hello!").await.unwrap();
    until("five pushes", || pushed.lock().unwrap().len() == 5).await;
    let mut paths: Vec<String> = pushed.lock().unwrap().iter().map(|(_, path)| path.clone()).collect();
    paths.sort();
    assert_eq!(paths, ["/send/3", "/send/4", "/send/5", "/send/6", "/send/7"]);
}

async fn put_bot(relay: &TestRelay, admin: &str, url: &str) -> reqwest::Response {
    let bot = json!({"enabled": true, "greeting": "Hello from our own bot.", "webhook": {"url": url, "secret": "a-very-long-webhook-secret"}});
    relay.request(Some(admin), Method::PUT, &format!("/api/v1/admin/sites/{SITE}/bot"), Some(&bot)).await
}

#[tokio::test]
async fn a_bot_webhook_on_plain_http_or_an_internal_address_is_refused_when_the_admin_saves_it() {
    let relay = TestRelay::start_configured(|dir| Config::new(dir)).await;
    let admin = relay.login().await;
    for (url, why) in [
        ("http://bot.invalid/hook", "https://"),
        ("https://127.0.0.1:9000/hook", "127.0.0.1"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("https://[fd00::1]/hook", "fd00::1"),
        ("https://192.168.0.10/hook", "192.168.0.10"),
    ] {
        let refused = put_bot(&relay, &admin, url).await;
        assert_eq!(refused.status(), 400, "{url}");
        let body: serde_json::Value = refused.json().await.unwrap();
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("webhook URL") && message.contains(why), "{url}: {message}");
    }
    assert_eq!(put_bot(&relay, &admin, "https://bot.invalid/hook").await.status(), 200, "a public https URL is taken");
}

#[tokio::test]
async fn a_bot_webhook_whose_host_name_resolves_to_loopback_is_never_called() {
    let inside = silent_server().await;
    let (outside, received) = http_stand_in("127.0.0.2", None).await;
    let relay = TestRelay::start_configured(|dir| Config { outbound: only_127_0_0_2(), ..Config::new(dir) }).await;
    let admin = relay.login().await;
    let hours = json!({"timezone": "Europe/Paris", "days": (0..7).map(|_| json!({"open": "00:00", "close": "24:00"})).collect::<Vec<_>>()});
    assert_eq!(relay.request(Some(&admin), Method::PUT, "/api/v1/admin/settings/business-hours", Some(&hours)).await.status(), 200);

    // A host name is judged when it is resolved, so it can be saved.
    assert_eq!(put_bot(&relay, &admin, &format!("http://localhost:{}/hook", inside.port)).await.status(), 200);
    let (mut first, _) = relay.new_visitor().await;
    first.say("m1", "Where is my order?").await.unwrap();
    // The same site's bot, now at an allowed address: the next message reaches it.
    assert_eq!(put_bot(&relay, &admin, &format!("{outside}/hook")).await.status(), 200);
    let (mut second, _) = relay.new_visitor().await;
    second.say("m2", "Do you ship to Lisbon?").await.unwrap();

    until("the allowed bot gets the second message", || !received.lock().unwrap().is_empty()).await;
    assert_eq!(inside.connections.load(Ordering::SeqCst), 0, "nothing connected to the address behind localhost");
    assert_eq!(received.lock().unwrap().len(), 1, "the first message was never delivered anywhere");
}

#[tokio::test]
async fn a_media_link_from_the_platform_to_an_internal_address_is_not_downloaded() {
    // The Graph API base URL is the operator's (looked up with its own client); the download link
    // the look-up returns is the platform's, and here it points at 127.0.0.1 over plain HTTP.
    let (relay, sandbox, _meta, _stop) = start_with_sandbox_and(|_, _| {}, |config| config.outbound = OutboundConfig::default()).await;
    let (mut advisor, _) = relay.advisor().await;
    sandbox.whatsapp_image("5511987654321", "Ana Souza", Some("The scratch on the sleeve")).await.unwrap();
    let message = advisor.next_message().await;
    let failed = advisor
        .wait_for(|f| match f {
            AdvisorServerFrame::Attachment { conversation, seq, attachment }
                if *conversation == message.conversation && *seq == message.seq && attachment.state != AttachmentState::Pending =>
            {
                Some(attachment.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(failed.state, AttachmentState::Failed, "{failed:?}");
    let reason = failed.error.expect("a reason for the advisor");
    assert!(reason.contains("does not download from"), "{reason}");
    let calls = sandbox.requests();
    assert!(calls.iter().any(|c| c.method == "GET" && !c.path.starts_with("/lookaside/")), "the media was looked up");
    assert!(!calls.iter().any(|c| c.path.starts_with("/lookaside/")), "the link was never fetched: {calls:?}");
}
