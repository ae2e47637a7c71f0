//! The customer panel's API: what a visitor's browser tells the relay comes back parsed, an advisor's
//! correction reaches every dashboard's inbox row, and access follows the conversation's team.

use confab_tests::*;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use shared::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15";

async fn call(relay: &TestRelay, cookie: Option<&str>, method: Method, path: &str, body: Option<Value>) -> Response {
    relay.request(cookie, method, path, body.as_ref()).await
}

fn customer_path(id: ConversationId) -> String {
    format!("/api/v1/conversations/{}/customer", id.0)
}

/// A visitor on a Mac in Swiss French, who came from a search page, writes once.
async fn swiss_visitor(relay: &TestRelay, referrer: &str) -> ConversationId {
    let mut request = relay.ws_url(&format!("/ws/visitor?site={SITE}")).into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("origin", HeaderValue::from_static(SHOP_ORIGIN));
    headers.insert("user-agent", HeaderValue::from_static(SAFARI_MAC));
    headers.insert("accept-language", HeaderValue::from_static("fr-CH, fr;q=0.9, en;q=0.8"));
    let (ws, _) = tokio_tungstenite::connect_async(request).await.expect("visitor socket");
    let mut v = VisitorClient::from_ws(ws);
    v.send(&VisitorClientFrame::Hello {
        v: PROTOCOL_VERSION,
        token: None,
        last_seq: 0,
        page: Some(format!("{SHOP_ORIGIN}/tents")),
        referrer: Some(referrer.to_owned()),
        timezone: Some("Europe/Zurich".into()),
        locale: None,
    })
    .await;
    let conversation = v
        .wait_for(|f| match f {
            VisitorServerFrame::Welcome { conversation, .. } => Some(*conversation),
            _ => None,
        })
        .await;
    v.say("m1", "Is the 2-person tent waterproof?").await.expect("ack");
    conversation
}

#[tokio::test]
async fn the_panel_shows_what_the_visitors_browser_told() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let conversation = swiss_visitor(&relay, "https://search.example/?q=tents").await;

    let r = call(&relay, Some(&cookie), Method::GET, &customer_path(conversation), None).await;
    assert_eq!(r.status(), 200);
    let profile: CustomerProfile = r.json().await.unwrap();
    assert_eq!(profile.browser.as_deref(), Some("Safari 17"));
    assert_eq!(profile.os.as_deref(), Some("macOS"));
    assert_eq!(profile.language.as_deref(), Some("fr-CH"));
    assert_eq!(profile.timezone.as_deref(), Some("Europe/Zurich"));
    assert_eq!(profile.referrer.as_deref(), Some("https://search.example/?q=tents"));
    assert_eq!(profile.page, Some(format!("{SHOP_ORIGIN}/tents")));
    assert_eq!(profile.name, None);
    assert!(profile.display_name.starts_with("Visitor "), "{}", profile.display_name);
    assert!(profile.last_seen.is_some_and(|t| t >= profile.first_seen));
    assert!(profile.previous.is_empty());
}

#[tokio::test]
async fn a_bad_referrer_or_time_zone_is_not_kept() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let conversation = swiss_visitor(&relay, "javascript:alert(1)").await;
    let profile: CustomerProfile =
        call(&relay, Some(&cookie), Method::GET, &customer_path(conversation), None).await.json().await.unwrap();
    assert_eq!(profile.referrer, None);
    assert_eq!(profile.language.as_deref(), Some("fr-CH"));
}

