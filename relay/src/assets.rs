//! The embedded widget and dashboard files (see `build.rs`), and what is derived from them once at
//! start: the loader with its placeholders filled in, and the dashboard's HTML shell.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

pub struct Embedded {
    pub group: &'static str,
    pub name: &'static str,
    pub served: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// Compressed at build time; empty for types that don't compress.
    pub br: &'static [u8],
    pub gz: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/embedded_assets.rs"));

pub struct Asset {
    pub content_type: &'static str,
    pub bytes: Bytes,
    brotli: OnceLock<Bytes>,
    gzip: OnceLock<Bytes>,
}

/// A content coding the relay can serve an asset in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Brotli,
    Gzip,
}

impl Coding {
    /// The best coding the client accepts (`Accept-Encoding`), preferring brotli.
    pub fn negotiate(accept_encoding: Option<&str>) -> Coding {
        let accepts = |name: &str| {
            accept_encoding.unwrap_or("").split(',').any(|part| {
                let mut it = part.split(';');
                let coding = it.next().unwrap_or("").trim();
                let refused = it.any(|p| p.trim().replace(' ', "") == "q=0");
                coding.eq_ignore_ascii_case(name) && !refused
            })
        };
        if accepts("br") {
            Coding::Brotli
        } else if accepts("gzip") {
            Coding::Gzip
        } else {
            Coding::Identity
        }
    }

    pub fn header(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
        }
    }
}

impl Asset {
    fn new(content_type: &'static str, bytes: Bytes) -> Self {
        Asset { content_type, bytes, brotli: OnceLock::new(), gzip: OnceLock::new() }
    }

    fn embedded(e: &'static Embedded) -> Self {
        let asset = Asset::new(e.content_type, Bytes::from_static(e.bytes));
        if !e.br.is_empty() {
            let _ = asset.brotli.set(Bytes::from_static(e.br));
            let _ = asset.gzip.set(Bytes::from_static(e.gz));
        }
        asset
    }

    /// The body in `coding`, compressed once (at the highest quality: assets are immutable) and
    /// kept. CPU-heavy the first time: call from `spawn_blocking`.
    pub fn encoded(&self, coding: Coding) -> Bytes {
        match coding {
            Coding::Identity => self.bytes.clone(),
            Coding::Brotli => self.brotli.get_or_init(|| compress_brotli(&self.bytes)).clone(),
            Coding::Gzip => self.gzip.get_or_init(|| compress_gzip(&self.bytes)).clone(),
        }
    }

    pub fn is_compressed(&self, coding: Coding) -> bool {
        match coding {
            Coding::Identity => true,
            Coding::Brotli => self.brotli.get().is_some(),
            Coding::Gzip => self.gzip.get().is_some(),
        }
    }

    /// Text and wasm shrink a lot; images and the like don't.
    pub fn compressible(&self) -> bool {
        self.content_type.starts_with("text/") || self.content_type.contains("wasm") || self.content_type.contains("json")
    }
}

fn compress_brotli(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() / 3);
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    let _ = brotli::BrotliCompress(&mut &data[..], &mut out, &params);
    Bytes::from(out)
}

fn compress_gzip(data: &[u8]) -> Bytes {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = enc.write_all(data);
    Bytes::from(enc.finish().unwrap_or_default())
}

pub struct DashboardShell {
    pub html: String,
    pub csp: String,
}

pub struct AssetTable {
    by_served: HashMap<&'static str, Arc<Asset>>,
    /// `/widget.js`, ready to serve.
    pub loader: Option<Arc<Asset>>,
    pub dashboard_shell: Option<DashboardShell>,
}

fn find(group: &str, name: &str) -> Option<&'static Embedded> {
    EMBEDDED.iter().find(|e| e.group == group && e.name == name)
}

fn path(group: &str, name: &str) -> Option<String> {
    find(group, name).map(|e| format!("/assets/{}", e.served))
}

impl AssetTable {
    pub fn load() -> Self {
        let by_served = EMBEDDED
            .iter()
            .map(|e| (e.served, Arc::new(Asset::embedded(e))))
            .collect();
        AssetTable { by_served, loader: loader(), dashboard_shell: dashboard_shell() }
    }

    pub fn by_served_name(&self, name: &str) -> Option<Arc<Asset>> {
        self.by_served.get(name).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.by_served.is_empty()
    }

    /// `(served path, size)` of every embedded file of a group, for the size report and tests.
    pub fn list(group: &str) -> Vec<(String, usize)> {
        EMBEDDED.iter().filter(|e| e.group == group).map(|e| (format!("/assets/{}", e.served), e.bytes.len())).collect()
    }
}

fn loader() -> Option<Arc<Asset>> {
    let template = std::str::from_utf8(find("widget", "widget.js")?.bytes).ok()?;
    let js = template
        .replace("__CONFAB_APP_JS__", &path("widget", "app.js")?)
        .replace("__CONFAB_APP_WASM__", &path("widget", "app_bg.wasm")?)
        .replace("__CONFAB_APP_CSS__", &path("widget", "widget.css")?);
    Some(Arc::new(Asset::new("text/javascript; charset=utf-8", Bytes::from(js))))
}

fn dashboard_shell() -> Option<DashboardShell> {
    let js = path("dashboard", "dashboard.js")?;
    let wasm = path("dashboard", "dashboard_bg.wasm")?;
    let css = path("dashboard", "dashboard.css").map(|p| format!(r#"<link rel="stylesheet" href="{p}">"#)).unwrap_or_default();
    let boot = format!("import init from '{js}'; init({{ module_or_path: '{wasm}' }});");
    // The one inline script is allowed by its hash; nothing else inline may run.
    let boot_hash = STANDARD.encode(Sha256::digest(boot.as_bytes()));
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Confab</title>
<link rel="icon" href="data:,">
<link rel="modulepreload" href="{js}">
{css}
</head>
<body>
<noscript>The Confab dashboard needs JavaScript and WebAssembly.</noscript>
<script type="module">{boot}</script>
</body>
</html>
"#
    );
    let csp = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-{boot_hash}'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    );
    Some(DashboardShell { html, csp })
}
