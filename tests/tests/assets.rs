//! The relay serves the loader, the hashed widget and dashboard files, and the dashboard shell.

use confab_tests::*;

#[tokio::test]
async fn the_loader_and_hashed_assets_are_served_with_the_right_headers() {
    let relay = TestRelay::start().await;
    let loader = reqwest::get(relay.url("/widget.js")).await.unwrap();
    let widget_files = relay::assets::AssetTable::list("widget");
    if widget_files.is_empty() {
        // Built without `cargo xtask build-assets`: a clear 503 naming the fix, not a blank page.
        assert_eq!(loader.status(), 503);
        let body: serde_json::Value = loader.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains("cargo xtask build-assets"));
        return;
    }
    assert_eq!(loader.status(), 200);
    assert_eq!(loader.headers()["cache-control"], "public, max-age=300");
    assert_eq!(loader.headers()["access-control-allow-origin"], "*");
    let js = loader.text().await.unwrap();
    assert!(!js.contains("__CONFAB_"), "placeholders left in the loader");
    // Every hashed path the loader names is served, immutable, with its content type.
    for (path, size) in widget_files {
        if path.contains("/widget-") {
            continue; // the loader template itself
        }
        assert!(js.contains(&path), "loader does not reference {path}");
        let r = reqwest::get(relay.url(&path)).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        if path.ends_with(".wasm") {
            assert_eq!(ct, "application/wasm");
        }
        assert_eq!(r.bytes().await.unwrap().len(), size);
    }
    // With Accept-Encoding: br the same bytes come brotli-compressed (and much smaller).
    let wasm = relay::assets::AssetTable::list("widget").into_iter().find(|(p, _)| p.ends_with(".wasm")).expect("a wasm file");
    let client = reqwest::Client::new();
    let r = client.get(relay.url(&wasm.0)).header("accept-encoding", "gzip, br").send().await.unwrap();
    assert_eq!(r.headers()["content-encoding"], "br");
    assert_eq!(r.headers()["vary"], "Accept-Encoding");
    let compressed = r.bytes().await.unwrap();
    assert!(compressed.len() < wasm.1 / 2, "brotli {} vs raw {}", compressed.len(), wasm.1);
    let mut raw = Vec::new();
    brotli::BrotliDecompress(&mut &compressed[..], &mut raw).unwrap();
    assert_eq!(raw.len(), wasm.1);

    let missing = reqwest::get(relay.url("/assets/app-00000000.js")).await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_dashboard_shell_loads_its_app_under_a_strict_csp() {
    let relay = TestRelay::start().await;
    let r = reqwest::get(relay.url("/dashboard")).await.unwrap();
    if relay::assets::AssetTable::list("dashboard").is_empty() {
        assert_eq!(r.status(), 503);
        return;
    }
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-"), "{csp}");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let html = r.text().await.unwrap();
    assert!(html.contains("/assets/dashboard-") && html.contains("/assets/dashboard_bg-"));
}

#[tokio::test]
async fn health_answers_ok_and_unknown_paths_answer_json_404() {
    let relay = TestRelay::start().await;
    let r = reqwest::get(relay.url("/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = reqwest::get(relay.url("/no/such/thing")).await.unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
}
