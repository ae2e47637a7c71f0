//! `confab-bench`: starts a relay as a child process on loopback, loads it with real WebSocket
//! clients and prints a table. Every run is bounded in size and time and stops its children.
//!
//! ```text
//! cargo build --release -p confab-relay -p confab-bench
//! target/release/confab-bench throughput --pairs 1000 --rate 20000 --seconds 10 [--against all]
//! target/release/confab-bench sweep [--pairs 1000 --seconds 5 --from 2000 --max 60000 --against all]
//! target/release/confab-bench idle --connections 10000
//! target/release/confab-bench abuse --abusers 1000 --seconds 60
//! target/release/confab-bench all [--quick]
//! ```
//!
//! A load runs against any of three relays (`--against confab,baseline,node`; `both`, the default, is
//! the first two): `confab-relay` (SQLite, `synchronous = FULL`); the minimal relay in [`baseline`]
//! (same frames, same socket settings, nothing stored), so the cost of durability is visible in the
//! same run; and a Node `ws` relay (`tests/bench/node/relay.mjs`, the minimal relay's routes and frames
//! on Node, nothing stored). Each throughput row comes with the relay's CPU by thread group from
//! `/proc` ([`cpu`]) and its CPU per persisted message. `sweep` finds each relay's saturation rate
//! (every message acked, ack p99 < 50 ms); `all` runs the sweep and the idle load against the three
//! and ends with one summary line of issue 14's ratios and targets. The abuse soak runs against
//! `confab-relay` alone, with its default limits (the others have none), clean and abused in the same
//! run.

mod abuse;
mod baseline;
mod client;
mod cpu;
mod idle;
mod server;
mod stats;
mod summary;
mod sweep;
mod throughput;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "confab-bench", about = "Load tests for the Confab relay, on 127.0.0.1 only")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// P conversation pairs at a fixed total rate: persisted messages/s, ack and delivery latency.
    Throughput {
        #[command(flatten)]
        load: throughput::Load,
        #[command(flatten)]
        common: Common,
    },
    /// The saturation rate of each relay: the highest offered rate with every message acked and ack
    /// p99 < 50 ms (×1.5 from --from while it passes, then 3 bisections; a fresh relay per step).
    Sweep {
        #[command(flatten)]
        sweep: sweep::Sweep,
        #[command(flatten)]
        common: Common,
    },
    /// N idle visitor connections: relay RSS per connection.
    Idle {
        #[command(flatten)]
        idle: idle::Idle,
        #[command(flatten)]
        common: Common,
    },
    /// Honest visitors and advisors chat, alone and then while scripted abusers hammer hello,
    /// send, typing, uploads and sockets: honest messages lost, latency, refusals, relay memory.
    Abuse {
        #[command(flatten)]
        soak: abuse::Soak,
        /// The relay binary to test (build it with `cargo build --release -p confab-relay`).
        #[arg(long, env = "CONFAB_BENCH_RELAY")]
        relay: Option<PathBuf>,
        /// Name of the relay's row, e.g. when --relay is a binary built from another commit.
        #[arg(long)]
        label: Option<String>,
    },
    /// Issue 14 in one run: the sweep (1,000 pairs, 5 s steps from 2,000/s) and 10,000 idle visitors
    /// against confab, the minimal relay and the Node relay, then one summary line and each target
    /// met or not.
    All {
        #[command(flatten)]
        relay: RelayArgs,
        /// Smaller sizes, for a smoke run of a few minutes: 200 pairs, 2 s steps up to 16,000/s,
        /// 2,000 idle visitors.
        #[arg(long)]
        quick: bool,
    },
    /// The minimal relay without persistence (started by the bench as a child process).
    #[command(hide = true)]
    BaselineServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
    },
}

#[derive(Debug, Clone, Args)]
struct Common {
    #[command(flatten)]
    relay: RelayArgs,
    /// Which relay(s) to load, in order: a comma-separated list of `confab`, `baseline` (the minimal
    /// relay) and `node` (the Node ws relay), or `both` (confab,baseline) or `all` (the three).
    #[arg(long, value_name = "LIST", default_value = "both", value_parser = parse_against)]
    against: Against,
}

