//! Thread take-overs, tried as an attacker would (issue 13): a resume link sent to a logged-in
//! customer, a token kept after the customer's verified `identify`, a send on a socket whose thread
//! moved, and an e-mail typed into the widget to borrow another customer's history.

use std::time::Duration;

use confab_tests::smtp::SmtpSink;
use confab_tests::identity::{customer, identity_secret, user_hash};
use confab_tests::*;
use reqwest::Method;
use serde_json::{json, Value};
use shared::*;

const BATCH: Duration = Duration::from_millis(300);
const ATTACKER_EMAIL: &str = "mallory@evil.test";

/// A relay that mails notifications to a local sink (its own temporary data).
async fn relay_with_mail(sink: &SmtpSink) -> TestRelay {
    let url = sink.url();
    TestRelay::start_configured(|dir| {
        let mut config = local_config(dir);
        config.notify.smtp_url = Some(url);
        config.notify.batch = BATCH;
        config
    })
    .await
}

/// A mailing relay with identity verification set up, and the advisor's socket.
struct Shop {
    sink: SmtpSink,
    relay: TestRelay,
    cookie: String,
    secret: String,
    advisor: AdvisorClient,
}

async fn shop() -> Shop {
    let sink = SmtpSink::start().await;
    let relay = relay_with_mail(&sink).await;
    let cookie = relay.login().await;
    let secret = identity_secret(&relay, &cookie, false).await;
    let (advisor, _) = relay.advisor().await;
    Shop { sink, relay, cookie, secret, advisor }
}

/// The site's verified `identify` (no name or e-mail): `(switched, the device's new token)`.
async fn identify(v: &mut VisitorClient, secret: &str, user_id: &str) -> (bool, Option<String>) {
    v.send(&VisitorClientFrame::Identify { user_id: user_id.into(), user_hash: Some(user_hash(secret, user_id)), name: None, email: None })
        .await;
    v.wait_for(|f| match f {
        VisitorServerFrame::Identified { verified, switched, token } => {
            assert!(verified, "the hash is right");
            Some((*switched, token.clone()))
        }
        VisitorServerFrame::Error(e) => panic!("identify refused: {e:?}"),
        _ => None,
    })
    .await
}

/// The attacker's own anonymous thread, with their e-mail, left so that an advisor's reply mails them
/// a resume link: `(token, conversation, resume code)`.
async fn attacker_with_a_resume_link(relay: &TestRelay, sink: &SmtpSink, advisor: &mut AdvisorClient) -> (String, ConversationId, String) {
    let (mut attacker, welcome) = relay.new_visitor().await;
    attacker.say("a1", "Hi, a question about my order").await.unwrap();
    attacker.send(&VisitorClientFrame::SetEmail { email: ATTACKER_EMAIL.into() }).await;
    attacker.wait_for(|f| matches!(f, VisitorServerFrame::Email { .. }).then_some(())).await;
    drop(attacker);
    advisor.summary_where(welcome.conversation, |s| !s.visitor_online).await;
    advisor.reply(welcome.conversation, "r1", "Sure, what is it?").await.unwrap();
    let mails = sink.wait_for(1, WAIT).await;
    (welcome.token, welcome.conversation, mails[0].resume_code())
}

/// What the loader posts: the code, and this browser's own token if it has one.
async fn redeem(relay: &TestRelay, code: &str, mine: Option<&str>) -> reqwest::Response {
    reqwest::Client::new()
        .post(relay.url(&format!("/api/v1/sites/{SITE}/resume")))
        .header("origin", SHOP_ORIGIN)
        .header("content-type", "text/plain")
        .body(json!({ "code": code, "token": mine }).to_string())
        .send()
        .await
        .unwrap()
}

