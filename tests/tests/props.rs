//! Property tests of sequencing, resume and de-duplication: random interleavings of sends with
//! repeated client ids from several connections, then resumes from random cursors.
//!
//! Two levels: the store itself (`SqliteStore` on a file, so appends from several tasks really
//! race), and a real relay over real sockets (tabs of one visitor, and an advisor's `open`).
//! 32 cases each by default; `PROPTEST_CASES=1000 cargo test -p confab-tests --test props` for a
//! longer run.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use confab_tests::*;
use futures_util::future::join_all;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use relay::store::{NewMessage, Reader, SiteSettings, SqliteStore, Store, StoreError};
use shared::*;

fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(32);
    // No regression files: a failure prints its minimal case, and the run is replayable from it.
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn check(result: Result<(), proptest::test_runner::TestError<impl std::fmt::Debug>>) {
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Message id number `n` belongs to a visitor when even, to an advisor when odd; `flip` sends it as
/// the other kind of author (which the relay must refuse once the id is taken, and never store twice).
fn author(n: u8, flip: bool) -> Author {
    if (n & 1 == 0) != flip {
        Author::Visitor
    } else {
        // The advisor `store_with_site` creates first.
        Author::Advisor { id: AdvisorId(1), name: "Ada".into() }
    }
}

fn is_visitor(a: &Author) -> bool {
    matches!(a, Author::Visitor)
}

async fn store_with_site(dir: &std::path::Path) -> (Arc<SqliteStore>, relay::store::SiteId) {
    let store = Arc::new(SqliteStore::open(&dir.join("props.sqlite3")).await.expect("open store"));
    let site = SiteSettings {
        key: "props".into(),
        name: "Props".into(),
        greeting: String::new(),
        color: "#000000".into(),
        reply_time: String::new(),
        allowed_origins: vec![],
        team_id: None,
    };
    let site = store.create_site(&site, 0).await.expect("site");
    let advisor = store.create_advisor("ada@props.test", "Ada", "not-a-real-hash", 0).await.expect("advisor");
    assert_eq!(advisor.id, AdvisorId(1));
    (store, site.id)
}

/// Several connections (tasks), each sending a run of ids, some ids shared between them (retries
/// racing each other), a few with the wrong kind of author.
fn connections() -> impl Strategy<Value = Vec<Vec<(u8, bool)>>> {
    prop::collection::vec(prop::collection::vec((0u8..10, prop::bool::weighted(0.1)), 1..12), 2..=4)
}

#[test]
fn concurrent_appends_with_repeated_ids_get_contiguous_seqs_and_each_id_is_stored_once() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let (store, site) = rt.block_on(store_with_site(dir.path()));
    let next_visitor = Cell::new(0u64);
    check(runner().run(&connections(), |conns| {
        next_visitor.set(next_visitor.get() + 1);
        rt.block_on(async {
            let token = format!("token-{}", next_visitor.get());
            let thread = store.create_visitor(site, token.as_bytes(), 0).await.unwrap();
            let conversation = thread.conversation;
            let tasks = conns.iter().map(|ops| {
                let store = store.clone();
                let ops = ops.clone();
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    for (n, flip) in ops {
                        let new = NewMessage {
                            conversation,
                            id: ClientMsgId(format!("id-{n}")),
                            author: author(n, flip),
                            channel: Channel::Web,
                            text: format!("text {n}"),
                            now: 1,
                            delivered: false,
                            platform: None,
                            attachments: Vec::new(),
                            note: false,
                        };
                        out.push((n, flip, store.append_message(new).await));
                    }
                    out
                })
            });
            let results: Vec<_> = join_all(tasks).await.into_iter().flat_map(|r| r.unwrap()).collect();

            // Per id: one seq, one author, created exactly once; a refusal only for the other author.
            let mut by_id: BTreeMap<u8, (Seq, bool)> = BTreeMap::new();
            let mut created: HashMap<u8, usize> = HashMap::new();
            for (n, flip, result) in &results {
                match result {
                    Ok(appended) => {
                        let m = &appended.message;
                        prop_assert_eq!(&m.id.0, &format!("id-{n}"));
                        prop_assert_eq!(&m.text, &format!("text {n}"));
                        prop_assert_eq!(is_visitor(&m.author), is_visitor(&author(*n, *flip)));
                        let entry = by_id.entry(*n).or_insert((m.seq, is_visitor(&m.author)));
                        prop_assert_eq!(*entry, (m.seq, is_visitor(&m.author)), "id-{} answered with two seqs or authors", n);
                        *created.entry(*n).or_default() += usize::from(appended.created);
                    }
                    Err(StoreError::IdConflict) => {}
                    Err(e) => return Err(TestCaseError::fail(format!("append id-{n}: {e}"))),
                }
            }
            for (n, flip, result) in &results {
                if result.is_err() {
                    let stored = by_id.get(n).map(|(_, v)| *v);
                    prop_assert_eq!(stored, Some(!is_visitor(&author(*n, *flip))), "id-{} refused without being taken by the other author", n);
                }
            }
            for n in by_id.keys() {
                prop_assert_eq!(created.get(n).copied().unwrap_or(0), 1, "id-{} created {} times", n, created.get(n).copied().unwrap_or(0));
            }

            // The conversation: seqs 1..=k for the k distinct ids, each once, at the seq its acks named.
            let stored = store.messages_after(conversation, 0, 1000).await.unwrap();
            let seqs: Vec<Seq> = stored.iter().map(|m| m.seq).collect();
            prop_assert_eq!(seqs, (1..=by_id.len() as Seq).collect::<Vec<_>>());
            let ids: HashSet<&str> = stored.iter().map(|m| m.id.as_str()).collect();
            prop_assert_eq!(ids.len(), stored.len());
            for m in &stored {
                let n: u8 = m.id.0.trim_start_matches("id-").parse().unwrap();
                prop_assert_eq!(by_id[&n].0, m.seq);
            }
            // Refusals and retries burnt no seq: the conversation's counter is the message count.
            let summary = store.conversation_summary(conversation).await.unwrap().unwrap();
            prop_assert_eq!(summary.last_seq, stored.len() as Seq);
            Ok(())
        })
    }));
}

