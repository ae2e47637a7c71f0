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

/// Same-origin check for the dashboard's state-changing requests and its WebSocket: the `Origin`
/// must name the host the request was sent to. Browsers always send `Origin` on these requests,
/// and a cross-site page can't forge it.
pub fn is_same_origin(headers: &HeaderMap) -> bool {
    let (Some(origin), Some(host)) = (request_origin(headers), headers.get(header::HOST).and_then(|h| h.to_str().ok()))
    else {
        return false;
    };
    let Ok(url) = url::Url::parse(origin) else { return false };
    let Some(origin_host) = url.host_str() else { return false };
    let origin_authority = match url.port() {
        Some(port) => format!("{origin_host}:{port}"),
        None => origin_host.to_owned(),
    };
    origin_authority.eq_ignore_ascii_case(host)
}

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
        assert!(!is_same_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(is_same_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:9999".parse().unwrap());
        assert!(!is_same_origin(&h));
    }
}
