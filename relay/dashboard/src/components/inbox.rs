//! The logged-in page: the sidebar (who, connection, conversation list) and the open conversation.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::AdvisorInfo;

use super::account::AccountPage;
use super::admin::{hash_page, AdminPage, HeaderLinks};
use super::channels::ChannelAlerts;
use super::composer::Composer;
use super::conversation_list::ConversationList;
use super::customer_panel::CustomerPanel;
use super::notifications::NotificationMenu;
use super::shortcuts::ShortcutHelp;
use super::initials;
use super::thread::{Thread, ThreadHeader};
use crate::{api, start_inbox, Auth, Conn, Ctx, Overlay};

#[component]
pub fn Inbox(me: AdvisorInfo) -> impl IntoView {
    let auth = expect_context::<RwSignal<Auth>>();
    let name = me.name.clone();
    let email = me.email.clone();
    let ctx = start_inbox(me);
    crate::tools::Tools::start();
    let open_id = Memo::new(move |_| ctx.model.with(|m| m.open.as_ref().map(|o| o.id)));
    let logging_out = RwSignal::new(false);
    // `#admin` and `#account` take the main column; anything else shows the conversation.
    // A memo of the page only: selecting a conversation changes the hash (`#c=ID`) too, and must
    // not rebuild the conversation (that would take the keyboard focus away from `j` / `k`).
    let hash = hash_page();
    let page = Memo::new(move |_| {
        hash.with(|h| match h.trim_start_matches('#') {
            p @ ("admin" | "account") => p.to_owned(),
            _ => String::new(),
        })
    });

    let logout = move |_| {
        logging_out.set(true);
        spawn_local(async move {
            // Whatever the relay says, this tab is done with the session.
            let _ = api::logout().await;
            auth.set(Auth::LoggedOut(None));
        });
    };

    view! {
        <div class="app">
            <ChannelAlerts />
            <super::canned::ManageReplies />
            <aside class="sidebar">
                <header class="sidebar-head">
                    <div class="brand-row">
                        <span class="logo" aria-hidden="true">"C"</span>
                        <span class="brand">"Confab"</span>
                        <a class="header-link" href="#analytics">"Analytics"</a>
                        <ConnectionIndicator />
                        <button
                            type="button"
                            class="icon-button keys"
                            aria-label="Keyboard shortcuts"
                            title="Keyboard shortcuts (?)"
                            on:click=move |_| ctx.overlay.set(Overlay::Help)
                        >
                            "?"
                        </button>
                        <NotificationMenu />
                    </div>
                    <div class="me">
                        <span class="avatar avatar-me" aria-hidden="true">{initials(&name)}</span>
                        <span class="me-text">
                            <span class="me-name">{name.clone()}</span>
                            <span class="me-email">{email}</span>
                        </span>
                        <button
                            type="button"
                            class="logout"
                            on:click=logout
                            disabled=move || logging_out.get()
                        >
                            "Log out"
                        </button>
                    </div>
                    <super::routing::PresencePicker />
                    <HeaderLinks />
                </header>
                <ConversationList />
            </aside>
            <main class="main">
                <Notice />
                {move || match (page.get().as_str(), open_id.get()) {
                    ("admin", _) => view! { <AdminPage /> }.into_any(),
                    ("account", _) => view! { <AccountPage /> }.into_any(),
                    (_, Some(id)) => view! {
                        <div class="conversation-area">
                            <section class="conversation" aria-label="Conversation">
                                <ThreadHeader id />
                                <Thread id />
                                <Composer id />
                            </section>
                            <CustomerPanel id />
                        </div>
                    }
                    .into_any(),
                    (_, None) => view! {
                        <div class="empty-main">
                            <svg class="empty-icon" viewBox="0 0 24 24" width="44" height="44" aria-hidden="true">
                                <path
                                    d="M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6A.5.5 0 0 1 5 19.2V16h-.5A.5.5 0 0 1 4 15.5z"
                                    fill="none"
                                    stroke="currentColor"
                                    stroke-width="1.5"
                                    stroke-linejoin="round"
                                ></path>
                                <path d="M8 8.5h8M8 11.5h5" stroke="currentColor" stroke-width="1.5" stroke-linecap="round"></path>
                            </svg>
                            <p class="empty-title">"Select a conversation"</p>
                            <p class="empty-hint">"Pick one on the left to read the thread and reply."</p>
                        </div>
                    }
                    .into_any(),
                }}
            </main>
            <ShortcutHelp />
        </div>
    }
}

/// A dot and a word: connected, connecting, reconnecting (with "Retry now").
#[component]
fn ConnectionIndicator() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let state = move || match ctx.conn.get() {
        Conn::Online => "online",
        Conn::Connecting => "connecting",
        Conn::Reconnecting => "reconnecting",
    };
    view! {
        <span class="conn" data-state=state role="status">
            <span class="conn-dot" aria-hidden="true"></span>
            <span class="conn-text">
                {move || match ctx.conn.get() {
                    Conn::Online => "Live",
                    Conn::Connecting => "Connecting…",
                    Conn::Reconnecting => "Reconnecting…",
                }}
            </span>
            {move || {
                (ctx.conn.get() == Conn::Reconnecting)
                    .then(|| {
                        view! {
                            <button type="button" class="link-button conn-retry" on:click=move |_| ctx.reconnect_now()>
                                "Retry now"
                            </button>
                        }
                    })
            }}
        </span>
    }
}

/// A relay error that answers nothing on screen.
#[component]
fn Notice() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let notice = Memo::new(move |_| ctx.model.with(|m| m.notice.clone()));
    move || {
        notice.get().map(|notice| {
            view! {
                <div class="notice" role="alert">
                    <span>{notice}</span>
                    <button
                        type="button"
                        class="link-button"
                        on:click=move |_| ctx.model.update(|m| m.notice = None)
                    >
                        "Dismiss"
                    </button>
                </div>
            }
        })
    }
}
