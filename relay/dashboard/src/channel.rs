//! Channels as the advisor sees them: their names and badges, where a reply can go, and how long the
//! platform's customer-service window leaves to reply. Pure, like `state`: the composer and the
//! thread header render what these functions return.

use shared::{Channel, ConversationSummary};

use crate::format::{time_left, DAY, HOUR};
use crate::state::is_platform;

/// Messenger's human-agent tag stretches the standard 24-hour window to 7 days; `window_closes_at`
/// is the end of those 7 days, so the standard window ends this long before it.
const MESSENGER_TAG_EXTRA_MS: i64 = 6 * DAY;
/// Less time left than this to the final deadline is shown as urgent.
const URGENT_MS: i64 = HOUR;

/// `data-channel`: web, whatsapp, messenger (other for a channel this version doesn't know).
pub fn key(channel: Channel) -> &'static str {
    match channel {
        Channel::Web => "web",
        Channel::Whatsapp => "whatsapp",
        Channel::Messenger => "messenger",
        _ => "other",
    }
}

pub fn name(channel: Channel) -> &'static str {
    match channel {
        Channel::Web => "Web chat",
        Channel::Whatsapp => "WhatsApp",
        Channel::Messenger => "Messenger",
        _ => "Another channel",
    }
}

/// The accessible label of a badge: "via WhatsApp".
pub fn via(channel: Channel) -> String {
    match channel {
        Channel::Web => "via the web chat".into(),
        Channel::Whatsapp | Channel::Messenger => format!("via {}", name(channel)),
        _ => "via another channel".into(),
    }
}

/// "via WhatsApp", "via the web chat, WhatsApp and Messenger".
pub fn via_all(channels: &[Channel]) -> String {
    let names: Vec<&str> = channels
        .iter()
        .map(|c| if *c == Channel::Web { "the web chat" } else { name(*c) })
        .collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => format!("via {last}"),
        Some((last, rest)) => format!("via {} and {last}", rest.join(", ")),
    }
}

