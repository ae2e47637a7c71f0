//! What advisors know about a customer (the dashboard's customer panel): what the visitor's browser
//! tells the relay, checked before it is stored, and the browser and system in words.
//! Pure functions; the HTTP side is `http::customer`, the visitor socket stores a [`Visit`].

use shared::limits::{MAX_EMAIL_CHARS, MAX_TIMEZONE_BYTES, MAX_URL_BYTES};

/// Longest `User-Agent` kept (real ones are 100–300 bytes).
pub const MAX_USER_AGENT_BYTES: usize = 512;

/// What one visitor connection tells about the customer, each part already checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visit {
    pub user_agent: Option<String>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub referrer: Option<String>,
}

impl Visit {
    /// From the upgrade request's `User-Agent` and `Accept-Language` and the hello's fields; what
    /// doesn't pass its check is left out (a visitor can't be refused a chat over its browser).
    pub fn new(user_agent: Option<&str>, accept_language: Option<&str>, referrer: Option<&str>, timezone: Option<&str>) -> Visit {
        Visit {
            user_agent: user_agent.map(str::trim).filter(|ua| !ua.is_empty() && ua.len() <= MAX_USER_AGENT_BYTES).map(str::to_owned),
            language: accept_language.and_then(first_language),
            timezone: timezone.filter(|tz| is_time_zone(tz)).map(str::to_owned),
            referrer: referrer.filter(|r| is_web_url(r)).map(str::to_owned),
        }
    }
}

/// The languages the relay writes to customers in (the bot, e-mails): French for a French tag, English
/// for everything else, as the widget does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    /// From the visitor's language tag ("fr-CA", "en"; `visitors.language`).
    pub fn of(tag: Option<&str>) -> Lang {
        match tag.map(|t| t.trim().to_ascii_lowercase()) {
            Some(t) if t == "fr" || t.starts_with("fr-") || t.starts_with("fr_") => Lang::Fr,
            _ => Lang::En,
        }
    }
}

/// The first language tag of an `Accept-Language` header: `"fr-CH, fr;q=0.9, en;q=0.8"` → `fr-CH`.
pub fn first_language(header: &str) -> Option<String> {
    let tag = header.split(',').next()?.split(';').next()?.trim();
    let valid = !tag.is_empty()
        && tag.len() <= 35
        && tag.split('-').all(|part| !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_alphanumeric()));
    valid.then(|| tag.to_owned())
}

/// An IANA time zone name as browsers report them: `Europe/Paris`, `America/Argentina/Buenos_Aires`,
/// `Etc/GMT+5`, `UTC`.
pub fn is_time_zone(tz: &str) -> bool {
    !tz.is_empty()
        && tz.len() <= MAX_TIMEZONE_BYTES
        && tz.split('/').all(|part| !part.is_empty())
        && tz.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
}

/// An `http(s)` URL the relay is willing to keep and show as a link.
pub fn is_web_url(url: &str) -> bool {
    url.len() <= MAX_URL_BYTES
        && (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(char::is_control)
}

/// A plausible e-mail address: one `@`, something before it, a dotted domain after it, no spaces.
/// (Deliverability is not ours to check; catching typos like "ana@shop" or "ana shop.com" is.)
pub fn is_email(email: &str) -> bool {
    if email.chars().count() > MAX_EMAIL_CHARS || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty()
        && !domain.contains('@')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
}

/// Browser and operating system in words, from a `User-Agent`: `("Chrome 120", "Windows")`.
/// Either is None when not recognised. Order matters: Edge and Opera say "Chrome", Chrome says
/// "Safari", iOS says "Mac OS X", Android says "Linux".
pub fn browser_and_os(ua: &str) -> (Option<String>, Option<&'static str>) {
    let os = if ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod") {
        Some("iOS")
    } else if ua.contains("Android") {
        Some("Android")
    } else if ua.contains("Windows") {
        Some("Windows")
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        Some("macOS")
    } else if ua.contains("CrOS") {
        Some("ChromeOS")
    } else if ua.contains("Linux") || ua.contains("X11") {
        Some("Linux")
    } else {
        None
    };
    let named = |token: &str, name: &str| version_after(ua, token).map(|v| format!("{name} {v}"));
    let browser = named("Edg/", "Edge")
        .or_else(|| named("EdgA/", "Edge"))
        .or_else(|| named("EdgiOS/", "Edge"))
        .or_else(|| named("OPR/", "Opera"))
        .or_else(|| named("SamsungBrowser/", "Samsung Internet"))
        .or_else(|| named("Firefox/", "Firefox"))
        .or_else(|| named("FxiOS/", "Firefox"))
        .or_else(|| named("CriOS/", "Chrome"))
        .or_else(|| named("Chrome/", "Chrome"))
        .or_else(|| (ua.contains("Safari/")).then(|| named("Version/", "Safari").unwrap_or_else(|| "Safari".to_owned())));
    (browser, os)
}

