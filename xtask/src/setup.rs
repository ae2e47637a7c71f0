//! `cargo xtask setup [--browser]`: install what the build and the tests need, skipping
//! whatever is already there. One line per step. See /TOOLCHAIN.md for why each piece is
//! pinned the way it is.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{as_root, output_of, Ctx, Step};

/// npm `binaryen` for `wasm-opt`. Never Debian's binaryen (108): its output fails at run
/// time with `WebAssembly.Table.set(): Argument 1 is invalid`.
const BINARYEN: (&str, &str) = ("binaryen", "132.0.0");
/// Minifies the wasm-bindgen glue and the loader in `build-assets` (pure JavaScript, no binary download).
const TERSER: (&str, &str) = ("terser", "5.51.2");
/// Drives Debian's Chromium in the browser tests (it can't download a browser here, and needn't).
const PLAYWRIGHT: (&str, &str) = ("playwright-core", "1.65.1");
/// The accessibility checks of the browser tests (injected into the page; no binary).
const AXE: (&str, &str) = ("axe-core", "4.14.1");
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn run(ctx: &Ctx, browser: bool) -> Result<(), String> {
    let mut apt = Apt::default();
    wasm_target()?;
    rust_src()?;
    wasm_bindgen_cli(ctx)?;
    node(&mut apt, browser)?;
    let mut packages = vec![BINARYEN, TERSER];
    if browser {
        packages.push(PLAYWRIGHT);
        packages.push(AXE);
    }
    npm_packages(ctx, &packages)?;
    if browser {
        chromium(&mut apt)?;
    }
    Ok(())
}

/// cargo-fuzz, for the bounded fuzz run of `test`. It drives libFuzzer through flags the stable
/// compiler accepts with RUSTC_BOOTSTRAP=1, so no nightly toolchain is needed.
pub fn cargo_fuzz(ctx: &Ctx) -> Result<(), String> {
    if output_of(ctx.cargo().args(["fuzz", "--version"])).is_some() {
        present("cargo-fuzz");
        return Ok(());
    }
    Step::new("setup: cargo-fuzz: installing, ~1 min").run(ctx.cargo().args(["install", "cargo-fuzz", "--locked"]))
}

fn present(what: &str) {
    println!("setup: {what}: present");
}

fn wasm_target() -> Result<(), String> {
    const TARGET: &str = "wasm32-unknown-unknown";
    let sysroot = output_of(Command::new("rustc").args(["--print", "sysroot"])).unwrap_or_default();
    if Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .is_dir()
    {
        present(&format!("rust target {TARGET}"));
        return Ok(());
    }
    Step::new(format!("setup: rust target {TARGET}: installing"))
        .run(Command::new("rustup").args(["target", "add", TARGET]))
}

/// The standard library's source: the widget rebuilds `std` without panic messages (see
/// `assets::STD_FLAGS`).
fn rust_src() -> Result<(), String> {
    let sysroot = output_of(Command::new("rustc").args(["--print", "sysroot"])).unwrap_or_default();
    if Path::new(&sysroot).join("lib/rustlib/src/rust/library/std").is_dir() {
        present("rust-src");
        return Ok(());
    }
    Step::new("setup: rust-src: installing").run(Command::new("rustup").args(["component", "add", "rust-src"]))
}

/// wasm-bindgen-cli must be exactly the version of the `wasm-bindgen` crate in Cargo.lock,
/// or the glue it writes doesn't match the module.
fn wasm_bindgen_cli(ctx: &Ctx) -> Result<(), String> {
    let wanted = locked_version(&ctx.root.join("Cargo.lock"), "wasm-bindgen")?;
    let found = output_of(Command::new(wasm_bindgen()).arg("--version"))
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string));
    if found.as_deref() == Some(wanted.as_str()) {
        present(&format!("wasm-bindgen-cli {wanted}"));
        return Ok(());
    }
    let why = match found {
        Some(v) => format!("found {v}, Cargo.lock wants {wanted}"),
        None => "not installed".to_string(),
    };
    // Without --locked: a dependency version it pins is missing from the registry here.
    Step::new(format!(
        "setup: wasm-bindgen-cli {wanted} ({why}): installing, ~5 min"
    ))
    .run(
        ctx.cargo()
            .args(["install", "wasm-bindgen-cli", "--version", &wanted]),
    )
}

