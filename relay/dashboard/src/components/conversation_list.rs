//! The inbox: one row per conversation, newest activity first, updated live.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use shared::{AdvisorId, Channel, ConversationId, ConversationStatus};
use wasm_bindgen::JsCast;

use super::channels::Badge;
use super::initials;
use super::labels::{LabelChip, LabelFilter};
use super::search::{SearchBox, SearchResults};
use crate::channel;
use crate::format;
use crate::state::Model;
use crate::views::{self, Breach};
use crate::text::{one_line, preview};
use crate::tools::{has_label, Tools};
use crate::Ctx;

/// What one row shows; a row is re-rendered exactly when this changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RowView {
    pub id: ConversationId,
    pub name: String,
    pub initials: String,
    pub site: String,
    pub time: String,
    pub full_time: String,
    pub preview: String,
    pub unread: u32,
    pub typing: bool,
    /// The visitor has the chat open right now.
    pub online: bool,
    /// Where the conversation began (`data-channel`).
    pub channel: Channel,
    /// The badges: that channel first, then the customer's other channels.
    pub channels: Vec<Channel>,
    pub status: ConversationStatus,
    /// Who has it: initials and name (None: unassigned).
    pub assignee: Option<(String, String)>,
    /// How long the customer has waited for an answer, and the first-response highlight.
    pub waiting: Option<String>,
    pub breach: Breach,
    pub labels: Vec<String>,
    /// The site's bot has it (not in a queue yet).
    pub with_bot: bool,
    /// The name or e-mail is only the visitor's own word.
    pub unverified: bool,
}

/// The rows of the inbox the status filter lets through, in the model's order.
pub fn rows(model: &Model, now: i64, tz: impl Fn(i64) -> i32 + Copy) -> Vec<RowView> {
    let me: Option<AdvisorId> = model.me.as_ref().map(|a| a.id);
    model
        .shown()
        .map(|c| RowView {
            id: c.id,
            name: c.visitor_name.clone(),
            initials: initials(&c.visitor_name),
            site: c.site_name.clone(),
            time: format::relative(c.last_activity_at, now, tz),
            full_time: format::full(c.last_activity_at, tz(c.last_activity_at)),
            preview: preview(c.last_message.as_ref(), me),
            unread: c.unread,
            typing: model.is_typing(c.id),
            online: c.visitor_online,
            channel: c.channel,
            channels: std::iter::once(c.channel)
                .chain(channel::customer_channels(c).into_iter().filter(|x| *x != c.channel))
                .collect(),
            status: c.status,
            assignee: c.assignee.map(|a| {
                let name = model.roster.iter().find(|r| r.id == a).map_or_else(|| format!("Advisor {}", a.0), |r| r.name.clone());
                (initials(&name), name)
            }),
            waiting: c
                .waiting_since
                .filter(|_| c.status == ConversationStatus::Open)
                .map(|since| format!("waiting {}", format::time_left(now - since))),
            breach: views::breach(c, &model.teams, now),
            labels: c.labels.clone(),
            with_bot: c.with_bot,
            unverified: c.unverified,
        })
        .collect()
}

/// Why a customer's name or e-mail is marked: typed by the visitor, vouched for by nobody.
pub const UNVERIFIED_TITLE: &str =
    "The customer typed this name or e-mail themselves; the site has not confirmed it. Don't share account details on its strength.";

/// The filter's choices: (value, label, status shown).
const FILTERS: [(&str, &str, Option<ConversationStatus>); 4] = [
    ("open", "Open", Some(ConversationStatus::Open)),
    ("snoozed", "Snoozed", Some(ConversationStatus::Snoozed)),
    ("resolved", "Resolved", Some(ConversationStatus::Resolved)),
    ("all", "All", None),
];

