//! Origin checks: which pages may open a visitor socket, and CSRF protection for the dashboard.

use axum::http::{header, HeaderMap};

/// `scheme://host[:port]` in lower case, without a default port or a trailing slash; `None` when the
/// string is not an http(s) origin.
pub fn normalize(origin: &str) -> Option<String> {
    let url = url::Url::parse(origin.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{}://{}:{}", url.scheme(), host, port),
        None => format!("{}://{}", url.scheme(), host),
    })
}

/// The request's `Origin`, when present and readable.
pub fn request_origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN)?.to_str().ok()
}

pub fn is_allowed(origin: &str, allowed: &[String]) -> bool {
    let Some(origin) = normalize(origin) else { return false };
    allowed.iter().filter_map(|a| normalize(a)).any(|a| a == origin)
}

/// Same-origin check for the dashboard's state-changing requests and its WebSocket. Browsers
/// always send `Origin` on these requests, and a cross-site page can't forge it.
///
/// Without a public URL, the `Origin` must name the host the request was sent to. That alone
/// does not stop DNS rebinding: a page on `evil.example`, whose name the attacker points at an
/// intranet relay, sends `Host: evil.example` and `Origin: http://evil.example`. So with
/// `--public-url`, the `Origin` must be that URL's origin and the `Host` its host (a reverse proxy
/// must pass the browser's `Host` through).
pub fn is_same_origin(headers: &HeaderMap, public_url: Option<&url::Url>) -> bool {
    let (Some(origin), Some(host)) = (request_origin(headers), headers.get(header::HOST).and_then(|h| h.to_str().ok()))
    else {
        return false;
    };
    match public_url {
        Some(public) => is_public_origin(origin, host, public),
        None => origin_names_host(origin, host),
    }
}

fn origin_names_host(origin: &str, host: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else { return false };
    let Some(origin_host) = url.host_str() else { return false };
    let origin_authority = match url.port() {
        Some(port) => format!("{origin_host}:{port}"),
        None => origin_host.to_owned(),
    };
    origin_authority.eq_ignore_ascii_case(host)
}

fn is_public_origin(origin: &str, host: &str, public: &url::Url) -> bool {
    let (Some(origin), Some(public_origin)) = (normalize(origin), normalize(public.as_str())) else { return false };
    let Some(public_host) = public.host_str() else { return false };
    let host_matches = match (public.port(), public.port_or_known_default()) {
        (Some(port), _) => host.eq_ignore_ascii_case(&format!("{public_host}:{port}")),
        (None, default) => {
            host.eq_ignore_ascii_case(public_host) || default.is_some_and(|p| host.eq_ignore_ascii_case(&format!("{public_host}:{p}")))
        }
    };
    origin == public_origin && host_matches
}

/// The relay's public URL, handed to middleware that has no `AppState` (the CSRF layer) as a
/// request extension.
#[derive(Debug, Clone, Default)]
pub struct PublicUrl(pub Option<url::Url>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_without_case_default_port_or_slash() {
        let allowed = vec!["https://Shop.Example/".to_owned(), "http://127.0.0.1:8081".to_owned()];
        assert!(is_allowed("https://shop.example", &allowed));
        assert!(is_allowed("https://shop.example:443", &allowed));
        assert!(is_allowed("http://127.0.0.1:8081", &allowed));
        assert!(!is_allowed("http://shop.example", &allowed));
        assert!(!is_allowed("https://evil.example", &allowed));
        assert!(!is_allowed("null", &allowed));
        assert!(!is_allowed("http://127.0.0.1:8082", &allowed));
    }

    #[test]
    fn same_origin_needs_origin_matching_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(!is_same_origin(&h, None));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(is_same_origin(&h, None));
        h.insert(header::ORIGIN, "http://127.0.0.1:9999".parse().unwrap());
        assert!(!is_same_origin(&h, None));
    }

    #[test]
    fn with_a_public_url_both_origin_and_host_must_be_its_own() {
        let public = url::Url::parse("https://Chat.Example.com/").unwrap();
        let check = |origin: &str, host: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, host.parse().unwrap());
            h.insert(header::ORIGIN, origin.parse().unwrap());
            is_same_origin(&h, Some(&public))
        };
        assert!(check("https://chat.example.com", "chat.example.com"));
        assert!(check("https://chat.example.com:443", "chat.example.com:443"));
        assert!(!check("http://evil.example", "evil.example"), "DNS rebinding: Origin and Host agree, but not with the URL");
        assert!(!check("https://chat.example.com", "10.0.0.5:8080"), "the right Origin to another Host");
        assert!(!check("http://chat.example.com", "chat.example.com"), "http is another origin");
        let with_port = url::Url::parse("http://127.0.0.1:8080").unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(is_same_origin(&h, Some(&with_port)));
        h.insert(header::HOST, "127.0.0.1".parse().unwrap());
        assert!(!is_same_origin(&h, Some(&with_port)));
    }
}
