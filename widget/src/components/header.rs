//! The panel's header: the company's name (and its avatar picture, else its initial), whether an advisor is online
//! (else the usual reply time), and the close button.

use leptos::prelude::*;

use crate::app::App;
use crate::i18n::fill;

pub fn header(app: &App) -> impl IntoView {
    let app_s = app.s;
    let site = app.s.site;
    let online = app.s.advisors_online;
    // "Online" while an advisor is, else what the company says of its reply time (the CSS capitalises it).
    let queue = app.s.queue;
    let presence = move || {
        let (place, wait) = queue.get();
        if place > 0 {
            // Waiting for an advisor: their place, and a wait only when the relay could estimate one.
            let t = app_s.t();
            let wait = wait.map_or_else(
                || app_s.site_texts().1,
                |ms| fill(t.about_min, &[&((ms + 59_999) / 60_000).to_string()]),
            );
            fill(t.in_line, &[&place.to_string(), &wait])
        } else if online.get() {
            app_s.t().online.to_owned()
        } else {
            app_s.site_texts().1
        }
    };
    let name = move || {
        site.with(|s| {
            if s.name.is_empty() {
                app_s.t().chat.to_owned()
            } else {
                s.name.clone()
            }
        })
    };
    let initial = move || {
        name()
            .chars()
            .next()
            .map(|c| c.to_uppercase().to_string())
            .unwrap_or_default()
    };
    // The company's picture covers the initial once the site has one.
    let avatar = move || site.with(|s| Some(s.avatar.clone()).filter(|a| !a.is_empty()));
    let close = (!app.opts.fullscreen).then(|| {
        let app = app.clone();
        view! {
            <button type="button" class="confab-close" aria-label=app_s.t().close_chat on:click=move |_| app.close()>
                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                    <path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2" stroke-linecap="round" fill="none"/>
                </svg>
            </button>
        }
    });
    view! {
        <div class="confab-top">
            <span class="confab-avatar" aria-hidden="true">{initial}<img alt="" src=avatar/></span>
            <div class="confab-title">
                <h2 class="confab-header">{name}</h2>
                <p class="confab-presence" data-online=move || if online.get() && queue.get().0 == 0 { "true" } else { "false" }>{presence}</p>
            </div>
            {close}
        </div>
    }
}
