//! Login limits on the open internet: attempts count before the password is hashed (so a burst of
//! concurrent guesses is not checked as one), a per-account count across client IPs, IPv6 counted
//! by /64, length caps, the client's IP and https behind a trusted reverse proxy, and same-origin
//! checks pinned to `--public-url` (DNS rebinding).
//!
//! The forwarded client addresses below are documentation addresses written into headers; every
//! connection goes to the relay on 127.0.0.1.

use confab_tests::*;
use futures_util::future::join_all;
use reqwest::Response;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const WRONG: &str = "a wrong password";

/// A relay with its configuration changed by `configure`; keep the directory while it runs.
async fn relay_with(configure: impl FnOnce(&mut relay::Config)) -> (TestRelay, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = relay::Config::new(dir.path());
    configure(&mut config);
    (TestRelay::start_with(dir.path(), config).await, dir)
}

/// A relay that believes forwarding headers from 127.0.0.1 (the test plays the proxy).
async fn behind_proxy() -> (TestRelay, tempfile::TempDir) {
    relay_with(|c| c.trusted_proxies = relay::http::client_ip::TrustedProxies::parse("127.0.0.1").unwrap()).await
}

/// An HTTP client whose connections come from `ip` (all of 127.0.0.0/8 is loopback).
fn from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip.parse::<std::net::IpAddr>().unwrap()).build().unwrap()
}

