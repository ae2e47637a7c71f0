//! Identity verification end to end: a site's server signs its user's id (HMAC-SHA256 under the site's
//! identity secret), the widget passes it on `identify`, and a verified user finds one thread on every
//! device; without a valid signature the user id binds nothing.

use confab_tests::identity::{customer, identity_secret, user_hash};
use confab_tests::*;
use reqwest::Method;
use serde_json::{json, Value};
use shared::*;

async fn identify(v: &mut VisitorClient, user_id: &str, user_hash: Option<String>, name: Option<&str>) -> Result<(bool, bool), ErrorFrame> {
    identify_for_token(v, user_id, user_hash, name).await.map(|(verified, switched, _)| (verified, switched))
}

/// `identify`, and the device's new token when the relay gave one (a verified binding).
async fn identify_for_token(
    v: &mut VisitorClient,
    user_id: &str,
    user_hash: Option<String>,
    name: Option<&str>,
) -> Result<(bool, bool, Option<String>), ErrorFrame> {
    v.send(&VisitorClientFrame::Identify {
        user_id: user_id.into(),
        user_hash,
        name: name.map(str::to_owned),
        email: Some(format!("{user_id}@example.com")),
    })
    .await;
    loop {
        match v.recv().await {
            VisitorServerFrame::Identified { verified, switched, token } => return Ok((verified, switched, token)),
            VisitorServerFrame::Error(e) => return Err(e),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_valid_hash_binds_the_visitor_and_a_second_device_finds_the_same_thread() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let secret = identity_secret(&relay, &cookie, true).await;

    let (mut phone, first) = relay.new_visitor().await;
    phone.say("p1", "Hello from my phone").await.expect("ack");
    assert_eq!(identify(&mut phone, "user-42", Some(user_hash(&secret, "user-42")), Some("Ada")).await, Ok((true, false)));

    // The laptop starts anonymous with an empty thread, identifies, and is switched to the user's.
    let (mut laptop, second) = relay.new_visitor().await;
    assert_ne!(second.conversation, first.conversation);
    let (verified, switched, token) = identify_for_token(&mut laptop, "user-42", Some(user_hash(&secret, "user-42")), None).await.unwrap();
    assert!(verified && switched);
    let token = token.expect("a verified binding gives the device a new token");
    assert_ne!(token, second.token);
    let mut again = relay.visitor().await;
    let resumed = again.hello(Some(&token), 0).await.expect("the laptop's new token works");
    assert_eq!(resumed.conversation, first.conversation, "the laptop's new token opens the user's thread");
    assert_eq!(resumed.replay.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["Hello from my phone"]);

    // A message from the laptop reaches the phone's live socket: one thread.
    again.say("l1", "And now from my laptop").await.expect("ack");
    assert_eq!(phone.next_message().await.text, "And now from my laptop");
    let profile = customer(&relay, &cookie, first.conversation).await;
    assert_eq!(profile.name.as_deref(), Some("Ada"));
    assert_eq!(profile.email.as_deref(), Some("user-42@example.com"));
}

#[tokio::test]
async fn a_wrong_or_missing_hash_is_refused_when_required_and_nothing_changes() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let secret = identity_secret(&relay, &cookie, true).await;
    let (mut owner, owned) = relay.new_visitor().await;
    owner.say("o1", "My private order question").await.expect("ack");
    assert_eq!(identify(&mut owner, "user-7", Some(user_hash(&secret, "user-7")), None).await, Ok((true, false)));

    let (mut intruder, theirs) = relay.new_visitor().await;
    intruder.say("i1", "hi").await.expect("ack");
    let wrong = identify(&mut intruder, "user-7", Some(user_hash("guessed secret", "user-7")), Some("Mallory")).await.unwrap_err();
    assert_eq!(wrong.code, ErrorCode::IdentityRejected);
    assert!(wrong.message.contains("does not match"), "{}", wrong.message);
    let missing = identify(&mut intruder, "user-7", None, Some("Mallory")).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::IdentityRejected);
    assert!(missing.message.contains("requires a verified identity"), "{}", missing.message);

    // The intruder's token still opens only their own thread, and their name wasn't stored.
    let mut again = relay.visitor().await;
    let resumed = again.hello(Some(&theirs.token), 0).await.unwrap();
    assert_eq!(resumed.conversation, theirs.conversation);
    assert_ne!(resumed.conversation, owned.conversation);
    assert_eq!(customer(&relay, &cookie, theirs.conversation).await.name, None);
}

