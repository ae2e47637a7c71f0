//! The abuse soak: honest visitors and advisors chat while scripted abusers hammer the relay.
//!
//! The relay runs with its default limits, as on the open internet. Every client binds its own
//! source address in 127.0.0.0/8, so the relay sees the addresses a real crowd would have:
//!
//! - **honest visitors** each have an address of their own (127.0.2.x); each writes a message every
//!   2 s and keeps an outbox as the widget does (a message is resent after a `rate_limited`, and
//!   after a reconnect, until it is acked);
//! - **two advisors** (two accounts, from 127.0.0.1) answer every honest message;
//! - **abusers** share `--abuser-ips` addresses (127.0.1.x), a small botnet; each one paces its
//!   requests at `--abuse-rate` per second and does one of five things: new visitors (`hello`
//!   without a token, again and again), messages, typing changes, uploads, or sockets that never
//!   say `hello`.
//!
//! Phase 1 runs the honest load alone for `--seconds`; phase 2 adds the abusers for as long. Each
//! honest message's ack latency is measured from when it was due, so a relay that makes honest
//! clients wait shows it. The bench prints honest messages lost (must be 0), honest ack latencies
//! clean against abused, what the abusers got and how they were refused, and the relay's memory,
//! open files and disk.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::{SinkExt, StreamExt};
use shared::{ConversationId, ErrorCode, ErrorFrame, VisitorServerFrame};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::client::{self, ConnectError, HelloError};
use crate::server::{CpuSample, Endpoint, Running, ADVISOR_EMAIL, SECOND_ADVISOR_EMAIL, SITE, SITE_ORIGIN};
use crate::stats::{ms, table as text_table, Summary};

/// Each honest visitor writes this often.
const HONEST_EVERY: Duration = Duration::from_secs(2);
/// After the last honest message is due, how long acks, deliveries and replies may still take.
const DRAIN: Duration = Duration::from_secs(15);
/// Sockets one hoarding abuser keeps open at most (the relay's per-IP cap usually stops it first).
const HOARD_MAX: usize = 50;
/// A 1×1 PNG: what the upload flood sends.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";

#[derive(Debug, Clone, Args)]
pub struct Soak {
    /// Abusive clients in phase 2, split evenly over the five kinds of abuse.
    #[arg(long, default_value_t = 1000)]
    pub abusers: usize,
    /// Source addresses the abusers share (127.0.1.1 and up).
    #[arg(long, default_value_t = 10)]
    pub abuser_ips: u8,
    /// Requests each abuser makes per second (hellos, frames, uploads or sockets).
    #[arg(long, default_value_t = 10.0)]
    pub abuse_rate: f64,
    /// Honest visitors, each with its own address (127.0.2.1 and up), writing every 2 s.
    #[arg(long, default_value_t = 50)]
    pub honest: usize,
    /// Length of each phase: honest load alone, then with the abusers (at most 60).
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Which kinds of abuse phase 2 runs (the abusers are split evenly over them).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Kind::ALL)]
    pub kinds: Vec<Kind>,
}

impl Soak {
    pub fn checked(&self) -> Result<Soak, String> {
        let bad = |what: &str| Err(format!("{what} (the bench keeps every run small and short)"));
        if self.abusers > 2000 {
            return bad("--abusers must be at most 2000");
        }
        if !(1..=250).contains(&self.abuser_ips) {
            return bad("--abuser-ips must be 1..=250");
        }
        if !(0.1..=100.0).contains(&self.abuse_rate) {
            return bad("--abuse-rate must be 0.1..=100");
        }
        if !(2..=250).contains(&self.honest) {
            return bad("--honest must be 2..=250");
        }
        if self.kinds.is_empty() {
            return bad("--kinds needs at least one kind");
        }
        if !(4..=60).contains(&self.seconds) {
            return bad("--seconds must be 4..=60");
        }
        let hoarders = (0..self.abusers).filter(|&n| self.kind(n) == Kind::Hoard).count();
        let need = (hoarders * HOARD_MAX + self.abusers + self.honest) as u64 + 500;
        let limit = crate::server::fd_limit();
        if limit < need {
            return Err(format!("the open-file limit is {limit}; this run needs about {need} (raise it with `ulimit -n`)"));
        }
        Ok(self.clone())
    }

    fn abuser_ip(&self, n: usize) -> IpAddr {
        // Every address carries every kind of abuse.
        let host = 1 + (n / self.kinds.len()) % self.abuser_ips as usize;
        IpAddr::V4(Ipv4Addr::new(127, 0, 1, host as u8))
    }