#[derive(Debug, Clone, Args)]
struct RelayArgs {
    /// The relay binary to test (build it with `cargo build --release -p confab-relay`).
    #[arg(long, env = "CONFAB_BENCH_RELAY")]
    relay: Option<PathBuf>,
    /// Name of the confab relay's row (default: `confab-relay <commit of this checkout>`), e.g. when
    /// --relay is a binary built from another commit.
    #[arg(long)]
    label: Option<String>,
}

/// The relays a load runs against, in the order given, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Against(Vec<Which>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Confab,
    Baseline,
    Node,
}

fn parse_against(list: &str) -> Result<Against, String> {
    let mut out = Vec::new();
    for word in list.split(',').map(str::trim) {
        let relays: &[Which] = match word {
            "confab" => &[Which::Confab],
            "baseline" => &[Which::Baseline],
            "node" => &[Which::Node],
            "both" => &[Which::Confab, Which::Baseline],
            "all" => &[Which::Confab, Which::Baseline, Which::Node],
            other => return Err(format!("unknown relay `{other}`: expected confab, baseline, node, both or all, comma-separated")),
        };
        for relay in relays {
            if !out.contains(relay) {
                out.push(*relay);
            }
        }
    }
    Ok(Against(out))
}

impl RelayArgs {
    fn target(&self, which: Which) -> Result<server::Target, String> {
        Ok(match which {
            Which::Confab => server::Target::Confab(server::relay_binary(self.relay.clone())?, self.label.clone()),
            Which::Baseline => server::Target::Baseline,
            Which::Node => server::Target::Node,
        })
    }
}

