//! Confab's advisor dashboard: a Leptos client-side app served by the relay at `/dashboard`.
//!
//! - [`App`] decides between the login page and the inbox from `GET /api/v1/auth/me`.
//! - [`state::Model`] is the pure model of the advisor socket (inbox, open thread, outbox);
//!   [`Ctx`] keeps it in a signal and passes the frames it returns to the [`socket::Socket`].
//! - `components/` renders it; `format` and `text` are the pure helpers they use, `shortcuts` maps
//!   keys to actions and `notify` decides which frames raise a desktop notification or a sound.

pub mod api;
pub mod channel;
pub mod components;
pub mod format;
pub mod notify;
pub mod shortcuts;
pub mod socket;
pub mod state;
pub mod text;
pub mod tools;
pub mod views;

use std::collections::HashMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{AdvisorClientFrame, AdvisorInfo, AdvisorServerFrame, Channel, ClientMsgId, ConversationId};
use wasm_bindgen::prelude::*;

use crate::api::ApiError;
use crate::components::analytics::Analytics;
use crate::components::inbox::Inbox;
use crate::components::login::Login;
use crate::socket::{Socket, SocketEvent};
use crate::state::Model;

pub const PRODUCT: &str = "Confab";

/// How long "typing…" stays without a refresh from the relay (which repeats "on" every 3 s).
const TYPING_SHOWN_FOR: Duration = Duration::from_secs(6);

#[wasm_bindgen(start)]
pub fn main() {
    std::panic::set_hook(Box::new(|info| web_sys::console::error_1(&format!("PANIC {info}").into())));
    leptos::mount::mount_to_body(App);
}

/// Who is using the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Checking,
    /// The login page, with a notice (session ended, server unreachable) when there is one.
    LoggedOut(Option<String>),
    LoggedIn(AdvisorInfo),
}

#[component]
pub fn App() -> impl IntoView {
    let auth = RwSignal::new(Auth::Checking);
    provide_context(auth);
    spawn_local(async move {
        let next = match api::me().await {
            Ok(me) => Auth::LoggedIn(me),
            Err(ApiError::Unauthorized(_)) => Auth::LoggedOut(None),
            Err(e) => Auth::LoggedOut(Some(e.message())),
        };
        auth.set(next);
    });
    // A memo, so that setting an equal value does not rebuild the page.
    let page = Memo::new(move |_| auth.get());
    move || match page.get() {
        Auth::Checking => view! { <div class="boot" aria-busy="true">"Loading…"</div> }.into_any(),
        Auth::LoggedOut(notice) => {
            document().set_title(PRODUCT);
            let on_login = Callback::new(move |me: AdvisorInfo| auth.set(Auth::LoggedIn(me)));
            view! { <Login on_login notice /> }.into_any()
        }
        Auth::LoggedIn(me) => view! { <Pages me /> }.into_any(),
    }
}

/// The logged-in pages, switched by the location's hash: `#analytics`, else the inbox (whose own
/// `#c=ID` keeps the open conversation).
#[component]
fn Pages(me: AdvisorInfo) -> impl IntoView {
    let hash = RwSignal::new(location_hash().unwrap_or_default());
    let on_hash = window_event_listener_untyped("hashchange", move |_| hash.set(location_hash().unwrap_or_default()));
    on_cleanup(move || on_hash.remove());
    let analytics = Memo::new(move |_| hash.with(|h| h == "analytics"));
    move || {
        if analytics.get() {
            view! { <Analytics /> }.into_any()
        } else {
            view! { <Inbox me=me.clone() /> }.into_any()
        }
    }
}

/// State of the advisor socket, for the connection indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conn {
    /// Connecting, or connected and waiting for `welcome`.
    Connecting,
    Online,
    /// Lost; the next attempt is scheduled.
    Reconnecting,
}

/// What is shown over the page; Esc closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    /// The list of keyboard shortcuts (`?`).
    Help,
    /// The notification toggles under the bell.
    Bell,
}

