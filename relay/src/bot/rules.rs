//! Which FAQ rule answers a customer's message: pure, no I/O.
//!
//! Text and keywords are compared in lower case with accents and punctuation ignored. A keyword of
//! one word matches a word of the message that starts with it ("ship" matches "shipping"); a
//! keyword of several words matches those words in a row (each, again, as a start: "gift card"
//! matches "gift cards"). The rule with the most matching keywords
//! wins; between equals, the first one.

use super::Rule;

/// Lower case, accents folded (the French ones), anything else than letters and digits a space.
pub fn words(text: &str) -> Vec<String> {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        folded.push(match c {
            'à' | 'â' | 'ä' | 'á' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' | 'í' => 'i',
            'ô' | 'ö' | 'ó' => 'o',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'ç' => 'c',
            'ÿ' => 'y',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        });
    }
    folded.split_whitespace().map(str::to_owned).collect()
}

fn keyword_matches(message: &[String], keyword: &str) -> bool {
    let keyword = words(keyword);
    match keyword.as_slice() {
        [] => false,
        [one] => message.iter().any(|w| w.starts_with(one.as_str())),
        many => message.windows(many.len()).any(|w| w.iter().zip(many).all(|(a, b)| a.starts_with(b.as_str()))),
    }
}

/// The index of the rule that answers `text`, if any.
pub fn best_rule(rules: &[Rule], text: &str) -> Option<usize> {
    let message = words(text);
    let mut best: Option<(usize, usize)> = None;
    for (i, rule) in rules.iter().enumerate() {
        let score = rule.keywords.iter().filter(|k| keyword_matches(&message, k)).count();
        if score > 0 && best.is_none_or(|(_, s)| score > s) {
            best = Some((i, score));
        }
    }
    best.map(|(i, _)| i)
}

/// Phrases that ask for a person, in English and French: they hand over like the button.
const ASK_FOR_A_PERSON: [&str; 12] = [
    "talk to a person",
    "speak to a person",
    "a human",
    "real person",
    "an agent",
    "talk to someone",
    "speak to someone",
    "parler a quelqu un",
    "parler a une personne",
    "un humain",
    "un conseiller",
    "une vraie personne",
];

pub fn asks_for_a_person(text: &str) -> bool {
    let message = words(text);
    ASK_FOR_A_PERSON.iter().any(|p| keyword_matches(&message, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(keywords: &[&str]) -> Rule {
        Rule { keywords: keywords.iter().map(|k| k.to_string()).collect(), answer: "a".into(), quick_replies: vec![] }
    }

    #[test]
    fn a_keyword_matches_words_it_starts_ignoring_case_accents_and_punctuation() {
        let rules = [rule(&["ship", "delivery"]), rule(&["retour", "refund"])];
        assert_eq!(best_rule(&rules, "How long does SHIPPING take?"), Some(0));
        assert_eq!(best_rule(&rules, "Délai de livraison ? remboursement… RETOURS!"), Some(1));
        assert_eq!(best_rule(&rules, "Can I get a refund?"), Some(1));
        assert_eq!(best_rule(&rules, "hello there"), None);
        // A keyword inside a word doesn't count: "relationship" is not about shipping.
        assert_eq!(best_rule(&rules, "relationship"), None);
        assert_eq!(best_rule(&rules, ""), None);
    }

    #[test]
    fn the_rule_with_most_keywords_wins_and_the_first_breaks_ties() {
        let rules = [rule(&["order"]), rule(&["order", "track"]), rule(&["track"])];
        assert_eq!(best_rule(&rules, "track my order"), Some(1));
        assert_eq!(best_rule(&rules, "my order"), Some(0));
        // One keyword each for rules 1 and 2: the first of them.
        assert_eq!(best_rule(&rules, "track it"), Some(1));
    }

    #[test]
    fn a_phrase_matches_its_words_in_a_row() {
        let rules = [rule(&["opening hours"]), rule(&["hours"])];
        assert_eq!(best_rule(&rules, "What are your opening hours?"), Some(0));
        assert_eq!(best_rule(&rules, "hours of opening"), Some(1));
        let gifts = [rule(&["gift card"])];
        assert_eq!(best_rule(&gifts, "Do you sell gift cards?"), Some(0));
        assert_eq!(best_rule(&gifts, "a card as a gift"), None);
    }

    #[test]
    fn asking_for_a_person_is_recognised_in_english_and_french() {
        assert!(asks_for_a_person("Can I talk to a person please"));
        assert!(asks_for_a_person("I want a HUMAN!"));
        assert!(asks_for_a_person("Je voudrais parler à quelqu'un"));
        assert!(asks_for_a_person("un conseiller svp"));
        assert!(!asks_for_a_person("Where is my parcel?"));
    }
}
