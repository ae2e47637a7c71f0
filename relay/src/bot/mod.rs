//! The site's bot: bot first, a person at any time (docs/BOT.md).
//!
//! A site with its bot enabled gives every new conversation to the bot: it greets, answers from the
//! site's FAQ rules (keywords → answer + quick replies), says when the company is closed and when it
//! will answer, and hands the conversation to routing's queue when the customer asks for a person
//! (the widget's "Talk to a person", a message like "talk to a person", or nothing matched twice),
//! optionally after asking their name and e-mail. Or the site plugs in its own bot: the relay posts
//! each customer message to its webhook and the bot answers through `/api/v1/bot/…`.
//!
//! Pure parts: [`rules`] (matching) and [`hours`] (open or closed, and the next opening). The rest
//! applies them: [`engine`] (what the bot does in a conversation), [`webhook`] (the outside bot),
//! [`api`] (HTTP: the admin's editor and the outside bot's answers), [`text`] (what the bot says, in
//! English or French).

pub mod api;
pub mod engine;
pub mod hours;
pub mod rules;
pub mod text;
pub mod webhook;

use serde::{Deserialize, Serialize};
use shared::limits::{text_chars, MAX_TEXT_CHARS};
use shared::Seq;

/// Limits of a bot's configuration.
pub const MAX_RULES: usize = 100;
pub const MAX_KEYWORDS: usize = 30;
pub const MAX_QUICK_REPLIES: usize = 6;
pub const MAX_QUICK_REPLY_CHARS: usize = 40;

/// A site's bot, as the admin edits it (`/api/v1/admin/sites/{key}/bot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BotConfig {
    /// New conversations go to the bot first.
    pub enabled: bool,
    /// The bot's first message (a default one in the visitor's language when empty).
    pub greeting: String,
    /// Quick replies under the greeting (and under "I didn't understand").
    pub suggestions: Vec<String>,
    /// Tried in order; the rule with the most matching keywords answers.
    pub rules: Vec<Rule>,
    /// Ask the customer's name and e-mail (when not known yet) before handing over.
    pub collect_contact: bool,
    /// An outside bot answers instead of the rules.
    pub webhook: Option<WebhookConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    /// Words or phrases; a word also matches longer words it starts ("ship" → "shipping").
    pub keywords: Vec<String>,
    pub answer: String,
    pub quick_replies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where the relay POSTs each customer message.
    pub url: String,
    /// Signs each POST: `X-Confab-Signature: sha256=HMAC-SHA256(secret, body)` in hex.
    pub secret: String,
}

fn tidy(list: &mut Vec<String>) {
    for s in list.iter_mut() {
        *s = s.trim().to_owned();
    }
    list.retain(|s| !s.is_empty());
}

fn check_replies(what: &str, replies: &mut Vec<String>) -> Result<(), String> {
    tidy(replies);
    if replies.len() > MAX_QUICK_REPLIES {
        return Err(format!("{what}: at most {MAX_QUICK_REPLIES} quick replies"));
    }
    if let Some(r) = replies.iter().find(|r| text_chars(r) > MAX_QUICK_REPLY_CHARS || r.contains('\n')) {
        return Err(format!("{what}: the quick reply \"{r}\" must be one line of at most {MAX_QUICK_REPLY_CHARS} characters"));
    }
    Ok(())
}

