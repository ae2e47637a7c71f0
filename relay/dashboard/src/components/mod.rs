//! The dashboard's views. `inbox` lays out the page; each other module is one part of it.

pub mod account;
pub mod admin;
pub mod analytics;
pub mod bot_admin;
pub mod canned;
pub mod channels;
pub mod composer;
pub mod conversation_list;
pub mod customer_panel;
pub mod emoji;
pub mod inbox;
pub mod labels;
pub mod login;
pub mod notifications;
pub mod routing;
pub mod search;
pub mod shortcuts;
pub mod thread;

use leptos::prelude::*;
use shared::text::{linkify, Segment};

/// Message text as text nodes, with `http(s)` URLs as links that open in a new tab and pass
/// nothing to the target. Never `inner_html`.
pub fn rich_text(text: &str) -> impl IntoView {
    linkify(text)
        .into_iter()
        .map(|segment| match segment {
            Segment::Text(t) => t.to_owned().into_any(),
            Segment::Link(url) => {
                view! { <a href=url.to_owned() target="_blank" rel="noopener noreferrer nofollow">{url.to_owned()}</a> }
                    .into_any()
            }
        })
        .collect_view()
}

/// Up to two initials for an avatar: "Visitor 12" → "V1", "Ada Lovelace" → "AL".
pub fn initials(name: &str) -> String {
    let mut words = name.split_whitespace();
    let first = words.next().and_then(|w| w.chars().next());
    let second = words.next().and_then(|w| w.chars().next());
    first.into_iter().chain(second).flat_map(char::to_uppercase).collect()
}

#[cfg(test)]
mod tests {
    use super::initials;

    #[test]
    fn initials_take_the_first_letters_of_two_words() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("Visitor 12"), "V1");
        assert_eq!(initials("élodie"), "É");
        assert_eq!(initials("  "), "");
    }
}