/// A login from `client`, with extra headers (`X-Forwarded-For`, …).
async fn login(relay: &TestRelay, client: &reqwest::Client, headers: &[(&str, &str)], email: &str, password: &str) -> Response {
    let mut request =
        client.post(relay.url("/api/v1/auth/login")).header("origin", relay.origin()).json(&json!({"email": email, "password": password}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// A login forwarded by the proxy at 127.0.0.1 for `client_ip`.
async fn login_for(relay: &TestRelay, client_ip: &str, password: &str) -> Response {
    login(relay, &from("127.0.0.1"), &[("x-forwarded-for", client_ip)], ADVISOR_EMAIL, password).await
}

async fn status_and_code(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

fn retry_after(response: &Response) -> u64 {
    response.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn two_hundred_concurrent_wrong_passwords_from_one_ip_are_checked_at_most_five_times() {
    let relay = TestRelay::start().await;
    let client = reqwest::Client::new();
    let answers = join_all((0..200).map(|_| login(&relay, &client, &[], ADVISOR_EMAIL, WRONG))).await;
    let mut statuses = std::collections::BTreeMap::new();
    for r in &answers {
        *statuses.entry(r.status().as_u16()).or_insert(0) += 1;
        if r.status() == 429 {
            assert!(retry_after(r) >= 1);
        }
    }
    let checked = statuses.get(&401).copied().unwrap_or(0);
    assert!((1..=5).contains(&checked), "at most the limit of guesses is checked: {statuses:?}");
    assert_eq!(statuses.get(&429).copied().unwrap_or(0), 200 - checked, "the rest are refused: {statuses:?}");
    for r in answers.into_iter().filter(|r| r.status() == 429).take(3) {
        assert_eq!(status_and_code(r).await.1, "rate_limited");
    }
}

#[tokio::test]
async fn failures_spread_over_many_ips_hit_the_account_limit_but_not_where_the_advisor_logged_in_before() {
    let (relay, _dir) = behind_proxy().await;
    // The advisor's usual office.
    assert_eq!(login_for(&relay, "198.51.100.7", ADVISOR_PASSWORD).await.status(), 200);
    // Four addresses, five guesses each: within each address's own limit, 20 for the account.
    for ip in 1..=4 {
        for attempt in 1..=5 {
            let r = login_for(&relay, &format!("203.0.113.{ip}"), WRONG).await;
            assert_eq!(r.status(), 401, "address {ip}, attempt {attempt}");
        }
    }
    let r = login_for(&relay, "203.0.113.5", WRONG).await;
    assert_eq!(r.status(), 429, "a fifth address is refused for the account");
    let wait = retry_after(&r);
    assert!((60..=15 * 60).contains(&wait), "until the window ends: {wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert!(body["message"].as_str().unwrap().contains("minute"), "the answer says when to retry: {body}");
    assert_eq!(login_for(&relay, "203.0.113.6", ADVISOR_PASSWORD).await.status(), 429, "even the right password, from elsewhere");
    assert_eq!(
        login_for(&relay, "198.51.100.7", ADVISOR_PASSWORD).await.status(),
        200,
        "the advisor still logs in from where they logged in before"
    );
    let other = login(&relay, &from("127.0.0.1"), &[("x-forwarded-for", "203.0.113.5")], "nobody@shop.test", WRONG).await;
    assert_eq!(other.status(), 401, "another account is not limited");
}

#[tokio::test]
async fn ipv6_addresses_in_one_64_share_a_count() {
    let (relay, _dir) = behind_proxy().await;
    for i in 1..=5 {
        assert_eq!(login_for(&relay, &format!("2001:db8:1:2::{i}"), WRONG).await.status(), 401, "attempt {i}");
    }
    let same_64 = login_for(&relay, "2001:db8:1:2:ffff:ffff:ffff:ffff", ADVISOR_PASSWORD).await;
    assert_eq!(same_64.status(), 429, "another address of the same /64 is the same client");
    assert_eq!(login_for(&relay, "2001:db8:1:3::1", WRONG).await.status(), 401, "the next /64 is another client");
}

#[tokio::test]
async fn an_over_long_email_or_password_is_refused_before_any_check() {
    let relay = TestRelay::start().await;
    let client = reqwest::Client::new();
    let long_email = format!("{}@shop.test", "a".repeat(250));
    for _ in 0..10 {
        let r = login(&relay, &client, &[], &long_email, WRONG).await;
        assert_eq!(status_and_code(r).await, (400, "bad_request".into()));
        let r = login(&relay, &client, &[], ADVISOR_EMAIL, &"p".repeat(1025)).await;
        assert_eq!(status_and_code(r).await, (400, "bad_request".into()));
    }
    assert_eq!(login(&relay, &client, &[], ADVISOR_EMAIL, ADVISOR_PASSWORD).await.status(), 200, "refusals are not failures");
}

#[tokio::test]
async fn x_forwarded_for_is_believed_from_a_trusted_proxy_and_ignored_from_anyone_else() {
    // Without --trusted-proxy, a new X-Forwarded-For per guess buys nothing.
    let plain = TestRelay::start().await;
    let client = reqwest::Client::new();
    for i in 1..=5 {
        let spoofed = format!("203.0.113.{i}");
        assert_eq!(login(&plain, &client, &[("x-forwarded-for", &spoofed)], ADVISOR_EMAIL, WRONG).await.status(), 401);
    }
    let r = login(&plain, &client, &[("x-forwarded-for", "203.0.113.99"), ("forwarded", "for=203.0.113.98")], ADVISOR_EMAIL, WRONG);
    assert_eq!(r.await.status(), 429, "a spoofed address from an untrusted peer");

    // With it, only the trusted peer's headers count.
    let (relay, _dir) = behind_proxy().await;
    let untrusted = from("127.0.0.2");
    for i in 1..=5 {
        let spoofed = format!("203.0.113.{i}");
        assert_eq!(login(&relay, &untrusted, &[("x-forwarded-for", &spoofed)], ADVISOR_EMAIL, WRONG).await.status(), 401);
    }
    let r = login(&relay, &untrusted, &[("x-forwarded-for", "203.0.113.99")], ADVISOR_EMAIL, WRONG).await;
    assert_eq!(r.status(), 429, "127.0.0.2 is no trusted proxy");

    for _ in 1..=5 {
        assert_eq!(login_for(&relay, "198.51.100.1", WRONG).await.status(), 401);
    }
    let r = login_for(&relay, "192.0.2.66, 198.51.100.1", WRONG).await;
    assert_eq!(r.status(), 429, "an address the client wrote left of the proxy's is not believed");
    assert_eq!(login_for(&relay, "198.51.100.2", WRONG).await.status(), 401, "another client behind the proxy has its own count");
    let proxy = login(&relay, &from("127.0.0.1"), &[], ADVISOR_EMAIL, ADVISOR_PASSWORD).await;
    assert_eq!(proxy.status(), 200, "and so does the proxy itself");
}

#[tokio::test]
async fn x_forwarded_proto_https_from_a_trusted_proxy_makes_the_session_cookie_secure() {
    let (relay, _dir) = behind_proxy().await;
    let cookie = |r: &Response| r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let https = [("x-forwarded-proto", "https")];

    let r = login(&relay, &from("127.0.0.1"), &https, ADVISOR_EMAIL, ADVISOR_PASSWORD).await;
    assert_eq!(r.status(), 200);
    assert!(cookie(&r).contains("; Secure"), "{}", cookie(&r));
    let r = login(&relay, &from("127.0.0.1"), &[("forwarded", "for=192.0.2.1;proto=https")], ADVISOR_EMAIL, ADVISOR_PASSWORD).await;
    assert!(cookie(&r).contains("; Secure"), "{}", cookie(&r));

    let r = login(&relay, &from("127.0.0.1"), &[], ADVISOR_EMAIL, ADVISOR_PASSWORD).await;
    assert!(!cookie(&r).contains("Secure"), "plain http through the proxy: {}", cookie(&r));
    let r = login(&relay, &from("127.0.0.2"), &https, ADVISOR_EMAIL, ADVISOR_PASSWORD).await;
    assert_eq!(r.status(), 200);
    assert!(!cookie(&r).contains("Secure"), "an untrusted peer's claim: {}", cookie(&r));
}

/// A POST with this Host and Origin (and session cookie).
async fn post_as(relay: &TestRelay, host: &str, origin: &str, path: &str, cookie: Option<&str>, body: Value) -> Response {
    let mut request = reqwest::Client::new().post(relay.url(path)).header("host", host).header("origin", origin).json(&body);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// Through a DNS-rebinding attack the browser sends the attacker's name as both Host and Origin.
#[tokio::test]
async fn with_a_public_url_a_rebound_host_is_refused_by_login_the_api_and_the_advisor_socket() {
    let (relay, _dir) = relay_with(|c| c.public_url = Some("http://chat.shop.test".parse().unwrap())).await;
    let credentials = json!({"email": ADVISOR_EMAIL, "password": ADVISOR_PASSWORD});
    let (public, public_origin) = ("chat.shop.test", "http://chat.shop.test");
    let (rebound, rebound_origin) = ("rebind.evil.test", "http://rebind.evil.test");

    let r = post_as(&relay, public, public_origin, "/api/v1/auth/login", None, credentials.clone()).await;
    assert_eq!(r.status(), 200, "the public URL's own origin");
    let session = cookie_of(&r);

    let r = post_as(&relay, rebound, rebound_origin, "/api/v1/auth/login", None, credentials.clone()).await;
    assert_eq!(status_and_code(r).await, (403, "forbidden".into()), "login CSRF through a rebound name");
    let r = post_as(&relay, &relay.addr.to_string(), &relay.origin(), "/api/v1/auth/login", None, credentials.clone()).await;
    assert_eq!(r.status(), 403, "the relay's address is not its public URL");
    let r = post_as(&relay, public, rebound_origin, "/api/v1/auth/login", None, credentials.clone()).await;
    assert_eq!(r.status(), 403, "the public Host with another Origin");

    let team = json!({"name": "Support"});
    let r = post_as(&relay, rebound, rebound_origin, "/api/v1/admin/teams", Some(&session), team.clone()).await;
    assert_eq!(status_and_code(r).await, (403, "forbidden".into()), "the dashboard API's CSRF check");
    let r = post_as(&relay, public, public_origin, "/api/v1/admin/teams", Some(&session), team).await;
    assert_eq!(r.status(), 201, "the same request from the public origin");

    let socket = |host: &str, origin: &str| {
        let mut request = relay.ws_url("/ws/advisor").into_client_request().unwrap();
        request.headers_mut().insert("host", HeaderValue::from_str(host).unwrap());
        request.headers_mut().insert("origin", HeaderValue::from_str(origin).unwrap());
        request.headers_mut().insert("cookie", HeaderValue::from_str(&session).unwrap());
        tokio_tungstenite::connect_async(request)
    };
    match socket(rebound, rebound_origin).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("the advisor socket must refuse a rebound name: {:?}", other.map(|_| ())),
    }
    assert!(socket(public, public_origin).await.is_ok(), "the public origin's socket opens");
}
