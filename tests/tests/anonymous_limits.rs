//! Limits on everything anonymous (issue 13), tried with a script that ignores the widget: open
//! sockets, new visitors and messages per client IP, messages and typing per socket, a hello deadline,
//! uploads per IP and unsent upload bytes. Every refusal says what and when; a message refused for
//! its rate goes through when sent again, once.

use std::time::Duration;

use confab_tests::*;
use relay::limits::LimitArgs;
use shared::*;

/// A relay whose limits are the harness's lifted ones, but for what `edit` sets.
async fn relay_with(edit: impl FnOnce(&mut LimitArgs)) -> TestRelay {
    TestRelay::start_configured(|dir| {
        let mut config = local_config(dir);
        edit(&mut config.limits);
        config
    })
    .await
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";

async fn upload(relay: &TestRelay, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(relay.url(&format!("/api/v1/uploads?site={SITE}&name=a.png")))
        .header("origin", SHOP_ORIGIN)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn one_client_ip_opens_only_so_many_visitor_sockets_and_a_closed_one_frees_its_place() {
    let relay = relay_with(|l| l.sockets_per_ip = 3).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(relay.visitor_socket(SITE, Some(SHOP_ORIGIN)).await.expect("within the limit"));
    }
    let refused = relay.visitor_socket(SITE, Some(SHOP_ORIGIN)).await.expect_err("the fourth is refused");
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["code"], "rate_limited");
    assert!(refused.retry_after.is_some_and(|s| s >= 1), "with Retry-After: {refused:?}");

    // Closing one gives its place back (once the relay has seen it go).
    drop(open.pop());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match relay.visitor_socket(SITE, Some(SHOP_ORIGIN)).await {
            Ok(_) => break,
            Err(_) if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("the freed place was not given back: {e:?}"),
        }
    }
}

#[tokio::test]
async fn new_visitors_per_ip_are_limited_but_a_returning_visitor_always_gets_in() {
    let relay = relay_with(|l| l.new_visitors_per_minute = 2).await;
    let (_a, first) = relay.new_visitor().await;
    let (_b, _) = relay.new_visitor().await;

    let mut third = relay.visitor().await;
    let e = third.hello(None, 0).await.expect_err("a third new visitor within the minute");
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert!(e.retry_after_ms.is_some_and(|ms| ms > 1000), "says when: {e:?}");
    assert_eq!(closed_with(&mut third.ws).await, 1013, "try again later");

    let mut back = relay.visitor().await;
    assert_eq!(back.hello(Some(&first.token), 0).await.unwrap().conversation, first.conversation);
}

#[tokio::test]
async fn a_socket_that_never_says_hello_is_closed() {
    let relay = relay_with(|l| l.hello_timeout_ms = 300).await;
    let mut silent = relay.visitor_socket(SITE, Some(SHOP_ORIGIN)).await.unwrap();
    assert_eq!(closed_with(&mut silent).await, 1008);

    // One that greets in time stays, past the deadline.
    let (mut greeted, _) = relay.new_visitor().await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    greeted.say("m1", "still here").await.expect("the greeted socket lives on");
}

#[tokio::test]
async fn messages_past_a_sockets_rate_are_refused_with_a_wait_and_go_through_once_when_sent_again() {
    let relay = relay_with(|l| {
        l.messages_per_second = 2;
        l.messages_burst = 3;
    })
    .await;
    let (mut v, welcome) = relay.new_visitor().await;
    for i in 0..6 {
        v.send(&VisitorClientFrame::Send { id: ClientMsgId(format!("m{i}")), text: format!("message {i}"), attachments: vec![] }).await;
    }
    let (mut acked, mut refused) = (Vec::new(), Vec::new());
    while acked.len() + refused.len() < 6 {
        match v.recv().await {
            VisitorServerFrame::Ack { id, .. } => acked.push(id.0),
            VisitorServerFrame::Error(e) => {
                assert_eq!(e.code, ErrorCode::RateLimited, "{e:?}");
                let wait = e.retry_after_ms.expect("a wait");
                refused.push((e.reference.expect("which message"), wait));
            }
            _ => {}
        }
    }
    assert_eq!(acked, ["m0", "m1", "m2"], "the burst passes");
    assert_eq!(refused.len(), 3);

    // As the widget does: wait as told and send the refused ones again.
    for (id, wait) in refused {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let n: usize = id[1..].parse().unwrap();
        v.say(&id, &format!("message {n}")).await.expect("accepted after the wait");
    }
    let (mut advisor, _) = relay.advisor().await;
    let texts: Vec<String> = advisor.open(welcome.conversation).await.into_iter().map(|m| m.text).collect();
    assert_eq!(texts, (0..6).map(|i| format!("message {i}")).collect::<Vec<_>>(), "every message once, in order");
}

