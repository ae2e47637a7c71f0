//! Canned responses: the `/` menu above the composer, and the "Manage replies" dialog.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::tools::{canned_query, filter_canned, Canned, Tools};

/// The `/` menu's state, for one composer.
#[derive(Clone, Copy)]
pub struct CannedMenu {
    /// The replies matching what follows `/` (empty when the draft is not a query).
    pub matches: Memo<Vec<Canned>>,
    /// The draft is a query and Esc hasn't closed the menu.
    pub open: Memo<bool>,
    pub active: RwSignal<usize>,
    /// Esc closes the menu until the draft stops being a query.
    pub dismissed: RwSignal<bool>,
    tools: Tools,
}

/// What a key press in the composer did to the menu.
pub enum MenuKey {
    /// Not the menu's: the composer handles it.
    Ignored,
    Handled,
    Insert(Canned),
}

impl CannedMenu {
    pub fn new(draft: Memo<String>) -> Self {
        let tools = expect_context::<Tools>();
        let dismissed = RwSignal::new(false);
        let matches = Memo::new(move |_| {
            draft.with(|d| match canned_query(d) {
                Some(q) => tools.canned.with(|list| filter_canned(list, q).into_iter().cloned().collect()),
                None => Vec::new(),
            })
        });
        let open = Memo::new(move |_| !dismissed.get() && draft.with(|d| canned_query(d).is_some()));
        CannedMenu { matches, open, active: RwSignal::new(0), dismissed, tools }
    }

    /// The draft changed: a new query starts at the top, and a draft that is no query any more
    /// lets the next `/` open the menu again. A fresh `/` reloads the list, so replies other
    /// advisors saved since are there.
    pub fn on_input(&self, value: &str) {
        self.active.set(0);
        if canned_query(value).is_none() {
            self.dismissed.set(false);
        }
        if value == "/" {
            self.tools.reload_canned();
        }
    }

    pub fn on_key(&self, ev: &KeyboardEvent) -> MenuKey {
        if !self.open.get_untracked() {
            return MenuKey::Ignored;
        }
        let n = self.matches.with_untracked(Vec::len);
        match ev.key().as_str() {
            "Escape" => {
                self.dismissed.set(true);
                MenuKey::Handled
            }
            "ArrowDown" if n > 0 => {
                self.active.update(|a| *a = (*a + 1) % n);
                MenuKey::Handled
            }
            "ArrowUp" if n > 0 => {
                self.active.update(|a| *a = (*a + n - 1) % n);
                MenuKey::Handled
            }
            "Enter" | "Tab" if n > 0 && !ev.shift_key() && !ev.is_composing() => {
                let i = self.active.get_untracked().min(n - 1);
                self.matches.with_untracked(|m| m.get(i).cloned()).map_or(MenuKey::Handled, MenuKey::Insert)
            }
            _ => MenuKey::Ignored,
        }
    }

    /// A reply went in: close until the next query.
    pub fn inserted(&self) {
        self.dismissed.set(true);
        self.active.set(0);
    }
}

/// The menu itself, above the composer. Items take the mouse too (`mousedown`, so the textarea
/// keeps focus).
#[component]
pub fn CannedPopup(menu: CannedMenu, on_pick: Callback<Canned>) -> impl IntoView {
    let tools = expect_context::<Tools>();
    move || {
        menu.open.get().then(|| {
            let matches = menu.matches.get();
            let empty = matches.is_empty();
            view! {
                <div class="canned-menu" role="listbox" aria-label="Canned responses">
                    {matches
                        .into_iter()
                        .enumerate()
                        .map(|(i, c)| {
                            let pick = c.clone();
                            view! {
                                <div
                                    class="canned-item"
                                    role="option"
                                    data-shortcut=c.shortcut.clone()
                                    aria-selected=move || (menu.active.get() == i).to_string()
                                    on:mouseenter=move |_| menu.active.set(i)
                                    on:mousedown=move |ev| {
                                        ev.prevent_default();
                                        on_pick.run(pick.clone());
                                    }
                                >
                                    <span class="canned-shortcut">"/" {c.shortcut.clone()}</span>
                                    <span class="canned-text">{c.text.clone()}</span>
                                    {(!c.shared).then(|| view! { <span class="tag canned-personal">"Mine"</span> })}
                                </div>
                            }
                        })
                        .collect_view()}
                    {empty.then(|| view! { <p class="canned-none">"No canned response matches."</p> })}
                    <div class="canned-foot">
                        <span>
                            <kbd>"↑"</kbd> <kbd>"↓"</kbd> " choose · " <kbd>"Enter"</kbd> " insert · " <kbd>"Esc"</kbd> " close"
                        </span>
                        <button
                            type="button"
                            class="link-button canned-manage"
                            on:mousedown=move |ev| ev.prevent_default()
                            on:click=move |_| tools.managing.set(true)
                        >
                            "Manage replies"
                        </button>
                    </div>
                </div>
            }
        })
    }
}

