//! WhatsApp and Messenger in the dashboard's chrome: the channel badge, the customer's channels
//! (with "Unlink"), and the banners of channel alerts.

use leptos::prelude::*;
use shared::{Channel, ChannelIdentity, ConversationId};

use crate::channel;
use crate::Ctx;

/// A small round badge of a channel (its icon is drawn by the CSS), labelled "via WhatsApp".
#[component]
pub fn Badge(channel: Channel) -> impl IntoView {
    let label = channel::via(channel);
    view! {
        <span class="ch-badge" data-channel=channel::key(channel) role="img" aria-label=label.clone() title=label></span>
    }
}

/// The customer's WhatsApp and Messenger identities; those joined by a "Continue on…" link can be
/// unlinked, after a confirmation.
#[component]
pub fn Identities(id: ConversationId) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let list = Memo::new(move |_| {
        ctx.model
            .with(|m| m.conversation(id).map(|c| c.identities.clone()).unwrap_or_default())
    });
    // The identity whose "Unlink" was clicked and waits for "Yes, unlink".
    let confirming = RwSignal::new(None::<i64>);
    move || {
        let identities = list.get();
        (!identities.is_empty()).then(|| {
            view! {
                <ul class="identities" aria-label="The customer's channels">
                    {identities
                        .into_iter()
                        .map(|identity| view! { <IdentityItem conversation=id identity confirming /> })
                        .collect_view()}
                </ul>
            }
        })
    }
}

#[component]
fn IdentityItem(conversation: ConversationId, identity: ChannelIdentity, confirming: RwSignal<Option<i64>>) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let identity_id = identity.id;
    let unlinking = Memo::new(move |_| {
        ctx.model
            .with(|m| m.unlink_state(conversation, identity_id).map(|e| e.map(str::to_owned)))
    });
    let ready = Memo::new(move |_| ctx.model.with(|m| m.ready));
    let (linked, ch) = (identity.linked, identity.channel);
    let name = channel::name(ch);
    let label = identity.label.clone();
    let unlink = linked.then_some(move || match unlinking.get() {
            Some(None) => view! { <span class="identity-status">"Unlinking…"</span> }.into_any(),
            _ if confirming.get() == Some(identity_id) => view! {
                <span class="unlink-ask" role="group" aria-label="Confirm unlinking">
                    {format!(
                        "Unlink {name} {label}? It becomes a customer of its own, with a new conversation for what they write next."
                    )}
                    <button
                        type="button"
                        class="unlink-confirm danger"
                        disabled=move || !ready.get()
                        on:click=move |_| {
                            confirming.set(None);
                            ctx.run(|m| m.unlink(conversation, identity_id));
                        }
                    >
                        "Unlink"
                    </button>
                    <button type="button" class="unlink-cancel link-button" on:click=move |_| confirming.set(None)>
                        "Cancel"
                    </button>
                </span>
            }
            .into_any(),
            error => view! {
                <button
                    type="button"
                    class="unlink link-button"
                    title="Undo the link made by a \"Continue on\" link"
                    on:click=move |_| confirming.set(Some(identity_id))
                >
                    "Unlink"
                </button>
                {error.flatten().map(|e| view! { <span class="identity-error" role="alert">{e}</span> })}
            }
            .into_any(),
    });
    view! {
        <li class="identity" data-channel=channel::key(ch) data-linked=linked.to_string()>
            <Badge channel=ch />
            <span class="identity-label">{identity.label}</span>
            {linked.then(|| view! { <span class="identity-linked">"linked"</span> })}
            {unlink}
        </li>
    }
}

/// Alerts of the connected platforms (an expired access token…), until a later `channels` frame
/// clears them. Always rendered, empty when all is well, so the page's grid keeps its rows.
#[component]
pub fn ChannelAlerts() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let alerts = Memo::new(move |_| {
        ctx.model
            .with(|m| m.alerts().map(|(c, a)| (c, a.to_owned())).collect::<Vec<_>>())
    });
    view! {
        <div class="channel-alerts">
            {move || {
                alerts
                    .get()
                    .into_iter()
                    .map(|(channel, alert)| {
                        view! {
                            <div class="channel-alert" data-channel=channel::key(channel) role="alert">
                                <Badge channel />
                                <span>{alert}</span>
                            </div>
                        }
                    })
                    .collect_view()
            }}
        </div>
    }
}
