//! The files of a message: a photo or a video shown in the thread, anything else (a PDF) as a card
//! with its name and size that opens it. Links are the relay's short-lived signed ones.
//!
//! Built with plain DOM calls once per message, like `continue_on`: a reactive view per kind of
//! file would cost several KB of the widget's budget for content that never changes.

use leptos::prelude::GetUntracked;
use shared::{Attachment, AttachmentKind};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;

use crate::app::App;
use crate::i18n::Text;

/// The paperclip (a labelled button the keyboard reaches) and its hidden file picker, at the start
/// of the composer's `form`; files picked, pasted into the composer or dropped on the panel go to
/// [`App::attach`]. One listener for all of it, added with plain DOM calls (a Leptos view of the
/// same cost ~3 KB of the widget's budget).
pub fn tools(form: &web_sys::HtmlElement, app: &App) {
    let t = app.s.lang.get_untracked().text();
    let (Some(input), Some(button)) = (
        el(
            "input",
            &[
                ("type", "file"),
                ("class", "confab-file-input"),
                ("accept", shared::limits::UPLOAD_ACCEPT),
                ("multiple", ""),
                ("hidden", ""),
                ("tabindex", "-1"),
            ],
        ),
        el("button", &[("type", "button"), ("class", "confab-attach"), ("aria-label", t.attach), ("title", t.attach)]),
    ) else {
        return;
    };
    button.set_inner_html(
        r#"<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"><path d="M21 11l-8.5 8.5a5 5 0 01-7-7L14 4a3.3 3.3 0 014.7 4.7l-8.6 8.6a1.7 1.7 0 01-2.4-2.4L15.6 7"/></svg>"#,
    );
    let _ = form.prepend_with_node_2(&input, &button);
    let app = app.clone();
    let picker = input.clone();
    let on = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
        let kind = ev.type_();
        if kind == "click" {
            if let Some(i) = picker.dyn_ref::<web_sys::HtmlElement>() {
                i.click();
            }
            return;
        }
        if kind == "dragover" {
            ev.prevent_default();
            return;
        }
        // drop: dataTransfer.files; paste: clipboardData.files; change: the picker's files.
        let list = ["dataTransfer", "clipboardData", "target"].iter().find_map(|k| {
            let holder = js_sys::Reflect::get(&ev, &JsValue::from_str(k)).ok()?;
            let list = js_sys::Reflect::get(&holder, &JsValue::from_str("files")).ok()?;
            list.dyn_into::<web_sys::FileList>().ok().filter(|l| l.length() > 0)
        });
        if list.is_some() {
            ev.prevent_default();
            app.attach(list);
        }
        if kind == "change" {
            let _ = js_sys::Reflect::set(&picker, &JsValue::from_str("value"), &JsValue::from_str(""));
        }
    })
    .into_js_value();
    let f = on.unchecked_ref();
    let _ = button.add_event_listener_with_callback("click", f);
    let _ = input.add_event_listener_with_callback("change", f);
    let _ = form.add_event_listener_with_callback("paste", f);
    // Dropped anywhere on the panel.
    if let Ok(Some(panel)) = form.closest(".confab-app") {
        let _ = panel.add_event_listener_with_callback("dragover", f);
        let _ = panel.add_event_listener_with_callback("drop", f);
    }
}

fn el(tag: &str, attrs: &[(&str, &str)]) -> Option<web_sys::Element> {
    let e = leptos::prelude::document().create_element(tag).ok()?;
    for (k, v) in attrs {
        let _ = e.set_attribute(k, v);
    }
    Some(e)
}

/// Fills `into` with `files`; `relay` is the relay's base URL.
pub fn fill(into: &web_sys::Element, files: &[Attachment], relay: &str, t: &Text) {
    for f in files {
        let Some(url) = &f.url else { continue };
        let url = crate::text::cat(&[relay.trim_end_matches('/'), url]);
        let name = f.name.as_deref().unwrap_or(t.photo);
        let node = match f.kind {
            AttachmentKind::Image => el("img", &[("class", "confab-file-img"), ("src", &url), ("alt", name)]),
            AttachmentKind::Video => el(
                "video",
                &[("class", "confab-file-video"), ("src", &url), ("controls", ""), ("preload", "metadata")],
            ),
            _ => el(
                "a",
                &[
                    ("class", "confab-file"),
                    ("href", &url),
                    ("target", "_blank"),
                    ("rel", "noopener noreferrer"),
                ],
            )
            .inspect(|a| {
                for (class, text) in [
                    ("confab-file-icon", "PDF"),
                    ("confab-file-name", name),
                    ("confab-file-size", &crate::text::size(f.size)),
                ] {
                    if let Some(span) = el("span", &[("class", class)]) {
                        span.set_text_content(Some(text));
                        let _ = a.append_child(&span);
                    }
                }
            }),
        };
        if let Some(node) = node {
            let _ = into.append_child(&node);
        }
    }
}
