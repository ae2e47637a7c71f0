//! "Prefer your phone? Continue on WhatsApp · Messenger", above the composer: the relay's deep links
//! (from the welcome), each carrying a one-time code that joins the new channel to this
//! conversation. Empty, and hidden by the CSS, when the site has no channel.
//!
//! Filled with plain DOM calls rather than a reactive view: it changes only on a welcome, and a
//! Leptos view of a list of links cost ~3 KB brotli of the widget's 100 KB budget (measured).

use leptos::html::Div;
use leptos::prelude::*;
use shared::{Channel, ContinueLink};

use crate::i18n::Text;

pub fn continue_on(row: NodeRef<Div>) -> impl IntoView {
    view! { <div class="confab-continue-on" node_ref=row></div> }
}

/// Replaces the row's links with `links` (the ones on channels this version knows).
pub fn fill(row: &web_sys::HtmlElement, links: &[ContinueLink], t: &Text) {
    row.set_text_content(None);
    let doc = document();
    let lead_in = crate::text::cat(&[t.prefer_phone, " "]);
    let mut lead = lead_in.as_str();
    for link in links {
        let (tag, name) = match link.channel {
            Channel::Whatsapp => ("whatsapp", "WhatsApp"),
            Channel::Messenger => ("messenger", "Messenger"),
            _ => continue,
        };
        let Ok(a) = doc.create_element("a") else {
            return;
        };
        let label = crate::i18n::fill(t.continue_on, &[name]);
        for (k, v) in [
            ("class", "confab-continue"),
            ("data-channel", tag),
            ("href", &link.url),
            ("target", "_blank"),
            ("rel", "noopener noreferrer"),
            ("aria-label", &label),
        ] {
            let _ = a.set_attribute(k, v);
        }
        a.set_text_content(Some(name));
        let _ = row.append_with_str_1(lead);
        let _ = row.append_child(&a);
        lead = " · ";
    }
}