#[tokio::test]
async fn correcting_name_and_email_updates_every_dashboards_row_and_links_past_conversations() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let first = swiss_visitor(&relay, "https://search.example/").await;
    let second = swiss_visitor(&relay, "https://search.example/").await;
    let (mut watcher, _) = relay.advisor().await;

    let path = customer_path(second);
    let r = call(&relay, Some(&cookie), Method::PATCH, &path, Some(json!({"email": "ana@shop"}))).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "bad_request");
    assert!(body["message"].as_str().unwrap().contains("e-mail"), "{body}");

    // Without the JSON content type (a cross-site form could send that), refused.
    let r = reqwest::Client::new()
        .patch(relay.url(&path))
        .header("origin", relay.origin())
        .header("cookie", &cookie)
        .body(r#"{"name":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The same customer wrote before from another browser: the e-mail ties both together.
    for (id, name) in [(first, "Ana L."), (second, "Ana Lima")] {
        let r = call(&relay, Some(&cookie), Method::PATCH, &customer_path(id), Some(json!({"name": name, "email": "Ana@Shop.example"}))).await;
        assert_eq!(r.status(), 200);
    }
    let row = watcher
        .wait_for(|f| match f {
            AdvisorServerFrame::Conversation { conversation } if conversation.id == second && conversation.visitor_name == "Ana Lima" => {
                Some(conversation.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(row.visitor_name, "Ana Lima");

    let profile: CustomerProfile = call(&relay, Some(&cookie), Method::GET, &path, None).await.json().await.unwrap();
    assert_eq!((profile.name.as_deref(), profile.email.as_deref()), (Some("Ana Lima"), Some("Ana@Shop.example")));
    let previous: Vec<_> = profile.previous.iter().map(|p| p.id).collect();
    assert_eq!(previous, vec![first]);
    let past = &profile.previous[0];
    assert_eq!(past.status, ConversationStatus::Open);
    assert_eq!(past.last_message.as_ref().map(|m| m.text.as_str()), Some("Is the 2-person tent waterproof?"));

    // An empty name clears it: the row falls back to "Visitor N".
    let r = call(&relay, Some(&cookie), Method::PATCH, &path, Some(json!({"name": ""}))).await;
    let profile: CustomerProfile = r.json().await.unwrap();
    assert_eq!(profile.name, None);
    assert_eq!(profile.email.as_deref(), Some("Ana@Shop.example"));
}

#[tokio::test]
async fn another_teams_conversation_is_refused_and_no_session_gets_401() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let conversation = swiss_visitor(&relay, "https://search.example/").await;

    // Bo is in "Billing"; the conversation belongs to "Sales".
    let r = call(&relay, Some(&admin), Method::POST, "/api/v1/admin/advisors", Some(json!({"email": "bo@shop.test", "name": "Bo", "password": "bo's long password"}))).await;
    assert_eq!(r.status(), 201);
    let bo = r.json::<Value>().await.unwrap()["advisor"]["id"].as_i64().unwrap();
    let mut teams = Vec::new();
    for name in ["Sales", "Billing"] {
        let r = call(&relay, Some(&admin), Method::POST, "/api/v1/admin/teams", Some(json!({"name": name}))).await;
        teams.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    let r = call(&relay, Some(&admin), Method::PUT, &format!("/api/v1/admin/teams/{}/members", teams[1]), Some(json!({"advisors": [bo]}))).await;
    assert_eq!(r.status(), 200);
    let login = relay.post_login("bo@shop.test", "bo's long password", Some(&relay.origin())).await;
    let bo_cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();

    let path = customer_path(conversation);
    // Before the conversation has a team, every advisor sees it.
    assert_eq!(call(&relay, Some(&bo_cookie), Method::GET, &path, None).await.status(), 200);

    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", relay.data_dir.join("confab.sqlite3").display())).await.unwrap();
    sqlx::query("UPDATE conversations SET team_id = ? WHERE id = ?").bind(teams[0]).bind(conversation.0).execute(&db).await.unwrap();
    db.close().await;

    let r = call(&relay, Some(&bo_cookie), Method::GET, &path, None).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "forbidden");
    let r = call(&relay, Some(&bo_cookie), Method::PATCH, &path, Some(json!({"name": "Mallory"}))).await;
    assert_eq!(r.status(), 403);
    // The admin sees every team's conversations.
    let profile: CustomerProfile = call(&relay, Some(&admin), Method::GET, &path, None).await.json().await.unwrap();
    assert_eq!(profile.name, None, "the refused edit changed nothing");

    // The same customer's conversation without a team: Bo sees it, but not the Sales one in its
    // previous conversations; the admin sees both.
    let other = swiss_visitor(&relay, "https://search.example/").await;
    for id in [conversation, other] {
        let r = call(&relay, Some(&admin), Method::PATCH, &customer_path(id), Some(json!({"email": "heidi@mail.example"}))).await;
        assert_eq!(r.status(), 200);
    }
    let seen_by = |cookie: String| {
        let relay = &relay;
        async move {
            let profile: CustomerProfile = call(relay, Some(&cookie), Method::GET, &customer_path(other), None).await.json().await.unwrap();
            profile.previous.iter().map(|p| p.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(seen_by(bo_cookie.clone()).await, vec![]);
    assert_eq!(seen_by(admin.clone()).await, vec![conversation]);

    let r = call(&relay, None, Method::GET, &path, None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "not_authenticated");
    let r = call(&relay, Some(&admin), Method::GET, "/api/v1/conversations/99999/customer", None).await;
    assert_eq!(r.status(), 404);
}
