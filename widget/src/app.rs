//! The widget's state and behaviour: what to do with each frame, sending, read receipts, the unread
//! badge, the offline outbox. The views in `components/` only read these signals and call these methods.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use shared::{
    ClientMsgId, ErrorCode, Seq, SiteInfo, VisitorClientFrame, VisitorServerFrame, PROTOCOL_VERSION,
};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::socket::{Socket, SocketEvent};
use crate::i18n::{Lang, Text};
use crate::store::Thread;
use crate::text;
use crate::wire;

/// `State::survey`: no survey, or one waiting for a rating.
pub const NO_SURVEY: Seq = 0;
pub const ASKED: Seq = 9;

/// What `mount` was given by the loader.
pub struct Options {
    pub relay: String,
    pub site: String,
    pub fullscreen: bool,
    /// The site's choice of language (`data-locale`, `Confab('setLocale')`), if any.
    pub locale: Option<String>,
    pub on_unread: Option<js_sys::Function>,
    pub on_close: Option<js_sys::Function>,
    /// `onEvent(type, a, b)` for the loader's `Confab('on', …)` and its theme cache: `theme`
    /// ("colour|on-colour|position|icon"), `message` (text, author), `identify` ("1"/"0", or "" and why).
    pub on_event: Option<js_sys::Function>,
    /// The loader's Web Push subscribe (a promise of `PushSubscription` JSON), when the site hosts
    /// the service worker and the browser can push.
    pub push: Option<js_sys::Function>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conn {
    /// Not connected and not trying (no token yet, panel never opened).
    Idle,
    Connecting,
    /// Greeted by the relay.
    Online,
    /// Lost; an attempt is scheduled.
    Offline,
}

impl Conn {
    pub fn as_str(self) -> &'static str {
        match self {
            Conn::Idle => "idle",
            Conn::Connecting => "connecting",
            Conn::Online => "online",
            Conn::Offline => "offline",
        }
    }
}

/// Every signal the views read. `Copy`, so closures take it by value.
#[derive(Clone, Copy)]
pub struct State {
    pub thread: RwSignal<Thread>,
    pub site: RwSignal<SiteInfo>,
    pub conn: RwSignal<Conn>,
    /// A relay error that belongs to no message, shown in the status line for a while.
    pub notice: RwSignal<Option<String>>,
    /// The highest seq the visitor has read.
    pub read_seq: RwSignal<Seq>,
    pub open: RwSignal<bool>,
    pub visible: RwSignal<bool>,
    /// The name of the advisor typing, if one is.
    pub typing: RwSignal<Option<String>>,
    pub draft: RwSignal<String>,
    /// Why the relay won't talk to this page (unknown site, origin not allowed). Final.
    pub refused: RwSignal<Option<String>>,
    /// An advisor is online (false while we aren't connected: we don't know).
    pub advisors_online: RwSignal<bool>,
    /// Waiting for an advisor: place in line (0: not waiting) and the expected wait (ms).
    pub queue: RwSignal<(u32, Option<i64>)>,
    /// The visitor's messages up to this seq reached an advisor's dashboard.
    pub delivered: RwSignal<Seq>,
    /// The advisors read the visitor's messages up to this seq.
    pub seen: RwSignal<Seq>,
    /// The language everything is shown in.
    pub lang: RwSignal<Lang>,
    /// The site's bot has the conversation; its newest message (seq) and that message's quick replies.
    pub bot: RwSignal<(bool, Seq, Vec<String>)>,
    /// The e-mail the relay writes to while the visitor is away.
    pub email: RwSignal<Option<String>>,
    /// The survey of a resolved conversation: `NO_SURVEY`, `ASKED`, or the rating given (1–5). A
    /// `Seq`-typed signal like others here: a signal of a new type costs wasm of its own.
    pub survey: RwSignal<Seq>,
}

impl State {
    /// The words of the current language. Untracked: a language switch redraws the whole panel
    /// (`lib::view`), which costs far less wasm than a reactive closure around every string.
    pub fn t(&self) -> &'static Text {
        self.lang.get_untracked().text()
    }

    /// The site's greeting and usual reply time, in the current language when the site wrote them
    /// in it (tracks the site, not the language, like [`State::t`]).
    pub fn site_texts(&self) -> (String, String) {
        let lang = self.lang.get_untracked().tag();
        self.site.with(|s| {
            let (greeting, reply_time) = s.texts(lang);
            (greeting.to_owned(), reply_time.to_owned())
        })
    }
}

