//! Text helpers: the inbox preview line and splitting message text into plain text and links.
//! Message text is always rendered as text nodes; a link is only ever an `http(s)` URL found here.

use shared::{AdvisorId, Author, Message};

/// Longest preview line, in characters (CSS ellipsis does the rest).
pub const PREVIEW_CHARS: usize = 120;

/// The preview line of an inbox row: the newest message on one line, prefixed with who wrote it when
/// it wasn't the visitor ("You: …" for the advisor looking at it).
pub fn preview(message: Option<&Message>, me: Option<AdvisorId>) -> String {
    let Some(message) = message else {
        return String::new();
    };
    let prefix = match &message.author {
        Author::Advisor { id, .. } if Some(*id) == me => "You: ".to_owned(),
        Author::Advisor { name, .. } => format!("{name}: "),
        Author::Bot => "Bot: ".to_owned(),
        _ => String::new(),
    };
    format!("{prefix}{}", one_line(&message.text, PREVIEW_CHARS))
}

/// `text` with every run of white space (newlines included) turned into one space, trimmed, and cut
/// to `max` characters with an ellipsis.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count >= max {
                out.truncate(out.trim_end().len());
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

/// A piece of message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    /// An `http://` or `https://` URL, safe to put in `href`.
    Link(String),
}

/// Split `text` into plain text and `http(s)` links. A link starts with `http://` or `https://` at the
/// start of the text or after a character that can't be part of a word, runs to the next white space
/// or `<>"`, and loses trailing punctuation (and a closing bracket it doesn't open).
pub fn linkify(text: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut plain_start = 0;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        let rest = &text[i..];
        let scheme_len = if starts_with_ci(rest, "https://") {
            8
        } else if starts_with_ci(rest, "http://") {
            7
        } else {
            0
        };
        let boundary = i == 0 || !text[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric());
        if scheme_len > 0 && boundary {
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
                .unwrap_or(rest.len());
            let url = trim_url(&rest[..end]);
            if url.len() > scheme_len {
                if plain_start < i {
                    segments.push(Segment::Text(text[plain_start..i].to_owned()));
                }
                segments.push(Segment::Link(url.to_owned()));
                i += url.len();
                plain_start = i;
                continue;
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    if plain_start < text.len() {
        segments.push(Segment::Text(text[plain_start..].to_owned()));
    }
    segments
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn trim_url(mut url: &str) -> &str {
    loop {
        let Some(last) = url.chars().next_back() else {
            return url;
        };
        let unbalanced =
            |open: char, close: char| last == close && url.matches(open).count() < url.matches(close).count();
        if matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*')
            || unbalanced('(', ')')
            || unbalanced('[', ']')
            || unbalanced('{', '}')
        {
            url = &url[..url.len() - last.len_utf8()];
        } else {
            return url;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{Channel, ClientMsgId, ConversationId};

    fn msg(author: Author, text: &str) -> Message {
        Message {
            id: ClientMsgId::from("m1"),
            conversation: ConversationId(1),
            seq: 1,
            author,
            channel: Channel::Web,
            text: text.into(),
            sent_at: 0,
        }
    }

    fn link(s: &str) -> Segment {
        Segment::Link(s.into())
    }
    fn text(s: &str) -> Segment {
        Segment::Text(s.into())
    }

    #[test]
    fn preview_says_who_wrote_it_unless_the_visitor_did() {
        let me = AdvisorId(7);
        let mine = Author::Advisor {
            id: me,
            name: "Dana".into(),
        };
        let other = Author::Advisor {
            id: AdvisorId(8),
            name: "Sam".into(),
        };
        assert_eq!(preview(Some(&msg(Author::Visitor, "Hi there")), Some(me)), "Hi there");
        assert_eq!(preview(Some(&msg(mine, "On it")), Some(me)), "You: On it");
        assert_eq!(preview(Some(&msg(other, "Done")), Some(me)), "Sam: Done");
        assert_eq!(preview(Some(&msg(Author::Bot, "Hello!")), Some(me)), "Bot: Hello!");
        assert_eq!(preview(None, Some(me)), "");
    }

    #[test]
    fn preview_is_one_line_and_cut_with_an_ellipsis() {
        assert_eq!(one_line("  two\n\nlines\t here ", 100), "two lines here");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("ab cd", 3), "ab…");
        assert_eq!(one_line("ééé", 3), "ééé");
        let long = "x".repeat(500);
        assert_eq!(
            preview(Some(&msg(Author::Visitor, &long)), None).chars().count(),
            PREVIEW_CHARS + 1
        );
    }

    #[test]
    fn plain_text_is_one_segment() {
        assert_eq!(linkify("no links here"), vec![text("no links here")]);
        assert_eq!(linkify(""), vec![]);
    }

    #[test]
    fn links_are_found_in_the_middle_of_text() {
        assert_eq!(
            linkify("see https://shop.example/a?b=1#c for details"),
            vec![text("see "), link("https://shop.example/a?b=1#c"), text(" for details")]
        );
        assert_eq!(linkify("http://x.io"), vec![link("http://x.io")]);
        assert_eq!(linkify("HTTPS://X.IO/Y"), vec![link("HTTPS://X.IO/Y")]);
    }

    #[test]
    fn trailing_punctuation_and_unopened_brackets_stay_outside_links() {
        assert_eq!(
            linkify("Go to https://a.io/x."),
            vec![text("Go to "), link("https://a.io/x"), text(".")]
        );
        assert_eq!(
            linkify("(https://a.io/x)"),
            vec![text("("), link("https://a.io/x"), text(")")]
        );
        assert_eq!(
            linkify("https://en.wikipedia.org/wiki/Rust_(language)!"),
            vec![link("https://en.wikipedia.org/wiki/Rust_(language)"), text("!")]
        );
        assert_eq!(
            linkify("<https://a.io>"),
            vec![text("<"), link("https://a.io"), text(">")]
        );
    }

    #[test]
    fn only_http_schemes_become_links() {
        assert_eq!(linkify("javascript:alert(1)"), vec![text("javascript:alert(1)")]);
        assert_eq!(linkify("ftp://a.io"), vec![text("ftp://a.io")]);
        assert_eq!(linkify("https://"), vec![text("https://")]);
        // Glued to a word: not a link start.
        assert_eq!(linkify("xhttps://a.io"), vec![text("xhttps://a.io")]);
    }

    #[test]
    fn several_links_and_unicode_survive() {
        assert_eq!(
            linkify("é https://a.io, ü http://b.io/ñ"),
            vec![text("é "), link("https://a.io"), text(", ü "), link("http://b.io/ñ")]
        );
    }

    #[test]
    fn html_in_text_stays_text() {
        assert_eq!(linkify("<b>hi</b>"), vec![text("<b>hi</b>")]);
    }
}
