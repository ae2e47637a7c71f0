//! The reply box: Enter sends, Shift+Enter adds a line; a counter appears near the length limit.
//! For a WhatsApp or Messenger customer it also says how long the platform's window leaves to reply,
//! lets the advisor choose the channel ("Reply via"), and once WhatsApp's window has closed offers
//! the approved templates instead of free text.

use std::time::Duration;

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use shared::limits::{text_chars, MAX_TEXT_CHARS};
use shared::{Channel, ConversationId, TemplateInfo};

use super::canned::{CannedMenu, CannedPopup, MenuKey};
use super::channels::Badge;
use super::emoji::EmojiButton;
use crate::channel::{self, WindowState};
use crate::tools::{expand, insert_at, Canned, Tools};
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
    let textarea: NodeRef<html::Textarea> = NodeRef::new();
    // "Private note": written for advisors only; no channel, window, template or typing applies.
    let note_mode = RwSignal::new(false);

    // Where the reply goes, and what the platform's window allows right now.
    let summary = Memo::new(move |_| ctx.model.with(|m| m.conversation(id).cloned()));
    // The choices of "Reply via" (rebuilt only when they change), and the one in effect.
    let options = Memo::new(move |_| summary.with(|s| s.as_ref().map(channel::reply_options).unwrap_or_default()));
    let via = move || {
        let chosen = ctx.via.with(|v| v.get(&id).copied());
        summary.with(|s| s.as_ref().and_then(|s| channel::resolve_via(s, chosen)))
    };
    let window = Memo::new(move |_| {
        let now = ctx.now.get();
        summary.with(|s| s.as_ref().and_then(|s| channel::window(s, via(), now)))
    });
    let closed = Memo::new(move |_| window.with(|w| w.as_ref().is_some_and(|w| w.state == WindowState::Closed)));
    // WhatsApp outside its window: only an approved template can go.
    let template_mode = Memo::new(move |_| {
        !note_mode.get()
            && window.with(|w| {
            w.as_ref()
                .is_some_and(|w| w.state == WindowState::Closed && w.channel == Channel::Whatsapp)
        })
    });
    let templates = Memo::new(move |_| ctx.model.with(|m| m.templates().to_vec()));
    let picked = RwSignal::new(None::<TemplateInfo>);
    let params = RwSignal::new(Vec::<String>::new());
    let template_ready = move || {
        picked.with(|t| {
            t.as_ref().is_some_and(|t| {
                params.with(|p| p.len() >= t.param_count() && p.iter().all(|v| !v.trim().is_empty()))
            })
        })
    };
    let can_send = move || {
        if note_mode.get() {
            !draft.with(|d| d.trim().is_empty()) && !too_long()
        } else if template_mode.get() {
            template_ready()
        } else {
            !closed.get() && !draft.with(|d| d.trim().is_empty()) && !too_long()
        }
    };

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
        if note_mode.get_untracked() {
            return; // the customer must not see "typing…" for a note
        }
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
        let via = untrack(via);
        if template_mode.get_untracked() {
            let Some(template) = picked.get_untracked() else { return };
            let values = params.get_untracked();
            let mut sent = false;
            ctx.run(|m| match m.compose_template(new_client_id(), &template, &values, via, now_ms()) {
                Ok(frames) => {
                    sent = true;
                    frames
                }
                Err(_) => Vec::new(),
            });
            if sent {
                picked.set(None);
                params.set(Vec::new());
            }
            return;
        }
        let note = note_mode.get_untracked();
        if closed.get_untracked() && !note {
            return; // the window line says why; the draft stays
        }
        let text = draft.get_untracked();
        if !text.trim().is_empty() {
            // "Stopped typing" before the reply, as the widget does.
            stop_typing();
        }
        let mut sent = false;
        ctx.run(|m| match if note { m.compose_note(new_client_id(), &text, now_ms()) } else { m.compose(new_client_id(), &text, via, now_ms()) } {
            Ok(frames) => {
                sent = true;
                frames
            }
            Err(_) => Vec::new(),
        });
        if sent {
            ctx.drafts.update(|d| {
                d.remove(&id);
            });
            if let Some(el) = textarea.get_untracked() {
                el.set_value("");
            }
            fit();
        }
        if let Some(el) = textarea.get_untracked() {
            let _ = el.focus();
        }
    };

    // Canned responses (`/` at the start) and emoji both replace the draft and keep typing going.
    let tools = expect_context::<Tools>();
    let menu = CannedMenu::new(draft);
    let set_draft = move |value: String, cursor: Option<u32>| {
        ctx.drafts.update(|d| {
            d.insert(id, value.clone());
        });
        if let Some(el) = textarea.get_untracked() {
            el.set_value(&value);
            let _ = el.focus();
            if let Some(at) = cursor {
                let _ = el.set_selection_range(at, at);
            }
        }
        if !value.trim().is_empty() {
            keep_typing();
        }
        fit();
    };
    let insert_canned = Callback::new(move |c: Canned| {
        let name = summary.with_untracked(|s| s.as_ref().map(|s| s.visitor_name.clone()).unwrap_or_default());
        menu.inserted();
        let text = expand(&c.text, &name);
        let end = text.encode_utf16().count() as u32;
        set_draft(text, Some(end));
    });
    let insert_emoji = Callback::new(move |emoji: &'static str| {
        let Some(el) = textarea.get_untracked() else { return };
        let value = el.value();
        let len = value.encode_utf16().count() as u32;
        let start = el.selection_start().ok().flatten().unwrap_or(len);
        let end = el.selection_end().ok().flatten().unwrap_or(start);
        let (value, cursor) = insert_at(&value, start, end, emoji);
        menu.on_input(&value);
        set_draft(value, Some(cursor));
    });

    let on_keydown = move |ev: KeyboardEvent| {
        match menu.on_key(&ev) {
            MenuKey::Ignored => {}
            MenuKey::Handled => {
                ev.prevent_default();
                return;
            }
            MenuKey::Insert(canned) => {
                ev.prevent_default();
                insert_canned.run(canned);
                return;
            }
        }
        // `is_composing`: Enter that confirms an IME composition is not a send.
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() && ev.key_code() != 229 {
            ev.prevent_default();
            send();
        }
    };
    let on_input = move |ev| {
        let value = event_target_value(&ev);
        menu.on_input(&value);
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

    // Ready to type as soon as a conversation opens (unless opened with `j` / `k`, which must keep
    // working from the keyboard: `r` goes to the box).
    Effect::new(move |_| {
        if let Some(el) = textarea.get() {
            if ctx.skip_autofocus.get_value() {
                ctx.skip_autofocus.set_value(false);
            } else {
                let _ = el.focus();
            }
            fit();
        }
    });

    let on_via = move |ev| {
        let value = event_target_value(&ev);
        let chosen = options.with_untracked(|o| o.iter().find(|o| o.value == value).and_then(|o| o.via));
        ctx.via.update(|v| match chosen {
            Some(c) => {
                v.insert(id, c);
            }
            None => {
                v.remove(&id);
            }
        });
    };
    let placeholder = move || {
        if note_mode.get() {
            return "Write a private note — only advisors see it".to_owned();
        }
        window.with(|w| match w {
            Some(w) if w.state == WindowState::Closed && w.channel == Channel::Whatsapp => {
                "Free text can't be sent on WhatsApp until the customer writes again".to_owned()
            }
            Some(w) if w.state == WindowState::Closed => format!("Free text can't be sent on {} now", channel::name(w.channel)),
            _ => "Write a reply…".to_owned(),
        })
    };

    // Files: picked with the paperclip, uploaded one at a time with their progress shown, each sent
    // as a reply of its own once the relay has it.
    let picker: NodeRef<html::Input> = NodeRef::new();
    let uploading = RwSignal::new(None::<(String, u32)>);
    let upload_error = RwSignal::new(None::<String>);
    let on_files = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(list) = input.files() else { return };
        let files: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
        input.set_value("");
        upload_error.set(None);
        let mut ok = Vec::new();
        for file in files {
            match crate::api::refuse_file(&file) {
                Some(why) => upload_error.set(Some(format!("{}: {why}", file.name()))),
                None => ok.push(file),
            }
        }
        upload_next(ctx, id, std::rc::Rc::new(std::cell::RefCell::new(ok.into())), uploading, upload_error, via);
    };

    view! {
        <div class="composer-bar" class:note-mode=move || note_mode.get()>
            <div class="composer-mode" role="group" aria-label="Write">
                <button type="button" class="mode-reply" aria-pressed=move || (!note_mode.get()).to_string()
                    on:click=move |_| note_mode.set(false)>"Reply"</button>
                <button type="button" class="mode-note" aria-pressed=move || note_mode.get().to_string()
                    on:click=move |_| {
                        stop_typing();
                        note_mode.set(true);
                    }>"Private note"</button>
            </div>
            {move || {
                (!note_mode.get()).then(|| window.get()).flatten().map(|w| view! {
                    <div
                        class="composer-window"
                        class:urgent=w.urgent
                        data-channel=channel::key(w.channel)
                        data-state=w.state.key()
                    >
                        <Badge channel=w.channel />
                        <span>{w.text}</span>
                    </div>
                })
            }}
            {move || template_mode.get().then(|| view! { <TemplatePicker templates picked params /> })}
            <CannedPopup menu on_pick=insert_canned />
            <textarea
                node_ref=textarea
                class="composer"
                class:over=too_long
                aria-label="Reply"
                placeholder=placeholder
                rows="1"
                disabled=move || closed.get() && !note_mode.get()
                prop:value=move || draft.get()
                on:keydown=on_keydown
                on:input=on_input
            ></textarea>
            <div class="composer-side">
                {move || {
                    let list = if note_mode.get() { Vec::new() } else { options.get() };
                    let current = untrack(via);
                    (!list.is_empty()).then(|| {
                        view! {
                            <label class="reply-via-field">
                                <span class="reply-via-label">"Reply via"</span>
                                <select
                                    class="reply-via"
                                    on:change=on_via
                                    prop:value=move || {
                                        let via = via();
                                        options
                                            .with(|o| o.iter().find(|o| o.via == via).map(|o| o.value))
                                            .unwrap_or("default")
                                    }
                                >
                                    {list
                                        .into_iter()
                                        .map(|o| view! { <option value=o.value selected=o.via == current>{o.label}</option> })
                                        .collect_view()}
                                </select>
                            </label>
                        }
                    })
                }}
                <input type="file" class="attach-input" node_ref=picker hidden multiple
                    accept=shared::limits::UPLOAD_ACCEPT on:change=on_files />
                <button type="button" class="attach" aria-label="Attach a photo, video or PDF" title="Attach a photo, video or PDF"
                    disabled=move || note_mode.get() || uploading.with(Option::is_some) || (closed.get() && !note_mode.get())
                    on:click=move |_| { if let Some(el) = picker.get_untracked() { el.click(); } }>
                    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round">
                        <path d="M21 11l-8.5 8.5a5 5 0 01-7-7L14 4a3.3 3.3 0 014.7 4.7l-8.6 8.6a1.7 1.7 0 01-2.4-2.4L15.6 7"/>
                    </svg>
                </button>
                <EmojiButton on_pick=insert_emoji />
                <button
                    type="button"
                    class="send primary"
                    disabled=move || !can_send()
                    on:click=move |_| send()
                >
                    {move || if note_mode.get() { "Add note" } else if template_mode.get() { "Send template" } else { "Send" }}
                </button>
            </div>
            {move || uploading.get().map(|(name, pct)| view! {
                <div class="upload-progress" role="status">
                    <span>{format!("Sending {name}… {pct}%")}</span>
                    <progress max="100" value=pct></progress>
                </div>
            })}
            {move || upload_error.get().map(|e| view! { <p class="upload-error" role="alert">{e}</p> })}
            <div class="composer-foot">
                <span class="composer-hint">
                    <kbd>"Enter"</kbd> " to send · " <kbd>"Shift"</kbd> "+" <kbd>"Enter"</kbd> " for a new line · "
                    <kbd>"/"</kbd> " canned replies "
                    <button type="button" class="link-button canned-manage" on:click=move |_| tools.managing.set(true)>
                        "(manage)"
                    </button>
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

/// The approved WhatsApp templates: pick one, fill in its placeholders, see the message as the
/// customer will.
#[component]
fn TemplatePicker(
    templates: Memo<Vec<TemplateInfo>>,
    picked: RwSignal<Option<TemplateInfo>>,
    params: RwSignal<Vec<String>>,
) -> impl IntoView {
    let on_pick = move |ev| {
        let value = event_target_value(&ev);
        let template = value
            .parse::<usize>()
            .ok()
            .and_then(|i| templates.with(|t| t.get(i).cloned()));
        params.set(vec![String::new(); template.as_ref().map_or(0, TemplateInfo::param_count)]);
        picked.set(template);
    };
    move || {
        let list = templates.get();
        if list.is_empty() {
            return view! {
                <p class="templates template-none">
                    "No approved templates are configured; the customer has to write first."
                </p>
            }
            .into_any();
        }
        view! {
            <div class="templates">
                <label class="template-field">
                    <span>"Template"</span>
                    <select class="template-pick" on:change=on_pick>
                        <option value="" selected=move || picked.with(Option::is_none)>
                            "Choose an approved template…"
                        </option>
                        {list
                            .iter()
                            .enumerate()
                            .map(|(i, t)| {
                                let this = t.clone();
                                view! {
                                    <option
                                        value=i.to_string()
                                        selected=move || picked.with(|p| p.as_ref() == Some(&this))
                                    >
                                        {format!("{} ({})", t.name, t.language)}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                {move || picked.get().map(|t| view! { <TemplateForm template=t params /> })}
            </div>
        }
        .into_any()
    }
}

#[component]
fn TemplateForm(template: TemplateInfo, params: RwSignal<Vec<String>>) -> impl IntoView {
    let count = template.param_count();
    let text = template.text.clone();
    let preview = move || params.with(|p| template.render(p));
    view! {
        <p class="template-text">{text}</p>
        {(1..=count)
            .map(|n| {
                view! {
                    <label class="template-param-field">
                        <span>{format!("{{{{{n}}}}}")}</span>
                        <input
                            class="template-param"
                            data-param=n
                            autocomplete="off"
                            prop:value=move || params.with(|p| p.get(n - 1).cloned().unwrap_or_default())
                            on:input=move |ev| {
                                let value = event_target_value(&ev);
                                params.update(|p| {
                                    if p.len() < n {
                                        p.resize(n, String::new());
                                    }
                                    p[n - 1] = value;
                                });
                            }
                        />
                    </label>
                }
            })
            .collect_view()}
        <div class="template-preview">
            <span class="template-preview-label">"Preview"</span>
            <p class="template-preview-text">{preview}</p>
        </div>
    }
}

/// Upload the first of `queue`, send it as a reply, then the next.
fn upload_next(
    ctx: Ctx,
    conversation: ConversationId,
    queue: std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<web_sys::File>>>,
    uploading: RwSignal<Option<(String, u32)>>,
    upload_error: RwSignal<Option<String>>,
    via: impl Fn() -> Option<Channel> + Copy + 'static,
) {
    let Some(file) = queue.borrow_mut().pop_front() else {
        uploading.set(None);
        return;
    };
    let name = file.name();
    uploading.set(Some((name.clone(), 0)));
    let shown = name.clone();
    crate::api::upload(
        conversation,
        &file,
        move |pct| uploading.set(Some((shown.clone(), pct))),
        move |answer| {
            match answer {
                Ok(attachment) => {
                    let via = untrack(via);
                    ctx.run(|m| m.compose_files(new_client_id(), "", vec![attachment], via, now_ms()).unwrap_or_default());
                }
                Err(e) => upload_error.set(Some(format!("{name}: {}", e.message()))),
            }
            upload_next(ctx, conversation, queue, uploading, upload_error, via);
        },
    );
}
