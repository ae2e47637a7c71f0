//! The customer panel, right of the conversation: who the customer is (name and e-mail, editable
//! in place), their channels, where they are and came from, their browser, language and local
//! time, and their other conversations. Collapsible; the choice is kept in localStorage.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{ConversationId, ConversationStatus, CustomerPatch, CustomerProfile};
use wasm_bindgen::JsValue;

use super::channels::Badge;
use super::thread::page_link;
use crate::text::preview;
use crate::{api, channel, format, Ctx};

const PANEL_KEY: &str = "confab.panel";

/// Whether the panel was left open (it is, unless collapsed before).
pub fn load_panel_open() -> bool {
    window().local_storage().ok().flatten().and_then(|s| s.get_item(PANEL_KEY).ok().flatten()).as_deref() != Some("closed")
}

fn save_panel_open(open: bool) {
    if let Some(s) = window().local_storage().ok().flatten() {
        let _ = s.set_item(PANEL_KEY, if open { "open" } else { "closed" });
    }
}

/// The time now in the IANA zone `tz`, like "14:05 (Europe/Zurich)", via `Intl`; None when the
/// browser doesn't know the zone.
fn local_time(now: i64, tz: &str) -> Option<String> {
    let options = js_sys::Object::new();
    for (k, v) in [("timeZone", tz), ("hour", "2-digit"), ("minute", "2-digit"), ("weekday", "short")] {
        js_sys::Reflect::set(&options, &JsValue::from_str(k), &JsValue::from_str(v)).ok()?;
    }
    let formatter = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &options);
    let format = formatter.format();
    let text = format.call1(&JsValue::UNDEFINED, &js_sys::Date::new(&JsValue::from_f64(now as f64))).ok()?;
    text.as_string()
}

#[component]
pub fn CustomerPanel(id: ConversationId) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let profile = RwSignal::new(None::<Result<CustomerProfile, String>>);
    // Fetched again when the row's name, page or channels change (another advisor's correction,
    // the visitor moving to another page), not on every message.
    let row_key = Memo::new(move |_| {
        ctx.model.with(|m| m.conversation(id).map(|c| (c.visitor_name.clone(), c.page.clone(), c.identities.len())))
    });
    Effect::new(move |_| {
        row_key.track();
        spawn_local(async move {
            let fetched = api::customer(id).await.map_err(|e| e.message());
            let _ = profile.try_set(Some(fetched));
        });
    });
    let toggle = move |_| {
        ctx.panel_open.update(|o| *o = !*o);
        save_panel_open(ctx.panel_open.get_untracked());
    };

    view! {
        <aside class="customer" aria-label="Customer" data-open=move || if ctx.panel_open.get() { "true" } else { "false" }>
            <button
                type="button"
                class="customer-toggle"
                aria-expanded=move || if ctx.panel_open.get() { "true" } else { "false" }
                title=move || if ctx.panel_open.get() { "Hide customer details" } else { "Show customer details" }
                on:click=toggle
            >
                {move || if ctx.panel_open.get() { "›" } else { "‹ Customer" }}
            </button>
            {move || {
                ctx.panel_open.get().then(|| match profile.get() {
                    None => view! { <p class="customer-loading">"Loading…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="customer-error" role="alert">{e}</p> }.into_any(),
                    Some(Ok(p)) => view! { <Details id profile=p on_saved=Callback::new(move |p| profile.set(Some(Ok(p)))) /> }.into_any(),
                })
            }}
        </aside>
    }
}

/// Esc in an inline field puts the saved value back, so the blur that follows (the page's Esc
/// shortcut leaves the field) saves nothing.
fn undo_on_escape(saved: String) -> impl Fn(leptos::ev::KeyboardEvent) + 'static {
    move |ev| {
        if ev.key() == "Escape" {
            event_target::<web_sys::HtmlInputElement>(&ev).set_value(&saved);
        }
    }
}

