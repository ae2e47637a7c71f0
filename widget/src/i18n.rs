//! Every word the widget shows, in each language it speaks. Components never hold a user-facing string:
//! they read `app.t().some_key` (or `tr(s)` inside a reactive closure), so a language switch redraws
//! them. A key is added once, with its English and French, in the `catalogue!` below; the tests check
//! that both catalogues are complete and keep the same `{}` placeholders.
//!
//! The language: the site's override (`Confab('setLocale', 'fr')`, `data-locale`), else the first of the
//! browser's languages we speak, else English (`pick`).

/// A language the widget speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    /// `fr`, `fr-CA`, `FR_ch` → French; a language we don't speak → None.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        // Byte by byte: `split` on a set of chars and `to_lowercase` cost the widget's budget.
        let b = tag.trim().as_bytes();
        if b.len() > 2 && !matches!(b[2], b'-' | b'_') {
            return None;
        }
        match b.get(..2).map(|p| [p[0] | 0x20, p[1] | 0x20]) {
            Some([b'e', b'n']) => Some(Lang::En),
            Some([b'f', b'r']) => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The site's choice if we speak it, else the first browser language we speak, else English.
    pub fn pick(chosen: Option<&str>, browser: &[String]) -> Lang {
        chosen
            .and_then(Lang::from_tag)
            .or_else(|| browser.iter().find_map(|t| Lang::from_tag(t)))
            .unwrap_or(Lang::En)
    }

    /// The BCP 47 tag, for `lang=""` and the relay.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::En => &EN,
            Lang::Fr => &FR,
        }
    }
}

/// `template` with each `{}` replaced by the next of `args`.
pub fn fill(template: &str, args: &[&str]) -> String {
    // A byte scan: `str::find(&str)` brings the two-way searcher into the wasm (~2 KB).
    let mut out = String::new();
    let mut args = args.iter();
    let b = template.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i + 1 < b.len() {
        if b[i] == b'{' && b[i + 1] == b'}' {
            out.push_str(&template[start..i]);
            out.push_str(args.next().copied().unwrap_or(""));
            i += 2;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&template[start..]);
    out
}

macro_rules! catalogue {
    ($($key:ident: $en:expr, $fr:expr;)*) => {
        /// One language's words.
        pub struct Text {
            $(pub $key: &'static str,)*
        }
        pub static EN: Text = Text { $($key: $en,)* };
        pub static FR: Text = Text { $($key: $fr,)* };
        #[cfg(test)]
        impl Text {
            /// (key, text) of every entry, for the tests.
            pub fn entries(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($key), self.$key),)*]
            }
        }
    };
}

