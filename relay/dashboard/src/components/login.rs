//! The login page: e-mail and password, `POST /api/v1/auth/login`.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::AdvisorInfo;

use crate::api;

#[component]
pub fn Login(
    /// Called with the advisor once the relay has accepted the credentials (and set the cookie).
    on_login: Callback<AdvisorInfo>,
    /// Shown above the form (e.g. "Your session has ended").
    notice: Option<String>,
) -> impl IntoView {
    let email: NodeRef<html::Input> = NodeRef::new();
    let password: NodeRef<html::Input> = NodeRef::new();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let value = |r: NodeRef<html::Input>| r.get_untracked().map(|el| el.value()).unwrap_or_default();
        let (e, p) = (value(email).trim().to_owned(), value(password));
        if e.is_empty() || p.is_empty() {
            error.set(Some("Enter your e-mail address and password.".into()));
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::login(&e, &p).await {
                Ok(me) => on_login.run(me),
                Err(err) => {
                    error.set(Some(err.message()));
                    busy.set(false);
                    if let Some(el) = password.get_untracked() {
                        let _ = el.focus();
                        el.select();
                    }
                }
            }
        });
    };

    Effect::new(move |_| {
        if let Some(el) = email.get() {
            let _ = el.focus();
        }
    });

    view! {
        <main class="login-page">
            <form class="login-form" on:submit=submit novalidate>
                <div class="login-brand">
                    <span class="logo" aria-hidden="true">"C"</span>
                    <span class="login-product">"Confab"</span>
                </div>
                <h1 class="login-title">"Log in to your inbox"</h1>
                {notice.map(|n| view! { <p class="login-notice">{n}</p> })}
                <label class="field">
                    <span class="field-label">"E-mail"</span>
                    <input
                        node_ref=email
                        type="email"
                        name="email"
                        autocomplete="username"
                        required
                        placeholder="you@company.com"
                    />
                </label>
                <label class="field">
                    <span class="field-label">"Password"</span>
                    <input
                        node_ref=password
                        type="password"
                        name="password"
                        autocomplete="current-password"
                        required
                    />
                </label>
                {move || error.get().map(|e| view! { <p class="login-error" role="alert">{e}</p> })}
                <button type="submit" class="primary" disabled=move || busy.get()>
                    {move || if busy.get() { "Logging in…" } else { "Log in" }}
                </button>
            </form>
        </main>
    }
}