#[tokio::test]
async fn an_anonymous_thread_is_merged_into_the_users_thread_on_identify() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let secret = identity_secret(&relay, &cookie, false).await;
    let (mut before, home) = relay.new_visitor().await;
    before.say("h1", "First, from home").await.expect("ack");
    identify(&mut before, "u-9", Some(user_hash(&secret, "u-9")), None).await.unwrap();

    let (mut advisor, _) = relay.advisor().await;
    let (mut anon, shop) = relay.new_visitor().await;
    anon.say("s1", "Asking before logging in").await.expect("ack");
    anon.say("s2", "Still anonymous").await.expect("ack");
    advisor.summary_where(shop.conversation, |s| s.last_seq == 2).await;
    assert_eq!(identify(&mut anon, "u-9", Some(user_hash(&secret, "u-9")), None).await, Ok((true, true)));

    // The advisor sees one conversation: the anonymous one leaves the inbox, the user's holds both.
    advisor
        .wait_for(|f| matches!(f, AdvisorServerFrame::Removed { conversation } if *conversation == shop.conversation).then_some(()))
        .await;
    advisor
        .wait_for(|f| matches!(f, AdvisorServerFrame::Conversation { conversation: c } if c.id == home.conversation && c.last_seq == 3).then_some(()))
        .await;
    let thread = advisor.open(home.conversation).await;
    let texts: Vec<_> = thread.iter().map(|m| (m.seq, m.text.as_str())).collect();
    assert_eq!(texts, [(1, "First, from home"), (2, "Asking before logging in"), (3, "Still anonymous")]);
    let (_, inbox) = relay.advisor().await;
    assert!(inbox.iter().all(|s| s.id != shop.conversation), "the emptied conversation is not listed");
    // The user's other device got the moved messages live.
    assert_eq!(before.next_message().await.text, "Asking before logging in");
    assert_eq!(before.next_message().await.text, "Still anonymous");
}

#[tokio::test]
async fn without_a_valid_hash_name_and_email_are_kept_but_the_user_id_binds_nothing() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let secret = identity_secret(&relay, &cookie, false).await;
    let (mut owner, owned) = relay.new_visitor().await;
    owner.say("o1", "mine").await.expect("ack");
    identify(&mut owner, "user-1", Some(user_hash(&secret, "user-1")), None).await.unwrap();

    let (mut other, theirs) = relay.new_visitor().await;
    other.say("x1", "hello").await.expect("ack");
    assert_eq!(identify(&mut other, "user-1", None, Some("Grace")).await, Ok((false, false)));
    assert_eq!(identify(&mut other, "user-1", Some("00".repeat(32)), Some("Grace")).await, Ok((false, false)));
    let mut again = relay.visitor().await;
    let resumed = again.hello(Some(&theirs.token), 0).await.unwrap();
    assert_eq!(resumed.conversation, theirs.conversation, "no claim on user-1's thread");
    assert_ne!(resumed.conversation, owned.conversation);
    let profile = customer(&relay, &cookie, theirs.conversation).await;
    assert_eq!(profile.name.as_deref(), Some("Grace"));
    assert_eq!(profile.email.as_deref(), Some("user-1@example.com"));
}

