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
    /// Of those, the scripts to minify.
    minify: &'static [&'static str],
    /// Built with a `std` of its own that drops panic messages (`STD_FLAGS`), for the size budget.
    own_std: bool,
}

/// How the widget is built: its own `std` (`-Zbuild-std`) with `-Cpanic=immediate-abort`. A panic
/// then traps at once, as `panic = "abort"` already did in the browser (`RuntimeError: unreachable`),
/// but the panic machinery, its messages and their formatting code are gone: 10.2 KB brotli off the
/// widget (99,305 → 89,090 B of wasm, measured). Both are unstable flags, enabled on the stable
/// toolchain with RUSTC_BOOTSTRAP=1, as `xtask test` already does for the fuzz run; a toolchain that
/// changes them breaks this build loudly, not the widget quietly. The dashboard keeps the standard
/// build and its panic messages (it has no size budget, and they help advisors report bugs).
const STD_FLAGS: &str = "-Zunstable-options -Cpanic=immediate-abort";

/// Exports no Confab code calls but that wasm-bindgen must keep: `wasm-streams` (a dependency of Leptos'
/// `server_fn`, unused in CSR) exports its `IntoUnderlying*` classes. Removing them lets wasm-opt drop
/// their code: 1.5 KB brotli off the widget (measured).
const UNUSED_EXPORTS: &str = "*intounderlying*";

const APPS: [App; 2] = [
    App {
        crate_name: "confab-widget",
        out_name: "app",
        dir: "widget",
        copies: &["widget/loader/widget.js", "widget/style/widget.css"],
        minify: &["widget.js"],
        own_std: true,
    },
    App {
        crate_name: "confab-dashboard",
        out_name: "dashboard",
        dir: "dashboard",
        copies: &["relay/dashboard/style/dashboard.css"],
        minify: &[],
        own_std: false,
    },
];

pub fn build(ctx: &Ctx) -> Result<(), String> {
    let wasm_opt = ctx.tools_dir().join("node_modules/.bin/wasm-opt");
    let terser = ctx.tools_dir().join("node_modules/.bin/terser");
    for tool in [&wasm_opt, &terser] {
        if !tool.is_file() {
            return Err(format!("{} is missing: run `cargo xtask setup`", tool.display()));
        }
    }

    for app in &APPS {
        let mut cargo = ctx.cargo();
        cargo.args(["build", "--target", WASM_TARGET, "--profile", PROFILE, "--locked", "-p", app.crate_name]);
        if app.own_std {
            // A target folder of its own: other flags, other builds of every dependency.
            cargo
                .env("RUSTC_BOOTSTRAP", "1")
                .env("CARGO_TARGET_DIR", own_std_target(ctx))
                .env("CARGO_ENCODED_RUSTFLAGS", STD_FLAGS.replace(' ', "\u{1f}"))
                .arg("-Zbuild-std=std,panic_abort");
        }
        Step::new(format!("build-assets: cargo build (wasm) {}", app.crate_name)).run(&mut cargo)?;
    }

    for app in &APPS {
        let out_dir = ctx.assets_dir().join(app.dir);
        // Stale files would be embedded by the relay: start from an empty folder.
        if out_dir.exists() {
            std::fs::remove_dir_all(&out_dir)
                .map_err(|e| format!("cannot clear {}: {e}", out_dir.display()))?;
        }
        std::fs::create_dir_all(&out_dir)
            .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;

        let target = if app.own_std { own_std_target(ctx) } else { ctx.target.clone() };
        let wasm = target
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
        // ~6 s more. `-Os` rather than `-Oz`: its output is 3 % larger raw but compresses better,
        // 1.1 KB less brotli. `--low-memory-unused`: Rust never uses the first 1 KB of memory (its
        // data starts at 1 MB), so loads and stores can fold constant offsets: 0.7 KB less (all
        // measured on the widget, 2 cores).
        let mut opt = ctx.command(&wasm_opt);
        opt.args(["--remove-exports", &format!("--pass-arg=remove-exports@{UNUSED_EXPORTS}")])
            .args(["--low-memory-unused", "-Os", "--converge"])
            .arg(&bg)
            .arg("-o")
            .arg(&bg);
        Step::new(format!("build-assets: wasm-opt -Os --converge {}", app.crate_name)).run(&mut opt)?;

        // Import and export names are wasm-bindgen's hashed identifiers (`__wbg_style_f499e599ac70277f`),
        // written once in the wasm and once in the glue, and hex doesn't compress. wasm-opt renames them
        // and prints the mapping; the glue follows it.
        let mut minify = ctx.command(&wasm_opt);
        minify.arg("--minify-imports-and-exports-and-modules").arg(&bg).arg("-o").arg(&bg);
        let mapping = Step::new(format!("build-assets: wasm-opt --minify-imports-and-exports-and-modules {}", app.crate_name))
            .output(&mut minify)?;
        let glue = out_dir.join(format!("{}.js", app.out_name));
        let js = std::fs::read_to_string(&glue).map_err(|e| format!("cannot read {}: {e}", glue.display()))?;
        let js = rename_in_glue(&js, &mapping)?;
        std::fs::write(&glue, js).map_err(|e| format!("cannot write {}: {e}", glue.display()))?;
        terse(ctx, &terser, &glue, true)?;

        for file in app.copies {
            copy(&ctx.root.join(file), &out_dir)?;
        }
        for file in app.minify {
            terse(ctx, &terser, &out_dir.join(file), false)?;
        }
        for file in app.copies.iter().filter(|f| f.ends_with(".css")) {
            let css = out_dir.join(Path::new(file).file_name().expect("a file name"));
            let text = std::fs::read_to_string(&css).map_err(|e| format!("cannot read {}: {e}", css.display()))?;
            std::fs::write(&css, minify_css(&text)).map_err(|e| format!("cannot write {}: {e}", css.display()))?;
        }
    }
    println!("build-assets: done, in {}", ctx.assets_dir().display());
    Ok(())
}

