//! The bell menu (desktop notifications and sound on or off, kept in localStorage) and raising an
//! alert: a Web Notification that opens its conversation when clicked, and a short WebAudio tone
//! (no sound file to download). Whether a frame alerts is decided by `crate::notify`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AudioContext, Notification, NotificationOptions, NotificationPermission};

use crate::notify::{Alert, Prefs};
use crate::{Ctx, Overlay};

const DESKTOP_KEY: &str = "confab.notify.desktop";
const SOUND_KEY: &str = "confab.notify.sound";

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// The saved toggles; both off until the advisor turns them on.
pub fn load_prefs() -> Prefs {
    let on = |key| storage().and_then(|s| s.get_item(key).ok().flatten()).as_deref() == Some("on");
    Prefs { desktop: on(DESKTOP_KEY), sound: on(SOUND_KEY) }
}

fn save_prefs(prefs: Prefs) {
    if let Some(s) = storage() {
        let _ = s.set_item(DESKTOP_KEY, if prefs.desktop { "on" } else { "off" });
        let _ = s.set_item(SOUND_KEY, if prefs.sound { "on" } else { "off" });
    }
}

/// Whether this browser has Web Notifications at all (not in some embedded views).
fn notifications_supported() -> bool {
    js_sys::Reflect::has(&window(), &JsValue::from_str("Notification")).unwrap_or(false)
}

/// Show `alert`: a desktop notification (when allowed) and the tone.
pub fn raise(ctx: Ctx, alert: Alert) {
    if alert.desktop && notifications_supported() && Notification::permission() == NotificationPermission::Granted {
        let options = NotificationOptions::new();
        options.set_body(&alert.body);
        // One notification per conversation: a newer message replaces the older one.
        options.set_tag(&format!("confab-{}", alert.conversation.0));
        if let Ok(n) = Notification::new_with_options(&alert.title, &options) {
            let id = alert.conversation;
            let shown = n.clone();
            let on_click = Closure::once_into_js(move || {
                let _ = window().focus();
                ctx.select(id);
                shown.close();
            });
            n.set_onclick(Some(on_click.unchecked_ref()));
        }
    }
    if alert.sound {
        chime();
    }
}

thread_local! {
    /// One audio context for the page, made on first use (browsers limit how many a page makes).
    static AUDIO: std::cell::RefCell<Option<AudioContext>> = const { std::cell::RefCell::new(None) };
}

/// Two short rising notes, generated (about 0.3 s).
fn chime() {
    AUDIO.with(|audio| {
        let mut audio = audio.borrow_mut();
        if audio.is_none() {
            *audio = AudioContext::new().ok();
        }
        let Some(ac) = audio.as_ref() else { return };
        // A context made before any click starts suspended; this resumes it once the advisor has
        // interacted with the page.
        let _ = ac.resume();
        let start = ac.current_time();
        for (i, freq) in [660.0_f32, 990.0].into_iter().enumerate() {
            let t = start + i as f64 * 0.12;
            let (Ok(osc), Ok(gain)) = (ac.create_oscillator(), ac.create_gain()) else { return };
            osc.frequency().set_value(freq);
            let g = gain.gain();
            let _ = g.set_value_at_time(0.0001, t);
            let _ = g.exponential_ramp_to_value_at_time(0.25, t + 0.015);
            let _ = g.exponential_ramp_to_value_at_time(0.0001, t + 0.18);
            let _ = osc.connect_with_audio_node(&gain);
            let _ = gain.connect_with_audio_node(&ac.destination());
            let _ = osc.start_with_when(t);
            let _ = osc.stop_with_when(t + 0.2);
        }
    });
}

/// The bell button and its menu of two toggles.
#[component]
pub fn NotificationMenu() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let open = move || ctx.overlay.get() == Overlay::Bell;
    let hint = RwSignal::new(None::<&'static str>);
    let set = move |f: fn(&mut Prefs, bool), on: bool| {
        ctx.prefs.update(|p| f(p, on));
        save_prefs(ctx.prefs.get_untracked());
    };
    let on_desktop = move |ev| {
        let on = event_target_checked(&ev);
        set(|p, on| p.desktop = on, on);
        hint.set(None);
        if !on {
            return;
        }
        if !notifications_supported() {
            hint.set(Some("This browser can't show notifications."));
            set(|p, on| p.desktop = on, false);
            return;
        }
        match Notification::permission() {
            NotificationPermission::Granted => {}
            NotificationPermission::Denied => {
                hint.set(Some("Notifications are blocked for this site: allow them in the browser's site settings."));
                set(|p, on| p.desktop = on, false);
            }
            _ => spawn_local(async move {
                let granted = match Notification::request_permission() {
                    Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await.ok().and_then(|v| v.as_string()),
                    Err(_) => None,
                };
                if granted.as_deref() != Some("granted") {
                    hint.set(Some("Notifications were not allowed, so they stay off."));
                    set(|p, on| p.desktop = on, false);
                }
            }),
        }
    };
    let on_sound = move |ev| {
        let on = event_target_checked(&ev);
        set(|p, on| p.sound = on, on);
        if on {
            // A preview, which also lets the browser play later sounds (it was a click).
            chime();
        }
    };
    let any_on = move || ctx.prefs.with(|p| p.desktop || p.sound);
    view! {
        <div class="bell-wrap">
            <button
                type="button"
                class="icon-button bell"
                aria-label="Notifications"
                aria-haspopup="true"
                aria-expanded=move || if open() { "true" } else { "false" }
                data-on=move || if any_on() { "true" } else { "false" }
                on:click=move |_| ctx.overlay.update(|o| *o = if *o == Overlay::Bell { Overlay::None } else { Overlay::Bell })
            >
                <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                    <path
                        d="M6 9.5a6 6 0 0 1 12 0c0 4.5 1.5 6 2 6.5H4c.5-.5 2-2 2-6.5zM10 19.5a2 2 0 0 0 4 0"
                        fill="none"
                        stroke="currentColor"
                        stroke-width="1.6"
                        stroke-linejoin="round"
                    ></path>
                </svg>
            </button>
            {move || open().then(|| view! {
                <div class="bell-menu" role="group" aria-label="Notification settings">
                    <label class="toggle">
                        <input type="checkbox" prop:checked=move || ctx.prefs.with(|p| p.desktop) on:change=on_desktop />
                        <span>"Desktop notifications"</span>
                    </label>
                    <label class="toggle">
                        <input type="checkbox" prop:checked=move || ctx.prefs.with(|p| p.sound) on:change=on_sound />
                        <span>"Sound"</span>
                    </label>
                    <p class="bell-note">"For new conversations and customer messages that are yours or unassigned, when you are not looking at them."</p>
                    {move || hint.get().map(|h| view! { <p class="bell-hint" role="status">{h}</p> })}
                </div>
            })}
        </div>
    }
}
