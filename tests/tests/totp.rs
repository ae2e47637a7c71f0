//! Optional TOTP two-factor login: enrolment, login with a code, wrong and replayed codes, the
//! login rate limit, turning it off, and an admin requiring it for everyone. Codes are computed
//! here with RFC 6238 (HMAC-SHA-1, 6 digits, 30 s), independently of the relay's implementation.

use confab_tests::*;
use hmac::{Hmac, Mac};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use sha1::Sha1;

async fn call(relay: &TestRelay, cookie: Option<&str>, method: Method, path: &str, body: Value) -> Response {
    relay.request(cookie, method, path, Some(&body)).await
}

async fn login(relay: &TestRelay, email: &str, password: &str, code: Option<&str>) -> Response {
    let mut body = json!({"email": email, "password": password});
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    call(relay, None, Method::POST, "/api/v1/auth/login", body).await
}

async fn status_and_code(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u64, 0u32, Vec::new());
    for c in text.trim_end_matches('=').chars() {
        buffer = (buffer << 5) | ALPHABET.find(c).expect("base32 character") as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// RFC 6238: HOTP(secret, floor(unix time / 30)), dynamic truncation, 6 digits.
fn totp_at(secret: &[u8], step: u64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).unwrap();
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let value = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", value % 1_000_000)
}

fn step_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 30
}

/// A code that is wrong for every step the relay accepts around now.
fn wrong_code(secret: &[u8]) -> String {
    let now = step_now();
    let valid: Vec<String> = (now - 2..=now + 2).map(|s| totp_at(secret, s)).collect();
    (0..).map(|n: u32| format!("{:06}", (n * 7919) % 1_000_000)).find(|c| !valid.contains(c)).unwrap()
}

/// Enrol the session's account; returns the secret.
async fn enrol(relay: &TestRelay, cookie: &str) -> Vec<u8> {
    let r = call(relay, Some(cookie), Method::POST, "/api/v1/auth/totp/setup", json!({})).await;
    assert_eq!(r.status(), 200);
    let setup: Value = r.json().await.unwrap();
    let secret = base32_decode(setup["secret"].as_str().unwrap());
    assert_eq!(secret.len(), 20);
    let uri = setup["uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Confab%3A") && uri.contains(&format!("secret={}", setup["secret"].as_str().unwrap())), "{uri}");
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"), "a QR code to scan");

    let r = call(relay, Some(cookie), Method::POST, "/api/v1/auth/totp/confirm", json!({"code": wrong_code(&secret)})).await;
    assert_eq!(status_and_code(r).await, (400, "bad_credentials".into()));
    let r = call(relay, Some(cookie), Method::POST, "/api/v1/auth/totp/confirm", json!({"code": totp_at(&secret, step_now())})).await;
    assert_eq!(r.status(), 200);
    secret
}

#[tokio::test]
async fn after_enrolment_login_needs_a_fresh_code_and_the_secret_is_never_shown_again() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let secret = enrol(&relay, &cookie).await;

    let me: Value = reqwest::Client::new().get(relay.url("/api/v1/admin/me")).header("cookie", &cookie).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["two_factor"], true);
    assert!(!me.to_string().contains(&hex(&secret)), "no secret in the account view");
    let again = call(&relay, Some(&cookie), Method::POST, "/api/v1/auth/totp/setup", json!({})).await;
    assert_eq!(status_and_code(again).await, (409, "bad_request".into()), "setup can't reveal or replace the secret");

    let r = login(&relay, ADVISOR_EMAIL, ADVISOR_PASSWORD, None).await;
    assert!(r.headers().get("set-cookie").is_none());
    assert_eq!(status_and_code(r).await, (401, "totp_required".into()));
    let r = login(&relay, ADVISOR_EMAIL, "wrong password", Some(&totp_at(&secret, step_now()))).await;
    assert_eq!(status_and_code(r).await, (401, "bad_credentials".into()), "a code doesn't replace the password");

    // The confirming code's step is used; the next step's code (within the drift) logs in once.
    let next = totp_at(&secret, step_now() + 1);
    let r = login(&relay, ADVISOR_EMAIL, ADVISOR_PASSWORD, Some(&next)).await;
    assert_eq!(r.status(), 200);
    let session = cookie_of(&r);
    assert!(relay.advisor_socket(Some(&session), Some(&relay.origin())).await.is_ok());
    let r = login(&relay, ADVISOR_EMAIL, ADVISOR_PASSWORD, Some(&next)).await;
    assert_eq!(status_and_code(r).await, (401, "bad_credentials".into()), "a code works once");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn wrong_codes_count_against_the_login_rate_limit() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let secret = enrol(&relay, &cookie).await;
    // The failed confirmation in `enrol` counted once.
    for i in 0..4 {
        let r = login(&relay, ADVISOR_EMAIL, ADVISOR_PASSWORD, Some(&wrong_code(&secret))).await;
        assert_eq!(status_and_code(r).await, (401, "bad_credentials".into()), "attempt {i}");
    }
    let r = login(&relay, ADVISOR_EMAIL, ADVISOR_PASSWORD, Some(&totp_at(&secret, step_now() + 1))).await;
    assert_eq!(r.status(), 429, "even the right code waits once the limit is reached");
    assert!(r.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn concurrent_wrong_codes_count_before_they_are_checked() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let secret = enrol(&relay, &cookie).await;
    // The failed confirmation in `enrol` counted once: four guesses are left, however many arrive at once.
    let code = wrong_code(&secret);
    let guesses = (0..200).map(|_| call(&relay, Some(&cookie), Method::POST, "/api/v1/auth/totp/disable", json!({"code": code})));
    let answers: Vec<(u16, String)> = futures_util::future::join_all(guesses.map(|r| async { status_and_code(r.await).await })).await;
    let checked = answers.iter().filter(|a| **a == (400, "bad_credentials".into())).count();
    let refused = answers.iter().filter(|a| **a == (429, "rate_limited".into())).count();
    assert!(checked <= 4, "{checked} codes were checked");
    assert_eq!(checked + refused, 200, "{answers:?}");
}