#[tokio::test]
async fn after_shutdown_a_fresh_visitor_is_anonymous_until_the_user_identifies_again() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let secret = identity_secret(&relay, &cookie, true).await;
    let (mut v, mine) = relay.new_visitor().await;
    v.say("m1", "about my order").await.expect("ack");
    identify(&mut v, "user-5", Some(user_hash(&secret, "user-5")), None).await.unwrap();
    drop(v);

    // `Confab('shutdown')` forgets the token on the device: the next hello has none.
    let (_fresh, fresh) = relay.new_visitor().await;
    assert_ne!(fresh.conversation, mine.conversation);
    assert!(fresh.replay.is_empty(), "nothing of the user's thread without identifying");
    // Identifying again brings the thread back.
    let mut fresh_socket = relay.visitor().await;
    fresh_socket.hello(Some(&fresh.token), 0).await.unwrap();
    let (verified, switched, token) = identify_for_token(&mut fresh_socket, "user-5", Some(user_hash(&secret, "user-5")), None).await.unwrap();
    assert!(verified && switched);
    let mut back = relay.visitor().await;
    assert_eq!(back.hello(token.as_deref(), 0).await.unwrap().conversation, mine.conversation);
}

#[tokio::test]
async fn a_device_bound_to_one_user_cannot_identify_as_another() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let secret = identity_secret(&relay, &cookie, true).await;
    let (mut v, _) = relay.new_visitor().await;
    identify(&mut v, "alice", Some(user_hash(&secret, "alice")), None).await.unwrap();
    let e = identify(&mut v, "bob", Some(user_hash(&secret, "bob")), None).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::IdentityRejected);
    assert!(e.message.contains("shutdown"), "{}", e.message);
}

#[tokio::test]
async fn the_admin_api_sets_appearance_and_the_widget_gets_it_in_the_welcome() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let path = format!("/api/v1/admin/sites/{SITE}");
    let patch = json!({"position": "left", "launcher": "help", "avatar": "https://cdn.example/logo.png", "color": "#0f766e"});
    let r = relay.request(Some(&cookie), Method::PATCH, &path, Some(&patch)).await;
    assert_eq!(r.status(), 200);
    let site: Value = r.json().await.unwrap();
    assert_eq!((site["position"].as_str(), site["launcher"].as_str()), (Some("left"), Some("help")));
    assert_eq!(site["identity_secret"], Value::Null);
    let (_, welcome) = relay.new_visitor().await;
    assert_eq!(welcome.site.position, "left");
    assert_eq!(welcome.site.launcher, "help");
    assert_eq!(welcome.site.avatar, "https://cdn.example/logo.png");
    assert_eq!(welcome.site.color, "#0f766e");

    for (bad, why) in [
        (json!({"position": "top"}), "position"),
        (json!({"launcher": "rocket"}), "launcher"),
        (json!({"avatar": "http://cdn.example/logo.png"}), "avatar"),
        (json!({"avatar": "javascript:alert(1)"}), "avatar"),
        (json!({"require_identity": true}), "identity secret"),
    ] {
        let r = relay.request(Some(&cookie), Method::PATCH, &path, Some(&bad)).await;
        assert_eq!(r.status(), 400, "{bad}");
        let e: ErrorFrame = r.json().await.unwrap();
        assert!(e.message.contains(why), "{bad}: {}", e.message);
    }
    // Rotating gives a new secret each time.
    let first = identity_secret(&relay, &cookie, false).await;
    let second = identity_secret(&relay, &cookie, false).await;
    assert_ne!(first, second);
    assert_eq!(first.len(), 64);
}

#[tokio::test]
async fn the_webview_page_loads_the_widget_full_screen_under_a_strict_policy() {
    let relay = TestRelay::start().await;
    let r = reqwest::get(relay.url(&format!("/c/{SITE}?locale=fr"))).await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(html.contains("viewport-fit=cover"));
    assert!(html.contains(&format!("data-site=\"{SITE}\" data-mode=\"fullscreen\" data-locale=\"fr\"")), "{html}");
    assert!(html.contains("/webview/bridge.js"));
    assert_eq!(reqwest::get(relay.url("/c/no-such-site")).await.unwrap().status(), 404);
    let bridge = reqwest::get(relay.url("/webview/bridge.js")).await.unwrap();
    assert_eq!(bridge.status(), 200);
    assert!(bridge.text().await.unwrap().contains("webkit.messageHandlers"));
    // The relay's own page may open a socket for any site, without being an allowed origin.
    assert!(relay.visitor_socket(SITE, Some(&relay.origin())).await.is_ok());
    assert!(relay.visitor_socket(SITE, Some("https://elsewhere.example")).await.is_err());
}
