//! Frames between the visitor's widget and the relay (`/ws/visitor?site=KEY`).

use serde::{Deserialize, Serialize};

use super::Frame;
use crate::error::ErrorFrame;
use crate::ids::{ClientMsgId, ConversationId, Seq};
use crate::message::Message;

/// Widget → relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum VisitorClientFrame {
    /// First frame on every connection. Without a token the relay creates a visitor and a
    /// conversation; with one it resumes that visitor's thread.
    Hello {
        v: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// The highest seq the client already has; the relay sends every message after it.
        #[serde(default)]
        last_seq: Seq,
        /// The page the visitor is on (shown to the advisor).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<String>,
        /// Where the visitor came from (`document.referrer`), kept with the conversation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        referrer: Option<String>,
        /// The browser's IANA time zone ("Europe/Paris"), for the advisor's "local time".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timezone: Option<String>,
        /// The language the widget shows ("fr", "en-GB"): the browser's, or the one the site set. The
        /// relay writes to the visitor in it (bot, e-mail) and shows it to the advisor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        locale: Option<String>,
    },
    /// A new message. Answered by `ack` (or `error` with `ref` = `id`). `attachments`: ids of files
    /// uploaded first (`POST /api/v1/uploads`); the text may then be empty.
    Send {
        id: ClientMsgId,
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<String>,
    },
    /// The visitor has seen every message up to `up_to`.
    Read { up_to: Seq },
    /// The visitor started or stopped typing.
    Typing { on: bool },
    /// The site's signed-in user (`Confab('identify', …)`). `user_hash` is the hex HMAC-SHA256 of
    /// `user_id` under the site's identity secret; only a verified identify binds the visitor to the
    /// user (and to their thread on every device). Answered by `identified` or an `identity_rejected`
    /// error.
    Identify {
        user_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_hash: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<String>,
    },
    /// "Talk to a person": the bot hands the conversation to the advisors' queue. Idempotent; the
    /// relay answers with a `bot` frame (`active: false`) once it is handed over.
    Handoff,
    /// The visitor's e-mail, to be told there when an advisor replies while they are away.
    /// Answered by `email` (or `error` with code `bad_request` for an address that isn't one).
    SetEmail { email: String },
    /// The satisfaction survey after a resolution: 1 (bad) to 5 (great), with an optional comment.
    /// Answered by `survey` with the rating; a later rating of the same resolution replaces it.
    Rate {
        rating: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// The browser's Web Push subscription (`PushSubscription.toJSON()`: its endpoint, and its
    /// `keys.p256dh` and `keys.auth`, base64url), to be told there when an advisor replies while
    /// the visitor is away. Answered by `error` (`bad_request`) only when it is unusable.
    PushSubscribe { endpoint: String, p256dh: String, auth: String },
    #[serde(other)]
    Unknown,
}

impl Frame for VisitorClientFrame {
    fn is_unknown(&self) -> bool {
        matches!(self, VisitorClientFrame::Unknown)
    }
}

/// What the widget shows of the site it is embedded on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SiteInfo {
    pub key: String,
    /// The company's name, shown in the panel's header.
    pub name: String,
    #[serde(default)]
    pub greeting: String,
    /// CSS colour of the launcher and the visitor's bubbles, e.g. `#4f46e5`.
    #[serde(default)]
    pub color: String,
    /// The company's usual reply time, in words ("usually replies within a few hours"), shown when
    /// no advisor is online.
    #[serde(default)]
    pub reply_time: String,
    /// Which bottom corner the launcher sits in: `right` (the default, also when empty) or `left`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub position: String,
    /// The launcher's icon: `chat` (the default, also when empty), `help` or `message`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub launcher: String,
    /// An `https://` URL of the company's avatar, shown in the panel's header instead of the initial.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub avatar: String,
    /// The greeting and reply time written for visitors who read another language (the ones above
    /// are for everyone else).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub translations: Vec<SiteTexts>,
}

/// A site's own words in one language: what a visitor whose widget speaks `lang` reads instead of
/// the site's default greeting and reply time (an empty one: the default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SiteTexts {
    /// A language the widget speaks: `en` or `fr`.
    pub lang: String,
    #[serde(default)]
    pub greeting: String,
    #[serde(default)]
    pub reply_time: String,
}

impl SiteInfo {
    /// The greeting and the reply time a visitor reading `lang` (`en`, `fr`) sees.
    pub fn texts(&self, lang: &str) -> (&str, &str) {
        let t = self.translations.iter().find(|t| t.lang == lang);
        let greeting = t.map(|t| t.greeting.as_str()).filter(|s| !s.is_empty()).unwrap_or(&self.greeting);
        let reply_time = t.map(|t| t.reply_time.as_str()).filter(|s| !s.is_empty()).unwrap_or(&self.reply_time);
        (greeting, reply_time)
    }
}

