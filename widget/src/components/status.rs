//! The connection status line (`.confab-status`): hidden while all is well.

use leptos::prelude::*;

use crate::app::{App, Conn};

pub fn status(app: &App) -> impl IntoView {
    let s = app.s;
    let text = move || match (s.refused.get(), s.notice.get(), s.conn.get()) {
        (Some(refused), _, _) => refused,
        (None, Some(notice), _) => notice,
        (None, None, Conn::Connecting) => s.t().connecting.to_owned(),
        (None, None, Conn::Offline) => s.t().offline.to_owned(),
        (None, None, _) => String::new(),
    };
    let state = move || {
        if s.refused.with(Option::is_some) {
            "refused"
        } else {
            s.conn.get().as_str()
        }
    };
    let app = app.clone();
    // Always in the DOM, hidden unless offline: cheaper in wasm than a view that comes and goes.
    let no_retry = move || s.conn.get() != Conn::Offline || s.refused.with(Option::is_some);
    view! {
        <div class="confab-status" role="status" data-state=state hidden=move || text().is_empty()>
            <span>{text}</span>
            <button type="button" class="confab-retry-now" hidden=no_retry on:click=move |_| app.retry_now()>{s.t().retry_now}</button>
        </div>
    }
}