impl Common {
    fn targets(&self) -> Result<Vec<server::Target>, String> {
        self.against.0.iter().map(|&which| self.relay.target(which)).collect()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::BaselineServer { listen } = cli.command {
        return baseline::main(listen);
    }
    server::raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async move {
        let run = async move {
            match cli.command {
                Command::Throughput { load, common } => run_throughput(&load, &common).await,
                Command::Sweep { sweep, common } => run_sweep(&sweep, &common).await.map(drop),
                Command::Idle { idle, common } => run_idle(&idle, &common).await.map(drop),
                Command::Abuse { soak, relay, label } => run_abuse(&soak, relay, label).await,
                Command::All { relay, quick } => run_all(&relay, quick).await,
                Command::BaselineServer { .. } => unreachable!(),
            }
        };
        // Interrupted: dropping the run kills the relay child and deletes its data directory.
        tokio::select! {
            result = run => result,
            _ = interrupted() => Err("interrupted".into()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

async fn run_throughput(load: &throughput::Load, common: &Common) -> Result<(), String> {
    let load = load.checked()?;
    let targets = common.targets()?;
    println!("{}", server::describe_machine());
    println!(
        "throughput: {} pairs, {} msg/s offered in total, {} s, {} advisor sockets\n",
        load.pairs, load.rate, load.seconds, load.advisors
    );
    let mut rows = Vec::new();
    for target in &targets {
        let running = server::start(target).await?;
        let row = throughput::run(&running, &load).await;
        running.stop().await;
        rows.push(row?);
    }
    println!("{}", throughput::table(&rows));
    Ok(())
}

async fn run_sweep(sweep: &sweep::Sweep, common: &Common) -> Result<Vec<sweep::Outcome>, String> {
    let sweep = sweep.checked()?;
    let targets = common.targets()?;
    println!("{}", server::describe_machine());
    println!(
        "sweep: {} pairs, {} advisor sockets, {} s per step, from {}/s up to {}/s; pass = every message acked, ack p99 < {} ms\n",
        sweep.pairs,
        sweep.advisors,
        sweep.seconds,
        stats::grouped(sweep.from),
        stats::grouped(sweep.max),
        sweep::P99_LIMIT.as_millis()
    );
    let mut outcomes = Vec::new();
    for target in &targets {
        outcomes.push(sweep::run(target, &sweep).await?);
    }
    println!("\n{}", sweep::table(&outcomes));
    Ok(outcomes)
}

async fn run_idle(idle: &idle::Idle, common: &Common) -> Result<Vec<idle::Row>, String> {
    let idle = idle.checked()?;
    let targets = common.targets()?;
    println!("{}", server::describe_machine());
    println!("idle: {} visitor connections (hello each)\n", idle.connections);
    let mut rows = Vec::new();
    for target in &targets {
        let running = server::start(target).await?;
        let row = idle::run(&running, &idle).await;
        running.stop().await;
        rows.push(row?);
    }
    println!("{}", idle::table(&rows));
    Ok(rows)
}

async fn run_all(relay: &RelayArgs, quick: bool) -> Result<(), String> {
    let (sweep, idle) = if quick {
        (sweep::Sweep { pairs: 200, seconds: 2, max: 16_000, ..sweep::Sweep::default() }, idle::Idle { connections: 2000 })
    } else {
        (sweep::Sweep::default(), idle::Idle::default())
    };
    let order = [Which::Confab, Which::Baseline, Which::Node];
    let common = Common { relay: relay.clone(), against: Against(order.to_vec()) };
    let [confab, minimal, node]: [sweep::Outcome; 3] =
        run_sweep(&sweep, &common).await?.try_into().map_err(|_| "one sweep per relay")?;
    // CPU per message of confab at its saturation rate and of the minimal relay at the same rate (its
    // sweep's step there, or one more run): at one rate, so neither is credited with the batching a
    // higher rate allows.
    let mut cpu_per_message = None;
    if let Some(c) = confab.saturated() {
        let extra;
        let m = match minimal.step(c.rate) {
            Some(m) => m,
            None => {
                println!("\nthe minimal relay at confab's saturation rate, for CPU per message at one rate:");
                extra = sweep::step(&common.relay.target(Which::Baseline)?, &sweep, c.rate).await?;
                &extra
            }
        };
        if let (Some(confab_us), Some(minimal_us)) = (c.row.cpu_per_message_us(), m.row.cpu_per_message_us()) {
            cpu_per_message = Some(summary::CpuPerMessage { rate: c.rate, confab_us, minimal_us });
        }
    }
    println!();
    let idle_rows = run_idle(&idle, &common).await?;
    let kb = |i: usize| idle_rows.get(i).map_or(f64::NAN, idle::Row::per_connection_kb);
    let figures = summary::Figures {
        commit: relay.label.clone().unwrap_or_else(server::relay_commit),
        cpu_model: server::cpu_model(),
        cores: server::cores(),
        max_rate: sweep.max,
        confab: confab.saturation,
        minimal: minimal.saturation,
        node: node.saturation,
        cpu_per_message,
        idle_kb: [kb(0), kb(1), kb(2)],
        hellos: idle_rows.first().map_or(0, idle::Row::connections),
        hellos_s: idle_rows.first().map_or(f64::NAN, idle::Row::hellos_s),
    };
    println!("{}", figures.report());
    Ok(())
}

async fn run_abuse(soak: &abuse::Soak, relay: Option<PathBuf>, label: Option<String>) -> Result<(), String> {
    let soak = soak.checked()?;
    let target = server::Target::Confab(server::relay_binary(relay)?, label);
    println!("{}", server::describe_machine());
    let running = server::start_limited(&target).await?;
    let report = abuse::run(&running, &soak).await;
    running.stop().await;
    let report = report?;
    println!("{}", abuse::report(&report));
    match report.lost() {
        0 => Ok(()),
        lost => Err(format!("{lost} honest messages were lost")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn against_takes_a_list_and_the_two_shorthands() {
        use Which::*;
        assert_eq!(parse_against("both"), Ok(Against(vec![Confab, Baseline])));
        assert_eq!(parse_against("all"), Ok(Against(vec![Confab, Baseline, Node])));
        assert_eq!(parse_against("node"), Ok(Against(vec![Node])));
        assert_eq!(parse_against("node, confab"), Ok(Against(vec![Node, Confab])), "in the order given");
        assert_eq!(parse_against("confab,both,node,all"), Ok(Against(vec![Confab, Baseline, Node])), "each once");
        assert!(parse_against("confab,nginx").unwrap_err().contains("nginx"));
        assert!(parse_against("").is_err());
    }

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["confab-bench", "idle", "--against", "baseline,node"]).unwrap();
        let Command::Idle { common, .. } = cli.command else { panic!("idle") };
        assert_eq!(common.against, Against(vec![Which::Baseline, Which::Node]));
    }
}
