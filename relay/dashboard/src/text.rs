//! Text helpers: the inbox preview line and the names of attachments. (Links in message text come
//! from `shared::text`.)

use shared::{AdvisorId, AttachmentKind, Author, Message};

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
    let prefix = if message.note { format!("{prefix}(note) ") } else { prefix };
    let body = match message.attachments.first() {
        None => message.text.clone(),
        Some(a) => {
            let noun = match (&a.name, a.kind) {
                (Some(name), AttachmentKind::Document) => format!("Document {name}"),
                _ => attachment_noun(a.kind).to_owned(),
            };
            let more = match message.attachments.len() {
                1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            match message.text.trim() {
                "" => format!("{noun}{more}"),
                _ if is_attachment_label(message) => format!("{noun}{more}"),
                text => format!("{noun}{more}: {text}"),
            }
        }
    };
    format!("{prefix}{}", one_line(&body, PREVIEW_CHARS))
}

/// Whether a message's text only names its attachment: the relay stores "📷 Photo" or
/// "📄 invoice.pdf" as the text of a caption-less WhatsApp/Messenger file (so clients that don't show
/// files still show something). Where the file itself is shown, that text would repeat it.
pub fn is_attachment_label(message: &Message) -> bool {
    let [a] = message.attachments.as_slice() else { return false };
    let text = message.text.trim();
    let label = match a.kind {
        AttachmentKind::Image => "📷 Photo",
        AttachmentKind::Video => "🎥 Video",
        AttachmentKind::Audio => "🎤 Audio",
        AttachmentKind::Sticker => "Sticker",
        AttachmentKind::Document => {
            return text == "📄 Document" || a.name.as_deref().is_some_and(|n| text.strip_prefix("📄 ") == Some(n));
        }
        _ => return false,
    };
    text == label
}

/// What an attachment is, for people: "Photo", "Video", "Audio", "Document", "Sticker", "File".
pub fn attachment_noun(kind: AttachmentKind) -> &'static str {
    match kind {
        AttachmentKind::Image => "Photo",
        AttachmentKind::Video => "Video",
        AttachmentKind::Audio => "Audio",
        AttachmentKind::Document => "Document",
        AttachmentKind::Sticker => "Sticker",
        _ => "File",
    }
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
            note: false,
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

    #[test]
    fn preview_names_attachments() {
        let file = |kind, name: Option<&str>| shared::Attachment {
            id: "a".into(),
            kind,
            mime: String::new(),
            name: name.map(Into::into),
            size: 0,
            state: shared::AttachmentState::Pending,
            error: None,
            url: None,
        };
        let mut m = msg(Author::Visitor, "");
        m.attachments = vec![file(AttachmentKind::Image, None)];
        assert_eq!(preview(Some(&m), None), "Photo");
        m.text = "The box arrived\nbroken".into();
        assert_eq!(preview(Some(&m), None), "Photo: The box arrived broken");
        m.attachments.push(file(AttachmentKind::Image, None));
        assert_eq!(preview(Some(&m), None), "Photo and 1 more: The box arrived broken");
        m.text.clear();
        m.attachments = vec![file(AttachmentKind::Document, Some("warranty-card.pdf"))];
        assert_eq!(preview(Some(&m), None), "Document warranty-card.pdf");
        // The relay's own label for a caption-less file is not repeated.
        m.text = "📄 warranty-card.pdf".into();
        assert!(is_attachment_label(&m));
        assert_eq!(preview(Some(&m), None), "Document warranty-card.pdf");
        m.text = "📄 another.pdf".into();
        assert!(!is_attachment_label(&m), "a different name is the customer's text");
        m.attachments = vec![file(AttachmentKind::Image, None)];
        m.text = "📷 Photo".into();
        assert!(is_attachment_label(&m));
        m.text = "📷 Photo of the tent".into();
        assert!(!is_attachment_label(&m));
        m.attachments.clear();
        m.text = "📷 Photo".into();
        assert!(!is_attachment_label(&m), "no file: the text is all there is");
    }
}
