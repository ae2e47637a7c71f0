//! Notifications nobody asked for (issue 13): anyone can type anyone's address into a widget, so
//! the shop's sender must not become a mail cannon or a phishing tool. Only a reply to something the
//! visitor wrote is mailed, one address gets one e-mail per burst and a few a day, a site a bounded
//! number a day, and the link points only at the site's own pages.

use std::time::Duration;

use confab_tests::smtp::SmtpSink;
use confab_tests::*;
use relay::Config;
use reqwest::Method;
use serde_json::json;
use shared::*;

const BATCH: Duration = Duration::from_millis(400);

async fn relay_with_mail(sink: &SmtpSink, dir: &std::path::Path, caps: (u32, u32)) -> TestRelay {
    let mut config = Config::new(dir);
    config.notify.smtp_url = Some(sink.url());
    config.notify.batch = BATCH;
    (config.notify.max_mails_per_address, config.notify.max_mails_per_site) = caps;
    TestRelay::start_with(dir, config).await
}

/// A visitor on `page` who wrote `text` (unless None), left `email`, and closed the tab; the
/// advisor sees them go.
async fn visitor_who_left(relay: &TestRelay, advisor: &mut AdvisorClient, page: &str, text: Option<&str>, email: &str) -> ConversationId {
    let mut v = relay.visitor().await;
    v.send(&VisitorClientFrame::Hello {
        v: PROTOCOL_VERSION,
        token: None,
        last_seq: 0,
        page: Some(page.into()),
        referrer: None,
        timezone: None,
        locale: None,
    })
    .await;
    let conversation = v.wait_for(|f| match f {
        VisitorServerFrame::Welcome { conversation, .. } => Some(*conversation),
        _ => None,
    })
    .await;
    if let Some(text) = text {
        v.say("q1", text).await.unwrap();
    }
    v.send(&VisitorClientFrame::SetEmail { email: email.into() }).await;
    v.wait_for(|f| matches!(f, VisitorServerFrame::Email { .. }).then_some(())).await;
    drop(v);
    // (One who never wrote is in nobody's inbox.)
    if text.is_some() {
        advisor.wait_for(|f| matches!(f, AdvisorServerFrame::Conversation { conversation: c } if c.id == conversation && !c.visitor_online).then_some(())).await;
    }
    conversation
}

fn to(mails: &[confab_tests::smtp::ReceivedMail], address: &str) -> usize {
    mails.iter().filter(|m| m.to.iter().any(|t| t == address)).count()
}

#[tokio::test]
async fn the_bots_greeting_to_a_visitor_who_only_left_an_address_mails_nobody() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_mail(&sink, dir.path(), (10, 100)).await;
    let admin = relay.login().await;
    let bot = json!({"enabled": true, "greeting": "Hi! I'm Tent Bot.", "suggestions": [], "rules": [], "collect_contact": false});
    let r = relay.request(Some(&admin), Method::PUT, &format!("/api/v1/admin/sites/{SITE}/bot"), Some(&bot)).await;
    assert!(r.status().is_success());
    let (mut advisor, _) = relay.advisor().await;

    // A script greets the widget with a victim's address and goes: the bot's greeting is committed.
    let victim = visitor_who_left(&relay, &mut advisor, "http://shop.test:8000/", None, "victim@elsewhere.test").await;
    // An advisor's message to them, without their having written, is not mailed either.
    advisor.reply(victim, "r0", "Hello there!").await.unwrap();
    // Someone who wrote and left is told about the reply.
    let honest = visitor_who_left(&relay, &mut advisor, "http://shop.test:8000/", Some("Do you ship to Spain?"), "ana@customer.test").await;
    advisor.reply(honest, "r1", "Yes, in 3 days.").await.unwrap();
    sink.wait_for(1, WAIT).await;
    tokio::time::sleep(BATCH * 3).await;
    let mails = sink.mails();
    assert_eq!(to(&mails, "ana@customer.test"), 1);
    assert_eq!(to(&mails, "victim@elsewhere.test"), 0, "nobody asked for these: {mails:#?}");
}

#[tokio::test]
async fn one_address_gets_one_email_per_burst_and_no_more_than_its_daily_cap() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_mail(&sink, dir.path(), (2, 100)).await;
    let (mut advisor, _) = relay.advisor().await;
    // Three visitors type the same address (a script, or one person in three browsers).
    let mut conversations = Vec::new();
    for i in 0..3 {
        conversations.push(visitor_who_left(&relay, &mut advisor, "http://shop.test:8000/", Some(&format!("question {i}")), "target@elsewhere.test").await);
    }
    let other = visitor_who_left(&relay, &mut advisor, "http://shop.test:8000/", Some("mine"), "other@customer.test").await;
    for (i, c) in conversations.iter().enumerate() {
        advisor.reply(*c, &format!("r{i}"), "An answer").await.unwrap();
    }
    advisor.reply(other, "ro", "Your answer").await.unwrap();

    let mails = sink.wait_for(3, WAIT).await;
    tokio::time::sleep(BATCH * 4).await;
    let mails = if sink.mails().len() > mails.len() { sink.mails() } else { mails };
    assert_eq!(to(&mails, "other@customer.test"), 1, "another address is not held up");
    let target: Vec<_> = mails.iter().filter(|m| m.to.iter().any(|t| t == "target@elsewhere.test")).collect();
    assert_eq!(target.len(), 2, "the daily cap of 2: {mails:#?}");
    let gap = target[1].received_at - target[0].received_at;
    // Not both at once (they would be milliseconds apart): the second waited for the burst, give or
    // take the clock's millisecond and the SMTP exchange.
    assert!(gap >= BATCH * 9 / 10, "one e-mail per burst to one address: the second came {gap:?} after the first");
}

#[tokio::test]
async fn a_site_sends_no_more_notification_emails_a_day_than_its_cap() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_mail(&sink, dir.path(), (10, 2)).await;
    let (mut advisor, _) = relay.advisor().await;
    for i in 0..3 {
        let c = visitor_who_left(&relay, &mut advisor, "http://shop.test:8000/", Some("hello"), &format!("n{i}@customer.test")).await;
        advisor.reply(c, &format!("r{i}"), "Hi").await.unwrap();
    }
    sink.wait_for(2, WAIT).await;
    tokio::time::sleep(BATCH * 4).await;
    assert_eq!(sink.mails().len(), 2, "the site's daily cap");
}

#[tokio::test]
async fn the_link_in_an_email_goes_only_to_the_sites_own_pages() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_mail(&sink, dir.path(), (10, 100)).await;
    let (mut advisor, _) = relay.advisor().await;
    // A script claims the visitor was on a page of its own.
    let c = visitor_who_left(&relay, &mut advisor, "https://evil.test/login?next=shop", Some("hi"), "ana@customer.test").await;
    advisor.reply(c, "r1", "Hello").await.unwrap();
    let text = sink.wait_for(1, WAIT).await[0].text();
    assert!(!text.contains("evil.test"), "{text}");
    assert!(text.contains(&format!("{SHOP_ORIGIN}/#confab-resume=")), "the site's own origin instead: {text}");

    // A page on the site's origin is kept.
    let c = visitor_who_left(&relay, &mut advisor, &format!("{SHOP_ORIGIN}/tents?id=3"), Some("hi"), "bo@customer.test").await;
    advisor.reply(c, "r2", "Hello").await.unwrap();
    let mails = sink.wait_for(2, WAIT).await;
    let text = mails.iter().find(|m| m.to[0] == "bo@customer.test").unwrap().text();
    assert!(text.contains(&format!("{SHOP_ORIGIN}/tents?id=3#confab-resume=")), "{text}");
}
