//! Admin screens at `#admin`: advisors, teams, sites, routing delays, business hours and security.
//! Each section loads from `/api/v1/admin/...`, saves with one request per change, and shows the
//! relay's refusal (its sentence) inline next to what was refused. `HeaderLinks` puts "Account"
//! (everyone) and "Settings" (admins only) in the inbox header.

use gloo_net::http::Method;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::{self, ApiError};

/// The page part of the URL (`#admin`, `#account`, `#c=12`), following `hashchange`.
pub fn hash_page() -> ReadSignal<String> {
    let (hash, set_hash) = signal(location_hash().unwrap_or_default());
    let listener = window_event_listener_untyped("hashchange", move |_| set_hash.set(location_hash().unwrap_or_default()));
    on_cleanup(move || listener.remove());
    hash
}

/// "Account" for everyone, "Settings" for admins.
#[component]
pub fn HeaderLinks() -> impl IntoView {
    let admin = RwSignal::new(false);
    spawn_local(async move {
        if let Ok(me) = super::account::me().await {
            admin.set(me.role == "admin");
        }
    });
    view! {
        <nav class="me-links" aria-label="Account">
            <a href="#account" class="account-link">"Account"</a>
            {move || admin.get().then(|| view! { <a href="#admin" class="settings-link">"Settings"</a> })}
        </nav>
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Advisor {
    id: i64,
    name: String,
    email: String,
    role: String,
    active: bool,
    #[serde(default)]
    teams: Vec<i64>,
    #[serde(default)]
    capacity: u32,
    #[serde(default)]
    two_factor: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Team {
    id: i64,
    name: String,
    members: Vec<i64>,
    first_response_target_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Site {
    key: String,
    name: String,
    greeting: String,
    color: String,
    reply_time: String,
    allowed_origins: Vec<String>,
    team_id: Option<i64>,
    #[serde(default)]
    position: String,
    #[serde(default)]
    launcher: String,
    #[serde(default)]
    avatar: String,
    #[serde(default)]
    identity_secret: Option<String>,
    #[serde(default)]
    require_identity: bool,
    #[serde(default)]
    translations: Vec<shared::SiteTexts>,
}

/// The languages the widget speaks, for the site's texts in each: (tag, who reads them).
const SITE_LANGS: [(&str, &str); 2] = [("fr", "French-speaking visitors"), ("en", "English-speaking visitors")];

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Routing {
    away_after_ms: u64,
    requeue_delay_ms: u64,
    warn_before_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Day {
    open: String,
    close: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Hours {
    timezone: String,
    days: Vec<Option<Day>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Security {
    require_two_factor: bool,
}

/// What every section shares: the lists (teams need the advisors, sites need the teams).
#[derive(Clone, Copy)]
struct Admin {
    advisors: RwSignal<Vec<Advisor>>,
    teams: RwSignal<Vec<Team>>,
}

/// Run a request; on success hand its answer to `ok`, on failure show the relay's sentence in `error`.
fn request<T: DeserializeOwned + 'static>(
    method: Method,
    path: String,
    body: Value,
    error: RwSignal<Option<String>>,
    ok: impl FnOnce(Option<T>) + 'static,
) {
    error.set(None);
    spawn_local(async move {
        match api::send_json::<T>(method, &path, &body).await {
            Ok(v) => ok(v),
            Err(e) => error.set(Some(e.message())),
        }
    });
}

fn load<T: DeserializeOwned + 'static>(path: &'static str, error: RwSignal<Option<String>>, ok: impl FnOnce(T) + 'static) {
    spawn_local(async move {
        match api::get_json::<T>(path).await {
            Ok(v) => ok(v),
            Err(ApiError::Refused(e)) if e.code == shared::ErrorCode::Forbidden => {
                error.set(Some("Only admins can open the settings.".into()))
            }
            Err(e) => error.set(Some(e.message())),
        }
    });
}

pub(super) fn error_line(error: RwSignal<Option<String>>) -> impl IntoView {
    move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })
}

/// Replace the item with the same key in a list signal.
fn replace<T: Clone + Send + Sync + 'static>(list: RwSignal<Vec<T>>, item: T, same: impl Fn(&T, &T) -> bool) {
    list.update(|l| {
        if let Some(slot) = l.iter_mut().find(|x| same(x, &item)) {
            *slot = item;
        } else {
            l.push(item);
        }
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Advisors,
    Teams,
    Sites,
    Routing,
    Hours,
    Security,
    Bot,
}

const TABS: [(Tab, &str); 7] = [
    (Tab::Advisors, "Advisors"),
    (Tab::Teams, "Teams"),
    (Tab::Sites, "Sites"),
    (Tab::Routing, "Routing"),
    (Tab::Hours, "Business hours"),
    (Tab::Security, "Security"),
    (Tab::Bot, "Bot"),
];

#[component]
pub fn AdminPage() -> impl IntoView {
    let admin = Admin { advisors: RwSignal::new(Vec::new()), teams: RwSignal::new(Vec::new()) };
    let tab = RwSignal::new(Tab::Advisors);
    let error = RwSignal::new(None::<String>);
    load("/api/v1/admin/advisors", error, move |a| admin.advisors.set(a));
    load("/api/v1/admin/teams", error, move |t| admin.teams.set(t));

    view! {
        <section class="page admin-page" aria-label="Settings">
            <header class="page-head">
                <h1>"Settings"</h1>
                <a class="link-button" href="#">"Back to the inbox"</a>
            </header>
            {error_line(error)}
            // Nothing to manage when the lists can't be read (not an admin, or offline).
            <Show when=move || error.get().is_none()>
            <nav class="tabs" role="tablist">
                {TABS.iter().map(|&(t, label)| view! {
                    <button
                        type="button"
                        role="tab"
                        class="tab"
                        aria-selected=move || (tab.get() == t).to_string()
                        on:click=move |_| tab.set(t)
                    >
                        {label}
                    </button>
                }).collect_view()}
            </nav>
            {move || match tab.get() {
                Tab::Advisors => view! { <Advisors admin /> }.into_any(),
                Tab::Teams => view! { <Teams admin /> }.into_any(),
                Tab::Sites => view! { <Sites admin /> }.into_any(),
                Tab::Routing => view! { <RoutingForm /> }.into_any(),
                Tab::Hours => view! { <HoursForm /> }.into_any(),
                Tab::Security => view! { <SecurityForm /> }.into_any(),
                Tab::Bot => view! { <super::bot_admin::BotAdmin /> }.into_any(),
            }}
            </Show>
        </section>
    }
}

#[component]
fn Advisors(admin: Admin) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let once = RwSignal::new(None::<(String, String)>);
    let (name, email, role) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new("advisor".to_owned()));

    let patch = move |id: i64, body: Value| {
        request::<Advisor>(Method::PATCH, format!("/api/v1/admin/advisors/{id}"), body, error, move |a| {
            if let Some(a) = a {
                replace(admin.advisors, a, |x, y| x.id == y.id);
            }
        })
    };
    let set_capacity = move |id: i64, text: String| match text.trim().parse::<i64>() {
        Ok(c) => patch(id, json!({"capacity": c})),
        Err(_) => error.set(Some("Capacity is a number of conversations.".into())),
    };
    let action = move |id: i64, what: &'static str| {
        request::<Advisor>(Method::POST, format!("/api/v1/admin/advisors/{id}/{what}"), json!({}), error, move |a| {
            if let Some(a) = a {
                replace(admin.advisors, a, |x, y| x.id == y.id);
            }
        })
    };
    let reset = move |a: Advisor| {
        request::<Value>(Method::POST, format!("/api/v1/admin/advisors/{}/reset-password", a.id), json!({}), error, move |v| {
            let password = v.and_then(|v| v["password"].as_str().map(str::to_owned)).unwrap_or_default();
            once.set(Some((a.email, password)));
        })
    };
    let create = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = json!({"name": name.get_untracked(), "email": email.get_untracked(), "role": role.get_untracked()});
        request::<Value>(Method::POST, "/api/v1/admin/advisors".into(), body, error, move |v| {
            let Some(v) = v else { return };
            if let Ok(a) = serde_json::from_value::<Advisor>(v["advisor"].clone()) {
                once.set(Some((a.email.clone(), v["password"].as_str().unwrap_or_default().to_owned())));
                replace(admin.advisors, a, |x, y| x.id == y.id);
            }
            name.set(String::new());
            email.set(String::new());
        });
    };

    view! {
        <div class="card">
            <h2>"Advisors"</h2>
            {move || once.get().map(|(email, password)| view! {
                <div class="once-secret" role="status">
                    <p>"Password for " <strong>{email}</strong> ": " <code class="new-password">{password}</code></p>
                    <p class="muted">"Shown this once: pass it on now. They can log in with it right away."</p>
                    <button type="button" class="link-button" on:click=move |_| once.set(None)>"Done"</button>
                </div>
            })}
            {error_line(error)}
            <table class="admin-table advisors">
                <thead><tr><th>"Name"</th><th>"Role"</th><th>"Status"</th><th>"Capacity"</th><th>"Two-factor"</th><th></th></tr></thead>
                <tbody>
                    {move || admin.advisors.get().into_iter().map(|a| {
                        let id = a.id;
                        let is_admin = a.role == "admin";
                        let active = a.active;
                        let a2 = a.clone();
                        view! {
                            <tr class="adv-row" data-email=a.email.clone() data-active=active.to_string()>
                                <td><span class="adv-name">{a.name.clone()}</span><br /><span class="muted">{a.email.clone()}</span></td>
                                <td>
                                    <select class="adv-role" aria-label="Role" on:change=move |ev| patch(id, json!({"role": event_target_value(&ev)}))>
                                        <option value="advisor" selected=!is_admin>"Advisor"</option>
                                        <option value="admin" selected=is_admin>"Admin"</option>
                                    </select>
                                </td>
                                <td class="adv-status">{if active { "Active" } else { "Deactivated" }}</td>
                                <td>
                                    <input
                                        class="adv-capacity"
                                        type="number"
                                        min="0"
                                        max="100"
                                        aria-label="Capacity"
                                        prop:value=a.capacity.to_string()
                                        on:change=move |ev| set_capacity(id, event_target_value(&ev))
                                    />
                                </td>
                                <td>{if a.two_factor { "On" } else { "Off" }}</td>
                                <td><div class="row-actions">
                                    {if active {
                                        view! { <button type="button" class="secondary adv-deactivate" on:click=move |_| action(id, "deactivate")>"Deactivate"</button> }.into_any()
                                    } else {
                                        view! { <button type="button" class="secondary adv-reactivate" on:click=move |_| action(id, "reactivate")>"Reactivate"</button> }.into_any()
                                    }}
                                    <button type="button" class="secondary adv-reset" on:click=move |_| reset(a2.clone())>"Reset password"</button>
                                    {a.two_factor.then(|| view! {
                                        <button type="button" class="secondary adv-reset-2fa" title="For a lost phone: they set it up again" on:click=move |_| action(id, "reset-two-factor")>"Reset two-factor"</button>
                                    })}
                                </div></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <form class="inline-form new-advisor" on:submit=create>
                <h3>"Add an advisor"</h3>
                <input name="name" placeholder="Name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                <input name="email" type="email" placeholder="E-mail" prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev)) />
                <select name="role" aria-label="Role" on:change=move |ev| role.set(event_target_value(&ev))>
                    <option value="advisor">"Advisor"</option>
                    <option value="admin">"Admin"</option>
                </select>
                <button type="submit" class="primary">"Create"</button>
            </form>
        </div>
    }
}

/// Minutes in a text field as ms; empty is `None`.
fn minutes_to_ms(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|m| m.is_finite() && *m >= 0.0)
        .map(|m| Some((m * 60_000.0).round() as i64))
        .ok_or_else(|| format!("{text:?} is not a number of minutes."))
}

fn ms_to_minutes(ms: i64) -> String {
    let minutes = ms as f64 / 60_000.0;
    if minutes.fract() == 0.0 { format!("{minutes:.0}") } else { format!("{minutes:.2}") }
}

#[component]
fn Teams(admin: Admin) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let (name, target) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let patch = move |id: i64, body: Value| {
        request::<Team>(Method::PATCH, format!("/api/v1/admin/teams/{id}"), body, error, move |t| {
            if let Some(t) = t {
                replace(admin.teams, t, |x, y| x.id == y.id);
            }
        })
    };
    let set_target = move |id: i64, text: String| match minutes_to_ms(&text) {
        Ok(ms) => patch(id, json!({"first_response_target_ms": ms})),
        Err(e) => error.set(Some(e)),
    };
    let refresh_advisors = move || load("/api/v1/admin/advisors", error, move |a| admin.advisors.set(a));
    let set_member = move |team: Team, advisor: i64, member: bool| {
        let mut members: Vec<i64> = team.members.into_iter().filter(|m| *m != advisor).collect();
        if member {
            members.push(advisor);
        }
        request::<Team>(Method::PUT, format!("/api/v1/admin/teams/{}/members", team.id), json!({"advisors": members}), error, move |t| {
            if let Some(t) = t {
                replace(admin.teams, t, |x, y| x.id == y.id);
            }
            refresh_advisors();
        })
    };
    let delete = move |id: i64| {
        request::<Value>(Method::DELETE, format!("/api/v1/admin/teams/{id}"), json!({}), error, move |_| {
            admin.teams.update(|l| l.retain(|t| t.id != id));
            refresh_advisors();
        })
    };
    let create = move |ev: SubmitEvent| {
        ev.prevent_default();
        let target = match minutes_to_ms(&target.get_untracked()) {
            Ok(t) => t,
            Err(e) => return error.set(Some(e)),
        };
        let body = json!({"name": name.get_untracked(), "first_response_target_ms": target});
        request::<Team>(Method::POST, "/api/v1/admin/teams".into(), body, error, move |t| {
            if let Some(t) = t {
                replace(admin.teams, t, |x, y| x.id == y.id);
            }
            name.set(String::new());
        });
    };

    view! {
        <div class="card">
            <h2>"Teams"</h2>
            <p class="muted">"A team answers the conversations of its sites. The first-response target highlights conversations about to wait too long."</p>
            {error_line(error)}
            {move || admin.teams.get().into_iter().map(|t| {
                let id = t.id;
                let team = t.clone();
                view! {
                    <div class="team-card" data-team=t.name.clone()>
                        <div class="team-head">
                            <input
                                class="team-name"
                                aria-label="Team name"
                                prop:value=t.name.clone()
                                on:change=move |ev| patch(id, json!({"name": event_target_value(&ev)}))
                            />
                            <label class="inline-label">
                                "First response within "
                                <input
                                    class="team-target"
                                    inputmode="decimal"
                                    size="5"
                                    placeholder="none"
                                    prop:value=t.first_response_target_ms.map(ms_to_minutes).unwrap_or_default()
                                    on:change=move |ev| set_target(id, event_target_value(&ev))
                                />
                                " min"
                            </label>
                            <button type="button" class="secondary team-delete" on:click=move |_| delete(id)>"Delete"</button>
                        </div>
                        <div class="team-members">
                            {admin.advisors.get().into_iter().map(|a| {
                                let checked = team.members.contains(&a.id);
                                let team = team.clone();
                                view! {
                                    <label class="member">
                                        <input
                                            type="checkbox"
                                            prop:checked=checked
                                            on:change=move |ev| set_member(team.clone(), a.id, event_target_checked(&ev))
                                        />
                                        {a.name.clone()}
                                    </label>
                                }
                            }).collect_view()}
                        </div>
                    </div>
                }
            }).collect_view()}
            <form class="inline-form new-team" on:submit=create>
                <h3>"Add a team"</h3>
                <input name="team" placeholder="Team name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                <input name="target" inputmode="decimal" size="8" placeholder="Target (min)" on:input=move |ev| target.set(event_target_value(&ev)) />
                <button type="submit" class="primary">"Create team"</button>
            </form>
        </div>
    }
}

/// The `<script>` tag a site's pages include.
fn embed_snippet(key: &str) -> String {
    let origin = location().origin().unwrap_or_default();
    format!("<script src=\"{origin}/widget.js\" data-site=\"{key}\" async></script>")
}

fn lines(text: &str) -> Vec<String> {
    text.split(['\n', ',', ' ']).map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

#[component]
fn Sites(admin: Admin) -> impl IntoView {
    let sites = RwSignal::new(Vec::<Site>::new());
    let error = RwSignal::new(None::<String>);
    load("/api/v1/admin/sites", error, move |s| sites.set(s));
    let (name, origins) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let create = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = json!({"name": name.get_untracked(), "allowed_origins": lines(&origins.get_untracked())});
        request::<Site>(Method::POST, "/api/v1/admin/sites".into(), body, error, move |s| {
            if let Some(s) = s {
                replace(sites, s, |x, y| x.key == y.key);
            }
            name.set(String::new());
            origins.set(String::new());
        });
    };
    view! {
        <div class="card">
            <h2>"Sites"</h2>
            {error_line(error)}
            {move || sites.get().into_iter().map(|s| view! { <SiteCard site=s admin /> }).collect_view()}
            <form class="inline-form new-site" on:submit=create>
                <h3>"Add a site"</h3>
                <input name="site-name" placeholder="Site name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                <input name="site-origins" placeholder="https://shop.example" prop:value=move || origins.get() on:input=move |ev| origins.set(event_target_value(&ev)) />
                <button type="submit" class="primary">"Create site"</button>
            </form>
        </div>
    }
}

#[component]
fn SiteCard(site: Site, admin: Admin) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let key = site.key.clone();
    let name = RwSignal::new(site.name.clone());
    let greeting = RwSignal::new(site.greeting.clone());
    let color = RwSignal::new(site.color.clone());
    let reply_time = RwSignal::new(site.reply_time.clone());
    let origins = RwSignal::new(site.allowed_origins.join("\n"));
    let team = RwSignal::new(site.team_id);
    let position = RwSignal::new(site.position.clone());
    let launcher = RwSignal::new(site.launcher.clone());
    let avatar = RwSignal::new(site.avatar.clone());
    let secret = RwSignal::new(site.identity_secret.clone());
    let require = RwSignal::new(site.require_identity);
    // Per language: (tag, greeting, reply time); empty: the default texts above.
    let texts = SITE_LANGS.map(|(lang, _)| {
        let own = site.translations.iter().find(|t| t.lang == lang);
        let greeting = RwSignal::new(own.map(|t| t.greeting.clone()).unwrap_or_default());
        let reply_time = RwSignal::new(own.map(|t| t.reply_time.clone()).unwrap_or_default());
        (lang, greeting, reply_time)
    });
    let path = format!("/api/v1/admin/sites/{}", site.key);
    let rotate_path = format!("{path}/identity-secret");
    // A new identity secret: the old one stops verifying at once.
    let rotate = move |_| {
        request::<Site>(Method::POST, rotate_path.clone(), json!({}), error, move |s| {
            if let Some(s) = s {
                secret.set(s.identity_secret);
            }
        });
    };
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let body = json!({
            "name": name.get_untracked(),
            "greeting": greeting.get_untracked(),
            "color": color.get_untracked(),
            "reply_time": reply_time.get_untracked(),
            "allowed_origins": lines(&origins.get_untracked()),
            "team_id": team.get_untracked(),
            "position": position.get_untracked(),
            "launcher": launcher.get_untracked(),
            "avatar": avatar.get_untracked(),
            "require_identity": require.get_untracked(),
            "translations": texts.map(|(lang, greeting, reply_time)| json!({
                "lang": lang, "greeting": greeting.get_untracked(), "reply_time": reply_time.get_untracked(),
            })),
        });
        // The card keeps its own fields; replacing it in the list would rebuild it.
        request::<Site>(Method::PATCH, path.clone(), body, error, move |_| saved.set(true));
    };
    let snippet = embed_snippet(&key);
    let snippet_for_copy = snippet.clone();
    let copied = RwSignal::new(false);
    let copy = move |_| {
        let promise = window().navigator().clipboard().write_text(&snippet_for_copy);
        spawn_local(async move {
            // Refused (no permission, not focused): the snippet is on screen to copy by hand.
            copied.set(wasm_bindgen_futures::JsFuture::from(promise).await.is_ok());
        });
    };
    let field = |label: &'static str, class: &'static str, value: RwSignal<String>| {
        view! {
            <label class="field">
                <span class="field-label">{label}</span>
                <input class=class prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
            </label>
        }
    };
    view! {
        <form class="site-card" data-site=key.clone() on:submit=save>
            <h3>{move || name.get()} " " <span class="muted">"(" {key.clone()} ")"</span></h3>
            <div class="site-grid">
                {field("Name", "site-name", name)}
                {field("Usual reply time", "site-reply-time", reply_time)}
                <label class="field">
                    <span class="field-label">"Greeting"</span>
                    <textarea class="site-greeting" rows="2" prop:value=move || greeting.get() on:input=move |ev| greeting.set(event_target_value(&ev))></textarea>
                </label>
                <label class="field">
                    <span class="field-label">"Allowed origins (one per line)"</span>
                    <textarea class="site-origins" rows="2" prop:value=move || origins.get() on:input=move |ev| origins.set(event_target_value(&ev))></textarea>
                </label>
                <label class="field">
                    <span class="field-label">"Accent colour"</span>
                    <span class="color-row">
                        <input type="color" aria-label="Pick a colour" prop:value=move || color.get() on:input=move |ev| color.set(event_target_value(&ev)) />
                        <input class="site-color" size="8" prop:value=move || color.get() on:input=move |ev| color.set(event_target_value(&ev)) />
                    </span>
                </label>
                <label class="field">
                    <span class="field-label">"Answered by"</span>
                    <select class="site-team" on:change=move |ev| team.set(event_target_value(&ev).parse().ok())>
                        <option value="" selected=move || team.get().is_none()>"Every advisor"</option>
                        {move || admin.teams.get().into_iter().map(|t| {
                            let id = t.id;
                            view! { <option value=id.to_string() selected=move || team.get() == Some(id)>{t.name}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span class="field-label">"Launcher position"</span>
                    <select class="site-position" on:change=move |ev| position.set(event_target_value(&ev))>
                        <option value="right" selected=move || position.get() != "left">"Bottom right"</option>
                        <option value="left" selected=move || position.get() == "left">"Bottom left"</option>
                    </select>
                </label>
                <label class="field">
                    <span class="field-label">"Launcher icon"</span>
                    <select class="site-launcher" on:change=move |ev| launcher.set(event_target_value(&ev))>
                        <option value="chat" selected=move || launcher.get() == "chat">"Chat bubble"</option>
                        <option value="help" selected=move || launcher.get() == "help">"Question mark"</option>
                        <option value="message" selected=move || launcher.get() == "message">"Envelope"</option>
                    </select>
                </label>
                {field("Avatar (https:// image URL)", "site-avatar", avatar)}
            </div>
            <div class="field site-translations">
                <span class="field-label">"In the visitor's language"</span>
                <p class="muted">"The widget speaks English and French. What you write here replaces the greeting and reply time above for visitors who read that language; left empty, they read the ones above."</p>
                <div class="site-grid">
                    {SITE_LANGS.into_iter().zip(texts).map(|((lang, who), (_, greeting, reply_time))| view! {
                        <fieldset class="site-language" data-lang=lang>
                            <legend>{who}</legend>
                            <label class="field">
                                <span class="field-label">"Greeting"</span>
                                <textarea class="site-greeting-lang" rows="2" prop:value=move || greeting.get()
                                    on:input=move |ev| greeting.set(event_target_value(&ev))></textarea>
                            </label>
                            <label class="field">
                                <span class="field-label">"Usual reply time"</span>
                                <input class="site-reply-time-lang" prop:value=move || reply_time.get()
                                    on:input=move |ev| reply_time.set(event_target_value(&ev)) />
                            </label>
                        </fieldset>
                    }).collect_view()}
                </div>
            </div>
            <div class="field site-identity">
                <span class="field-label">"Identity verification"</span>
                <p class="muted">"Your server signs each signed-in user's id: user_hash = HMAC-SHA256(this secret, user_id), in hex. Keep the secret on your server."</p>
                <div class="snippet-row">
                    <code class="identity-secret">{move || secret.get().unwrap_or_else(|| "No secret yet".into())}</code>
                    <button type="button" class="secondary identity-rotate" on:click=rotate>
                        {move || if secret.get().is_some() { "Rotate secret" } else { "Generate secret" }}
                    </button>
                </div>
                <label class="check">
                    <input type="checkbox" class="site-require-identity" prop:checked=move || require.get()
                        on:change=move |ev| require.set(event_target_checked(&ev)) />
                    " Require a verified identity (an identify without a valid user_hash is refused)"
                </label>
            </div>
            <div class="field">
                <span class="field-label">"Embed on every page"</span>
                <div class="snippet-row">
                    <code class="embed-snippet">{snippet}</code>
                    <button type="button" class="secondary" on:click=copy>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
                </div>
            </div>
            {error_line(error)}
            <div class="form-actions">
                <button type="submit" class="primary site-save">"Save site"</button>
                {move || saved.get().then(|| view! { <span class="form-ok" role="status">"Saved"</span> })}
            </div>
        </form>
    }
}

#[component]
fn RoutingForm() -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let fields = [RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new())];
    load("/api/v1/admin/settings/routing", error, move |r: Routing| {
        for (f, ms) in fields.iter().zip([r.away_after_ms, r.requeue_delay_ms, r.warn_before_ms]) {
            f.set(ms_to_minutes(ms as i64));
        }
    });
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let mut ms = [0i64; 3];
        for (slot, f) in ms.iter_mut().zip(fields.iter()) {
            match minutes_to_ms(&f.get_untracked()) {
                Ok(Some(v)) => *slot = v,
                Ok(None) => return error.set(Some("Fill in all three delays.".into())),
                Err(e) => return error.set(Some(e)),
            }
        }
        let body = json!({"away_after_ms": ms[0], "requeue_delay_ms": ms[1], "warn_before_ms": ms[2]});
        request::<Routing>(Method::PUT, "/api/v1/admin/settings/routing".into(), body, error, move |_| saved.set(true));
    };
    let labels = [
        ("Away after (minutes without an open dashboard)", "routing-away"),
        ("Return an offline advisor's conversations to the queue after (minutes)", "routing-requeue"),
        ("Warn before a first-response target is missed (minutes)", "routing-warn"),
    ];
    view! {
        <form class="card settings-form" on:submit=save>
            <h2>"Routing"</h2>
            {labels.into_iter().zip(fields).map(|((label, class), f)| view! {
                <label class="field">
                    <span class="field-label">{label}</span>
                    <input class=class inputmode="decimal" prop:value=move || f.get() on:input=move |ev| f.set(event_target_value(&ev)) />
                </label>
            }).collect_view()}
            {error_line(error)}
            <div class="form-actions">
                <button type="submit" class="primary">"Save routing"</button>
                {move || saved.get().then(|| view! { <span class="form-ok" role="status">"Saved"</span> })}
            </div>
        </form>
    }
}

const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

#[component]
fn HoursForm() -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let timezone = RwSignal::new(String::new());
    let days: [(RwSignal<bool>, RwSignal<String>, RwSignal<String>); 7] =
        std::array::from_fn(|_| (RwSignal::new(false), RwSignal::new("09:00".to_owned()), RwSignal::new("17:00".to_owned())));
    load("/api/v1/admin/settings/business-hours", error, move |h: Hours| {
        timezone.set(h.timezone);
        for ((open, from, to), day) in days.iter().zip(h.days) {
            open.set(day.is_some());
            if let Some(d) = day {
                from.set(d.open);
                to.set(d.close);
            }
        }
    });
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let days: Vec<Value> = days
            .iter()
            .map(|(open, from, to)| if open.get_untracked() { json!({"open": from.get_untracked(), "close": to.get_untracked()}) } else { Value::Null })
            .collect();
        let body = json!({"timezone": timezone.get_untracked().trim(), "days": days});
        request::<Hours>(Method::PUT, "/api/v1/admin/settings/business-hours".into(), body, error, move |_| saved.set(true));
    };
    view! {
        <form class="card settings-form" on:submit=save>
            <h2>"Business hours"</h2>
            <label class="field">
                <span class="field-label">"Time zone (IANA name, e.g. Europe/Paris)"</span>
                <input class="hours-timezone" prop:value=move || timezone.get() on:input=move |ev| timezone.set(event_target_value(&ev)) />
            </label>
            <table class="admin-table hours">
                <tbody>
                    {DAYS.iter().zip(days).map(|(day, (open, from, to))| view! {
                        <tr>
                            <td><label><input type="checkbox" prop:checked=move || open.get() on:change=move |ev| open.set(event_target_checked(&ev)) />" " {*day}</label></td>
                            <td><input type="time" aria-label="Opens" disabled=move || !open.get() prop:value=move || from.get() on:input=move |ev| from.set(event_target_value(&ev)) /></td>
                            <td><input type="time" aria-label="Closes" disabled=move || !open.get() prop:value=move || to.get() on:input=move |ev| to.set(event_target_value(&ev)) /></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {error_line(error)}
            <div class="form-actions">
                <button type="submit" class="primary">"Save hours"</button>
                {move || saved.get().then(|| view! { <span class="form-ok" role="status">"Saved"</span> })}
            </div>
        </form>
    }
}

#[component]
fn SecurityForm() -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let require = RwSignal::new(false);
    load("/api/v1/admin/settings/security", error, move |s: Security| require.set(s.require_two_factor));
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let body = json!({"require_two_factor": require.get_untracked()});
        request::<Security>(Method::PUT, "/api/v1/admin/settings/security".into(), body, error, move |_| saved.set(true));
    };
    view! {
        <form class="card settings-form" on:submit=save>
            <h2>"Security"</h2>
            <label class="check">
                <input type="checkbox" class="require-2fa" prop:checked=move || require.get() on:change=move |ev| require.set(event_target_checked(&ev)) />
                " Require two-factor login for everyone"
            </label>
            <p class="muted">"Advisors without it set it up right after their next password login. Sessions already open stay open."</p>
            {error_line(error)}
            <div class="form-actions">
                <button type="submit" class="primary">"Save security"</button>
                {move || saved.get().then(|| view! { <span class="form-ok" role="status">"Saved"</span> })}
            </div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_convert_both_ways() {
        assert_eq!(minutes_to_ms(""), Ok(None));
        assert_eq!(minutes_to_ms(" 3 "), Ok(Some(180_000)));
        assert_eq!(minutes_to_ms("0,5"), Ok(Some(30_000)));
        assert!(minutes_to_ms("-1").is_err());
        assert!(minutes_to_ms("soon").is_err());
        assert_eq!(ms_to_minutes(600_000), "10");
        assert_eq!(ms_to_minutes(30_000), "0.50");
    }

    #[test]
    fn origins_split_on_lines_commas_and_spaces() {
        assert_eq!(lines("https://a.example\n https://b.example, ,"), vec!["https://a.example", "https://b.example"]);
    }
}
