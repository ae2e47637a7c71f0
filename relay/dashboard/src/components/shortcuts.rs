//! The keyboard shortcuts at work (the mapping is `crate::shortcuts`) and the `?` overlay that
//! lists them.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use shared::ConversationStatus;
use wasm_bindgen::JsCast;

use crate::shortcuts::{action, takes_text, Action, SHORTCUTS};
use crate::{Ctx, Overlay};

/// Listen for shortcuts on the whole page while the inbox is shown.
pub fn listen(ctx: Ctx) -> WindowListenerHandle {
    window_event_listener(leptos::ev::keydown, move |ev: KeyboardEvent| {
        let target = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        let in_text = target.as_ref().is_some_and(|el| {
            let editable = el.dyn_ref::<web_sys::HtmlElement>().is_some_and(|h| h.is_content_editable());
            takes_text(&el.tag_name(), el.get_attribute("type").as_deref(), editable)
        });
        let Some(action) = action(&ev.key(), in_text, ev.ctrl_key() || ev.alt_key() || ev.meta_key()) else {
            return;
        };
        let open = ctx.model.with_untracked(|m| m.open.as_ref().map(|o| o.id));
        match action {
            Action::Next | Action::Previous => {
                if let Some(id) = ctx.model.with_untracked(|m| m.step(action == Action::Next)) {
                    ctx.skip_autofocus.set_value(true);
                    ctx.select(id);
                    scroll_to_row(id.0);
                }
            }
            Action::FocusComposer => {
                // Not typed into the box it focuses.
                ev.prevent_default();
                focus(".composer-bar textarea");
            }
            Action::Resolve => {
                if let Some(id) = open {
                    ctx.run(|m| m.set_status(id, ConversationStatus::Resolved, None));
                }
            }
            Action::AssignToMe => {
                if let Some(id) = open {
                    ctx.run(|m| m.assign_to_me(id));
                }
            }
            Action::Help => ctx.overlay.update(|o| *o = if *o == Overlay::Help { Overlay::None } else { Overlay::Help }),
            Action::Escape => {
                if ctx.overlay.get_untracked() != Overlay::None {
                    ctx.overlay.set(Overlay::None);
                } else if in_text {
                    if let Some(el) = document().active_element().and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
                        let _ = el.blur();
                    }
                }
            }
        }
    })
}

fn focus(selector: &str) {
    if let Some(el) = document().query_selector(selector).ok().flatten().and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = el.focus();
    }
}

fn scroll_to_row(id: i64) {
    if let Some(el) = document().query_selector(&format!(".conv-item[data-id=\"{id}\"]")).ok().flatten() {
        el.scroll_into_view_with_bool(false);
    }
}

/// The list of shortcuts, over the page (`?`; Esc or a click outside closes it).
#[component]
pub fn ShortcutHelp() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let close = move |_| ctx.overlay.set(Overlay::None);
    move || {
        (ctx.overlay.get() == Overlay::Help).then(|| {
            view! {
                <div class="overlay" on:click=close>
                    <div
                        class="overlay-card shortcuts"
                        role="dialog"
                        aria-modal="true"
                        aria-label="Keyboard shortcuts"
                        on:click=|ev| ev.stop_propagation()
                    >
                        <header class="overlay-head">
                            <h2>"Keyboard shortcuts"</h2>
                            <button type="button" class="link-button" on:click=close>"Close"</button>
                        </header>
                        <dl class="shortcut-list">
                            {SHORTCUTS
                                .iter()
                                .map(|(key, what)| view! {
                                    <div class="shortcut">
                                        <dt><kbd>{*key}</kbd></dt>
                                        <dd>{*what}</dd>
                                    </div>
                                })
                                .collect_view()}
                        </dl>
                        <p class="overlay-hint">"Letters work when you are not typing in a text box."</p>
                    </div>
                </div>
            }
        })
    }
}
