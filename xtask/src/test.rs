//! `cargo xtask test`: the README's test command and what CI runs (`.ci/run`).
//!
//! setup --browser → build-assets → every Rust test → the relay binary → the browser tests
//! (`node --test tests/browser/`, driving Debian's Chromium with playwright-core).
//! Stops at the first failing step; a size budget not met fails the run at the end, after the
//! tests. The last line printed is the pass/fail count.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::util::{elapsed, show, Ctx, Step};
use crate::{assets, setup, size};

#[derive(Default)]
struct Counts {
    passed: u64,
    failed: u64,
}

pub fn run(ctx: &Ctx) -> Result<(), String> {
    let started = Instant::now();
    let mut timings: Vec<(&str, String)> = Vec::new();
    let mut timed = |name: &'static str, f: &mut dyn FnMut() -> Result<(), String>| {
        let t = Instant::now();
        let result = f();
        timings.push((name, elapsed(t)));
        result.map_err(|e| format!("FAILED at `{name}`: {e}"))
    };

    timed("setup --browser", &mut || setup::run(ctx, true).and_then(|()| setup::cargo_fuzz(ctx)))?;
    // A budget not met fails the run, but only at the end: the tests still say what works.
    let mut budgets = size::Budgets {
        checked: 0,
        over: Vec::new(),
    };
    timed("build-assets", &mut || {
        assets::build(ctx)?;
        budgets = size::report(ctx)?;
        Ok(())
    })?;

    // One build of everything, tests included, so the relay binary the browser tests (and the
    // crash tests) run is compiled with the same features as the tests: no second compile.
    timed("build", &mut || {
        Step::new("test: build everything").run(ctx.cargo().args([
            "build",
            "--workspace",
            "--all-targets",
            "--locked",
        ]))
    })?;

    let mut rust = Counts::default();
    timed("cargo test", &mut || {
        let mut cmd = ctx.cargo();
        cmd.args(["test", "--workspace", "--locked"]);
        rust = cargo_test(&mut cmd)?;
        Ok(())
    })?;

    // A short, bounded fuzz run of frame decoding on every test run; `shared/fuzz/README.md` has
    // the long one. A crash fails the step and leaves the input in shared/fuzz/artifacts/.
    timed("fuzz (30 s)", &mut || {
        let shared = ctx.root.join("shared");
        std::fs::create_dir_all(shared.join("fuzz/corpus/decode_frame")).map_err(|e| e.to_string())?;
        Step::new("test: fuzz decode_frame for 30 s").run(
            ctx.cargo().current_dir(&shared).env("RUSTC_BOOTSTRAP", "1").args([
                "fuzz",
                "run",
                "decode_frame",
                "fuzz/corpus/decode_frame",
                "fuzz/seeds/decode_frame",
                "--",
                "-dict=fuzz/decode_frame.dict",
                "-max_total_time=30",
            ]),
        )
    })?;

    let mut browser = Counts::default();
    let browser_result = timed("browser tests", &mut || {
        let (counts, result) = browser_tests(ctx);
        browser = counts;
        result
    });

    println!();
    for (name, time) in &timings {
        println!("  {name:<16} {time}");
    }
    let size = Counts {
        passed: budgets.checked - budgets.over.len() as u64,
        failed: budgets.over.len() as u64,
    };
    let summary = format!(
        "{} passed, {} failed (rust {}/{}, browser {}/{}, size budgets {}/{}) in {}",
        rust.passed + browser.passed + size.passed,
        rust.failed + browser.failed + size.failed,
        rust.passed,
        rust.passed + rust.failed,
        browser.passed,
        browser.passed + browser.failed,
        size.passed,
        budgets.checked,
        elapsed(started)
    );
    if !budgets.over.is_empty() {
        eprintln!(
            "FAILED: size budget not met: {} (see the size report above)",
            budgets.over.join(", ")
        );
    }
    if let Err(e) = &browser_result {
        eprintln!("{e}");
    }
    println!("{summary}");
    if browser_result.is_ok() && budgets.over.is_empty() {
        Ok(())
    } else {
        // Already said; main prints nothing more, so the count stays the last line.
        Err(String::new())
    }
}

/// Runs `cargo test`, echoing its output and adding up its `test result:` lines.
fn cargo_test(cmd: &mut Command) -> Result<Counts, String> {
    let step = Step::new("test: cargo test --workspace");
    println!("    $ {}", show(cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start `{}`: {e}", show(cmd)))?;
    let mut counts = Counts::default();
    for line in BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let line = line.map_err(|e| format!("reading cargo test output: {e}"))?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            counts.passed += count_before(rest, " passed");
            counts.failed += count_before(rest, " failed");
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!(
            "`{}` {status}: {} passed, {} failed",
            show(cmd),
            counts.passed,
            counts.failed
        ));
    }
    step.done();
    Ok(counts)
}

/// `"ok. 12 passed; 0 failed; …"`, `" passed"` → 12
fn count_before(text: &str, label: &str) -> u64 {
    text.find(label)
        .and_then(|end| text[..end].rsplit([' ', '.']).next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn browser_tests(ctx: &Ctx) -> (Counts, Result<(), String>) {
    match start_browser_tests(ctx) {
        Ok(done) => done,
        Err(e) => (Counts::default(), Err(e)),
    }
}

fn start_browser_tests(ctx: &Ctx) -> Result<(Counts, Result<(), String>), String> {
    let dir = ctx.root.join("tests/browser");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no *.test.mjs files in {}", dir.display()));
    }

    let output = ctx.root.join("test-output");
    std::fs::create_dir_all(&output)
        .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    let tap = output.join("browser-tests.tap");
    let relay = ctx.target.join("debug/confab-relay");

    // Human-readable results on stdout, TAP in a file for the counts.
    let mut cmd = ctx.command("node");
    cmd.args([
        "--test",
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
    ])
    .arg("--test-reporter=tap")
    .arg(format!("--test-reporter-destination={}", tap.display()))
    .args(&files)
    .env("CONFAB_RELAY_BIN", &relay)
    .env("CONFAB_TOOLS", ctx.tools_dir())
    .env("CONFAB_TEST_OUTPUT", &output)
    .env("CONFAB_REPO", &ctx.root);
    let result = Step::new("test: browser tests (node --test tests/browser/)").run(&mut cmd);

    let text = std::fs::read_to_string(&tap).unwrap_or_default();
    let tap_count = |key: &str| {
        text.lines()
            .rev()
            .filter_map(|l| l.strip_prefix(key))
            .find_map(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let counts = Counts {
        passed: tap_count("# pass "),
        failed: tap_count("# fail "),
    };
    let result = result.map_err(|e| {
        format!(
            "{e}\n    {} browser tests failed; screenshots and relay logs in {}",
            counts.failed,
            output.display()
        )
    });
    Ok((counts, result))
}
