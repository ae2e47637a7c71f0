//! Accounts and access: roles, the admin API, deactivation, password resets, teams, login rate
//! limiting and CSRF on admin requests. The seeded advisor (Ada) is the first account, so an admin.

use confab_tests::*;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use shared::*;

/// A JSON request as the dashboard sends it: same origin, JSON body, the session cookie.
async fn call(relay: &TestRelay, cookie: Option<&str>, method: Method, path: &str, body: Option<Value>) -> Response {
    // Every state-changing request is JSON, even without a body.
    relay.request(cookie, method, path, Some(&body.unwrap_or(json!({})))).await
}

async fn get(relay: &TestRelay, cookie: Option<&str>, path: &str) -> Response {
    let mut request = reqwest::Client::new().get(relay.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

async fn login_as(relay: &TestRelay, email: &str, password: &str) -> Response {
    relay.post_login(email, password, Some(&relay.origin())).await
}

async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["code"].as_str().unwrap_or_default().to_owned()
}

/// As the admin, create an advisor with a password; returns their id and a session cookie.
async fn new_advisor(relay: &TestRelay, admin: &str, email: &str) -> (i64, String) {
    let r = call(
        relay,
        Some(admin),
        Method::POST,
        "/api/v1/admin/advisors",
        Some(json!({"email": email, "name": "Bo", "password": "bo's long password"})),
    )
    .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert!(created.get("password").is_none(), "a given password is not echoed");
    let login = login_as(relay, email, "bo's long password").await;
    assert_eq!(login.status(), 200);
    (created["advisor"]["id"].as_i64().unwrap(), cookie_of(&login))
}

#[tokio::test]
async fn an_advisor_is_refused_admin_routes_and_no_session_gets_401() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let (_, advisor) = new_advisor(&relay, &admin, "bo@shop.test").await;

    let me: Value = get(&relay, Some(&advisor), "/api/v1/admin/me").await.json().await.unwrap();
    assert_eq!(me["role"], "advisor");
    let me: Value = get(&relay, Some(&admin), "/api/v1/admin/me").await.json().await.unwrap();
    assert_eq!((me["role"].as_str(), me["email"].as_str()), (Some("admin"), Some(ADVISOR_EMAIL)));

    for path in ["/api/v1/admin/advisors", "/api/v1/admin/teams"] {
        let r = get(&relay, Some(&advisor), path).await;
        assert_eq!(r.status(), 403, "{path}");
        assert_eq!(error_code(r).await, "forbidden");
        let r = get(&relay, None, path).await;
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(error_code(r).await, "not_authenticated");
    }
    let r = call(&relay, Some(&advisor), Method::POST, "/api/v1/admin/teams", Some(json!({"name": "Mine"}))).await;
    assert_eq!(r.status(), 403);
    let r = call(&relay, Some(&advisor), Method::POST, "/api/v1/admin/advisors/1/deactivate", None).await;
    assert_eq!(r.status(), 403);
    let r = call(&relay, None, Method::POST, "/api/v1/admin/teams", Some(json!({"name": "Mine"}))).await;
    assert_eq!(r.status(), 401);
    assert_eq!(get(&relay, None, "/api/v1/admin/me").await.status(), 401);
}

