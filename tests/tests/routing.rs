//! Routing end to end: several advisors connected at once, real visitors writing in. Assignment to
//! the least-loaded advisor within capacity, the queue and the visitor's place in it, stickiness
//! for a returning customer, hand transfer to an advisor or a team (and who may still see the
//! conversation), and requeueing the conversations of an advisor who went offline.
//!
//! Each test builds the same shop: Ada (the seeded admin, in no team) watches everything; Bea and
//! Cid are advisors of the Support team, which answers the shop's site.

use confab_tests::*;
use reqwest::Method;
use serde_json::{json, Value};
use shared::*;

async fn call(relay: &TestRelay, cookie: &str, method: Method, path: &str, body: Value) -> Value {
    let response = relay.request(Some(cookie), method, path, Some(&body)).await;
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

struct Shop {
    relay: TestRelay,
    /// Ada's dashboard: an admin sees every conversation.
    ada: AdvisorClient,
    support: i64,
    bea: (AdvisorId, String),
    cid: (AdvisorId, String),
}

/// The shop, with Bea and Cid taking at most `capacity` conversations each.
async fn shop(capacity: u32) -> Shop {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let team = call(&relay, &admin, Method::POST, "/api/v1/admin/teams", json!({"name": "Support"})).await;
    let support = team["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for (email, name) in [("bea@shop.test", "Bea"), ("cid@shop.test", "Cid")] {
        let (id, cookie) = relay.new_advisor(&admin, email, name).await;
        ids.push((AdvisorId(id), cookie));
    }
    let members = json!({"advisors": [ids[0].0 .0, ids[1].0 .0]});
    call(&relay, &admin, Method::PUT, &format!("/api/v1/admin/teams/{support}/members"), members).await;
    execute_sql(
        &relay.data_dir,
        &format!("UPDATE sites SET team_id = {support}; UPDATE advisors SET capacity = {capacity} WHERE id != 1;"),
    )
    .await;
    let (ada, _) = relay.advisor_as(&admin).await;
    let cid = ids.pop().unwrap();
    let bea = ids.pop().unwrap();
    Shop { relay, ada, support, bea, cid }
}

/// A visitor who has written their first message.
async fn customer(relay: &TestRelay, text: &str) -> (VisitorClient, ConversationId) {
    let (mut visitor, welcome) = relay.new_visitor().await;
    visitor.say("first", text).await.unwrap();
    (visitor, welcome.conversation)
}

/// Wait until `advisor` sees the conversation's row with this assignee.
async fn assigned(advisor: &mut AdvisorClient, conversation: ConversationId, to: Option<AdvisorId>) -> ConversationSummary {
    advisor.summary_where(conversation, |s: &ConversationSummary| s.assignee == to).await
}

/// The visitor's next place in line (skipping other frames).
async fn place(visitor: &mut VisitorClient) -> (u32, Option<i64>) {
    visitor
        .wait_for(|f| match f {
            VisitorServerFrame::Queue { position, wait_ms } => Some((*position, *wait_ms)),
            _ => None,
        })
        .await
}

/// Wait for a roster in which `advisor` has this status; returns it.
async fn roster_where(watcher: &mut AdvisorClient, advisor: AdvisorId, presence: Presence) -> Vec<RosterEntry> {
    watcher
        .wait_for(|f| match f {
            AdvisorServerFrame::Roster { roster, .. } if roster.iter().any(|r| r.id == advisor && r.presence == presence) => {
                Some(roster.clone())
            }
            _ => None,
        })
        .await
}

/// The roster in the welcome of a dashboard opened now.
async fn welcome_roster(relay: &TestRelay, cookie: &str) -> Vec<RosterEntry> {
    use futures_util::{SinkExt, StreamExt};
    let mut ws = relay.advisor_socket(Some(cookie), Some(&relay.origin())).await.expect("advisor socket");
    let hello = serde_json::to_string(&AdvisorClientFrame::Hello { v: PROTOCOL_VERSION }).unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text(hello)).await.unwrap();
    loop {
        let frame = ws.next().await.expect("a frame").expect("socket open");
        if let Ok(AdvisorServerFrame::Welcome { roster, .. }) = serde_json::from_str(frame.to_text().unwrap()) {
            return roster;
        }
    }
}