/// The major version after `token`: `"Chrome/"` in `"… Chrome/120.0.6099.71 …"` → `120`.
fn version_after<'a>(ua: &'a str, token: &str) -> Option<&'a str> {
    let rest = &ua[ua.find(token)? + token.len()..];
    let major = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    (!major.is_empty()).then_some(major)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_visitors_get_french_and_everyone_else_english() {
        for tag in ["fr", "fr-CA", "FR", " fr_ch "] {
            assert_eq!(Lang::of(Some(tag)), Lang::Fr, "{tag}");
        }
        for tag in ["en-GB", "de-DE", "fry", ""] {
            assert_eq!(Lang::of(Some(tag)), Lang::En, "{tag}");
        }
        assert_eq!(Lang::of(None), Lang::En);
    }

    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36";
    const CHROME_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1";
    const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36";
    const HEADLESS_CHROMIUM: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/140.0.0.0 Safari/537.36";
    const FIREFOX_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
    const FIREFOX_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0";
    const FIREFOX_LINUX: &str = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    const FIREFOX_ANDROID: &str = "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0";
    const FIREFOX_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15";
    const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15";
    const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
    const SAFARI_IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1";
    const EDGE_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
    const EDGE_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
    const EDGE_ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36 EdgA/120.0.2210.84";
    const EDGE_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/120.2210.79 Mobile/15E148 Safari/605.1.15";
    const EDGE_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0";

    fn words(ua: &str) -> (String, String) {
        let (browser, os) = browser_and_os(ua);
        (browser.unwrap_or_default(), os.unwrap_or_default().to_owned())
    }

    #[test]
    fn chrome_is_named_on_every_system() {
        assert_eq!(words(CHROME_WINDOWS), ("Chrome 120".into(), "Windows".into()));
        assert_eq!(words(CHROME_MAC), ("Chrome 121".into(), "macOS".into()));
        assert_eq!(words(CHROME_ANDROID), ("Chrome 120".into(), "Android".into()));
        assert_eq!(words(CHROME_IOS), ("Chrome 120".into(), "iOS".into()));
        assert_eq!(words(CHROME_LINUX), ("Chrome 119".into(), "Linux".into()));
        assert_eq!(words(HEADLESS_CHROMIUM), ("Chrome 140".into(), "Linux".into()));
    }

    #[test]
    fn firefox_is_named_on_every_system() {
        assert_eq!(words(FIREFOX_WINDOWS), ("Firefox 121".into(), "Windows".into()));
        assert_eq!(words(FIREFOX_MAC), ("Firefox 121".into(), "macOS".into()));
        assert_eq!(words(FIREFOX_LINUX), ("Firefox 120".into(), "Linux".into()));
        assert_eq!(words(FIREFOX_ANDROID), ("Firefox 121".into(), "Android".into()));
        assert_eq!(words(FIREFOX_IOS), ("Firefox 121".into(), "iOS".into()));
    }

    #[test]
    fn safari_is_named_on_apple_systems() {
        assert_eq!(words(SAFARI_MAC), ("Safari 17".into(), "macOS".into()));
        assert_eq!(words(SAFARI_IOS), ("Safari 17".into(), "iOS".into()));
        assert_eq!(words(SAFARI_IPAD), ("Safari 16".into(), "iOS".into()));
    }

    #[test]
    fn edge_is_not_mistaken_for_chrome_or_safari() {
        assert_eq!(words(EDGE_WINDOWS), ("Edge 120".into(), "Windows".into()));
        assert_eq!(words(EDGE_MAC), ("Edge 120".into(), "macOS".into()));
        assert_eq!(words(EDGE_ANDROID), ("Edge 120".into(), "Android".into()));
        assert_eq!(words(EDGE_IOS), ("Edge 120".into(), "iOS".into()));
        assert_eq!(words(EDGE_LINUX), ("Edge 120".into(), "Linux".into()));
    }

    #[test]
    fn an_unknown_user_agent_names_nothing() {
        assert_eq!(browser_and_os("curl/8.5.0"), (None, None));
        assert_eq!(browser_and_os(""), (None, None));
    }

    #[test]
    fn the_first_language_tag_is_kept() {
        assert_eq!(first_language("fr-CH, fr;q=0.9, en;q=0.8").as_deref(), Some("fr-CH"));
        assert_eq!(first_language("de;q=0.9").as_deref(), Some("de"));
        assert_eq!(first_language("zh-Hant-TW").as_deref(), Some("zh-Hant-TW"));
        assert_eq!(first_language("*"), None);
        assert_eq!(first_language(""), None);
        assert_eq!(first_language("<script>"), None);
    }

    #[test]
    fn time_zones_are_iana_names() {
        for tz in ["Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC", "America/Port-au-Prince"] {
            assert!(is_time_zone(tz), "{tz}");
        }
        for tz in ["", "Europe/", "/Paris", "Europe/Paris<b>", "Europe Paris", &"A".repeat(65)] {
            assert!(!is_time_zone(tz), "{tz}");
        }
    }

    #[test]
    fn referrers_must_be_web_urls() {
        assert!(is_web_url("https://search.example/?q=tents"));
        assert!(!is_web_url("javascript:alert(1)"));
        assert!(!is_web_url("https://a.example/\nb"));
        assert!(!is_web_url(&format!("https://a.example/{}", "x".repeat(2048))));
    }

    #[test]
    fn email_addresses_are_checked_for_typos() {
        assert!(is_email("ana@shop.example"));
        assert!(is_email("a.b+c@mail.co.uk"));
        for bad in ["", "ana", "ana@", "@shop.example", "ana@shop", "ana shop@x.example", "a@b@c.example", "ana@.example", "ana@shop.example."] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn a_visit_keeps_only_what_passes_its_check() {
        let v = Visit::new(Some(CHROME_MAC), Some("pt-BR,pt;q=0.9"), Some("javascript:x"), Some("America/Sao_Paulo"));
        assert_eq!(v.user_agent.as_deref(), Some(CHROME_MAC));
        assert_eq!(v.language.as_deref(), Some("pt-BR"));
        assert_eq!(v.referrer, None);
        assert_eq!(v.timezone.as_deref(), Some("America/Sao_Paulo"));
        assert_eq!(Visit::new(Some(&"x".repeat(513)), None, None, Some("no zone")), Visit::default());
    }
}
