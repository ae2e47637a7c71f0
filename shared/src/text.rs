//! Finding links in message text, for the widget and the dashboard alike. Both render the result as
//! text nodes and `<a>` elements only, never as HTML, so a link is only ever an `http(s)` URL found here.

/// A piece of a message: plain text, or an http(s) link. Both borrow from the text they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    /// An `http://` or `https://` URL with something after the scheme, safe to put in `href`.
    Link(&'a str),
}

/// Splits `text` into text and links. Only `http://` and `https://` URLs (any case) with a host become
/// links; trailing punctuation that usually ends a sentence (and an unbalanced closing bracket) stays text.
///
/// A link starts at the start of the text or after anything but an ASCII letter or digit (so
/// `xhttps://…` is not one, while `请看https://…`, common without spaces in CJK text, is), and stops
/// before white space, control characters and the characters RFC 3986 never allows unescaped
/// (`` <>"`{}|\^ ``).
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

/// The text a message made only of one file carries, so previews and platforms have words to show:
/// "📷 Photo", "🎥 Video", "📄 Invoice.pdf" (the bridge names WhatsApp and Messenger files the same
/// way). Clients that show the file itself hide this text.
pub fn attachment_label(kind: crate::AttachmentKind, name: Option<&str>) -> String {
    use crate::AttachmentKind as K;
    match (kind, name.filter(|n| !n.is_empty())) {
        (K::Image | K::Sticker, _) => "📷 Photo".into(),
        (K::Video, _) => "🎥 Video".into(),
        (K::Audio, _) => "🎤 Audio".into(),
        (_, Some(name)) => {
            let mut s = String::from("📄 ");
            s.push_str(name);
            s
        }
        _ => "📄 Document".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::{Link, Text};

    #[test]
    fn plain_text_is_one_segment() {
        assert_eq!(linkify("no links here"), vec![Text("no links here")]);
        assert_eq!(linkify(""), vec![]);
    }

    #[test]
    fn html_in_text_stays_text() {
        assert_eq!(linkify("<b>hi</b>"), vec![Text("<b>hi</b>")]);
        assert_eq!(
            linkify("hello <b>there</b>"),
            vec![Text("hello <b>there</b>")]
        );
    }

    #[test]
    fn links_are_found_at_the_start_middle_and_end_of_text() {
        assert_eq!(
            linkify("see https://shop.example/a?b=1#c for details"),
            vec![
                Text("see "),
                Link("https://shop.example/a?b=1#c"),
                Text(" for details")
            ]
        );
        assert_eq!(linkify("http://x.io"), vec![Link("http://x.io")]);
        assert_eq!(linkify("HTTPS://X.IO/Y"), vec![Link("HTTPS://X.IO/Y")]);
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
        assert_eq!(
            linkify("Go to https://a.io/x."),
            vec![Text("Go to "), Link("https://a.io/x"), Text(".")]
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
        assert_eq!(
            linkify("(https://a.io/x)"),
            vec![Text("("), Link("https://a.io/x"), Text(")")]
        );
        assert_eq!(
            linkify("https://en.wikipedia.org/wiki/Rust_(language)!"),
            vec![
                Link("https://en.wikipedia.org/wiki/Rust_(language)"),
                Text("!")
            ]
        );
        assert_eq!(
            linkify("[https://a.io/x]"),
            vec![Text("["), Link("https://a.io/x"), Text("]")]
        );
    }

    #[test]
    fn other_schemes_and_bare_schemes_are_not_links() {
        for s in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "ftp://x.io",
            "ftp://a.io",
            "https://",
            "https://.",
            "xhttps://a.b",
            "xhttps://a.io",
            "mailto:a@b",
        ] {
            assert_eq!(linkify(s), vec![Text(s)], "{s}");
        }
    }

    #[test]
    fn uppercase_scheme_and_unicode_around_links_work() {
        assert_eq!(
            linkify("→HTTPS://Ex.com/é ok"),
            vec![Text("→"), Link("HTTPS://Ex.com/é"), Text(" ok")]
        );
        assert_eq!(
            linkify("é https://a.io, ü http://b.io/ñ"),
            vec![
                Text("é "),
                Link("https://a.io"),
                Text(", ü "),
                Link("http://b.io/ñ")
            ]
        );
    }

    #[test]
    fn a_link_may_follow_a_non_ascii_letter_directly() {
        assert_eq!(
            linkify("请看https://a.io 谢谢"),
            vec![Text("请看"), Link("https://a.io"), Text(" 谢谢")]
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
        assert_eq!(
            linkify("<https://a.io>"),
            vec![Text("<"), Link("https://a.io"), Text(">")]
        );
    }

    #[test]
    fn a_link_stops_at_control_characters_and_characters_urls_never_hold() {
        for stop in ["\u{7}", "\n", "`", "{", "}", "|", "\\", "^"] {
            let s = format!("https://a.io/x{stop}y");
            assert_eq!(
                linkify(&s),
                vec![Link("https://a.io/x"), Text(&s[14..])],
                "{stop:?}"
            );
        }
        assert_eq!(linkify("https://{a}"), vec![Text("https://{a}")]);
    }

    #[test]
    fn a_file_alone_is_named_as_the_bridge_names_it() {
        use crate::AttachmentKind as K;
        assert_eq!(attachment_label(K::Image, Some("x.png")), "📷 Photo");
        assert_eq!(attachment_label(K::Video, None), "🎥 Video");
        assert_eq!(attachment_label(K::Document, Some("Invoice.pdf")), "📄 Invoice.pdf");
        assert_eq!(attachment_label(K::Document, Some("")), "📄 Document");
    }
}