/// The app: its signals, and the browser-side parts (socket, callbacks) that aren't `Send`. The widget
/// runs on the page's one thread, so `SendWrapper` only satisfies Leptos' bounds.
#[derive(Clone)]
pub struct App {
    pub s: State,
    rt: SendWrapper<Rc<Runtime>>,
}

pub struct Runtime {
    pub opts: Options,
    socket: Socket,
    conversation: Cell<Option<i64>>,
    /// When we last told the relay "typing" (0: we said "stopped", or never).
    typing_at: Cell<i64>,
    /// Bumped on each keystroke / each advisor typing frame; a timer acts only if still current.
    typing_gen: Cell<u32>,
    their_typing_gen: Cell<u32>,
    /// The page's own title while ours ("(2) …") is shown.
    title: std::cell::RefCell<Option<String>>,
    /// Whether we already asked the relay why a connection failed.
    checked: Cell<bool>,
    /// A resend after `rate_limited` is scheduled (one for all the refused messages).
    resend_due: Cell<bool>,
    /// The "Continue on WhatsApp / Messenger" row, filled on each welcome.
    pub continue_row: NodeRef<leptos::html::Div>,
    /// The e-mail offer / survey card (see `components::reach`).
    pub reach_row: NodeRef<leptos::html::Div>,
    continue_links: std::cell::RefCell<Vec<shared::ContinueLink>>,
    /// The site's `identify`, sent after each welcome until the relay answers it.
    identity: std::cell::RefCell<Option<VisitorClientFrame>>,
    /// Messages above this seq arrived after the welcome: news for `Confab('on', 'message')`.
    live_from: Cell<Seq>,
    /// An upload is under way.
    uploading: Cell<bool>,
    /// Files waiting for their turn to upload (one at a time).
    files: std::cell::RefCell<Vec<web_sys::File>>,
    /// Quick replies and "Talk to a person".
    pub bot_row: NodeRef<leptos::html::Div>,
}

impl std::ops::Deref for App {
    type Target = Runtime;
    fn deref(&self) -> &Runtime {
        &self.rt
    }
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

fn now() -> i64 {
    js_sys::Date::now() as i64
}

/// A UTC timestamp shifted into the browser's local time for that instant.
pub fn local_ms(utc: i64) -> i64 {
    let offset_min = js_sys::Date::new(&JsValue::from_f64(utc as f64)).get_timezone_offset();
    utc - (offset_min * 60_000.0) as i64
}

/// A client message id (the relay's idempotency key): the time, then 32 random hex digits.
fn new_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::from("w");
    id.push_str(&now().to_string());
    id.push('-');
    for _ in 0..32 {
        id.push(HEX[(js_sys::Math::random() * 16.0) as usize & 15] as char);
    }
    id
}

impl App {
    pub fn new(opts: Options) -> App {
        let visible = document().visibility_state() == web_sys::VisibilityState::Visible;
        let s = State {
            thread: RwSignal::new(Thread::default()),
            site: RwSignal::new(SiteInfo::default()),
            conn: RwSignal::new(Conn::Idle),
            notice: RwSignal::new(None),
            read_seq: RwSignal::new(0),
            open: RwSignal::new(false),
            visible: RwSignal::new(visible),
            typing: RwSignal::new(None),
            draft: RwSignal::new(String::new()),
            refused: RwSignal::new(None),
            advisors_online: RwSignal::new(false),
            queue: RwSignal::new((0, None)),
            delivered: RwSignal::new(0),
            seen: RwSignal::new(0),
            lang: RwSignal::new(Lang::pick(opts.locale.as_deref(), &browser_languages())),
            bot: RwSignal::new((false, 0, Vec::new())),
            email: RwSignal::new(None),
            survey: RwSignal::new(NO_SURVEY),
        };
        let socket = Socket::new(text::socket_url(&opts.relay, &opts.site));
        let rt = Runtime {
            opts,
            socket,
            conversation: Cell::new(None),
            typing_at: Cell::new(0),
            typing_gen: Cell::new(0),
            their_typing_gen: Cell::new(0),
            title: Default::default(),
            checked: Cell::new(false),
            resend_due: Cell::new(false),
            continue_row: NodeRef::new(),
            reach_row: NodeRef::new(),
            continue_links: Default::default(),
            identity: Default::default(),
            live_from: Cell::new(Seq::MAX),
            files: Default::default(),
            uploading: Cell::new(false),
            bot_row: NodeRef::new(),
        };
        let app = App {
            s,
            rt: SendWrapper::new(Rc::new(rt)),
        };
        let me = app.clone();
        app.socket.on_event(move |e| me.on_socket(e));
        app
    }