#[tokio::test]
async fn an_admin_creates_an_advisor_with_a_one_time_password_who_can_then_log_in() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let r =
        call(&relay, Some(&admin), Method::POST, "/api/v1/admin/advisors", Some(json!({"email": "cy@shop.test", "name": "Cy"})))
            .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let password = created["password"].as_str().expect("a generated password").to_owned();
    assert!(password.len() >= 16);
    assert_eq!(created["advisor"]["role"], "advisor");
    assert_eq!(created["advisor"]["active"], true);

    let login = login_as(&relay, "cy@shop.test", &password).await;
    assert_eq!(login.status(), 200);
    assert_eq!(login.json::<AdvisorInfo>().await.unwrap().name, "Cy");

    let r = call(
        &relay,
        Some(&admin),
        Method::POST,
        "/api/v1/admin/advisors",
        Some(json!({"email": "CY@shop.test", "name": "Cy again"})),
    )
    .await;
    assert_eq!(r.status(), 409, "the e-mail is taken, whatever its case");
    let r = call(
        &relay,
        Some(&admin),
        Method::POST,
        "/api/v1/admin/advisors",
        Some(json!({"email": "dee@shop.test", "name": "Dee", "password": "short"})),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<ErrorFrame>().await.unwrap().message.contains("at least 8"));
    let r = call(
        &relay,
        Some(&admin),
        Method::POST,
        "/api/v1/admin/advisors",
        Some(json!({"email": "eve@shop.test", "name": "Eve", "role": "admin", "password": "eve's long password"})),
    )
    .await;
    assert_eq!(r.status(), 201);

    let list: Value = get(&relay, Some(&admin), "/api/v1/admin/advisors").await.json().await.unwrap();
    let rows: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["email"].as_str().unwrap().to_owned(), a["role"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        rows,
        [
            (ADVISOR_EMAIL.into(), "admin".into()),
            ("cy@shop.test".into(), "advisor".into()),
            ("eve@shop.test".into(), "admin".into())
        ]
    );
}

#[tokio::test]
async fn deactivation_ends_the_sessions_at_once_and_refuses_login_until_reactivated() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let (bo, session) = new_advisor(&relay, &admin, "bo@shop.test").await;
    assert_eq!(get(&relay, Some(&session), "/api/v1/auth/me").await.status(), 200);

    let r = call(&relay, Some(&admin), Method::POST, &format!("/api/v1/admin/advisors/{bo}/deactivate"), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["active"], false);
    assert_eq!(get(&relay, Some(&session), "/api/v1/auth/me").await.status(), 401);
    let refused = relay.advisor_socket(Some(&session), Some(&relay.origin())).await.unwrap_err();
    assert_eq!(refused.status, 401);

    let r = login_as(&relay, "bo@shop.test", "bo's long password").await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());
    let body: ErrorFrame = r.json().await.unwrap();
    assert!(body.message.contains("deactivated"), "{}", body.message);
    // A wrong password still gets the usual answer: the account's state is told only to its owner.
    assert_eq!(error_code(login_as(&relay, "bo@shop.test", "a wrong password").await).await, "bad_credentials");

    let r = call(&relay, Some(&admin), Method::POST, &format!("/api/v1/admin/advisors/{bo}/reactivate"), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(login_as(&relay, "bo@shop.test", "bo's long password").await.status(), 200);

    let me: Value = get(&relay, Some(&admin), "/api/v1/admin/me").await.json().await.unwrap();
    let r = call(&relay, Some(&admin), Method::POST, &format!("/api/v1/admin/advisors/{}/deactivate", me["id"]), None).await;
    assert_eq!(r.status(), 400, "an admin can't lock themselves out");
    let r = call(&relay, Some(&admin), Method::POST, "/api/v1/admin/advisors/999/deactivate", None).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn deactivating_an_advisor_closes_their_open_dashboards_and_no_one_elses() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let (bo, session) = new_advisor(&relay, &admin, "bo@shop.test").await;
    let hello = serde_json::to_string(&AdvisorClientFrame::Hello { v: PROTOCOL_VERSION }).unwrap();
    let mut bos = relay.advisor_socket(Some(&session), Some(&relay.origin())).await.unwrap();
    bos.send(WsMessage::text(hello)).await.unwrap();
    let (mut admins, _) = relay.advisor().await;

    let r = call(&relay, Some(&admin), Method::POST, &format!("/api/v1/admin/advisors/{bo}/deactivate"), None).await;
    assert_eq!(r.status(), 200);
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(frame) = bos.next().await {
            if let Ok(WsMessage::Close(close)) = frame {
                return close;
            }
        }
        None
    })
    .await
    .expect("Bo's dashboard was closed in time")
    .expect("with a close frame");
    assert_eq!(u16::from(closed.code), 1008);
    assert!(closed.reason.contains("log in again"), "{}", closed.reason);
    // The admin's own dashboard is still served.
    let (mut visitor, _) = relay.new_visitor().await;
    visitor.say("v1", "hello").await.unwrap();
    admins.send(&AdvisorClientFrame::Open { reference: "still-here".into(), conversation: ConversationId(1), after_seq: 0 }).await;
    admins.wait_for(|f| matches!(f, AdvisorServerFrame::History { reference, .. } if reference == "still-here").then_some(())).await;
}