/// The `wasm-bindgen` that `cargo install` put in $CARGO_HOME/bin, else the one on PATH.
pub fn wasm_bindgen() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    match cargo_home.map(|h| h.join("bin/wasm-bindgen")) {
        Some(path) if path.is_file() => path,
        _ => PathBuf::from("wasm-bindgen"),
    }
}

/// The version of `package` in a Cargo.lock (`name = "…"` followed by `version = "…"`).
fn locked_version(lock: &Path, package: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(lock)
        .map_err(|e| format!("cannot read {}: {e}", lock.display()))?;
    let name_line = format!("name = \"{package}\"");
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == name_line {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
            {
                return Ok(version.to_string());
            }
        }
    }
    Err(format!("no `{package}` package in {}", lock.display()))
}

/// `apt-get update` runs at most once per setup, and only when something is missing.
#[derive(Default)]
struct Apt {
    updated: bool,
}

impl Apt {
    fn install(&mut self, what: &str, packages: &[&str]) -> Result<(), String> {
        if !self.updated {
            Step::new("setup: apt-get update").run(as_root("apt-get").arg("update"))?;
            self.updated = true;
        }
        let mut cmd = as_root("apt-get");
        cmd.args(["install", "-y"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive");
        Step::new(format!("setup: {what}: installing")).run(&mut cmd)
    }
}

fn node(apt: &mut Apt, browser: bool) -> Result<(), String> {
    let version = || output_of(Command::new("node").arg("--version"));
    let npm = output_of(Command::new("npm").arg("--version"));
    match (version(), npm) {
        (Some(node), Some(npm)) => present(&format!("node {node}, npm {npm}")),
        _ => apt.install("node and npm", &["nodejs", "npm"])?,
    }
    // playwright-core 1.65 declares node >= 20; Debian 12's own nodejs is 18.
    let major = version().and_then(|v| {
        v.trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
    });
    if browser && major.is_some_and(|m| m < 20) {
        println!(
            "setup: warning: playwright-core {} wants Node.js >= 20, found {}",
            PLAYWRIGHT.1,
            version().unwrap_or_default()
        );
    }
    Ok(())
}

fn npm_packages(ctx: &Ctx, packages: &[(&str, &str)]) -> Result<(), String> {
    let tools = ctx.tools_dir();
    let missing: Vec<String> = packages
        .iter()
        .filter(|(name, version)| npm_version(&tools, name).as_deref() != Some(*version))
        .map(|(name, version)| format!("{name}@{version}"))
        .collect();
    let all: Vec<String> = packages.iter().map(|(n, v)| format!("{n}@{v}")).collect();
    if missing.is_empty() {
        present(&format!("npm {} in .tools/", all.join(", ")));
        return Ok(());
    }
    std::fs::create_dir_all(&tools)
        .map_err(|e| format!("cannot create {}: {e}", tools.display()))?;
    let mut cmd = ctx.command("npm");
    cmd.args(["install", "--prefix"])
        .arg(&tools)
        .args([
            "--save-exact",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .args(&missing);
    Step::new(format!(
        "setup: npm {} into .tools/: installing",
        missing.join(", ")
    ))
    .run(&mut cmd)
}

/// The installed version of an npm package under `<tools>/node_modules`, if any.
fn npm_version(tools: &Path, name: &str) -> Option<String> {
    let manifest =
        std::fs::read_to_string(tools.join("node_modules").join(name).join("package.json")).ok()?;
    let rest = &manifest[manifest.find("\"version\"")? + "\"version\"".len()..];
    let rest = &rest[rest.find('"')? + 1..];
    Some(rest[..rest.find('"')?].to_string())
}

fn chromium(apt: &mut Apt) -> Result<(), String> {
    if Path::new(CHROMIUM).exists() {
        let version = output_of(Command::new(CHROMIUM).arg("--version")).unwrap_or_default();
        present(&format!(
            "chromium ({})",
            version.lines().last().unwrap_or("").trim()
        ));
        return Ok(());
    }
    apt.install(
        "chromium and chromium-driver",
        &["chromium", "chromium-driver"],
    )
}