/// The channels a customer can be reached on, each once: the web chat when they have a web thread,
/// then their platform identities. (`channel` is where the customer last wrote, so a web visitor who
/// continued on WhatsApp shows as WhatsApp: their web thread shows in an identity joined by a
/// "Continue on" link, or in the page they were last seen on.)
pub fn customer_channels(s: &ConversationSummary) -> Vec<Channel> {
    let mut out = Vec::new();
    let web = s.channel == Channel::Web
        || s.reply_channel == Channel::Web
        || s.page.is_some()
        || s.identities.iter().any(|i| i.linked);
    let candidates = web
        .then_some(Channel::Web)
        .into_iter()
        .chain([s.channel])
        .chain(s.identities.iter().map(|i| i.channel));
    for c in candidates {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// One choice of the "Reply via" selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyOption {
    /// The `<option>`'s value: "default", or the channel's key.
    pub value: &'static str,
    /// What `send.via` carries.
    pub via: Option<Channel>,
    /// Where the reply ends up.
    pub channel: Channel,
    pub label: String,
}

/// The choices of where to send a reply: the reply channel first (the default), the customer's other
/// channels, and "Web thread only". Empty when the customer has one channel: nothing to choose.
pub fn reply_options(s: &ConversationSummary) -> Vec<ReplyOption> {
    let channels = customer_channels(s);
    if channels.len() < 2 {
        return Vec::new();
    }
    let default = ReplyOption {
        value: "default",
        via: None,
        channel: s.reply_channel,
        label: name(s.reply_channel).to_owned(),
    };
    let others = channels
        .into_iter()
        .filter(|c| *c != s.reply_channel && is_platform(*c))
        .map(|c| ReplyOption {
            value: key(c),
            via: Some(c),
            channel: c,
            label: name(c).to_owned(),
        });
    let web_only = (s.reply_channel != Channel::Web).then(|| ReplyOption {
        value: "web",
        via: Some(Channel::Web),
        channel: Channel::Web,
        label: "Web thread only".to_owned(),
    });
    std::iter::once(default).chain(others).chain(web_only).collect()
}

/// The advisor's choice, if it is still one of the options (an identity may have been unlinked since).
pub fn resolve_via(s: &ConversationSummary, chosen: Option<Channel>) -> Option<Channel> {
    chosen.filter(|c| reply_options(s).iter().any(|o| o.via == Some(*c)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowState {
    /// Free-form replies go through.
    Open,
    /// Messenger after 24 hours: replies go with the human-agent tag.
    Tagged,
    /// No free-form reply can be sent (WhatsApp: templates still can).
    Closed,
}

impl WindowState {
    /// `data-state` of the window line.
    pub fn key(self) -> &'static str {
        match self {
            WindowState::Open => "open",
            WindowState::Tagged => "tagged",
            WindowState::Closed => "closed",
        }
    }
}

/// The line above the reply box for a reply that goes to a platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Window {
    pub channel: Channel,
    pub state: WindowState,
    pub text: String,
    /// Little time left: shown in a warning colour.
    pub urgent: bool,
}

/// Until when free-form replies on `channel` are allowed: the row's window for its reply channel,
/// else the identity's on that channel.
fn closes_at(s: &ConversationSummary, channel: Channel, chosen: bool) -> Option<i64> {
    let of_row = (channel == s.reply_channel).then_some(s.window_closes_at).flatten();
    let of_identity = s
        .identities
        .iter()
        .filter(|i| i.channel == channel)
        .filter_map(|i| i.window_closes_at)
        .max();
    if chosen {
        of_identity.or(of_row)
    } else {
        of_row.or(of_identity)
    }
}

/// Where a reply sent now with `via` goes, and what the platform's window allows. None for a reply
/// that only goes to the web chat of a web customer.
pub fn window(s: &ConversationSummary, via: Option<Channel>, now: i64) -> Option<Window> {
    let channel = via.unwrap_or(s.reply_channel);
    let open = |text: String| Window {
        channel,
        state: WindowState::Open,
        text,
        urgent: false,
    };
    if !is_platform(channel) {
        let platforms: Vec<&str> = customer_channels(s).into_iter().filter(|c| is_platform(*c)).map(name).collect();
        return (via == Some(Channel::Web) && !platforms.is_empty())
            .then(|| open(format!("Web thread only: this reply is not sent to {}", platforms.join(" or "))));
    }
    let Some(closes_at) = closes_at(s, channel, via.is_some()) else {
        return Some(open(format!("Replies go to {}", name(channel))));
    };
    let left = closes_at - now;
    let urgent = left < URGENT_MS;
    Some(match channel {
        Channel::Whatsapp if left > 0 => Window {
            urgent,
            ..open(format!("WhatsApp · {} left to reply", time_left(left)))
        },
        Channel::Whatsapp => Window {
            state: WindowState::Closed,
            ..open("WhatsApp · the 24-hour window has closed: free text can't be sent until the customer writes again, only an approved template".into())
        },
        _ if left > MESSENGER_TAG_EXTRA_MS => open(format!(
            "Messenger · {} left in the 24-hour window, then 6 more days with the human-agent tag",
            time_left(left - MESSENGER_TAG_EXTRA_MS)
        )),
        _ if left > 0 => Window {
            state: WindowState::Tagged,
            urgent,
            ..open(format!("Sent with Messenger's human-agent tag · {} left", time_left(left)))
        },
        _ => Window {
            state: WindowState::Closed,
            ..open("Messenger · the 7-day window for human replies has closed; the customer has to write first".into())
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{ChannelIdentity, ConversationId};

    use crate::format::MINUTE;

    const NOW: i64 = 1_800_000_000_000;

    fn row(channel: Channel, reply: Channel, closes: Option<i64>, identities: &[(Channel, Option<i64>)]) -> ConversationSummary {
        ConversationSummary {
            id: ConversationId(1),
            visitor_name: "Ana".into(),
            site_name: "Shop".into(),
            channel,
            last_seq: 0,
            last_message: None,
            last_activity_at: 0,
            unread: 0,
            page: None,
            visitor_online: false,
            visitor_delivered_seq: 0,
            visitor_read_seq: 0,
            window_closes_at: closes,
            identities: identities
                .iter()
                .enumerate()
                .map(|(n, (c, w))| ChannelIdentity {
                    id: n as i64 + 1,
                    channel: *c,
                    label: format!("id {n}"),
                    linked: true,
                    window_closes_at: *w,
                })
                .collect(),
            reply_channel: reply,
            status: shared::ConversationStatus::Open,
            snoozed_until: None,
            team: None,
            assignee: None,
            waiting_since: None,
            first_response_due: None,
            labels: Vec::new(),
            with_bot: false,
            unverified: false,
        }
    }

    #[test]
    fn one_channel_offers_no_choice() {
        assert_eq!(reply_options(&row(Channel::Web, Channel::Web, None, &[])), vec![]);
        let mut wa = row(Channel::Whatsapp, Channel::Whatsapp, Some(NOW), &[(Channel::Whatsapp, Some(NOW))]);
        wa.identities[0].linked = false;
        assert_eq!(reply_options(&wa), vec![]);
        assert_eq!(customer_channels(&wa), vec![Channel::Whatsapp]);
    }

    #[test]
    fn a_web_customer_with_whatsapp_can_reply_on_either() {
        let s = row(Channel::Web, Channel::Whatsapp, Some(NOW), &[(Channel::Whatsapp, Some(NOW))]);
        let options: Vec<_> = reply_options(&s).into_iter().map(|o| (o.value, o.via, o.label)).collect();
        assert_eq!(
            options,
            vec![
                ("default", None, "WhatsApp".to_owned()),
                ("web", Some(Channel::Web), "Web thread only".to_owned()),
            ]
        );
        let s = row(Channel::Web, Channel::Web, None, &[(Channel::Whatsapp, Some(NOW)), (Channel::Messenger, None)]);
        let options: Vec<_> = reply_options(&s).into_iter().map(|o| (o.value, o.via)).collect();
        assert_eq!(
            options,
            vec![
                ("default", None),
                ("whatsapp", Some(Channel::Whatsapp)),
                ("messenger", Some(Channel::Messenger))
            ]
        );
    }

    #[test]
    fn a_web_visitor_who_continued_on_whatsapp_keeps_the_web_chat() {
        // The relay reports the channel the customer last wrote from: WhatsApp, after the link.
        let s = row(Channel::Whatsapp, Channel::Whatsapp, Some(NOW), &[(Channel::Whatsapp, Some(NOW))]);
        assert_eq!(customer_channels(&s), vec![Channel::Web, Channel::Whatsapp], "the identity is linked");
        let values: Vec<_> = reply_options(&s).into_iter().map(|o| o.value).collect();
        assert_eq!(values, vec!["default", "web"]);
        let mut unlinked = s.clone();
        unlinked.identities[0].linked = false;
        assert_eq!(customer_channels(&unlinked), vec![Channel::Whatsapp], "a WhatsApp customer only");
        unlinked.page = Some("https://shop.example/tents".into());
        assert_eq!(customer_channels(&unlinked), vec![Channel::Web, Channel::Whatsapp], "seen on the web");
    }

    #[test]
    fn a_choice_that_is_no_longer_offered_falls_back_to_the_default() {
        let linked = row(Channel::Web, Channel::Web, None, &[(Channel::Whatsapp, Some(NOW))]);
        assert_eq!(resolve_via(&linked, Some(Channel::Whatsapp)), Some(Channel::Whatsapp));
        let unlinked = row(Channel::Web, Channel::Web, None, &[]);
        assert_eq!(resolve_via(&unlinked, Some(Channel::Whatsapp)), None);
        assert_eq!(resolve_via(&linked, None), None);
    }

    #[test]
    fn whatsapp_counts_down_then_allows_only_templates() {
        let s = row(Channel::Whatsapp, Channel::Whatsapp, Some(NOW + 3 * HOUR + 12 * MINUTE), &[]);
        let w = window(&s, None, NOW).unwrap();
        assert_eq!((w.state, w.text.as_str(), w.urgent), (WindowState::Open, "WhatsApp · 3 h 12 min left to reply", false));
        assert!(window(&s, None, NOW + 3 * HOUR).unwrap().urgent, "12 minutes left");
        let closed = window(&s, None, NOW + 4 * HOUR).unwrap();
        assert_eq!((closed.channel, closed.state), (Channel::Whatsapp, WindowState::Closed));
        assert!(closed.text.contains("approved template"), "{}", closed.text);
    }

    #[test]
    fn messenger_has_24_hours_then_the_human_agent_tag_up_to_7_days() {
        let written = NOW;
        let s = row(Channel::Messenger, Channel::Messenger, Some(written + 7 * DAY), &[]);
        let first_day = window(&s, None, written + 2 * HOUR).unwrap();
        assert_eq!(first_day.state, WindowState::Open);
        assert_eq!(
            first_day.text,
            "Messenger · 22 h left in the 24-hour window, then 6 more days with the human-agent tag"
        );
        let tagged = window(&s, None, written + DAY + HOUR).unwrap();
        assert_eq!(tagged.state, WindowState::Tagged);
        assert_eq!(tagged.text, "Sent with Messenger's human-agent tag · 5 days left");
        assert!(!tagged.urgent);
        assert!(window(&s, None, written + 7 * DAY - 30 * MINUTE).unwrap().urgent);
        let closed = window(&s, None, written + 7 * DAY).unwrap();
        assert_eq!(closed.state, WindowState::Closed);
        assert!(closed.text.contains("has to write first"), "{}", closed.text);
    }

    #[test]
    fn a_chosen_channel_uses_its_identitys_window() {
        let s = row(
            Channel::Web,
            Channel::Whatsapp,
            Some(NOW + HOUR * 2),
            &[(Channel::Whatsapp, Some(NOW + HOUR * 2)), (Channel::Messenger, Some(NOW - 1))],
        );
        assert_eq!(window(&s, None, NOW).unwrap().text, "WhatsApp · 2 h left to reply");
        let m = window(&s, Some(Channel::Messenger), NOW).unwrap();
        assert_eq!((m.channel, m.state), (Channel::Messenger, WindowState::Closed));
        let web = window(&s, Some(Channel::Web), NOW).unwrap();
        assert_eq!((web.channel, web.state), (Channel::Web, WindowState::Open));
        assert_eq!(web.text, "Web thread only: this reply is not sent to WhatsApp or Messenger");
        assert_eq!(window(&row(Channel::Web, Channel::Web, None, &[]), None, NOW), None, "a web customer: no line");
    }

    #[test]
    fn a_platform_without_a_known_window_just_says_where_replies_go() {
        let s = row(Channel::Whatsapp, Channel::Whatsapp, None, &[]);
        let w = window(&s, None, NOW).unwrap();
        assert_eq!((w.state, w.text.as_str()), (WindowState::Open, "Replies go to WhatsApp"));
    }

    #[test]
    fn badges_have_keys_and_labels() {
        assert_eq!(
            [Channel::Web, Channel::Whatsapp, Channel::Messenger, Channel::Unknown].map(key),
            ["web", "whatsapp", "messenger", "other"]
        );
        assert_eq!(via(Channel::Whatsapp), "via WhatsApp");
        assert_eq!(via(Channel::Web), "via the web chat");
        assert_eq!(via_all(&[Channel::Messenger]), "via Messenger");
        assert_eq!(
            via_all(&[Channel::Web, Channel::Whatsapp, Channel::Messenger]),
            "via the web chat, WhatsApp and Messenger"
        );
    }
}
