//! The open conversation: its header (with the customer's channels) and its messages, with day
//! separators, channel badges, attachments and the delivery state of our own replies.

use leptos::html;
use leptos::prelude::*;
use shared::text::{linkify, Segment};
use shared::{
    Attachment, AttachmentKind, AttachmentState, Author, Channel, ClientMsgId, ConversationId, ConversationStatus, PlatformState,
};

use super::channels::{Badge, Identities};
use super::rich_text;
use crate::channel;
use crate::format;
use crate::state::{is_platform, Delivery, Model};
use crate::text::attachment_noun;
use crate::Ctx;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeliveryView {
    Sending,
    /// In the relay's outbox, waiting for the platform (WhatsApp, Messenger).
    Queued,
    /// Committed by the relay (web), or accepted by the platform.
    Sent,
    /// On the visitor's device.
    Delivered,
    /// The visitor has read it.
    Read,
    /// The relay refused it; the reason. Can be retried.
    Failed(String),
    /// The platform refused it for good; its reason in plain words.
    PlatformFailed(Option<String>),
}

impl DeliveryView {
    /// `data-state` of the message.
    pub fn state(&self) -> &'static str {
        match self {
            DeliveryView::Sending => "sending",
            DeliveryView::Queued => "queued",
            DeliveryView::Sent => "sent",
            DeliveryView::Delivered => "delivered",
            DeliveryView::Read => "read",
            DeliveryView::Failed(_) | DeliveryView::PlatformFailed(_) => "failed",
        }
    }

    /// What a platform reported, as ticks; None for a state the platform did not give.
    fn of_platform(state: PlatformState, error: Option<String>) -> Option<Self> {
        Some(match state {
            PlatformState::Queued => DeliveryView::Queued,
            PlatformState::Sent => DeliveryView::Sent,
            PlatformState::Delivered => DeliveryView::Delivered,
            PlatformState::Read => DeliveryView::Read,
            PlatformState::Failed => DeliveryView::PlatformFailed(error),
            _ => return None,
        })
    }
}

/// A file of a message, as the thread shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttachmentView {
    pub id: String,
    /// `data-kind`: image, video, audio, document or sticker (a kind this version doesn't know is
    /// shown as a document).
    pub kind: &'static str,
    /// `data-state`: pending, ready or failed.
    pub state: &'static str,
    /// Where the relay serves it (with the session cookie).
    pub url: String,
    /// The file name, else what it is ("Photo").
    pub name: String,
    /// "48 KB"; empty while not fetched.
    pub size: String,
    /// What to say instead of the file: "Downloading photo…", or why it failed.
    pub note: Option<String>,
}

impl AttachmentView {
    pub fn of(a: &Attachment) -> Self {
        let kind = match a.kind {
            AttachmentKind::Image => "image",
            AttachmentKind::Video => "video",
            AttachmentKind::Audio => "audio",
            AttachmentKind::Sticker => "sticker",
            _ => "document",
        };
        let noun = attachment_noun(a.kind);
        let (state, note) = match a.state {
            AttachmentState::Ready => ("ready", None),
            AttachmentState::Failed => (
                "failed",
                Some(format!(
                    "{noun} not available: {}",
                    a.error.as_deref().unwrap_or("the file could not be fetched.")
                )),
            ),
            _ => {
                let what = match a.kind {
                    AttachmentKind::Image => "photo",
                    AttachmentKind::Video => "video",
                    AttachmentKind::Audio => "audio",
                    AttachmentKind::Document => "document",
                    AttachmentKind::Sticker => "sticker",
                    _ => "file",
                };
                ("pending", Some(format!("Downloading {what}…")))
            }
        };
        AttachmentView {
            id: a.id.clone(),
            kind,
            state,
            url: attachment_url(&a.id),
            name: a.name.clone().unwrap_or_else(|| noun.to_owned()),
            size: if a.size > 0 { format::file_size(a.size) } else { String::new() },
            note,
        }
    }
}