fn own_std_target(ctx: &Ctx) -> std::path::PathBuf {
    ctx.target.join("wasm-own-std")
}

/// Minifies a script in place (`module`: an ES module, else a classic script).
fn terse(ctx: &Ctx, terser: &Path, file: &Path, module: bool) -> Result<(), String> {
    let mut cmd = ctx.command(terser);
    cmd.arg(file);
    if module {
        cmd.arg("--module");
    }
    cmd.args(["--compress", "passes=2", "--mangle", "--output"]).arg(file);
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_owned();
    Step::new(format!("build-assets: terser {name}")).run(&mut cmd)
}

/// The glue with the renamed imports (the keys of its imports object) and exports (`wasm.name`), from
/// wasm-opt's mapping (`{"imports": [[module, name, new]…], "exports": [[name, new]…]}`); the exports it
/// removed are dropped from the glue with the classes that used them.
fn rename_in_glue(js: &str, mapping: &str) -> Result<String, String> {
    let map: serde_json::Value =
        serde_json::from_str(mapping).map_err(|e| format!("wasm-opt's mapping is not JSON: {e}"))?;
    let pairs = |key: &str, from: usize, to: usize| -> Vec<(String, String)> {
        map[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| Some((e.get(from)?.as_str()?.to_owned(), e.get(to)?.as_str()?.to_owned())))
            .collect()
    };
    let imports: std::collections::HashMap<_, _> = pairs("imports", 1, 2).into_iter().collect();
    let exports: std::collections::HashMap<_, _> = pairs("exports", 0, 1).into_iter().collect();
    if imports.is_empty() || exports.is_empty() {
        return Err(format!("wasm-opt printed no import/export mapping: {}", &mapping[..mapping.len().min(300)]));
    }
    let mut out = String::with_capacity(js.len());
    let mut skipping = None::<String>;
    for line in js.lines() {
        // `export class IntoUnderlyingSink { … }` up to its `Symbol.dispose` line, and its
        // finalization registry: the exports behind them are gone.
        if let Some(end) = &skipping {
            let done = if end == ";" {
                line.ends_with(';')
            } else {
                line.starts_with("if (Symbol.dispose) ") && line.contains(end.as_str())
            };
            if done {
                skipping = None;
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("export class IntoUnderlying") {
            skipping = Some(format!("IntoUnderlying{}", rest.split(' ').next().unwrap_or("")));
            continue;
        }
        if line.starts_with("const IntoUnderlying") {
            // A statement over several lines, up to its `;`.
            if !line.ends_with(';') {
                skipping = Some(";".into());
            }
            continue;
        }
        out.push_str(&rename_line(line, &imports, &exports));
        out.push('\n');
    }
    if out.contains("IntoUnderlying") {
        return Err("the glue still uses the removed IntoUnderlying* exports".into());
    }
    Ok(out)
}

/// One line of glue: `        __wbg_x_1a2b: function` → `        A: function`, `wasm.mount(` → `wasm.Gb(`,
/// and the imports' module, `"./app_bg.js": import0`, → `"a": import0` (wasm-opt names every module "a").
fn rename_line(
    line: &str,
    imports: &std::collections::HashMap<String, String>,
    exports: &std::collections::HashMap<String, String>,
) -> String {
    let trimmed = line.trim_start();
    if trimmed.starts_with("\"./") && trimmed.ends_with("\": import0,") {
        return format!("{}\"a\": import0,", &line[..line.len() - trimmed.len()]);
    }
    if let Some((key, rest)) = trimmed.split_once(": function") {
        if let Some(new) = imports.get(key) {
            return format!("{}{new}: function{rest}", &line[..line.len() - trimmed.len()]);
        }
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("wasm.") {
        let (before, after) = rest.split_at(i + 5);
        out.push_str(before);
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(after.len());
        let name = &after[..end];
        out.push_str(exports.get(name).map_or(name, String::as_str));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The stylesheet without comments and without the white space that means nothing: around `{ } ; , >`
/// and after `:`. A space before `:` stays (`.a :focus` and `.a:focus` are different selectors), as does
/// one around `+`/`-` (`calc()`). Strings are kept as they are.
pub fn minify_css(css: &str) -> String {
    let tight = |c: char| matches!(c, '{' | '}' | ';' | ',' | '>');
    let mut out = String::with_capacity(css.len());
    let mut chars = css.chars().peekable();
    let mut quote = None;
    let mut space = false;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        if c == '/' && chars.peek() == Some(&'*') {
            chars.next();
            let mut prev = ' ';
            for c in chars.by_ref() {
                if prev == '*' && c == '/' {
                    break;
                }
                prev = c;
            }
            space = true;
            continue;
        }
        if c.is_whitespace() {
            space = true;
            continue;
        }
        let last = out.chars().last();
        if space && !tight(c) && last.is_some_and(|l| !tight(l) && l != ':') {
            out.push(' ');
        }
        space = false;
        if c == '"' || c == '\'' {
            quote = Some(c);
        }
        if c == '}' && out.ends_with(';') {
            out.pop();
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::minify_css;

    #[test]
    fn css_loses_comments_and_meaningless_space_only() {
        let css = "/* a */\n.a :focus-visible, .b > .c {\n  color: #fff;\n  width: calc(100% - 2px);\n}\n\
                   @media (max-width: 480px) { .d::before { content: \"a  b\"; } }\n";
        assert_eq!(
            minify_css(css),
            ".a :focus-visible,.b>.c{color:#fff;width:calc(100% - 2px)}\
             @media (max-width:480px){.d::before{content:\"a  b\"}}"
        );
    }
}

fn copy(from: &Path, to_dir: &Path) -> Result<(), String> {
    let to = to_dir.join(from.file_name().expect("a file name"));
    std::fs::copy(from, &to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}