    /// The kind of abuser `n`.
    fn kind(&self, n: usize) -> Kind {
        self.kinds[n % self.kinds.len()]
    }

    fn honest_ip(i: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 2, 1 + i as u8))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Hello,
    Send,
    Typing,
    Upload,
    Hoard,
}

impl Kind {
    const ALL: [Kind; 5] = [Kind::Hello, Kind::Send, Kind::Typing, Kind::Upload, Kind::Hoard];

    fn describe(self) -> &'static str {
        match self {
            Kind::Hello => "new visitors (hello, no token)",
            Kind::Send => "messages",
            Kind::Typing => "typing changes",
            Kind::Upload => "uploads",
            Kind::Hoard => "sockets without hello",
        }
    }
}

/// What one kind of abuser tried and how the relay answered.
#[derive(Default)]
struct Tally {
    clients: AtomicU64,
    attempts: AtomicU64,
    /// Hellos welcomed, messages acked, uploads stored, sockets opened.
    accepted: AtomicU64,
    rate_limited: AtomicU64,
    quota_exceeded: AtomicU64,
    /// Upgrades and uploads answered 429 before any frame.
    http_429: AtomicU64,
    /// Closed by the relay with 1013 (try again later) or 1008 (policy: no hello in time).
    closed_1013: AtomicU64,
    closed_1008: AtomicU64,
    /// Anything else: failed connections, other errors.
    other: AtomicU64,
}

impl Tally {
    fn add(n: &AtomicU64) {
        n.fetch_add(1, Relaxed);
    }

    fn error_frame(&self, e: &ErrorFrame) {
        match e.code {
            ErrorCode::RateLimited => Tally::add(&self.rate_limited),
            ErrorCode::QuotaExceeded => Tally::add(&self.quota_exceeded),
            _ => Tally::add(&self.other),
        }
    }

    fn closed(&self, code: Option<u16>) {
        match code {
            Some(1013) => Tally::add(&self.closed_1013),
            Some(1008) => Tally::add(&self.closed_1008),
            _ => Tally::add(&self.other),
        }
    }

