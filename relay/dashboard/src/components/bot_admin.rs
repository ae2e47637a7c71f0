//! The "Bot" tab of the admin page: each site's bot (`/api/v1/admin/sites/{key}/bot`). Greeting,
//! suggestions, FAQ rules (keywords → answer + quick replies), "ask for name and e-mail before
//! handing over", or an outside bot behind a webhook (URL, signing secret, and a token it answers
//! with, shown once). docs/BOT.md has what the bot does with it.

use gloo_net::http::Method;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api;

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct SiteRef {
    key: String,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
struct RuleJson {
    keywords: Vec<String>,
    answer: String,
    quick_replies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
struct WebhookJson {
    url: String,
    secret: String,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
struct BotJson {
    enabled: bool,
    greeting: String,
    suggestions: Vec<String>,
    rules: Vec<RuleJson>,
    collect_contact: bool,
    webhook: Option<WebhookJson>,
    has_token: bool,
}

/// One rule being edited: its fields as typed (keywords comma-separated, quick replies `|`-separated).
#[derive(Clone, Copy)]
struct RuleDraft {
    id: u32,
    keywords: RwSignal<String>,
    answer: RwSignal<String>,
    replies: RwSignal<String>,
}

/// "a, b ,, c" → ["a", "b", "c"].
fn split(text: &str, sep: char) -> Vec<String> {
    text.split(sep).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn draft(id: u32, rule: &RuleJson) -> RuleDraft {
    RuleDraft {
        id,
        keywords: RwSignal::new(rule.keywords.join(", ")),
        answer: RwSignal::new(rule.answer.clone()),
        replies: RwSignal::new(rule.quick_replies.join(" | ")),
    }
}

#[component]
pub fn BotAdmin() -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let sites = RwSignal::new(Vec::<SiteRef>::new());
    let site = RwSignal::new(String::new());
    let enabled = RwSignal::new(false);
    let greeting = RwSignal::new(String::new());
    let suggestions = RwSignal::new(String::new());
    let collect = RwSignal::new(false);
    let use_webhook = RwSignal::new(false);
    let url = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let has_token = RwSignal::new(false);
    let token = RwSignal::new(None::<String>);
    let rules = RwSignal::new(Vec::<RuleDraft>::new());
    let next_id = StoredValue::new(0u32);
    let fresh = move || {
        let id = next_id.get_value();
        next_id.set_value(id + 1);
        id
    };

    let fill = move |b: BotJson| {
        enabled.set(b.enabled);
        greeting.set(b.greeting);
        suggestions.set(b.suggestions.join(" | "));
        collect.set(b.collect_contact);
        use_webhook.set(b.webhook.is_some());
        let hook = b.webhook.unwrap_or_default();
        url.set(hook.url);
        secret.set(hook.secret);
        has_token.set(b.has_token);
        token.set(None);
        rules.set(b.rules.iter().map(|r| draft(fresh(), r)).collect());
    };
    let load_bot = move |key: String| {
        saved.set(false);
        error.set(None);
        spawn_local(async move {
            match api::get_json::<BotJson>(&format!("/api/v1/admin/sites/{key}/bot")).await {
                Ok(b) => fill(b),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    spawn_local(async move {
        match api::get_json::<Vec<SiteRef>>("/api/v1/admin/sites").await {
            Ok(list) => {
                if let Some(first) = list.first() {
                    site.set(first.key.clone());
                    load_bot(first.key.clone());
                }
                sites.set(list);
            }
            Err(e) => error.set(Some(e.message())),
        }
    });

    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        error.set(None);
        let rules: Vec<RuleJson> = rules
            .get_untracked()
            .iter()
            .map(|r| RuleJson {
                keywords: split(&r.keywords.get_untracked(), ','),
                answer: r.answer.get_untracked(),
                quick_replies: split(&r.replies.get_untracked(), '|'),
            })
            .collect();
        let webhook = use_webhook
            .get_untracked()
            .then(|| json!({"url": url.get_untracked(), "secret": secret.get_untracked()}))
            .unwrap_or(Value::Null);
        let body = json!({
            "enabled": enabled.get_untracked(),
            "greeting": greeting.get_untracked(),
            "suggestions": split(&suggestions.get_untracked(), '|'),
            "rules": rules,
            "collect_contact": collect.get_untracked(),
            "webhook": webhook,
        });
        let key = site.get_untracked();
        spawn_local(async move {
            match api::send_json::<BotJson>(Method::PUT, &format!("/api/v1/admin/sites/{key}/bot"), &body).await {
                Ok(Some(b)) => {
                    fill(b);
                    saved.set(true);
                }
                Ok(None) => saved.set(true),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let new_token = move |_| {
        let key = site.get_untracked();
        spawn_local(async move {
            match api::send_json::<Value>(Method::POST, &format!("/api/v1/admin/sites/{key}/bot/token"), &json!({})).await {
                Ok(Some(v)) => {
                    token.set(v.get("token").and_then(Value::as_str).map(str::to_owned));
                    has_token.set(true);
                }
                Ok(None) => {}
                Err(e) => error.set(Some(e.message())),
            }
        });
    };

    view! {
        <form class="card settings-form bot-form" on:submit=save>
            <h2>"Bot"</h2>
            <p class="hint">"New conversations go to the bot first; the customer can talk to a person at any time. "
                "Business hours (their tab) decide when the bot says you're closed."</p>
            <label class="field">
                <span class="field-label">"Site"</span>
                <select class="bot-site" on:change=move |ev| { let key = event_target_value(&ev); site.set(key.clone()); load_bot(key); }>
                    {move || sites.get().into_iter().map(|s| {
                        let key = s.key.clone();
                        view! { <option value=s.key.clone() selected=move || site.get() == key>{s.name}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="check">
                <input type="checkbox" class="bot-enabled" prop:checked=move || enabled.get() on:change=move |ev| enabled.set(event_target_checked(&ev)) />
                " Answer new conversations with the bot first"
            </label>
            <label class="field">
                <span class="field-label">"Greeting (empty: a default one in the customer's language)"</span>
                <textarea class="bot-greeting" rows="2" prop:value=move || greeting.get() on:input=move |ev| greeting.set(event_target_value(&ev))></textarea>
            </label>
            <label class="field">
                <span class="field-label">"Suggestions under the greeting (separated by |)"</span>
                <input class="bot-suggestions" prop:value=move || suggestions.get() on:input=move |ev| suggestions.set(event_target_value(&ev)) />
            </label>
            <label class="check">
                <input type="checkbox" class="bot-collect" prop:checked=move || collect.get() on:change=move |ev| collect.set(event_target_checked(&ev)) />
                " Ask for the customer's name and e-mail before handing over"
            </label>
            <label class="check">
                <input type="checkbox" class="bot-use-webhook" prop:checked=move || use_webhook.get() on:change=move |ev| use_webhook.set(event_target_checked(&ev)) />
                " Our own bot answers (webhook) instead of the rules below"
            </label>
            <Show when=move || use_webhook.get()>
                <fieldset class="bot-webhook">
                    <legend>"Webhook"</legend>
                    <label class="field">
                        <span class="field-label">"URL the relay posts each customer message to"</span>
                        <input class="bot-webhook-url" type="url" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev)) />
                    </label>
                    <label class="field">
                        <span class="field-label">"Signing secret (X-Confab-Signature: sha256=HMAC of the body), 16 characters or more"</span>
                        <input class="bot-webhook-secret" prop:value=move || secret.get() on:input=move |ev| secret.set(event_target_value(&ev)) />
                    </label>
                    <p class="hint">
                        {move || if has_token.get() { "A token is issued; a new one replaces it." } else { "No token yet: your bot needs one to answer." }}
                        " "
                        <button type="button" class="secondary bot-new-token" on:click=new_token>"New bot token"</button>
                    </p>
                    {move || token.get().map(|t| view! {
                        <p class="form-ok">"Your bot answers with Authorization: Bearer " <code class="bot-token">{t}</code> " — shown this once."</p>
                    })}
                </fieldset>
            </Show>
            <Show when=move || !use_webhook.get()>
                <fieldset class="bot-rules">
                    <legend>"Questions the bot answers"</legend>
                    {move || rules.get().into_iter().map(|r| view! {
                        <div class="bot-rule" data-id=r.id>
                            <label class="field">
                                <span class="field-label">"Keywords (separated by commas)"</span>
                                <input class="bot-keywords" prop:value=move || r.keywords.get() on:input=move |ev| r.keywords.set(event_target_value(&ev)) />
                            </label>
                            <label class="field">
                                <span class="field-label">"Answer"</span>
                                <textarea class="bot-answer" rows="2" prop:value=move || r.answer.get() on:input=move |ev| r.answer.set(event_target_value(&ev))></textarea>
                            </label>
                            <label class="field">
                                <span class="field-label">"Quick replies (separated by |)"</span>
                                <input class="bot-replies" prop:value=move || r.replies.get() on:input=move |ev| r.replies.set(event_target_value(&ev)) />
                            </label>
                            <button type="button" class="secondary bot-remove-rule" on:click=move |_| rules.update(|l| l.retain(|x| x.id != r.id))>"Remove this rule"</button>
                        </div>
                    }).collect_view()}
                    <button type="button" class="secondary bot-add-rule" on:click=move |_| {
                        let r = draft(fresh(), &RuleJson::default());
                        rules.update(|l| l.push(r));
                    }>"Add a rule"</button>
                </fieldset>
            </Show>
            {super::admin::error_line(error)}
            <div class="form-actions">
                <button type="submit" class="primary bot-save">"Save bot"</button>
                {move || saved.get().then(|| view! { <span class="form-ok" role="status">"Saved"</span> })}
            </div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn lists_split_on_their_separator_and_drop_blanks() {
        assert_eq!(split(" ship, delivery ,, ", ','), vec!["ship", "delivery"]);
        assert_eq!(split("Track my order | Returns|", '|'), vec!["Track my order", "Returns"]);
        assert!(split("  ", '|').is_empty());
    }
}