#[test]
fn messages_after_any_cursor_are_exactly_the_later_ones_in_order_and_read_cursors_only_move_forward() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let (store, site) = rt.block_on(store_with_site(dir.path()));
    let next_visitor = Cell::new(0u64);
    let strategy = (0usize..25, 1usize..8, prop::collection::vec((any::<bool>(), 0u64..30), 0..10));
    check(runner().run(&strategy, |(n, limit, reads)| {
        next_visitor.set(next_visitor.get() + 1);
        rt.block_on(async {
            let token = format!("token-{}", next_visitor.get());
            let thread = store.create_visitor(site, token.as_bytes(), 0).await.unwrap();
            let c = thread.conversation;
            for i in 0..n {
                let new = NewMessage {
                    conversation: c,
                    id: ClientMsgId(format!("m{i}")),
                    author: author(i as u8, false),
                    channel: Channel::Web,
                    text: format!("t{i}"),
                    now: 1,
                    delivered: false,
                    platform: None,
                    attachments: Vec::new(),
                    note: false,
                };
                store.append_message(new).await.unwrap();
            }
            for k in 0..=(n as Seq + 2) {
                let all = store.messages_after(c, k, 1000).await.unwrap();
                let expected: Vec<Seq> = (k + 1..=n as Seq).collect();
                prop_assert_eq!(all.iter().map(|m| m.seq).collect::<Vec<_>>(), expected.clone(), "after {}", k);
                for m in &all {
                    prop_assert_eq!(&m.id.0, &format!("m{}", m.seq - 1));
                }
                let page = store.messages_after(c, k, limit).await.unwrap();
                let first: Vec<Seq> = expected.iter().copied().take(limit).collect();
                prop_assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), first, "after {} limit {}", k, limit);
            }
            // Read cursors: never back, never past the last seq. An advisor's reply counts as the
            // advisors having read up to it. The unread count the inbox shows is the visitor's
            // messages after the advisors' cursor.
            let stored = store.messages_after(c, 0, 1000).await.unwrap();
            let visitor_seqs: Vec<Seq> = stored.iter().filter(|m| m.is_from_visitor()).map(|m| m.seq).collect();
            let last_reply = stored.iter().filter(|m| !m.is_from_visitor()).map(|m| m.seq).max().unwrap_or(0);
            let (mut visitor, mut advisors) = (0, last_reply);
            let unread = visitor_seqs.iter().filter(|&&s| s > advisors).count() as u32;
            prop_assert_eq!(unread_of(store.as_ref(), c).await, unread);
            for (by_visitor, up_to) in reads {
                let (reader, cursor) = if by_visitor { (Reader::Visitor, &mut visitor) } else { (Reader::Advisors, &mut advisors) };
                *cursor = (*cursor).max(up_to.min(n as Seq));
                let advanced = store.mark_read(c, reader, up_to).await.unwrap();
                prop_assert_eq!(advanced.seq, *cursor);
                let unread = visitor_seqs.iter().filter(|&&s| s > advisors).count() as u32;
                prop_assert_eq!(advanced.counters.unread, unread);
                prop_assert_eq!(unread_of(store.as_ref(), c).await, unread);
            }
            Ok(())
        })
    }));
}

