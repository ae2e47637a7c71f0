//! The composer's emoji button: a grid of common emoji; one click inserts it at the cursor.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;

use crate::tools::EMOJI;

#[component]
pub fn EmojiButton(on_pick: Callback<&'static str>) -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <div class="emoji" on:keydown=move |ev: KeyboardEvent| {
            if ev.key() == "Escape" && open.get_untracked() {
                ev.stop_propagation();
                open.set(false);
            }
        }>
            <button
                type="button"
                class="emoji-toggle"
                aria-label="Insert emoji"
                title="Insert emoji"
                aria-expanded=move || open.get().to_string()
                // Keep the textarea's selection: the emoji goes where the cursor was.
                on:mousedown=|ev| ev.prevent_default()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                "☺"
            </button>
            {move || open.get().then(|| view! {
                <div class="emoji-grid" role="grid" aria-label="Emoji">
                    {EMOJI
                        .iter()
                        .map(|e| {
                            let e: &'static str = e;
                            view! {
                                <button
                                    type="button"
                                    class="emoji-pick"
                                    aria-label=e
                                    on:mousedown=|ev| ev.prevent_default()
                                    on:click=move |_| {
                                        on_pick.run(e);
                                        open.set(false);
                                    }
                                >
                                    {e}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
            })}
        </div>
    }
}
