//! Text helpers: the inbox preview line. (Links in message text come from `shared::text`.)

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

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{Channel, ClientMsgId, ConversationId};

    fn msg(author: Author, text: &str) -> Message {
        Message {
            delivery: None,
            attachments: Vec::new(),
            id: ClientMsgId::from("m1"),
            conversation: ConversationId(1),
            seq: 1,
            author,
            channel: Channel::Web,
            text: text.into(),
            sent_at: 0,
        }
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
}
