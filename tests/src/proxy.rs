//! [`ChaosProxy`]: a TCP proxy between the clients and the relay that can cut every connection,
//! stall them (stop forwarding bytes, so TCP backs up, then carry on), cut some at random, or let
//! new connections die after a random number of bytes (mid-frame, mid-handshake, anywhere).
//! Randomness comes from a seeded RNG so a failing run can be replayed with the same decisions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::reliable::Endpoint;

/// Connections that die after a random number of bytes.
#[derive(Clone, Debug)]
pub struct RandomDrops {
    /// The share of new connections that get a byte budget.
    pub probability: f64,
    /// Bytes (both directions together) a doomed connection carries before it is cut.
    pub after_bytes: Range<i64>,
}

/// What the proxy did, for the test's report.
#[derive(Clone, Debug, Default)]
pub struct ProxyStats {
    pub accepted: u64,
    /// Connections whose upstream (the relay) could not be reached.
    pub upstream_refused: u64,
    /// Connections cut by `cut_all` / `cut_some`.
    pub cut: u64,
    /// Connections cut when their random byte budget ran out.
    pub dropped_mid_stream: u64,
    /// Connections stalled (counted once per stall).
    pub stalled: u64,
}

struct Conn {
    cut: CancellationToken,
    stall: watch::Sender<Option<Instant>>,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    upstream_refused: AtomicU64,
    cut: AtomicU64,
    dropped_mid_stream: AtomicU64,
    stalled: AtomicU64,
}

struct Inner {
    upstream: Endpoint,
    conns: Mutex<HashMap<u64, Conn>>,
    rng: Mutex<StdRng>,
    drops: Mutex<Option<RandomDrops>>,
    counters: Counters,
    next_id: AtomicU64,
}

pub struct ChaosProxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
    accept: JoinHandle<()>,
}

impl ChaosProxy {
    /// A proxy on 127.0.0.1 (port 0) forwarding to whatever `upstream` points at when a connection
    /// comes in.
    pub async fn start(upstream: Endpoint, seed: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            upstream,
            conns: Mutex::new(HashMap::new()),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            drops: Mutex::new(None),
            counters: Counters::default(),
            next_id: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, inner.clone()));
        ChaosProxy { addr, inner, accept }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cut every open connection now.
    pub fn cut_all(&self) -> usize {
        self.cut_some(1.0)
    }

    /// Cut each open connection with probability `share`; returns how many were cut.
    pub fn cut_some(&self, share: f64) -> usize {
        let conns = lock(&self.inner.conns);
        let mut rng = lock(&self.inner.rng);
        let mut n = 0;
        for conn in conns.values() {
            if !conn.cut.is_cancelled() && rng.gen_bool(share.clamp(0.0, 1.0)) {
                conn.cut.cancel();
                n += 1;
            }
        }
        self.inner.counters.cut.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// Stop forwarding on every open connection for `duration` (both directions); they carry on
    /// afterwards unless cut meanwhile.
    pub fn stall_all(&self, duration: Duration) -> usize {
        let until = Instant::now() + duration;
        let conns = lock(&self.inner.conns);
        for conn in conns.values() {
            let _ = conn.stall.send(Some(until));
        }
        self.inner.counters.stalled.fetch_add(conns.len() as u64, Ordering::Relaxed);
        conns.len()
    }

    /// From now on, doom a share of new connections to die after a random number of bytes; `None`
    /// stops it (connections already doomed keep their budget).
    pub fn set_random_drops(&self, drops: Option<RandomDrops>) {
        *lock(&self.inner.drops) = drops;
    }

    pub fn open_connections(&self) -> usize {
        lock(&self.inner.conns).len()
    }

    pub fn stats(&self) -> ProxyStats {
        let c = &self.inner.counters;
        ProxyStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            upstream_refused: c.upstream_refused.load(Ordering::Relaxed),
            cut: c.cut.load(Ordering::Relaxed),
            dropped_mid_stream: c.dropped_mid_stream.load(Ordering::Relaxed),
            stalled: c.stalled.load(Ordering::Relaxed),
        }
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for conn in lock(&self.inner.conns).values() {
            conn.cut.cancel();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        inner.counters.accepted.fetch_add(1, Ordering::Relaxed);
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let cut = CancellationToken::new();
        let (stall, stall_rx) = watch::channel(None);
        let (budget, reset) = {
            let mut rng = lock(&inner.rng);
            let budget = match &*lock(&inner.drops) {
                Some(d) if rng.gen_bool(d.probability.clamp(0.0, 1.0)) => rng.gen_range(d.after_bytes.clone()),
                _ => -1,
            };
            (budget, rng.gen_bool(0.5))
        };
        lock(&inner.conns).insert(id, Conn { cut: cut.clone(), stall });
        tokio::spawn(serve_conn(inner.clone(), id, client, cut, stall_rx, budget, reset));
    }
}

async fn serve_conn(
    inner: Arc<Inner>,
    id: u64,
    client: TcpStream,
    cut: CancellationToken,
    stall: watch::Receiver<Option<Instant>>,
    budget: i64,
    reset: bool,
) {
    let upstream = tokio::select! {
        r = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(inner.upstream.get())) => r.ok().and_then(Result::ok),
        _ = cut.cancelled() => None,
    };
    if let Some(upstream) = upstream {
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        if reset {
            // Closing with a zero linger sends RST instead of FIN: the harsher kind of cut.
            let _ = client.set_zero_linger();
            let _ = upstream.set_zero_linger();
        }
        let budget = Arc::new(AtomicI64::new(budget));
        let (cr, cw) = client.into_split();
        let (ur, uw) = upstream.into_split();
        let up = pump(cr, uw, cut.clone(), stall.clone(), budget.clone(), inner.clone());
        let down = pump(ur, cw, cut.clone(), stall, budget, inner.clone());
        tokio::join!(up, down);
    } else if !cut.is_cancelled() {
        inner.counters.upstream_refused.fetch_add(1, Ordering::Relaxed);
    }
    lock(&inner.conns).remove(&id);
}

/// Copy one direction until either side closes or the connection is cut; both directions stop
/// together.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    cut: CancellationToken,
    mut stall: watch::Receiver<Option<Instant>>,
    budget: Arc<AtomicI64>,
    inner: Arc<Inner>,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        let until = *stall.borrow_and_update();
        if let Some(until) = until.filter(|t| *t > Instant::now()) {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = cut.cancelled() => return,
                _ = stall.changed() => {}
            }
            continue;
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => { cut.cancel(); return; }
                Ok(n) => n,
            },
            _ = cut.cancelled() => return,
            _ = stall.changed() => continue,
        };
        let mut n = n;
        let mut exhausted = false;
        if budget.load(Ordering::SeqCst) >= 0 {
            let left = budget.fetch_sub(n as i64, Ordering::SeqCst);
            if left <= n as i64 {
                n = left.max(0) as usize;
                exhausted = true;
            }
        }
        let written = tokio::select! {
            r = to.write_all(&buf[..n]) => r.is_ok(),
            _ = cut.cancelled() => return,
        };
        if exhausted {
            if !cut.is_cancelled() {
                inner.counters.dropped_mid_stream.fetch_add(1, Ordering::Relaxed);
            }
            cut.cancel();
            return;
        }
        if !written {
            cut.cancel();
            return;
        }
    }
}
