//! The thread: greeting, day separators, messages, "is typing"; kept scrolled to the newest message.

use leptos::either::Either;
use leptos::html::Div;
use leptos::prelude::*;

use crate::app::{local_ms, App};
use crate::components::message::message;
use crate::store::{rows, Row};
use crate::text;

pub fn thread(app: &App) -> impl IntoView {
    let s = app.s;
    let list = NodeRef::<Div>::new();
    let greeting = move || {
        let g = s.site_texts().0;
        (!g.is_empty()).then(|| view! { <div class="confab-greeting">{g}</div> })
    };
    let each = move || s.thread.with(|t| rows(t, |at| text::day_of(local_ms(at))));
    let key = |r: &Row| match r {
        Row::Day { day } => day.to_string(),
        Row::Msg(e) => e.key(),
    };
    let app = app.clone();
    let row = move |r: Row| match r {
        Row::Day { day } => {
            let today = text::day_of(local_ms(js_sys::Date::now() as i64));
            Either::Left(
                view! { <div class="confab-day"><span>{text::day_label(day, today, s.t())}</span></div> },
            )
        }
        Row::Msg(e) => Either::Right(message(&app, e)),
    };
    // Follow new messages while the visitor is at the bottom (not while they read further up), always
    // after they send, and when the panel opens.
    let at_bottom = StoredValue::new(true);
    let on_scroll = move |_| {
        if let Some(el) = list.get_untracked() {
            at_bottom.set_value(el.scroll_height() - el.scroll_top() - el.client_height() < 80);
        }
    };
    Effect::new(move |was_open: Option<bool>| {
        let sent = s
            .thread
            .with(|t| t.entries().last().is_some_and(|e| e.seq.is_none()));
        s.typing.track();
        let open = s.open.get();
        if open && (was_open != Some(true) || sent || at_bottom.get_value()) {
            request_animation_frame(move || {
                if let Some(el) = list.get_untracked() {
                    el.set_scroll_top(el.scroll_height());
                    at_bottom.set_value(true);
                }
            });
        }
        open
    });
    view! {
        <div class="confab-thread" node_ref=list on:scroll=on_scroll role="log" aria-live="polite" aria-label=s.t().conversation>
            {greeting}
            <For each=each key=key children=row />
            // One String child, like the greeting: the same view type, so its code is shared.
            {move || s.typing.get().map(|name| {
                let who = if name.is_empty() { s.t().someone } else { &name };
                view! { <div class="confab-typing">{crate::i18n::fill(s.t().typing, &[who])}</div> }
            })}
        </div>
    }
}
