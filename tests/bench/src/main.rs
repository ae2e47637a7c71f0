//! `confab-bench`: starts a relay as a child process on loopback, loads it with real WebSocket
//! clients and prints a table. Every run is bounded in size and time and stops its children.
//!
//! ```text
//! cargo build --release -p confab-relay
//! cargo run -p confab-bench --release -- throughput --pairs 1000 --rate 20000 --seconds 10
//! cargo run -p confab-bench --release -- idle --connections 10000
//! cargo run -p confab-bench --release -- abuse --abusers 1000 --seconds 60
//! cargo run -p confab-bench --release -- all
//! ```
//!
//! Each load runs twice: against `confab-relay` (SQLite, `synchronous = FULL`) and against the
//! minimal relay in [`baseline`] (same frames, same socket settings, nothing stored), so the cost of
//! durability is visible in the same run. The abuse soak runs against `confab-relay` alone, with
//! its default limits (the minimal relay has none), clean and abused in the same run.

mod abuse;
mod baseline;
mod client;
mod idle;
mod server;
mod stats;
mod throughput;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Throughput at 1,000 pairs / 20,000 msg/s for 10 s, then 10,000 idle connections.
    All {
        #[command(flatten)]
        common: Common,
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
    /// The relay binary to test (build it with `cargo build --release -p confab-relay`).
    #[arg(long, env = "CONFAB_BENCH_RELAY")]
    relay: Option<PathBuf>,
    /// Name of the confab relay's row (default: `confab-relay <commit of this checkout>`), e.g. when
    /// --relay is a binary built from another commit.
    #[arg(long)]
    label: Option<String>,
    /// Which relay(s) to load.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    against: Which,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Both,
    Confab,
    Baseline,
}

impl Common {
    fn targets(&self) -> Result<Vec<server::Target>, String> {
        let mut out = Vec::new();
        if self.against != Which::Baseline {
            out.push(server::Target::Confab(server::relay_binary(self.relay.clone())?, self.label.clone()));
        }
        if self.against != Which::Confab {
            out.push(server::Target::Baseline);
        }
        Ok(out)
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
                Command::Idle { idle, common } => run_idle(&idle, &common).await,
                Command::Abuse { soak, relay, label } => run_abuse(&soak, relay, label).await,
                Command::All { common } => {
                    run_throughput(&throughput::Load::default(), &common).await?;
                    run_idle(&idle::Idle::default(), &common).await
                }
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

async fn run_idle(idle: &idle::Idle, common: &Common) -> Result<(), String> {
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