async fn redeemed_token(relay: &TestRelay, code: &str, mine: Option<&str>) -> String {
    let r = redeem(relay, code, mine).await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_resume_link_sent_to_a_logged_in_customer_does_not_let_its_sender_read_their_thread() {
    let Shop { sink, relay, cookie, secret, mut advisor } = shop().await;

    // The real customer's verified thread, written from their phone.
    let (mut phone, users) = relay.new_visitor().await;
    phone.say("u1", "My card ending 4242 was charged twice").await.unwrap();
    identify(&mut phone, &secret, "user-1").await;

    let (attacker_token, attackers, code) = attacker_with_a_resume_link(&relay, &sink, &mut advisor).await;
    // The attacker keeps a socket open on their thread while the customer takes the bait.
    let mut watching = relay.visitor().await;
    watching.hello(Some(&attacker_token), 0).await.unwrap();

    // The customer's laptop opens the link (no thread there yet), then the shop identifies them.
    let bait = redeemed_token(&relay, &code, None).await;
    let mut laptop = relay.visitor().await;
    assert_eq!(laptop.hello(Some(&bait), 0).await.unwrap().conversation, attackers);
    let (switched, fresh) = identify(&mut laptop, &secret, "user-1").await;
    assert!(switched, "merged into the user's thread");
    let fresh = fresh.expect("the laptop gets a token of its own");

    // The attacker is out: their open socket is closed and their token opens nothing.
    assert_eq!(closed_with(&mut watching.ws).await, 1008);
    let mut again = relay.visitor().await;
    assert_eq!(again.hello(Some(&attacker_token), 0).await.unwrap_err().code, ErrorCode::BadToken);
    let mut again = relay.visitor().await;
    assert_eq!(again.hello(Some(&bait), 0).await.unwrap_err().code, ErrorCode::BadToken, "the link's token is replaced too");
    // The customer's laptop keeps the thread with its new token, and the customer's replies aren't
    // mailed to the attacker's address.
    let mut laptop = relay.visitor().await;
    let back = laptop.hello(Some(&fresh), 0).await.unwrap();
    assert_eq!(back.conversation, users.conversation);
    assert!(back.replay.iter().any(|m| m.text.contains("4242")));
    assert_ne!(customer(&relay, &cookie, users.conversation).await.email.as_deref(), Some(ATTACKER_EMAIL));
}

#[tokio::test]
async fn binding_a_new_users_visitor_revokes_every_other_token_it_had() {
    let Shop { sink, relay, cookie, secret, mut advisor } = shop().await;
    let (attacker_token, attackers, code) = attacker_with_a_resume_link(&relay, &sink, &mut advisor).await;
    let mut watching = relay.visitor().await;
    watching.hello(Some(&attacker_token), 0).await.unwrap();

    // A first-time user: the attacker's visitor becomes theirs (nothing to merge into).
    let bait = redeemed_token(&relay, &code, None).await;
    let mut victim = relay.visitor().await;
    victim.hello(Some(&bait), 0).await.unwrap();
    let (switched, fresh) = identify(&mut victim, &secret, "user-2").await;
    assert!(!switched);
    let fresh = fresh.expect("a new token for the bound visitor");

    assert_eq!(closed_with(&mut watching.ws).await, 1008);
    let mut again = relay.visitor().await;
    assert_eq!(again.hello(Some(&attacker_token), 0).await.unwrap_err().code, ErrorCode::BadToken);
    // The victim's later messages stay theirs: the same socket keeps working, the new token too.
    victim.say("v1", "My address is 1 Main St").await.unwrap();
    let mut reload = relay.visitor().await;
    assert_eq!(reload.hello(Some(&fresh), 0).await.unwrap().conversation, attackers);
    let profile = customer(&relay, &cookie, attackers).await;
    assert_eq!(profile.email, None, "the e-mail the attacker typed is gone: replies are not mailed to them");
}

#[tokio::test]
async fn a_resume_link_never_replaces_a_thread_the_browser_has_written_in() {
    let sink = SmtpSink::start().await;
    let relay = relay_with_mail(&sink).await;
    let (mut advisor, _) = relay.advisor().await;
    let (attacker_token, attackers, code) = attacker_with_a_resume_link(&relay, &sink, &mut advisor).await;

    // A browser holding its own conversation with a message: refused, the code kept.
    let (mut own, mine) = relay.new_visitor().await;
    own.say("m1", "my own question").await.unwrap();
    let r = redeem(&relay, &code, Some(&mine.token)).await;
    assert_eq!(r.status(), 200, "an answer, not an error: the shop's console stays clean");
    assert_eq!(r.headers()["access-control-allow-origin"], SHOP_ORIGIN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "resume_conflict");
    assert!(body.get("token").is_none());
    assert_eq!(body["email"], "m•••@evil.test", "whose conversation the link continues");
    let mut check = relay.visitor().await;
    assert_eq!(check.hello(Some(&mine.token), 0).await.unwrap().conversation, mine.conversation, "nothing changed");

    // A browser whose thread is empty, or the link's own visitor's, may open it.
    let (_idle, empty) = relay.new_visitor().await;
    let token = redeemed_token(&relay, &code, Some(&empty.token)).await;
    let mut opened = relay.visitor().await;
    assert_eq!(opened.hello(Some(&token), 0).await.unwrap().conversation, attackers);
    drop(opened);
    advisor.summary_where(attackers, |s| !s.visitor_online).await;
    advisor.reply(attackers, "r2", "Anything else?").await.unwrap();
    let second_code = sink.wait_for(2, WAIT).await[1].resume_code();
    let token = redeemed_token(&relay, &second_code, Some(&attacker_token)).await;
    let mut same = relay.visitor().await;
    assert_eq!(same.hello(Some(&token), 0).await.unwrap().conversation, attackers);
}

#[tokio::test]
async fn a_send_on_a_socket_whose_thread_was_merged_is_refused_not_acked_into_the_emptied_conversation() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let secret = identity_secret(&relay, &cookie, false).await;
    let (mut home, users) = relay.new_visitor().await;
    home.say("h1", "From home").await.unwrap();
    identify(&mut home, &secret, "user-3").await;

    let (mut shop, anon) = relay.new_visitor().await;
    shop.say("s1", "Before logging in").await.unwrap();
    let (switched, fresh) = identify(&mut shop, &secret, "user-3").await;
    assert!(switched);
    // A client that ignores the switch and keeps sending on the same socket.
    let refused = shop.say("s2", "Sent without reconnecting").await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::ThreadMoved);
    assert_eq!(refused.reference.as_deref(), Some("s2"));

    // Reconnecting as told, the same message id goes into the user's thread once.
    let mut reconnected = relay.visitor().await;
    let welcome = reconnected.hello(fresh.as_deref(), 0).await.unwrap();
    assert_eq!(welcome.conversation, users.conversation);
    reconnected.say("s2", "Sent without reconnecting").await.unwrap();
    let (mut advisor, _) = relay.advisor().await;
    let thread = advisor.open(users.conversation).await;
    let texts: Vec<&str> = thread.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["From home", "Before logging in", "Sent without reconnecting"]);
    // The emptied conversation is in no inbox any more, and holds nothing.
    let sql = format!("SELECT COUNT(*) FROM messages WHERE conversation_id = {}", anon.conversation.0);
    assert_eq!(sql_i64(&relay.data_dir, &sql).await, Some(0), "nothing was acked into the emptied conversation");
}