/// Everything the inbox's components share. `Copy`: signals and a handle to the socket.
#[derive(Clone, Copy)]
pub struct Ctx {
    pub model: RwSignal<Model>,
    pub conn: RwSignal<Conn>,
    /// Wall clock in ms, ticking every 30 s for relative times and the reply windows.
    pub now: RwSignal<i64>,
    /// Unsent text per conversation, so switching conversations keeps a half-written reply.
    pub drafts: RwSignal<HashMap<ConversationId, String>>,
    /// The channel chosen in "Reply via" per conversation (absent: the default, where the
    /// customer last wrote).
    pub via: RwSignal<HashMap<ConversationId, Channel>>,
    /// Desktop notifications and sound, on or off.
    pub prefs: RwSignal<notify::Prefs>,
    pub overlay: RwSignal<Overlay>,
    /// The customer panel is expanded.
    pub panel_open: RwSignal<bool>,
    /// The next conversation opened keeps the focus where it is (opened from the keyboard).
    pub skip_autofocus: StoredValue<bool>,
    socket: StoredValue<Option<Socket>, LocalStorage>,
}

impl Ctx {
    pub fn new(model: Model) -> Self {
        Ctx {
            model: RwSignal::new(model),
            conn: RwSignal::new(Conn::Connecting),
            now: RwSignal::new(now_ms()),
            drafts: RwSignal::new(HashMap::new()),
            via: RwSignal::new(HashMap::new()),
            prefs: RwSignal::new(components::notifications::load_prefs()),
            overlay: RwSignal::new(Overlay::None),
            panel_open: RwSignal::new(components::customer_panel::load_panel_open()),
            skip_autofocus: StoredValue::new(false),
            socket: StoredValue::new_local(None),
        }
    }

    /// Update the model and send the frames it asks for.
    pub fn run(&self, f: impl FnOnce(&mut Model) -> Vec<AdvisorClientFrame>) {
        let frames = self.model.try_update(f).unwrap_or_default();
        if frames.is_empty() {
            return;
        }
        self.socket.with_value(|socket| {
            if let Some(socket) = socket {
                for frame in &frames {
                    socket.send(frame);
                }
            }
        });
    }

    /// Tell the visitor of `conversation` whether we are typing (dropped while not connected).
    pub fn typing(&self, conversation: ConversationId, on: bool) {
        if self.model.try_with_untracked(|m| m.ready) == Some(true) {
            self.run(|_| vec![AdvisorClientFrame::Typing { conversation, on }]);
        }
    }

    pub fn select(&self, id: ConversationId) {
        self.run(|m| m.select(id));
        let _ = location().replace(&format!("#c={id}"));
    }

    pub fn retry(&self, id: ClientMsgId) {
        self.run(|m| m.retry(&id));
    }

    pub fn reconnect_now(&self) {
        self.socket.with_value(|s| {
            if let Some(s) = s {
                s.reconnect_now();
            }
        });
    }

    /// Connect the socket; events flow into the model from now on.
    fn connect(&self, auth: RwSignal<Auth>) {
        let ctx = *self;
        let socket = Socket::connect(socket::advisor_url(), move |event| ctx.on_socket_event(event, auth));
        self.socket.set_value(Some(socket));
    }

    fn on_socket_event(&self, event: SocketEvent, auth: RwSignal<Auth>) {
        match event {
            SocketEvent::Open => self.run(Model::connected),
            SocketEvent::Frame(frame) => {
                let welcome = matches!(*frame, AdvisorServerFrame::Welcome { .. });
                let typing = match *frame {
                    AdvisorServerFrame::Typing { conversation, on: true } => Some(conversation),
                    _ => None,
                };
                // Judged before the frame changes the model: a conversation it adds is new.
                let hidden = document().visibility_state() != web_sys::VisibilityState::Visible;
                let prefs = self.prefs.get_untracked();
                let alert = self.model.with_untracked(|m| notify::should_notify(&frame, m, prefs, hidden));
                self.run(|m| m.apply(*frame));
                if let Some(alert) = alert {
                    components::notifications::raise(*self, alert);
                }
                if let Some(c) = typing {
                    self.expire_typing_later(c);
                }
                if welcome {
                    self.conn.set(Conn::Online);
                    self.socket.with_value(|s| s.as_ref().map(Socket::welcomed));
                    self.reopen_from_location();
                }
            }
            SocketEvent::Closed { .. } => {
                self.model.update(Model::disconnected);
                self.conn.set(Conn::Reconnecting);
                // The upgrade is refused without a valid session, which looks like any other drop.
                spawn_local(async move {
                    if let Err(ApiError::Unauthorized(_)) = api::me().await {
                        auth.set(Auth::LoggedOut(Some(
                            "Your session has ended. Please log in again.".into(),
                        )));
                    }
                });
            }
        }
    }

