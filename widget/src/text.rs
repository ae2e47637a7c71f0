//! Pure text helpers: links, dates, counters. Nothing here touches the browser, so it is tested natively
//! (`cargo test -p confab-widget`). Times are "local milliseconds": a UTC timestamp already shifted by
//! the browser's offset for that instant (see `lib::local_ms`), so DST is the caller's business.

use shared::limits::MAX_TEXT_CHARS;

/// A piece of a message: plain text, or an http(s) link. Rendered as text nodes and `<a>` elements
/// only, never as HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    Link(&'a str),
}

/// Splits `text` into text and links. Only `http://` and `https://` URLs (any case) with a host become
/// links; trailing punctuation that usually ends a sentence (and an unbalanced closing bracket) stays text.
pub fn linkify(text: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut plain_from = 0;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        let at_word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let scheme = if at_word_start {
            scheme_len(&bytes[i..])
        } else {
            0
        };
        if scheme == 0 {
            i += 1;
            continue;
        }
        let end = url_end(text, i, scheme);
        if end > i + scheme {
            if plain_from < i {
                out.push(Segment::Text(&text[plain_from..i]));
            }
            out.push(Segment::Link(&text[i..end]));
            plain_from = end;
            i = end;
        } else {
            i += scheme;
        }
    }
    if plain_from < text.len() {
        out.push(Segment::Text(&text[plain_from..]));
    }
    out
}

fn scheme_len(b: &[u8]) -> usize {
    let starts = |p: &str| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    if starts("https://") {
        8
    } else if starts("http://") {
        7
    } else {
        0
    }
}

/// Byte index where the URL starting at `start` ends.
fn url_end(text: &str, start: usize, scheme: usize) -> usize {
    let rest = &text[start + scheme..];
    let mut end = start + scheme;
    for (off, c) in rest.char_indices() {
        if c.is_whitespace()
            || c.is_control()
            || matches!(c, '<' | '>' | '"' | '`' | '{' | '}' | '|' | '\\' | '^')
        {
            break;
        }
        end = start + scheme + off + c.len_utf8();
    }
    // Trim what most likely belongs to the sentence, not the URL.
    loop {
        let url = &text[start..end];
        let Some(last) = url.chars().last() else {
            break;
        };
        let trim = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*' => true,
            ')' => url.matches('(').count() < url.matches(')').count(),
            ']' => url.matches('[').count() < url.matches(']').count(),
            _ => false,
        };
        if !trim || end - start <= scheme {
            break;
        }
        end -= last.len_utf8();
    }
    end
}

const DAY_MS: i64 = 86_400_000;

/// The local day number (days since 1970-01-01) of a local-milliseconds time.
pub fn day_of(local_ms: i64) -> i64 {
    local_ms.div_euclid(DAY_MS)
}

/// `HH:MM`, 24-hour.
pub fn clock(local_ms: i64) -> String {
    let minutes = local_ms.rem_euclid(DAY_MS) / 60_000;
    let (h, m) = (minutes / 60, minutes % 60);
    let mut s = String::with_capacity(5);
    for n in [h / 10, h % 10] {
        s.push((b'0' + n as u8) as char);
    }
    s.push(':');
    for n in [m / 10, m % 10] {
        s.push((b'0' + n as u8) as char);
    }
    s
}

/// (year, month 1..=12, day 1..=31) of a day number (Howard Hinnant's `civil_from_days`).
pub fn civil(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];

/// The label of a day separator, seen from `today`: "Today", "Yesterday", a weekday within the last
/// week, else "3 November" (this year) or "3 November 2025".
pub fn day_label(day: i64, today: i64) -> String {
    match today - day {
        0 => return "Today".into(),
        1 => return "Yesterday".into(),
        2..=6 => return WEEKDAYS[day.rem_euclid(7) as usize].into(),
        _ => {}
    }
    let (y, m, d) = civil(day);
    let mut s = d.to_string();
    s.push(' ');
    s.push_str(MONTHS[m as usize - 1]);
    if y != civil(today).0 {
        s.push(' ');
        s.push_str(&y.to_string());
    }
    s
}

