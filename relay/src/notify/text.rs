//! The notification e-mail's words, in the visitor's language (English or French; English otherwise).

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
