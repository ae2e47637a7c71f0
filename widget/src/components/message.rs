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
        Author::Bot => ("bot", Some(app.s.t().assistant.to_owned())),
        _ => ("system", None),
    };
    // Committed messages of the visitor's follow the advisors' cursors (sent → delivered → read);
    // the newest one says so in words.
    let s = app.s;
    let own = kind == "visitor";
    let seq = e.seq.unwrap_or(0);
    let label = e.text_is_label();
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
        let t = s.t();
        match state() {
            "read" => t.read,
            "delivered" => t.delivered,
            _ => t.sent,
        }
    };
    let extra = match e.delivery {
        Delivery::Sent => None,
        Delivery::Sending => Some(Either::Left(
            view! { <span class="confab-msg-sending">{s.t().sending}</span> },
        )),
        Delivery::Failed(reason) => {
            let app = app.clone();
            let id = e.id.clone();
            Some(Either::Right(view! {
                <button type="button" class="confab-msg-retry" on:click=move |_| app.retry(&id)>
                    {crate::i18n::fill(s.t().not_sent, &[&reason])}
                </button>
            }))
        }
    };
    let time = text::clock(local_ms(e.at));
    let files = NodeRef::<leptos::html::Div>::new();
    let body = if label { "" } else { e.text.as_str() };
    let body = segments(body);
    if !e.files.is_empty() {
        let (list, relay) = (e.files, app.opts.relay.clone());
        files.on_load(move |el| crate::components::files::fill(&el, &list, &relay, s.lang.get_untracked().text()));
    }
    view! {
        <div class="confab-msg" data-author=kind data-state=state>
            {name.map(|n| view! { <div class="confab-msg-author">{n}</div> })}
            <div class="confab-msg-bubble"><div class="confab-files" node_ref=files></div><span class="confab-msg-text">{body}</span></div>
            <div class="confab-msg-meta"><span class="confab-msg-time">{time}</span>{extra}<span class="confab-msg-receipt">{receipt}</span></div>
        </div>
    }
}
