//! P conversation pairs at a fixed total rate.
//!
//! Each pair is a visitor socket; a few advisor sockets (the relay sends every conversation's
//! messages to every advisor socket) stand for the dashboards. Message `n` of the whole run (pair
//! `n % P`, its `n / P`-th message) is due at `t0 + n / rate`: open-loop pacing, and every latency is
//! measured from the time a message was *due*, not from when it was written, so a relay that falls
//! behind shows its backlog instead of hiding it (no coordinated omission).
//!
//! - ack latency: due → the visitor's `ack` (the relay acks after the commit);
//! - delivery latency: due → the first advisor socket to receive the `message` frame.
//!
//! The bench parses only what it measures (a prefix and the client id), so the load generator,
//! which shares the two cores with the relay, stays cheap.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::client;
use crate::cpu;
use crate::server::{CpuSample, Endpoint, Running};
use crate::stats::{ms, table as text_table, Summary};

/// After the last message is due, how long to wait for outstanding acks and deliveries.
const DRAIN: Duration = Duration::from_secs(10);
/// Sockets opened at once during setup.
const SETUP_PARALLEL: usize = 32;

#[derive(Debug, Clone, Args)]
pub struct Load {
    /// Conversation pairs (visitor sockets).
    #[arg(long, default_value_t = 1000)]
    pub pairs: u64,
    /// Total messages per second offered, spread evenly over the pairs.
    #[arg(long, default_value_t = 20_000)]
    pub rate: u64,
    /// How long messages are offered (at most 60).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Advisor (dashboard) sockets; each receives every message.
    #[arg(long, default_value_t = 4)]
    pub advisors: usize,
}

impl Default for Load {
    fn default() -> Self {
        Load { pairs: 1000, rate: 20_000, seconds: 10, advisors: 4 }
    }
}

impl Load {
    pub fn checked(&self) -> Result<Load, String> {
        let bad = |what: &str| Err(format!("{what} (the bench keeps every run small and short)"));
        if !(1..=5000).contains(&self.pairs) {
            return bad("--pairs must be 1..=5000");
        }
        if !(1..=200_000).contains(&self.rate) {
            return bad("--rate must be 1..=200000");
        }
        if !(1..=60).contains(&self.seconds) {
            return bad("--seconds must be 1..=60");
        }
        if !(1..=16).contains(&self.advisors) {
            return bad("--advisors must be 1..=16");
        }
        Ok(self.clone())
    }

    fn total(&self) -> u64 {
        self.rate * self.seconds
    }

    /// Nanoseconds after `t0` at which message `k` of `pair` is due.
    fn due_ns(&self, pair: u64, k: u64) -> u64 {
        (pair + k * self.pairs) * 1_000_000_000 / self.rate
    }

    /// How many messages `pair` sends.
    fn per_pair(&self, pair: u64) -> u64 {
        let total = self.total();
        if pair >= total {
            0
        } else {
            (total - pair).div_ceil(self.pairs)
        }
    }
}

#[derive(Default)]
struct Counters {
    acked: AtomicU64,
    delivered: AtomicU64,
    error_frames: AtomicU64,
    visitor_disconnects: AtomicU64,
    advisor_kicks: AtomicU64,
    advisor_disconnects: AtomicU64,
    sent: AtomicU64,
    /// Latest ack, in ns after t0.
    last_ack_ns: AtomicU64,
}

struct Shared {
    load: Load,
    /// When message 0 is due; set once every socket is ready.
    t0: std::sync::OnceLock<Instant>,
    counters: Counters,
    /// Per pair: how many of its messages some advisor socket has received (messages of one
    /// conversation arrive in order on every socket, so the socket that raises this first saw it first).
    seen: Vec<AtomicU64>,
}

impl Shared {
    fn t0(&self) -> Instant {
        *self.t0.get().expect("t0 is set before the first message is due")
    }

    fn since_t0_ns(&self) -> u64 {
        Instant::now().saturating_duration_since(self.t0()).as_nanos() as u64
    }

    fn latency_us(&self, pair: u64, k: u64) -> u64 {
        self.since_t0_ns().saturating_sub(self.load.due_ns(pair, k)) / 1000
    }
}