/// The counter shown under the composer: nothing until the text is near the limit, then the characters
/// left (negative beyond it).
pub fn counter(chars: usize) -> Option<String> {
    (chars + 200 > MAX_TEXT_CHARS).then(|| (MAX_TEXT_CHARS as i64 - chars as i64).to_string())
}

/// Whether `text` can be sent: something other than white space, within the limit.
pub fn sendable(text: &str) -> bool {
    !text.trim().is_empty() && shared::limits::text_chars(text.trim()) <= MAX_TEXT_CHARS
}

/// Text colour readable on the brand colour (`#rgb` or `#rrggbb`; anything else counts as dark):
/// white unless the colour is light (WCAG relative luminance), then near-black.
pub fn on_brand(color: &str) -> &'static str {
    let hex = color.trim().strip_prefix('#').unwrap_or("");
    let digits: Vec<u32> = hex.chars().filter_map(|c| c.to_digit(16)).collect();
    let rgb = match (hex.len(), digits.len()) {
        (3, 3) => [digits[0] * 17, digits[1] * 17, digits[2] * 17],
        (6, 6) => [
            digits[0] * 16 + digits[1],
            digits[2] * 16 + digits[3],
            digits[4] * 16 + digits[5],
        ],
        _ => return "#fff",
    };
    // sRGB to linear; x^2.375 stands in for x^2.4 (close enough to pick a text colour, and it keeps
    // libm's `pow` out of the wasm).
    let lin = |c: u32| {
        let c = c as f64 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            let x = (c + 0.055) / 1.055;
            let r4 = x.sqrt().sqrt();
            x * x * r4 * r4.sqrt()
        }
    };
    let l = 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
    // Contrast with white is 1.05/(l+0.05); with #111 it is (l+0.05)/0.0566. Pick the larger.
    if 1.05 / (l + 0.05) >= (l + 0.05) / 0.0566 {
        "#fff"
    } else {
        "#111"
    }
}

/// `ws(s)://…/ws/visitor?site=KEY` from the relay's base URL (`http(s)://host[:port][/prefix]`).
pub fn socket_url(relay: &str, site: &str) -> String {
    let relay = relay.trim_end_matches('/');
    let mut url = String::from("ws");
    url.push_str(relay.strip_prefix("http").unwrap_or(relay));
    url.push_str("/ws/visitor?site=");
    push_encoded(&mut url, site);
    url
}