#[tokio::test]
async fn the_sockets_of_one_client_ip_share_a_message_allowance() {
    // A script that opens many visitors, each under its socket's rate, still gets one IP's share.
    let relay = relay_with(|l| l.messages_per_ip_per_minute = 120).await;
    let (mut a, _) = relay.new_visitor().await;
    let (mut b, welcome_b) = relay.new_visitor().await;
    for i in 0..100 {
        a.send(&VisitorClientFrame::Send { id: ClientMsgId(format!("a{i}")), text: format!("a {i}"), attachments: vec![] }).await;
        b.send(&VisitorClientFrame::Send { id: ClientMsgId(format!("b{i}")), text: format!("b {i}"), attachments: vec![] }).await;
    }
    // Each socket's answers: how many acked, and the refused ones with their wait.
    async fn answers(v: &mut VisitorClient) -> (usize, Vec<(String, u64)>) {
        let (mut acked, mut refused) = (0, Vec::new());
        while acked + refused.len() < 100 {
            match v.recv().await {
                VisitorServerFrame::Ack { .. } => acked += 1,
                VisitorServerFrame::Error(e) => {
                    assert_eq!(e.code, ErrorCode::RateLimited, "{e:?}");
                    assert!(e.message.contains("your network"), "{}", e.message);
                    refused.push((e.reference.expect("which message"), e.retry_after_ms.expect("a wait")));
                }
                _ => {}
            }
        }
        (acked, refused)
    }
    let ((acked_a, _), (acked_b, refused_b)) = (answers(&mut a).await, answers(&mut b).await);
    // 120 a minute, one back every 500 ms: of the 200 sent at once, about 120 go through together.
    let through = acked_a + acked_b;
    assert!((120..=140).contains(&through), "{through} of 200 messages from one IP went through");
    let (id, wait) = refused_b.first().cloned().expect("the second socket was refused too");
    assert!(wait <= 500, "retry after {wait} ms");

    // As the widget does: wait as told, send it again.
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let n: usize = id[1..].parse().unwrap();
    b.say(&id, &format!("b {n}")).await.expect("accepted after the wait");
    let (mut advisor, _) = relay.advisor().await;
    let texts: Vec<String> = advisor.open(welcome_b.conversation).await.into_iter().map(|m| m.text).collect();
    assert_eq!(texts.iter().filter(|t| **t == format!("b {n}")).count(), 1, "stored once");
}

