//! N idle visitor connections: how much resident memory each costs the relay.
//!
//! RSS is read once the relay has settled after a warm-up visitor, then N visitors connect and say
//! `hello` (each creating a visitor and a conversation, as a first page view does), and RSS is read
//! again once it stops moving. The difference over N includes everything a greeted socket holds:
//! the TCP socket's user-space state, the WebSocket buffers, the session task and its hub queue.

use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;

use crate::client;
use crate::server::Running;
use crate::stats::{grouped, table as text_table};

const SETUP_PARALLEL: usize = 64;
/// Opening the connections may take at most this long.
const SETUP_LIMIT: Duration = Duration::from_secs(180);

#[derive(Debug, Clone, Args)]
// Not `Idle`: the subcommand of that name has its own group.
#[group(id = "idle_load")]
pub struct Idle {
    /// Idle visitor connections to open (at most 15000; each needs a file descriptor on both sides).
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
}

impl Default for Idle {
    fn default() -> Self {
        Idle { connections: 10_000 }
    }
}

impl Idle {
    pub fn checked(&self) -> Result<Idle, String> {
        if !(1..=15_000).contains(&self.connections) {
            return Err("--connections must be 1..=15000".into());
        }
        let need = self.connections as u64 + 200;
        let limit = crate::server::fd_limit();
        if limit < need {
            return Err(format!(
                "the open-file limit is {limit}; {} connections need about {need} (raise it with `ulimit -n`)",
                self.connections
            ));
        }
        Ok(self.clone())
    }
}

pub struct Row {
    label: String,
    connections: usize,
    /// From the first upgrade to the last `welcome`, 64 handshakes at a time.
    setup_s: f64,
    rss_before_kib: u64,
    rss_after_kib: u64,
}

impl Row {
    pub fn connections(&self) -> usize {
        self.connections
    }

    /// Seconds to open and greet the connections.
    pub fn hellos_s(&self) -> f64 {
        self.setup_s
    }

    pub fn hellos_per_s(&self) -> f64 {
        self.connections as f64 / self.setup_s.max(1e-3)
    }

    /// RSS per connection in KB of 1000 bytes.
    pub fn per_connection_kb(&self) -> f64 {
        (self.rss_after_kib.saturating_sub(self.rss_before_kib)) as f64 * 1024.0 / self.connections as f64 / 1000.0
    }

    /// `10,000 hellos in 4.5 s (2,222/s)`.
    pub fn hellos(&self) -> String {
        format!("{} hellos in {:.1} s ({}/s)", grouped(self.connections as u64), self.setup_s, grouped(self.hellos_per_s().round() as u64))
    }
}

pub async fn run(relay: &Running, idle: &Idle) -> Result<Row, String> {
    let endpoint = relay.endpoint.clone();
    // Warm up: the first visitor touches the code paths, the database and the allocator's arenas.
    let warm: Vec<client::Ws> = futures_util::stream::iter(0..SETUP_PARALLEL)
        .map(|_| {
            let endpoint = endpoint.clone();
            async move { client::visitor(&endpoint).await.map(|(ws, _)| ws) }
        })
        .buffer_unordered(SETUP_PARALLEL)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    drop(warm);
    let rss_before_kib = settled_rss(relay).await;
    eprintln!("[{}] RSS {} KiB; opening {} visitor connections…", relay.label, rss_before_kib, idle.connections);
    let started = Instant::now();
    let open = tokio::time::timeout(
        SETUP_LIMIT,
        futures_util::stream::iter(0..idle.connections)
            .map(|_| {
                let endpoint = endpoint.clone();
                async move { client::visitor(&endpoint).await.map(|(ws, _)| ws) }
            })
            .buffer_unordered(SETUP_PARALLEL)
            .collect::<Vec<_>>(),
    )
    .await
    .map_err(|_| format!("opening {} connections took over {} s", idle.connections, SETUP_LIMIT.as_secs()))?;
    let setup_s = started.elapsed().as_secs_f64();
    let sockets: Vec<client::Ws> = open.into_iter().collect::<Result<_, _>>()?;
    let rss_after_kib = settled_rss(relay).await;
    drop(sockets);
    Ok(Row { label: relay.label.clone(), connections: idle.connections, setup_s, rss_before_kib, rss_after_kib })
}

/// RSS once two readings half a second apart differ by less than 0.5 % (at most 10 s).
async fn settled_rss(relay: &Running) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = relay.rss_kib();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = relay.rss_kib();
        if now.abs_diff(last) * 200 < last.max(1) || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

pub fn table(rows: &[Row]) -> String {
    let header = ["relay", "connections", "opened in", "hellos/s", "RSS before", "RSS after", "per connection"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.label.clone(),
                r.connections.to_string(),
                format!("{:.1} s", r.setup_s),
                grouped(r.hellos_per_s().round() as u64),
                format!("{:.1} MB", r.rss_before_kib as f64 / 1024.0),
                format!("{:.1} MB", r.rss_after_kib as f64 / 1024.0),
                format!("{:.1} KB", r.per_connection_kb()),
            ]
        })
        .collect();
    let mut out = text_table(&header, &cells);
    out.push_str("\n(MB = MiB of VmRSS; per connection = (after − before) / connections, in KB of 1000 bytes; opened in = from the first\n");
    out.push_str(&format!(" upgrade to the last welcome, {SETUP_PARALLEL} handshakes at a time)\n"));
    for r in rows {
        out.push_str(&format!("{}: {}\n", r.label, r.hellos()));
    }
    out
}
