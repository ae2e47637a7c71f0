//! Below the thread, one card at a time: "Get notified by e-mail when we reply" (while the visitor
//! waits for an answer and the relay has no e-mail for them), "We'll e-mail you at …" once it has, or,
//! once the conversation is resolved, "How did we do?" (1–5, an optional comment) and then thanks.
//!
//! Plain DOM (an HTML string of catalogue words, one delegated listener), like the continue row: it
//! changes only when its [`Card`] does, and Leptos views of two forms cost far more of the widget's
//! size budget.

use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

use crate::app::App;
use crate::i18n::Text;

pub fn reach(row: NodeRef<Div>) -> impl IntoView {
    view! { <div class="confab-reach" node_ref=row></div> }
}

/// What the card shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Card {
    None,
    /// Offer to be told by e-mail.
    Offer,
    /// The relay will write to this address.
    Saved(String),
    /// "How did we do?"
    Ask,
    Thanks,
}

impl Card {
    /// The survey first; the e-mail only while the visitor waits for an answer.
    /// `survey` as in `State::survey`.
    pub fn pick(survey: shared::Seq, email: Option<&str>, awaiting_reply: bool) -> Card {
        match (survey, email, awaiting_reply) {
            (crate::app::ASKED, ..) => Card::Ask,
            (crate::app::NO_SURVEY, _, false) => Card::None,
            (crate::app::NO_SURVEY, Some(e), true) => Card::Saved(e.to_owned()),
            (crate::app::NO_SURVEY, None, true) => Card::Offer,
            _ => Card::Thanks,
        }
    }
}

/// A rough shape check (the relay checks for real): something@something.tld, no spaces.
pub fn looks_like_email(s: &str) -> bool {
    let s = s.trim();
    match s.split_once('@') {
        Some((user, host)) => {
            !user.is_empty()
                && host.contains('.')
                && !host.starts_with('.')
                && !host.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !host.contains('@')
        }
        None => false,
    }
}

/// `value` of an input or textarea.
fn value(e: &Element) -> String {
    js_sys::Reflect::get(e, &JsValue::from_str("value"))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// The first element under `row` matching `selector`.
fn find(row: &Element, selector: &str) -> Option<Element> {
    row.query_selector(selector).ok().flatten()
}

/// One click listener on the row for both cards, installed once (a closure per button costs
/// wasm of its own). Enter in the e-mail field submits the form by clicking its submit button, so
/// clicks cover it too.
pub fn listen(app: &App, row: &web_sys::HtmlElement) {
    let me = app.clone();
    let root: Element = row.clone().into();
    let f = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
        let t = me.s.lang.get_untracked().text();
        let Some(target) = ev.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
            return;
        };
        match target.get_attribute("class").as_deref() {
            Some("confab-notify-send") => {
                ev.prevent_default();
                let (Some(input), Some(error)) = (find(&root, ".confab-email"), find(&root, ".confab-notify-error")) else {
                    return;
                };
                let email = value(&input).trim().to_owned();
                if looks_like_email(&email) {
                    me.set_email(email);
                } else {
                    error.set_text_content(Some(t.email_invalid));
                    let _ = input.set_attribute("aria-invalid", "true");
                }
            }
            Some("confab-push") => {
                let me = me.clone();
                let _ = target.set_attribute("disabled", "");
                leptos::task::spawn_local(async move {
                    let t = me.s.lang.get_untracked().text();
                    target.set_text_content(Some(if me.subscribe_push().await { t.push_on } else { t.push_off }));
                });
            }
            Some("confab-rate") => {
                // This rating pressed, the one before not; the send button takes it.
                if let Some(before) = find(&root, "[aria-pressed=true]") {
                    let _ = before.set_attribute("aria-pressed", "false");
                }
                let _ = target.set_attribute("aria-pressed", "true");
                if let (Some(send), Some(n)) = (find(&root, ".confab-survey-send"), target.get_attribute("data-rating")) {
                    let _ = send.set_attribute("data-rating", &n);
                }
            }
            Some("confab-survey-send") => {
                // "1" … "5" (set above): its digit; nothing before a rating is chosen.
                let rating = target.get_attribute("data-rating").and_then(|n| n.bytes().next()).map_or(0, |b| b.wrapping_sub(b'0'));
                let comment = find(&root, ".confab-survey-comment").map(|c| value(&c)).unwrap_or_default();
                if (1..=5).contains(&rating) {
                    me.rate(rating, comment);
                }
            }
            _ => {}
        }
    });
    let _ = row.add_event_listener_with_callback("click", f.as_ref().unchecked_ref());
    f.forget();
}

