//! The bot end to end: a real relay, real visitor and advisor sockets. The site's bot greets a new
//! visitor, answers from its FAQ rules with quick replies, says when the company is closed, asks a
//! name and an e-mail before handing over, and hands over (button, phrase, or nothing matched twice)
//! to routing's queue with a private note of what it learned. A company's own bot gets each message
//! signed at its webhook and answers through the bot API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use confab_tests::*;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use shared::*;

async fn call(relay: &TestRelay, cookie: &str, method: Method, path: &str, body: Value) -> Value {
    let response = relay.request(Some(cookie), method, path, Some(&body)).await;
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

const ALWAYS_OPEN: &str = r#"{"timezone":"Europe/Paris","days":[{"open":"00:00","close":"24:00"},{"open":"00:00","close":"24:00"},{"open":"00:00","close":"24:00"},{"open":"00:00","close":"24:00"},{"open":"00:00","close":"24:00"},{"open":"00:00","close":"24:00"},{"open":"00:00","close":"24:00"}]}"#;

fn faq_bot() -> Value {
    json!({
        "enabled": true,
        "greeting": "Hi! I'm Tent Bot.",
        "suggestions": ["Shipping", "Returns"],
        "rules": [
            {"keywords": ["shipping", "delivery", "livraison"], "answer": "We ship within 2 days.", "quick_replies": ["Track my order", "Returns"]},
            {"keywords": ["return", "refund"], "answer": "Returns are free for 30 days.", "quick_replies": []}
        ],
        "collect_contact": false
    })
}

/// A relay whose shop site has `bot`, open `hours` (business hours JSON), and the admin's cookie.
async fn shop_with_bot(bot: Value, hours: &str) -> (TestRelay, String) {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let hours: Value = serde_json::from_str(hours).unwrap();
    call(&relay, &admin, Method::PUT, "/api/v1/admin/settings/business-hours", hours).await;
    call(&relay, &admin, Method::PUT, &format!("/api/v1/admin/sites/{SITE}/bot"), bot).await;
    (relay, admin)
}

/// The next `bot` frame.
async fn bot_frame(visitor: &mut VisitorClient) -> (bool, Seq, Vec<String>) {
    visitor
        .wait_for(|f| match f {
            VisitorServerFrame::Bot { active, seq, replies } => Some((*active, *seq, replies.clone())),
            _ => None,
        })
        .await
}

/// A new visitor greeted in `locale`: the welcome, then the replayed greeting, then the bot frame.
async fn visitor_in(relay: &TestRelay, locale: Option<&str>) -> (VisitorClient, ConversationId, Message) {
    let mut visitor = relay.visitor().await;
    let hello = VisitorClientFrame::Hello {
        v: PROTOCOL_VERSION,
        token: None,
        last_seq: 0,
        page: None,
        referrer: None,
        timezone: None,
        locale: locale.map(str::to_owned),
    };
    visitor.send(&hello).await;
    let conversation = match visitor.recv().await {
        VisitorServerFrame::Welcome { conversation, last_seq, site, .. } => {
            assert_eq!(last_seq, 1, "the welcome counts the greeting");
            assert_eq!(site.greeting, "", "the bot's greeting replaces the site's static one");
            conversation
        }
        other => panic!("expected welcome, got {other:?}"),
    };
    let greeting = visitor.next_message().await;
    (visitor, conversation, greeting)
}

#[tokio::test]
async fn the_bot_greets_a_new_visitor_and_answers_a_faq_with_quick_replies() {
    let (relay, _) = shop_with_bot(faq_bot(), ALWAYS_OPEN).await;
    let (mut visitor, conversation, greeting) = visitor_in(&relay, None).await;
    assert_eq!(greeting.author, Author::Bot);
    assert_eq!(greeting.text, "Hi! I'm Tent Bot.", "open: no closed notice");
    assert_eq!(bot_frame(&mut visitor).await, (true, greeting.seq, vec!["Shipping".to_owned(), "Returns".to_owned()]));

    visitor.say("q1", "How long does delivery take?").await.unwrap();
    let answer = visitor.next_message().await;
    assert_eq!((answer.author.clone(), answer.text.as_str()), (Author::Bot, "We ship within 2 days."));
    assert_eq!(bot_frame(&mut visitor).await, (true, answer.seq, vec!["Track my order".to_owned(), "Returns".to_owned()]));
    // A quick reply is just its text: "Returns" matches the second rule.
    visitor.say("q2", "Returns").await.unwrap();
    assert_eq!(visitor.next_message().await.text, "Returns are free for 30 days.");
    assert_eq!(bot_frame(&mut visitor).await.2, Vec::<String>::new(), "that answer has no quick replies");

    // A reload: the thread and the bot's state come back.
    drop(visitor);
    let (_advisor, inbox) = relay.advisor().await;
    let row = inbox.iter().find(|c| c.id == conversation).expect("in the inbox");
    assert!(row.with_bot, "shown as with the bot");
    assert_eq!((row.assignee, row.waiting_since), (None, None), "in no queue, nobody waiting while the bot answers");
}

#[tokio::test]
async fn the_bot_keeps_the_conversation_out_of_the_queue_until_talk_to_a_person_then_leaves_a_note() {
    let (relay, _) = shop_with_bot(faq_bot(), ALWAYS_OPEN).await;
    // Ada is online: a queued conversation would be hers at once.
    let (mut ada, _) = relay.advisor().await;
    let (mut visitor, conversation, _) = visitor_in(&relay, None).await;
    bot_frame(&mut visitor).await;
    visitor.say("q1", "Is the blue tent waterproof?").await.unwrap();
    assert_eq!(visitor.next_message().await.text, "Sorry, I didn't understand. Try other words, or talk to a person.");
    bot_frame(&mut visitor).await;
    let row = ada.summary_where(conversation, |c| c.last_seq == 3).await;
    assert!(row.with_bot);
    assert_eq!(row.assignee, None, "the bot has it: routing leaves it alone");

    visitor.send(&VisitorClientFrame::Handoff).await;
    let (active, _, replies) = bot_frame(&mut visitor).await;
    assert!(!active && replies.is_empty(), "the bot lets go");
    let note = ada.wait_for(|f| match f {
        AdvisorServerFrame::Message { message } if message.note => Some(message.clone()),
        _ => None,
    })
    .await;
    assert_eq!(note.author, Author::Bot);
    assert!(note.text.contains("Question: Is the blue tent waterproof?"), "{}", note.text);
    assert!(note.text.contains("Name: not given"), "{}", note.text);
    let row = ada.summary_where(conversation, |c| c.assignee.is_some()).await;
    assert!(!row.with_bot, "routing has it now");
    assert_eq!(row.assignee, Some(AdvisorId(1)), "and gave it to the one advisor online");

    // The button again: nothing more (no second note, no second message).
    visitor.send(&VisitorClientFrame::Handoff).await;
    // After the hand-off the bot stays quiet, even for a question it knows.
    visitor.say("q2", "What about shipping?").await.unwrap();
    let more = visitor.try_recv(Duration::from_millis(700)).await;
    assert!(
        !matches!(more, Some(VisitorServerFrame::Message { ref message }) if message.author == Author::Bot),
        "the bot said something after the hand-off: {more:?}"
    );
    let stored = messages_in_database(&relay.data_dir, conversation).await;
    assert_eq!(stored.iter().filter(|(_, _, text)| text.starts_with("Handed over by the bot")).count(), 1, "{stored:?}");
}

#[tokio::test]
async fn nothing_matching_twice_or_asking_for_a_person_hands_over() {
    let (relay, _) = shop_with_bot(faq_bot(), ALWAYS_OPEN).await;
    let (mut first, conversation, _) = visitor_in(&relay, None).await;
    first.say("q1", "blorp").await.unwrap();
    first.next_message().await;
    first.say("q2", "zzz").await.unwrap();
    assert_eq!(first.next_message().await.text, "I'm passing you to a person. They'll answer you here.");
    assert!(!bot_frame(&mut first).await.0);
    let stored = messages_in_database(&relay.data_dir, conversation).await;
    let note = stored.iter().find(|(_, _, t)| t.starts_with("Handed over by the bot")).expect("a note");
    assert!(note.2.contains("could not answer twice") && note.2.contains("Question: blorp"), "{note:?}");

    let (mut second, _, _) = visitor_in(&relay, None).await;
    second.say("q1", "Can I talk to a person please?").await.unwrap();
    assert_eq!(second.next_message().await.text, "I'm passing you to a person. They'll answer you here.");
}

#[tokio::test]
async fn when_closed_the_bot_says_when_the_company_replies_in_the_visitors_language() {
    // Open one minute a day: closed, with a next opening, nearly all day long.
    let hours = r#"{"timezone":"Europe/Paris","days":[{"open":"03:00","close":"03:01"},{"open":"03:00","close":"03:01"},{"open":"03:00","close":"03:01"},{"open":"03:00","close":"03:01"},{"open":"03:00","close":"03:01"},{"open":"03:00","close":"03:01"},{"open":"03:00","close":"03:01"}]}"#;
    let (relay, _) = shop_with_bot(faq_bot(), hours).await;
    let (_, _, english) = visitor_in(&relay, None).await;
    assert!(english.text.starts_with("Hi! I'm Tent Bot.\n\nWe're closed right now — we reply by 3:00 "), "{}", english.text);
    let (mut french, _, greeting) = visitor_in(&relay, Some("fr-FR")).await;
    assert!(greeting.text.contains("Nous sommes fermés pour le moment — nous répondons dès "), "{}", greeting.text);
    assert!(greeting.text.contains(" à 3:00."), "{}", greeting.text);
    // The hand-off says it again, in French.
    french.send(&VisitorClientFrame::Handoff).await;
    let told = french.next_message().await;
    assert!(told.text.starts_with("Je vous passe une personne.") && told.text.contains("Nous sommes fermés"), "{}", told.text);
}

#[tokio::test]
async fn the_bot_asks_a_name_and_an_email_before_handing_over_and_stores_them_on_the_customer() {
    let mut bot = faq_bot();
    bot["collect_contact"] = json!(true);
    let (relay, admin) = shop_with_bot(bot, ALWAYS_OPEN).await;
    let (mut visitor, conversation, _) = visitor_in(&relay, None).await;
    bot_frame(&mut visitor).await;
    visitor.send(&VisitorClientFrame::Handoff).await;
    assert_eq!(visitor.next_message().await.text, "Before I pass you to a person: what's your name?");
    visitor.send(&VisitorClientFrame::Handoff).await; // a second click changes nothing
    visitor.say("n1", "ana@shop.example").await.unwrap();
    assert_eq!(visitor.next_message().await.text, "Please type just your name.");
    visitor.say("n2", "Ana Lima").await.unwrap();
    assert_eq!(visitor.next_message().await.text, "Thanks! And your e-mail address, so we can reply if you leave?");
    visitor.say("e1", "ana at shop").await.unwrap();
    assert!(visitor.next_message().await.text.starts_with("That doesn't look like an e-mail address"));
    visitor.say("e2", "ana@shop.example").await.unwrap();
    assert_eq!(visitor.next_message().await.text, "I'm passing you to a person. They'll answer you here.");

    let stored = messages_in_database(&relay.data_dir, conversation).await;
    let note = stored.iter().find(|(_, _, t)| t.starts_with("Handed over by the bot")).expect("a note");
    assert!(note.2.contains("Name: Ana Lima") && note.2.contains("E-mail: ana@shop.example"), "{note:?}");
    let profile = call(&relay, &admin, Method::GET, &format!("/api/v1/conversations/{}/customer", conversation.0), Value::Null).await;
    assert_eq!((profile["name"].as_str(), profile["email"].as_str()), (Some("Ana Lima"), Some("ana@shop.example")));
}

#[tokio::test]
async fn an_advisors_reply_ends_the_bots_turn() {
    let (relay, _) = shop_with_bot(faq_bot(), ALWAYS_OPEN).await;
    let (mut ada, _) = relay.advisor().await;
    let (mut visitor, conversation, _) = visitor_in(&relay, None).await;
    ada.reply(conversation, "a1", "Hello, Ada here.").await.unwrap();
    assert_eq!(visitor.next_message().await.text, "Hello, Ada here.");
    let row = ada.summary_where(conversation, |c| c.assignee.is_some()).await;
    assert!(!row.with_bot);
    visitor.say("q1", "shipping?").await.unwrap();
    let more = visitor.try_recv(Duration::from_millis(700)).await;
    assert!(!matches!(more, Some(VisitorServerFrame::Message { .. })), "the bot answered after an advisor: {more:?}");
}

#[tokio::test]
async fn a_conversation_whose_bot_was_switched_off_goes_to_routing_at_the_next_message() {
    let (relay, admin) = shop_with_bot(faq_bot(), ALWAYS_OPEN).await;
    let (mut ada, _) = relay.advisor().await;
    let (mut visitor, conversation, _) = visitor_in(&relay, None).await;
    let mut off = faq_bot();
    off["enabled"] = json!(false);
    call(&relay, &admin, Method::PUT, &format!("/api/v1/admin/sites/{SITE}/bot"), off).await;
    visitor.say("q1", "shipping?").await.unwrap();
    assert_eq!(visitor.next_message().await.text, "I'm passing you to a person. They'll answer you here.");
    let row = ada.summary_where(conversation, |c| c.assignee.is_some()).await;
    assert!(!row.with_bot);
    let stored = messages_in_database(&relay.data_dir, conversation).await;
    assert!(stored.iter().any(|(_, _, t)| t.starts_with("Handed over by the bot (the bot was switched off)")), "{stored:?}");
    // A new visitor meets no bot.
    let (_, welcome) = relay.new_visitor().await;
    assert_eq!(welcome.last_seq, 0, "no greeting");
}

#[tokio::test]
async fn bad_bot_configurations_are_refused_with_the_reason_and_only_admins_edit_them() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let path = format!("/api/v1/admin/sites/{SITE}/bot");
    let bad = json!({"enabled": true, "rules": [{"keywords": [], "answer": "x"}]});
    let response = relay.request(Some(&admin), Method::PUT, &path, Some(&bad)).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("rule 1"), "{body}");
    let hook = json!({"enabled": true, "webhook": {"url": "https://bot.example/", "secret": "short"}});
    assert_eq!(relay.request(Some(&admin), Method::PUT, &path, Some(&hook)).await.status(), 400);

    let (_, advisor) = relay.new_advisor(&admin, "bea@shop.test", "Bea").await;
    assert_eq!(relay.request(Some(&advisor), Method::GET, &path, None).await.status(), 403);
    assert_eq!(relay.request(None, Method::GET, &path, None).await.status(), 401);
    let saved = call(&relay, &admin, Method::PUT, &path, faq_bot()).await;
    assert_eq!(saved["rules"][0]["keywords"][0], "shipping");
    assert_eq!(call(&relay, &admin, Method::GET, &path, Value::Null).await["greeting"], "Hi! I'm Tent Bot.");
}