    fn hello_failed(&self, e: &HelloError) {
        match e {
            HelloError::Upgrade(ConnectError::Refused(429)) => Tally::add(&self.http_429),
            HelloError::Refused(e) => self.error_frame(e),
            HelloError::Closed(code) => self.closed(*code),
            _ => Tally::add(&self.other),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Clean,
    Abused,
}

/// State every task of the run shares.
struct Shared {
    soak: Soak,
    endpoint: Endpoint,
    t0: Instant,
    /// Phase 2 starts here.
    abuse_from: Instant,
    /// No honest message is due from here on.
    end: Instant,
    tallies: [Tally; 5],
    /// Honest messages some advisor socket received, as (visitor, k).
    delivered: Mutex<HashSet<(usize, u64)>>,
    /// Of those, the ones an advisor's reply was acked for.
    replied: Mutex<HashSet<(usize, u64)>>,
    /// Conversation of each honest visitor, for the advisors' replies.
    conversations: Vec<std::sync::OnceLock<ConversationId>>,
    /// Error frames the honest side saw (must stay 0), advisor sockets dropped, typing frames at advisors.
    honest_errors: AtomicU64,
    honest_reconnects: AtomicU64,
    advisor_drops: AtomicU64,
    typing_forwarded: AtomicU64,
    abuser_messages_seen: AtomicU64,
}

impl Shared {
    fn phase(&self, at: Instant) -> Phase {
        if at < self.abuse_from {
            Phase::Clean
        } else {
            Phase::Abused
        }
    }

    fn tally(&self, kind: Kind) -> &Tally {
        &self.tallies[Kind::ALL.iter().position(|k| *k == kind).expect("every kind is listed")]
    }

    /// When honest visitor `i`'s message `k` is due: the visitors' turns are spread over the period.
    fn due(&self, i: usize, k: u64) -> Instant {
        self.t0 + HONEST_EVERY * k as u32 + HONEST_EVERY.mul_f64(i as f64 / self.soak.honest as f64)
    }
}

/// What one honest visitor measured.
#[derive(Default)]
struct HonestResult {
    due: u64,
    acked: u64,
    clean: Vec<u64>,
    abused: Vec<u64>,
    /// The abused phase's latencies by the 10 s window of the phase they were due in.
    abused_windows: Vec<Vec<u64>>,
    replies_received: u64,
}

/// The relay's state at one moment.
#[derive(Clone, Copy)]
struct Snapshot {
    rss_kib: u64,
    fds: usize,
    data_bytes: u64,
}

impl Snapshot {
    fn of(relay: &Running) -> Snapshot {
        Snapshot { rss_kib: relay.rss_kib(), fds: relay.open_fds(), data_bytes: relay.data_bytes() }
    }
}

pub struct Report {
    label: String,
    soak: Soak,
    honest: HonestResult,
    delivered: u64,
    replied: u64,
    advisor_clean: Summary,
    advisor_abused: Summary,
    honest_errors: u64,
    honest_reconnects: u64,
    advisor_drops: u64,
    typing_forwarded: u64,
    abuser_messages_seen: u64,
    tallies: Vec<(Kind, [u64; 9])>,
    clean_cpu: f64,
    abused_cpu: f64,
    bench_cpu: f64,
    after_clean: Snapshot,
    during_abuse: Snapshot,
    after_abuse: Snapshot,
}

impl Report {
    /// Honest messages due and never acked, or acked and never seen by an advisor.
    pub fn lost(&self) -> u64 {
        (self.honest.due - self.honest.acked.min(self.honest.due)) + (self.honest.acked - self.delivered.min(self.honest.acked))
    }
}

pub async fn run(relay: &Running, soak: &Soak) -> Result<Report, String> {
    let endpoint = relay.endpoint.clone();
    eprintln!("[{}] setting up {} honest visitors and 2 advisors…", relay.label, soak.honest);
    let mut advisors = Vec::new();
    for email in [ADVISOR_EMAIL, SECOND_ADVISOR_EMAIL] {
        let cookie = client::login_as(&endpoint, email).await?;
        let ws = client::advisor(&endpoint, &cookie).await?;
        advisors.push((cookie, ws));
    }
    let mut visitors = Vec::new();
    for i in 0..soak.honest {
        visitors.push(client::greet(&endpoint, Some(Soak::honest_ip(i)), None).await.map_err(|e| format!("honest visitor {i}: {e}"))?);
    }
    let t0 = Instant::now() + Duration::from_millis(500);
    let phase = Duration::from_secs(soak.seconds);
    let shared = Arc::new(Shared {
        soak: soak.clone(),
        endpoint: endpoint.clone(),
        t0,
        abuse_from: t0 + phase,
        end: t0 + 2 * phase,
        tallies: Default::default(),
        delivered: Mutex::new(HashSet::new()),
        replied: Mutex::new(HashSet::new()),
        conversations: (0..soak.honest).map(|_| std::sync::OnceLock::new()).collect(),
        honest_errors: AtomicU64::new(0),
        honest_reconnects: AtomicU64::new(0),
        advisor_drops: AtomicU64::new(0),
        typing_forwarded: AtomicU64::new(0),
        abuser_messages_seen: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut advisor_tasks = Vec::new();
    for (j, (cookie, ws)) in advisors.into_iter().enumerate() {
        advisor_tasks.push(tokio::spawn(advisor(shared.clone(), j, cookie, ws, stop_rx.clone())));
    }
    let mut honest_tasks = Vec::new();
    for (i, (ws, greeted)) in visitors.into_iter().enumerate() {
        let _ = shared.conversations[i].set(greeted.conversation);
        honest_tasks.push(tokio::spawn(honest(shared.clone(), i, ws, greeted.token, stop_rx.clone())));
    }

    eprintln!("[{}] phase 1: honest load alone for {} s…", relay.label, soak.seconds);
    tokio::time::sleep_until(t0.into()).await;
    let (cpu0, own0) = (relay.cpu(), CpuSample::own());
    tokio::time::sleep_until(shared.abuse_from.into()).await;
    let cpu1 = relay.cpu();
    let after_clean = Snapshot::of(relay);

    eprintln!("[{}] phase 2: with {} abusers from {} addresses for {} s…", relay.label, soak.abusers, soak.abuser_ips, soak.seconds);
    let (abuse_stop_tx, abuse_stop_rx) = watch::channel(false);
    let mut abuser_tasks = Vec::new();
    for n in 0..soak.abusers {
        let kind = soak.kind(n);
        abuser_tasks.push(tokio::spawn(abuser(shared.clone(), n, kind, abuse_stop_rx.clone())));
    }
    tokio::time::sleep_until(shared.end.into()).await;
    let (cpu2, own2) = (relay.cpu(), CpuSample::own());
    let during_abuse = Snapshot::of(relay);
    let _ = abuse_stop_tx.send(true);
    for t in abuser_tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }

    // The honest visitors stop by themselves once every message is acked and answered (or the
    // drain is over); the advisors once the visitors are done.
    let mut honest = HonestResult::default();
    for t in honest_tasks {
        let r = t.await.map_err(|e| e.to_string())?;
        honest.due += r.due;
        honest.acked += r.acked;
        honest.clean.extend(r.clean);
        honest.abused.extend(r.abused);
        for (w, samples) in r.abused_windows.into_iter().enumerate() {
            if honest.abused_windows.len() <= w {
                honest.abused_windows.resize(w + 1, Vec::new());
            }
            honest.abused_windows[w].extend(samples);
        }
        honest.replies_received += r.replies_received;
    }
    let _ = stop_tx.send(true);
    let (mut advisor_clean, mut advisor_abused) = (Vec::new(), Vec::new());
    for t in advisor_tasks {
        let (clean, abused) = t.await.map_err(|e| e.to_string())?;
        advisor_clean.extend(clean);
        advisor_abused.extend(abused);
    }
    // Let the relay notice the closed sockets before counting what it still holds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_abuse = Snapshot::of(relay);

    let tallies = Kind::ALL
        .iter()
        .map(|&k| {
            let t = shared.tally(k);
            let n = |a: &AtomicU64| a.load(Relaxed);
            (
                k,
                [
                    n(&t.clients),
                    n(&t.attempts),
                    n(&t.accepted),
                    n(&t.rate_limited),
                    n(&t.quota_exceeded),
                    n(&t.http_429),
                    n(&t.closed_1013),
                    n(&t.closed_1008),
                    n(&t.other),
                ],
            )
        })
        .collect();
    let delivered = shared.delivered.lock().expect("not poisoned").len() as u64;
    let replied = shared.replied.lock().expect("not poisoned").len() as u64;
    Ok(Report {
        label: relay.label.clone(),
        soak: soak.clone(),
        honest,
        delivered,
        replied,
        advisor_clean: Summary::of(advisor_clean),
        advisor_abused: Summary::of(advisor_abused),
        honest_errors: shared.honest_errors.load(Relaxed),
        honest_reconnects: shared.honest_reconnects.load(Relaxed),
        advisor_drops: shared.advisor_drops.load(Relaxed),
        typing_forwarded: shared.typing_forwarded.load(Relaxed),
        abuser_messages_seen: shared.abuser_messages_seen.load(Relaxed),
        tallies,
        clean_cpu: cpu1.percent_since(&cpu0),
        abused_cpu: cpu2.percent_since(&cpu1),
        bench_cpu: own2.percent_since(&own0),
        after_clean,
        during_abuse,
        after_abuse,
    })
}

/// One honest visitor: a message every 2 s until the end, an outbox that resends until acked.
async fn honest(shared: Arc<Shared>, i: usize, mut ws: client::Ws, token: String, mut stop: watch::Receiver<bool>) -> HonestResult {
    let mut result = HonestResult::default();
    let ip = Soak::honest_ip(i);
    // Not yet acked: k → when it was due.
    let mut outbox: BTreeMap<u64, Instant> = BTreeMap::new();
    let mut replies: HashSet<u64> = HashSet::new();
    let mut resend_at: Option<Instant> = None;
    let mut k = 0;
    let deadline = shared.end + DRAIN;
    let frame =
        |k: u64| WsMessage::Text(format!(r#"{{"type":"send","id":"h{i}.{k}","text":"honest question {k} from visitor {i}"}}"#).into());
    loop {
        let next_due = shared.due(i, k);
        let sending = next_due < shared.end;
        if !sending && outbox.is_empty() && replies.len() as u64 >= result.acked {
            break;
        }
        let mut connected = true;
        tokio::select! {
            _ = tokio::time::sleep_until(next_due.into()), if sending => {
                outbox.insert(k, next_due);
                result.due += 1;
                connected = ws.send(frame(k)).await.is_ok();
                k += 1;
            }
            _ = tokio::time::sleep_until(resend_at.unwrap_or(deadline).into()), if resend_at.is_some() => {
                resend_at = None;
                for &k in outbox.keys() {
                    if ws.send(frame(k)).await.is_err() {
                        connected = false;
                        break;
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => break,
            _ = stop.changed() => break,
            got = ws.next() => match got {
                Some(Ok(WsMessage::Text(text))) => {
                    if text.starts_with(r#"{"type":"ack""#) {
                        if let Some((_, k)) = id_after(&text, r#""id":"h"#) {
                            if let Some(due) = outbox.remove(&k) {
                                result.acked += 1;
                                let latency = Instant::now().saturating_duration_since(due).as_micros() as u64;
                                match shared.phase(due) {
                                    Phase::Clean => result.clean.push(latency),
                                    Phase::Abused => {
                                        result.abused.push(latency);
                                        let w = (due - shared.abuse_from).as_secs() as usize / 10;
                                        if result.abused_windows.len() <= w {
                                            result.abused_windows.resize(w + 1, Vec::new());
                                        }
                                        result.abused_windows[w].push(latency);
                                    }
                                }
                            }
                        }
                    } else if text.starts_with(r#"{"type":"message""#) {
                        if let Some((_, k)) = id_after(&text, r#""id":"r"#) {
                            replies.insert(k);
                        }
                    } else if text.starts_with(r#"{"type":"error""#) {
                        shared.honest_errors.fetch_add(1, Relaxed);
                        // The widget's outbox: wait as long as the relay says, then send again.
                        if let Ok(VisitorServerFrame::Error(e)) = serde_json::from_str::<VisitorServerFrame>(&text) {
                            if let Some(wait) = e.retry_after_ms {
                                resend_at = Some(Instant::now() + Duration::from_millis(wait));
                            }
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => connected = false,
            },
        }
        if !connected {
            // Reconnect as the widget does (same token, same address) and send the outbox again.
            shared.honest_reconnects.fetch_add(1, Relaxed);
            loop {
                if Instant::now() >= deadline || *stop.borrow() {
                    return finish(result, replies);
                }
                match client::greet(&shared.endpoint, Some(ip), Some(&token)).await {
                    Ok((fresh, _)) => {
                        ws = fresh;
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
            for &k in outbox.keys() {
                let _ = ws.send(frame(k)).await;
            }
        }
    }
    let _ = ws.close(None).await;
    finish(result, replies)
}

fn finish(mut result: HonestResult, replies: HashSet<u64>) -> HonestResult {
    result.replies_received = replies.len() as u64;
    result
}

/// `(visitor, k)` from the first `<marker><visitor>.<k>"` of a frame, e.g. `"id":"h3.17"`.
fn id_after(text: &str, marker: &str) -> Option<(usize, u64)> {
    let start = text.find(marker)? + marker.len();
    let rest = &text[start..];
    let (i, k) = rest[..rest.find('"')?].split_once('.')?;
    Some((i.parse().ok()?, k.parse().ok()?))
}

/// Advisor `j` of two: sees every message, answers the honest visitors `i` with `i % 2 == j`.
/// Returns its reply ack latencies (clean, abused).
async fn advisor(
    shared: Arc<Shared>,
    j: usize,
    cookie: String,
    mut ws: client::Ws,
    mut stop: watch::Receiver<bool>,
) -> (Vec<u64>, Vec<u64>) {
    let (mut clean, mut abused) = (Vec::new(), Vec::new());
    let mut sent: HashMap<(usize, u64), Instant> = HashMap::new();
    // What this advisor has answered (a message can come again after a reconnect).
    let mut answered: HashSet<(usize, u64)> = HashSet::new();
    loop {
        let got = tokio::select! {
            got = ws.next() => got,
            _ = stop.changed() => break,
        };
        let text = match got {
            Some(Ok(WsMessage::Text(t))) => t,
            Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => {
                shared.advisor_drops.fetch_add(1, Relaxed);
                // The dashboard reconnects (and would reload the inbox; the bench counts what it missed).
                match client::advisor_again(&shared.endpoint, &cookie, &stop, 20, Duration::from_millis(250)).await {
                    Some(fresh) => {
                        ws = fresh;
                        continue;
                    }
                    None => break,
                }
            }
            Some(Ok(_)) => continue,
        };
        if text.starts_with(r#"{"type":"message","message":{"id":"h"#) {
            let Some((i, k)) = id_after(&text, r#""id":"h"#) else {
                continue;
            };
            shared.delivered.lock().expect("not poisoned").insert((i, k));
            if i % 2 == j && answered.insert((i, k)) {
                let Some(conversation) = shared.conversations.get(i).and_then(|c| c.get()) else {
                    continue;
                };
                let reply =
                    format!(r#"{{"type":"send","id":"r{i}.{k}","conversation":{},"text":"answer to question {k}"}}"#, conversation.0);
                sent.insert((i, k), Instant::now());
                let _ = ws.send(WsMessage::Text(reply.into())).await;
            }
        } else if text.starts_with(r#"{"type":"message""#) {
            shared.abuser_messages_seen.fetch_add(1, Relaxed);
        } else if text.starts_with(r#"{"type":"ack""#) {
            let Some((i, k)) = id_after(&text, r#""id":"r"#) else {
                continue;
            };
            if let Some(at) = sent.remove(&(i, k)) {
                shared.replied.lock().expect("not poisoned").insert((i, k));
                let latency = at.elapsed().as_micros() as u64;
                match shared.phase(at) {
                    Phase::Clean => clean.push(latency),
                    Phase::Abused => abused.push(latency),
                }
            }
        } else if text.starts_with(r#"{"type":"typing""#) {
            shared.typing_forwarded.fetch_add(1, Relaxed);
        } else if text.starts_with(r#"{"type":"error""#) {
            shared.honest_errors.fetch_add(1, Relaxed);
        }
    }
    (clean, abused)
}

/// One abuser until `stop`: `--abuse-rate` requests a second of its kind, from its address.
async fn abuser(shared: Arc<Shared>, n: usize, kind: Kind, mut stop: watch::Receiver<bool>) {
    let tally = shared.tally(kind);
    Tally::add(&tally.clients);
    let ip = shared.soak.abuser_ip(n);
    let mut tick = tokio::time::interval_at(
        // Spread the abusers' first requests over one period.
        (Instant::now() + Duration::from_secs_f64((n % 97) as f64 / 97.0 / shared.soak.abuse_rate)).into(),
        Duration::from_secs_f64(1.0 / shared.soak.abuse_rate),
    );
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let sockets_stop = stop.clone();
    let work = async {
        match kind {
            Kind::Hello => hello_flood(&shared, ip, tally, &mut tick).await,
            Kind::Send | Kind::Typing => frame_flood(&shared, n, ip, kind, tally, &mut tick).await,
            Kind::Upload => upload_flood(&shared, ip, tally, &mut tick).await,
            Kind::Hoard => hoard(shared.clone(), ip, &mut tick, sockets_stop).await,
        }
    };
    tokio::select! {
        _ = work => {}
        _ = stop.changed() => {}
    }
}

/// A new visitor per request, the socket dropped at once.
async fn hello_flood(shared: &Shared, ip: IpAddr, tally: &Tally, tick: &mut tokio::time::Interval) {
    loop {
        tick.tick().await;
        Tally::add(&tally.attempts);
        match client::greet(&shared.endpoint, Some(ip), None).await {
            Ok(_) => Tally::add(&tally.accepted),
            Err(e) => tally.hello_failed(&e),
        }
    }
}

/// A visitor whenever the relay gives one, then messages (or typing changes) as fast as the pace
/// allows; back after every close, with the same token.
async fn frame_flood(shared: &Shared, n: usize, ip: IpAddr, kind: Kind, tally: &Tally, tick: &mut tokio::time::Interval) {
    let mut token: Option<String> = None;
    let mut k = 0u64;
    loop {
        tick.tick().await;
        Tally::add(&tally.attempts);
        let mut ws = match client::greet(&shared.endpoint, Some(ip), token.as_deref()).await {
            Ok((ws, greeted)) => {
                token = Some(greeted.token);
                ws
            }
            Err(e) => {
                tally.hello_failed(&e);
                continue;
            }
        };
        if kind == Kind::Typing {
            // One message first, so the conversation is in the advisors' inbox and typing reaches them.
            let _ = ws.send(WsMessage::Text(format!(r#"{{"type":"send","id":"a{n}.t","text":"hi"}}"#).into())).await;
        }
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    Tally::add(&tally.attempts);
                    let frame = match kind {
                        Kind::Typing => format!(r#"{{"type":"typing","on":{}}}"#, k.is_multiple_of(2)),
                        _ => format!(r#"{{"type":"send","id":"a{n}.{k}","text":"spam {k}"}}"#),
                    };
                    k += 1;
                    if ws.send(WsMessage::Text(frame.into())).await.is_err() {
                        Tally::add(&tally.other);
                        break;
                    }
                }
                got = ws.next() => match got {
                    Some(Ok(WsMessage::Text(text))) => {
                        if text.starts_with(r#"{"type":"ack""#) {
                            Tally::add(&tally.accepted);
                        } else if text.starts_with(r#"{"type":"error""#) {
                            match serde_json::from_str::<VisitorServerFrame>(&text) {
                                Ok(VisitorServerFrame::Error(e)) => tally.error_frame(&e),
                                _ => Tally::add(&tally.other),
                            }
                        }
                    }
                    Some(Ok(WsMessage::Close(c))) => {
                        tally.closed(c.map(|c| u16::from(c.code)));
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        Tally::add(&tally.other);
                        break;
                    }
                },
            }
        }
    }
}

/// A visitor token, then the same file again and again, never sent in a message.
async fn upload_flood(shared: &Shared, ip: IpAddr, tally: &Tally, tick: &mut tokio::time::Interval) {
    let http = match reqwest::Client::builder().local_address(ip).timeout(Duration::from_secs(10)).build() {
        Ok(c) => c,
        Err(_) => return Tally::add(&tally.other),
    };
    let url = shared.endpoint.http(&format!("/api/v1/uploads?site={SITE}&name=a.png"));
    let token = loop {
        tick.tick().await;
        Tally::add(&tally.attempts);
        match client::greet(&shared.endpoint, Some(ip), None).await {
            Ok((ws, greeted)) => {
                drop(ws);
                break greeted.token;
            }
            Err(e) => tally.hello_failed(&e),
        }
    };
    loop {
        tick.tick().await;
        Tally::add(&tally.attempts);
        let sent = http
            .post(&url)
            .header("origin", SITE_ORIGIN)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "image/png")
            .body(PNG)
            .send()
            .await;
        let Ok(response) = sent else {
            Tally::add(&tally.other);
            continue;
        };
        match response.status().as_u16() {
            201 => Tally::add(&tally.accepted),
            429 => match response.json::<ErrorFrame>().await {
                Ok(e) if e.code == ErrorCode::QuotaExceeded => Tally::add(&tally.quota_exceeded),
                Ok(e) if e.code == ErrorCode::RateLimited => Tally::add(&tally.http_429),
                _ => Tally::add(&tally.other),
            },
            _ => Tally::add(&tally.other),
        }
    }
}

/// Sockets opened and never greeted, as many as the relay lets one address hold.
async fn hoard(shared: Arc<Shared>, ip: IpAddr, tick: &mut tokio::time::Interval, stop: watch::Receiver<bool>) {
    let tally = shared.tally(Kind::Hoard);
    let held = Arc::new(AtomicUsize::new(0));
    let url = shared.endpoint.ws(&format!("/ws/visitor?site={SITE}"));
    loop {
        tick.tick().await;
        if held.load(Relaxed) >= HOARD_MAX {
            continue;
        }
        Tally::add(&tally.attempts);
        match client::connect_from(&url, &[("origin", SITE_ORIGIN)], Some(ip)).await {
            Ok(mut ws) => {
                Tally::add(&tally.accepted);
                held.fetch_add(1, Relaxed);
                let (held, mut stop, shared) = (held.clone(), stop.clone(), shared.clone());
                // Each socket waits for the relay to close it (1008 once the hello is late).
                tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            got = ws.next() => match got {
                                Some(Ok(WsMessage::Close(c))) => {
                                    shared.tally(Kind::Hoard).closed(c.map(|c| u16::from(c.code)));
                                    break;
                                }
                                Some(Ok(_)) => continue,
                                Some(Err(_)) | None => break,
                            },
                            _ = stop.changed() => break,
                        }
                    }
                    held.fetch_sub(1, Relaxed);
                });
            }
            Err(ConnectError::Refused(429)) => Tally::add(&tally.http_429),
            Err(_) => Tally::add(&tally.other),
        }
    }
}

pub fn report(r: &Report) -> String {
    let mut out = String::new();
    let h = &r.honest;
    let (clean, abused) = (Summary::of(h.clean.clone()), Summary::of(h.abused.clone()));
    out.push_str(&format!(
        "{}: {} honest visitors (own addresses), 2 advisors, {} s; phase 2 adds {} abusers ({}) from {} addresses, {} requests/s each, for {} s\n\n",
        r.label,
        r.soak.honest,
        r.soak.seconds,
        r.soak.abusers,
        r.soak.kinds.iter().map(|k| k.describe()).collect::<Vec<_>>().join(", "),
        r.soak.abuser_ips,
        r.soak.abuse_rate,
        r.soak.seconds
    ));
    let row = |name: &str, visitor: &Summary, advisor: &Summary, cpu: f64| {
        vec![
            name.to_owned(),
            visitor.count.to_string(),
            ms(visitor.p50_us),
            ms(visitor.p99_us),
            ms(visitor.max_us),
            ms(advisor.p50_us),
            ms(advisor.p99_us),
            format!("{cpu:.0}%"),
        ]
    };
    let rows = vec![row("alone", &clean, &r.advisor_clean, r.clean_cpu), row("with the abusers", &abused, &r.advisor_abused, r.abused_cpu)];
    out.push_str(&text_table(
        &["honest load", "acked", "visitor ack p50", "p99", "max", "advisor reply ack p50", "p99", "relay CPU"],
        &rows,
    ));
    out.push_str("\n(visitor ack latency from when each message was due, resends included; ms; CPU in % of one core)\n");
    let windows: Vec<String> = h
        .abused_windows
        .iter()
        .enumerate()
        .map(|(w, samples)| format!("{}–{} s: {}", w * 10, w * 10 + 10, ms(Summary::of(samples.clone()).p99_us)))
        .collect();
    out.push_str(&format!("visitor ack p99 with the abusers, by when in phase 2 it was due: {}\n\n", windows.join(", ")));
    out.push_str(&format!(
        "honest messages: {} due, {} acked, {} seen by an advisor, {} answered, {} answers received; LOST: {}\n\
         honest error frames: {}, honest reconnects: {}, advisor sockets dropped: {}\n\n",
        h.due,
        h.acked,
        r.delivered,
        r.replied,
        h.replies_received,
        r.lost(),
        r.honest_errors,
        r.honest_reconnects,
        r.advisor_drops
    ));
    let rows: Vec<Vec<String>> = r
        .tallies
        .iter()
        .map(|(kind, [clients, attempts, accepted, rate_limited, quota, http_429, c1013, c1008, other])| {
            vec![
                kind.describe().to_owned(),
                clients.to_string(),
                attempts.to_string(),
                accepted.to_string(),
                rate_limited.to_string(),
                quota.to_string(),
                http_429.to_string(),
                c1013.to_string(),
                c1008.to_string(),
                other.to_string(),
            ]
        })
        .collect();
    out.push_str(&text_table(
        &["abuse", "clients", "requests", "accepted", "rate_limited", "quota_exceeded", "HTTP 429", "close 1013", "close 1008", "other"],
        &rows,
    ));
    let refused: u64 =
        Kind::ALL.iter().map(|&k| r.tallies.iter().find(|(t, _)| *t == k).map_or(0, |(_, n)| n[3] + n[4] + n[5] + n[6] + n[7])).sum();
    let attempts: u64 = r.tallies.iter().map(|(_, n)| n[1]).sum();
    out.push_str(&format!(
        "\n(accepted: hellos welcomed, frames acked, files stored, sockets opened; typing changes are never answered)\n\
         abusive requests: {attempts}, refused: {refused}; abusers' messages at each advisor socket: {}, typing frames forwarded to them: {}\n\n",
        r.abuser_messages_seen / 2,
        r.typing_forwarded / 2
    ));
    let snap = |name: &str, s: &Snapshot| {
        vec![
            name.to_owned(),
            format!("{:.0} MB", s.rss_kib as f64 / 1024.0),
            s.fds.to_string(),
            format!("{:.1} MB", s.data_bytes as f64 / 1e6),
        ]
    };
    out.push_str(&text_table(
        &["relay", "RSS", "open files", "data directory"],
        &[snap("after phase 1", &r.after_clean), snap("end of phase 2", &r.during_abuse), snap("abusers gone", &r.after_abuse)],
    ));
    out.push_str(&format!("\n(bench CPU over both phases: {:.0}% of one core)\n", r.bench_cpu));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_after_their_marker() {
        assert_eq!(id_after(r#"{"type":"ack","id":"h12.345","seq":3}"#, r#""id":"h"#), Some((12, 345)));
        assert_eq!(id_after(r#"{"type":"message","message":{"id":"r3.9","conversation":1}}"#, r#""id":"r"#), Some((3, 9)));
        assert_eq!(id_after(r#"{"type":"ack","id":"a1.2"}"#, r#""id":"h"#), None);
    }

    #[test]
    fn every_abuser_address_carries_every_kind() {
        let soak = Soak { abusers: 100, abuser_ips: 4, abuse_rate: 1.0, honest: 2, seconds: 4, kinds: Kind::ALL.to_vec() };
        let mut kinds_per_ip: HashMap<IpAddr, HashSet<usize>> = HashMap::new();
        for n in 0..100 {
            kinds_per_ip.entry(soak.abuser_ip(n)).or_default().insert(soak.kind(n) as usize);
        }
        assert_eq!(kinds_per_ip.len(), 4);
        assert!(kinds_per_ip.values().all(|k| k.len() == Kind::ALL.len()));
        assert_ne!(Soak::honest_ip(0), soak.abuser_ip(0));
    }
}