#[component]
fn Details(id: ConversationId, profile: CustomerProfile, on_saved: Callback<CustomerProfile>) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let error = RwSignal::new(None::<String>);
    let save = move |patch: CustomerPatch| {
        spawn_local(async move {
            match api::edit_customer(id, &patch).await {
                Ok(p) => {
                    error.set(None);
                    on_saved.run(p);
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let tz = profile.timezone.clone();
    let local = move || tz.as_deref().and_then(|tz| local_time(ctx.now.get(), tz));
    let browser = match (&profile.browser, &profile.os) {
        (Some(b), Some(os)) => Some(format!("{b} on {os}")),
        (Some(b), None) => Some(b.clone()),
        (None, Some(os)) => Some(os.clone()),
        (None, None) => None,
    };
    let when = |ms: i64| format::full(ms, format::tz_offset(ms));
    let me = ctx.model.with_untracked(|m| m.me.as_ref().map(|a| a.id));
    let name = profile.name.clone().unwrap_or_default();
    let email = profile.email.clone().unwrap_or_default();
    let placeholder = profile.display_name.clone();

    view! {
        <div class="customer-body">
            <section class="customer-who">
                <input
                    class="inline-edit customer-name"
                    aria-label="Customer name"
                    placeholder=placeholder
                    maxlength="80"
                    prop:value=name.clone()
                    on:keydown=undo_on_escape(name)
                    on:change=move |ev| save(CustomerPatch { name: Some(event_target_value(&ev)), email: None })
                />
                <input
                    class="inline-edit customer-email"
                    type="email"
                    aria-label="Customer e-mail"
                    placeholder="Add an e-mail"
                    prop:value=email.clone()
                    on:keydown=undo_on_escape(email)
                    on:change=move |ev| save(CustomerPatch { name: None, email: Some(event_target_value(&ev)) })
                />
                {(profile.name_unverified || profile.email_unverified).then(|| view! {
                    <p class="customer-unverified" title=super::conversation_list::UNVERIFIED_TITLE>
                        <span class="tag conv-unverified">"Unverified"</span>
                        " "
                        {match (profile.name_unverified, profile.email_unverified) {
                            (true, true) => "Name and e-mail typed by the customer, not confirmed by the site.",
                            (true, false) => "Name typed by the customer, not confirmed by the site.",
                            _ => "E-mail typed by the customer, not confirmed by the site.",
                        }}
                    </p>
                })}
                {move || error.get().map(|e| view! { <p class="customer-error" role="alert">{e}</p> })}
            </section>
            <dl class="customer-facts">
                {(!profile.identities.is_empty()).then(|| view! {
                    <dt>"Channels"</dt>
                    <dd class="customer-identities">
                        {profile.identities.iter().map(|i| {
                            let ch = i.channel;
                            view! { <span class="tag" data-channel=channel::key(ch)><Badge channel=ch /> {i.label.clone()}</span> }
                        }).collect_view()}
                    </dd>
                })}
                {profile.page.clone().map(|p| view! { <dt>"Page"</dt><dd class="customer-page">{page_link(&p)}</dd> })}
                {profile.referrer.clone().map(|r| view! { <dt>"Came from"</dt><dd class="customer-referrer">{page_link(&r)}</dd> })}
                {browser.map(|b| view! { <dt>"Browser"</dt><dd class="customer-browser">{b}</dd> })}
                {profile.language.clone().map(|l| view! { <dt>"Language"</dt><dd class="customer-language">{l}</dd> })}
                {profile.timezone.clone().map(|tz| view! {
                    <dt>"Local time"</dt>
                    <dd class="customer-local-time">{local} <span class="muted">" · " {tz}</span></dd>
                })}
                <dt>"First seen"</dt>
                <dd class="customer-first-seen">{when(profile.first_seen)}</dd>
                {profile.last_seen.map(|t| view! { <dt>"Last seen"</dt><dd class="customer-last-seen">{when(t)}</dd> })}
            </dl>
            <section class="customer-previous">
                <h3>"Previous conversations"</h3>
                {if profile.previous.is_empty() {
                    view! { <p class="muted">"None."</p> }.into_any()
                } else {
                    view! {
                        <ul>
                            {profile.previous.iter().map(|c| {
                                let target = c.id;
                                let status = match c.status {
                                    ConversationStatus::Resolved => "Resolved",
                                    ConversationStatus::Snoozed => "Snoozed",
                                    _ => "Open",
                                };
                                view! {
                                    <li>
                                        <button type="button" class="past" on:click=move |_| ctx.select(target)>
                                            <span class="past-head">
                                                <span class="tag past-status" data-status=status.to_lowercase()>{status}</span>
                                                <span class="past-time">{when(c.last_activity_at)}</span>
                                            </span>
                                            <span class="past-preview">{preview(c.last_message.as_ref(), me)}</span>
                                        </button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
        </div>
    }
}
