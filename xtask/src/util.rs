//! Paths and running commands, shared by every xtask command.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Where things are: the repository root and cargo's target directory.
pub struct Ctx {
    pub root: PathBuf,
    pub target: PathBuf,
    /// CARGO_TARGET_DIR moves the assets; `relay/build.rs` then needs CONFAB_ASSETS_DIR to find them.
    custom_target: bool,
}

impl Ctx {
    pub fn new() -> Self {
        // xtask/ sits in the repository root.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask has a parent directory")
            .to_path_buf();
        // Respect CARGO_TARGET_DIR like cargo does (relative to where cargo runs, the root here).
        let (target, custom_target) = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => (root.join(dir), true),
            _ => (root.join("target"), false),
        };
        Ctx {
            root,
            target,
            custom_target,
        }
    }

    /// Where `build-assets` puts the widget and dashboard, and `relay/build.rs` finds them.
    pub fn assets_dir(&self) -> PathBuf {
        self.target.join("confab-assets")
    }

    /// The npm packages (wasm-opt, playwright-core) live here, outside the system PATH.
    pub fn tools_dir(&self) -> PathBuf {
        self.root.join(".tools")
    }

    /// The same cargo that runs xtask, started in the repository root.
    pub fn cargo(&self) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.root);
        if self.custom_target {
            cmd.env("CONFAB_ASSETS_DIR", self.assets_dir());
        }
        cmd
    }

    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.root);
        cmd
    }
}

/// A named step: prints what runs, how long it took, and turns a failure into a clear message.
pub struct Step {
    name: String,
    started: Instant,
}

impl Step {
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        println!("==> {name}");
        Step {
            name,
            started: Instant::now(),
        }
    }

    /// Runs `cmd` with inherited stdio; Err names the step and the command when it fails.
    pub fn run(self, cmd: &mut Command) -> Result<(), String> {
        println!("    $ {}", show(cmd));
        let status = cmd
            .status()
            .map_err(|e| format!("{}: could not start `{}`: {e}", self.name, show(cmd)))?;
        if !status.success() {
            return Err(format!(
                "{} failed ({}) after {}: `{}`",
                self.name,
                status,
                elapsed(self.started),
                show(cmd)
            ));
        }
        self.done();
        Ok(())
    }

    /// Runs `cmd` with stdout captured (stderr inherited) and returns it.
    pub fn output(self, cmd: &mut Command) -> Result<String, String> {
        println!("    $ {}", show(cmd));
        let out = cmd
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("{}: could not start `{}`: {e}", self.name, show(cmd)))?;
        if !out.status.success() {
            return Err(format!("{} failed ({}): `{}`", self.name, out.status, show(cmd)));
        }
        self.done();
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn done(self) {
        println!("    {} done in {}", self.name, elapsed(self.started));
    }
}

/// `program arg arg…`, for messages.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

pub fn elapsed(since: Instant) -> String {
    let secs = since.elapsed().as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", secs as u64 / 60, secs as u64 % 60)
    }
}

/// The trimmed stdout of a command, or None when it can't run or fails.
pub fn output_of(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `sudo` in front of system package commands when we are not root.
pub fn as_root(program: &str) -> Command {
    let is_root = output_of(Command::new("id").arg("-u")).as_deref() == Some("0");
    if is_root {
        Command::new(program)
    } else {
        let mut cmd = Command::new("sudo");
        cmd.arg(program);
        cmd
    }
}
