//! The embedded widget and dashboard files (see `build.rs`), and what is derived from them once at
//! start: the loader with its placeholders filled in, and the dashboard's HTML shell.

use std::collections::HashMap;

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
}

include!(concat!(env!("OUT_DIR"), "/embedded_assets.rs"));

pub struct Asset {
    pub content_type: &'static str,
    pub bytes: Bytes,
}

pub struct DashboardShell {
    pub html: String,
    pub csp: String,
}

pub struct AssetTable {
    by_served: HashMap<&'static str, Asset>,
    /// `/widget.js`, ready to serve.
    pub loader: Option<Bytes>,
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
            .map(|e| (e.served, Asset { content_type: e.content_type, bytes: Bytes::from_static(e.bytes) }))
            .collect();
        AssetTable { by_served, loader: loader(), dashboard_shell: dashboard_shell() }
    }

    pub fn by_served_name(&self, name: &str) -> Option<&Asset> {
        self.by_served.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.by_served.is_empty()
    }

    /// `(served path, size)` of every embedded file of a group, for the size report and tests.
    pub fn list(group: &str) -> Vec<(String, usize)> {
        EMBEDDED.iter().filter(|e| e.group == group).map(|e| (format!("/assets/{}", e.served), e.bytes.len())).collect()
    }
}

fn loader() -> Option<Bytes> {
    let template = std::str::from_utf8(find("widget", "widget.js")?.bytes).ok()?;
    let js = template
        .replace("__CONFAB_APP_JS__", &path("widget", "app.js")?)
        .replace("__CONFAB_APP_WASM__", &path("widget", "app_bg.wasm")?)
        .replace("__CONFAB_APP_CSS__", &path("widget", "widget.css")?);
    Some(Bytes::from(js))
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