/// Replaces the row's content with `card`. The words are the catalogue's (no markup in them); the
/// one piece of outside text, the e-mail, goes in as text.
pub fn fill(row: &web_sys::HtmlElement, card: &Card, t: &Text, push: bool) {
    let (name, html) = match card {
        Card::None => ("none", String::new()),
        Card::Offer => (
            "offer",
            crate::text::cat(&[
                r#"<form class="confab-notify" novalidate><label class="confab-notify-lead" for="confab-email">"#,
                t.notify_offer,
                r#"</label><input id="confab-email" class="confab-email" type="email" autocomplete="email" placeholder=""#,
                t.email_placeholder,
                r#""><button type="submit" class="confab-notify-send">"#,
                t.notify_me,
                r#"</button><p class="confab-notify-error" role="alert"></p>"#,
                if push { r#"<button type="button" class="confab-push">"# } else { "<i hidden>" },
                t.push_offer,
                if push { "</button></form>" } else { "</i></form>" },
            ]),
        ),
        Card::Saved(_) => ("saved", r#"<p class="confab-notify-saved" role="status"></p>"#.into()),
        Card::Ask => {
            let mut buttons = String::new();
            for n in ["1", "2", "3", "4", "5"] {
                buttons.push_str(&crate::text::cat(&[
                    r#"<button type="button" class="confab-rate" aria-pressed="false" data-rating=""#,
                    n,
                    r#"" aria-label=""#,
                    &crate::i18n::fill(t.rate_label, &[n]),
                    r#"">"#,
                    n,
                    "</button>",
                ]));
            }
            (
                "ask",
                crate::text::cat(&[
                    r#"<div class="confab-survey" role="group" aria-label=""#,
                    t.how_did_we_do,
                    r#""><p class="confab-survey-q">"#,
                    t.how_did_we_do,
                    r#"</p><div class="confab-rating">"#,
                    &buttons,
                    r#"</div><textarea class="confab-survey-comment" rows="2" maxlength="1000" aria-label=""#,
                    t.survey_comment,
                    r#"" placeholder=""#,
                    t.survey_comment,
                    r#""></textarea><button type="button" class="confab-survey-send">"#,
                    t.survey_send,
                    "</button></div>",
                ]),
            )
        }
        Card::Thanks => (
            "thanks",
            crate::text::cat(&[r#"<p class="confab-survey-thanks" role="status">"#, t.survey_thanks, "</p>"]),
        ),
    };
    let _ = row.set_attribute("data-card", name);
    row.set_inner_html(&html);
    if let (Card::Saved(email), Some(p)) = (card, row.first_element_child()) {
        p.set_text_content(Some(&crate::i18n::fill(t.email_saved, &[email])));
    }
    // The card took room from the thread: keep its newest message in sight.
    if let Some(thread) = row.previous_element_sibling() {
        thread.set_scroll_top(1 << 30);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_survey_comes_first_and_the_email_offer_only_while_waiting() {
        use crate::app::{ASKED, NO_SURVEY};
        assert_eq!(Card::pick(ASKED, None, true), Card::Ask);
        assert_eq!(Card::pick(4, Some("a@b.c"), false), Card::Thanks);
        assert_eq!(Card::pick(NO_SURVEY, None, true), Card::Offer);
        assert_eq!(Card::pick(NO_SURVEY, Some("a@b.c"), true), Card::Saved("a@b.c".into()));
        assert_eq!(Card::pick(NO_SURVEY, None, false), Card::None);
    }

    #[test]
    fn email_shapes_are_checked_roughly() {
        for ok in ["ana@shop.example", " a.b+c@x.io "] {
            assert!(looks_like_email(ok), "{ok}");
        }
        for bad in ["", "ana", "ana@", "@x.io", "ana@x", "ana@.io", "an a@x.io", "a@b@c.io", "ana@x."] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}
