//! The relay process is killed with SIGKILL while visitors and advisors are writing, and started
//! again on the same database, several times. Afterwards every acked message is stored exactly once
//! at the seq its ack named, every message a client queued or had in flight was re-sent and stored
//! exactly once, and every client's thread is the database's.

use std::collections::BTreeSet;
use std::time::Duration;

use confab_tests::check::{all_messages_in_database, audit};
use confab_tests::process::RelayProcess;
use confab_tests::reliable::{Pace, ReliableAdvisor, ReliableVisitor, Workload};
use confab_tests::chaos_seed;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::{sleep, timeout, Instant};

const VISITORS: usize = 20;
const ADVISORS: usize = 2;
const KILLS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_acked_before_a_sigkill_are_kept_exactly_once_and_unacked_ones_are_resent_once() {
    let started = Instant::now();
    let seed = chaos_seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut relay = RelayProcess::start().await;
    let endpoint = relay.endpoint();
    let work = Workload::new();
    let pace = Pace { every_ms: 80..250, max_unacked: 3, reply_probability: 0.5, ack_wait: Duration::from_secs(3), ..Pace::default() };

    let mut visitors = Vec::new();
    for i in 0..VISITORS {
        let v = ReliableVisitor::new(format!("v{i}"), endpoint.clone(), pace.clone(), seed ^ (i as u64 + 1));
        visitors.push(tokio::spawn(v.run(work.clone())));
    }
    let mut advisors = Vec::new();
    for i in 0..ADVISORS {
        let cookie = relay.login().await;
        let a = ReliableAdvisor::new(format!("a{i}"), endpoint.clone(), cookie, pace.clone(), seed ^ (0xad00 + i as u64));
        advisors.push(tokio::spawn(a.run(work.clone())));
    }

    let mut kills = Vec::new();
    for _ in 0..KILLS {
        sleep(Duration::from_millis(rng.gen_range(700..1500))).await;
        kills.push(Instant::now());
        relay.kill_9().await;
        // Down for a while: clients fail to connect and queue what their users write.
        sleep(Duration::from_millis(rng.gen_range(100..500))).await;
        relay.restart().await;
    }
    sleep(Duration::from_millis(800)).await;
    work.finish_within(Duration::from_secs(20));

    let mut vs = Vec::new();
    for h in visitors {
        vs.push(timeout(Duration::from_secs(30), h).await.expect("a visitor delivers its outbox in time").expect("visitor task"));
    }
    let mut advs = Vec::new();
    for h in advisors {
        advs.push(timeout(Duration::from_secs(30), h).await.expect("an advisor delivers its outbox in time").expect("advisor task"));
    }

    // What a reload of the widget and of the dashboard shows: resume from the cursor.
    let conversations: BTreeSet<_> = all_messages_in_database(&relay.data_dir).await.into_keys().collect();
    for v in &mut vs {
        v.resync(Duration::from_secs(10)).await.unwrap_or_else(|e| panic!("{e}"));
    }
    for a in &mut advs {
        a.resync(&conversations, Duration::from_secs(10)).await.unwrap_or_else(|e| panic!("{e}"));
    }

    let report = audit(&relay.data_dir, &vs, &advs).await;

    // Around each kill: what was acked before it, and what was written before it but acked only
    // after it (in flight or queued when the relay died, so re-sent to the next relay).
    let acks: Vec<_> = vs.iter().flat_map(|v| &v.ack_log).chain(advs.iter().flat_map(|a| &a.ack_log)).collect();
    let mut acked_before_last_kill = 0;
    let mut unacked_at_a_kill = 0;
    for (k, kill) in kills.iter().enumerate() {
        let before = acks.iter().filter(|a| a.acked_at < *kill).count();
        let straddling = acks.iter().filter(|a| a.written_at < *kill && a.acked_at > *kill).count();
        eprintln!("kill {}: {before} messages acked before it, {straddling} written before it and acked after", k + 1);
        acked_before_last_kill = before;
        unacked_at_a_kill += straddling;
    }
    let sessions: u32 = vs.iter().map(|v| v.stats.sessions).chain(advs.iter().map(|a| a.stats.sessions)).sum();
    let resent: u32 = vs.iter().map(|v| v.stats.resent).chain(advs.iter().map(|a| a.stats.resent)).sum();
    let offline: u32 = vs.iter().map(|v| v.stats.written_offline).sum();
    let failed: u32 = vs.iter().map(|v| v.stats.failed_connects).chain(advs.iter().map(|a| a.stats.failed_connects)).sum();
    let out_of_order: u32 =
        vs.iter().map(|v| v.stats.live_out_of_order).chain(advs.iter().map(|a| a.stats.live_out_of_order)).sum();
    eprintln!(
        "{} conversations, {} messages ({} by visitors, {} by advisors), {} acks checked; {} sessions, \
         {failed} failed connects, {resent} re-sends, {offline} written while the relay was down, \
         {out_of_order} live messages out of order, {} relay starts; {:.1?}",
        report.conversations,
        report.messages,
        report.written_by_visitors,
        report.written_by_advisors,
        report.acks_checked,
        sessions,
        relay.starts,
        started.elapsed()
    );
    let log = relay.log();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    let warnings = log.lines().filter(|l| l.contains("WARN")).count();
    eprintln!("relay log: {} errors, {warnings} warnings{}", errors.len(), errors.first().map(|l| format!("; first error: {l}")).unwrap_or_default());
    if !report.failures.is_empty() {
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        eprintln!("relay log tail:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    report.assert_clean();

    // The scenario did what it says: real traffic, real kills, real recovery.
    assert_eq!(relay.starts as usize, KILLS + 1);
    assert_eq!(report.conversations, VISITORS, "every visitor's conversation has messages");
    assert!(report.written_by_advisors > 0, "the advisors replied");
    assert!(acked_before_last_kill > 0, "messages were acked before the last kill");
    assert!(unacked_at_a_kill > 0, "some messages were unacked when the relay died (and were re-sent)");
    assert_eq!(report.acks_checked, report.messages, "every stored message was acked to its writer");
    for v in &vs {
        assert!(v.stats.sessions >= 2, "{} reconnected: {:?}", v.name, v.stats);
    }
}
