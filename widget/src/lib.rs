//! Confab's visitor chat panel: a Leptos CSR app that `widget/loader/widget.js` loads into the panel
//! element of its Shadow DOM (see docs/ARCHITECTURE.md, "Widget: loader ↔ wasm contract").
//!
//! `text`, `store` and `wire` are pure and tested natively; `socket`, `app` and `components` need a browser.

pub mod app;
pub mod components;
pub mod i18n;
pub mod socket;
pub mod store;
pub mod text;
pub mod wire;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use app::{App, Options};

/// What `mount` returns to the loader.
#[wasm_bindgen]
pub struct WidgetHandle {
    app: App,
    root: web_sys::HtmlElement,
    /// The drawn panel's `UnmountHandle` (dropping it takes the panel away).
    drawn: std::cell::RefCell<Option<Box<dyn std::any::Any>>>,
}

#[wasm_bindgen]
impl WidgetHandle {
    /// The loader opened or closed the panel.
    pub fn set_open(&self, open: bool) {
        self.app.s.open.set(open);
    }

    /// The site chose a language (`Confab('setLocale', 'fr')`); one we don't speak changes nothing.
    /// The panel is drawn again in it: the state lives in the app's signals, so nothing is lost, and
    /// no string needs a reactive closure of its own (those cost the size budget).
    pub fn set_locale(&self, tag: &str) {
        match i18n::Lang::from_tag(tag) {
            Some(lang) if lang != self.app.s.lang.get_untracked() => {
                self.app.s.lang.set(lang);
                // Dropping the old handle takes its DOM and its effects away.
                self.drawn.replace(None);
                self.drawn.replace(Some(draw(&self.root, &self.app)));
            }
            _ => {}
        }
    }

    /// `Confab('identify', {user_id, user_hash, name, email})`; without a user_id nothing happens.
    pub fn identify(&self, user: JsValue) {
        let get = |k| {
            let v = field(&user, k);
            v.as_string()
                .or_else(|| v.as_f64().map(|n| (n as i64).to_string()))
                .filter(|v| !v.is_empty())
        };
        if let Some(user_id) = get("user_id") {
            self.app.identify(shared::VisitorClientFrame::Identify {
                user_id,
                user_hash: get("user_hash"),
                name: get("name"),
                email: get("email"),
            });
        }
    }

    /// `Confab('shutdown')`: forget the visitor on this device.
    pub fn shutdown(&self) {
        self.app.shutdown();
    }
}

fn field(options: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(options, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Mounts the panel into `root`. `options`: `{relay, site, fullscreen, locale, onUnread, onClose,
/// onEvent}`.
#[wasm_bindgen]
pub fn mount(root: web_sys::HtmlElement, options: JsValue) -> WidgetHandle {
    let opts = Options {
        relay: field(&options, "relay").as_string().unwrap_or_default(),
        site: field(&options, "site").as_string().unwrap_or_default(),
        fullscreen: field(&options, "fullscreen").is_truthy(),
        locale: field(&options, "locale").as_string().filter(|l| !l.is_empty()),
        on_unread: field(&options, "onUnread").dyn_into().ok(),
        on_close: field(&options, "onClose").dyn_into().ok(),
        on_event: field(&options, "onEvent").dyn_into().ok(),
        push: field(&options, "push").dyn_into().ok(),
    };
    // The app (its signals, socket and effects) belongs to an owner of its own, so the panel can be
    // drawn again (`set_locale`) without starting it over. The widget lives as long as the page.
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let owner = Owner::new();
    let app = owner.with(|| {
        let app = App::new(opts);
        app.start();
        app
    });
    std::mem::forget(owner);
    let drawn = std::cell::RefCell::new(Some(draw(&root, &app)));
    WidgetHandle { app, root, drawn }
}

fn draw(root: &web_sys::HtmlElement, app: &App) -> Box<dyn std::any::Any> {
    let app = app.clone();
    Box::new(leptos::mount::mount_to(root.clone(), move || {
        let me = app.clone();
        request_animation_frame(move || me.fill_continue_row());
        view(&app)
    }))
}

fn view(app: &App) -> impl IntoView {
    let class = if app.opts.fullscreen {
        "confab-app confab-full"
    } else {
        "confab-app"
    };
    view! {
        <div class=class lang=app.s.lang.get_untracked().tag()>
            {components::header::header(app)}
            {components::status::status(app)}
            {components::thread::thread(app)}
            {components::bot::bot_row(app)}
            {components::reach::reach(app.reach_row)}
            {components::continue_on::continue_on(app.continue_row)}
            {components::composer::composer(app)}
        </div>
    }
}
