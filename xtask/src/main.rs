//! `cargo xtask <command>`: the build, demo and test commands of the README.
//!
//! Plain `std::process::Command` calls, one file per command, so that what each
//! command does can be read top to bottom and run by hand.

mod assets;
mod setup;
mod size;
mod test;
mod util;

use std::process::ExitCode;

use util::{Ctx, Step};

const USAGE: &str = "\
usage: cargo xtask <command>

  demo [ARGS…]      setup, build-assets, then run the relay's demo (ARGS go to `confab-relay demo`)
  test              setup --browser, build-assets, every Rust test, then the browser tests
  setup [--browser] install what is missing: wasm32 target, wasm-bindgen-cli, wasm-opt
                    (npm binaryen into .tools/); with --browser also Chromium and playwright-core
  build-assets      build the widget and dashboard to wasm into target/confab-assets/, then `size`
  size              raw / gzip / brotli bytes of every built asset, checked against the budgets";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ctx = Ctx::new();
    let result = match args.first().map(String::as_str) {
        Some("setup") => match &args[1..] {
            [] => setup::run(&ctx, false),
            [flag] if flag == "--browser" => setup::run(&ctx, true),
            _ => Err(format!("setup takes only --browser\n\n{USAGE}")),
        },
        Some("build-assets") => assets::build(&ctx).and_then(|()| size::check(&ctx)),
        Some("size") => size::check(&ctx),
        Some("demo") => demo(&ctx, &args[1..]),
        Some("test") => test::run(&ctx),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // Empty: the command has already said what failed (see test.rs).
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask demo`: everything a fresh machine needs, then the relay in demo mode
/// (it serves the shop on a second port and prints the URLs to open).
fn demo(ctx: &Ctx, extra: &[String]) -> Result<(), String> {
    setup::run(ctx, false)?;
    assets::build(ctx)?;
    // Over budget is worth a warning, not a reason to refuse to show the demo.
    if !size::report(ctx)?.over.is_empty() {
        println!("warning: size budget not met (see above); starting the demo anyway");
    }
    let mut cmd = ctx.cargo();
    cmd.args([
        "run",
        "--release",
        "--locked",
        "-p",
        "confab-relay",
        "--",
        "demo",
    ]);
    cmd.args(extra);
    Step::new("relay demo (Ctrl-C to stop)").run(&mut cmd)
}
