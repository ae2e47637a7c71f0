//! A visitor and an advisor talk through a real relay.

use confab_tests::*;
use shared::*;

#[tokio::test]
async fn visitor_message_reaches_a_connected_advisor_and_is_acked_only_once_stored() {
    let relay = TestRelay::start().await;
    let (mut advisor, inbox) = relay.advisor().await;
    assert!(inbox.is_empty());

    let (mut visitor, welcome) = relay.new_visitor().await;
    assert_eq!(welcome.site.name, "Test Shop");
    assert_eq!(welcome.last_seq, 0);
    let (seq, _) = visitor.say("m-1", "Hello, is anyone there?").await.unwrap();
    assert_eq!(seq, 1);
    // When the ack arrives, the message is already in the database file.
    let stored = messages_in_database(&relay.data_dir, welcome.conversation).await;
    assert_eq!(stored, vec![(1, "m-1".to_string(), "Hello, is anyone there?".to_string())]);

    let live = advisor.next_message().await;
    assert_eq!((live.seq, live.text.as_str(), &live.author), (1, "Hello, is anyone there?", &Author::Visitor));
    // The conversation enters the inbox with its first message.
    let row = advisor.next_summary_of(welcome.conversation).await;
    assert_eq!((row.unread, row.last_seq), (1, 1));
    assert_eq!(row.last_message.unwrap().text, "Hello, is anyone there?");
}

#[tokio::test]
async fn advisor_reply_reaches_the_visitor_live_with_the_advisors_name() {
    let relay = TestRelay::start().await;
    let (mut visitor, welcome) = relay.new_visitor().await;
    visitor.say("v-1", "Do you ship to Canada?").await.unwrap();

    let (mut advisor, inbox) = relay.advisor().await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].id, welcome.conversation);
    assert_eq!(inbox[0].unread, 1);
    let thread = advisor.open(welcome.conversation).await;
    assert_eq!(thread.len(), 1);

    let seq = advisor.reply(welcome.conversation, "a-1", "Yes, in 3 to 5 days.").await.unwrap();
    assert_eq!(seq, 2);
    let reply = visitor.next_message().await;
    assert_eq!(reply.seq, 2);
    assert_eq!(reply.text, "Yes, in 3 to 5 days.");
    assert!(matches!(reply.author, Author::Advisor { ref name, .. } if name == "Ada"));

    // Replying counts as reading up to the reply.
    let row = advisor.summary_where(welcome.conversation, |c| c.last_seq == 2).await;
    assert_eq!(row.unread, 0);

    // A new visitor message is unread again; reading clears it and tells the visitor.
    visitor.say("v-2", "Great, thanks!").await.unwrap();
    let row = advisor.summary_where(welcome.conversation, |c| c.last_seq == 3).await;
    assert_eq!(row.unread, 1);
    advisor.send(&AdvisorClientFrame::Read { conversation: welcome.conversation, up_to: 3 }).await;
    let row = advisor.summary_where(welcome.conversation, |c| c.unread == 0).await;
    assert_eq!(row.last_seq, 3);
    // (The reply itself already told the visitor "read up to 2".)
    let read = visitor.wait_for(|f| match f {
        VisitorServerFrame::Read { up_to } if *up_to >= 3 => Some(*up_to),
        _ => None,
    });
    assert_eq!(read.await, 3);
}

#[tokio::test]
async fn a_visitor_with_its_token_gets_the_whole_thread_after_a_relay_restart() {
    let relay = TestRelay::start().await;
    let (mut visitor, welcome) = relay.new_visitor().await;
    visitor.say("v-1", "first").await.unwrap();
    let (mut advisor, _) = relay.advisor().await;
    advisor.reply(welcome.conversation, "a-1", "second").await.unwrap();
    visitor.say("v-2", "third").await.unwrap();
    drop((visitor, advisor));

    let dir = relay.stop().await.expect("owns its temp dir");
    let relay = TestRelay::start_in(dir.path()).await;

    let mut visitor = relay.visitor().await;
    let again = visitor.hello(Some(&welcome.token), 0).await.unwrap();
    assert_eq!(again.conversation, welcome.conversation);
    assert_eq!(again.token, welcome.token);
    let texts: Vec<_> = again.replay.iter().map(|m| (m.seq, m.text.as_str())).collect();
    assert_eq!(texts, vec![(1, "first"), (2, "second"), (3, "third")]);

    // Resuming from a cursor replays only what comes after it.
    let mut visitor = relay.visitor().await;
    let resumed = visitor.hello(Some(&welcome.token), 2).await.unwrap();
    assert_eq!(resumed.replay.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![3]);
    relay.stop().await;
}

#[tokio::test]
async fn the_same_message_id_sent_twice_is_stored_once_and_acked_with_the_same_seq() {
    let relay = TestRelay::start().await;
    let (mut visitor, welcome) = relay.new_visitor().await;
    let first = visitor.say("dup-1", "only once please").await.unwrap();
    let again = visitor.say("dup-1", "only once please").await.unwrap();
    assert_eq!(first, again);
    let stored = messages_in_database(&relay.data_dir, welcome.conversation).await;
    assert_eq!(stored.len(), 1);
    // A second tab of the same visitor (same token) gets the same answer.
    let mut tab = relay.visitor().await;
    tab.hello(Some(&welcome.token), 1).await.unwrap();
    assert_eq!(tab.say("dup-1", "only once please").await.unwrap(), first);
}

#[tokio::test]
async fn a_visitor_who_only_opened_the_panel_is_not_in_the_inbox() {
    let relay = TestRelay::start().await;
    let (_silent, _) = relay.new_visitor().await;
    let (mut talker, w) = relay.new_visitor().await;
    talker.say("t-1", "hi").await.unwrap();
    let (_advisor, inbox) = relay.advisor().await;
    assert_eq!(inbox.iter().map(|c| c.id).collect::<Vec<_>>(), vec![w.conversation]);
}

#[tokio::test]
async fn a_second_tab_of_the_same_visitor_sees_messages_live() {
    let relay = TestRelay::start().await;
    let (mut tab1, welcome) = relay.new_visitor().await;
    let mut tab2 = relay.visitor().await;
    tab2.hello(Some(&welcome.token), 0).await.unwrap();
    tab1.say("t-1", "from tab one").await.unwrap();
    let seen = tab2.next_message().await;
    assert_eq!(seen.text, "from tab one");
}

#[tokio::test]
async fn a_visitor_cannot_read_another_visitors_thread() {
    let relay = TestRelay::start().await;
    let (mut alice, alice_welcome) = relay.new_visitor().await;
    alice.say("a-1", "my order number is 1234").await.unwrap();

    let (mut bob, bob_welcome) = relay.new_visitor().await;
    assert_ne!(bob_welcome.conversation, alice_welcome.conversation);
    assert!(bob_welcome.replay.is_empty());
    // Alice's next message does not reach Bob.
    alice.say("a-2", "and my address is secret").await.unwrap();
    assert!(bob.try_recv(std::time::Duration::from_millis(300)).await.is_none());

    // A made-up token is refused, and gets nothing.
    let mut mallory = relay.visitor().await;
    let err = mallory.hello(Some("not-a-real-token"), 0).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::BadToken);
    assert!(mallory.try_recv(std::time::Duration::from_millis(300)).await.is_none());
    // After the refusal the same connection can still start its own thread.
    let fresh = mallory.hello(None, 0).await.unwrap();
    assert!(fresh.replay.is_empty());
    assert_ne!(fresh.conversation, alice_welcome.conversation);
}