/// `/dashboard/api/attachments/{id}`, the id percent-encoded (it is opaque).
pub fn attachment_url(id: &str) -> String {
    let mut url = String::from("/dashboard/api/attachments/");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MsgView {
    /// The client message id (unique in a conversation).
    pub id: String,
    /// `data-author`: visitor, advisor, bot or system.
    pub author: &'static str,
    /// Written by the advisor looking at it.
    pub own: bool,
    /// Shown above advisor and bot messages.
    pub author_name: Option<String>,
    pub text: String,
    pub time: String,
    pub full_time: String,
    /// The channel it came in through or went out on.
    pub channel: Channel,
    /// Whether the channel badge is drawn: in conversations that involve a platform.
    pub show_channel: bool,
    /// Our own replies' state (web receipts, or sending / refused), and what a platform reported on
    /// any reply relayed to it.
    pub delivery: Option<DeliveryView>,
    /// `delivery` comes from a platform: drawn as ticks, on every message.
    pub ticks: bool,
    /// Whether the delivery state is written under the message: always while sending or failed,
    /// and for platform ticks; for committed web replies only under the newest one, and "Seen"
    /// under the newest one read.
    pub show_state: bool,
    pub attachments: Vec<AttachmentView>,
    /// Follows a message of the same author within a few minutes: drawn as part of one group,
    /// without repeating the author's name.
    pub continued: bool,
    /// A private note: drawn apart, with no receipts (the customer never gets it).
    pub note: bool,
}

impl MsgView {
    /// `data-state` of the message, if it has one.
    pub fn state_key(&self) -> Option<&'static str> {
        self.delivery.as_ref().map(DeliveryView::state)
    }
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
    let summary = model.conversation(id);
    let (delivered, read) = summary.map_or((0, 0), |c| (c.visitor_delivered_seq, c.visitor_read_seq));
    let reply_channel = summary.map_or(Channel::Web, |c| c.reply_channel);
    let show_channel = summary.is_some_and(|c| c.channel != Channel::Web || !c.identities.is_empty())
        || open.messages.iter().any(|m| m.channel != Channel::Web);
    let committed = open.messages.iter().map(|m| {
        let (author, author_name, own) = match &m.author {
            Author::Visitor => ("visitor", None, false),
            Author::Advisor { id, name } => ("advisor", Some(name.clone()), me.is_some_and(|me| me.id == *id)),
            Author::Bot => ("bot", Some("Bot".to_owned()), false),
            _ => ("system", None, false),
        };
        let platform = m
            .delivery
            .as_ref()
            .filter(|_| !m.is_from_visitor())
            .and_then(|d| DeliveryView::of_platform(d.state, d.error.clone()));
        let ticks = platform.is_some();
        let delivery = platform.or_else(|| {
            (own && !m.note && !is_platform(m.channel)).then_some(if m.seq <= read {
                DeliveryView::Read
            } else if m.seq <= delivered {
                DeliveryView::Delivered
            } else {
                DeliveryView::Sent
            })
        });
        let view = MsgView {
            id: m.id.0.clone(),
            author,
            own,
            author_name,
            text: if crate::text::is_attachment_label(m) { String::new() } else { m.text.clone() },
            time: format::clock(m.sent_at, tz(m.sent_at)),
            full_time: format::full(m.sent_at, tz(m.sent_at)),
            channel: m.channel,
            show_channel,
            delivery,
            ticks,
            show_state: ticks,
            attachments: m.attachments.iter().map(AttachmentView::of).collect(),
            continued: false,
            note: m.note,
        };
        (m.sent_at, view)
    });
    let pending = model.pending_in(id).map(|o| {
        let view = MsgView {
            id: o.id.0.clone(),
            author: "advisor",
            own: true,
            author_name: me.map(|me| me.name.clone()),
            text: o.text.clone(),
            time: format::clock(o.created_at, tz(o.created_at)),
            full_time: format::full(o.created_at, tz(o.created_at)),
            channel: if o.note { Channel::Web } else { o.via.unwrap_or(reply_channel) },
            show_channel,
            delivery: Some(match &o.delivery {
                Delivery::Sending => DeliveryView::Sending,
                Delivery::Failed(reason) => DeliveryView::Failed(reason.clone()),
            }),
            ticks: false,
            show_state: true,
            attachments: o.files.iter().map(AttachmentView::of).collect(),
            continued: false,
            note: o.note,
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
    // Web receipts: under the newest own reply, and "Seen" under the newest one read.
    fn web_receipt(r: &Row) -> Option<&DeliveryView> {
        match r {
            Row::Msg(v) if v.own && !v.ticks && !v.note => v.delivery.as_ref(),
            _ => None,
        }
    }
    let newest = rows.iter().rposition(|r| web_receipt(r).is_some());
    let newest_read = rows.iter().rposition(|r| web_receipt(r) == Some(&DeliveryView::Read));
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
    let head = move || {
        let s = summary.get();
        let name = s
            .as_ref()
            .map_or_else(|| format!("Conversation {id}"), |s| s.visitor_name.clone());
        let site = s.as_ref().map(|s| s.site_name.clone()).unwrap_or_default();
        let channel = s.as_ref().map(|s| s.channel).unwrap_or_default();
        let online = s.as_ref().is_some_and(|s| s.visitor_online);
        // Presence is the web chat's: a customer who only writes on WhatsApp or Messenger has none.
        let has_web = s
            .as_ref()
            .is_none_or(|s| channel::customer_channels(s).contains(&Channel::Web));
        let page = s.and_then(|s| s.page);
        view! {
            <div class="thread-title">
                <h1 class="thread-name">{name}</h1>
                {has_web.then(|| view! {
                    <span class="thread-presence" data-online=if online { "true" } else { "false" }>
                        {if online { "Online" } else { "Offline" }}
                    </span>
                })}
                {move || typing.get().then(|| view! { <span class="thread-typing">"typing…"</span> })}
            </div>
            <div class="thread-meta">
                <span class="thread-site">{site}</span>
                {(channel != Channel::Web).then(|| view! {
                    <span class="tag thread-channel" data-channel=channel::key(channel)>
                        <Badge channel /> {channel::name(channel)}
                    </span>
                })}
                {page.map(|page| view! { <span class="thread-page">"On " {page_link(&page)}</span> })}
            </div>
        }
    };
    view! {
        <header class="thread-head">
            {head}
            <super::routing::AssignControl id />
            <StatusActions id />
            <Identities id />
            <super::labels::LabelEditor id />
        </header>
    }
}

/// Resolve, reopen, snooze: what the conversation's status allows.
#[component]
fn StatusActions(id: ConversationId) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let status = Memo::new(move |_| ctx.model.with(|m| m.conversation(id).map(|c| (c.status, c.snoozed_until))));
    let set = move |status: ConversationStatus, until: Option<i64>| ctx.run(|m| m.set_status(id, status, until));
    move || {
        let (status, until) = status.get()?;
        Some(match status {
            ConversationStatus::Snoozed | ConversationStatus::Resolved => {
                let label = match (status, until) {
                    (ConversationStatus::Snoozed, Some(at)) => format!("Snoozed until {}", format::full(at, format::tz_offset(at))),
                    (ConversationStatus::Snoozed, None) => "Snoozed".to_owned(),
                    _ => "Resolved".to_owned(),
                };
                view! {
                    <div class="thread-actions" data-status=status.as_str()>
                        <span class="thread-status">{label}</span>
                        <button type="button" class="reopen" on:click=move |_| set(ConversationStatus::Open, None)>"Reopen"</button>
                    </div>
                }
                .into_any()
            }
            _ => {
                let snooze = move |until: fn(i64) -> i64| {
                    move |_| set(ConversationStatus::Snoozed, Some(until(crate::now_ms())))
                };
                view! {
                    <div class="thread-actions" data-status="open">
                        <span class="snooze-label">"Snooze:"</span>
                        <button type="button" class="snooze" data-until="1h" on:click=snooze(|now| now + format::HOUR)>"1 h"</button>
                        <button type="button" class="snooze" data-until="tomorrow"
                            on:click=snooze(|now| format::local_hour(now, 1, 9, format::tz_offset))>"Tomorrow 9:00"</button>
                        <button type="button" class="snooze" data-until="next-week"
                            on:click=snooze(|now| format::next_monday(now, 9, format::tz_offset))>"Next week"</button>
                        <button type="button" class="resolve primary" on:click=move |_| set(ConversationStatus::Resolved, None)>"Resolve"</button>
                    </div>
                }
                .into_any()
            }
        })
    }
}

/// The visitor's page as a link when it is an http(s) URL, else as text.
pub fn page_link(page: &str) -> AnyView {
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
            // The thread may be gone by the next frame (another conversation opened).
            request_animation_frame(move || {
                if let Some(el) = thread.try_get_untracked().flatten() {
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
    let id = msg.id.clone();
    let state = msg.state_key();
    let platform = channel::name(msg.channel);
    let failure = match &msg.delivery {
        Some(DeliveryView::PlatformFailed(reason)) => Some(match reason {
            Some(reason) => format!("Not delivered on {platform}: {reason}"),
            None => format!("Not delivered: {platform} refused this message without giving a reason."),
        }),
        _ => None,
    };
    let delivery = msg.delivery.filter(|_| msg.show_state).map(|d| {
        if msg.ticks {
            // WhatsApp's ticks: a clock while queued, ✓ sent, ✓✓ delivered, blue ✓✓ read.
            let (words, title) = match &d {
                DeliveryView::Queued => ("Waiting to be sent", format!("Waiting to be sent to {platform}")),
                DeliveryView::Sent => ("Sent", format!("Sent to {platform}")),
                DeliveryView::Delivered => ("Delivered", format!("Delivered on {platform}")),
                DeliveryView::Read => ("Read", format!("Read on {platform}")),
                _ => ("Not delivered", format!("Not delivered on {platform}")),
            };
            return view! {
                <span class="msg-state ticks" data-state=d.state() title=title>
                    <i class="tick-icon" aria-hidden="true"></i>
                    <span class="sr-only">{words}</span>
                </span>
            }
            .into_any();
        }
        match d {
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
            d => {
                let words = match d {
                    DeliveryView::Sending => "Sending…",
                    DeliveryView::Delivered => "Delivered",
                    DeliveryView::Read => "Seen",
                    _ => "Sent",
                };
                view! { <span class="msg-state" data-state=d.state()>{words}</span> }.into_any()
            }
        }
    });
    let has_text = !msg.text.trim().is_empty();
    view! {
        <div
            class="msg"
            class:own=msg.own
            class:note=msg.note
            class:continued=msg.continued
            data-author=msg.author
            data-id=msg.id
            data-channel=channel::key(msg.channel)
            data-state=state
        >
            {msg.author_name.map(|n| view! { <div class="msg-author">{n}</div> })}
            {msg.note.then(|| view! { <div class="msg-note-label">"Private note · only advisors see this"</div> })}
            <div class="msg-bubble">
                {msg.attachments.into_iter().map(|a| view! { <AttachmentItem a /> }).collect_view()}
                {has_text.then(|| view! { <div class="msg-text">{rich_text(&msg.text)}</div> })}
            </div>
            <div class="msg-meta">
                {msg.show_channel.then(|| view! { <Badge channel=msg.channel /> })}
                <time class="msg-time" title=msg.full_time>{msg.time}</time>
                {delivery}
            </div>
            {failure.map(|f| view! { <p class="msg-failure" role="alert">{f}</p> })}
        </div>
    }
}

/// A photo, video, voice message or document of a message, fetched from the relay.
#[component]
fn AttachmentItem(a: AttachmentView) -> impl IntoView {
    let (url, name) = (a.url, a.name);
    let body = match (a.note, a.kind) {
        (Some(note), _) => view! { <span class="msg-attachment-note">{note}</span> }.into_any(),
        (None, "image" | "sticker") => {
            let (href, title) = (url.clone(), name.clone());
            view! {
                <a href=href target="_blank" rel="noopener" title=title>
                    <img src=url alt=name loading="lazy" />
                </a>
            }
            .into_any()
        }
        (None, "video") => view! { <video controls preload="metadata" src=url aria-label=name></video> }.into_any(),
        (None, "audio") => view! { <audio controls preload="metadata" src=url aria-label=name></audio> }.into_any(),
        (None, _) => {
            let download = name.clone();
            view! {
                <a class="msg-file" href=url target="_blank" rel="noopener" download=download>
                    <i class="file-icon" aria-hidden="true"></i>
                    <span class="msg-file-name">{name}</span>
                    <span class="msg-file-size">{a.size}</span>
                </a>
            }
            .into_any()
        }
    };
    view! {
        <div class="msg-attachment" data-kind=a.kind data-state=a.state data-id=a.id>
            {body}
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
            status: shared::ConversationStatus::Open,
            snoozed_until: None,
            team: None,
            assignee: None,
            waiting_since: None,
            first_response_due: None,
            labels: Vec::new(),
            with_bot: false,
            unverified: false,
        };
        m.apply(In::Welcome {
            v: 1,
            advisor: me,
            conversations: vec![row],
            admin: false,
            teams: Vec::new(),
            roster: Vec::new(),
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
            note: false,
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
    fn a_private_note_is_marked_and_carries_no_receipt() {
        let dana = Author::Advisor {
            id: AdvisorId(7),
            name: "Dana".into(),
        };
        let mut note = msg(3, dana.clone(), 2);
        note.note = true;
        let mut m = model_with(vec![msg(1, Author::Visitor, 0), msg(2, dana, 1), note]);
        m.conversations[0].visitor_read_seq = 3;
        let views: Vec<(bool, Option<&'static str>, bool)> = thread_rows(&m, C, 0, |_| 0)
            .into_iter()
            .filter_map(|r| match r {
                Row::Msg(v) => Some((v.note, v.state_key(), v.show_state)),
                _ => None,
            })
            .collect();
        // "Seen" stays under the newest reply, not under the note after it.
        assert_eq!(views, vec![(false, None, false), (false, Some("read"), true), (true, None, false)]);
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

    fn platform(state: PlatformState, error: Option<&str>) -> Option<shared::PlatformDelivery> {
        Some(shared::PlatformDelivery { state, error: error.map(Into::into) })
    }

    fn msg_views(m: &Model) -> Vec<MsgView> {
        thread_rows(m, C, 0, |_| 0)
            .into_iter()
            .filter_map(|r| match r {
                Row::Msg(v) => Some(v),
                Row::Day { .. } => None,
            })
            .collect()
    }

    #[test]
    fn platform_replies_show_ticks_on_every_message_and_failures_with_their_reason() {
        let dana = Author::Advisor { id: AdvisorId(7), name: "Dana".into() };
        let sam = Author::Advisor { id: AdvisorId(8), name: "Sam".into() };
        let on_whatsapp = |seq, author: Author, delivery| Message {
            channel: Channel::Whatsapp,
            delivery,
            ..msg(seq, author, seq as i64)
        };
        let m = model_with(vec![
            on_whatsapp(1, Author::Visitor, platform(PlatformState::Received, None)),
            on_whatsapp(2, dana.clone(), platform(PlatformState::Read, None)),
            on_whatsapp(3, sam, platform(PlatformState::Delivered, None)),
            on_whatsapp(4, dana.clone(), platform(PlatformState::Queued, None)),
            on_whatsapp(5, dana, platform(PlatformState::Failed, Some("The customer's number is not on WhatsApp."))),
        ]);
        let views = msg_views(&m);
        let seen: Vec<_> = views
            .iter()
            .map(|v| (v.own, v.ticks, v.show_state, v.delivery.as_ref().map(DeliveryView::state)))
            .collect();
        assert_eq!(
            seen,
            vec![
                (false, false, false, None),
                (true, true, true, Some("read")),
                (false, true, true, Some("delivered")),
                (true, true, true, Some("queued")),
                (true, true, true, Some("failed")),
            ]
        );
        assert_eq!(
            views[4].delivery,
            Some(DeliveryView::PlatformFailed(Some("The customer's number is not on WhatsApp.".into())))
        );
        assert!(views.iter().all(|v| v.show_channel && v.channel == Channel::Whatsapp));
    }

    #[test]
    fn a_web_conversation_draws_no_channel_badges_and_keeps_web_receipts() {
        let dana = Author::Advisor { id: AdvisorId(7), name: "Dana".into() };
        let m = model_with(vec![msg(1, Author::Visitor, 0), msg(2, dana, 1)]);
        let views = msg_views(&m);
        assert!(views.iter().all(|v| !v.show_channel && !v.ticks));
        assert_eq!(views[1].delivery, Some(DeliveryView::Sent));
    }

    #[test]
    fn a_reply_on_its_way_shows_the_channel_it_goes_to() {
        let mut m = model_with(vec![Message { channel: Channel::Whatsapp, ..msg(1, Author::Visitor, 0) }]);
        m.conversations[0].reply_channel = Channel::Whatsapp;
        m.compose(ClientMsgId::from("c1"), "olá", None, 10).unwrap();
        m.compose(ClientMsgId::from("c2"), "see the chat", Some(Channel::Web), 20).unwrap();
        let views = msg_views(&m);
        assert_eq!(
            views.iter().map(|v| (v.channel, v.state_key())).collect::<Vec<_>>(),
            vec![(Channel::Whatsapp, None), (Channel::Whatsapp, Some("sending")), (Channel::Web, Some("sending"))]
        );
    }

    #[test]
    fn attachments_are_served_by_the_relay_and_say_when_they_are_not_there_yet() {
        let file = |id: &str, kind, state, name: Option<&str>, size, error: Option<&str>| Attachment {
            id: id.into(),
            kind,
            mime: String::new(),
            name: name.map(Into::into),
            size,
            state,
            error: error.map(Into::into),
            url: None,
        };
        let pending = AttachmentView::of(&file("p1", AttachmentKind::Image, AttachmentState::Pending, None, 0, None));
        assert_eq!(
            (pending.kind, pending.state, pending.note.as_deref()),
            ("image", "pending", Some("Downloading photo…"))
        );
        let doc = AttachmentView::of(&file(
            "d/1 x",
            AttachmentKind::Document,
            AttachmentState::Ready,
            Some("warranty-card.pdf"),
            48_200,
            None,
        ));
        assert_eq!(
            (doc.url.as_str(), doc.name.as_str(), doc.size.as_str(), doc.note),
            ("/dashboard/api/attachments/d%2F1%20x", "warranty-card.pdf", "48 KB", None)
        );
        let failed = AttachmentView::of(&file(
            "v1",
            AttachmentKind::Video,
            AttachmentState::Failed,
            None,
            0,
            Some("WhatsApp no longer has this file."),
        ));
        assert_eq!(failed.note.as_deref(), Some("Video not available: WhatsApp no longer has this file."));
        let odd = AttachmentView::of(&file("u1", AttachmentKind::Unknown, AttachmentState::Ready, None, 10, None));
        assert_eq!((odd.kind, odd.name.as_str()), ("document", "File"));
    }
}