impl BotConfig {
    /// Trim what the admin typed and check it; the error says what to fix.
    pub fn check(mut self) -> Result<BotConfig, String> {
        self.greeting = self.greeting.trim().to_owned();
        if text_chars(&self.greeting) > MAX_TEXT_CHARS {
            return Err(format!("the greeting is longer than {MAX_TEXT_CHARS} characters"));
        }
        check_replies("suggestions", &mut self.suggestions)?;
        if self.rules.len() > MAX_RULES {
            return Err(format!("at most {MAX_RULES} rules"));
        }
        for (i, rule) in self.rules.iter_mut().enumerate() {
            let n = i + 1;
            tidy(&mut rule.keywords);
            for k in rule.keywords.iter_mut() {
                *k = k.to_lowercase();
            }
            if rule.keywords.is_empty() || rule.keywords.len() > MAX_KEYWORDS {
                return Err(format!("rule {n}: give 1 to {MAX_KEYWORDS} keywords"));
            }
            rule.answer = rule.answer.trim().to_owned();
            if rule.answer.is_empty() || text_chars(&rule.answer) > MAX_TEXT_CHARS {
                return Err(format!("rule {n}: the answer must have 1 to {MAX_TEXT_CHARS} characters"));
            }
            check_replies(&format!("rule {n}"), &mut rule.quick_replies)?;
        }
        if let Some(hook) = &mut self.webhook {
            hook.url = hook.url.trim().to_owned();
            let url = url::Url::parse(&hook.url).map_err(|_| format!("the webhook URL \"{}\" is not a URL", hook.url))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err("the webhook URL must start with https:// (or http://)".into());
            }
            if hook.secret.chars().count() < 16 {
                return Err("the webhook secret must have at least 16 characters".into());
            }
        }
        Ok(self)
    }
}

/// What the bot is asking the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Asking {
    Name,
    Email,
}

/// What the bot remembers of one conversation (stored as JSON in `bot_memory`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Memory {
    /// Customer messages in a row that matched no rule.
    pub misses: u32,
    pub asking: Option<Asking>,
    /// The customer asked for a person (the bot may still be asking their name or e-mail).
    pub handoff_requested: bool,
    /// The first question the bot could not answer, else the customer's latest one.
    pub question: Option<String>,
    pub unanswered: bool,
    /// The bot's newest message and its quick replies.
    pub seq: Seq,
    pub replies: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(keywords: &[&str], answer: &str) -> Rule {
        Rule { keywords: keywords.iter().map(|k| k.to_string()).collect(), answer: answer.into(), quick_replies: vec![] }
    }

    #[test]
    fn a_config_is_tidied_and_checked_with_the_reason() {
        let config = BotConfig {
            enabled: true,
            suggestions: vec![" Shipping ".into(), "".into()],
            rules: vec![rule(&[" Ship ", ""], " We ship in 2 days. ")],
            ..Default::default()
        };
        let checked = config.clone().check().unwrap();
        assert_eq!(checked.suggestions, vec!["Shipping"]);
        assert_eq!(checked.rules[0].keywords, vec!["ship"]);
        assert_eq!(checked.rules[0].answer, "We ship in 2 days.");

        let no_keywords = BotConfig { rules: vec![rule(&[" "], "x")], ..config.clone() };
        assert!(no_keywords.check().unwrap_err().contains("rule 1"));
        let no_answer = BotConfig { rules: vec![rule(&["a"], " ")], ..config.clone() };
        assert!(no_answer.check().unwrap_err().contains("answer"));
        let long_reply = BotConfig { suggestions: vec!["x".repeat(41)], ..config.clone() };
        assert!(long_reply.check().unwrap_err().contains("40"));
        let hook = |url: &str, secret: &str| BotConfig {
            webhook: Some(WebhookConfig { url: url.into(), secret: secret.into() }),
            ..config.clone()
        };
        assert!(hook("https://bot.example/hook", "0123456789abcdef").check().is_ok());
        assert!(hook("ftp://bot.example/", "0123456789abcdef").check().unwrap_err().contains("https"));
        assert!(hook("https://bot.example/hook", "short").check().unwrap_err().contains("16"));
    }

    #[test]
    fn the_demo_bot_is_valid_and_answers_the_shops_questions() {
        let bot = crate::demo::demo_bot(true).check().expect("valid");
        let answer = |q: &str| rules::best_rule(&bot.rules, q).map(|i| bot.rules[i].answer.as_str());
        assert!(answer("How long does delivery take?").unwrap().starts_with("We ship"));
        assert!(answer("Shipping times").unwrap().starts_with("We ship"));
        assert!(answer("Je voudrais un remboursement").unwrap().starts_with("Returns are free"));
        assert!(answer("Size guide").unwrap().contains("size guide"));
        assert!(answer("Where is my order?").unwrap().contains("tracking"));
        assert_eq!(answer("Do you sell kayaks?"), None);
    }
}
