//! The advisor's own account (`#account`): two-factor login on or off. [`TwoFactorSetup`] is also
//! the login page's enrolment step when an admin requires two-factor.

use gloo_net::http::Method;
use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use serde_json::json;

use crate::api::{self, ApiError};

#[derive(Debug, Clone, Deserialize)]
struct Setup {
    secret: String,
    uri: String,
    qr_svg: Option<String>,
}

/// Whether the signed-in account has two-factor (from `GET /api/v1/admin/me`).
#[derive(Debug, Clone, Deserialize)]
pub struct Me {
    pub id: i64,
    pub role: String,
    #[serde(default)]
    pub two_factor: bool,
}

pub async fn me() -> Result<Me, ApiError> {
    api::get_json("/api/v1/admin/me").await
}

/// Ask for a secret, show it (QR code and text), and confirm it with a first code.
#[component]
pub fn TwoFactorSetup(on_done: Callback<()>) -> impl IntoView {
    let setup = RwSignal::new(None::<Setup>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let code: NodeRef<html::Input> = NodeRef::new();

    spawn_local(async move {
        match api::send_json::<Setup>(Method::POST, "/api/v1/auth/totp/setup", &json!({})).await {
            Ok(s) => setup.set(s),
            Err(e) => error.set(Some(e.message())),
        }
    });

    let confirm = move |ev: SubmitEvent| {
        ev.prevent_default();
        let value = code.get_untracked().map(|el| el.value()).unwrap_or_default();
        if value.trim().is_empty() || busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::send_json::<serde_json::Value>(Method::POST, "/api/v1/auth/totp/confirm", &json!({ "code": value })).await {
                Ok(_) => on_done.run(()),
                Err(e) => {
                    error.set(Some(e.message()));
                    busy.set(false);
                }
            }
        });
    };

    view! {
        <form class="totp-setup" on:submit=confirm novalidate>
            {move || setup.get().map(|s| {
                let qr = s.qr_svg.map(|svg| format!("data:image/svg+xml;charset=utf-8,{}", js_sys::encode_uri_component(&svg)));
                view! {
                    <p class="totp-step">"1. Scan this code with an authenticator app (or enter the key by hand)."</p>
                    {qr.map(|src| view! { <img class="totp-qr" src=src alt="QR code for your authenticator app" width="200" height="200" /> })}
                    <p class="totp-secret">"Key: " <code>{s.secret}</code></p>
                    <a class="totp-uri" href=s.uri>"Open in an authenticator app on this device"</a>
                    <label class="field">
                        <span class="field-label">"2. Enter the 6-digit code it shows"</span>
                        <input
                            node_ref=code
                            class="totp-code"
                            name="code"
                            inputmode="numeric"
                            autocomplete="one-time-code"
                            maxlength="7"
                            required
                        />
                    </label>
                    <button type="submit" class="primary" disabled=move || busy.get()>"Turn on two-factor"</button>
                }
            })}
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        </form>
    }
}

/// `#account`: two-factor status, and turning it on or off.
#[component]
pub fn AccountPage() -> impl IntoView {
    let state = RwSignal::new(None::<Me>);
    let enrolling = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let code: NodeRef<html::Input> = NodeRef::new();
    let reload = move || {
        spawn_local(async move {
            match me().await {
                Ok(m) => state.set(Some(m)),
                Err(e) => error.set(Some(e.message())),
            }
        })
    };
    reload();

    let on_enrolled = Callback::new(move |()| {
        enrolling.set(false);
        done.set(Some("Two-factor login is on: you'll enter a code from your app at every login.".into()));
        reload();
    });
    let disable = move |ev: SubmitEvent| {
        ev.prevent_default();
        let value = code.get_untracked().map(|el| el.value()).unwrap_or_default();
        error.set(None);
        spawn_local(async move {
            match api::send_json::<serde_json::Value>(Method::POST, "/api/v1/auth/totp/disable", &json!({ "code": value })).await {
                Ok(_) => {
                    done.set(Some("Two-factor login is off.".into()));
                    reload();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };

    view! {
        <section class="page account-page" aria-label="Your account">
            <header class="page-head">
                <h1>"Your account"</h1>
                <a class="link-button" href="#">"Back to the inbox"</a>
            </header>
            <div class="card">
                <h2>"Two-factor login"</h2>
                {move || done.get().map(|d| view! { <p class="form-ok" role="status">{d}</p> })}
                {move || match state.get() {
                    None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                    Some(m) if m.two_factor => view! {
                        <p>"On. Logging in needs your password and a code from your authenticator app."</p>
                        <form class="inline-form" on:submit=disable>
                            <input node_ref=code class="totp-code" inputmode="numeric" autocomplete="one-time-code" placeholder="Current code" maxlength="7" />
                            <button type="submit" class="secondary">"Turn off"</button>
                        </form>
                    }.into_any(),
                    Some(_) if enrolling.get() => view! { <TwoFactorSetup on_done=on_enrolled /> }.into_any(),
                    Some(_) => view! {
                        <p>"Off. Add a code from an authenticator app to every login, so a stolen password isn't enough."</p>
                        <button type="button" class="primary" on:click=move |_| { done.set(None); enrolling.set(true) }>"Set up two-factor"</button>
                    }.into_any(),
                }}
                {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            </div>
        </section>
    }
}
