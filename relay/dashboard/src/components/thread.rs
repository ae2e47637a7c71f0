//! The open conversation: its header and its messages, with day separators and the delivery state
//! of our own replies.

use leptos::html;
use leptos::prelude::*;
use shared::text::{linkify, Segment};
use shared::{Author, Channel, ClientMsgId, ConversationId};

use super::rich_text;
use crate::format;
use crate::state::{Delivery, Model};
use crate::Ctx;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeliveryView {
    Sending,
    /// Committed by the relay.
    Sent,
    /// On the visitor's device.
    Delivered,
    /// The visitor has read it.
    Read,
    Failed(String),
}

impl DeliveryView {
    /// `data-state` of the message.
    pub fn state(&self) -> &'static str {
        match self {
            DeliveryView::Sending => "sending",
            DeliveryView::Sent => "sent",
            DeliveryView::Delivered => "delivered",
            DeliveryView::Read => "read",
            DeliveryView::Failed(_) => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MsgView {
    /// The client message id (unique in a conversation).
    pub id: String,
    /// `data-author`: visitor, advisor, bot or system.
    pub author: &'static str,
    /// Shown above advisor and bot messages.
    pub author_name: Option<String>,
    pub text: String,
    pub time: String,
    pub full_time: String,
    /// For our own replies only.
    pub delivery: Option<DeliveryView>,
    /// Whether the delivery state is written under the message: always while sending or failed;
    /// for committed replies only under the newest one, and "Seen" under the newest one read.
    pub show_state: bool,
    /// Follows a message of the same author within a few minutes: drawn as part of one group,
    /// without repeating the author's name.
    pub continued: bool,
}

/// Messages closer together than this, by one author, form a group.
const GROUP_GAP_MS: i64 = 5 * format::MINUTE;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Row {
    Day { day: i64, label: String },
    Msg(MsgView),
}

/// The rows of conversation `id`: committed messages in seq order, then our replies still on their
/// way, with a separator before each new local day.
pub fn thread_rows(model: &Model, id: ConversationId, now: i64, tz: impl Fn(i64) -> i32 + Copy) -> Vec<Row> {
    let Some(open) = model.open.as_ref().filter(|o| o.id == id) else {
        return Vec::new();
    };
    let me = model.me.as_ref();
    let (delivered, read) = model
        .conversation(id)
        .map_or((0, 0), |c| (c.visitor_delivered_seq, c.visitor_read_seq));
    let committed = open.messages.iter().map(|m| {
        let (author, author_name, own) = match &m.author {
            Author::Visitor => ("visitor", None, false),
            Author::Advisor { id, name } => ("advisor", Some(name.clone()), me.is_some_and(|me| me.id == *id)),
            Author::Bot => ("bot", Some("Bot".to_owned()), false),
            _ => ("system", None, false),
        };
        let view = MsgView {
            id: m.id.0.clone(),
            author,
            author_name,
            text: m.text.clone(),
            time: format::clock(m.sent_at, tz(m.sent_at)),
            full_time: format::full(m.sent_at, tz(m.sent_at)),
            delivery: own.then_some(if m.seq <= read {
                DeliveryView::Read
            } else if m.seq <= delivered {
                DeliveryView::Delivered
            } else {
                DeliveryView::Sent
            }),
            show_state: false,
            continued: false,
        };
        (m.sent_at, view)
    });
    let pending = model.pending_in(id).map(|o| {
        let view = MsgView {
            id: o.id.0.clone(),
            author: "advisor",
            author_name: me.map(|me| me.name.clone()),
            text: o.text.clone(),
            time: format::clock(o.created_at, tz(o.created_at)),
            full_time: format::full(o.created_at, tz(o.created_at)),
            delivery: Some(match &o.delivery {
                Delivery::Sending => DeliveryView::Sending,
                Delivery::Failed(reason) => DeliveryView::Failed(reason.clone()),
            }),
            show_state: true,
            continued: false,
        };
        (o.created_at, view)
    });
    let mut rows = Vec::new();
    let mut last_day = None;
    let mut previous: Option<(i64, &'static str, Option<String>)> = None;
    for (at, mut view) in committed.chain(pending) {
        let day = format::local(at, tz(at)).day_number;
        if last_day != Some(day) {
            last_day = Some(day);
            previous = None;
            rows.push(Row::Day {
                day,
                label: format::day_label(at, now, tz),
            });
        }
        let who = (view.author, view.author_name.clone());
        view.continued = view.author != "system"
            && previous
                .as_ref()
                .is_some_and(|(t, a, n)| (*a, n) == (who.0, &who.1) && at - t < GROUP_GAP_MS);
        if view.continued {
            view.author_name = None;
        }
        previous = Some((at, who.0, who.1));
        rows.push(Row::Msg(view));
    }
    fn own(r: &Row) -> Option<&DeliveryView> {
        match r {
            Row::Msg(v) => v.delivery.as_ref(),
            Row::Day { .. } => None,
        }
    }
    let newest = rows.iter().rposition(|r| own(r).is_some());
    let newest_read = rows.iter().rposition(|r| own(r) == Some(&DeliveryView::Read));
    for at in [newest, newest_read].into_iter().flatten() {
        if let Row::Msg(v) = &mut rows[at] {
            v.show_state = true;
        }
    }
    rows
}

#[component]
pub fn ThreadHeader(id: ConversationId) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let summary = Memo::new(move |_| ctx.model.with(|m| m.conversation(id).cloned()));
    let typing = Memo::new(move |_| ctx.model.with(|m| m.is_typing(id)));
    move || {
        let s = summary.get();
        let name = s
            .as_ref()
            .map_or_else(|| format!("Conversation {id}"), |s| s.visitor_name.clone());
        let site = s.as_ref().map(|s| s.site_name.clone()).unwrap_or_default();
        let channel = s.as_ref().map(|s| s.channel).unwrap_or_default();
        let online = s.as_ref().is_some_and(|s| s.visitor_online);
        let page = s.and_then(|s| s.page);
        view! {
            <header class="thread-head">
                <div class="thread-title">
                    <h1 class="thread-name">{name}</h1>
                    <span class="thread-presence" data-online=if online { "true" } else { "false" }>
                        {if online { "Online" } else { "Offline" }}
                    </span>
                    {move || typing.get().then(|| view! { <span class="thread-typing">"typing…"</span> })}
                </div>
                <div class="thread-meta">
                    <span class="thread-site">{site}</span>
                    {(channel != Channel::Web)
                        .then(|| view! { <span class="tag">{channel_name(channel)}</span> })}
                    {page.map(|page| view! { <span class="thread-page">"On " {page_link(&page)}</span> })}
                </div>
            </header>
        }
    }
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Web => "Web",
        Channel::Whatsapp => "WhatsApp",
        Channel::Messenger => "Messenger",
        _ => "Other channel",
    }
}

/// The visitor's page as a link when it is an http(s) URL, else as text.
fn page_link(page: &str) -> AnyView {
    match linkify(page).as_slice() {
        &[Segment::Link(url)] => view! {
            <a href=url.to_owned() target="_blank" rel="noopener noreferrer nofollow" title=url.to_owned()>
                {url.to_owned()}
            </a>
        }
        .into_any(),
        _ => page.to_owned().into_any(),
    }
}

#[component]
pub fn Thread(id: ConversationId) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let rows = Memo::new(move |_| {
        let now = ctx.now.get();
        ctx.model.with(|m| thread_rows(m, id, now, format::tz_offset))
    });
    let status = Memo::new(move |_| {
        ctx.model.with(|m| {
            m.open
                .as_ref()
                .filter(|o| o.id == id)
                .map(|o| (o.loaded, o.error.clone()))
        })
    });
    let typing = Memo::new(move |_| ctx.model.with(|m| m.is_typing(id)));
    let name = Memo::new(move |_| {
        ctx.model
            .with(|m| m.conversation(id).map(|c| c.visitor_name.clone()).unwrap_or_default())
    });