#[tokio::test]
async fn a_dashboard_opened_before_a_deactivation_is_closed_at_its_hello() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let (bo, session) = new_advisor(&relay, &admin, "bo@shop.test").await;
    // The socket is open (the session was good then) but has not said hello: it is in no list
    // of Bo's dashboards yet when the admin deactivates him.
    let mut bos = relay.advisor_socket(Some(&session), Some(&relay.origin())).await.unwrap();
    let r = call(&relay, Some(&admin), Method::POST, &format!("/api/v1/admin/advisors/{bo}/deactivate"), None).await;
    assert_eq!(r.status(), 200);

    let hello = serde_json::to_string(&AdvisorClientFrame::Hello { v: PROTOCOL_VERSION }).unwrap();
    bos.send(WsMessage::text(hello)).await.unwrap();
    let first = tokio::time::timeout(WAIT, bos.next()).await.expect("an answer in time").expect("a frame").unwrap();
    match first {
        WsMessage::Close(Some(close)) => {
            assert_eq!(u16::from(close.code), 1008);
            assert!(close.reason.contains("log in again"), "{}", close.reason);
        }
        other => panic!("a deactivated advisor's hello was answered with {other:?}"),
    }
}

#[tokio::test]
async fn a_password_reset_ends_the_sessions_and_only_the_new_password_works() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let (bo, session) = new_advisor(&relay, &admin, "bo@shop.test").await;
    let r = call(&relay, Some(&admin), Method::POST, &format!("/api/v1/admin/advisors/{bo}/reset-password"), None).await;
    assert_eq!(r.status(), 200);
    let password = r.json::<Value>().await.unwrap()["password"].as_str().unwrap().to_owned();
    assert_eq!(get(&relay, Some(&session), "/api/v1/auth/me").await.status(), 401);
    assert_eq!(login_as(&relay, "bo@shop.test", "bo's long password").await.status(), 401);
    assert_eq!(login_as(&relay, "bo@shop.test", &password).await.status(), 200);
}

#[tokio::test]
async fn teams_are_created_renamed_given_members_and_deleted() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let (bo, _) = new_advisor(&relay, &admin, "bo@shop.test").await;

    let r = call(&relay, Some(&admin), Method::POST, "/api/v1/admin/teams", Some(json!({"name": " Sales "}))).await;
    assert_eq!(r.status(), 201);
    let sales: Value = r.json().await.unwrap();
    assert_eq!(sales["name"], "Sales");
    let id = sales["id"].as_i64().unwrap();
    let r = call(&relay, Some(&admin), Method::POST, "/api/v1/admin/teams", Some(json!({"name": "sales"}))).await;
    assert_eq!(r.status(), 409);
    let r = call(&relay, Some(&admin), Method::POST, "/api/v1/admin/teams", Some(json!({"name": "  "}))).await;
    assert_eq!(r.status(), 400);

    let r =
        call(&relay, Some(&admin), Method::PATCH, &format!("/api/v1/admin/teams/{id}"), Some(json!({"name": "Support"}))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["name"], "Support");

    let r =
        call(&relay, Some(&admin), Method::PUT, &format!("/api/v1/admin/teams/{id}/members"), Some(json!({"advisors": [bo]})))
            .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["members"], json!([bo]));
    let r = call(
        &relay,
        Some(&admin),
        Method::PUT,
        &format!("/api/v1/admin/teams/{id}/members"),
        Some(json!({"advisors": [bo, 999]})),
    )
    .await;
    assert_eq!(r.status(), 404, "an unknown advisor changes nothing");

    let teams: Value = get(&relay, Some(&admin), "/api/v1/admin/teams").await.json().await.unwrap();
    assert_eq!(teams, json!([{"id": id, "name": "Support", "members": [bo], "first_response_target_ms": null}]));
    let advisors: Value = get(&relay, Some(&admin), "/api/v1/admin/advisors").await.json().await.unwrap();
    let bo_row = advisors.as_array().unwrap().iter().find(|a| a["id"] == bo).unwrap();
    assert_eq!(bo_row["teams"], json!([id]));

    let r = call(&relay, Some(&admin), Method::DELETE, &format!("/api/v1/admin/teams/{id}"), None).await;
    assert_eq!(r.status(), 204);
    let r = call(&relay, Some(&admin), Method::DELETE, &format!("/api/v1/admin/teams/{id}"), None).await;
    assert_eq!(r.status(), 404);
    let teams: Value = get(&relay, Some(&admin), "/api/v1/admin/teams").await.json().await.unwrap();
    assert_eq!(teams, json!([]));
}

