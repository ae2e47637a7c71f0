//! The composer: Enter sends, Shift+Enter is a new line; grows with its text; refuses more than
//! `MAX_TEXT_CHARS`.

use leptos::html::Textarea;
use leptos::prelude::*;
use web_sys::KeyboardEvent;

use crate::app::App;
use crate::text;

/// Grows the textarea with its content, up to the CSS max-height.
fn fit(el: &web_sys::HtmlTextAreaElement) {
    let style = web_sys::HtmlElement::style(el);
    let _ = style.set_property("height", "auto");
    let mut h = el.scroll_height().to_string();
    h.push_str("px");
    let _ = style.set_property("height", &h);
}

pub fn composer(app: &App) -> impl IntoView {
    let s = app.s;
    let input = NodeRef::<Textarea>::new();
    let chars = Memo::new(move |_| s.draft.with(|d| shared::limits::text_chars(d)));
    let submit = {
        let app = app.clone();
        move || {
            if app.send_draft() {
                if let Some(el) = input.get_untracked() {
                    el.set_value("");
                    let _ = web_sys::HtmlElement::style(&el).remove_property("height");
                    let _ = el.focus();
                }
            }
        }
    };
    let on_key = {
        let submit = submit.clone();
        move |ev: KeyboardEvent| {
            if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                ev.prevent_default();
                submit();
            }
        }
    };
    let on_input = {
        let app = app.clone();
        move |ev: web_sys::Event| {
            let el: web_sys::HtmlTextAreaElement = event_target(&ev);
            s.draft.set(el.value());
            fit(&el);
            app.typed();
        }
    };
    let over = move || {
        if chars.get() > shared::limits::MAX_TEXT_CHARS {
            "true"
        } else {
            "false"
        }
    };
    // Focus the composer when the panel opens.
    Effect::new(move |_| {
        if s.open.get() {
            request_animation_frame(move || {
                if let Some(el) = input.get_untracked() {
                    let _ = el.focus();
                }
            });
        }
    });
    let form = NodeRef::<leptos::html::Form>::new();
    let files = app.clone();
    form.on_load(move |el| crate::components::files::tools(&el, &files));
    view! {
        <form class="confab-form" node_ref=form on:submit=move |ev| { ev.prevent_default(); submit(); }>
            <textarea
                class="confab-composer"
                node_ref=input
                rows="1"
                aria-label=s.t().message
                placeholder=s.t().write
                prop:value=move || s.draft.get()
                // On a page the site doesn't allow, nothing typed could ever be sent.
                disabled=move || s.refused.with(Option::is_some)
                on:input=on_input
                on:keydown=on_key
            ></textarea>
            // Always in the DOM (empty, and hidden by the CSS, until the text nears the limit): a live
            // region is announced more reliably when it exists before its text changes.
            <span class="confab-counter" aria-live="polite"
                data-over=over>
                {move || text::counter(chars.get()).unwrap_or_default()}
            </span>
            <button type="submit" class="confab-send" aria-label=s.t().send disabled=move || s.refused.with(Option::is_some) || s.draft.with(|d| !text::sendable(d))>
                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                    <path d="M3.4 20.4l17.45-7.48a1 1 0 000-1.84L3.4 3.6a.99.99 0 00-1.39.91L2 9.12c0 .5.37.93.87.99L17 12 2.87 13.88c-.5.07-.87.5-.87 1l.01 4.61c0 .71.73 1.2 1.39.91z" fill="currentColor"/>
                </svg>
            </button>
        </form>
    }
}
