//! Two messages of one conversation committed close together (a visitor's and an advisor's) must
//! reach every socket in seq order; otherwise a client that resumes "after the highest seq I hold"
//! would skip the one still in flight, for good. These tests make every visitor drop its connection
//! at each moment a gap would show, and check both resume cursors end with every message.

use std::collections::BTreeSet;
use std::time::Duration;

use confab_tests::check::{all_messages_in_database, audit, Audit};
use confab_tests::reliable::{Endpoint, Pace, ReliableAdvisor, ReliableVisitor, Resume, Workload};
use confab_tests::{chaos_seed, TestRelay};
use tokio::time::{sleep, timeout};

async fn run(resume: Resume) -> (Audit, u32) {
    let seed = chaos_seed();
    let relay = TestRelay::start().await;
    let endpoint = Endpoint::new(relay.addr);
    let work = Workload::new();
    let pace = Pace { every_ms: 40..150, reply_probability: 1.0, max_unacked: 4, resume, drop_on_gap: true, ..Pace::default() };
    let mut visitors = Vec::new();
    for i in 0..6 {
        let v = ReliableVisitor::new(format!("v{i}"), endpoint.clone(), pace.clone(), seed ^ (i + 1));
        visitors.push(tokio::spawn(v.run(work.clone())));
    }
    let mut advisors = Vec::new();
    for i in 0..2 {
        let a = ReliableAdvisor::new(format!("a{i}"), endpoint.clone(), relay.login().await, pace.clone(), seed ^ (0xad00 + i));
        advisors.push(tokio::spawn(a.run(work.clone())));
    }
    sleep(Duration::from_secs(4)).await;
    work.finish_within(Duration::from_secs(15));
    let mut vs = Vec::new();
    for h in visitors {
        vs.push(timeout(Duration::from_secs(20), h).await.expect("visitor finishes").expect("visitor task"));
    }
    let mut advs = Vec::new();
    for h in advisors {
        advs.push(timeout(Duration::from_secs(20), h).await.expect("advisor finishes").expect("advisor task"));
    }
    let conversations: BTreeSet<_> = all_messages_in_database(&relay.data_dir).await.into_keys().collect();
    for v in &mut vs {
        v.resync(Duration::from_secs(10)).await.unwrap_or_else(|e| panic!("{e}"));
    }
    for a in &mut advs {
        a.resync(&conversations, Duration::from_secs(10)).await.unwrap_or_else(|e| panic!("{e}"));
    }
    let report = audit(&relay.data_dir, &vs, &advs).await;
    let out_of_order: u32 = vs.iter().map(|v| v.stats.live_out_of_order).sum();
    let drops: u32 = vs.iter().map(|v| v.stats.lost).sum();
    eprintln!(
        "{resume:?}: {} messages, {out_of_order} live messages reached a visitor out of order, {drops} dropped connections, {} failures",
        report.messages,
        report.failures.len()
    );
    relay.stop().await;
    (report, out_of_order)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_resuming_from_its_highest_contiguous_seq_gets_every_message_whatever_the_order_of_delivery() {
    let (report, _) = run(Resume::Contiguous).await;
    report.assert_clean();
}

/// What the widget (`Thread::last_seq`) and the dashboard (`highest_seq`) do: resume from the
/// highest seq held. Safe only because the relay fans each conversation out in seq order
/// (`conversation::FanoutOrder`): no live message may overtake an earlier one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_messages_arrive_in_seq_order_so_resuming_from_the_highest_seq_gets_every_message() {
    let (report, out_of_order) = run(Resume::Highest).await;
    assert_eq!(out_of_order, 0, "live messages overtook earlier ones");
    report.assert_clean();
}