    fn key(&self, what: &str) -> String {
        let mut k = String::from("confab:");
        k.push_str(&self.opts.site);
        k.push(':');
        k.push_str(what);
        k
    }

    fn token(&self) -> Option<String> {
        storage()?
            .get_item(&self.key("token"))
            .ok()
            .flatten()
            .filter(|t| !t.is_empty())
    }

    /// Starts the app: restores the outbox, connects if there is something to show or send, and sets
    /// up the effects that tie the signals to the socket and the loader.
    pub fn start(&self) {
        if let Some(saved) = storage().and_then(|s| s.get_item(&self.key("outbox")).ok().flatten())
        {
            let items = wire::decode_pairs(&saved);
            if !items.is_empty() {
                self.s.thread.update(|t| {
                    for (id, text) in items {
                        t.push_pending(id, text, now());
                    }
                });
            }
        }
        if self.token().is_some() || !self.s.thread.with_untracked(Thread::is_empty) {
            self.connect();
        }
        self.effects();
        self.listen();
    }

    fn connect(&self) {
        if !self.socket.is_started() {
            self.s.conn.set(Conn::Connecting);
        }
        self.socket.connect();
    }

    /// Retries at once when the network or the tab comes back, instead of waiting out the backoff.
    fn listen(&self) {
        let me = self.clone();
        let on_online = window_event_listener_untyped("online", move |_| {
            if me.s.conn.get_untracked() == Conn::Offline {
                me.connect();
            }
        });
        std::mem::forget(on_online);
        let me = self.clone();
        let on_visibility = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
            let visible = document().visibility_state() == web_sys::VisibilityState::Visible;
            me.s.visible.set(visible);
            if visible && me.s.conn.get_untracked() == Conn::Offline {
                me.connect();
            }
        });
        let _ = document().add_event_listener_with_callback(
            "visibilitychange",
            on_visibility.as_ref().unchecked_ref(),
        );
        on_visibility.forget();
    }

    fn effects(&self) {
        let s = self.s;
        // Opening the panel connects (the first visit has no token yet).
        let me = self.clone();
        Effect::new(move |_| {
            if s.open.get() {
                me.connect();
            }
        });
        // Unread badge on the launcher while the panel is closed; "(2) Page title" while replies
        // wait in a hidden tab, the page's own title again once it's visible.
        let me = self.clone();
        Effect::new(move |prev: Option<usize>| {
            let unread = s.thread.with(|t| t.unread(s.read_seq.get()));
            // Open but hidden (a background tab, an app's webview off screen) still counts as unread.
            let n = if s.open.get() && s.visible.get() { 0 } else { unread };
            if prev != Some(n) {
                if let Some(f) = &me.opts.on_unread {
                    let _ = f.call1(&JsValue::NULL, &JsValue::from_f64(n as f64));
                }
            }
            me.title(if s.visible.get() { 0 } else { unread });
            n
        });
        // Read receipts: the visitor sees the thread when the panel is open and the tab visible.
        let me = self.clone();
        Effect::new(move |_| {
            let last = s.thread.with(Thread::last_seq);
            if s.open.get()
                && s.visible.get()
                && s.conn.get() == Conn::Online
                && last > s.read_seq.get_untracked()
                && me.socket.send(&VisitorClientFrame::Read { up_to: last })
            {
                s.read_seq.set(last);
            }
        });
        // The offline outbox survives a reload.
        let me = self.clone();
        Effect::new(move |prev: Option<Vec<(String, String)>>| {
            let outbox = s.thread.with(Thread::outbox);
            if prev.as_ref() != Some(&outbox) {
                if let Some(st) = storage() {
                    let key = me.key("outbox");
                    let _ = if outbox.is_empty() {
                        st.remove_item(&key)
                    } else {
                        st.set_item(&key, &crate::wire::encode_pairs(&outbox))
                    };
                }
            }
            outbox
        });
        // The bot's row: quick replies only while their message is the thread's newest.
        let me = self.clone();
        Effect::new(move |_| {
            let last = s.thread.with(Thread::last_seq);
            let t = s.t();
            s.bot.with(|(active, seq, replies)| {
                if let Some(row) = me.bot_row.get() {
                    let replies = crate::components::bot::shown(*seq, last, replies);
                    crate::components::keep_focus(&row, || crate::components::bot::fill(&row, *active, replies, t));
                }
            });
        });
        // The e-mail offer / survey card (plain DOM), redrawn only when what it shows changes.
        let me = self.clone();
        // (An effect without a value of its own: a new value type costs wasm.)
        let shown = std::cell::RefCell::new(None);
        Effect::new(move |_| {
            let card = crate::components::reach::Card::pick(
                s.survey.get(),
                s.email.get().as_deref(),
                s.thread.with(Thread::awaiting_reply),
            );
            let now = (card, s.lang.get());
            if shown.borrow().as_ref() != Some(&now) {
                shown.replace(Some(now.clone()));
                if let Some(row) = me.reach_row.get_untracked() {
                    if row.get_attribute("data-card").is_none() {
                        crate::components::reach::listen(&me, &row);
                    }
                    let push = me.opts.push.is_some();
                    crate::components::keep_focus(&row, || crate::components::reach::fill(&row, &now.0, now.1.text(), push));
                }
            }
        });
        // Notices fade after a while (unless a newer one took their place).
        Effect::new(move |_| {
            if let Some(shown) = s.notice.get() {
                let clear = move || {
                    if s.notice.with_untracked(|n| n.as_ref() == Some(&shown)) {
                        s.notice.set(None);
                    }
                };
                set_timeout(clear, Duration::from_secs(8));
            }
        });
    }

    /// (Re)draws the continue row: on a welcome, and when the panel is redrawn in another language.
    pub fn fill_continue_row(&self) {
        if let Some(row) = self.continue_row.get_untracked() {
            crate::components::continue_on::fill(&row, &self.continue_links.borrow(), self.s.t());
        }
    }

    fn title(&self, unread: usize) {
        let doc = document();
        let saved = self.title.take();
        if unread == 0 {
            if let Some(own) = saved {
                doc.set_title(&own);
            }
        } else {
            let own = saved.unwrap_or_else(|| doc.title());
            doc.set_title(&text::cat(&["(", &unread.to_string(), ") ", &own]));
            self.title.replace(Some(own));
        }
    }

    fn on_socket(&self, e: SocketEvent) {
        let s = self.s;
        match e {
            SocketEvent::Open => {
                let hello = VisitorClientFrame::Hello {
                    v: PROTOCOL_VERSION,
                    token: self.token(),
                    last_seq: s.thread.with_untracked(Thread::last_seq),
                    page: window().location().href().ok(),
                    referrer: Some(document().referrer()).filter(|r| !r.is_empty()),
                    timezone: time_zone(),
                    locale: self.locale(),
                };
                self.socket.send(&hello);
            }
            SocketEvent::Down => {
                s.conn.set(Conn::Offline);
                s.typing.set(None);
                s.advisors_online.set(false);
                s.queue.set((0, None));
                self.typing_at.set(0);
                if !self.checked.replace(true) {
                    self.check_site();
                }
            }
            SocketEvent::Frame(frame) => self.on_frame(frame),
        }
    }

    fn on_frame(&self, frame: VisitorServerFrame) {
        let s = self.s;
        match frame {
            VisitorServerFrame::Welcome {
                token,
                conversation,
                last_seq,
                read_seq,
                site,
                advisors_online,
                delivered_seq,
                advisors_read_seq,
                continue_on,
                ..
            } => {
                if let Some(st) = storage() {
                    let _ = st.set_item(&self.key("token"), &token);
                }
                if self
                    .conversation
                    .replace(Some(conversation.0))
                    .is_some_and(|c| c != conversation.0)
                {
                    s.thread.update(Thread::restart);
                }
                s.read_seq.set(read_seq);
                self.live_from.set(last_seq);
                if !site.color.is_empty() {
                    // The loader paints the launcher (and caches it for the next page, before the app loads).
                    let on = text::on_brand(&site.color);
                    self.emit(
                        "theme",
                        &text::cat(&[&site.color, "|", on, "|", &site.position, "|", &site.launcher]),
                        "",
                    );
                }
                // The relay says again after the replay whether its bot has the conversation.
                s.bot.set((false, 0, Vec::new()));
                // Both follow the welcome when the relay has them.
                s.email.set(None);
                s.survey.set(NO_SURVEY);
                s.site.set(site);
                s.advisors_online.set(advisors_online);
                s.delivered.set(delivered_seq);
                s.seen.set(advisors_read_seq);
                self.continue_links.replace(continue_on);
                self.fill_continue_row();
                s.conn.set(Conn::Online);
                s.refused.set(None);
                self.checked.set(true);
                self.socket.healthy();
                self.flush();
                if let Some(who) = self.identity.borrow().as_ref() {
                    self.socket.send(who);
                }
            }
            VisitorServerFrame::Message { message } => {
                if !message.is_from_visitor() {
                    s.typing.set(None);
                    if message.seq > self.live_from.get() {
                        let author = match &message.author {
                            shared::Author::Advisor { name, .. } => name.as_str(),
                            shared::Author::Bot => "bot",
                            _ => "system",
                        };
                        self.emit("message", &message.text, author);
                    }
                } else {
                    // Writing again reopens the conversation: the survey was about the last one.
                    s.survey.set(NO_SURVEY);
                }
                s.thread.update(|t| {
                    t.apply(message);
                });
            }
            VisitorServerFrame::Ack { id, seq, sent_at } => {
                s.thread.update(|t| {
                    t.ack(id.as_str(), seq, sent_at);
                });
            }
            VisitorServerFrame::Typing { on, name } => {
                s.typing.set(on.then_some(name));
                // The relay repeats "on" every few seconds while the advisor types: without it, the
                // advisor has gone quiet (or their "stopped" was lost).
                let gen = self.their_typing_gen.get().wrapping_add(1);
                self.their_typing_gen.set(gen);
                let me = self.clone();
                set_timeout(
                    move || {
                        if me.their_typing_gen.get() == gen {
                            me.s.typing.set(None);
                        }
                    },
                    Duration::from_secs(6),
                );
            }
            VisitorServerFrame::Delivered { up_to } => s.delivered.update(|d| *d = up_to.max(*d)),
            VisitorServerFrame::Read { up_to } => s.seen.update(|r| *r = up_to.max(*r)),
            VisitorServerFrame::Presence { advisors_online } => {
                s.advisors_online.set(advisors_online)
            }
            VisitorServerFrame::Queue { position, wait_ms } => s.queue.set((position, wait_ms)),
            VisitorServerFrame::Identified {
                verified,
                switched,
                token,
            } => {
                self.identity.take();
                // A verified binding ends every earlier token of this visitor: keep the new one.
                if let (Some(token), Some(st)) = (token, storage()) {
                    let _ = st.set_item(&self.key("token"), &token);
                }
                self.emit("identify", if verified { "1" } else { "0" }, "");
                if switched {
                    // This device's token now opens the user's thread: show it from the start.
                    self.reset_thread();
                }
            }
            VisitorServerFrame::Bot {
                active,
                seq,
                replies,
            } => s.bot.set((active, seq, replies)),
            VisitorServerFrame::Email { email } => s.email.set(Some(email)),
            VisitorServerFrame::Survey { rating } => s.survey.set(if rating == 0 { ASKED } else { Seq::from(rating) }),
            VisitorServerFrame::Error(err) if err.code == ErrorCode::RateLimited => {
                // A limit of the relay: nothing is lost. A refused message stays pending and goes
                // out again when the relay said; a refused hello reconnects on the socket's backoff.
                if err.reference.is_some() && !self.resend_due.replace(true) {
                    s.notice.set(Some(s.lang.get_untracked().text().slow_down.to_owned()));
                    let me = self.clone();
                    let wait = err.retry_after_ms.unwrap_or(1000).clamp(100, 60_000);
                    set_timeout(
                        move || {
                            me.resend_due.set(false);
                            me.s.notice.set(None);
                            me.flush();
                        },
                        Duration::from_millis(wait),
                    );
                }
            }
            VisitorServerFrame::Error(err) if err.code == ErrorCode::ThreadMoved => {
                // Sent while the relay moved this thread into the user's: still pending, it goes
                // out again after the reconnect that `identified` asked for.
                let me = self.clone();
                set_timeout(move || me.socket.restart(), Duration::ZERO);
            }
            VisitorServerFrame::Error(err) => {
                let failed = err.reference.as_deref().is_some_and(|r| {
                    let mut hit = false;
                    s.thread.update(|t| hit = t.fail(r, err.message.clone()));
                    hit
                });
                if failed {
                    return;
                }
                if err.code == ErrorCode::IdentityRejected {
                    // The relay's reason is for the developer (on('identify')); the visitor gets words.
                    self.identity.take();
                    self.emit("identify", "", &err.message);
                    s.notice.set(Some(s.lang.get_untracked().text().identity_refused.to_owned()));
                } else if err.code == ErrorCode::BadToken {
                    // The relay doesn't know us (any more): start over as a new visitor.
                    if let Some(st) = storage() {
                        let _ = st.remove_item(&self.key("token"));
                    }
                    self.reset_thread();
                } else {
                    s.notice.set(Some(err.message));
                }
            }
            _ => {}
        }
    }

    /// Starts the thread over (pending messages kept) and reconnects.
    fn reset_thread(&self) {
        self.s.thread.update(Thread::restart);
        self.conversation.set(None);
        let me = self.clone();
        set_timeout(move || me.socket.restart(), Duration::ZERO);
    }

    fn emit(&self, kind: &str, a: &str, b: &str) {
        if let Some(f) = &self.opts.on_event {
            let _ = f.call3(&JsValue::NULL, &kind.into(), &a.into(), &b.into());
        }
    }

    /// `Confab('identify', …)`: sent now if connected, else after the next welcome (and it connects).
    pub fn identify(&self, frame: VisitorClientFrame) {
        let now_sent = self.s.conn.get_untracked() == Conn::Online && self.socket.send(&frame);
        self.identity.replace(Some(frame));
        if !now_sent {
            self.connect();
        }
    }

    /// `Confab('shutdown')`: forget this visitor on this device (token, outbox, theme), close the socket,
    /// and go back to a fresh anonymous state; the next open starts a new visitor.
    pub fn shutdown(&self) {
        self.socket.stop();
        if let Some(st) = storage() {
            for k in ["token", "outbox", "theme"] {
                let _ = st.remove_item(&self.key(k));
            }
        }
        self.identity.take();
        self.conversation.set(None);
        self.continue_links.replace(Vec::new());
        let s = self.s;
        s.thread.set(Thread::default());
        s.read_seq.set(0);
        s.delivered.set(0);
        s.seen.set(0);
        s.typing.set(None);
        s.notice.set(None);
        s.advisors_online.set(false);
        s.queue.set((0, None));
        s.conn.set(Conn::Idle);
        self.fill_continue_row();
    }

    /// A browser tells a page nothing about a refused WebSocket handshake, so after a failure the app asks
    /// the site endpoint, which answers with the same checks. A 403/404 readable through CORS gives the
    /// relay's own words; a refusal CORS hides (reachable without CORS, not with it) gets a generic one.
    fn check_site(&self) {
        let me = self.clone();
        let url = text::site_url(&self.opts.relay, &self.opts.site);
        leptos::task::spawn_local(async move {
            let win = window();
            match JsFuture::from(win.fetch_with_str(&url)).await {
                Ok(resp) => {
                    let resp: web_sys::Response = resp.unchecked_into();
                    if matches!(resp.status(), 403 | 404) {
                        let body = match resp.text() {
                            Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
                            Err(_) => None,
                        };
                        let message = body.and_then(|b| wire::parse(&b)).map(|j| j.str("message"));
                        me.refuse(message.filter(|m| !m.is_empty()));
                    }
                }
                Err(_) => {
                    let init = web_sys::RequestInit::new();
                    init.set_mode(web_sys::RequestMode::NoCors);
                    if JsFuture::from(win.fetch_with_str_and_init(&url, &init))
                        .await
                        .is_ok()
                    {
                        me.refuse(None);
                    }
                }
            }
        });
    }

    /// Shows why the relay refuses this page. Attempts go on with the usual backoff: a refusal hidden by
    /// CORS can't be told apart from a proxy's passing 5xx, and an operator may fix the allowed origins.
    fn refuse(&self, message: Option<String>) {
        let t = self.s.lang.get_untracked().text();
        let message = match message {
            Some(m) => crate::i18n::fill(t.unavailable, &[&m]),
            None => t.not_allowed.to_owned(),
        };
        self.s.refused.set(Some(message));
    }

    /// Sends every pending message (same ids as before: the relay stores each once).
    fn flush(&self) {
        if self.s.conn.get_untracked() != Conn::Online {
            return;
        }
        for (id, text, attachments) in self.s.thread.with_untracked(Thread::sends) {
            if !self.socket.send(&VisitorClientFrame::Send {
                id: ClientMsgId(id),
                text,
                attachments,
            }) {
                break;
            }
        }
    }

    /// Sends the composer's text. Returns whether it was taken.
    pub fn send_draft(&self) -> bool {
        let draft = self.s.draft.get_untracked();
        if !text::sendable(&draft) {
            return false;
        }
        self.s.draft.set(String::new());
        self.send_text(draft.trim().to_owned());
        true
    }

    /// A quick reply: sent as if typed; the buttons go (the bot's answer brings its own).
    pub fn quick_reply(&self, text: String) {
        self.s.bot.update(|b| b.2.clear());
        self.send_text(text);
    }

    /// "Talk to a person". The relay answers with a `bot` frame once it is handed over.
    pub fn hand_off(&self) {
        self.socket.send(&VisitorClientFrame::Handoff);
    }

    fn send_text(&self, text: String) {
        let id = new_id();
        self.s.survey.set(NO_SURVEY);
        self.s
            .thread
            .update(|t| t.push_pending(id.clone(), text.clone(), now()));
        self.stop_typing();
        self.send((id, text, Vec::new()));
    }

    fn send(&self, (id, text, attachments): crate::store::Outgoing) {
        if self.s.conn.get_untracked() == Conn::Online {
            self.socket.send(&VisitorClientFrame::Send {
                id: ClientMsgId(id),
                text,
                attachments,
            });
        } else {
            self.connect();
        }
    }

    /// Asks the relay to e-mail replies to `email` while the visitor is away.
    pub fn set_email(&self, email: String) {
        if self.s.conn.get_untracked() == Conn::Online {
            self.socket.send(&VisitorClientFrame::SetEmail { email });
        }
    }

    /// Subscribes this browser to Web Push (the loader asks for permission) and tells the relay.
    /// Resolves to whether it worked.
    pub async fn subscribe_push(&self) -> bool {
        let Some(f) = &self.opts.push else { return false };
        let Ok(promise) = f.call0(&JsValue::NULL) else { return false };
        let Ok(json) = JsFuture::from(js_sys::Promise::from(promise)).await else { return false };
        let Some(j) = json.as_string().and_then(|t| wire::parse(&t)) else { return false };
        let keys = j.get("keys");
        self.socket.send(&VisitorClientFrame::PushSubscribe {
            endpoint: j.str("endpoint"),
            p256dh: keys.str("p256dh"),
            auth: keys.str("auth"),
        })
    }

    /// Rates the resolved conversation (1–5), with an optional comment.
    pub fn rate(&self, rating: u8, comment: String) {
        let comment = Some(comment.trim().to_owned()).filter(|c| !c.is_empty());
        self.socket.send(&VisitorClientFrame::Rate { rating, comment });
    }

    pub fn retry(&self, id: &str) {
        if let Some(out) = self.s.thread.try_update(|t| t.retry(id)).flatten() {
            self.send(out);
        }
    }

    /// Files picked, dropped or pasted: each one the relay would take is queued for upload (one at
    /// a time), the others are refused at once with the reason.
    pub fn attach(&self, list: Option<web_sys::FileList>) {
        let Some(list) = list else { return };
        let t = self.s.lang.get_untracked().text();
        for i in 0..list.length() {
            let Some(file) = list.get(i) else { continue };
            if !shared::limits::upload_type_allowed(&file.type_()) {
                self.s.notice.set(Some(t.file_type.to_owned()));
            } else if file.size() > shared::limits::MAX_UPLOAD_BYTES as f64 {
                self.s.notice.set(Some(t.file_large.to_owned()));
            } else {
                self.files.borrow_mut().push(file);
            }
        }
        if !self.uploading.get() {
            self.next_upload();
        }
    }

    /// Uploads the next queued file with its progress shown; once the relay has it, sends it as a
    /// message of its own.
    fn next_upload(&self) {
        let file = {
            let mut queue = self.files.borrow_mut();
            (!queue.is_empty()).then(|| queue.remove(0))
        };
        let (Some(token), Some(file)) = (self.token(), file) else {
            return;
        };
        let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
            return;
        };
        let s = self.s;
        let name = file.name();
        let url = text::upload_url(&self.opts.relay, &self.opts.site, &name);
        let _ = xhr.open("POST", &url);
        let _ = xhr.set_request_header("Authorization", &text::cat(&["Bearer ", &token]));
        self.uploading.set(true);
        // The progress is shown in the status line: "Sending beach.png… 42%".
        let shown = name.clone();
        let show = move |pct: u32| {
            let t = s.lang.get_untracked().text();
            s.notice.set(Some(crate::i18n::fill(t.uploading, &[&shown, &pct.to_string()])));
        };
        show(0);
        // One listener for the upload's progress and its end: one closure type, shared with the
        // composer's (each distinct closure type costs the widget's budget).
        let me = self.clone();
        let x = xhr.clone();
        let on = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            match e.dyn_ref::<web_sys::ProgressEvent>() {
                Some(p) if e.type_() == "progress" => {
                    if p.total() > 0.0 {
                        show((p.loaded() * 100.0 / p.total()) as u32);
                    }
                }
                _ => {
                    let body = x.response_text().ok().flatten().and_then(|b| wire::parse(&b));
                    me.uploaded(x.status().unwrap_or(0), body, &name);
                }
            }
        })
        .into_js_value();
        if let Ok(up) = xhr.upload() {
            let _ = up.add_event_listener_with_callback("progress", on.unchecked_ref());
        }
        let _ = xhr.add_event_listener_with_callback("loadend", on.unchecked_ref());
        let _ = xhr.send_with_opt_blob(Some(&file));
    }

    fn uploaded(&self, status: u16, body: Option<wire::Json>, name: &str) {
        let s = self.s;
        self.uploading.set(false);
        s.notice.set(None);
        let t = s.lang.get_untracked().text();
        match body {
            Some(j) if status == 201 => {
                let file = wire::attachment(&j);
                let id = new_id();
                let label = shared::text::attachment_label(file.kind, file.name.as_deref());
                s.thread.update(|th| th.push_files(id.clone(), label, now(), vec![file.clone()]));
                self.send((id, String::new(), vec![file.id]));
            }
            body => {
                let code = body.as_ref().map(|j| j.str("code")).unwrap_or_default();
                s.notice.set(Some(match code.as_str() {
                    "file_type_refused" => t.file_type.to_owned(),
                    "file_too_large" => t.file_large.to_owned(),
                    _ => crate::i18n::fill(t.file_failed, &[name]),
                }));
            }
        }
        self.next_upload();
    }

    /// Tells the advisor the visitor is typing: "on" at most every 3 s while keys are pressed (the
    /// relay forwards repeats as a keep-alive), "stopped" after 4 quiet seconds or on send.
    pub fn typed(&self) {
        if self.s.conn.get_untracked() != Conn::Online {
            return;
        }
        let t = now();
        // 3.2 s rather than 3: the relay forwards a repeat only 3 s after the last one it forwarded,
        // so a little network jitter must not make it drop every other one.
        if t - self.typing_at.get() >= 3200
            && self.socket.send(&VisitorClientFrame::Typing { on: true })
        {
            self.typing_at.set(t);
        }
        let gen = self.typing_gen.get().wrapping_add(1);
        self.typing_gen.set(gen);
        let me = self.clone();
        set_timeout(
            move || {
                if me.typing_gen.get() == gen {
                    me.stop_typing();
                }
            },
            Duration::from_secs(4),
        );
    }

    fn stop_typing(&self) {
        if self.typing_at.replace(0) > 0 {
            self.socket.send(&VisitorClientFrame::Typing { on: false });
        }
    }

    pub fn retry_now(&self) {
        self.socket.restart();
        self.s.conn.set(Conn::Connecting);
    }

    /// The language for the relay's `hello`, when the browser's own header would say otherwise: the
    /// relay writes to the visitor (bot, e-mail) in it. Otherwise the header's fuller tag ("fr-CH") says
    /// more to the advisor.
    fn locale(&self) -> Option<String> {
        let lang = self.s.lang.get_untracked();
        let first = browser_languages().into_iter().next();
        // The relay reads a language it doesn't speak ("de-CH") as English, like the widget does.
        let relay_reads = first.as_deref().and_then(Lang::from_tag).unwrap_or(Lang::En);
        (relay_reads != lang).then(|| lang.tag().to_owned())
    }

    pub fn close(&self) {
        if let Some(f) = &self.opts.on_close {
            let _ = f.call0(&JsValue::NULL);
        }
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    type Resolved;
    /// `Intl.DateTimeFormat().resolvedOptions()`, bound directly: lighter than js-sys' `Intl`.
    #[wasm_bindgen(js_namespace = Intl, js_name = DateTimeFormat, catch)]
    fn date_time_format() -> Result<DateTimeFormat, wasm_bindgen::JsValue>;
    type DateTimeFormat;
    #[wasm_bindgen(method, js_name = resolvedOptions)]
    fn resolved_options(this: &DateTimeFormat) -> Resolved;
    #[wasm_bindgen(method, getter, js_name = timeZone)]
    fn time_zone(this: &Resolved) -> Option<String>;
}

/// `navigator.languages`, most preferred first.
pub fn browser_languages() -> Vec<String> {
    // Read as a property: a `getter` binding on the `navigator` namespace calls it as a function.
    let get = |o: &JsValue, k: &str| js_sys::Reflect::get(o, &JsValue::from_str(k)).unwrap_or_default();
    let langs: js_sys::Array = get(&get(&js_sys::global(), "navigator"), "languages")
        .dyn_into()
        .unwrap_or_default();
    (0..langs.length())
        .filter_map(|i| langs.get(i).as_string())
        .collect()
}

/// The browser's IANA time zone, for the advisor's "local time".
fn time_zone() -> Option<String> {
    date_time_format().ok()?.resolved_options().time_zone()
}