// Keep each part's keys under its heading, so that parts added side by side don't touch each other.
catalogue! {
    // The panel and its header.
    chat: "Chat", "Discussion";
    close_chat: "Close chat", "Fermer la discussion";
    online: "Online", "En ligne";
    in_line: "You're number {} in line · {}", "Vous êtes n° {} dans la file · {}";
    about_min: "about {} min", "environ {} min";

    // The status line.
    connecting: "Connecting…", "Connexion…";
    offline: "Can't reach the chat. Retrying…", "Impossible de joindre la discussion. Nouvel essai…";
    retry_now: "Retry now", "Réessayer";
    unavailable: "Chat unavailable: {}", "Discussion indisponible : {}";
    not_allowed: "Chat isn't allowed on this website.", "La discussion n'est pas autorisée sur ce site.";

    // The composer.
    message: "Message", "Message";
    write: "Write a message…", "Écrivez un message…";
    send: "Send", "Envoyer";

    // The thread and its messages.
    today: "Today", "Aujourd'hui";
    yesterday: "Yesterday", "Hier";
    sending: "Sending…", "Envoi…";
    not_sent: "Not sent: {} Tap to retry.", "Non envoyé : {} Touchez pour réessayer.";
    sent: "Sent", "Envoyé";
    delivered: "Delivered", "Distribué";
    read: "Read", "Lu";
    typing: "{} is typing…", "{} écrit…";
    someone: "Someone", "Quelqu'un";
    assistant: "Assistant", "Assistant";
    conversation: "Conversation", "Conversation";
    // Day names from 1 January 1970 (a Thursday) on, then the months, space-separated.
    weekdays: "Thursday Friday Saturday Sunday Monday Tuesday Wednesday",
        "jeudi vendredi samedi dimanche lundi mardi mercredi";
    months: "January February March April May June July August September October November December",
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre";

    // Continue on a messaging app.
    prefer_phone: "Prefer your phone? Continue on", "Vous préférez votre téléphone ? Continuez sur";
    continue_on: "Continue this conversation on {}", "Continuer cette discussion sur {}";

    // Files.
    attach: "Attach a photo, video or PDF", "Joindre une photo, une vidéo ou un PDF";
    uploading: "Sending {}… {}%", "Envoi de {}… {} %";
    file_type: "This file type can't be sent: only photos, videos and PDFs.", "Ce type de fichier ne peut pas être envoyé : seulement des photos, des vidéos et des PDF.";
    file_large: "This file can't be sent: it is larger than 10 MB.", "Ce fichier ne peut pas être envoyé : il dépasse 10 Mo.";
    file_failed: "{} could not be sent. Try again.", "{} n'a pas pu être envoyé. Réessayez.";
    photo: "Photo", "Photo";

    // Bot and hand-off.
    talk_to_person: "Talk to a person", "Parler à une personne";

    // Reaching the visitor later, and the survey.
    notify_offer: "Get notified by e-mail when we reply", "Recevez notre réponse par e-mail";
    email_placeholder: "you@example.com", "vous@exemple.fr";
    notify_me: "Notify me", "Me prévenir";
    email_invalid: "Please enter a valid e-mail address.", "Veuillez saisir une adresse e-mail valide.";
    email_saved: "We'll e-mail you at {} when we reply.", "Nous vous écrirons à {} dès que nous aurons répondu.";
    how_did_we_do: "How did we do?", "Comment avons-nous été ?";
    rate_label: "{} out of 5", "{} sur 5";
    survey_comment: "Anything to add? (optional)", "Un commentaire ? (facultatif)";
    survey_send: "Send rating", "Envoyer la note";
    survey_thanks: "Thanks for your feedback!", "Merci pour votre avis !";
    push_offer: "Or notify me in this browser", "Ou me prévenir dans ce navigateur";
    push_on: "You'll be notified in this browser.", "Vous serez prévenu dans ce navigateur.";
    push_off: "Notifications are blocked in this browser.", "Les notifications sont bloquées dans ce navigateur.";

    // The developer's API, identity and appearance.
    identity_refused: "We couldn't confirm your account, so this chat isn't linked to it.",
        "Nous n'avons pas pu confirmer votre compte : cette discussion n'y est pas liée.";

    // The relay's limits: nothing is lost, it goes out a moment later.
    slow_down: "Sending in a moment…", "Envoi dans un instant…";

    // Accessibility.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_comes_from_the_site_then_the_browser_then_english() {
        let browser = vec!["de-DE".to_owned(), "fr-CA".to_owned(), "en".to_owned()];
        assert_eq!(Lang::pick(None, &browser), Lang::Fr);
        assert_eq!(Lang::pick(Some("en-GB"), &browser), Lang::En);
        assert_eq!(Lang::pick(Some("FR_ch"), &[]), Lang::Fr);
        // A site choice we don't speak falls back to the browser's.
        assert_eq!(Lang::pick(Some("pt"), &browser), Lang::Fr);
        assert_eq!(Lang::pick(None, &["ja".to_owned()]), Lang::En);
        assert_eq!(Lang::pick(Some(""), &[]), Lang::En);
        assert_eq!(Lang::from_tag("fry"), None);
        assert_eq!(Lang::from_tag(" EN "), Some(Lang::En));
        assert_eq!(Lang::from_tag("f"), None);
    }

    #[test]
    fn fill_puts_the_arguments_in_order() {
        assert_eq!(fill(EN.in_line, &["2", "about 4 min"]), "You're number 2 in line · about 4 min");
        assert_eq!(fill("{} and {}", &["a"]), "a and ");
        assert_eq!(fill("none", &["a"]), "none");
        assert_eq!(fill("{}", &["é"]), "é");
        assert_eq!(fill("{x}{", &["a"]), "{x}{");
    }

    #[test]
    fn both_catalogues_say_everything_with_the_same_placeholders() {
        let (en, fr) = (EN.entries(), FR.entries());
        assert_eq!(en.len(), fr.len());
        for ((key, e), (_, f)) in en.iter().zip(fr.iter()) {
            assert!(!e.trim().is_empty() && !f.trim().is_empty(), "{key} is empty in a catalogue");
            assert_eq!(e.matches("{}").count(), f.matches("{}").count(), "{key}: placeholders differ");
        }
    }
}
