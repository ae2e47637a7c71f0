//! The search box above the conversation list. While it holds a query its results replace the
//! list; a result opens like any row; Esc clears.

use std::time::Duration;

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::ConversationId;

use super::initials;
use super::labels::LabelChip;
use crate::api;
use crate::format;
use crate::state::sort_inbox;
use crate::tools::{Search, SearchResult, Tools, MIN_QUERY_CHARS};
use crate::Ctx;

/// Wait this long after the last keystroke before asking the relay.
const DEBOUNCE: Duration = Duration::from_millis(250);

#[component]
pub fn SearchBox() -> impl IntoView {
    let tools = expect_context::<Tools>();
    // Each keystroke bumps the generation: only the answer to the latest query is shown.
    let generation = StoredValue::new(0u64);
    let on_input = move |ev| {
        let value = event_target_value(&ev);
        tools.query.set(value.clone());
        let query = value.split_whitespace().collect::<Vec<_>>().join(" ");
        let this = generation.get_value() + 1;
        generation.set_value(this);
        if query.chars().count() < MIN_QUERY_CHARS {
            tools.search.set(Search::Idle);
            return;
        }
        tools.search.set(Search::Loading);
        set_timeout(
            move || {
                if generation.try_get_value() != Some(this) {
                    return;
                }
                spawn_local(async move {
                    let answer = api::search(&query).await;
                    if generation.try_get_value() != Some(this) {
                        return;
                    }
                    tools.search.try_set(match answer {
                        Ok(results) => Search::Done(results),
                        Err(e) => Search::Failed(e.message()),
                    });
                });
            },
            DEBOUNCE,
        );
    };
    let clear = move || {
        generation.update_value(|g| *g += 1);
        tools.query.set(String::new());
        tools.search.set(Search::Idle);
    };
    view! {
        <div class="search">
            <input
                type="search"
                class="search-input"
                placeholder="Search conversations"
                title="Customer name, e-mail, phone number or message text"
                aria-label="Search conversations"
                prop:value=move || tools.query.get()
                on:input=on_input
                on:keydown=move |ev: KeyboardEvent| {
                    if ev.key() == "Escape" {
                        ev.prevent_default();
                        clear();
                    }
                }
            />
        </div>
    }
}

/// The results, in place of the conversation list while a query is present.
#[component]
pub fn SearchResults() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let tools = expect_context::<Tools>();
    let selected = Memo::new(move |_| ctx.model.with(|m| m.open.as_ref().map(|o| o.id)));
    let open = move |result: &SearchResult| {
        let row = result.conversation.clone();
        let id = row.id;
        // A conversation older than the inbox holds: add its row so the thread has a header.
        ctx.model.update(|m| {
            if m.conversation(id).is_none() {
                m.conversations.push(row);
                sort_inbox(&mut m.conversations);
            }
        });
        ctx.select(id);
    };
    move || match tools.search.get() {
        Search::Idle => view! {
            <p class="conv-empty search-hint">{format!("Type at least {MIN_QUERY_CHARS} characters to search.")}</p>
        }
        .into_any(),
        Search::Loading => view! { <p class="conv-empty search-hint" aria-busy="true">"Searching…"</p> }.into_any(),
        Search::Failed(message) => view! { <p class="conv-empty search-error" role="alert">{message}</p> }.into_any(),
        Search::Done(results) if results.is_empty() => {
            view! { <p class="conv-empty search-none">"No conversation matches."</p> }.into_any()
        }
        Search::Done(results) => {
            let now = ctx.now.get_untracked();
            view! {
                <ul class="conv-list search-results" aria-label="Search results">
                    {results
                        .into_iter()
                        .map(|r| {
                            let c = &r.conversation;
                            let id: ConversationId = c.id;
                            let snippet = r.snippet.clone();
                            let labels = c.labels.clone();
                            let name = c.visitor_name.clone();
                            let time = format::relative(c.last_activity_at, now, format::tz_offset);
                            let result = r.clone();
                            view! {
                                <li>
                                    <button
                                        type="button"
                                        class="conv-item search-result"
                                        class:active=move || selected.get() == Some(id)
                                        data-id=id.0
                                        on:click=move |_| open(&result)
                                    >
                                        <span class="avatar" data-hue=id.0.rem_euclid(6) aria-hidden="true">{initials(&name)}</span>
                                        <span class="conv-body">
                                            <span class="conv-line">
                                                <span class="conv-name">{name.clone()}</span>
                                                <time class="conv-time">{time}</time>
                                            </span>
                                            <span class="conv-line conv-origin">
                                                <span class="conv-site">{c.site_name.clone()}</span>
                                                <span class="conv-labels">
                                                    {labels.into_iter().map(|name| view! { <LabelChip name /> }).collect_view()}
                                                </span>
                                            </span>
                                            {snippet.map(|s| view! {
                                                <span class="conv-line">
                                                    <span class="conv-preview search-snippet" class:note=s.note>
                                                        {s.note.then_some("Note: ")}{s.text}
                                                    </span>
                                                </span>
                                            })}
                                        </span>
                                    </button>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
            .into_any()
        }
    }
}
