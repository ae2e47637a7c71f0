//! One message bubble. Text goes into text nodes; only http(s) URLs become `<a>` elements.

use leptos::either::Either;
use leptos::prelude::*;
use shared::text::{linkify, Segment};
use shared::Author;

use crate::app::{local_ms, App};
use crate::store::{Delivery, Entry};
use crate::text;

fn segments(body: &str) -> Vec<impl IntoView> {
    linkify(body)
        .into_iter()
        .map(|seg| match seg {
            Segment::Text(t) => Either::Left(t.to_owned()),
            Segment::Link(url) => Either::Right(view! {
                <a href=url.to_owned() target="_blank" rel="noopener noreferrer nofollow">{url.to_owned()}</a>
            }),
        })
        .collect()
}

pub fn message(app: &App, e: Entry) -> impl IntoView {
    let (kind, name) = match &e.author {
        Author::Visitor => ("visitor", None),
        Author::Advisor { name, .. } => ("advisor", Some(name.clone())),
        Author::Bot => ("bot", Some("Assistant".to_owned())),
        _ => ("system", None),
    };
    // Committed messages of the visitor's follow the advisors' cursors (sent → delivered → read);
    // the newest one says so in words.
    let s = app.s;
    let own = kind == "visitor";
    let seq = e.seq.unwrap_or(0);
    let fixed = match e.delivery {
        Delivery::Sent => None,
        Delivery::Sending => Some("sending"),
        Delivery::Failed(_) => Some("failed"),
    };
    let state = move || match fixed {
        Some(f) => f,
        None if own => crate::store::receipt(seq, s.delivered.get(), s.seen.get()),
        None => "sent",
    };
    // Empty (and hidden by the CSS) except under the newest message.
    let receipt = move || {
        if !own || fixed.is_some() || s.thread.with(crate::store::Thread::last_own) != seq {
            return "";
        }
        match state() {
            "read" => "Read",
            "delivered" => "Delivered",
            _ => "Sent",
        }
    };
    let extra = match e.delivery {
        Delivery::Sent => None,
        Delivery::Sending => Some(Either::Left(
            view! { <span class="confab-msg-sending">"Sending…"</span> },
        )),
        Delivery::Failed(reason) => {
            let app = app.clone();
            let id = e.id.clone();
            Some(Either::Right(view! {
                <button type="button" class="confab-msg-retry" on:click=move |_| app.retry(&id)>
                    "Not sent: "{reason}" Tap to retry."
                </button>
            }))
        }
    };
    let time = text::clock(local_ms(e.at));
    view! {
        <div class="confab-msg" data-author=kind data-state=state>
            {name.map(|n| view! { <div class="confab-msg-author">{n}</div> })}
            <div class="confab-msg-bubble"><span class="confab-msg-text">{segments(&e.text)}</span></div>
            <div class="confab-msg-meta"><span class="confab-msg-time">{time}</span>{extra}<span class="confab-msg-receipt">{receipt}</span></div>
        </div>
    }
}