/// What the stand-in for a company's bot received: the signature header and the body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A company's own bot: records each POST; fails the first one with 503 (the relay retries).
async fn stand_in_bot() -> (String, Received) {
    use axum::routing::post;
    let received: Received = Arc::default();
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let signature = headers.get("x-confab-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                let mut seen = seen.lock().unwrap();
                seen.push((signature, body.to_vec()));
                if seen.len() == 1 {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!("sha256={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[tokio::test]
async fn a_webhook_bot_gets_each_message_signed_and_answers_through_the_api_with_its_token() {
    const SECRET: &str = "a-very-long-webhook-secret";
    let (url, received) = stand_in_bot().await;
    let bot = json!({"enabled": true, "greeting": "Hello from our own bot.", "webhook": {"url": url, "secret": SECRET}});
    let (relay, admin) = shop_with_bot(bot, ALWAYS_OPEN).await;
    let token = call(&relay, &admin, Method::POST, &format!("/api/v1/admin/sites/{SITE}/bot/token"), json!({})).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut visitor, conversation, greeting) = visitor_in(&relay, Some("fr")).await;
    assert_eq!(greeting.text, "Hello from our own bot.");
    assert_eq!(bot_frame(&mut visitor).await, (true, 1, vec![]), "no built-in suggestions for an outside bot");
    visitor.say("q1", "Où est ma commande ?").await.unwrap();

    // Delivered after one retry (the stand-in failed the first attempt), signed with the secret.
    let deadline = tokio::time::Instant::now() + WAIT;
    while received.lock().unwrap().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the webhook was not retried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (signature, body) = received.lock().unwrap()[1].clone();
    assert_eq!(signature, hmac_hex(SECRET, &body));
    assert_ne!(signature, hmac_hex("another-secret-entirely", &body), "a bot checking with the wrong secret refuses it");
    let delivery: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(delivery["event"], "message");
    assert_eq!(delivery["conversation"], conversation.0);
    assert_eq!(delivery["message"]["text"], "Où est ma commande ?");
    assert_eq!(delivery["visitor"]["language"], "fr");

    let path = format!("/api/v1/bot/conversations/{}/messages", conversation.0);
    let answer = json!({"text": "Elle arrive demain.", "quick_replies": ["Merci", "Parler à quelqu'un"]});
    let client = reqwest::Client::new();
    let refused = client.post(relay.url(&path)).bearer_auth("cbt_wrong").json(&answer).send().await.unwrap();
    assert_eq!(refused.status(), 401, "a bad token is refused");
    assert_eq!(client.post(relay.url(&path)).json(&answer).send().await.unwrap().status(), 401, "no token");
    let other = client
        .post(relay.url("/api/v1/bot/conversations/999999/messages"))
        .bearer_auth(&token)
        .json(&answer)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let ok = client.post(relay.url(&path)).bearer_auth(&token).json(&answer).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let said = visitor.next_message().await;
    assert_eq!((said.author.clone(), said.text.as_str()), (Author::Bot, "Elle arrive demain."));
    assert_eq!(bot_frame(&mut visitor).await, (true, said.seq, vec!["Merci".to_owned(), "Parler à quelqu'un".to_owned()]));

    // The outside bot hands over: same hand-off as the built-in one.
    let handoff = client.post(relay.url(&path)).bearer_auth(&token).json(&json!({"handoff": true})).send().await.unwrap();
    assert_eq!(handoff.status(), 200);
    assert_eq!(visitor.next_message().await.text, "Je vous passe une personne. Elle vous répondra ici.");
    assert!(!bot_frame(&mut visitor).await.0);
    let stored = messages_in_database(&relay.data_dir, conversation).await;
    assert!(stored.iter().any(|(_, _, t)| t.starts_with("Handed over by the bot (the site's bot handed over)")), "{stored:?}");
    let late = client.post(relay.url(&path)).bearer_auth(&token).json(&answer).send().await.unwrap();
    assert_eq!(late.status(), 409, "after the hand-off the bot has nothing to say");
}
