//! The reply box: Enter sends, Shift+Enter adds a line; a counter appears near the length limit.

use std::time::Duration;

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use shared::limits::{text_chars, MAX_TEXT_CHARS};
use shared::ConversationId;

use crate::state::SendError;
use crate::{new_client_id, now_ms, Ctx};

/// The counter shows from this many characters on.
const COUNTER_FROM: usize = MAX_TEXT_CHARS - 500;
/// Tallest the box grows before it scrolls, in px.
const MAX_HEIGHT_PX: i32 = 220;
/// "Typing" ends this long after the last keystroke.
const TYPING_IDLE: Duration = Duration::from_secs(4);
/// While typing goes on, "on" is repeated this often (the visitor hides the indicator after ~6 s
/// without one); never more often, whatever the keystroke rate. A little over the relay's 3 s, which
/// forwards a repeat only 3 s after the last one it forwarded: jitter must not make it drop one.
const TYPING_REFRESH_MS: i64 = 3_200;

#[component]
pub fn Composer(id: ConversationId) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let draft = Memo::new(move |_| ctx.drafts.with(|d| d.get(&id).cloned().unwrap_or_default()));
    let chars = Memo::new(move |_| draft.with(|d| text_chars(d)));
    let too_long = move || chars.get() > MAX_TEXT_CHARS;
    let can_send = move || !draft.with(|d| d.trim().is_empty()) && !too_long();
    let textarea: NodeRef<html::Textarea> = NodeRef::new();

    let fit = move || {
        if let Some(el) = textarea.get_untracked() {
            let style = web_sys::HtmlElement::style(&el);
            let _ = style.set_property("height", "auto");
            let height = el.scroll_height().min(MAX_HEIGHT_PX) + 2;
            let _ = style.set_property("height", &format!("{height}px"));
        }
    };

    // The visitor sees "typing…": on at the first keystroke and again every 3 s while keys are
    // pressed, off when idle, emptied or sent. State: when "on" was last sent (None: off), idle timer.
    let typing = StoredValue::new((None::<i64>, None::<TimeoutHandle>));
    let stop_typing = move || {
        let Some((on, timer)) = typing.try_get_value() else {
            return;
        };
        if let Some(timer) = timer {
            timer.clear();
        }
        typing.set_value((None, None));
        if on.is_some() {
            ctx.typing(id, false);
        }
    };
    let keep_typing = move || {
        let (mut on, timer) = typing.get_value();
        if let Some(timer) = timer {
            timer.clear();
        }
        let now = now_ms();
        if on.is_none_or(|at| now - at >= TYPING_REFRESH_MS) {
            ctx.typing(id, true);
            on = Some(now);
        }
        let timer = set_timeout_with_handle(stop_typing, TYPING_IDLE).ok();
        typing.set_value((on, timer));
    };
    on_cleanup(stop_typing);

    let send = move || {
        let text = draft.get_untracked();
        if !text.trim().is_empty() {
            // "Stopped typing" before the reply, as the widget does.
            stop_typing();
        }
        let mut result = Ok(());
        ctx.run(|m| match m.compose(new_client_id(), &text, None, now_ms()) {
            Ok(frames) => frames,
            Err(e) => {
                result = Err(e);
                Vec::new()
            }
        });
        match result {
            Ok(()) => {
                ctx.drafts.update(|d| {
                    d.remove(&id);
                });
                if let Some(el) = textarea.get_untracked() {
                    el.set_value("");
                }
                fit();
            }
            Err(_) => {}
        }
        if let Some(el) = textarea.get_untracked() {
            let _ = el.focus();
        }
    };

    let on_keydown = move |ev: KeyboardEvent| {
        // `is_composing`: Enter that confirms an IME composition is not a send.
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() && ev.key_code() != 229 {
            ev.prevent_default();
            send();
        }
    };
    let on_input = move |ev| {
        let value = event_target_value(&ev);
        if value.trim().is_empty() {
            stop_typing();
        } else {
            keep_typing();
        }
        ctx.drafts.update(|d| {
            d.insert(id, value);
        });
        fit();
    };

    // Ready to type as soon as a conversation opens.
    Effect::new(move |_| {
        if let Some(el) = textarea.get() {
            let _ = el.focus();
            fit();
        }
    });

    view! {
        <div class="composer-bar">
            <textarea
                node_ref=textarea
                class="composer"
                class:over=too_long
                aria-label="Reply"
                placeholder="Write a reply…"
                rows="1"
                prop:value=move || draft.get()
                on:keydown=on_keydown
                on:input=on_input
            ></textarea>
            <div class="composer-side">
                <button
                    type="button"
                    class="send primary"
                    disabled=move || !can_send()
                    on:click=move |_| send()
                >
                    "Send"
                </button>
            </div>
            <div class="composer-foot">
                <span class="composer-hint">
                    <kbd>"Enter"</kbd> " to send · " <kbd>"Shift"</kbd> "+" <kbd>"Enter"</kbd> " for a new line"
                </span>
                {move || {
                    let n = chars.get();
                    let over = n > MAX_TEXT_CHARS;
                    (n >= COUNTER_FROM)
                        .then(|| {
                            view! {
                                <span class="composer-counter" class:over=over aria-live="polite">
                                    {format!("{n} / {MAX_TEXT_CHARS}")}
                                </span>
                            }
                        })
                }}
            </div>
        </div>
    }
}