#[tokio::test]
async fn conversations_go_to_the_least_loaded_advisor_within_capacity_and_wait_in_line_when_all_are_full() {
    let mut s = shop(1).await;
    let (mut bea, _) = s.relay.advisor_as(&s.bea.1).await;
    let (_cid, _) = s.relay.advisor_as(&s.cid.1).await;

    let (_v1, c1) = customer(&s.relay, "my order is late").await;
    let row = assigned(&mut s.ada, c1, Some(s.bea.0)).await;
    assert_eq!(row.team, Some(s.support), "the conversation belongs to the site's team");
    assert!(row.waiting_since.is_some(), "nobody has answered yet");
    let (_v2, c2) = customer(&s.relay, "refund please").await;
    assigned(&mut s.ada, c2, Some(s.cid.0)).await;

    // Both are full: the next two wait, and are told where they stand.
    let (mut v3, c3) = customer(&s.relay, "hello?").await;
    assert_eq!(place(&mut v3).await, (1, None), "first in line; no history to estimate a wait from");
    let (mut v4, c4) = customer(&s.relay, "anyone there?").await;
    assert_eq!(place(&mut v4).await, (2, None));
    let row = s.ada.summary_where(c4, |_| true).await;
    assert_eq!(row.assignee, None);

    // Bea resolves her conversation: the oldest waiting one is hers at once, and the line moves.
    bea.send(&AdvisorClientFrame::SetStatus {
        reference: "r1".into(),
        conversation: c1,
        status: ConversationStatus::Resolved,
        snoozed_until: None,
    })
    .await;
    assigned(&mut bea, c3, Some(s.bea.0)).await;
    assert_eq!(place(&mut v3).await, (0, None), "no longer waiting");
    assert_eq!(place(&mut v4).await, (1, None));

    // A dashboard opened now gets the roster: each advisor's status and load against capacity.
    let roster = welcome_roster(&s.relay, &s.relay.login().await).await;
    let bea_row = roster.iter().find(|r| r.id == s.bea.0).unwrap();
    assert_eq!((bea_row.presence, bea_row.open, bea_row.capacity), (Presence::Online, 1, 1));
    let ada_row = roster.iter().find(|r| r.id == AdvisorId(1)).unwrap();
    assert_eq!(ada_row.open, 0, "Ada is in no team: Support's conversations never go to her");
}

#[tokio::test]
async fn a_returning_customer_goes_back_to_the_advisor_who_helped_them() {
    let mut s = shop(2).await;
    let (mut bea, _) = s.relay.advisor_as(&s.bea.1).await;
    let (mut cid, _) = s.relay.advisor_as(&s.cid.1).await;

    let (mut v1, c1) = customer(&s.relay, "where is my parcel?").await;
    assigned(&mut s.ada, c1, Some(s.bea.0)).await;
    bea.reply(c1, "b1", "It ships today.").await.unwrap();
    v1.next_message().await;
    bea.send(&AdvisorClientFrame::SetStatus {
        reference: "r1".into(),
        conversation: c1,
        status: ConversationStatus::Resolved,
        snoozed_until: None,
    })
    .await;
    s.ada.summary_where(c1, |r: &ConversationSummary| r.status == ConversationStatus::Resolved).await;
    // Both free: turns go to whoever was given one least recently (Cid), then to Bea.
    let (_v2, c2) = customer(&s.relay, "question about sizes").await;
    assigned(&mut s.ada, c2, Some(s.cid.0)).await;
    let (_v3, c3) = customer(&s.relay, "gift wrapping?").await;
    assigned(&mut s.ada, c3, Some(s.bea.0)).await;
    cid.send(&AdvisorClientFrame::SetStatus {
        reference: "r2".into(),
        conversation: c2,
        status: ConversationStatus::Resolved,
        snoozed_until: None,
    })
    .await;
    s.ada.summary_where(c2, |r: &ConversationSummary| r.status == ConversationStatus::Resolved).await;

    // The first customer writes again: Cid has fewer open conversations, but Bea helped them.
    v1.say("again", "it did not arrive").await.unwrap();
    let row = assigned(&mut s.ada, c1, Some(s.bea.0)).await;
    assert_eq!(row.status, ConversationStatus::Open, "writing reopened it");
}

