//! Pure text helpers: day labels, the clock, counters, colours, relay URLs (links in messages come from
//! `shared::text`). Nothing here touches the browser, so it is tested natively
//! (`cargo test -p confab-widget`). Times are "local milliseconds": a UTC timestamp already shifted by
//! the browser's offset for that instant (see `lib::local_ms`), so DST is the caller's business.

use shared::limits::MAX_TEXT_CHARS;
use shared::time::{civil_from_days, DAY_MS};

use crate::i18n::Text;

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

/// The label of a day separator, seen from `today`: "Today", "Yesterday", a weekday within the last
/// week, else "3 November" (this year) or "3 November 2025", in `t`'s language.
pub fn day_label(day: i64, today: i64, t: &Text) -> String {
    let nth = |list: &'static str, i: usize| nth_word(list, i);
    match today - day {
        0 => return t.today.into(),
        1 => return t.yesterday.into(),
        2..=6 => return nth(t.weekdays, day.rem_euclid(7) as usize).into(),
        _ => {}
    }
    let (y, m, d) = civil_from_days(day);
    let mut s = d.to_string();
    s.push(' ');
    s.push_str(nth(t.months, m as usize - 1));
    if y != civil_from_days(today).0 {
        s.push(' ');
        s.push_str(&y.to_string());
    }
    s
}

/// The `i`th space-separated word of `list` (a byte scan: `split` costs more wasm).
pub fn nth_word(list: &str, i: usize) -> &str {
    let mut start = 0;
    let mut n = 0;
    for (j, b) in list.bytes().enumerate() {
        if b == b' ' {
            if n == i {
                return &list[start..j];
            }
            n += 1;
            start = j + 1;
        }
    }
    if n == i {
        &list[start..]
    } else {
        ""
    }
}

/// `parts` end to end, like `[…].concat()`: that one compiles to ~1 KB of wasm (`join_generic_copy`),
/// and the widget's size budget is tight.
pub fn cat(parts: &[&str]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push_str(p);
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

/// `…/api/v1/uploads?site=KEY&name=FILE`: where the visitor's files go.
pub fn upload_url(relay: &str, site: &str, name: &str) -> String {
    let mut url = relay.trim_end_matches('/').to_owned();
    url.push_str("/api/v1/uploads?site=");
    push_encoded(&mut url, site);
    url.push_str("&name=");
    push_encoded(&mut url, name);
    url
}

/// A file's size for people: "820 B", "48 KB", "2.4 MB" (one decimal under 10 MB).
pub fn size(bytes: u64) -> String {
    if bytes < 1000 {
        return cat(&[&bytes.to_string(), " B"]);
    }
    if bytes < 1_000_000 {
        return cat(&[&(bytes / 1000).to_string(), " KB"]);
    }
    let tenths = bytes / 100_000;
    let whole = (tenths / 10).to_string();
    if tenths >= 100 {
        return cat(&[&whole, " MB"]);
    }
    cat(&[&whole, ".", &(tenths % 10).to_string(), " MB"])
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

    #[test]
    fn cat_puts_parts_end_to_end() {
        assert_eq!(cat(&["(", "2", ") ", "Shop"]), "(2) Shop");
        assert_eq!(cat(&[]), "");
    }

    #[test]
    fn clock_pads_hours_and_minutes() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(9 * 3_600_000 + 5 * 60_000 + 59_999), "09:05");
        assert_eq!(clock(-60_000), "23:59");
    }

    #[test]
    fn day_labels_read_like_a_person_would_say_them() {
        let today = day_of(1_763_683_200_000); // Friday 21 November 2025
        let en = &crate::i18n::EN;
        assert_eq!(day_label(today, today, en), "Today");
        assert_eq!(day_label(today - 1, today, en), "Yesterday");
        assert_eq!(day_label(today - 4, today, en), "Monday");
        assert_eq!(day_label(today - 30, today, en), "22 October");
        assert_eq!(day_label(today - 365, today, en), "21 November 2024");
        let fr = &crate::i18n::FR;
        assert_eq!(day_label(today - 1, today, fr), "Hier");
        assert_eq!(day_label(today - 4, today, fr), "lundi");
        assert_eq!(day_label(today - 30, today, fr), "22 octobre");
        assert_eq!(day_label(today - 300, today, fr), "25 janvier");
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

    #[test]
    fn file_sizes_read_like_people_say_them() {
        assert_eq!(size(820), "820 B");
        assert_eq!(size(48_213), "48 KB");
        assert_eq!(size(2_412_000), "2.4 MB");
        assert_eq!(size(10_485_760), "10 MB");
        assert_eq!(
            upload_url("http://r.example/", "demo", "Facture été.pdf"),
            "http://r.example/api/v1/uploads?site=demo&name=Facture%20%C3%A9t%C3%A9.pdf"
        );
    }
}
