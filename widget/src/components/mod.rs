//! The panel's views. Each takes the `App` and reads its signals; none holds state of its own beyond
//! DOM references.

pub mod bot;
pub mod composer;
pub mod continue_on;
pub mod files;
pub mod header;
pub mod message;
pub mod reach;
pub mod status;
pub mod thread;

use wasm_bindgen::JsCast;

/// Redraws a plain-DOM row (`redraw`) without dropping a keyboard user onto the page: when the focus
/// was on something in the row that the redraw took away (a quick reply just pressed, the e-mail offer
/// an answer replaced), the composer gets it.
pub fn keep_focus(row: &web_sys::HtmlElement, redraw: impl FnOnce()) {
    let root = row.get_root_node();
    let focused = js_sys::Reflect::get(&root, &wasm_bindgen::JsValue::from_str("activeElement"))
        .ok()
        .and_then(|a| a.dyn_into::<web_sys::Node>().ok())
        .filter(|a| row.contains(Some(a)));
    redraw();
    if focused.is_some_and(|a| !a.is_connected()) {
        let composer = row.parent_element().and_then(|app| app.query_selector(".confab-composer").ok().flatten());
        if let Some(c) = composer.and_then(|c| c.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = c.focus();
        }
    }
}
