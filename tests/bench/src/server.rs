//! The relay under test, as a child process: its own memory (RSS read from `/proc/PID/status`)
//! and its own CPU time (`/proc/PID/stat`), apart from the load generator's.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const SITE: &str = "bench";
pub const SITE_ORIGIN: &str = "http://bench.test";
pub const ADVISOR_EMAIL: &str = "bench@bench.test";
pub const ADVISOR_PASSWORD: &str = "bench-password-1";
/// A second advisor account, for the loads where two people answer.
pub const SECOND_ADVISOR_EMAIL: &str = "bench2@bench.test";

/// How long a relay may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `npm ci` may take to install the Node relay's one dependency.
const NPM_TIMEOUT: Duration = Duration::from_secs(180);

pub enum Target {
    /// `confab-relay serve` on a fresh data directory.
    Confab(PathBuf, Option<String>),
    /// `confab-bench baseline-server`: same frames, nothing stored.
    Baseline,
    /// `node tests/bench/node/relay.mjs`: the same routes and frames on Node's `ws`, nothing stored.
    Node,
}

pub struct Running {
    pub label: String,
    pub endpoint: Endpoint,
    pub pid: u32,
    child: Child,
    dir: tempfile::TempDir,
}

/// The relay binary: the flag, else `target/release/confab-relay` of this workspace.
pub fn relay_binary(flag: Option<PathBuf>) -> Result<PathBuf, String> {
    let path = flag.unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"));
        target.join("release/confab-relay")
    });
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no relay binary at {}; build it with `cargo build --release -p confab-relay` or pass --relay PATH",
            path.display()
        ))
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The commit the workspace is at, and whether the relay's sources differ from it.
pub fn relay_commit() -> String {
    let root = workspace_root();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let hash = git(&["log", "-1", "--format=%h"]).unwrap_or_else(|| "?".into());
    let dirty = git(&["status", "--porcelain", "--", "relay/src", "relay/migrations", "shared/src"])
        .is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{hash}+uncommitted")
    } else {
        hash
    }
}

/// Whether `binary` is older than a source file of the relay or the protocol in this checkout.
fn is_stale(binary: &Path) -> bool {
    fn newest(dir: &Path) -> Option<std::time::SystemTime> {
        let mut newest = None;
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            let time = if path.is_dir() { newest_or_none(&path) } else { entry.metadata().ok()?.modified().ok() };
            newest = newest.max(time);
        }
        newest
    }
    fn newest_or_none(dir: &Path) -> Option<std::time::SystemTime> {
        newest(dir)
    }
    let Some(built) = std::fs::metadata(binary).ok().and_then(|m| m.modified().ok()) else { return false };
    let root = workspace_root();
    ["relay/src", "relay/migrations", "shared/src"].iter().filter_map(|d| newest(&root.join(d))).any(|t| t > built)
}

/// The relay's limits on anonymous traffic, lifted (see `relay::limits`).
pub const UNLIMITED_ENV: [(&str, &str); 7] = [
    ("CONFAB_NEW_VISITORS_PER_MINUTE", "1000000"),
    ("CONFAB_SOCKETS_PER_IP", "1000000"),
    ("CONFAB_UPLOADS_PER_HOUR", "1000000"),
    ("CONFAB_MESSAGES_PER_SECOND", "1000000"),
    ("CONFAB_MESSAGES_BURST", "1000000"),
    ("CONFAB_MESSAGES_PER_IP_PER_MINUTE", "1000000"),
    ("CONFAB_TYPING_PER_SECOND", "1000000"),
];

/// Start `target` with the relay's limits on anonymous traffic lifted: the throughput and idle
/// loads come from one address.
pub async fn start(target: &Target) -> Result<Running, String> {
    launch(target, true).await
}

/// Start `target` with the relay's default limits, as on the open internet.
pub async fn start_limited(target: &Target) -> Result<Running, String> {
    launch(target, false).await
}

