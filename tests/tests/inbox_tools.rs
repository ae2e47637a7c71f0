//! The advisor's tools (issue 5): canned responses and who may change them, labels (live in every
//! dashboard), search by customer and by message text, and the team rule applied to both. The
//! seeded advisor (Ada) is the first account, so an admin; Bo and Cy are plain advisors.

use confab_tests::*;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use shared::*;

async fn call(relay: &TestRelay, cookie: &str, method: Method, path: &str, body: Value) -> Response {
    relay.request(Some(cookie), method, path, Some(&body)).await
}

async fn get(relay: &TestRelay, cookie: &str, path: &str) -> Response {
    reqwest::Client::new().get(relay.url(path)).header("cookie", cookie).send().await.unwrap()
}

async fn json_of(response: Response) -> Value {
    response.json().await.unwrap()
}

/// As the admin, create an advisor; returns their id and a session cookie.
async fn new_advisor(relay: &TestRelay, admin: &str, email: &str, name: &str) -> (i64, String) {
    relay.new_advisor(admin, email, name).await
}

/// Run SQL on the relay's database (what routing and the customer panel fill in elsewhere).
async fn sql(relay: &TestRelay, statement: &str) {
    execute_sql(&relay.data_dir, statement).await;
}

/// A visitor conversation with one message; returns its id.
async fn conversation_saying(relay: &TestRelay, text: &str) -> ConversationId {
    let (mut visitor, w) = relay.new_visitor().await;
    visitor.say("v-1", text).await.unwrap();
    w.conversation
}

