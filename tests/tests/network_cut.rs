//! Visitors and advisors reach the relay through a proxy that cuts connections (all, some, or
//! each after a random number of bytes: mid-handshake, mid-frame) and stalls them. The clients
//! reconnect, resume and re-send; at the end every thread is the database's: gap-free,
//! duplicate-free, in the same order on the visitor's side and on both advisors'.

use std::collections::BTreeSet;
use std::time::Duration;

use confab_tests::check::{all_messages_in_database, audit};
use confab_tests::proxy::{ChaosProxy, RandomDrops};
use confab_tests::reliable::{Endpoint, Pace, ReliableAdvisor, ReliableVisitor, Workload};
use confab_tests::{chaos_seed, TestRelay};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::{sleep, timeout, Instant};

const VISITORS: usize = 8;
const ADVISORS: usize = 2;
const CHAOS: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_behind_a_cutting_and_stalling_network_end_with_the_databases_threads() {
    let started = Instant::now();
    let seed = chaos_seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let relay = TestRelay::start().await;
    let proxy = ChaosProxy::start(Endpoint::new(relay.addr), seed).await;
    let through_proxy = Endpoint::new(proxy.addr());
    let work = Workload::new();
    // A short ack wait: some stalls outlast it (the client gives up on the connection), some don't
    // (the acks arrive late on the same connection).
    let pace = Pace { every_ms: 100..300, max_unacked: 3, reply_probability: 0.6, ack_wait: Duration::from_millis(1000), ..Pace::default() };

    let mut visitors = Vec::new();
    for i in 0..VISITORS {
        let v = ReliableVisitor::new(format!("v{i}"), through_proxy.clone(), pace.clone(), seed ^ (i as u64 + 1));
        visitors.push(tokio::spawn(v.run(work.clone())));
    }
    let mut advisors = Vec::new();
    for i in 0..ADVISORS {
        let cookie = relay.login().await;
        let a = ReliableAdvisor::new(format!("a{i}"), through_proxy.clone(), cookie, pace.clone(), seed ^ (0xad00 + i as u64));
        advisors.push(tokio::spawn(a.run(work.clone())));
    }

    proxy.set_random_drops(Some(RandomDrops { probability: 0.3, after_bytes: 100..8_000 }));
    let (mut cuts, mut stalls, mut partial_cuts) = (0, 0, 0);
    let chaos_ends = Instant::now() + CHAOS;
    while Instant::now() < chaos_ends {
        sleep(Duration::from_millis(rng.gen_range(250..900))).await;
        match rng.gen_range(0..3) {
            0 => {
                proxy.cut_all();
                cuts += 1;
            }
            1 => {
                proxy.stall_all(Duration::from_millis(rng.gen_range(200..1800)));
                stalls += 1;
            }
            _ => {
                proxy.cut_some(0.5);
                partial_cuts += 1;
            }
        }
    }
    proxy.set_random_drops(None);
    // Let the last stall run out, then stop writing and let everything queued be delivered.
    sleep(Duration::from_millis(1800)).await;
    work.finish_within(Duration::from_secs(20));

    let mut vs = Vec::new();
    for h in visitors {
        vs.push(timeout(Duration::from_secs(30), h).await.expect("a visitor delivers its outbox in time").expect("visitor task"));
    }
    let mut advs = Vec::new();
    for h in advisors {
        advs.push(timeout(Duration::from_secs(30), h).await.expect("an advisor delivers its outbox in time").expect("advisor task"));
    }

    // How far the live threads got on their own, before a final reload.
    let db = all_messages_in_database(&relay.data_dir).await;
    let behind_before_resync: usize = vs
        .iter()
        .map(|v| db.get(&v.conversation.unwrap()).map_or(0, Vec::len).saturating_sub(v.thread.contiguous() as usize))
        .sum();
    let conversations: BTreeSet<_> = db.into_keys().collect();
    for v in &mut vs {
        v.resync(Duration::from_secs(10)).await.unwrap_or_else(|e| panic!("{e}"));
    }
    for a in &mut advs {
        a.resync(&conversations, Duration::from_secs(10)).await.unwrap_or_else(|e| panic!("{e}"));
    }

    let report = audit(&relay.data_dir, &vs, &advs).await;
    let stats = proxy.stats();
    let sum = |f: &dyn Fn(&confab_tests::reliable::ClientStats) -> u32| -> u32 {
        vs.iter().map(|v| f(&v.stats)).chain(advs.iter().map(|a| f(&a.stats))).sum()
    };
    eprintln!(
        "{} conversations, {} messages ({} by visitors, {} by advisors), {} acks checked; \
         proxy: {stats:?}, {cuts} cut-alls, {partial_cuts} cut-halves, {stalls} stalls; clients: {} sessions, {} lost, \
         {} ack timeouts, {} failed connects, {} re-sends, {} already-held deliveries, {} gap opens, \
         {} live messages out of order; \
         visitors were {behind_before_resync} messages behind before the final resume; {:.1?}",
        report.conversations,
        report.messages,
        report.written_by_visitors,
        report.written_by_advisors,
        report.acks_checked,
        sum(&|s| s.sessions),
        sum(&|s| s.lost),
        sum(&|s| s.ack_timeouts),
        sum(&|s| s.failed_connects),
        sum(&|s| s.resent),
        sum(&|s| s.already_held),
        sum(&|s| s.gap_opens),
        sum(&|s| s.live_out_of_order),
        started.elapsed()
    );
    report.assert_clean();

    // The network really was bad, and the clients really had to recover.
    assert!(stats.cut + stats.dropped_mid_stream > 0, "connections were cut");
    assert!(sum(&|s| s.lost) + sum(&|s| s.ack_timeouts) > 0, "clients lost connections");
    assert_eq!(report.conversations, VISITORS);
    assert!(report.written_by_advisors > 0, "the advisors replied");
    assert_eq!(report.acks_checked, report.messages, "every stored message was acked to its writer");
    for v in &vs {
        assert!(v.stats.sessions >= 2, "{} reconnected at least once: {:?}", v.name, v.stats);
    }
    drop(proxy);
    relay.stop().await;
}
