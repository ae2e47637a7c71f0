//! [`RelayProcess`]: the real `confab-relay` binary as a child process, seeded through its own CLI,
//! so a test can kill it with SIGKILL mid-stream and start it again on the same database.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::reliable::Endpoint;
use crate::{ADVISOR_EMAIL, ADVISOR_PASSWORD, SHOP_ORIGIN, SITE};

/// How long the relay may take to print its address.
const START_WAIT: Duration = Duration::from_secs(30);

/// The relay binary the process tests run: `$CONFAB_RELAY_BIN` if set, else the workspace's debug
/// build, which is brought up to date with `cargo build` first (a no-op when it is fresh).
/// `cargo test --workspace` does not build the relay's binary, and a test must never run against a
/// stale one after `relay/src` changed.
pub fn relay_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("CONFAB_RELAY_BIN") {
            let bin = PathBuf::from(bin);
            assert!(bin.is_file(), "CONFAB_RELAY_BIN={} does not exist", bin.display());
            return bin;
        }
        let root = workspace_root();
        let target = target_dir(&root);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let started = std::time::Instant::now();
        let output = std::process::Command::new(&cargo)
            .current_dir(&root)
            .args(["build", "--quiet", "-p", "confab-relay", "--bin", "confab-relay", "--target-dir"])
            .arg(&target)
            .stdin(Stdio::null())
            .output()
            .expect("run cargo build for the relay binary");
        assert!(
            output.status.success(),
            "`cargo build -p confab-relay --bin confab-relay` failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let bin = target.join("debug").join(format!("confab-relay{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "cargo built the relay but {} is missing", bin.display());
        if started.elapsed() > Duration::from_secs(5) {
            eprintln!("built {} in {:.1?}", bin.display(), started.elapsed());
        }
        bin
    })
    .clone()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_owned()
}

/// Cargo's target directory: the one this test binary was built into (`<target>/debug/deps/…`), so
/// `--target-dir` and `CARGO_TARGET_DIR` are both respected; else `$CARGO_TARGET_DIR` or `target/`.
fn target_dir(root: &Path) -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        let deps = exe.parent();
        if let Some(profile) = deps.filter(|d| d.file_name().is_some_and(|n| n == "deps")).and_then(Path::parent) {
            if let Some(target) = profile.parent() {
                if target.join("CACHEDIR.TAG").exists() || profile.file_name().is_some_and(|n| n == "debug") {
                    return target.to_owned();
                }
            }
        }
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// A relay child process on its own temporary data directory, seeded with the site [`SITE`]
/// (origin [`SHOP_ORIGIN`]) and the advisor [`ADVISOR_EMAIL`], exactly as an operator would.
pub struct RelayProcess {
    pub data_dir: PathBuf,
    bin: PathBuf,
    child: Option<Child>,
    addr: SocketAddr,
    endpoint: Endpoint,
    /// How many times the relay was started.
    pub starts: u32,
    _temp: tempfile::TempDir,
}

impl RelayProcess {
    pub async fn start() -> Self {
        let bin = tokio::task::spawn_blocking(relay_binary).await.expect("build the relay");
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().join("data");
        cli(&bin, &data_dir, &["site", "create", "--key", SITE, "--name", "Shop", "--origin", SHOP_ORIGIN], None).await;
        cli(&bin, &data_dir, &["advisor", "create", "--email", ADVISOR_EMAIL, "--name", "Ada"], Some(ADVISOR_PASSWORD))
            .await;
        let unbound: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut relay = RelayProcess {
            data_dir,
            bin,
            child: None,
            addr: unbound,
            endpoint: Endpoint::new(unbound),
            starts: 0,
            _temp: temp,
        };
        relay.serve(unbound).await.unwrap_or_else(|e| panic!("{e}"));
        relay
    }

    /// Where the relay listens now.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle on the relay's address that follows restarts; give it to the clients.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The relay's log (its stderr and stdout, across restarts).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.data_dir.parent().expect("data dir has a parent").join("relay.log")
    }

    /// SIGKILL: no shutdown, no flush, no goodbye to the sockets; returns once the process is gone.
    pub async fn kill_9(&mut self) {
        let mut child = self.child.take().expect("the relay is running");
        // On Unix `Child::kill` is SIGKILL.
        child.kill().await.expect("SIGKILL the relay");
    }

    /// Start the relay again on the same data directory, on the same port when it is free (else a
    /// new one; the endpoint follows either way).
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "restart() after kill_9()");
        let same = self.addr;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match self.serve(same).await {
                Ok(()) => return,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    eprintln!("restart on {same} failed ({e}); retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    eprintln!("restart on {same} failed ({e}); taking a new port");
                    return self.serve("127.0.0.1:0".parse().unwrap()).await.unwrap_or_else(|e| panic!("{e}"));
                }
            }
        }
    }

    async fn serve(&mut self, listen: SocketAddr) -> Result<(), String> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("relay log");
        let mut child = Command::new(&self.bin)
            .args(["serve", "--listen", &listen.to_string(), "--data-dir"])
            .arg(&self.data_dir)
            // Stand-ins live on this machine and speak plain HTTP.
            .args(["--outbound-allow-http", "--outbound-allow-net", "127.0.0.0/8"])
            // Every client of a chaos test comes from 127.0.0.1.
            .envs(crate::UNLIMITED_ENV)
            .env_remove("CONFAB_PUBLIC_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let announced = tokio::time::timeout(START_WAIT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = line.strip_prefix("relay listening on http://") {
                    return addr.trim().parse::<SocketAddr>().ok();
                }
            }
            None
        })
        .await;
        match announced {
            Ok(Some(addr)) => {
                // Keep draining stdout so the relay never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                self.addr = addr;
                self.endpoint.set(addr);
                self.child = Some(child);
                self.starts += 1;
                Ok(())
            }
            _ => {
                let _ = child.kill().await;
                let log = self.log();
                let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
                Err(format!("the relay did not announce its address on {listen}; log tail:\n{tail}"))
            }
        }
    }

    /// Log the seeded advisor in over HTTP; returns the session cookie (`name=value`). Sessions are
    /// stored, so the cookie stays good across restarts.
    pub async fn login(&self) -> String {
        login(self.addr, self.addr).await
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// Log the seeded advisor in at `relay` as the dashboard served from `origin` would.
pub async fn login(relay: SocketAddr, origin: SocketAddr) -> String {
    let response = reqwest::Client::new()
        .post(format!("http://{relay}/api/v1/auth/login"))
        .header("origin", format!("http://{origin}"))
        .json(&serde_json::json!({"email": ADVISOR_EMAIL, "password": ADVISOR_PASSWORD}))
        .send()
        .await
        .expect("login request");
    assert_eq!(response.status(), 200, "login");
    let cookie = response.headers().get("set-cookie").expect("set-cookie").to_str().unwrap().to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

/// Run one admin command of the relay's CLI on `data_dir`; panics with its output on failure.
async fn cli(bin: &Path, data_dir: &Path, args: &[&str], password: Option<&str>) {
    let mut command = Command::new(bin);
    command.args(args).arg("--data-dir").arg(data_dir).stdin(Stdio::null()).env_remove("CONFAB_PASSWORD");
    if let Some(password) = password {
        command.env("CONFAB_PASSWORD", password);
    }
    let output = tokio::time::timeout(START_WAIT, command.output())
        .await
        .expect("the relay's CLI finishes in time")
        .expect("run the relay's CLI");
    assert!(
        output.status.success(),
        "confab-relay {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