#[tokio::test]
async fn a_transfer_to_another_advisor_or_team_moves_the_conversation_and_who_may_see_it() {
    let mut s = shop(3).await;
    let admin = s.relay.login().await;
    let billing = call(&s.relay, &admin, Method::POST, "/api/v1/admin/teams", json!({"name": "Billing"})).await;
    let billing = billing["id"].as_i64().unwrap();
    let (mut bea, _) = s.relay.advisor_as(&s.bea.1).await;
    let (mut cid, _) = s.relay.advisor_as(&s.cid.1).await;

    let (_v1, c1) = customer(&s.relay, "I was charged twice").await;
    assigned(&mut bea, c1, Some(s.bea.0)).await;

    // To Cid by hand.
    bea.send(&AdvisorClientFrame::Assign { reference: "t1".into(), conversation: c1, advisor: Some(s.cid.0), team: None }).await;
    assigned(&mut cid, c1, Some(s.cid.0)).await;
    assigned(&mut bea, c1, Some(s.cid.0)).await;

    // To Billing's queue: neither Bea nor Cid is in Billing, so it leaves both their inboxes.
    cid.send(&AdvisorClientFrame::Assign { reference: "t2".into(), conversation: c1, advisor: None, team: Some(billing) })
        .await;
    for advisor in [&mut bea, &mut cid] {
        let gone = advisor
            .wait_for(|f| match f {
                AdvisorServerFrame::Removed { conversation } => Some(*conversation),
                _ => None,
            })
            .await;
        assert_eq!(gone, c1);
    }
    let row = s.ada.summary_where(c1, |r: &ConversationSummary| r.team == Some(billing)).await;
    assert_eq!(row.assignee, None, "waiting in Billing's queue");

    // Every way in is refused to Bea now; the admin still has it.
    bea.send(&AdvisorClientFrame::Open { reference: "o1".into(), conversation: c1, after_seq: 0 }).await;
    let refused = bea.expect_error().await;
    assert_eq!((refused.code, refused.reference.as_deref()), (ErrorCode::Forbidden, Some("o1")));
    bea.send(&AdvisorClientFrame::Send {
        id: ClientMsgId::from("sneaky"),
        conversation: c1,
        text: "hi".into(),
        via: None,
        template: None,
        attachments: vec![],
    })
    .await;
    let refused = bea.expect_error().await;
    assert_eq!((refused.code, refused.reference.as_deref()), (ErrorCode::Forbidden, Some("sneaky")));
    bea.send(&AdvisorClientFrame::Assign { reference: "t3".into(), conversation: c1, advisor: Some(s.bea.0), team: None })
        .await;
    assert_eq!(bea.expect_error().await.code, ErrorCode::Forbidden, "nor can she take it back");
    let (_, inbox) = s.relay.advisor_as(&s.bea.1).await;
    assert!(inbox.iter().all(|r| r.id != c1), "not in a fresh inbox either");
    let (_, inbox) = s.relay.advisor_as(&admin).await;
    assert!(inbox.iter().any(|r| r.id == c1));
    assert_eq!(messages_in_database(&s.relay.data_dir, c1).await.len(), 1, "nothing was sent by the refused advisor");

    // Assigning it to Bea across teams lets her see it again.
    s.ada.send(&AdvisorClientFrame::Assign { reference: "t4".into(), conversation: c1, advisor: Some(s.bea.0), team: None })
        .await;
    let row = assigned(&mut bea, c1, Some(s.bea.0)).await;
    assert_eq!(row.team, Some(billing));
    assert_eq!(bea.open(c1).await.len(), 1);
}