/// A deep link that continues this conversation on a messaging app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinueLink {
    pub channel: crate::Channel,
    /// `https://wa.me/…?text=…` or `https://m.me/…?ref=…`.
    pub url: String,
}

/// Relay → widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum VisitorServerFrame {
    /// Answer to `hello`. Followed by a `message` frame for every message after the client's
    /// `last_seq`, in order, then live traffic.
    Welcome {
        v: u32,
        /// The visitor's token: new if the hello had none, else the same one. Keep it.
        token: String,
        conversation: ConversationId,
        /// The conversation's newest seq at the time of the welcome.
        last_seq: Seq,
        /// The highest seq the visitor has read (for the unread badge).
        read_seq: Seq,
        site: SiteInfo,
        /// Whether an advisor is online right now.
        #[serde(default)]
        advisors_online: bool,
        /// The visitor's messages up to this seq have reached an advisor's dashboard.
        #[serde(default)]
        delivered_seq: Seq,
        /// The advisors have read the visitor's messages up to this seq.
        #[serde(default)]
        advisors_read_seq: Seq,
        /// "Continue on WhatsApp / Messenger" links for this visitor (each carries a one-time code
        /// that joins the new channel to this conversation). Empty when the site has none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        continue_on: Vec<ContinueLink>,
    },
    Message { message: Message },
    /// The message `id` is committed as `seq`.
    Ack { id: ClientMsgId, seq: Seq, sent_at: i64 },
    /// An advisor is typing (or stopped).
    Typing { on: bool, #[serde(default)] name: String },
    /// The advisors have read the visitor's messages up to `up_to`.
    Read { up_to: Seq },
    /// The visitor's messages up to `up_to` have reached an advisor's dashboard.
    Delivered { up_to: Seq },
    /// An advisor came online, or the last one left.
    Presence { advisors_online: bool },
    /// The conversation waits for an advisor: `position` in line (1 = next), and an expected wait
    /// in ms when the relay can estimate one honestly (else show the site's `reply_time`).
    /// `position` 0: no longer waiting (an advisor has it).
    Queue {
        position: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_ms: Option<i64>,
    },
    /// Answer to `identify`. `verified`: the hash was right and the visitor is now bound to the
    /// user. `switched`: the user already had a thread, this visitor's conversation was merged into
    /// it, and this device's token now opens that thread: reconnect (hello with `token`,
    /// `last_seq` 0) to show it. `token`: on a verified binding every earlier token of this visitor
    /// stops working (a link or another browser can't keep reading the user's thread); this is the
    /// device's new one, to keep instead of the old.
    Identified {
        verified: bool,
        #[serde(default)]
        switched: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// The bot has this conversation (`active`), or no longer (handed to a person, or no bot).
    /// `replies`: quick-reply buttons of the bot's message `seq` (the newest one); a button sends
    /// its text as a message. They apply only while `seq` is the newest message of the thread.
    Bot {
        active: bool,
        #[serde(default)]
        seq: Seq,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        replies: Vec<String>,
    },
    Error(ErrorFrame),
    /// The e-mail the relay writes to when an advisor replies while the visitor is away (after the
    /// welcome when one is known, and after `set_email`).
    Email { email: String },
    /// The conversation is resolved: "How did we do?". `rating` 0: not rated yet; 1–5: the rating
    /// the relay keeps for this resolution.
    Survey {
        #[serde(default)]
        rating: u8,
    },
    #[serde(other)]
    Unknown,
}

impl Frame for VisitorServerFrame {
    fn is_unknown(&self) -> bool {
        matches!(self, VisitorServerFrame::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_reads_the_sites_words_in_their_language_else_the_default() {
        let site = SiteInfo {
            greeting: "Hi! Ask us anything.".into(),
            reply_time: "usually replies within an hour".into(),
            translations: vec![SiteTexts { lang: "fr".into(), greeting: "Bonjour !".into(), reply_time: String::new() }],
            ..SiteInfo::default()
        };
        assert_eq!(site.texts("fr"), ("Bonjour !", "usually replies within an hour"), "an empty translation keeps the default");
        assert_eq!(site.texts("en"), ("Hi! Ask us anything.", "usually replies within an hour"));
        // Older relays send no translations; the field is left out when there are none.
        let json = serde_json::to_value(SiteInfo::default()).unwrap();
        assert!(json.get("translations").is_none());
        let back: SiteInfo = serde_json::from_value(serde_json::to_value(&site).unwrap()).unwrap();
        assert_eq!(back, site);
    }
}
