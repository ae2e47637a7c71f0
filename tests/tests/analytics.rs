//! `GET /api/v1/analytics` on a real relay: visitors write over real sockets, an advisor answers,
//! and the figures match what the database holds to the millisecond; an advisor sees only the
//! figures of the conversations they may see; a bad period gets a 400 that says why.

use confab_tests::*;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use shared::analytics::AnalyticsReport;
use shared::time::DAY_MS;
use shared::*;
use sqlx::Connection;

async fn get(relay: &TestRelay, cookie: Option<&str>, path: &str) -> Response {
    let mut request = reqwest::Client::new().get(relay.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

async fn report(relay: &TestRelay, cookie: &str, query: &str) -> AnalyticsReport {
    let r = get(relay, Some(cookie), &format!("/api/v1/analytics{query}")).await;
    assert_eq!(r.status(), 200, "analytics{query}");
    r.json().await.unwrap()
}

/// An admin API call as the dashboard makes it.
async fn admin(relay: &TestRelay, cookie: &str, method: Method, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .request(method, relay.url(path))
        .header("origin", relay.origin())
        .header("cookie", cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

/// A new advisor account (role advisor) and their session cookie.
async fn new_advisor(relay: &TestRelay, admin_cookie: &str, email: &str, name: &str) -> (i64, String) {
    relay.new_advisor(admin_cookie, email, name).await
}

/// The test relay's database, for what the API doesn't set yet (teams, waiting times).
async fn db(relay: &TestRelay) -> sqlx::SqliteConnection {
    let url = format!("sqlite://{}", relay.data_dir.join("confab.sqlite3").display());
    sqlx::SqliteConnection::connect(&url).await.expect("open the test database")
}

async fn exec(relay: &TestRelay, sql: &str) {
    let mut conn = db(relay).await;
    sqlx::query(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.ok();
}

async fn sent_at(relay: &TestRelay, conversation: ConversationId, seq: Seq) -> i64 {
    let mut conn = db(relay).await;
    let at = sqlx::query_scalar("SELECT sent_at FROM messages WHERE conversation_id = ? AND seq = ?")
        .bind(conversation.0)
        .bind(seq as i64)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    at
}

async fn scalar(relay: &TestRelay, sql: &str) -> i64 {
    let mut conn = db(relay).await;
    let v = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.ok();
    v
}

fn today() -> String {
    relay::analytics::format_date(relay::now_ms().div_euclid(DAY_MS))
}

#[tokio::test]
async fn figures_match_what_visitors_and_the_advisor_wrote() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let ada_id = scalar(&relay, &format!("SELECT id FROM advisors WHERE email = '{ADVISOR_EMAIL}'")).await;
    let (mut ada, _) = relay.advisor().await;

    // A: two messages (one wait), a private note (not an answer), then a reply; then resolved.
    let (mut va, wa) = relay.new_visitor().await;
    let a = wa.conversation;
    va.say("a-1", "Where is my parcel?").await.unwrap();
    va.say("a-2", "Order 1234").await.unwrap();
    ada.next_message().await;
    ada.next_message().await;
    ada.send(&AdvisorClientFrame::Note { id: "n-1".into(), conversation: a, text: "check the depot".into() }).await;
    ada.wait_for(|f| matches!(f, AdvisorServerFrame::Ack { id, .. } if id.0 == "n-1").then_some(())).await;
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let reply = ada.reply(a, "r-1", "It is on its way.").await.unwrap();
    ada.send(&AdvisorClientFrame::SetStatus {
        reference: "st".into(),
        conversation: a,
        status: ConversationStatus::Resolved,
        snoozed_until: None,
    })
    .await;
    ada.summary_where(a, |s| s.status == ConversationStatus::Resolved).await;

    // B: one message nobody answers. Ada takes no more conversations, so the router leaves B in
    // the queue (setting it unassigned behind the router's back would race its next pass).
    exec(&relay, &format!("UPDATE advisors SET capacity = 0 WHERE id = {ada_id}")).await;
    let (mut vb, wb) = relay.new_visitor().await;
    let b = wb.conversation;
    let (_, b_at) = vb.say("b-1", "Hello?").await.unwrap();

    let a_first = sent_at(&relay, a, 1).await;
    let frt = sent_at(&relay, a, reply).await - a_first;
    assert!(frt >= 30, "the note did not end the wait: {frt} ms");
    let resolution = scalar(&relay, &format!("SELECT resolved_at FROM conversations WHERE id = {}", a.0)).await - a_first;
    // An admin's reassignment of A, logged as routing logs it.
    exec(
        &relay,
        &format!(
            "INSERT INTO assignments (conversation_id, advisor_id, kind, at) VALUES ({}, {ada_id}, 'manual', {})",
            a.0,
            relay::now_ms()
        ),
    )
    .await;

    let before = today();
    let r = report(&relay, &cookie, "").await;
    let after = today();
    assert_eq!(r.days.len(), 7, "the last 7 days by default");
    assert!(r.to == before || r.to == after, "ends today: {} vs {before}", r.to);
    let last = r.days.last().unwrap();
    assert_eq!((last.web, last.whatsapp, last.messenger), (2, 0, 0), "{:?}", r.days);
    assert_eq!(r.days.iter().map(|d| d.total()).sum::<u32>(), 2);

    assert_eq!(r.first_response.count, 1);
    assert_eq!(r.first_response.median_ms, Some(frt));
    assert_eq!(r.first_response.p90_ms, Some(frt));
    assert_eq!(r.first_response.unanswered, Some(1), "B's wait is counted apart");
    assert_eq!((r.resolution.count, r.resolution.median_ms), (1, Some(resolution)));
    assert!(resolution >= frt);
    assert_eq!((r.backlog.open, r.backlog.unassigned, r.backlog.oldest_waiting_since), (1, 1, Some(b_at)));

    let [me] = &r.advisors[..] else { panic!("one advisor: {:?}", r.advisors) };
    assert_eq!((me.id, me.name.as_str()), (ada_id, "Ada"));
    assert_eq!((me.replies, me.conversations_replied, me.open_assigned), (1, 1, 0), "the note is no reply");
    // Routing, once it runs, logs its own assignments too: count what the log holds.
    let logged = scalar(&relay, &format!("SELECT COUNT(*) FROM assignments WHERE advisor_id = {ada_id}")).await;
    assert!(logged >= 1);
    assert_eq!(i64::from(me.assigned), logged);
    assert_eq!((me.first_response.count, me.first_response.median_ms), (1, Some(frt)));

    // B taken by Ada: her load now, nothing unassigned.
    exec(&relay, &format!("UPDATE conversations SET assignee_id = {ada_id} WHERE id = {}", b.0)).await;
    let r = report(&relay, &cookie, &format!("?from={}&to={}&tz_offset_min=0", r.to, r.to)).await;
    assert_eq!(r.days.len(), 1);
    assert_eq!((r.backlog.open, r.backlog.unassigned), (1, 0));
    assert_eq!(r.advisors[0].open_assigned, 1);

    // A period before any of it: no conversations, no waits, but the backlog is now's.
    let r = report(&relay, &cookie, "?from=2020-01-01&to=2020-01-31").await;
    assert_eq!(r.days.len(), 31);
    assert!(r.days.iter().all(|d| d.total() == 0));
    assert_eq!((r.first_response.count, r.first_response.unanswered, r.resolution.count), (0, Some(0), 0));
    assert_eq!(r.backlog.open, 1);
}

#[tokio::test]
async fn an_advisor_outside_a_team_does_not_get_its_conversations_counted() {
    let relay = TestRelay::start().await;
    let admin_cookie = relay.login().await;
    let team = admin(&relay, &admin_cookie, Method::POST, "/api/v1/admin/teams", json!({"name": "Billing"})).await;
    let team = team["id"].as_i64().unwrap();
    let (_, bo) = new_advisor(&relay, &admin_cookie, "bo@shop.test", "Bo").await;
    let (cy_id, cy) = new_advisor(&relay, &admin_cookie, "cy@shop.test", "Cy").await;
    admin(&relay, &admin_cookie, Method::PUT, &format!("/api/v1/admin/teams/{team}/members"), json!({"advisors": [cy_id]})).await;

    let (mut billing, w) = relay.new_visitor().await;
    billing.say("b-1", "My invoice is wrong").await.unwrap();
    let (mut anyone, _) = relay.new_visitor().await;
    anyone.say("o-1", "Do you ship to Norway?").await.unwrap();
    let c = w.conversation.0;
    exec(&relay, &format!("UPDATE conversations SET team_id = {team} WHERE id = {c}")).await;
    let at = relay::now_ms();
    exec(&relay, &format!("INSERT INTO assignments (conversation_id, advisor_id, team_id, kind, at) VALUES ({c}, {cy_id}, {team}, 'auto', {at})"))
        .await;
    exec(&relay, &format!("UPDATE conversations SET assignee_id = {cy_id} WHERE id = {c}")).await;

    let total = |r: &AnalyticsReport| r.days.iter().map(|d| d.total()).sum::<u32>();
    let outside = report(&relay, &bo, "").await;
    assert_eq!(total(&outside), 1, "Bo sees only the conversation of no team: {:?}", outside.days);
    assert_eq!((outside.backlog.open, outside.first_response.unanswered), (1, Some(1)));
    assert!(outside.advisors.is_empty(), "nothing of Cy's Billing work: {:?}", outside.advisors);

    for (who, cookie) in [("Cy, in the team", &cy), ("the admin", &admin_cookie)] {
        let r = report(&relay, cookie, "").await;
        assert_eq!(total(&r), 2, "{who}");
        assert_eq!((r.backlog.open, r.backlog.unassigned, r.first_response.unanswered), (2, 1, Some(2)), "{who}");
        let [cy] = &r.advisors[..] else { panic!("{who}: {:?}", r.advisors) };
        assert_eq!((cy.name.as_str(), cy.assigned, cy.open_assigned), ("Cy", 1, 1), "{who}");
    }
}

#[tokio::test]
async fn analytics_needs_a_session_and_a_sensible_period() {
    let relay = TestRelay::start().await;
    let r = get(&relay, None, "/api/v1/analytics").await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "not_authenticated");

    let cookie = relay.login().await;
    for (query, says) in [
        ("?from=2025-01-01&to=2026-01-02", "367 days; at most 366"),
        ("?from=2026-02-30&to=2026-03-01", "`from` must be a date written YYYY-MM-DD"),
        ("?to=next-week", "`to` must be a date"),
        ("?from=2026-03-02&to=2026-03-01", "is after `to`"),
        ("?tz_offset_min=abc", "`tz_offset_min` must be a whole number"),
        ("?tz_offset_min=1000", "between -840 and 840"),
    ] {
        let r = get(&relay, Some(&cookie), &format!("/api/v1/analytics{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "bad_request", "{query}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
    }
    let r = report(&relay, &cookie, "?from=2025-01-01&to=2026-01-01&tz_offset_min=-300").await;
    assert_eq!((r.days.len(), r.tz_offset_min), (366, -300));
}