async fn launch(target: &Target, lift_limits: bool) -> Result<Running, String> {
    let dir = tempfile::Builder::new().prefix("confab-bench-").tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let (label, mut command) = match target {
        Target::Confab(binary, label) => {
            seed(binary, dir.path()).await?;
            let mut c = Command::new(binary);
            c.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(dir.path());
            // The bench's thousand visitors all come from 127.0.0.1: lift the per-IP and
            // per-socket limits (as variables, which a relay older than them ignores).
            if lift_limits {
                c.envs(UNLIMITED_ENV);
            }
            let name = label.clone().unwrap_or_else(|| {
                let mut name = format!("confab-relay {}", relay_commit());
                if is_stale(binary) {
                    eprintln!(
                        "warning: {} is older than the relay's sources; rebuild it with \
                         `cargo build --release -p confab-relay`",
                        binary.display()
                    );
                    name.push_str(" (stale build)");
                }
                name
            });
            (format!("{name} (SQLite, synchronous=FULL)"), c)
        }
        Target::Baseline => {
            let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
            let mut c = Command::new(me);
            c.args(["baseline-server", "--listen", "127.0.0.1:0"]);
            ("minimal relay (no persistence)".to_owned(), c)
        }
        Target::Node => {
            let script = node_relay().await?;
            let mut c = Command::new("node");
            c.arg(script).args(["--listen", "127.0.0.1:0"]);
            ("Node ws relay (no persistence)".to_owned(), c)
        }
    };
    let log = std::fs::File::create(dir.path().join("relay.log")).map_err(|e| format!("log file: {e}"))?;
    // If the bench dies without stopping its child (killed, or a panic), the child gets SIGTERM.
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    command
        .env("CONFAB_LOG", "warn,sqlx=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| format!("starting the relay: {e}"))?;
    let pid = child.id().ok_or("relay exited at once")?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(START_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.strip_prefix("relay listening on http://") {
                return Some(rest.trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let Some(addr) = addr else {
        let log = std::fs::read_to_string(dir.path().join("relay.log")).unwrap_or_default();
        return Err(format!("the relay did not print its address; its log:\n{log}"));
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Running { label, endpoint: Endpoint { addr }, pid, child, dir })
}

/// The Node relay's script, once `node` runs and its `ws` dependency is installed (`npm ci` from the
/// committed lockfile the first time: idempotent).
async fn node_relay() -> Result<PathBuf, String> {
    let dir = workspace_root().join("tests/bench/node");
    let missing = |tool: &str, e: &std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => format!("`{tool}` is not installed; the Node relay (--against node) needs Node.js 18 or later and npm"),
        _ => format!("running `{tool}`: {e}"),
    };
    let version = Command::new("node").arg("--version").stdin(Stdio::null()).output().await.map_err(|e| missing("node", &e))?;
    if !version.status.success() {
        return Err(format!("`node --version` failed: {}", String::from_utf8_lossy(&version.stderr)));
    }
    if !dir.join("node_modules/ws").is_dir() {
        eprintln!("installing the Node relay's dependency: npm ci --prefix {}", dir.display());
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund", "--prefix"]).arg(&dir);
        // npm's chatter goes to stderr with the bench's progress; stdout is for the tables.
        npm.stdin(Stdio::null()).stdout(std::io::stderr()).kill_on_drop(true);
        let status = tokio::time::timeout(NPM_TIMEOUT, npm.status())
            .await
            .map_err(|_| format!("`npm ci` took over {} s", NPM_TIMEOUT.as_secs()))?
            .map_err(|e| missing("npm", &e))?;
        if !status.success() || !dir.join("node_modules/ws").is_dir() {
            return Err(format!("`npm ci --prefix {}` failed ({status})", dir.display()));
        }
    }
    Ok(dir.join("relay.mjs"))
}

async fn seed(binary: &Path, dir: &Path) -> Result<(), String> {
    let run = |args: Vec<&str>| {
        let mut c = Command::new(binary);
        c.args(args).arg("--data-dir").arg(dir).env("CONFAB_PASSWORD", ADVISOR_PASSWORD).env("CONFAB_LOG", "warn");
        c.stdin(Stdio::null());
        c
    };
    for args in [
        vec!["site", "create", "--key", SITE, "--name", "Bench", "--origin", SITE_ORIGIN],
        vec!["advisor", "create", "--email", ADVISOR_EMAIL, "--name", "Bench"],
        vec!["advisor", "create", "--email", SECOND_ADVISOR_EMAIL, "--name", "Bench 2"],
    ] {
        let out = run(args.clone()).output().await.map_err(|e| format!("running {}: {e}", binary.display()))?;
        if !out.status.success() {
            return Err(format!(
                "`confab-relay {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(())
}

/// Where a running relay listens.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: String,
}

impl Endpoint {
    pub fn http(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }
}

impl Running {
    /// Resident memory in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid)
    }

    /// File descriptors the relay holds open (sockets, the database, its log).
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid)).map(|d| d.count()).unwrap_or(0)
    }

    /// Bytes the relay's data directory holds (database, write-ahead log, files).
    pub fn data_bytes(&self) -> u64 {
        fn size(dir: &Path) -> u64 {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        }
        size(self.dir.path())
    }

    pub fn cpu(&self) -> CpuSample {
        CpuSample::of(self.pid)
    }

    /// SIGTERM, then SIGKILL if it hasn't exited within 5 s.
    pub async fn stop(mut self) {
        // SAFETY: plain syscall on our own child's pid.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time of a process at an instant.
#[derive(Clone, Copy)]
pub struct CpuSample {
    ticks: u64,
    at: Instant,
}

impl CpuSample {
    pub fn of(pid: u32) -> Self {
        Self::read(&format!("/proc/{pid}/stat"))
    }

    pub fn own() -> Self {
        Self::read("/proc/self/stat")
    }

    fn read(path: &str) -> Self {
        let at = Instant::now();
        let ticks = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| {
                // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
                let rest = s.rsplit_once(')')?.1;
                let f: Vec<&str> = rest.split_whitespace().collect();
                Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
            })
            .unwrap_or(0);
        CpuSample { ticks, at }
    }

    /// CPU use between two samples, in percent of one core.
    pub fn percent_since(&self, earlier: &CpuSample) -> f64 {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let wall = self.at.duration_since(earlier.at).as_secs_f64().max(1e-3);
        (self.ticks.saturating_sub(earlier.ticks)) as f64 / hz / wall * 100.0
    }
}

/// Allow as many open files as the hard limit does (children inherit it).
pub fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

pub fn fd_limit() -> u64 {
    // SAFETY: getrlimit on a local struct.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur
        } else {
            0
        }
    }
}

/// One line about the machine, printed above every table.
pub fn describe_machine() -> String {
    let (cores, model) = (cores(), cpu_model());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    format!("machine: {cores} cores, {model}; load average {load} before the run; open-file limit {}", fd_limit())
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
}

/// The first `model name` of `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())))
        .unwrap_or_else(|| "unknown CPU".into())
}