#[test]
fn through_a_relay_racing_tabs_get_one_seq_per_id_and_a_resume_from_any_cursor_replays_exactly_the_rest() {
    let rt = runtime();
    let relay = rt.block_on(TestRelay::start());
    let advisor = tokio::sync::Mutex::new(rt.block_on(relay.advisor()).0);
    let next_ref = Cell::new(0u32);
    // Tabs of one visitor, each sending a run of ids (visitor ids only: one author here), then a
    // resume cursor to check, as a fraction of the thread's length.
    let strategy = (prop::collection::vec(prop::collection::vec(0u8..8, 1..8), 1..=3), 0u64..=10);
    check(runner().run(&strategy, |(tabs, cursor_tenths)| {
        rt.block_on(async {
            let (mut first, welcome) = relay.new_visitor().await;
            let conversation = welcome.conversation;
            first.say("hello-0", "first").await.unwrap();
            let mut clients = Vec::new();
            for _ in &tabs {
                let mut tab = relay.visitor().await;
                tab.hello(Some(&welcome.token), 0).await.unwrap();
                clients.push(tab);
            }
            let sends = clients.into_iter().zip(tabs.clone()).map(|(mut tab, ids)| async move {
                let mut acks = Vec::new();
                for n in ids {
                    let id = format!("v-{n}");
                    acks.push((id.clone(), tab.say(&id, &format!("text {n}")).await.expect("ack").0));
                }
                acks
            });
            let acks: Vec<(String, Seq)> = join_all(sends).await.into_iter().flatten().collect();

            let stored = messages_in_database(&relay.data_dir, conversation).await;
            let ids: HashSet<u8> = tabs.iter().flatten().copied().collect();
            let n = ids.len() as i64 + 1;
            prop_assert_eq!(stored.iter().map(|r| r.0).collect::<Vec<_>>(), (1..=n).collect::<Vec<_>>());
            let at: HashMap<&str, i64> = stored.iter().map(|r| (r.1.as_str(), r.0)).collect();
            prop_assert_eq!(at.len(), stored.len(), "a client id stored twice");
            for (id, seq) in &acks {
                prop_assert_eq!(at.get(id.as_str()).copied(), Some(*seq as i64), "{} acked as {}", id, seq);
            }

            // Resume from a cursor: exactly the messages after it, in order, as stored.
            let k = (n as u64 * cursor_tenths) / 10;
            let mut tab = relay.visitor().await;
            let resumed = tab.hello(Some(&welcome.token), k).await.unwrap();
            prop_assert_eq!(resumed.last_seq as i64, n);
            let replay: Vec<(i64, String)> = resumed.replay.iter().map(|m| (m.seq as i64, m.id.0.clone())).collect();
            let expected: Vec<(i64, String)> = stored.iter().filter(|r| r.0 > k as i64).map(|r| (r.0, r.1.clone())).collect();
            prop_assert_eq!(&replay, &expected, "visitor resume after {}", k);

            // The advisor's `open` from the same cursor says the same.
            next_ref.set(next_ref.get() + 1);
            let reference = format!("props-{}", next_ref.get());
            let mut advisor = advisor.lock().await;
            advisor.send(&AdvisorClientFrame::Open { reference: reference.clone(), conversation, after_seq: k }).await;
            let history = loop {
                if let AdvisorServerFrame::History { reference: r, messages, .. } = advisor.recv().await {
                    if r == reference {
                        break messages;
                    }
                }
            };
            let history: Vec<(i64, String)> = history.iter().map(|m| (m.seq as i64, m.id.0.clone())).collect();
            prop_assert_eq!(&history, &expected, "advisor open after {}", k);
            Ok(())
        })
    }));
    rt.block_on(relay.stop());
}

/// The inbox's unread count of `c`; a conversation nobody wrote in is not in the inbox (no row): 0.
async fn unread_of(store: &dyn relay::store::Store, c: ConversationId) -> u32 {
    store.conversation_summary(c).await.unwrap().map_or(0, |s| s.unread)
}