#[tokio::test]
async fn an_advisor_who_goes_offline_has_their_conversations_returned_after_the_delay() {
    let mut s = shop(2).await;
    execute_sql(&s.relay.data_dir, r#"INSERT INTO settings (key, value) VALUES ('routing', '{"requeue_delay_ms": 500}')"#)
        .await;
    let (mut bea, _) = s.relay.advisor_as(&s.bea.1).await;
    let (c1, _v1) = {
        let (v, c) = customer(&s.relay, "help with my account").await;
        (c, v)
    };
    assigned(&mut s.ada, c1, Some(s.bea.0)).await;

    // Cid arrives; Bea chooses offline. After the delay her conversation goes back to the queue,
    // where Cid takes it.
    let (mut cid, _) = s.relay.advisor_as(&s.cid.1).await;
    bea.send(&AdvisorClientFrame::SetPresence { presence: Presence::Offline }).await;
    let roster = roster_where(&mut s.ada, s.bea.0, Presence::Offline).await;
    assert_eq!(roster.iter().find(|r| r.id == s.bea.0).unwrap().chosen, Presence::Offline);
    assigned(&mut cid, c1, Some(s.cid.0)).await;

    // Offline, Bea gets no new conversations either.
    let (_v2, c2) = customer(&s.relay, "another question").await;
    assigned(&mut s.ada, c2, Some(s.cid.0)).await;
}

#[tokio::test]
async fn an_advisor_whose_tabs_are_all_closed_counts_as_away_and_gets_no_new_conversations() {
    let mut s = shop(5).await;
    execute_sql(&s.relay.data_dir, r#"INSERT INTO settings (key, value) VALUES ('routing', '{"away_after_ms": 300}')"#).await;
    let (bea, _) = s.relay.advisor_as(&s.bea.1).await;
    roster_where(&mut s.ada, s.bea.0, Presence::Online).await;
    let (_cid, _) = s.relay.advisor_as(&s.cid.1).await;
    roster_where(&mut s.ada, s.cid.0, Presence::Online).await;
    drop(bea);
    roster_where(&mut s.ada, s.bea.0, Presence::Away).await;
    for text in ["one", "two"] {
        let (_v, c) = customer(&s.relay, text).await;
        assigned(&mut s.ada, c, Some(s.cid.0)).await;
    }
}


#[tokio::test]
async fn a_waiting_visitor_is_told_an_expected_wait_once_there_is_a_history_to_go_on() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    // Ada is online but takes nothing: everyone waits, and the queue isn't stalled for lack of people.
    execute_sql(&relay.data_dir, "UPDATE advisors SET capacity = 0").await;
    let (_ada, _) = relay.advisor_as(&admin).await;

    // No history yet: a place, but no number of minutes (the widget shows the usual reply time).
    let (mut first, c1) = customer(&relay, "hello").await;
    assert_eq!(place(&mut first).await, (1, None));

    // Places have lately freed up once a minute (four conversations taken from the queue after
    // waiting, 60 s apart): the estimate is the place × the median gap.
    let now = relay::now_ms();
    let departures: Vec<String> = (1..=4)
        .map(|i| format!("({}, 1, NULL, 'auto', 1, {})", c1.0, now - i * 60_000))
        .collect();
    execute_sql(
        &relay.data_dir,
        &format!("INSERT INTO assignments (conversation_id, advisor_id, team_id, kind, from_queue, at) VALUES {}", departures.join(", ")),
    )
    .await;
    let (mut second, _) = customer(&relay, "anyone?").await;
    assert_eq!(place(&mut second).await, (2, Some(120_000)), "second in line, two places to free up");
    assert_eq!(place(&mut first).await, (1, Some(60_000)), "the first visitor's estimate appears too");
}

/// Wait until `advisor` is told to drop a conversation; returns which.
async fn removed(advisor: &mut AdvisorClient) -> ConversationId {
    advisor
        .wait_for(|f| match f {
            AdvisorServerFrame::Removed { conversation } => Some(*conversation),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn an_advisor_taken_out_of_a_team_drops_its_conversations_from_an_open_dashboard() {
    // Nobody takes conversations: the customer's stays in Support's queue, seen through the team.
    let mut s = shop(0).await;
    let admin = s.relay.login().await;
    let (mut bea, _) = s.relay.advisor_as(&s.bea.1).await;
    let (_visitor, c1) = customer(&s.relay, "my parcel never came").await;
    let row = bea.summary_where(c1, |_| true).await;
    assert_eq!((row.team, row.assignee), (Some(s.support), None), "Bea sees it as a member of Support");

    // The admin takes Bea out of Support (Cid stays).
    let members = json!({"advisors": [s.cid.0 .0]});
    call(&s.relay, &admin, Method::PUT, &format!("/api/v1/admin/teams/{}/members", s.support), members).await;
    assert_eq!(removed(&mut bea).await, c1);

    // Her open dashboard may no longer reach it, and a fresh inbox doesn't show it.
    bea.send(&AdvisorClientFrame::Open { reference: "o1".into(), conversation: c1, after_seq: 0 }).await;
    assert_eq!(bea.expect_error().await.code, ErrorCode::Forbidden);
    let (_, inbox) = s.relay.advisor_as(&s.bea.1).await;
    assert!(inbox.iter().all(|r| r.id != c1), "not in a fresh inbox either");
    // The admin and Cid still have it.
    let (_, inbox) = s.relay.advisor_as(&s.cid.1).await;
    assert!(inbox.iter().any(|r| r.id == c1));
    s.ada.open(c1).await;
}

#[tokio::test]
async fn a_demoted_admin_drops_the_conversations_only_admins_may_see() {
    let mut s = shop(0).await;
    let admin = s.relay.login().await;
    let bea = s.bea.0 .0;
    // Bea is an admin outside Support: she sees Support's conversations as an admin only.
    call(&s.relay, &admin, Method::PATCH, &format!("/api/v1/admin/advisors/{bea}"), json!({"role": "admin"})).await;
    let members = json!({"advisors": [s.cid.0 .0]});
    call(&s.relay, &admin, Method::PUT, &format!("/api/v1/admin/teams/{}/members", s.support), members).await;
    let (mut dashboard, _) = s.relay.advisor_as(&s.bea.1).await;
    let (_visitor, c1) = customer(&s.relay, "can I change my order?").await;
    dashboard.summary_where(c1, |_| true).await;

    call(&s.relay, &admin, Method::PATCH, &format!("/api/v1/admin/advisors/{bea}"), json!({"role": "advisor"})).await;
    assert_eq!(removed(&mut dashboard).await, c1);
    dashboard.send(&AdvisorClientFrame::Open { reference: "o1".into(), conversation: c1, after_seq: 0 }).await;
    assert_eq!(dashboard.expect_error().await.code, ErrorCode::Forbidden);
    s.ada.open(c1).await;
}