fn ids(results: &Value) -> Vec<i64> {
    results.as_array().unwrap().iter().map(|r| r["conversation"]["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn canned_responses_are_created_listed_edited_and_deleted_by_whom_they_belong_to() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let (bo_id, bo) = new_advisor(&relay, &admin, "bo@shop.test", "Bo").await;
    let (_, cy) = new_advisor(&relay, &admin, "cy@shop.test", "Cy").await;

    let r = call(&relay, &bo, Method::POST, "/api/v1/canned", json!({"shortcut": "/thanks", "text": "Thanks {{name}}!"})).await;
    assert_eq!(r.status(), 201);
    let shared = json_of(r).await;
    assert_eq!((shared["shortcut"].as_str(), shared["shared"].as_bool()), (Some("thanks"), Some(true)));
    assert_eq!((shared["created_by"].as_i64(), shared["can_edit"].as_bool()), (Some(bo_id), Some(true)));
    let shared_id = shared["id"].as_i64().unwrap();
    let r = call(&relay, &bo, Method::POST, "/api/v1/canned", json!({"shortcut": "mine", "text": "Bo's own", "shared": false})).await;
    assert_eq!(r.status(), 201);
    let personal_id = json_of(r).await["id"].as_i64().unwrap();

    // Cy sees the shared reply, not Bo's personal one, and may not change or delete the shared one.
    let list = json_of(get(&relay, &cy, "/api/v1/canned").await).await;
    let seen: Vec<(&str, bool)> =
        list.as_array().unwrap().iter().map(|c| (c["shortcut"].as_str().unwrap(), c["can_edit"].as_bool().unwrap())).collect();
    assert_eq!(seen, [("thanks", false)]);
    let r = call(&relay, &cy, Method::PATCH, &format!("/api/v1/canned/{shared_id}"), json!({"text": "hijacked"})).await;
    assert_eq!(r.status(), 403);
    let r = call(&relay, &cy, Method::DELETE, &format!("/api/v1/canned/{shared_id}"), json!({})).await;
    assert_eq!(r.status(), 403);
    assert!(json_of(r).await["message"].as_str().unwrap().contains("creator or an admin"));
    let r = call(&relay, &cy, Method::DELETE, &format!("/api/v1/canned/{personal_id}"), json!({})).await;
    assert_eq!(r.status(), 404, "someone else's personal reply is not there at all");

    // Bo edits his; validation answers 400 with the reason.
    let r = call(&relay, &bo, Method::PATCH, &format!("/api/v1/canned/{shared_id}"), json!({"text": "Thank you, {{name}}!"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r).await["text"], "Thank you, {{name}}!");
    let r = call(&relay, &bo, Method::PATCH, &format!("/api/v1/canned/{shared_id}"), json!({"shortcut": "two words"})).await;
    assert_eq!(r.status(), 400);
    assert!(json_of(r).await["message"].as_str().unwrap().contains("no spaces"));
    let r = call(&relay, &bo, Method::POST, "/api/v1/canned", json!({"shortcut": "empty", "text": "  "})).await;
    assert_eq!(r.status(), 400);
    let bo_list = json_of(get(&relay, &bo, "/api/v1/canned").await).await;
    assert_eq!(bo_list.as_array().unwrap().len(), 2);

    // The admin may delete the shared one (and doesn't see Bo's personal one).
    assert_eq!(json_of(get(&relay, &admin, "/api/v1/canned").await).await.as_array().unwrap().len(), 1);
    let r = call(&relay, &admin, Method::DELETE, &format!("/api/v1/canned/{shared_id}"), json!({})).await;
    assert_eq!(r.status(), 204);
    let r = call(&relay, &bo, Method::DELETE, &format!("/api/v1/canned/{personal_id}"), json!({})).await;
    assert_eq!(r.status(), 204);
    assert_eq!(json_of(get(&relay, &bo, "/api/v1/canned").await).await, json!([]));
    let r = call(&relay, &bo, Method::DELETE, &format!("/api/v1/canned/{personal_id}"), json!({})).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn state_changing_requests_without_same_origin_json_are_refused() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let c = conversation_saying(&relay, "hello").await;
    let client = reqwest::Client::new();
    let labels = format!("/api/v1/conversations/{c}/labels");

    let cross_site = client
        .post(relay.url("/api/v1/canned"))
        .header("origin", "http://evil.test")
        .header("cookie", &admin)
        .json(&json!({"shortcut": "x", "text": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let no_origin =
        client.put(relay.url(&labels)).header("cookie", &admin).json(&json!({"labels": ["vip"]})).send().await.unwrap();
    assert_eq!(no_origin.status(), 403);
    let form = client
        .put(relay.url(&labels))
        .header("origin", relay.origin())
        .header("cookie", &admin)
        .header("content-type", "text/plain")
        .body(r#"{"labels": ["vip"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 403);
    assert!(json_of(form).await["message"].as_str().unwrap().contains("application/json"));
    let delete = client.delete(relay.url("/api/v1/labels/1")).header("origin", relay.origin()).header("cookie", &admin).send().await.unwrap();
    assert_eq!(delete.status(), 403, "a DELETE without a JSON content type");

    assert_eq!(json_of(get(&relay, &admin, "/api/v1/canned").await).await, json!([]), "nothing was created");
    assert_eq!(json_of(get(&relay, &admin, "/api/v1/labels").await).await, json!([]), "nothing was labelled");
    let anonymous = client.get(relay.url("/api/v1/search?q=hello")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn labels_set_and_cleared_reach_every_dashboard_live() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let (_, bo) = new_advisor(&relay, &admin, "bo@shop.test", "Bo").await;
    let c = conversation_saying(&relay, "my parcel never came").await;
    let (mut watcher, _) = relay.advisor().await;
    let labels = format!("/api/v1/conversations/{c}/labels");

    let r = call(&relay, &bo, Method::PUT, &labels, json!({"labels": ["VIP", " refund ", "vip"]})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r).await, json!({"conversation": c.0, "labels": ["refund", "VIP"]}));
    let row = watcher.summary_where(c, |s| !s.labels.is_empty()).await;
    assert_eq!(row.labels, ["refund", "VIP"]);

    // The same name in another case is the same label; an existing label keeps its first spelling.
    let r = call(&relay, &bo, Method::PUT, &labels, json!({"labels": ["vip", "Angry"]})).await;
    assert_eq!(json_of(r).await["labels"], json!(["Angry", "VIP"]));
    let row = watcher.summary_where(c, |s| s.labels.len() == 2 && s.labels[0] == "Angry").await;
    assert_eq!(row.labels, ["Angry", "VIP"]);
    let all = json_of(get(&relay, &bo, "/api/v1/labels").await).await;
    let names: Vec<(&str, i64)> =
        all.as_array().unwrap().iter().map(|l| (l["name"].as_str().unwrap(), l["conversations"].as_i64().unwrap())).collect();
    assert_eq!(names, [("Angry", 1), ("refund", 0), ("VIP", 1)]);
    assert!(all[0]["color"].as_str().unwrap().starts_with('#'));

    // Cleared.
    let r = call(&relay, &bo, Method::PUT, &labels, json!({"labels": []})).await;
    assert_eq!(json_of(r).await["labels"], json!([]));
    let row = watcher.summary_where(c, |s| s.labels.is_empty()).await;
    assert!(row.labels.is_empty());

    // Only an admin deletes a label everywhere; the row follows.
    call(&relay, &bo, Method::PUT, &labels, json!({"labels": ["VIP"]})).await;
    watcher.summary_where(c, |s| s.labels == ["VIP"]).await;
    let vip = json_of(get(&relay, &bo, "/api/v1/labels").await).await.as_array().unwrap().iter().find(|l| l["name"] == "VIP").unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = call(&relay, &bo, Method::DELETE, &format!("/api/v1/labels/{vip}"), json!({})).await;
    assert_eq!(r.status(), 403);
    let r = call(&relay, &admin, Method::DELETE, &format!("/api/v1/labels/{vip}"), json!({})).await;
    assert_eq!(r.status(), 204);
    watcher.summary_where(c, |s| s.labels.is_empty()).await;
    let (_, inbox) = relay.advisor().await;
    assert!(inbox.iter().find(|s| s.id == c).unwrap().labels.is_empty(), "a fresh inbox agrees");

    let r = call(&relay, &bo, Method::PUT, &labels, json!({"labels": ["x".repeat(41)]})).await;
    assert_eq!(r.status(), 400);
    let r = call(&relay, &bo, Method::PUT, "/api/v1/conversations/999/labels", json!({"labels": ["vip"]})).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn search_finds_customers_by_name_email_phone_and_message_text_newest_first() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let web = conversation_saying(&relay, "Is the Alpine 40 backpack waterproof?").await;
    let whatsapp = conversation_saying(&relay, "hello from my phone").await;
    sql(&relay, &format!("UPDATE visitors SET name = 'Marta Silva', email = 'marta@example.pt' WHERE id = (SELECT visitor_id FROM conversations WHERE id = {web})")).await;
    sql(&relay, &format!(
        "INSERT INTO channel_identities (conversation_id, channel, account, external_id, name, created_at)
         VALUES ({whatsapp}, 'whatsapp', 'PHONE1', '351912345678', 'Jules Martin', 0)"
    ))
    .await;
    let (mut ada, _) = relay.advisor().await;
    // A private note is searchable too (advisors wrote it).
    ada.send(&AdvisorClientFrame::Note {
        id: "n-1".into(),
        conversation: whatsapp,
        text: "Refund approved by the warehouse; ship the replacement".into(),
    })
    .await;
    ada.wait_for(|f| matches!(f, AdvisorServerFrame::Ack { id, .. } if id.0 == "n-1").then_some(())).await;
    let search = |q: &str| {
        let q = q.to_owned();
        let admin = admin.clone();
        let relay = &relay;
        async move {
            let url = format!("/api/v1/search?q={}", url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>());
            let r = get(relay, &admin, &url).await;
            assert_eq!(r.status(), 200, "{q}");
            json_of(r).await
        }
    };

    assert_eq!(ids(&search("marta s").await), [web.0]);
    assert_eq!(ids(&search("MARTA@example").await), [web.0], "e-mail, any case");
    assert_eq!(ids(&search("+351 912-345").await), [whatsapp.0], "a phone number as typed");
    assert_eq!(ids(&search("jules").await), [whatsapp.0], "a platform profile name");
    let hit = search("waterproof").await;
    assert_eq!(ids(&hit), [web.0]);
    assert_eq!(hit[0]["snippet"]["text"], "Is the Alpine 40 backpack waterproof?");
    assert_eq!(hit[0]["snippet"]["note"], false);
    assert_eq!(hit[0]["conversation"]["visitor_name"], "Marta Silva");
    let replied = ada.reply(whatsapp, "r-1", "The replacement ships today").await.unwrap();
    assert!(replied >= 2);
    let hit = search("replacement").await;
    assert_eq!(ids(&hit), [whatsapp.0]);
    assert_eq!(hit[0]["snippet"]["text"], "The replacement ships today", "the newest matching message");
    let hit = search("warehouse").await;
    assert_eq!((hit[0]["snippet"]["note"].as_bool(), ids(&hit)), (Some(true), vec![whatsapp.0]));
    // Newest activity first; LIKE's wildcards are plain characters.
    assert_eq!(ids(&search("he").await), [whatsapp.0, web.0]);
    assert_eq!(ids(&search("4_").await), Vec::<i64>::new());
    assert_eq!(ids(&search("%%").await), Vec::<i64>::new());

    let r = get(&relay, &admin, "/api/v1/search?q=%20a%20").await;
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(r).await["message"], "Type at least 2 characters to search.");
    assert_eq!(get(&relay, &admin, "/api/v1/search").await.status(), 400);
}

#[tokio::test]
async fn another_teams_conversation_is_neither_found_nor_labelled() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let (bo_id, bo) = new_advisor(&relay, &admin, "bo@shop.test", "Bo").await;
    let team = |name: &'static str| {
        let (relay, admin) = (&relay, admin.clone());
        async move {
            let r = call(relay, &admin, Method::POST, "/api/v1/admin/teams", json!({"name": name})).await;
            assert_eq!(r.status(), 201);
            json_of(r).await["id"].as_i64().unwrap()
        }
    };
    let sales = team("Sales").await;
    let support = team("Support").await;
    let r = call(&relay, &admin, Method::PUT, &format!("/api/v1/admin/teams/{support}/members"), json!({"advisors": [bo_id]})).await;
    assert_eq!(r.status(), 200);

    let theirs = conversation_saying(&relay, "order 5521 is missing a strap").await;
    let ours = conversation_saying(&relay, "order 5521 arrived, thanks").await;
    sql(&relay, &format!("UPDATE conversations SET team_id = {sales} WHERE id = {theirs}")).await;
    sql(&relay, &format!("UPDATE conversations SET team_id = {support} WHERE id = {ours}")).await;

    let found = json_of(get(&relay, &bo, "/api/v1/search?q=order%205521").await).await;
    assert_eq!(ids(&found), [ours.0], "Bo finds his team's conversation only");
    let found = json_of(get(&relay, &admin, "/api/v1/search?q=order%205521").await).await;
    assert_eq!(ids(&found), [ours.0, theirs.0], "an admin finds both");

    let r = call(&relay, &bo, Method::PUT, &format!("/api/v1/conversations/{theirs}/labels"), json!({"labels": ["vip"]})).await;
    assert_eq!(r.status(), 403);
    assert_eq!(json_of(r).await["code"], "forbidden");
    assert_eq!(json_of(get(&relay, &bo, "/api/v1/labels").await).await, json!([]), "the refused call created no label");
    let r = call(&relay, &bo, Method::PUT, &format!("/api/v1/conversations/{ours}/labels"), json!({"labels": ["vip"]})).await;
    assert_eq!(r.status(), 200);
    // Bo can't see the other team's labelled conversation, so it isn't counted for him.
    call(&relay, &admin, Method::PUT, &format!("/api/v1/conversations/{theirs}/labels"), json!({"labels": ["vip"]})).await;
    let count = |list: Value| list[0]["conversations"].as_i64().unwrap();
    assert_eq!(count(json_of(get(&relay, &bo, "/api/v1/labels").await).await), 1);
    assert_eq!(count(json_of(get(&relay, &admin, "/api/v1/labels").await).await), 2);

    // Assigned to Bo across teams: now he may.
    sql(&relay, &format!("UPDATE conversations SET assignee_id = {bo_id} WHERE id = {theirs}")).await;
    let r = call(&relay, &bo, Method::PUT, &format!("/api/v1/conversations/{theirs}/labels"), json!({"labels": ["vip"]})).await;
    assert_eq!(r.status(), 200);
    let found = json_of(get(&relay, &bo, "/api/v1/search?q=strap").await).await;
    assert_eq!(ids(&found), [theirs.0]);
}