/// "Manage replies": list, create, edit and delete canned responses.
#[component]
pub fn ManageReplies() -> impl IntoView {
    let tools = expect_context::<Tools>();
    // The reply being edited (None: a new one), the form's fields, and the last refusal.
    let editing = RwSignal::new(None::<i64>);
    let shortcut = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let shared = RwSignal::new(true);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let reset = move || {
        editing.set(None);
        shortcut.set(String::new());
        text.set(String::new());
        shared.set(true);
        error.set(None);
    };
    let close = move || {
        reset();
        tools.managing.set(false);
    };
    let save = move || {
        let (id, s, t, sh) = (editing.get_untracked(), shortcut.get_untracked(), text.get_untracked(), shared.get_untracked());
        busy.set(true);
        spawn_local(async move {
            let result = match id {
                Some(id) => api::update_canned(id, &s, &t).await,
                None => api::create_canned(&s, &t, sh).await,
            };
            busy.set(false);
            match result {
                Ok(_) => {
                    reset();
                    tools.reload_canned();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let delete = move |id: i64| {
        spawn_local(async move {
            match api::delete_canned(id).await {
                Ok(()) => {
                    if editing.get_untracked() == Some(id) {
                        reset();
                    }
                    tools.reload_canned();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let edit = move |c: Canned| {
        editing.set(Some(c.id));
        shortcut.set(c.shortcut);
        text.set(c.text);
        shared.set(c.shared);
        error.set(None);
    };

    move || {
        tools.managing.get().then(|| {
            view! {
                <div class="modal-backdrop" on:click=move |_| close()>
                    <div
                        class="modal manage-replies"
                        role="dialog"
                        aria-modal="true"
                        aria-label="Canned responses"
                        on:click=|ev| ev.stop_propagation()
                        on:keydown=move |ev: KeyboardEvent| {
                            if ev.key() == "Escape" {
                                close();
                            }
                        }
                    >
                        <header class="modal-head">
                            <h2>"Canned responses"</h2>
                            <button type="button" class="link-button modal-close" on:click=move |_| close()>"Close"</button>
                        </header>
                        <p class="modal-hint">
                            "Type " <kbd>"/"</kbd> " at the start of a reply to insert one. "
                            <code>"{{name}}"</code> " becomes the customer's first name."
                        </p>
                        <ul class="canned-list">
                            {move || {
                                tools
                                    .canned
                                    .get()
                                    .into_iter()
                                    .map(|c| {
                                        let id = c.id;
                                        let this = c.clone();
                                        view! {
                                            <li class="canned-row" data-shortcut=c.shortcut.clone()>
                                                <span class="canned-shortcut">"/" {c.shortcut.clone()}</span>
                                                <span class="canned-text">{c.text.clone()}</span>
                                                <span class="tag">{if c.shared { "Shared" } else { "Mine" }}</span>
                                                {c.can_edit.then(|| view! {
                                                    <span class="canned-actions">
                                                        <button type="button" class="link-button canned-edit"
                                                            on:click=move |_| edit(this.clone())>"Edit"</button>
                                                        <button type="button" class="link-button canned-delete"
                                                            on:click=move |_| delete(id)>"Delete"</button>
                                                    </span>
                                                })}
                                            </li>
                                        }
                                    })
                                    .collect_view()
                            }}
                            {move || tools.canned.with(Vec::is_empty).then(|| view! {
                                <li class="canned-none">"No canned responses yet."</li>
                            })}
                        </ul>
                        <form class="canned-form" on:submit=move |ev| {
                            ev.prevent_default();
                            save();
                        }>
                            <h3>{move || if editing.get().is_some() { "Edit reply" } else { "New reply" }}</h3>
                            <label>
                                <span>"Shortcut"</span>
                                <input class="canned-form-shortcut" placeholder="thanks" autocomplete="off"
                                    prop:value=move || shortcut.get()
                                    on:input=move |ev| shortcut.set(event_target_value(&ev)) />
                            </label>
                            <label>
                                <span>"Text"</span>
                                <textarea class="canned-form-text" rows="3" placeholder="Thanks {{name}}, glad I could help!"
                                    prop:value=move || text.get()
                                    on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                            </label>
                            {move || editing.get().is_none().then(|| view! {
                                <label class="canned-form-shared">
                                    <input type="checkbox" prop:checked=move || shared.get()
                                        on:change=move |ev| shared.set(event_target_checked(&ev)) />
                                    <span>"Shared with every advisor"</span>
                                </label>
                            })}
                            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                            <div class="canned-form-buttons">
                                {move || editing.get().is_some().then(|| view! {
                                    <button type="button" on:click=move |_| reset()>"Cancel"</button>
                                })}
                                <button type="submit" class="primary canned-save"
                                    disabled=move || busy.get() || shortcut.with(|s| s.trim().is_empty()) || text.with(|t| t.trim().is_empty())>
                                    {move || if editing.get().is_some() { "Save" } else { "Add reply" }}
                                </button>
                            </div>
                        </form>
                    </div>
                </div>
            }
        })
    }
}