#[tokio::test]
async fn an_email_typed_into_the_widget_is_marked_unverified_and_pulls_in_nobody_elses_conversations() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let secret = identity_secret(&relay, &cookie, false).await;

    // The real customer: verified, with their e-mail from the shop.
    let (mut real, theirs) = relay.new_visitor().await;
    real.say("r1", "Refund for order 991").await.unwrap();
    real.send(&VisitorClientFrame::Identify {
        user_id: "user-4".into(),
        user_hash: Some(user_hash(&secret, "user-4")),
        name: Some("Grace Hopper".into()),
        email: Some("grace@customer.test".into()),
    })
    .await;
    real.wait_for(|f| matches!(f, VisitorServerFrame::Identified { verified: true, .. }).then_some(())).await;

    // Someone else types her address (and her name) into the widget.
    let (mut impostor, fake) = relay.new_visitor().await;
    impostor.say("i1", "Please send my order to a new address").await.unwrap();
    impostor.send(&VisitorClientFrame::SetEmail { email: "Grace@Customer.test".into() }).await;
    impostor.wait_for(|f| matches!(f, VisitorServerFrame::Email { .. }).then_some(())).await;
    impostor
        .send(&VisitorClientFrame::Identify { user_id: "user-4".into(), user_hash: None, name: Some("Grace Hopper".into()), email: None })
        .await;
    impostor.wait_for(|f| matches!(f, VisitorServerFrame::Identified { verified: false, .. }).then_some(())).await;

    let profile = customer(&relay, &cookie, fake.conversation).await;
    assert_eq!(profile.email.as_deref(), Some("Grace@Customer.test"));
    assert!(profile.email_unverified && profile.name_unverified, "marked as the visitor's own word: {profile:?}");
    assert!(profile.previous.is_empty(), "her conversations are not shown beside the impostor's: {:?}", profile.previous);
    let real_profile = customer(&relay, &cookie, theirs.conversation).await;
    assert!(!real_profile.email_unverified && !real_profile.name_unverified);
    assert!(real_profile.previous.iter().all(|p| p.id != fake.conversation), "nor the impostor's beside hers");

    let (_, inbox) = relay.advisor().await;
    let row = |id: ConversationId| inbox.iter().find(|s| s.id == id).unwrap().clone();
    assert!(row(fake.conversation).unverified, "the inbox row is marked");
    assert!(!row(theirs.conversation).unverified);

    // An advisor who checked it vouches for it: the mark goes.
    let r = relay
        .request(Some(&cookie), Method::PATCH, &format!("/api/v1/conversations/{}/customer", fake.conversation.0), Some(&json!({"email": "grace@customer.test"})))
        .await;
    assert_eq!(r.status(), 200);
    let profile: CustomerProfile = r.json().await.unwrap();
    assert!(!profile.email_unverified && profile.name_unverified);
}
