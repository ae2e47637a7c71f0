//! `/c/{SITE_KEY}`: a full-screen chat page per site for in-app webviews (WKWebView, Android
//! WebView). It loads the loader in fullscreen mode and `/webview/bridge.js`, which posts the widget's
//! events to the native app. The relay's own origin may use every site (see `ws::visitor::checked_site`),
//! so the app needs no allowed origin. Documented in docs/EMBEDDING.md.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::state::AppState;

const BRIDGE: &str = include_str!("../../static/bridge.js");

/// The page's policy: only the relay's scripts and wasm, styles inline in the widget's Shadow DOM,
/// the socket to the relay, and the site's avatar from any https host.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
     connect-src 'self'; img-src 'self' https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Deserialize)]
pub struct PageQuery {
    /// `?locale=fr`: the widget's language (else the webview's).
    locale: Option<String>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

pub async fn page(State(state): State<AppState>, Path(key): Path<String>, Query(q): Query<PageQuery>) -> Response {
    let site = match state.store.site_by_key(&key).await {
        Ok(Some(site)) => site,
        Ok(None) => return (StatusCode::NOT_FOUND, Html("<!doctype html><title>Confab</title><p>No chat here: unknown site.</p>")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "loading a site for its webview page");
            return (StatusCode::SERVICE_UNAVAILABLE, Html("<!doctype html><title>Confab</title><p>The chat is unavailable. Try again.</p>"))
                .into_response();
        }
    };
    let locale = q
        .locale
        .filter(|l| (2..=12).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .map(|l| format!(" data-locale=\"{l}\""))
        .unwrap_or_default();
    let title = escape(if site.name.is_empty() { "Chat" } else { &site.name });
    let key = escape(&site.key);
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="color-scheme" content="light">
<title>{title}</title>
<link rel="icon" href="data:,">
<script src="/webview/bridge.js"></script>
<script src="/widget.js" data-site="{key}" data-mode="fullscreen"{locale} async></script>
</head>
<body style="margin:0;background:#fff">
<noscript>This chat needs JavaScript.</noscript>
</body>
</html>
"#
    );
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub async fn bridge() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        BRIDGE,
    )
        .into_response()
}
