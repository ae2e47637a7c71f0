//! The login page: e-mail and password, `POST /api/v1/auth/login`; then, for an account with
//! two-factor, the code from the authenticator app, or, when an admin requires two-factor and the
//! account has none, the enrolment ([`TwoFactorSetup`]).

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::AdvisorInfo;

use super::account::TwoFactorSetup;
use crate::api::{self, LoginOutcome};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Password,
    Code,
    Enrol,
}

#[component]
pub fn Login(
    /// Called with the advisor once the relay has accepted the credentials (and set the cookie).
    on_login: Callback<AdvisorInfo>,
    /// Shown above the form (e.g. "Your session has ended").
    notice: Option<String>,
) -> impl IntoView {
    let email: NodeRef<html::Input> = NodeRef::new();
    let password: NodeRef<html::Input> = NodeRef::new();
    let code: NodeRef<html::Input> = NodeRef::new();
    let step = RwSignal::new(Step::Password);
    let hint = RwSignal::new(None::<String>);
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
        let c = (step.get_untracked() == Step::Code).then(|| value(code).trim().to_owned());
        if c.as_deref() == Some("") {
            error.set(Some("Enter the code from your authenticator app.".into()));
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let result = api::login(&e, &p, c.as_deref()).await;
            busy.set(false);
            match result {
                Ok(LoginOutcome::In(me)) => on_login.run(me),
                Ok(LoginOutcome::NeedCode(message)) => {
                    hint.set(Some(message));
                    step.set(Step::Code);
                }
                Ok(LoginOutcome::MustEnrol(message)) => {
                    hint.set(Some(message));
                    step.set(Step::Enrol);
                }
                Err(err) => {
                    error.set(Some(err.message()));
                    let retry = if step.get_untracked() == Step::Code { code } else { password };
                    if let Some(el) = retry.get_untracked() {
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
    Effect::new(move |_| {
        if let Some(el) = code.get() {
            let _ = el.focus();
        }
    });
    // Enrolled: the enrolment session is now a full one.
    let enrolled = Callback::new(move |()| {
        spawn_local(async move {
            match api::me().await {
                Ok(me) => on_login.run(me),
                Err(e) => error.set(Some(e.message())),
            }
        })
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
                {move || hint.get().map(|h| view! { <p class="login-notice login-hint">{h}</p> })}
                <div class="login-credentials" hidden=move || step.get() == Step::Enrol>
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
                </div>
                {move || (step.get() == Step::Code).then(|| view! {
                    <label class="field">
                        <span class="field-label">"Two-factor code"</span>
                        <input
                            node_ref=code
                            class="login-code"
                            name="code"
                            inputmode="numeric"
                            autocomplete="one-time-code"
                            maxlength="7"
                            required
                        />
                    </label>
                })}
                {move || error.get().map(|e| view! { <p class="login-error" role="alert">{e}</p> })}
                <button type="submit" class="primary" disabled=move || busy.get() hidden=move || step.get() == Step::Enrol>
                    {move || if busy.get() { "Logging in…" } else { "Log in" }}
                </button>
            </form>
            {move || (step.get() == Step::Enrol).then(|| view! {
                <div class="login-form login-enrol">
                    <h1 class="login-title">"Set up two-factor login"</h1>
                    {move || hint.get().map(|h| view! { <p class="login-notice">{h}</p> })}
                    <TwoFactorSetup on_done=enrolled />
                </div>
            })}
        </main>
    }
}
