//! Labels: chips on inbox rows, the editor in the thread header, and the inbox's label filter.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::ConversationId;

use crate::api;
use crate::tools::{with_label, Tools};
use crate::Ctx;

/// Grey for a label the list doesn't know yet (made a moment ago elsewhere).
const DEFAULT_COLOR: &str = "#6b7280";

/// One chip, in the label's colour; with `on_remove`, an × that removes it.
#[component]
pub fn LabelChip(name: String, #[prop(optional)] on_remove: Option<Callback<String>>) -> impl IntoView {
    let tools = expect_context::<Tools>();
    let color = {
        let name = name.clone();
        move || tools.color_of(&name).unwrap_or_else(|| DEFAULT_COLOR.to_owned())
    };
    let remove = on_remove.map(|cb| {
        let name = name.clone();
        view! {
            <button
                type="button"
                class="label-remove"
                aria-label=format!("Remove label {name}")
                on:click=move |ev| {
                    ev.stop_propagation();
                    cb.run(name.clone());
                }
            >
                "×"
            </button>
        }
    });
    view! {
        <span class="label-chip" data-label=name.clone() style=move || format!("--label: {}", color())>
            <span class="label-name">{name.clone()}</span>
            {remove}
        </span>
    }
}

/// The conversation's labels, with remove buttons and an input to add one (suggesting the
/// existing labels; a new name makes a new label).
#[component]
pub fn LabelEditor(id: ConversationId) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let tools = expect_context::<Tools>();
    let labels = Memo::new(move |_| ctx.model.with(|m| m.conversation(id).map(|c| c.labels.clone()).unwrap_or_default()));
    let adding = RwSignal::new(false);
    let input = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);

    let save = move |next: Vec<String>| {
        spawn_local(async move {
            match api::set_labels(id, &next).await {
                Ok(stored) => {
                    error.set(None);
                    // The relay sends the row to every dashboard; show it here at once.
                    ctx.model.update(|m| {
                        if let Some(c) = m.conversations.iter_mut().find(|c| c.id == id) {
                            c.labels = stored;
                        }
                    });
                    tools.reload_labels();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let add = move || {
        let name = input.get_untracked();
        if name.trim().is_empty() {
            return;
        }
        input.set(String::new());
        save(with_label(&labels.get_untracked(), &name, true));
    };
    let remove = Callback::new(move |name: String| save(with_label(&labels.get_untracked(), &name, false)));
    let list_id = format!("labels-known-{id}");
    let input_ref: NodeRef<leptos::html::Input> = NodeRef::new();
    Effect::new(move |_| {
        if let Some(el) = input_ref.get() {
            let _ = el.focus();
        }
    });

    view! {
        <div class="labels-editor" aria-label="Labels">
            {move || labels.get().into_iter().map(|name| view! { <LabelChip name on_remove=remove /> }).collect_view()}
            {
                let list_id = list_id.clone();
                move || {
                    if adding.get() {
                        let list_id = list_id.clone();
                        view! {
                            <input
                                class="label-input"
                                placeholder="Label name"
                                aria-label="Add a label"
                                list=list_id.clone()
                                node_ref=input_ref
                                prop:value=move || input.get()
                                on:input=move |ev| input.set(event_target_value(&ev))
                                on:keydown=move |ev: KeyboardEvent| match ev.key().as_str() {
                                    "Enter" => {
                                        ev.prevent_default();
                                        add();
                                    }
                                    "Escape" => {
                                        input.set(String::new());
                                        adding.set(false);
                                    }
                                    _ => {}
                                }
                                on:blur=move |_| {
                                    add();
                                    adding.set(false);
                                }
                            />
                            <datalist id=list_id>
                                {move || {
                                    let have = labels.get();
                                    tools
                                        .labels
                                        .get()
                                        .into_iter()
                                        .filter(|l| !crate::tools::has_label(&have, &l.name))
                                        .map(|l| view! { <option value=l.name></option> })
                                        .collect_view()
                                }}
                            </datalist>
                        }
                        .into_any()
                    } else {
                        view! {
                            <button type="button" class="link-button label-add" on:click=move |_| adding.set(true)>
                                "+ Label"
                            </button>
                        }
                        .into_any()
                    }
                }
            }
            {move || error.get().map(|e| view! { <span class="label-error" role="alert">{e}</span> })}
        </div>
    }
}

/// "All labels" or one of them: the inbox then lists only conversations with that label.
#[component]
pub fn LabelFilter() -> impl IntoView {
    let tools = expect_context::<Tools>();
    view! {
        <select
            class="label-filter"
            aria-label="Filter by label"
            on:change=move |ev| {
                let value = event_target_value(&ev);
                tools.label_filter.set((!value.is_empty()).then_some(value));
            }
            prop:value=move || tools.label_filter.get().unwrap_or_default()
        >
            <option value="">"All labels"</option>
            {move || {
                let current = tools.label_filter.get_untracked();
                tools
                    .labels
                    .get()
                    .into_iter()
                    .map(|l| {
                        let selected = current.as_deref() == Some(l.name.as_str());
                        view! { <option value=l.name.clone() selected=selected>{l.name.clone()}</option> }
                    })
                    .collect_view()
            }}
        </select>
    }
}
