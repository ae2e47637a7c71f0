//! What the bot says, in the visitor's language (`visitors.language`): French for a `fr` tag,
//! English otherwise. The admin's greeting and FAQ answers are used as they are written.

use super::hours::{Day, NextOpening, Status};

pub use crate::customer::Lang;

const WEEKDAYS_EN: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const WEEKDAYS_FR: [&str; 7] = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"];

fn clock(minutes: u32) -> String {
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

/// "We're closed — we reply by 9:00 tomorrow." (None when open.)
pub fn closed(lang: Lang, status: &Status) -> Option<String> {
    let Status::Closed(next) = status else { return None };
    Some(match (lang, next) {
        (Lang::En, None) => "We're closed right now — we'll reply as soon as we're back.".into(),
        (Lang::Fr, None) => "Nous sommes fermés pour le moment — nous vous répondrons dès notre retour.".into(),
        (Lang::En, Some(NextOpening { day, at })) => {
            let when = match day {
                Day::Today => format!("{} today", clock(*at)),
                Day::Tomorrow => format!("{} tomorrow", clock(*at)),
                Day::Weekday(d) => format!("{} at {}", WEEKDAYS_EN[*d as usize % 7], clock(*at)),
            };
            format!("We're closed right now — we reply by {when}.")
        }
        (Lang::Fr, Some(NextOpening { day, at })) => {
            let when = match day {
                Day::Today => format!("aujourd'hui à {}", clock(*at)),
                Day::Tomorrow => format!("demain à {}", clock(*at)),
                Day::Weekday(d) => format!("{} à {}", WEEKDAYS_FR[*d as usize % 7], clock(*at)),
            };
            format!("Nous sommes fermés pour le moment — nous répondons dès {when}.")
        }
    })
}

pub fn greeting(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Hi! I'm the assistant. Ask me a question — or talk to a person at any time.",
        Lang::Fr => "Bonjour ! Je suis l'assistant. Posez-moi une question — ou parlez à une personne à tout moment.",
    }
}

pub fn not_understood(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Sorry, I didn't understand. Try other words, or talk to a person.",
        Lang::Fr => "Désolé, je n'ai pas compris. Essayez d'autres mots, ou parlez à une personne.",
    }
}

pub fn ask_name(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Before I pass you to a person: what's your name?",
        Lang::Fr => "Avant de vous passer une personne : quel est votre nom ?",
    }
}

pub fn bad_name(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Please type just your name.",
        Lang::Fr => "Indiquez simplement votre nom, s'il vous plaît.",
    }
}

pub fn ask_email(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Thanks! And your e-mail address, so we can reply if you leave?",
        Lang::Fr => "Merci ! Et votre adresse e-mail, pour vous répondre si vous partez ?",
    }
}

pub fn bad_email(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "That doesn't look like an e-mail address (like ana@example.com). Could you type it again?",
        Lang::Fr => "Cela ne ressemble pas à une adresse e-mail (comme ana@example.com). Pouvez-vous la retaper ?",
    }
}

pub fn handed_over(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "I'm passing you to a person. They'll answer you here.",
        Lang::Fr => "Je vous passe une personne. Elle vous répondra ici.",
    }
}

/// The private note the advisor finds after a hand-off (advisors read English).
pub fn handoff_note(name: Option<&str>, email: Option<&str>, question: Option<&str>, why: &str) -> String {
    let or_unknown = |v: Option<&str>| v.filter(|v| !v.is_empty()).unwrap_or("not given").to_owned();
    format!(
        "Handed over by the bot ({why}).\nName: {}\nE-mail: {}\nQuestion: {}",
        or_unknown(name),
        or_unknown(email),
        question.unwrap_or("none asked"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closed_message_names_the_next_opening_in_the_visitors_language() {
        let next = |day, at| Status::Closed(Some(NextOpening { day, at }));
        assert_eq!(closed(Lang::En, &Status::Open), None);
        assert_eq!(closed(Lang::En, &next(Day::Tomorrow, 540)).unwrap(), "We're closed right now — we reply by 9:00 tomorrow.");
        assert_eq!(closed(Lang::En, &next(Day::Weekday(0), 510)).unwrap(), "We're closed right now — we reply by Monday at 8:30.");
        assert_eq!(closed(Lang::En, &next(Day::Today, 600)).unwrap(), "We're closed right now — we reply by 10:00 today.");
        assert_eq!(
            closed(Lang::Fr, &next(Day::Tomorrow, 540)).unwrap(),
            "Nous sommes fermés pour le moment — nous répondons dès demain à 9:00."
        );
        assert_eq!(
            closed(Lang::Fr, &next(Day::Weekday(0), 540)).unwrap(),
            "Nous sommes fermés pour le moment — nous répondons dès lundi à 9:00."
        );
        assert!(closed(Lang::Fr, &Status::Closed(None)).unwrap().starts_with("Nous sommes fermés"));
    }

    #[test]
    fn the_handoff_note_says_what_the_bot_learned() {
        let note = handoff_note(Some("Ana"), None, Some("Where is my tent?"), "asked for a person");
        assert!(note.contains("Name: Ana"));
        assert!(note.contains("E-mail: not given"));
        assert!(note.contains("Question: Where is my tent?"));
    }
}