    // Follow new messages while the advisor is at the bottom; stay put while they read back.
    let thread: NodeRef<html::Div> = NodeRef::new();
    let stick = StoredValue::new(true);
    Effect::new(move |_| {
        let own_pending = rows.with(|r| {
            matches!(
                r.last(),
                Some(Row::Msg(MsgView {
                    delivery: Some(DeliveryView::Sending),
                    ..
                }))
            )
        });
        typing.track();
        if stick.get_value() || own_pending {
            request_animation_frame(move || {
                if let Some(el) = thread.get_untracked() {
                    el.set_scroll_top(el.scroll_height());
                }
            });
        }
    });
    let on_scroll = move |_| {
        if let Some(el) = thread.get_untracked() {
            stick.set_value(el.scroll_top() + el.client_height() >= el.scroll_height() - 48);
        }
    };

    view! {
        <div class="thread" node_ref=thread on:scroll=on_scroll role="log" aria-live="polite" aria-label="Messages">
            {move || match status.get() {
                Some((_, Some(error))) => view! { <p class="thread-state error">{error}</p> }.into_any(),
                Some((false, None)) => view! { <p class="thread-state">"Loading messages…"</p> }.into_any(),
                _ if rows.with(Vec::is_empty) => view! { <p class="thread-state">"No messages yet."</p> }.into_any(),
                _ => ().into_any(),
            }}
            <For each=move || rows.get() key=|row| row.clone() let:row>
                {match row {
                    Row::Day { label, .. } => view! {
                        <div class="day" role="separator"><span>{label}</span></div>
                    }
                    .into_any(),
                    Row::Msg(msg) => view! { <MessageItem msg /> }.into_any(),
                }}
            </For>
            {move || {
                typing.get().then(|| view! {
                    <div class="typing-indicator">
                        <span class="dots" aria-hidden="true"><i></i><i></i><i></i></span>
                        {name.get()} " is typing…"
                    </div>
                })
            }}
        </div>
    }
}

