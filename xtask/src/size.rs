//! `cargo xtask size`: raw, gzip (-9) and brotli (quality 11) bytes of every built asset,
//! and the two budgets from the issue. Exits non-zero when a budget is exceeded.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::util::Ctx;

/// 1 KB = 1000 bytes: the strict reading of the budgets.
const KB: u64 = 1000;

/// (name, files under the assets folder, brotli budget in bytes)
const BUDGETS: [(&str, &[&str], u64); 2] = [
    ("loader", &["widget/widget.js"], 4 * KB),
    (
        "open chat",
        &[
            "widget/widget.js",
            "widget/app.js",
            "widget/app_bg.wasm",
            "widget/widget.css",
        ],
        100 * KB,
    ),
];

struct Sizes {
    raw: u64,
    gzip: u64,
    brotli: u64,
}

/// The outcome of the budget checks.
pub struct Budgets {
    pub checked: u64,
    /// Names of the budgets not met (over, or a file missing).
    pub over: Vec<&'static str>,
}

/// `cargo xtask size` (and the end of `build-assets`): the report, Err when a budget isn't met.
pub fn check(ctx: &Ctx) -> Result<(), String> {
    let budgets = report(ctx)?;
    if budgets.over.is_empty() {
        Ok(())
    } else {
        Err(format!("size budget not met: {}", budgets.over.join(", ")))
    }
}

/// Prints the table and the budget verdicts; Err only when the assets can't be read.
pub fn report(ctx: &Ctx) -> Result<Budgets, String> {
    let dir = ctx.assets_dir();
    let mut files = Vec::new();
    walk(&dir, &mut files).map_err(|e| {
        format!(
            "cannot read {}: {e} (run `cargo xtask build-assets` first)",
            dir.display()
        )
    })?;
    files.sort();

    let mut rows = Vec::new();
    for path in &files {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        rows.push((name, measure(&bytes)));
    }

    println!();
    println!(
        "{:<32} {:>10} {:>10} {:>10}",
        "asset (target/confab-assets/)", "raw", "gzip", "brotli"
    );
    for (name, s) in &rows {
        println!("{:<32} {:>10} {:>10} {:>10}", name, s.raw, s.gzip, s.brotli);
    }
    println!();

    let mut over = Vec::new();
    for (budget_name, members, budget) in BUDGETS {
        let mut total = Sizes {
            raw: 0,
            gzip: 0,
            brotli: 0,
        };
        let mut missing = Vec::new();
        for member in members {
            match rows.iter().find(|(name, _)| name == member) {
                Some((_, s)) => {
                    total.raw += s.raw;
                    total.gzip += s.gzip;
                    total.brotli += s.brotli;
                }
                None => missing.push(*member),
            }
        }
        let verdict = if !missing.is_empty() {
            over.push(budget_name);
            format!("MISSING {}", missing.join(", "))
        } else if total.brotli > budget {
            over.push(budget_name);
            format!("OVER BUDGET by {} B", total.brotli - budget)
        } else {
            "ok".to_string()
        };
        println!(
            "{:<10} raw {:>8}  gzip {:>8}  brotli {:>8} / budget {:>6} ({} KB)  {verdict}",
            budget_name,
            total.raw,
            total.gzip,
            total.brotli,
            budget,
            budget / KB
        );
    }
    println!("           ({})", BUDGETS[1].1.join(" + "));
    Ok(Budgets {
        checked: BUDGETS.len() as u64,
        over,
    })
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

fn measure(bytes: &[u8]) -> Sizes {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).expect("writing to memory");
    let gzip = gz.finish().expect("writing to memory").len() as u64;

    let mut br = Vec::new();
    {
        // quality 11 and a 16 MB window: what `brotli -q 11` does.
        let mut w = brotli::CompressorWriter::new(&mut br, 4096, 11, 24);
        w.write_all(bytes).expect("writing to memory");
    }
    Sizes {
        raw: bytes.len() as u64,
        gzip,
        brotli: br.len() as u64,
    }
}
