//! Bot first, a person at any time: above the composer, while the site's bot has the conversation,
//! the quick replies of its newest message (each sends its text) and "Talk to a person" (hands the
//! conversation to the advisors' queue). Empty, and hidden by the CSS, otherwise.
//!
//! Plain DOM like `continue_on.rs` (a reactive list view costs kilobytes of the widget's budget):
//! one click listener on the row, refilled by an effect in `app.rs`.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::app::App;
use crate::i18n::Text;

pub fn bot_row(app: &App) -> impl IntoView {
    let app = app.clone();
    let row = app.bot_row;
    let on_click = move |ev: web_sys::MouseEvent| {
        let Some(button) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else {
            return;
        };
        if button.tag_name() != "BUTTON" {
            return;
        }
        if button.class_name() == "confab-handoff" {
            app.hand_off();
        } else if let Some(text) = button.text_content() {
            app.quick_reply(text);
        }
    };
    view! { <div class="confab-bot" node_ref=row on:click=on_click></div> }
}

/// The quick replies to show: those of bot message `seq` while it is the thread's newest (`last`);
/// an older message's buttons are gone.
pub fn shown(seq: shared::Seq, last: shared::Seq, replies: &[String]) -> &[String] {
    if seq == last {
        replies
    } else {
        &[]
    }
}

/// Fills the row: `replies` (already filtered to the newest message), then "Talk to a person" while
/// the bot is `active`.
pub fn fill(row: &web_sys::HtmlElement, active: bool, replies: &[String], t: &Text) {
    row.set_text_content(None);
    if !active {
        return;
    }
    let doc = document();
    for (class, label) in replies
        .iter()
        .map(|r| ("confab-quick", r.as_str()))
        .chain([("confab-handoff", t.talk_to_person)])
    {
        let Ok(b) = doc.create_element("button") else {
            return;
        };
        let _ = b.set_attribute("type", "button");
        let _ = b.set_attribute("class", class);
        b.set_text_content(Some(label));
        let _ = row.append_child(&b);
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn only_the_newest_bot_messages_quick_replies_are_shown() {
        let replies = vec!["Shipping".to_owned(), "Returns".to_owned()];
        assert_eq!(shown(4, 4, &replies), &replies[..]);
        // The visitor (or an advisor) wrote after it: its buttons are gone.
        assert!(shown(4, 5, &replies).is_empty());
        assert!(shown(0, 0, &[]).is_empty());
    }
}
