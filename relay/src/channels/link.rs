//! "Continue on WhatsApp / Messenger": the one-time codes that join a customer's messaging-app
//! identity to the conversation they started on the web. Pure: no I/O.
//!
//! A code goes out in a deep link — in the text wa.me prefills (`…(code K7QM-2XPD)`), or as m.me's
//! `ref` parameter — and comes back in the customer's first message from the app. Only a live code
//! links two identities; never a guess by name or number.

use shared::Channel;
use url::Url;

/// Code characters: no 0/O, 1/I/L, so a code read aloud or retyped survives.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Two groups of four: 31^8 ≈ 8.5 × 10^11 codes.
const GROUP: usize = 4;

/// A fresh random code, `XXXX-XXXX`.
pub fn new_code() -> String {
    let mut code = String::with_capacity(2 * GROUP + 1);
    for i in 0..2 * GROUP {
        if i == GROUP {
            code.push('-');
        }
        code.push(ALPHABET[rand::Rng::gen_range(&mut rand::thread_rng(), 0..ALPHABET.len())] as char);
    }
    code
}

fn is_code_char(c: char) -> bool {
    ALPHABET.contains(&(c.to_ascii_uppercase() as u8)) && c.is_ascii_alphanumeric()
}

/// The first thing in `text` shaped like a code (case-insensitive, standing alone), upper-cased.
/// The caller checks it against the store: most such strings are not live codes.
pub fn find_code(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let len = 2 * GROUP + 1;
    if chars.len() < len {
        return None;
    }
    (0..=chars.len() - len).find_map(|start| {
        let window = &chars[start..start + len];
        let shaped = window.iter().enumerate().all(|(i, &c)| if i == GROUP { c == '-' } else { is_code_char(c) });
        let alone = |c: Option<&char>| c.is_none_or(|c| !c.is_alphanumeric() && *c != '-');
        let before = start.checked_sub(1).and_then(|i| chars.get(i));
        (shaped && alone(before) && alone(chars.get(start + len))).then(|| window.iter().collect::<String>().to_ascii_uppercase())
    })
}

/// The text wa.me puts in the customer's WhatsApp composer: it reads naturally, and carries the code.
pub fn whatsapp_prefill(business: &str, code: &str) -> String {
    format!("Hi {business}! I'm continuing my chat from your website here. (code {code})")
}

/// `{base}/{number}?text=…` (base `https://wa.me` in production).
pub fn whatsapp_link(base: &Url, number: &str, prefill: &str) -> Url {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let mut url = base.clone();
    url.path_segments_mut().map(|mut p| {
        p.pop_if_empty().push(&digits);
    }).ok();
    url.query_pairs_mut().clear().append_pair("text", prefill);
    url
}

/// `{base}/{page}?ref={code}` (base `https://m.me` in production).
pub fn messenger_link(base: &Url, page: &str, code: &str) -> Url {
    let mut url = base.clone();
    url.path_segments_mut().map(|mut p| {
        p.pop_if_empty().push(page);
    }).ok();
    url.query_pairs_mut().clear().append_pair("ref", code);
    url
}

/// How an advisor sees an identity: the profile name and the number for WhatsApp; the name for
/// Messenger (a PSID means nothing to a person, so only its end is shown when there is no name).
pub fn identity_label(channel: Channel, name: Option<&str>, external_id: &str) -> String {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    match channel {
        Channel::Whatsapp => match name {
            Some(name) => format!("{name} · +{external_id}"),
            None => format!("+{external_id}"),
        },
        _ => match name {
            Some(name) => name.to_owned(),
            None => {
                let tail: String = external_id.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
                format!("Messenger user …{tail}")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_codes_have_the_shape_find_code_looks_for() {
        for _ in 0..200 {
            let code = new_code();
            assert_eq!(code.len(), 9);
            assert_eq!(find_code(&whatsapp_prefill("Northwind", &code)), Some(code.clone()));
        }
        assert_ne!(new_code(), new_code());
    }

    #[test]
    fn find_code_takes_a_standalone_code_in_any_case() {
        assert_eq!(find_code("k7qm-2xpd"), Some("K7QM-2XPD".into()));
        assert_eq!(find_code("hello (code K7QM-2XPD) thanks"), Some("K7QM-2XPD".into()));
        assert_eq!(find_code("K7QM-2XPD."), Some("K7QM-2XPD".into()));
    }

    #[test]
    fn find_code_ignores_what_is_not_a_code() {
        assert_eq!(find_code(""), None);
        assert_eq!(find_code("my order is 1234-5678"), None, "1 is not in the alphabet");
        assert_eq!(find_code("XK7QM-2XPD"), None, "part of a longer word");
        assert_eq!(find_code("K7QM-2XPDZ"), None);
        assert_eq!(find_code("K7QM-2XPD-AAAA"), None);
        assert_eq!(find_code("K7QM 2XPD"), None);
        assert_eq!(find_code("Olá, tudo bem? Ça va très bien"), None);
    }

    #[test]
    fn links_carry_the_code() {
        let wa = whatsapp_link(&Url::parse("https://wa.me").unwrap(), "+1 (555) 010-0200", &whatsapp_prefill("Shop & Co", "K7QM-2XPD"));
        assert_eq!(wa.host_str(), Some("wa.me"));
        assert_eq!(wa.path(), "/15550100200");
        let text = wa.query_pairs().find(|(k, _)| k == "text").unwrap().1.into_owned();
        assert_eq!(text, "Hi Shop & Co! I'm continuing my chat from your website here. (code K7QM-2XPD)");
        let local = whatsapp_link(&Url::parse("http://127.0.0.1:8082/wa.me/").unwrap(), "15550100200", "x");
        assert_eq!(local.as_str(), "http://127.0.0.1:8082/wa.me/15550100200?text=x");
        let m = messenger_link(&Url::parse("https://m.me").unwrap(), "104857600123", "K7QM-2XPD");
        assert_eq!(m.as_str(), "https://m.me/104857600123?ref=K7QM-2XPD");
    }

    #[test]
    fn labels_show_what_an_advisor_can_use() {
        assert_eq!(identity_label(Channel::Whatsapp, Some("Ana"), "5511987654321"), "Ana · +5511987654321");
        assert_eq!(identity_label(Channel::Whatsapp, Some("  "), "5511987654321"), "+5511987654321");
        assert_eq!(identity_label(Channel::Messenger, None, "7012345678905678"), "Messenger user …5678");
        assert_eq!(identity_label(Channel::Messenger, Some("Jo"), "7012345678905678"), "Jo");
    }
}