pub struct Row {
    label: String,
    offered: u64,
    total: u64,
    sent: u64,
    acked: u64,
    persisted_per_s: f64,
    ack: Summary,
    delivery: Summary,
    error_frames: u64,
    visitor_disconnects: u64,
    advisor_kicks: u64,
    advisor_disconnects: u64,
    relay_cpu: f64,
    /// The relay's CPU over the offered interval by thread group.
    breakdown: cpu::Breakdown,
    bench_cpu: f64,
    rss_kib: u64,
}

impl Row {
    /// Error frames and dropped sockets.
    fn errors(&self) -> u64 {
        self.error_frames + self.visitor_disconnects + self.advisor_kicks + self.advisor_disconnects
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn offered(&self) -> u64 {
        self.offered
    }

    /// Every message due was acked.
    pub fn all_acked(&self) -> bool {
        self.acked >= self.total
    }

    pub fn unacked(&self) -> u64 {
        self.total - self.acked.min(self.total)
    }

    pub fn ack_p99_us(&self) -> u64 {
        self.ack.p99_us
    }

    pub fn persisted_per_s(&self) -> f64 {
        self.persisted_per_s
    }

    /// The relay's CPU over the offered interval, in % of one core.
    pub fn relay_cpu(&self) -> f64 {
        self.relay_cpu
    }

    /// The relay's CPU time per acked message, in µs: CPU seconds over the offered interval divided by
    /// the messages acked in it (taken as the acked rate times the interval).
    pub fn cpu_per_message_us(&self) -> Option<f64> {
        (self.persisted_per_s > 0.0).then(|| self.relay_cpu / 100.0 / self.persisted_per_s * 1e6)
    }

    /// `label: CPU 112% = writer 41% (user 33, kernel 8) + …; 134 µs of CPU per persisted message`.
    pub fn cpu_line(&self) -> String {
        let per = self.cpu_per_message_us().map_or_else(|| "no message acked".to_owned(), |us| format!("{us:.0} µs of CPU per persisted message"));
        format!("{}: {}; {per}", self.label, self.breakdown.describe())
    }
}

pub async fn run(relay: &Running, load: &Load) -> Result<Row, String> {
    let endpoint = relay.endpoint.clone();
    eprintln!("[{}] setting up {} visitors and {} advisor sockets…", relay.label, load.pairs, load.advisors);
    let cookie = client::login(&endpoint).await?;
    let mut advisors = Vec::new();
    for _ in 0..load.advisors {
        advisors.push(client::advisor(&endpoint, &cookie).await?);
    }
    // Advisor sockets are read from the start: the relay tells dashboards about new visitors, and
    // an unread socket would be dropped as too slow before the load begins.
    let shared = Arc::new(Shared {
        load: load.clone(),
        t0: std::sync::OnceLock::new(),
        counters: Counters::default(),
        seen: (0..load.pairs).map(|_| AtomicU64::new(0)).collect(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut advisor_tasks = Vec::new();
    for ws in advisors {
        advisor_tasks.push(tokio::spawn(advisor_receiver(shared.clone(), endpoint.clone(), cookie.clone(), ws, stop_rx.clone())));
    }
    let setup = Instant::now();
    let visitors: Vec<client::Ws> = futures_util::stream::iter(0..load.pairs)
        .map(|_| {
            let endpoint = endpoint.clone();
            async move { client::visitor(&endpoint).await.map(|(ws, _)| ws) }
        })
        .buffered(SETUP_PARALLEL)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    eprintln!("[{}] {} visitors greeted in {:.1} s; loading for {} s…", relay.label, visitors.len(), setup.elapsed().as_secs_f64(), load.seconds);

    let t0 = *shared.t0.get_or_init(|| Instant::now() + Duration::from_millis(500));
    let mut ack_tasks = Vec::new();
    for (pair, ws) in visitors.into_iter().enumerate() {
        let (sink, stream) = ws.split();
        tokio::spawn(visitor_sender(shared.clone(), pair as u64, sink, stop_rx.clone()));
        ack_tasks.push(tokio::spawn(visitor_receiver(shared.clone(), pair as u64, stream, stop_rx.clone())));
    }

    tokio::time::sleep_until(t0.into()).await;
    let (cpu0, threads0, own0) = (relay.cpu(), cpu::Sample::of(relay.pid), CpuSample::own());
    let end = t0 + Duration::from_secs(load.seconds);
    tokio::time::sleep_until(end.into()).await;
    // CPU over the offered interval: the steady state, not the drain after it.
    let (cpu1, threads1, own1) = (relay.cpu(), cpu::Sample::of(relay.pid), CpuSample::own());
    let total = load.total();
    let c = &shared.counters;
    while Instant::now() < end + DRAIN {
        if c.acked.load(Relaxed) >= total && c.delivered.load(Relaxed) >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rss_kib = relay.rss_kib();
    let _ = stop_tx.send(true);

    let mut acks = Vec::with_capacity(total as usize);
    for t in ack_tasks {
        acks.extend(t.await.map_err(|e| e.to_string())?);
    }
    let mut deliveries = Vec::with_capacity(total as usize);
    for t in advisor_tasks {
        deliveries.extend(t.await.map_err(|e| e.to_string())?);
    }
    let acked = c.acked.load(Relaxed);
    let window = (c.last_ack_ns.load(Relaxed) as f64 / 1e9).max(load.seconds as f64);
    Ok(Row {
        label: relay.label.clone(),
        offered: load.rate,
        total,
        sent: c.sent.load(Relaxed),
        acked,
        persisted_per_s: acked as f64 / window,
        ack: Summary::of(acks),
        delivery: Summary::of(deliveries),
        error_frames: c.error_frames.load(Relaxed),
        visitor_disconnects: c.visitor_disconnects.load(Relaxed),
        advisor_kicks: c.advisor_kicks.load(Relaxed),
        advisor_disconnects: c.advisor_disconnects.load(Relaxed),
        relay_cpu: cpu1.percent_since(&cpu0),
        breakdown: cpu::Breakdown::between(&threads0, &threads1),
        bench_cpu: own1.percent_since(&own0),
        rss_kib,
    })
}

type Sink = futures_util::stream::SplitSink<client::Ws, WsMessage>;
type Stream = futures_util::stream::SplitStream<client::Ws>;

async fn visitor_sender(shared: Arc<Shared>, pair: u64, mut sink: Sink, mut stop: watch::Receiver<bool>) {
    let load = &shared.load;
    for k in 0..load.per_pair(pair) {
        let due = shared.t0() + Duration::from_nanos(load.due_ns(pair, k));
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = stop.changed() => return,
        }
        let frame = format!(r#"{{"type":"send","id":"b{pair}.{k}","text":"bench message {k} of pair {pair}"}}"#);
        if sink.send(WsMessage::Text(frame.into())).await.is_err() {
            shared.counters.visitor_disconnects.fetch_add(1, Relaxed);
            return;
        }
        shared.counters.sent.fetch_add(1, Relaxed);
    }
    // Keep the socket open until the run ends (dropping the sink would not close it, but be explicit).
    let _ = stop.changed().await;
    let _ = sink.close().await;
}

async fn visitor_receiver(shared: Arc<Shared>, pair: u64, mut stream: Stream, mut stop: watch::Receiver<bool>) -> Vec<u64> {
    let expected = shared.load.per_pair(pair);
    let mut latencies = Vec::with_capacity(expected as usize);
    let c = &shared.counters;
    while (latencies.len() as u64) < expected {
        let frame = tokio::select! {
            f = stream.next() => f,
            _ = stop.changed() => break,
        };
        let text = match frame {
            Some(Ok(WsMessage::Text(t))) => t,
            Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => {
                c.visitor_disconnects.fetch_add(1, Relaxed);
                break;
            }
            Some(Ok(_)) => continue,
        };
        if text.starts_with(r#"{"type":"ack""#) {
            if let Some((p, k)) = bench_id(&text) {
                debug_assert_eq!(p, pair);
                latencies.push(shared.latency_us(p, k));
                c.acked.fetch_add(1, Relaxed);
                c.last_ack_ns.fetch_max(shared.since_t0_ns(), Relaxed);
            }
        } else if text.starts_with(r#"{"type":"error""#) {
            c.error_frames.fetch_add(1, Relaxed);
        }
    }
    latencies
}

async fn advisor_receiver(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    cookie: String,
    mut ws: client::Ws,
    mut stop: watch::Receiver<bool>,
) -> Vec<u64> {
    let mut latencies = Vec::new();
    let c = &shared.counters;
    loop {
        let frame = tokio::select! {
            f = ws.next() => f,
            _ = stop.changed() => break,
        };
        let text = match frame {
            Some(Ok(WsMessage::Text(t))) => t,
            Some(Ok(WsMessage::Close(close))) => {
                // 1013 "try again later": the relay found this socket's queue full and dropped it.
                if close.is_some_and(|f| f.code == CloseCode::Again) {
                    c.advisor_kicks.fetch_add(1, Relaxed);
                } else {
                    c.advisor_disconnects.fetch_add(1, Relaxed);
                }
                match client::advisor_again(&endpoint, &cookie, &stop, 5, Duration::from_millis(100)).await {
                    Some(fresh) => {
                        ws = fresh;
                        continue;
                    }
                    None => break,
                }
            }
            None | Some(Err(_)) => {
                c.advisor_disconnects.fetch_add(1, Relaxed);
                match client::advisor_again(&endpoint, &cookie, &stop, 5, Duration::from_millis(100)).await {
                    Some(fresh) => {
                        ws = fresh;
                        continue;
                    }
                    None => break,
                }
            }
            Some(Ok(_)) => continue,
        };
        if text.starts_with(r#"{"type":"message""#) {
            if let Some((pair, k)) = bench_id(&text) {
                let Some(seen) = shared.seen.get(pair as usize) else { continue };
                if seen.fetch_max(k + 1, Relaxed) <= k {
                    latencies.push(shared.latency_us(pair, k));
                    c.delivered.fetch_add(1, Relaxed);
                }
            }
        } else if text.starts_with(r#"{"type":"error""#) {
            c.error_frames.fetch_add(1, Relaxed);
        }
    }
    latencies
}

/// `(pair, k)` from the first `"id":"b<pair>.<k>"` of a frame.
fn bench_id(text: &str) -> Option<(u64, u64)> {
    let start = text.find(r#""id":"b"#)? + 7;
    let rest = &text[start..];
    let end = rest.find('"')?;
    let (pair, k) = rest[..end].split_once('.')?;
    Some((pair.parse().ok()?, k.parse().ok()?))
}

pub fn table(rows: &[Row]) -> String {
    let header = [
        "relay",
        "offered/s",
        "persisted/s",
        "ack p50",
        "ack p99",
        "ack max",
        "deliver p50",
        "deliver p99",
        "deliver max",
        "errors",
        "unacked",
        "undelivered",
        "relay CPU",
        "bench CPU",
        "relay RSS",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.label.clone(),
                r.offered.to_string(),
                format!("{:.0}", r.persisted_per_s),
                ms(r.ack.p50_us),
                ms(r.ack.p99_us),
                ms(r.ack.max_us),
                ms(r.delivery.p50_us),
                ms(r.delivery.p99_us),
                ms(r.delivery.max_us),
                r.errors().to_string(),
                (r.total - r.acked.min(r.total)).to_string(),
                (r.total - (r.delivery.count as u64).min(r.total)).to_string(),
                format!("{:.0}%", r.relay_cpu),
                format!("{:.0}%", r.bench_cpu),
                format!("{:.0} MB", r.rss_kib as f64 / 1024.0),
            ]
        })
        .collect();
    let mut out = text_table(&header, &cells);
    out.push_str("\n(latencies in ms from the time each message was due; CPU in % of one core)\n");
    for r in rows {
        out.push_str(&r.cpu_line());
        out.push('\n');
    }
    for r in rows {
        out.push_str(&format!(
            "{}: {} due, {} sent, {} acked, {} delivered to an advisor; error frames {}, visitor disconnects {}, \
             advisor sockets dropped as too slow {}, other advisor disconnects {}\n",
            r.label,
            r.total,
            r.sent,
            r.acked,
            r.delivery.count,
            r.error_frames,
            r.visitor_disconnects,
            r.advisor_kicks,
            r.advisor_disconnects
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_covers_every_message_once() {
        let load = Load { pairs: 7, rate: 100, seconds: 2, advisors: 1 };
        let total: u64 = (0..7).map(|p| load.per_pair(p)).sum();
        assert_eq!(total, 200);
        assert_eq!(load.due_ns(0, 0), 0);
        assert_eq!(load.due_ns(3, 1), 100_000_000);
        assert!((0..7).all(|p| load.due_ns(p, load.per_pair(p) - 1) < 2_000_000_000));
    }

    #[test]
    fn bench_ids_are_found_in_acks_and_messages() {
        assert_eq!(bench_id(r#"{"type":"ack","id":"b12.345","seq":3,"sent_at":1}"#), Some((12, 345)));
        assert_eq!(bench_id(r#"{"type":"message","message":{"id":"b0.9","conversation":1}}"#), Some((0, 9)));
        assert_eq!(bench_id(r#"{"type":"ack","id":"x","seq":3}"#), None);
    }
}