    /// Hide "typing…" if no refresh of this "on" comes (the relay repeats it every 3 s).
    fn expire_typing_later(&self, conversation: ConversationId) {
        let Some(stamp) = self.model.with_untracked(|m| m.typing_stamp_of(conversation)) else {
            return;
        };
        let model = self.model;
        set_timeout(
            move || {
                model.try_update(|m| m.expire_typing(conversation, stamp));
            },
            TYPING_SHOWN_FOR,
        );
    }

    /// After a reload, show the conversation that was open (`#c=ID`).
    fn reopen_from_location(&self) {
        if self.model.with_untracked(|m| m.open.is_some()) {
            return;
        }
        let Some(id) = location_hash()
            .and_then(|h| h.strip_prefix("c=").and_then(|id| id.parse::<i64>().ok()))
            .map(ConversationId)
        else {
            return;
        };
        if self.model.with_untracked(|m| m.conversation(id).is_some()) {
            self.select(id);
        }
    }
}

/// The tab's title: the unread count first, so it shows in a narrow tab.
pub fn inbox_title(unread: u32) -> String {
    if unread > 0 {
        format!("({unread}) Inbox · {PRODUCT}")
    } else {
        format!("Inbox · {PRODUCT}")
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// A fresh client message id: 32 random hex digits.
pub fn new_client_id() -> ClientMsgId {
    let mut bytes = [0u8; 16];
    let crypto_ok = window()
        .crypto()
        .ok()
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !crypto_ok {
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    ClientMsgId(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Set up the inbox's context: the model, the socket, the clock and the browser events it follows.
pub fn start_inbox(me: AdvisorInfo) -> Ctx {
    let auth = expect_context::<RwSignal<Auth>>();
    let ctx = Ctx::new(Model::new(Some(me)));
    provide_context(ctx);
    ctx.connect(auth);

    let tick = set_interval_with_handle(move || ctx.now.set(now_ms()), Duration::from_secs(30)).ok();

    let visible = move || document().visibility_state() == web_sys::VisibilityState::Visible;
    ctx.run(|m| m.set_visible(visible()));
    let on_visibility = window_event_listener_untyped("visibilitychange", move |_| {
        let visible = visible();
        ctx.run(|m| m.set_visible(visible));
        if visible {
            ctx.now.set(now_ms());
            ctx.reconnect_now();
        }
    });
    let on_online = window_event_listener_untyped("online", move |_| ctx.reconnect_now());

    // "(3) Inbox · Confab" while anything is unread.
    Effect::new(move |_| {
        let unread = ctx.model.with(Model::total_unread);
        document().set_title(&inbox_title(unread));
    });
    let on_key = components::shortcuts::listen(ctx);

    on_cleanup(move || {
        if let Some(tick) = tick {
            tick.clear();
        }
        on_visibility.remove();
        on_online.remove();
        on_key.remove();
        ctx.socket.try_update_value(|s| {
            if let Some(s) = s.take() {
                s.stop();
            }
        });
        document().set_title(PRODUCT);
    });
    ctx
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_title_leads_with_the_unread_count() {
        assert_eq!(super::inbox_title(3), "(3) Inbox · Confab");
        assert_eq!(super::inbox_title(0), "Inbox · Confab");
    }
}