#[tokio::test]
async fn the_sixth_failed_login_is_rate_limited_but_not_another_email_from_another_ip() {
    let relay = TestRelay::start().await;
    for attempt in 1..=5 {
        let r = login_as(&relay, ADVISOR_EMAIL, "a wrong password").await;
        assert_eq!(r.status(), 401, "attempt {attempt}");
    }
    // Even the right password waits now.
    let r = login_as(&relay, ADVISOR_EMAIL, ADVISOR_PASSWORD).await;
    assert_eq!(r.status(), 429);
    let retry_after: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert_eq!(error_code(r).await, "rate_limited");

    // Loopback has all of 127.0.0.0/8: another source address is another client IP.
    let other_ip = reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let r = other_ip
        .post(relay.url("/api/v1/auth/login"))
        .header("origin", relay.origin())
        .json(&json!({"email": "nobody@shop.test", "password": "a wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "another e-mail from another IP is not limited");
    let r = other_ip
        .post(relay.url("/api/v1/auth/login"))
        .header("origin", relay.origin())
        .json(&json!({"email": ADVISOR_EMAIL, "password": ADVISOR_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the count is per client IP and e-mail");
}

#[tokio::test]
async fn a_successful_login_resets_the_count_of_failures() {
    let relay = TestRelay::start().await;
    for _ in 0..4 {
        assert_eq!(login_as(&relay, ADVISOR_EMAIL, "a wrong password").await.status(), 401);
    }
    assert_eq!(login_as(&relay, ADVISOR_EMAIL, ADVISOR_PASSWORD).await.status(), 200);
    for _ in 0..5 {
        assert_eq!(login_as(&relay, ADVISOR_EMAIL, "a wrong password").await.status(), 401);
    }
    assert_eq!(login_as(&relay, ADVISOR_EMAIL, "a wrong password").await.status(), 429);
}

#[tokio::test]
async fn state_changing_admin_requests_need_the_same_origin_and_json() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let client = reqwest::Client::new();
    let url = relay.url("/api/v1/admin/teams");

    let foreign = client
        .post(&url)
        .header("cookie", &admin)
        .header("origin", "https://evil.example")
        .json(&json!({"name": "Evil"}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert_eq!(error_code(foreign).await, "forbidden");
    let no_origin = client.post(&url).header("cookie", &admin).json(&json!({"name": "Evil"})).send().await.unwrap();
    assert_eq!(no_origin.status(), 403);
    let form = client
        .post(&url)
        .header("cookie", &admin)
        .header("origin", relay.origin())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Evil")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 403);
    let text = client
        .post(&url)
        .header("cookie", &admin)
        .header("origin", relay.origin())
        .header("content-type", "text/plain")
        .body(r#"{"name":"Evil"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 403);
    let no_body = client
        .delete(relay.url("/api/v1/admin/teams/1"))
        .header("cookie", &admin)
        .header("origin", relay.origin())
        .send()
        .await
        .unwrap();
    assert_eq!(no_body.status(), 403, "even a DELETE must be JSON");

    let teams: Value = get(&relay, Some(&admin), "/api/v1/admin/teams").await.json().await.unwrap();
    assert_eq!(teams, json!([]), "nothing was created");
    let ok = call(&relay, Some(&admin), Method::POST, "/api/v1/admin/teams", Some(json!({"name": "Fine"}))).await;
    assert_eq!(ok.status(), 201);
}
