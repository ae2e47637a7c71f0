//! Delivery and read receipts both ways, advisor presence, and the visitor's online state.

use confab_tests::*;
use shared::*;

fn delivered(f: &VisitorServerFrame) -> Option<Seq> {
    match f {
        VisitorServerFrame::Delivered { up_to } => Some(*up_to),
        _ => None,
    }
}

fn presence(f: &VisitorServerFrame) -> Option<bool> {
    match f {
        VisitorServerFrame::Presence { advisors_online } => Some(*advisors_online),
        _ => None,
    }
}

#[tokio::test]
async fn a_visitor_learns_when_advisors_come_online_and_leave() {
    let relay = TestRelay::start().await;
    let (mut visitor, welcome) = relay.new_visitor().await;
    assert_eq!(welcome.site.reply_time, "usually replies within a day");
    let (advisor, _) = relay.advisor().await;
    assert!(visitor.wait_for(presence).await);
    // A visitor arriving now is told at once.
    let mut late = relay.visitor().await;
    late.send(&VisitorClientFrame::Hello { v: PROTOCOL_VERSION, token: None, last_seq: 0, page: None, referrer: None, timezone: None, locale: None }).await;
    match late.recv().await {
        VisitorServerFrame::Welcome { advisors_online, .. } => assert!(advisors_online),
        other => panic!("expected welcome, got {other:?}"),
    }
    drop(advisor);
    assert!(!visitor.wait_for(presence).await);
}

#[tokio::test]
async fn a_visitor_message_is_delivered_when_an_advisors_dashboard_has_it() {
    let relay = TestRelay::start().await;
    let (mut visitor, w) = relay.new_visitor().await;
    // No advisor online: acked (sent) but not delivered; the visitor only learns their place in line.
    visitor.say("v-1", "anyone?").await.unwrap();
    while let Some(frame) = visitor.try_recv(std::time::Duration::from_millis(300)).await {
        assert!(matches!(frame, VisitorServerFrame::Queue { position: 1, wait_ms: None }), "{frame:?}");
    }

    // An advisor opens the thread: delivered up to it.
    let (mut advisor, _) = relay.advisor().await;
    assert!(visitor.wait_for(presence).await);
    advisor.open(w.conversation).await;
    assert_eq!(visitor.wait_for(delivered).await, 1);

    // With an advisor online, the next message is delivered live.
    visitor.say("v-2", "hello again").await.unwrap();
    assert_eq!(visitor.wait_for(delivered).await, 2);

    // A returning visitor's welcome carries both receipts.
    advisor.send(&AdvisorClientFrame::Read { conversation: w.conversation, up_to: 2 }).await;
    assert_eq!(
        visitor.wait_for(|f| match f {
            VisitorServerFrame::Read { up_to } => Some(*up_to),
            _ => None,
        })
        .await,
        2
    );
    let mut back = relay.visitor().await;
    back.send(&VisitorClientFrame::Hello { v: PROTOCOL_VERSION, token: Some(w.token.clone()), last_seq: 2, page: None, referrer: None, timezone: None, locale: None })
        .await;
    match back.recv().await {
        VisitorServerFrame::Welcome { delivered_seq, advisors_read_seq, .. } => {
            assert_eq!((delivered_seq, advisors_read_seq), (2, 2));
        }
        other => panic!("expected welcome, got {other:?}"),
    }
}

#[tokio::test]
async fn advisors_see_the_visitor_online_and_their_reply_delivered_and_read() {
    let relay = TestRelay::start().await;
    let (mut visitor, w) = relay.new_visitor().await;
    visitor.say("v-1", "hi").await.unwrap();
    let (mut advisor, inbox) = relay.advisor().await;
    assert!(inbox[0].visitor_online);

    let seq = advisor.reply(w.conversation, "a-1", "hello!").await.unwrap();
    let row = advisor.summary_where(w.conversation, |c| c.visitor_delivered_seq == seq).await;
    assert!(row.visitor_online);
    visitor.next_message().await;
    visitor.send(&VisitorClientFrame::Read { up_to: seq }).await;
    advisor.summary_where(w.conversation, |c| c.visitor_read_seq == seq).await;

    // The visitor leaves: the row says so.
    drop(visitor);
    let row = advisor.summary_where(w.conversation, |c| !c.visitor_online).await;
    assert_eq!(row.visitor_read_seq, seq);

    // A reply written while the visitor is away is not delivered until they come back.
    let later = advisor.reply(w.conversation, "a-2", "are you still there?").await.unwrap();
    let mut back = relay.visitor().await;
    let again = back.hello(Some(&w.token), seq).await.unwrap();
    assert_eq!(again.replay.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![later]);
    let row = advisor.summary_where(w.conversation, |c| c.visitor_online && c.visitor_delivered_seq == later).await;
    assert_eq!(row.last_seq, later);
}

#[tokio::test]
async fn typing_is_forwarded_once_per_change_not_per_keystroke() {
    let relay = TestRelay::start().await;
    let (mut visitor, w) = relay.new_visitor().await;
    visitor.say("v-1", "hi").await.unwrap();
    let (mut advisor, _) = relay.advisor().await;
    for _ in 0..20 {
        visitor.send(&VisitorClientFrame::Typing { on: true }).await;
    }
    visitor.send(&VisitorClientFrame::Typing { on: false }).await;
    visitor.say("v-2", "marker").await.unwrap();
    let mut typing = Vec::new();
    loop {
        match advisor.recv().await {
            AdvisorServerFrame::Typing { conversation, on } => {
                assert_eq!(conversation, w.conversation);
                typing.push(on);
            }
            AdvisorServerFrame::Message { message } if message.text == "marker" => break,
            _ => {}
        }
    }
    assert_eq!(typing, vec![true, false]);
}
