//! The visitor socket: one `WebSocket` at a time, reconnected with exponential backoff and jitter.
//! It knows nothing of the conversation; the app greets, resumes and flushes the outbox on `Open`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::{set_timeout_with_handle, TimeoutHandle};
use shared::{VisitorClientFrame, VisitorServerFrame};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, WebSocket};

pub enum SocketEvent {
    /// Connected: send `hello` now.
    Open,
    Frame(VisitorServerFrame),
    /// Disconnected (or never connected); the next attempt is scheduled.
    Down,
}

type Handler = Rc<dyn Fn(SocketEvent)>;

#[derive(Clone)]
pub struct Socket(Rc<RefCell<Inner>>);

struct Inner {
    url: String,
    ws: Option<WebSocket>,
    /// Failed attempts since the last healthy connection.
    attempt: u32,
    timer: Option<TimeoutHandle>,
    on_event: Option<Handler>,
}

/// The wait before attempt `attempt + 1`: 1 s, 2 s, 4 s … capped at 30 s, times a jitter in [0.5, 1)
/// (`rand` in [0, 1)) so a relay restart isn't met by every widget at the same instant.
pub fn backoff_ms(attempt: u32, rand: f64) -> u32 {
    shared::backoff::reconnect_delay_ms(1000, attempt, rand)
}

impl Socket {
    pub fn new(url: String) -> Socket {
        Socket(Rc::new(RefCell::new(Inner {
            url,
            ws: None,
            attempt: 0,
            timer: None,
            on_event: None,
        })))
    }

    pub fn on_event(&self, f: impl Fn(SocketEvent) + 'static) {
        self.0.borrow_mut().on_event = Some(Rc::new(f));
    }

    fn emit(&self, e: SocketEvent) {
        let h = self.0.borrow().on_event.clone();
        if let Some(h) = h {
            h(e);
        }
    }

    /// Whether a socket exists or an attempt is scheduled.
    pub fn is_started(&self) -> bool {
        let inner = self.0.borrow();
        inner.ws.is_some() || inner.timer.is_some()
    }

    pub fn is_open(&self) -> bool {
        self.0
            .borrow()
            .ws
            .as_ref()
            .is_some_and(|ws| ws.ready_state() == WebSocket::OPEN)
    }

    /// The relay greeted us: the next failure starts the backoff from scratch.
    pub fn healthy(&self) {
        self.0.borrow_mut().attempt = 0;
    }

    /// Connects now unless connected or connecting (also cuts a scheduled wait short).
    pub fn connect(&self) {
        let mut inner = self.0.borrow_mut();
        if inner.ws.is_some() {
            return;
        }
        if let Some(t) = inner.timer.take() {
            t.clear();
        }
        let ws = match WebSocket::new(&inner.url) {
            Ok(ws) => ws,
            Err(_) => {
                drop(inner);
                self.schedule();
                return;
            }
        };
        // The closures hold the socket they belong to, so events of a replaced socket are ignored.
        let me = self.clone();
        let this = ws.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            if me.is_current(&this) {
                me.emit(SocketEvent::Open);
            }
        });
        let me = self.clone();
        let this = ws.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            if !me.is_current(&this) {
                return;
            }
            if let Some(text) = ev.data().as_string() {
                // A frame this version can't decode is skipped; unknown types decode to `Unknown`.
                if let Some(frame) = crate::wire::decode(&text) {
                    me.emit(SocketEvent::Frame(frame));
                }
            }
        });
        let me = self.clone();
        let this = ws.clone();
        let on_close = Closure::<dyn FnMut()>::new(move || {
            if me.is_current(&this) {
                me.0.borrow_mut().ws = None;
                me.schedule();
            }
        });
        ws.set_onopen(Some(on_open.into_js_value().unchecked_ref()));
        ws.set_onmessage(Some(on_message.into_js_value().unchecked_ref()));
        ws.set_onclose(Some(on_close.into_js_value().unchecked_ref()));
        inner.ws = Some(ws);
    }

    fn is_current(&self, ws: &WebSocket) -> bool {
        self.0.borrow().ws.as_ref() == Some(ws)
    }

    /// Drops the current socket (if any) and any scheduled attempt; `connect` starts again.
    pub fn stop(&self) {
        let (old, timer) = {
            let mut inner = self.0.borrow_mut();
            inner.attempt = 0;
            (inner.ws.take(), inner.timer.take())
        };
        if let Some(ws) = old {
            let _ = ws.close();
        }
        if let Some(t) = timer {
            t.clear();
        }
    }

    /// Drops the current socket (if any) and connects again at once.
    pub fn restart(&self) {
        self.stop();
        self.connect();
    }

    fn schedule(&self) {
        let delay = {
            let mut inner = self.0.borrow_mut();
            let d = backoff_ms(inner.attempt, js_sys::Math::random());
            inner.attempt = inner.attempt.saturating_add(1);
            if let Some(t) = inner.timer.take() {
                t.clear();
            }
            d
        };
        let me = self.clone();
        let timer = set_timeout_with_handle(
            move || {
                me.0.borrow_mut().timer = None;
                me.connect();
            },
            Duration::from_millis(delay.into()),
        )
        .ok();
        self.0.borrow_mut().timer = timer;
        self.emit(SocketEvent::Down);
    }

    /// Sends a frame if the socket is open. Returns whether it went out.
    pub fn send(&self, frame: &VisitorClientFrame) -> bool {
        let inner = self.0.borrow();
        let Some(ws) = inner
            .ws
            .as_ref()
            .filter(|ws| ws.ready_state() == WebSocket::OPEN)
        else {
            return false;
        };
        ws.send_with_str(&crate::wire::encode(frame)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped_at_thirty_seconds() {
        assert_eq!(backoff_ms(0, 0.0), 500);
        assert_eq!(backoff_ms(0, 0.999_999), 999);
        assert_eq!(backoff_ms(3, 0.0), 4000);
        assert_eq!(backoff_ms(10, 0.999_999), 29_999);
        assert_eq!(backoff_ms(u32::MAX, 0.0), 15_000);
        for attempt in 0..40 {
            assert!(backoff_ms(attempt, 0.5) <= 30_000);
        }
    }
}