#[tokio::test]
async fn a_typing_flood_reaches_advisors_only_a_few_times_a_second() {
    let relay = relay_with(|l| l.typing_per_second = 4).await;
    let (mut advisor, _) = relay.advisor().await;
    let (mut v, welcome) = relay.new_visitor().await;
    v.say("m1", "hello").await.unwrap();
    let started = tokio::time::Instant::now();
    for i in 0..400 {
        v.send(&VisitorClientFrame::Typing { on: i % 2 == 0 }).await;
    }
    // A frame after the flood marks its end on the advisor's socket.
    v.say("m2", "done").await.unwrap();
    let mut forwarded = 0;
    loop {
        match advisor.recv().await {
            AdvisorServerFrame::Typing { conversation, .. } if conversation == welcome.conversation => forwarded += 1,
            AdvisorServerFrame::Message { message } if message.text == "done" => break,
            _ => {}
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // GCRA at 4/s: a burst of 4, then one every 250 ms (the flood itself sent 400).
    let most = 4 + (seconds * 4.0).ceil() as usize;
    assert!(forwarded <= most, "{forwarded} typing frames reached the advisor in {seconds:.2} s (at most {most})");
    assert!(forwarded >= 1, "typing still reaches the advisor");
}

#[tokio::test]
async fn uploads_per_ip_per_hour_and_unsent_bytes_per_visitor_are_bounded() {
    let relay = relay_with(|l| l.uploads_per_hour = 2).await;
    let (_v, welcome) = relay.new_visitor().await;
    assert_eq!(upload(&relay, &welcome.token).await.status(), 201);
    assert_eq!(upload(&relay, &welcome.token).await.status(), 201);
    let third = upload(&relay, &welcome.token).await;
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    assert_eq!(third.json::<ErrorFrame>().await.unwrap().code, ErrorCode::RateLimited);

    // Files uploaded and never sent: a visitor may keep only so many bytes of them.
    let relay = relay_with(|l| l.unsent_upload_bytes_per_visitor = 2 * PNG.len() as u64).await;
    let (_v, welcome) = relay.new_visitor().await;
    assert_eq!(upload(&relay, &welcome.token).await.status(), 201);
    assert_eq!(upload(&relay, &welcome.token).await.status(), 201);
    let full = upload(&relay, &welcome.token).await;
    assert_eq!(full.status(), 429);
    let e = full.json::<ErrorFrame>().await.unwrap();
    assert_eq!(e.code, ErrorCode::QuotaExceeded);
    assert!(e.message.contains("aren't sent yet"), "{}", e.message);
    // Another visitor of the site has their own allowance.
    let (_w, other) = relay.new_visitor().await;
    assert_eq!(upload(&relay, &other.token).await.status(), 201);
}

#[tokio::test]
async fn hellos_that_say_nothing_leave_nothing_in_the_inbox_and_are_forgotten() {
    let relay = relay_with(|l| l.forget_silent_visitors_after = 1).await;
    let admin = relay.login().await;
    let bot = serde_json::json!({"enabled": true, "greeting": "Hi! I'm Tent Bot.", "suggestions": ["Delivery"], "rules": [], "collect_contact": false});
    let r = relay.request(Some(&admin), reqwest::Method::PUT, &format!("/api/v1/admin/sites/{SITE}/bot"), Some(&bot)).await;
    assert!(r.status().is_success());
    let (mut advisor, _) = relay.advisor().await;

    // A script says hello again and again (the bot greets each), types, leaves an address, goes.
    let mut silent = Vec::new();
    for i in 0..5 {
        let (mut v, welcome) = relay.new_visitor().await;
        assert_eq!(welcome.last_seq, 1, "the bot greeted");
        v.send(&VisitorClientFrame::Typing { on: true }).await;
        v.send(&VisitorClientFrame::SetEmail { email: format!("victim{i}@elsewhere.test") }).await;
        v.wait_for(|f| matches!(f, VisitorServerFrame::Email { .. }).then_some(())).await;
        silent.push(welcome.token);
    }
    // One person writes; another only asks for a person.
    let (mut writer, wrote) = relay.new_visitor().await;
    writer.say("w1", "Is the blue tent waterproof?").await.unwrap();
    let (mut asker, asked) = relay.new_visitor().await;
    asker.send(&VisitorClientFrame::Handoff).await;

    // The dashboard was told about those two, and only those.
    let mut told = std::collections::BTreeSet::new();
    while told.len() < 2 {
        if let AdvisorServerFrame::Conversation { conversation } = advisor.recv().await {
            told.insert(conversation.id);
        }
    }
    assert_eq!(told, [wrote.conversation, asked.conversation].into(), "the inbox rows pushed live");
    let (_, inbox) = relay.advisor().await;
    let listed: std::collections::BTreeSet<_> = inbox.iter().map(|c| c.id).collect();
    assert_eq!(listed, told, "the inbox lists the started conversations only");

    // A second later (the keep time here) the silent visitors are forgotten, tokens and all.
    drop(writer);
    drop(asker);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = sql_i64(&relay.data_dir, "SELECT COUNT(*) FROM visitors").await.unwrap();
        if left == 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{left} visitors still stored, 2 expected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sql_i64(&relay.data_dir, "SELECT COUNT(*) FROM conversations").await, Some(2));
    assert_eq!(sql_i64(&relay.data_dir, "SELECT COUNT(*) FROM messages WHERE text LIKE '%Tent Bot%'").await, Some(2), "their greetings stay");
    let mut back = relay.visitor().await;
    assert_eq!(back.hello(Some(&silent[0]), 0).await.expect_err("forgotten").code, ErrorCode::BadToken);
    let mut back = relay.visitor().await;
    assert_eq!(back.hello(Some(&wrote.token), 0).await.unwrap().conversation, wrote.conversation, "kept");
}
