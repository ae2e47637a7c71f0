//! `cargo xtask build-assets`: the widget and the dashboard, compiled to wasm, bound and
//! shrunk into `target/confab-assets/{widget,dashboard}/`, where `relay/build.rs` embeds them.

use std::path::Path;

use crate::setup::wasm_bindgen;
use crate::util::{Ctx, Step};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm-release";

struct App {
    crate_name: &'static str,
    /// wasm-bindgen's `--out-name`: `<name>.js` and `<name>_bg.wasm`.
    out_name: &'static str,
    dir: &'static str,
    /// Hand-written files copied beside the generated ones.
    copies: &'static [&'static str],
}

const APPS: [App; 2] = [
    App {
        crate_name: "confab-widget",
        out_name: "app",
        dir: "widget",
        copies: &["widget/loader/widget.js", "widget/style/widget.css"],
    },
    App {
        crate_name: "confab-dashboard",
        out_name: "dashboard",
        dir: "dashboard",
        copies: &["relay/dashboard/style/dashboard.css"],
    },
];

pub fn build(ctx: &Ctx) -> Result<(), String> {
    let wasm_opt = ctx.tools_dir().join("node_modules/.bin/wasm-opt");
    if !wasm_opt.is_file() {
        return Err(format!(
            "{} is missing: run `cargo xtask setup`",
            wasm_opt.display()
        ));
    }

    // One cargo invocation for both crates: their shared dependencies (leptos…) are
    // compiled once, with one unified feature set.
    let mut cargo = ctx.cargo();
    cargo.args([
        "build",
        "--target",
        WASM_TARGET,
        "--profile",
        PROFILE,
        "--locked",
    ]);
    for app in &APPS {
        cargo.args(["-p", app.crate_name]);
    }
    Step::new("build-assets: cargo build (wasm)").run(&mut cargo)?;

    for app in &APPS {
        let out_dir = ctx.assets_dir().join(app.dir);
        // Stale files would be embedded by the relay: start from an empty folder.
        if out_dir.exists() {
            std::fs::remove_dir_all(&out_dir)
                .map_err(|e| format!("cannot clear {}: {e}", out_dir.display()))?;
        }
        std::fs::create_dir_all(&out_dir)
            .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;

        let wasm = ctx
            .target
            .join(WASM_TARGET)
            .join(PROFILE)
            .join(format!("{}.wasm", app.crate_name.replace('-', "_")));
        let mut bindgen = ctx.command(wasm_bindgen());
        bindgen
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--out-name",
                app.out_name,
                "--out-dir",
            ])
            .arg(&out_dir)
            .arg(&wasm);
        Step::new(format!("build-assets: wasm-bindgen {}", app.crate_name)).run(&mut bindgen)?;

        let bg = out_dir.join(format!("{}_bg.wasm", app.out_name));
        // `--converge` repeats the passes until nothing shrinks: ~1.5 KB brotli off the widget for
        // ~6 s more (measured on the widget, 2 cores).
        let mut opt = ctx.command(&wasm_opt);
        opt.args(["-Oz", "--converge"]).arg(&bg).arg("-o").arg(&bg);
        Step::new(format!("build-assets: wasm-opt -Oz --converge {}", app.crate_name)).run(&mut opt)?;

        for file in app.copies {
            copy(&ctx.root.join(file), &out_dir)?;
        }
    }
    println!("build-assets: done, in {}", ctx.assets_dir().display());
    Ok(())
}

fn copy(from: &Path, to_dir: &Path) -> Result<(), String> {
    let to = to_dir.join(from.file_name().expect("a file name"));
    std::fs::copy(from, &to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}
