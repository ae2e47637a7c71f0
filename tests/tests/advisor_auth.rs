//! Advisors log in; nobody else gets into the dashboard's API or socket.

use confab_tests::*;
use shared::*;

#[tokio::test]
async fn login_sets_an_http_only_same_site_cookie_and_me_answers_with_the_advisor() {
    let relay = TestRelay::start().await;
    let response = relay.post_login(ADVISOR_EMAIL, ADVISOR_PASSWORD, Some(&relay.origin())).await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("confab_session="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"), "{cookie}");
    let info: AdvisorInfo = response.json().await.unwrap();
    assert_eq!(info.email, ADVISOR_EMAIL);

    let session = cookie.split(';').next().unwrap();
    let me = reqwest::Client::new().get(relay.url("/api/v1/auth/me")).header("cookie", session).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<AdvisorInfo>().await.unwrap().name, "Ada");
}

#[tokio::test]
async fn the_session_endpoint_answers_200_with_or_without_a_session() {
    let relay = TestRelay::start().await;
    let client = reqwest::Client::new();
    let r = client.get(relay.url("/api/v1/auth/session")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap(), serde_json::json!({"advisor": null}));
    let cookie = relay.login().await;
    let r = client.get(relay.url("/api/v1/auth/session")).header("cookie", &cookie).send().await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["advisor"]["email"], ADVISOR_EMAIL);
}

#[tokio::test]
async fn a_wrong_password_or_unknown_email_gets_the_same_answer() {
    let relay = TestRelay::start().await;
    for (email, password) in [(ADVISOR_EMAIL, "wrong password"), ("nobody@shop.test", ADVISOR_PASSWORD)] {
        let r = relay.post_login(email, password, Some(&relay.origin())).await;
        assert_eq!(r.status(), 401);
        assert!(r.headers().get("set-cookie").is_none());
        let body: ErrorFrame = r.json().await.unwrap();
        assert_eq!(body.code, ErrorCode::BadCredentials);
    }
}

#[tokio::test]
async fn cross_site_login_and_cross_site_sockets_are_refused() {
    let relay = TestRelay::start().await;
    let r = relay.post_login(ADVISOR_EMAIL, ADVISOR_PASSWORD, Some("https://evil.example")).await;
    assert_eq!(r.status(), 403);
    let r = relay.post_login(ADVISOR_EMAIL, ADVISOR_PASSWORD, None).await;
    assert_eq!(r.status(), 403);

    let cookie = relay.login().await;
    let refused = relay.advisor_socket(Some(&cookie), Some("https://evil.example")).await.unwrap_err();
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["code"], "forbidden_origin");
}

#[tokio::test]
async fn the_advisor_socket_and_api_need_a_session_and_logout_ends_it() {
    let relay = TestRelay::start().await;
    let refused = relay.advisor_socket(None, Some(&relay.origin())).await.unwrap_err();
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body["code"], "not_authenticated");
    let refused = relay.advisor_socket(Some("confab_session=forged"), Some(&relay.origin())).await.unwrap_err();
    assert_eq!(refused.status, 401);

    let cookie = relay.login().await;
    let client = reqwest::Client::new();
    let out = client
        .post(relay.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", relay.origin())
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let me = client.get(relay.url("/api/v1/auth/me")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(me.status(), 401);
    let refused = relay.advisor_socket(Some(&cookie), Some(&relay.origin())).await.unwrap_err();
    assert_eq!(refused.status, 401);
}

#[tokio::test]
async fn a_visitor_socket_cannot_speak_advisor_frames() {
    let relay = TestRelay::start().await;
    let (mut a, w) = relay.new_visitor().await;
    let (mut b, _) = relay.new_visitor().await;
    // An advisor-style "open" of someone else's conversation is just an unknown frame here.
    b.send_raw(&format!(r#"{{"type":"open","ref":"x","conversation":{}}}"#, w.conversation.0)).await;
    assert_eq!(b.expect_error().await.code, ErrorCode::UnknownFrameType);
    a.say("a-1", "private").await.unwrap();
    assert!(b.try_recv(std::time::Duration::from_millis(300)).await.is_none());
}
