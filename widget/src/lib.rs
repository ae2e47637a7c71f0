//! Confab's visitor chat panel: a Leptos CSR app that `widget/loader/widget.js` loads into the panel
//! element of its Shadow DOM (see docs/ARCHITECTURE.md, "Widget: loader ↔ wasm contract").
//!
//! `text`, `store` and `wire` are pure and tested natively; `socket`, `app` and `components` need a browser.

pub mod app;
pub mod components;
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
    open: RwSignal<bool>,
}

#[wasm_bindgen]
impl WidgetHandle {
    /// The loader opened or closed the panel.
    pub fn set_open(&self, open: bool) {
        self.open.set(open);
    }
}

fn field(options: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(options, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Mounts the panel into `root`. `options`: `{relay, site, fullscreen, onUnread, onClose}`.
#[wasm_bindgen]
pub fn mount(root: web_sys::HtmlElement, options: JsValue) -> WidgetHandle {
    let opts = Options {
        relay: field(&options, "relay").as_string().unwrap_or_default(),
        site: field(&options, "site").as_string().unwrap_or_default(),
        fullscreen: field(&options, "fullscreen").is_truthy(),
        on_unread: field(&options, "onUnread").dyn_into().ok(),
        on_close: field(&options, "onClose").dyn_into().ok(),
    };
    // The brand colour goes on the shadow host, so the loader's launcher picks it up too.
    let host = root
        .get_root_node()
        .dyn_into::<web_sys::ShadowRoot>()
        .map(|r| r.host().unchecked_into::<web_sys::HtmlElement>())
        .unwrap_or_else(|_| root.clone());
    let theme_key = text::cat(&["confab:", &opts.site, ":theme"]);
    let open = std::rc::Rc::new(std::cell::Cell::new(None));
    let out = open.clone();
    let handle = leptos::mount::mount_to(root, move || {
        let app = App::new(opts);
        out.set(Some(app.s.open));
        let site = app.s.site;
        Effect::new(move |_| {
            site.with(|s| {
                if !s.color.is_empty() {
                    let on = text::on_brand(&s.color);
                    let style = host.style();
                    let _ = style.set_property("--confab-brand", &s.color);
                    let _ = style.set_property("--confab-on-brand", on);
                    // The loader paints the launcher in these colours on the next visit, before the app loads.
                    if let Ok(Some(st)) = window().local_storage() {
                        let _ = st.set_item(&theme_key, &text::cat(&[&s.color, "|", on]));
                    }
                }
            })
        });
        app.start();
        view(&app)
    });
    // The widget lives as long as the page.
    std::mem::forget(handle);
    WidgetHandle {
        open: open.get().expect("mount_to runs the view synchronously"),
    }
}

fn view(app: &App) -> impl IntoView {
    let class = if app.opts.fullscreen {
        "confab-app confab-full"
    } else {
        "confab-app"
    };
    view! {
        <div class=class>
            {components::header::header(app)}
            {components::status::status(app)}
            {components::thread::thread(app)}
            {components::continue_on::continue_on(app.continue_row)}
            {components::composer::composer(app)}
        </div>
    }
}