#[component]
pub fn ConversationList() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let tools = expect_context::<Tools>();
    let rows = Memo::new(move |_| {
        let now = ctx.now.get();
        let label = tools.label_filter.get();
        let mut rows = ctx.model.with(|m| rows(m, now, format::tz_offset));
        if let Some(label) = label {
            rows.retain(|r| has_label(&r.labels, &label));
        }
        rows
    });
    let searching = Memo::new(move |_| tools.query.with(|q| !q.trim().is_empty()));
    let hide_when_searching = move || if searching.get() { "none" } else { "" };
    let ready = Memo::new(move |_| ctx.model.with(|m| m.ready || !m.conversations.is_empty()));
    let selected = Memo::new(move |_| ctx.model.with(|m| m.open.as_ref().map(|o| o.id)));
    let total = Memo::new(move |_| rows.with(|r| r.len()));

    // Up/Down move between rows; Enter or Space (native to buttons) opens one.
    let on_keydown = move |ev: KeyboardEvent| {
        let forward = match ev.key().as_str() {
            "ArrowDown" => true,
            "ArrowUp" => false,
            _ => return,
        };
        let Some(li) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("li").ok().flatten())
        else {
            return;
        };
        let sibling = if forward {
            li.next_element_sibling()
        } else {
            li.previous_element_sibling()
        };
        if let Some(button) = sibling
            .and_then(|s| s.query_selector(".conv-item").ok().flatten())
            .and_then(|b| b.dyn_into::<web_sys::HtmlElement>().ok())
        {
            ev.prevent_default();
            let _ = button.focus();
        }
    };

    view! {
        <nav class="inbox" aria-label="Conversations">
            <div class="search-row">
                <SearchBox />
                <span class="label-filter-wrap" style:display=hide_when_searching>
                    <LabelFilter />
                </span>
            </div>
            <div class="inbox-head" style:display=hide_when_searching>
                <h2 class="inbox-title">"Conversations"</h2>
                <span class="inbox-count">{move || total.get()}</span>
                <select
                    class="inbox-filter"
                    aria-label="Show conversations"
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        if let Some((_, _, filter)) = FILTERS.iter().find(|(v, _, _)| *v == value) {
                            ctx.model.update(|m| m.filter = *filter);
                        }
                    }
                >
                    {FILTERS
                        .iter()
                        .map(|(value, label, filter)| {
                            let selected = ctx.model.with_untracked(|m| m.filter == *filter);
                            view! { <option value=*value selected=selected>{*label}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
            <super::routing::ViewTabs />
            {move || searching.get().then(|| view! { <SearchResults /> })}
            <ul class="conv-list" on:keydown=on_keydown style:display=hide_when_searching>
                <For each=move || rows.with(|r| r.iter().map(|row| row.id).collect::<Vec<_>>()) key=|id| *id let:id>
                    <ConversationRow id rows selected />
                </For>
            </ul>
            {move || {
                (total.get() == 0 && !searching.get())
                    .then(|| {
                        if ready.get() {
                            view! {
                                <p class="conv-empty">
                                    {move || if ctx.model.with(|m| m.conversations.is_empty()) {
                                        "No conversations yet — they appear here as soon as a visitor writes."
                                    } else if tools.label_filter.with(Option::is_some) {
                                        "No conversations with this status and label."
                                    } else {
                                        "No conversations with this status."
                                    }}
                                </p>
                            }
                            .into_any()
                        } else {
                            view! { <p class="conv-empty">"Loading conversations…"</p> }.into_any()
                        }
                    })
            }}
        </nav>
    }
}

/// One row, keyed by conversation: its contents follow `rows` in place, so a new message or the
/// ticking clock never rebuilds the row (nor takes keyboard focus away from it).
#[component]
fn ConversationRow(
    id: ConversationId,
    rows: Memo<Vec<RowView>>,
    selected: Memo<Option<ConversationId>>,
) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let row = Memo::new(move |_| rows.with(|r| r.iter().find(|x| x.id == id).cloned()));
    let field = move |f: fn(&RowView) -> String| move || row.with(|r| r.as_ref().map(f).unwrap_or_default());
    let unread = move || row.with(|r| r.as_ref().map_or(0, |r| r.unread));
    let has_unread = move || unread() > 0;
    let typing = move || row.with(|r| r.as_ref().is_some_and(|r| r.typing));
    let online = move || row.with(|r| r.as_ref().is_some_and(|r| r.online));
    let no_preview = move || row.with(|r| r.as_ref().is_none_or(|r| r.preview.is_empty()));
    let active = move || selected.get() == Some(id);
    let status = move || row.with(|r| r.as_ref().map_or(ConversationStatus::Open, |r| r.status));
    let channel_key = move || row.with(|r| channel::key(r.as_ref().map_or(Channel::Web, |r| r.channel)));
    let badges = Memo::new(move |_| row.with(|r| r.as_ref().map(|r| r.channels.clone()).unwrap_or_default()));
    let labels = Memo::new(move |_| row.with(|r| r.as_ref().map(|r| r.labels.clone()).unwrap_or_default()));
    let label = move || {
        row.with(|r| match r {
            Some(r) => {
                let mut label = r.name.clone();
                if r.unverified {
                    label.push_str(" (unverified)");
                }
                if r.channels.iter().any(|c| *c != Channel::Web) {
                    label.push_str(", ");
                    label.push_str(&channel::via_all(&r.channels));
                }
                if r.online {
                    label.push_str(", online");
                }
                if r.unread > 0 {
                    label.push_str(&format!(", {} unread", r.unread));
                }
                label
            }
            None => String::new(),
        })
    };
    let preview_text = move || {
        row.with(|r| match r {
            Some(r) if r.typing => "typing…".to_owned(),
            Some(r) if r.preview.is_empty() => "No messages yet".to_owned(),
            Some(r) => r.preview.clone(),
            None => String::new(),
        })
    };
    view! {
        <li>
            <button
                type="button"
                class="conv-item"
                class:active=active
                class:unread=has_unread
                data-id=id.0
                data-online=move || if online() { "true" } else { "false" }
                data-channel=channel_key
                data-status=move || status().as_str()
                data-breach=move || row.with(|r| r.as_ref().map_or("none", |r| r.breach.key()))
                aria-current=move || active().then_some("true")
                aria-label=label
                on:click=move |_| ctx.select(id)
            >
                <span class="avatar" data-hue=id.0.rem_euclid(6) aria-hidden="true">
                    {field(|r| r.initials.clone())}
                    <span class="conv-online" hidden=move || !online()></span>
                </span>
                <span class="conv-body">
                    <span class="conv-line">
                        <span class="conv-name">{field(|r| r.name.clone())}</span>
                        {move || match status() {
                            ConversationStatus::Snoozed => Some(view! { <span class="tag conv-status">"Snoozed"</span> }),
                            ConversationStatus::Resolved => Some(view! { <span class="tag conv-status">"Resolved"</span> }),
                            _ => None,
                        }}
                        {move || row.with(|r| r.as_ref().is_some_and(|r| r.unverified)).then(|| view! {
                            <span class="tag conv-unverified" title=UNVERIFIED_TITLE>"Unverified"</span>
                        })}
                        {move || row.with(|r| r.as_ref().is_some_and(|r| r.with_bot)).then(|| view! {
                            <span class="tag conv-bot" title="The bot is answering; it hands over when the customer asks for a person">"With bot"</span>
                        })}
                        <time class="conv-time" title=field(|r| r.full_time.clone())>
                            {field(|r| r.time.clone())}
                        </time>
                    </span>
                    <span class="conv-line conv-origin">
                        <span class="conv-channels" aria-hidden="true">
                            {move || badges.get().into_iter().map(|channel| view! { <Badge channel /> }).collect_view()}
                        </span>
                        <span class="conv-site">{field(|r| one_line(&r.site, 60))}</span>
                        {move || {
                            row.with(|r| r.as_ref().and_then(|r| r.waiting.clone().map(|w| (w, r.breach))))
                                .map(|(waiting, breach)| {
                                    let title = match breach {
                                        Breach::Soon(left) => format!("First response due in {}", format::time_left(left)),
                                        Breach::Breached(over) => format!("First response overdue by {}", format::time_left(over)),
                                        _ => String::new(),
                                    };
                                    view! { <span class="conv-waiting" data-breach=breach.key() title=title>{waiting}</span> }
                                })
                        }}
                        {move || {
                            row.with(|r| r.as_ref().and_then(|r| r.assignee.clone()))
                                .map(|(initials, name)| {
                                    view! {
                                        <span class="conv-assignee" title=format!("Assigned to {name}")>{initials}</span>
                                    }
                                })
                        }}
                        <span class="conv-labels">
                            {move || labels.get().into_iter().map(|name| view! { <LabelChip name /> }).collect_view()}
                        </span>
                    </span>
                    <span class="conv-line">
                        <span class="conv-preview" class:typing=typing class:empty=no_preview>
                            {preview_text}
                        </span>
                        {move || {
                            let n = unread();
                            (n > 0)
                                .then(|| {
                                    view! {
                                        <span class="conv-unread" aria-hidden="true">
                                            {if n > 99 { "99+".to_owned() } else { n.to_string() }}
                                        </span>
                                    }
                                })
                        }}
                    </span>
                </span>
            </button>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{AdvisorInfo, Author, Channel, ClientMsgId, ConversationSummary, Message};

    fn summary(id: i64, at: i64, unread: u32, last: Option<Message>) -> ConversationSummary {
        ConversationSummary {
            window_closes_at: None,
            identities: Vec::new(),
            reply_channel: Default::default(),
            id: ConversationId(id),
            visitor_name: format!("Visitor {id}"),
            site_name: "Demo shop".into(),
            channel: Channel::Web,
            last_seq: 1,
            last_message: last,
            last_activity_at: at,
            unread,
            page: None,
            visitor_online: false,
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
        }
    }

    #[test]
    fn rows_show_name_site_age_preview_and_unread() {
        let mut model = Model::new(Some(AdvisorInfo {
            id: AdvisorId(1),
            name: "Dana".into(),
            email: "d@x".into(),
        }));
        let mine = Message {
            delivery: None,
            attachments: Vec::new(),
            id: ClientMsgId::from("a"),
            conversation: ConversationId(2),
            seq: 1,
            author: Author::Advisor {
                id: AdvisorId(1),
                name: "Dana".into(),
            },
            channel: Channel::Web,
            text: "Sure,\nI'll check".into(),
            sent_at: 0,
            note: false,
        };
        model.conversations = vec![summary(2, 0, 0, Some(mine)), summary(1, 0, 3, None)];
        let r = rows(&model, 5 * format::MINUTE, |_| 0);
        assert_eq!(r[0].name, "Visitor 2");
        assert_eq!(r[0].initials, "V2");
        assert_eq!(r[0].site, "Demo shop");
        assert_eq!(r[0].time, "5 min");
        assert_eq!(r[0].preview, "You: Sure, I'll check");
        assert_eq!(r[1].unread, 3);
        assert_eq!(r[1].preview, "");
        assert_eq!((r[1].channel, r[1].channels.clone()), (Channel::Web, vec![Channel::Web]));
    }

    #[test]
    fn rows_badge_the_channel_then_the_customers_other_channels() {
        let mut model = Model::new(None);
        let identity = |id, channel| shared::ChannelIdentity {
            id,
            channel,
            label: "x".into(),
            linked: id > 1,
            window_closes_at: None,
        };
        let whatsapp = ConversationSummary {
            channel: Channel::Whatsapp,
            reply_channel: Channel::Whatsapp,
            identities: vec![identity(1, Channel::Whatsapp)],
            ..summary(1, 0, 0, None)
        };
        let linked = ConversationSummary {
            reply_channel: Channel::Messenger,
            identities: vec![identity(2, Channel::Messenger), identity(3, Channel::Whatsapp)],
            ..summary(2, 0, 0, None)
        };
        model.conversations = vec![whatsapp, linked];
        let r = rows(&model, 0, |_| 0);
        assert_eq!((r[0].channel, r[0].channels.clone()), (Channel::Whatsapp, vec![Channel::Whatsapp]));
        assert_eq!(r[1].channel, Channel::Web);
        assert_eq!(r[1].channels, vec![Channel::Web, Channel::Messenger, Channel::Whatsapp]);
    }
}