#[component]
fn MessageItem(msg: MsgView) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let own = msg.delivery.is_some();
    let id = msg.id.clone();
    let state = msg.delivery.as_ref().map(DeliveryView::state);
    let delivery = msg.delivery.filter(|_| msg.show_state).map(|d| match d {
        DeliveryView::Sent => view! { <span class="msg-state" data-state="sent">"Sent"</span> }.into_any(),
        DeliveryView::Delivered => {
            view! { <span class="msg-state" data-state="delivered">"Delivered"</span> }.into_any()
        }
        DeliveryView::Read => view! { <span class="msg-state" data-state="read">"Seen"</span> }.into_any(),
        DeliveryView::Sending => view! { <span class="msg-state" data-state="sending">"Sending…"</span> }.into_any(),
        DeliveryView::Failed(reason) => {
            let id = id.clone();
            view! {
                <span class="msg-state" data-state="failed">"Not sent: " {reason}</span>
                <button type="button" class="retry link-button" on:click=move |_| ctx.retry(ClientMsgId(id.clone()))>
                    "Retry"
                </button>
            }
            .into_any()
        }
    });
    view! {
        <div class="msg" class:own=own class:continued=msg.continued data-author=msg.author data-id=msg.id data-state=state>
            {msg.author_name.map(|n| view! { <div class="msg-author">{n}</div> })}
            <div class="msg-bubble">
                <div class="msg-text">{rich_text(&msg.text)}</div>
            </div>
            <div class="msg-meta">
                <time class="msg-time" title=msg.full_time>{msg.time}</time>
                {delivery}
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{AdvisorId, AdvisorInfo, AdvisorServerFrame as In, ConversationSummary, Message};

    const C: ConversationId = ConversationId(1);
    const DAY: i64 = format::DAY;

    fn model_with(messages: Vec<Message>) -> Model {
        let me = AdvisorInfo {
            id: AdvisorId(7),
            name: "Dana".into(),
            email: "d@x".into(),
        };
        let mut m = Model::new(Some(me.clone()));
        m.connected();
        let row = ConversationSummary {
            window_closes_at: None,
            identities: Vec::new(),
            reply_channel: Default::default(),
            id: C,
            visitor_name: "Ada".into(),
            site_name: "Shop".into(),
            channel: Channel::Web,
            last_seq: messages.len() as u64,
            last_message: None,
            last_activity_at: 0,
            unread: 0,
            page: None,
            visitor_online: true,
            visitor_delivered_seq: 0,
            visitor_read_seq: 0,
        };
        m.apply(In::Welcome {
            v: 1,
            advisor: me,
            conversations: vec![row],
        });
        let reference = match &m.select(C)[0] {
            shared::AdvisorClientFrame::Open { reference, .. } => reference.clone(),
            f => panic!("{f:?}"),
        };
        let last_seq = messages.len() as u64;
        m.apply(In::History {
            reference,
            conversation: C,
            messages,
            last_seq,
        });
        m
    }

    fn msg(seq: u64, author: Author, at: i64) -> Message {
        Message {
            delivery: None,
            attachments: Vec::new(),
            id: ClientMsgId(format!("m{seq}")),
            conversation: C,
            seq,
            author,
            channel: Channel::Web,
            text: format!("text {seq}"),
            sent_at: at,
        }
    }

    #[test]
    fn days_are_separated_and_authors_named() {
        let dana = Author::Advisor {
            id: AdvisorId(7),
            name: "Dana".into(),
        };
        let sam = Author::Advisor {
            id: AdvisorId(8),
            name: "Sam".into(),
        };
        let m = model_with(vec![
            msg(1, Author::Visitor, 10 * format::HOUR),
            msg(2, dana, 11 * format::HOUR),
            msg(3, sam, DAY + format::HOUR),
            msg(4, Author::Bot, DAY + 2 * format::HOUR),
        ]);
        let rows = thread_rows(&m, C, DAY + 3 * format::HOUR, |_| 0);
        let kinds: Vec<String> = rows
            .iter()
            .map(|r| match r {
                Row::Day { label, .. } => format!("day {label}"),
                Row::Msg(v) => format!("{} {:?} {:?}", v.author, v.author_name, v.delivery),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "day Yesterday",
                "visitor None None",
                "advisor Some(\"Dana\") Some(Sent)",
                "day Today",
                "advisor Some(\"Sam\") None",
                "bot Some(\"Bot\") None",
            ]
        );
    }

    #[test]
    fn consecutive_messages_of_one_author_group_under_one_name() {
        let dana = Author::Advisor {
            id: AdvisorId(7),
            name: "Dana".into(),
        };
        let m = model_with(vec![
            msg(1, dana.clone(), 0),
            msg(2, dana.clone(), format::MINUTE),
            msg(3, dana, 20 * format::MINUTE),
            msg(4, Author::Visitor, 21 * format::MINUTE),
            msg(5, Author::Visitor, 22 * format::MINUTE),
        ]);
        let grouped: Vec<(bool, Option<String>)> = thread_rows(&m, C, 0, |_| 0)
            .into_iter()
            .filter_map(|r| match r {
                Row::Msg(v) => Some((v.continued, v.author_name)),
                Row::Day { .. } => None,
            })
            .collect();
        let dana = Some("Dana".to_owned());
        assert_eq!(
            grouped,
            vec![
                (false, dana.clone()),
                (true, None),
                (false, dana),
                (false, None),
                (true, None)
            ]
        );
    }

    #[test]
    fn own_replies_show_sent_delivered_seen_under_the_newest_and_the_newest_read() {
        let dana = Author::Advisor {
            id: AdvisorId(7),
            name: "Dana".into(),
        };
        let mut m = model_with(vec![
            msg(1, Author::Visitor, 0),
            msg(2, dana.clone(), 1),
            msg(3, dana.clone(), 2),
            msg(4, dana, 3),
        ]);
        let states = |m: &Model| -> Vec<(String, bool)> {
            thread_rows(m, C, 0, |_| 0)
                .into_iter()
                .filter_map(|r| match r {
                    Row::Msg(MsgView { delivery: Some(d), show_state, .. }) => Some((d.state().to_owned(), show_state)),
                    _ => None,
                })
                .collect()
        };
        let s = |v: &[(&str, bool)]| v.iter().map(|(a, b)| (a.to_string(), *b)).collect::<Vec<_>>();
        assert_eq!(states(&m), s(&[("sent", false), ("sent", false), ("sent", true)]));
        m.conversations[0].visitor_delivered_seq = 4;
        m.conversations[0].visitor_read_seq = 3;
        assert_eq!(states(&m), s(&[("read", false), ("read", true), ("delivered", true)]));
        m.conversations[0].visitor_read_seq = 4;
        assert_eq!(states(&m), s(&[("read", false), ("read", false), ("read", true)]));
    }

    #[test]
    fn pending_replies_follow_the_committed_messages() {
        let mut m = model_with(vec![msg(1, Author::Visitor, 0)]);
        m.compose(ClientMsgId::from("c1"), "hello", None, 1000).unwrap();
        let rows = thread_rows(&m, C, 2000, |_| 0);
        let Some(Row::Msg(last)) = rows.last() else { panic!() };
        assert_eq!(
            (last.id.as_str(), last.delivery.clone()),
            ("c1", Some(DeliveryView::Sending))
        );
        assert_eq!(last.author_name.as_deref(), Some("Dana"));
        assert_eq!(
            thread_rows(&m, ConversationId(9), 0, |_| 0),
            vec![],
            "not the open conversation"
        );
    }
}
