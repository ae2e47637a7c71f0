//! Routing in the dashboard: the inbox views (Mine, Unassigned, All) with channel and team
//! filters and the longest wait, my status, and assigning or transferring a conversation.

use leptos::prelude::*;
use shared::{AdvisorId, Channel, ConversationId, Presence};

use crate::format;
use crate::views::{self, View};
use crate::Ctx;

/// Tabs with open counts, the filters, and who has waited longest.
#[component]
pub fn ViewTabs() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let counts = Memo::new(move |_| {
        ctx.model.with(|m| {
            let me = m.me.as_ref().map(|a| a.id);
            View::ALL.map(|v| views::open_count(&m.conversations, v, me))
        })
    });
    let current = Memo::new(move |_| ctx.model.with(|m| m.view));
    let teams = Memo::new(move |_| ctx.model.with(|m| m.teams.clone()));
    let oldest = Memo::new(move |_| {
        let now = ctx.now.get();
        ctx.model.with(|m| {
            views::oldest_waiting(&m.conversations).map(|(c, since)| (c.id, c.visitor_name.clone(), format::time_left(now - since)))
        })
    });
    view! {
        <div class="inbox-views" role="tablist" aria-label="Which conversations">
            {View::ALL
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    view! {
                        <button
                            type="button"
                            role="tab"
                            class="view-tab"
                            data-view=v.key()
                            aria-selected=move || if current.get() == v { "true" } else { "false" }
                            on:click=move |_| ctx.model.update(|m| m.view = v)
                        >
                            {v.label()}
                            <span class="view-count">{move || counts.get()[i]}</span>
                        </button>
                    }
                })
                .collect_view()}
        </div>
        <div class="inbox-filters">
            <select
                class="channel-filter"
                aria-label="Channel"
                on:change=move |ev| {
                    let value = event_target_value(&ev);
                    let channel = match value.as_str() {
                        "web" => Some(Channel::Web),
                        "whatsapp" => Some(Channel::Whatsapp),
                        "messenger" => Some(Channel::Messenger),
                        _ => None,
                    };
                    ctx.model.update(|m| m.channel_filter = channel);
                }
            >
                <option value="">"All channels"</option>
                <option value="web">"Web chat"</option>
                <option value="whatsapp">"WhatsApp"</option>
                <option value="messenger">"Messenger"</option>
            </select>
            {move || {
                let teams = teams.get();
                (!teams.is_empty())
                    .then(|| {
                        view! {
                            <select
                                class="team-filter"
                                aria-label="Team"
                                on:change=move |ev| {
                                    let team = event_target_value(&ev).parse::<i64>().ok();
                                    ctx.model.update(|m| m.team_filter = team);
                                }
                            >
                                <option value="">"All teams"</option>
                                {teams
                                    .into_iter()
                                    .map(|t| view! { <option value=t.id>{t.name}</option> })
                                    .collect_view()}
                            </select>
                        }
                    })
            }}
        </div>
        {move || {
            oldest
                .get()
                .map(|(id, name, waited)| {
                    view! {
                        <button type="button" class="oldest-waiting" on:click=move |_| ctx.select(id)>
                            "Longest wait: " <strong>{name}</strong> " · " {waited}
                        </button>
                    }
                })
        }}
    }
}

/// My status (online takes new conversations), with my load against my capacity.
#[component]
pub fn PresencePicker() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let mine = Memo::new(move |_| ctx.model.with(|m| m.my_roster().cloned()));
    let choices = [(Presence::Online, "Online"), (Presence::Away, "Away"), (Presence::Offline, "Offline")];
    view! {
        <div class="presence">
            <select
                class="presence-pick"
                aria-label="My status"
                data-presence=move || mine.get().map_or("offline", |r| r.presence.as_str())
                on:change=move |ev| {
                    let presence = Presence::parse(&event_target_value(&ev));
                    ctx.run(|m| m.set_presence(presence));
                }
            >
                {choices
                    .into_iter()
                    .map(|(p, label)| {
                        view! {
                            <option value=p.as_str() selected=move || mine.get().is_some_and(|r| r.chosen == p)>
                                {label}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            {move || {
                mine.get()
                    .map(|r| {
                        let auto = (r.chosen == Presence::Online && r.presence == Presence::Away).then_some(" · away (no tab open)");
                        view! {
                            <span class="load" title="Open conversations assigned to you, and the most you take">
                                {format!("{}/{}", r.open, r.capacity)} {auto}
                            </span>
                        }
                    })
            }}
        </div>
    }
}

/// Who has the conversation; assign it to someone, to me, or transfer it to a team's queue.
#[component]
pub fn AssignControl(id: ConversationId) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let state = Memo::new(move |_| {
        ctx.model.with(|m| {
            let row = m.conversation(id);
            (
                row.and_then(|r| r.assignee),
                row.and_then(|r| r.team),
                m.me.as_ref().map(|a| a.id),
                m.roster.clone(),
                m.teams.clone(),
            )
        })
    });
    let on_change = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let (advisor, team) = match value.split_once(':') {
            Some(("a", id)) => (id.parse().ok().map(AdvisorId), None),
            Some(("t", id)) => (None, id.parse().ok()),
            _ => (None, None),
        };
        ctx.run(|m| m.assign(id, advisor, team));
    };
    move || {
        let (assignee, team, me, roster, teams) = state.get();
        let team_name = team.and_then(|t| teams.iter().find(|x| x.id == t)).map(|t| t.name.clone());
        let take = (assignee != me).then(|| {
            view! {
                <button type="button" class="assign-me" on:click=move |_| ctx.run(|m| m.assign(id, me, None))>
                    "Assign to me"
                </button>
            }
        });
        view! {
            <div class="assign">
                <label class="assign-label">
                    "Assignee"
                    <select class="assign-pick" on:change=on_change>
                        <option value="none" selected=assignee.is_none()>
                            {match &team_name {
                                Some(t) => format!("Unassigned ({t} queue)"),
                                None => "Unassigned".to_owned(),
                            }}
                        </option>
                        <optgroup label="Advisors">
                            {roster
                                .iter()
                                .map(|r| {
                                    let label = format!(
                                        "{}{} · {} · {}/{}",
                                        r.name,
                                        if Some(r.id) == me { " (me)" } else { "" },
                                        r.presence.as_str(),
                                        r.open,
                                        r.capacity,
                                    );
                                    view! {
                                        <option value=format!("a:{}", r.id.0) selected=assignee == Some(r.id)>{label}</option>
                                    }
                                })
                                .collect_view()}
                        </optgroup>
                        {(!teams.is_empty())
                            .then(|| {
                                view! {
                                    <optgroup label="Transfer to team">
                                        {teams
                                            .iter()
                                            .map(|t| view! { <option value=format!("t:{}", t.id)>{format!("{} queue", t.name)}</option> })
                                            .collect_view()}
                                    </optgroup>
                                }
                            })}
                    </select>
                </label>
                {take}
            </div>
        }
    }
}