/// `…/api/v1/sites/KEY`: the site's public info, which also says why the relay refuses this page.
pub fn site_url(relay: &str, site: &str) -> String {
    let mut url = relay.trim_end_matches('/').to_owned();
    url.push_str("/api/v1/sites/");
    push_encoded(&mut url, site);
    url
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn push_encoded(url: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            url.push(b as char);
        } else {
            url.push('%');
            url.push(HEX[(b >> 4) as usize] as char);
            url.push(HEX[(b & 15) as usize] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::{Link, Text};

    #[test]
    fn plain_text_is_one_segment() {
        assert_eq!(
            linkify("hello <b>there</b>"),
            vec![Text("hello <b>there</b>")]
        );
        assert_eq!(linkify(""), vec![]);
    }

    #[test]
    fn http_and_https_urls_become_links_and_trailing_punctuation_stays_text() {
        assert_eq!(
            linkify("see https://shop.example/a?b=1#c, or http://x.io."),
            vec![
                Text("see "),
                Link("https://shop.example/a?b=1#c"),
                Text(", or "),
                Link("http://x.io"),
                Text(".")
            ]
        );
    }

    #[test]
    fn brackets_are_kept_only_when_balanced() {
        assert_eq!(
            linkify("(https://en.wikipedia.org/wiki/Rust_(language))"),
            vec![
                Text("("),
                Link("https://en.wikipedia.org/wiki/Rust_(language)"),
                Text(")")
            ]
        );
    }

    #[test]
    fn other_schemes_and_bare_schemes_are_not_links() {
        for s in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "ftp://x.io",
            "https://",
            "xhttps://a.b",
            "mailto:a@b",
        ] {
            assert!(linkify(s).iter().all(|seg| matches!(seg, Text(_))), "{s}");
        }
    }

    #[test]
    fn uppercase_scheme_and_unicode_around_links_work() {
        assert_eq!(
            linkify("→HTTPS://Ex.com/é ok"),
            vec![Text("→"), Link("HTTPS://Ex.com/é"), Text(" ok")]
        );
    }

    #[test]
    fn a_link_stops_at_quotes_and_angle_brackets() {
        assert_eq!(
            linkify("<https://a.b/c>"),
            vec![Text("<"), Link("https://a.b/c"), Text(">")]
        );
        assert_eq!(
            linkify("\"https://a.b\"x"),
            vec![Text("\""), Link("https://a.b"), Text("\"x")]
        );
    }

    #[test]
    fn clock_pads_hours_and_minutes() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(9 * 3_600_000 + 5 * 60_000 + 59_999), "09:05");
        assert_eq!(clock(-60_000), "23:59");
    }

    #[test]
    fn civil_dates_match_the_calendar() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(day_of(1_763_683_200_000)), (2025, 11, 21));
        assert_eq!(civil(-1), (1969, 12, 31));
        assert_eq!(civil(day_of(951_782_400_000)), (2000, 2, 29));
    }

    #[test]
    fn day_labels_read_like_a_person_would_say_them() {
        let today = day_of(1_763_683_200_000); // Friday 21 November 2025
        assert_eq!(day_label(today, today), "Today");
        assert_eq!(day_label(today - 1, today), "Yesterday");
        assert_eq!(day_label(today - 4, today), "Monday");
        assert_eq!(day_label(today - 30, today), "22 October");
        assert_eq!(day_label(today - 365, today), "21 November 2024");
    }

    #[test]
    fn counter_appears_near_the_limit_and_goes_negative_beyond_it() {
        assert_eq!(counter(10), None);
        assert_eq!(counter(MAX_TEXT_CHARS - 5).as_deref(), Some("5"));
        assert_eq!(counter(MAX_TEXT_CHARS + 3).as_deref(), Some("-3"));
    }

    #[test]
    fn only_non_blank_text_within_the_limit_is_sendable() {
        assert!(sendable(" hi "));
        assert!(!sendable(" \n\t"));
        assert!(sendable(&"é".repeat(MAX_TEXT_CHARS)));
        assert!(!sendable(&"é".repeat(MAX_TEXT_CHARS + 1)));
    }

    #[test]
    fn text_on_the_brand_colour_keeps_its_contrast() {
        assert_eq!(on_brand("#4f46e5"), "#fff");
        assert_eq!(on_brand("#000"), "#fff");
        assert_eq!(on_brand("#ffd700"), "#111");
        assert_eq!(on_brand("#FFF"), "#111");
        assert_eq!(on_brand("red"), "#fff");
        assert_eq!(on_brand("#12345z"), "#fff");
    }

    #[test]
    fn socket_url_follows_the_relay_scheme_and_encodes_the_key() {
        assert_eq!(
            socket_url("https://relay.example/", "demo"),
            "wss://relay.example/ws/visitor?site=demo"
        );
        assert_eq!(
            socket_url("http://127.0.0.1:8080", "a b&c"),
            "ws://127.0.0.1:8080/ws/visitor?site=a%20b%26c"
        );
        assert_eq!(
            site_url("http://r.example/", "d/é"),
            "http://r.example/api/v1/sites/d%2F%C3%A9"
        );
    }
}
