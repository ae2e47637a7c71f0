//! The notifications' words (the e-mail, and the message on a linked app), in the visitor's
//! language (English or French; English otherwise).

use shared::{Author, Message};

pub use crate::customer::Lang;

/// Subject and plain-text body for `replies` (the newest `replies.len()` of `total`).
pub fn compose(lang: Lang, company: &str, replies: &[Message], total: usize, link: Option<&str>) -> (String, String) {
    let subject = match (lang, total) {
        (Lang::En, 1) => format!("New reply from {company}"),
        (Lang::En, n) => format!("{n} new replies from {company}"),
        (Lang::Fr, 1) => format!("Nouvelle réponse de {company}"),
        (Lang::Fr, n) => format!("{n} nouvelles réponses de {company}"),
    };
    let mut body = match lang {
        Lang::En => format!("Hello,\n\n{company} replied to your message:\n\n"),
        Lang::Fr => format!("Bonjour,\n\n{company} a répondu à votre message :\n\n"),
    };
    for m in replies {
        let who = match &m.author {
            Author::Advisor { name, .. } if !name.is_empty() => name.as_str(),
            _ => company,
        };
        body.push_str(who);
        body.push_str(if lang == Lang::Fr { " :\n" } else { ":\n" });
        for line in m.text.lines() {
            body.push_str("  ");
            body.push_str(line);
            body.push('\n');
        }
        body.push('\n');
    }
    if let Some(link) = link {
        body.push_str(match lang {
            Lang::En => "Continue the conversation: ",
            Lang::Fr => "Continuer la conversation : ",
        });
        body.push_str(link);
        body.push_str("\n\n");
    }
    body.push_str(&match lang {
        Lang::En => format!("You get this e-mail because you asked {company} to tell you about replies while you are away."),
        Lang::Fr => format!("Vous recevez cet e-mail car vous avez demandé à {company} de vous prévenir des réponses en votre absence."),
    });
    body.push('\n');
    (subject, body)
}

/// Messenger takes at most 2,000 characters (WhatsApp 4,096): the message stays under both.
pub const PLATFORM_MAX_CHARS: usize = 2_000;

/// The message on the customer's linked app: who replied and what (the newest replies, cut to fit),
/// that answering right there continues the same conversation, and the link to the site's chat.
pub fn platform(lang: Lang, company: &str, replies: &[Message], link: Option<&str>) -> String {
    let head = match (lang, replies.len()) {
        (Lang::En, 1) => format!("{company} replied to you on their website's chat:"),
        (Lang::En, n) => format!("{company} sent you {n} replies on their website's chat:"),
        (Lang::Fr, 1) => format!("{company} vous a répondu sur le chat de son site :"),
        (Lang::Fr, n) => format!("{company} vous a envoyé {n} réponses sur le chat de son site :"),
    };
    let mut tail = String::from(match lang {
        Lang::En => "Answer here to continue the conversation.",
        Lang::Fr => "Répondez ici pour continuer la conversation.",
    });
    if let Some(link) = link {
        tail.push_str(match lang {
            Lang::En => " Or on the site: ",
            Lang::Fr => " Ou sur le site : ",
        });
        tail.push_str(link);
    }
    // The newest replies first claim the room; older ones are left out whole, the oldest shown cut.
    let mut room = PLATFORM_MAX_CHARS.saturating_sub(head.chars().count() + tail.chars().count() + 4);
    let mut quoted: Vec<String> = Vec::new();
    for m in replies.iter().rev() {
        if room < 20 {
            break;
        }
        let who = match &m.author {
            shared::Author::Advisor { name, .. } if !name.is_empty() => name.as_str(),
            _ => company,
        };
        let line = format!("{who}{} {}", if lang == Lang::Fr { " :" } else { ":" }, m.text.trim());
        let take = line.chars().count().min(room.saturating_sub(2));
        let mut cut: String = line.chars().take(take).collect();
        if take < line.chars().count() {
            cut.pop();
            cut.push('…');
        }
        room = room.saturating_sub(cut.chars().count() + 2);
        quoted.push(cut);
    }
    quoted.reverse();
    format!("{head}\n\n{}\n\n{tail}", quoted.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{AdvisorId, Channel, ClientMsgId, ConversationId};

    fn reply(seq: u64, text: &str) -> Message {
        Message {
            id: ClientMsgId(format!("r{seq}")),
            conversation: ConversationId(1),
            seq,
            author: Author::Advisor { id: AdvisorId(1), name: "Ada".into() },
            channel: Channel::Web,
            text: text.into(),
            sent_at: 0,
            delivery: None,
            attachments: Vec::new(),
            note: false,
        }
    }

    #[test]
    fn the_app_message_says_who_replied_and_how_to_answer_and_fits_messenger() {
        let text = platform(Lang::En, "Shop", &[reply(2, "Hi!")], Some("https://shop.test/#confab-resume=abc"));
        assert_eq!(
            text,
            "Shop replied to you on their website's chat:\n\nAda: Hi!\n\nAnswer here to continue the conversation. Or on the site: https://shop.test/#confab-resume=abc"
        );
        let text = platform(Lang::Fr, "Boutique", &[reply(2, "Bonjour"), reply(3, "C'est parti")], None);
        assert!(text.starts_with("Boutique vous a envoyé 2 réponses"), "{text}");
        assert!(text.contains("Ada : Bonjour\n\nAda : C'est parti\n\nRépondez ici"), "{text}");

        // Long replies: the newest is kept (cut if it must be), the whole stays under the limit.
        let long = "x".repeat(1500);
        let text = platform(Lang::En, "Shop", &[reply(2, "the oldest"), reply(3, &long), reply(4, &long)], Some("https://s.test/"));
        assert!(text.chars().count() <= PLATFORM_MAX_CHARS, "{}", text.chars().count());
        assert!(!text.contains("the oldest"), "no room for it");
        assert!(text.contains("…") && text.ends_with("Or on the site: https://s.test/"), "{text}");
    }

    #[test]
    fn the_mail_quotes_every_reply_and_carries_the_link() {
        let replies = [reply(2, "Hi!"), reply(3, "Your parcel left\ntoday.")];
        let (subject, body) = compose(Lang::En, "Shop", &replies, 2, Some("https://shop.test/#confab-resume=abc"));
        assert_eq!(subject, "2 new replies from Shop");
        assert!(body.contains("Ada:\n  Hi!\n"), "{body}");
        assert!(body.contains("  Your parcel left\n  today.\n"), "{body}");
        assert!(body.contains("Continue the conversation: https://shop.test/#confab-resume=abc"), "{body}");
        let (subject, body) = compose(Lang::Fr, "Boutique", &replies[..1], 1, None);
        assert_eq!(subject, "Nouvelle réponse de Boutique");
        assert!(body.starts_with("Bonjour,\n\nBoutique a répondu"), "{body}");
        assert!(!body.contains("Continuer la conversation"), "{body}");
    }
}