#[tokio::test]
async fn two_factor_is_turned_off_only_with_a_valid_code() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let secret = enrol(&relay, &cookie).await;
    let r = call(&relay, Some(&cookie), Method::POST, "/api/v1/auth/totp/disable", json!({"code": wrong_code(&secret)})).await;
    assert_eq!(status_and_code(r).await, (400, "bad_credentials".into()));
    let r = call(&relay, Some(&cookie), Method::POST, "/api/v1/auth/totp/disable", json!({"code": totp_at(&secret, step_now() + 1)})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(login(&relay, ADVISOR_EMAIL, ADVISOR_PASSWORD, None).await.status(), 200, "password alone again");
    // Cross-site or form requests can't touch two-factor.
    let r = reqwest::Client::new()
        .post(relay.url("/api/v1/auth/totp/setup"))
        .header("origin", "http://evil.test")
        .header("cookie", &cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn when_an_admin_requires_two_factor_an_advisor_without_it_must_enrol_before_using_the_dashboard() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let body = json!({"email": "bo@shop.test", "name": "Bo", "password": "bo's long password"});
    assert_eq!(call(&relay, Some(&admin), Method::POST, "/api/v1/admin/advisors", body).await.status(), 201);
    let r = call(&relay, Some(&admin), Method::PUT, "/api/v1/admin/settings/security", json!({"require_two_factor": true})).await;
    assert_eq!(r.status(), 200);

    let r = login(&relay, "bo@shop.test", "wrong password", None).await;
    assert_eq!(status_and_code(r).await, (401, "bad_credentials".into()), "the password still comes first");
    let r = login(&relay, "bo@shop.test", "bo's long password", None).await;
    let limited = cookie_of(&r);
    assert_eq!(status_and_code(r).await, (403, "totp_enrolment_required".into()));

    // The enrolment session opens nothing else.
    let get = |path: &'static str| {
        let limited = limited.clone();
        let url = relay.url(path);
        async move { reqwest::Client::new().get(url).header("cookie", limited).send().await.unwrap() }
    };
    assert_eq!(get("/api/v1/auth/me").await.status(), 401);
    assert_eq!(get("/api/v1/admin/me").await.status(), 401);
    let session: Value = get("/api/v1/auth/session").await.json().await.unwrap();
    assert_eq!(session, json!({"advisor": null, "enrol": true}));
    let refused = relay.advisor_socket(Some(&limited), Some(&relay.origin())).await.expect_err("no socket before enrolment");
    assert_eq!(refused.status, 401);

    let secret = enrol(&relay, &limited).await;
    // The same session is now a full one.
    assert_eq!(get("/api/v1/auth/me").await.status(), 200);
    assert!(relay.advisor_socket(Some(&limited), Some(&relay.origin())).await.is_ok());
    let r = call(&relay, Some(&limited), Method::POST, "/api/v1/auth/totp/disable", json!({"code": totp_at(&secret, step_now() + 1)})).await;
    assert_eq!(status_and_code(r).await, (409, "forbidden".into()), "required two-factor can't be turned off");
    // And the next login asks for a code.
    let r = login(&relay, "bo@shop.test", "bo's long password", None).await;
    assert_eq!(status_and_code(r).await, (401, "totp_required".into()));
}

#[tokio::test]
async fn an_admin_resets_the_two_factor_of_an_advisor_who_lost_their_phone() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let body = json!({"email": "bo@shop.test", "name": "Bo", "password": "bo's long password"});
    let created: Value = call(&relay, Some(&admin), Method::POST, "/api/v1/admin/advisors", body).await.json().await.unwrap();
    let bo = created["advisor"]["id"].as_i64().unwrap();
    let session = cookie_of(&login(&relay, "bo@shop.test", "bo's long password", None).await);
    enrol(&relay, &session).await;
    assert_eq!(status_and_code(login(&relay, "bo@shop.test", "bo's long password", None).await).await.1, "totp_required");

    let path = format!("/api/v1/admin/advisors/{bo}/reset-two-factor");
    let r = call(&relay, Some(&session), Method::POST, &path, json!({})).await;
    assert_eq!(r.status(), 403, "an advisor can't reset anyone's two-factor, their own included");
    let r = call(&relay, Some(&admin), Method::POST, &path, json!({})).await;
    assert_eq!(r.status(), 200);
    let account: Value = r.json().await.unwrap();
    assert_eq!(account["two_factor"], false);
    let me = reqwest::Client::new().get(relay.url("/api/v1/auth/me")).header("cookie", &session).send().await.unwrap();
    assert_eq!(me.status(), 401, "their sessions ended");
    assert_eq!(login(&relay, "bo@shop.test", "bo's long password", None).await.status(), 200, "password alone again");
    let r = call(&relay, Some(&admin), Method::POST, "/api/v1/admin/advisors/999/reset-two-factor", json!({})).await;
    assert_eq!(r.status(), 404);
}
