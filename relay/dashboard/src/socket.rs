//! The advisor WebSocket (`/ws/advisor`): connects, reports what happens as [`SocketEvent`]s, and
//! reconnects with exponential backoff and jitter when it drops. It knows nothing of the protocol
//! beyond decoding frames; the handshake and resuming live in [`crate::state::Model`].

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use leptos::prelude::{set_timeout_with_handle, TimeoutHandle};
use shared::{AdvisorClientFrame, AdvisorServerFrame};
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// First retry after about half a second, doubling up to this ceiling.
pub const MAX_BACKOFF_MS: u32 = shared::backoff::MAX_RECONNECT_MS;
const BASE_BACKOFF_MS: u32 = 500;

/// Delay before reconnect attempt number `attempt` (0-based), given `jitter` in `0.0..=1.0`: the
/// shared policy (half fixed, half random, doubling) starting from a 500 ms ceiling.
pub fn backoff_ms(attempt: u32, jitter: f64) -> u32 {
    shared::backoff::reconnect_delay_ms(BASE_BACKOFF_MS, attempt, jitter)
}

pub enum SocketEvent {
    /// Connected: greet now.
    Open,
    Frame(Box<AdvisorServerFrame>),
    /// Lost (or never reached); the next attempt is in `retry_in_ms`.
    Closed {
        retry_in_ms: u32,
    },
}

/// A handle to the live socket; clones share it.
#[derive(Clone)]
pub struct Socket(Rc<RefCell<Inner>>);

type Handlers = (
    Closure<dyn FnMut()>,
    Closure<dyn FnMut(MessageEvent)>,
    Closure<dyn FnMut(CloseEvent)>,
);

struct Inner {
    url: String,
    ws: Option<WebSocket>,
    /// Counts connections, so events of a socket we have replaced are ignored.
    generation: u32,
    /// Failed attempts since the last successful handshake.
    attempt: u32,
    stopped: bool,
    timer: Option<TimeoutHandle>,
    on_event: Rc<dyn Fn(SocketEvent)>,
    /// The current socket's callbacks; kept alive as long as it can call them.
    handlers: Option<Handlers>,
}

impl Socket {
    /// Start connecting to `url`; `on_event` hears about everything from now on.
    pub fn connect(url: String, on_event: impl Fn(SocketEvent) + 'static) -> Socket {
        let socket = Socket(Rc::new(RefCell::new(Inner {
            url,
            ws: None,
            generation: 0,
            attempt: 0,
            stopped: false,
            timer: None,
            on_event: Rc::new(on_event),
            handlers: None,
        })));
        open(&socket.0);
        socket
    }

    /// Send a frame if the socket is open; `false` when it isn't (the model re-sends what matters
    /// after the next handshake).
    pub fn send(&self, frame: &AdvisorClientFrame) -> bool {
        let inner = self.0.borrow();
        let Some(ws) = inner.ws.as_ref().filter(|ws| ws.ready_state() == WebSocket::OPEN) else {
            return false;
        };
        match serde_json::to_string(frame) {
            Ok(text) => ws.send_with_str(&text).is_ok(),
            Err(_) => false,
        }
    }

    pub fn is_open(&self) -> bool {
        self.0
            .borrow()
            .ws
            .as_ref()
            .is_some_and(|ws| ws.ready_state() == WebSocket::OPEN)
    }

    /// The handshake succeeded: the next drop starts the backoff from the beginning.
    pub fn welcomed(&self) {
        self.0.borrow_mut().attempt = 0;
    }

    /// Skip the wait: reconnect now if no socket is open or connecting (the tab became visible,
    /// the browser came back online, the advisor clicked "Retry").
    pub fn reconnect_now(&self) {
        let idle = {
            let inner = self.0.borrow();
            !inner.stopped && inner.ws.is_none()
        };
        if idle {
            if let Some(timer) = self.0.borrow_mut().timer.take() {
                timer.clear();
            }
            open(&self.0);
        }
    }

    /// Close for good (logout, unmount).
    pub fn stop(&self) {
        let mut inner = self.0.borrow_mut();
        inner.stopped = true;
        if let Some(timer) = inner.timer.take() {
            timer.clear();
        }
        if let Some(ws) = inner.ws.take() {
            detach(&ws);
            let _ = ws.close();
        }
        // `handlers` stay until the socket itself is dropped: `stop` may run inside one of them.
    }
}

fn detach(ws: &WebSocket) {
    ws.set_onopen(None);
    ws.set_onmessage(None);
    ws.set_onclose(None);
}

fn open(cell: &Rc<RefCell<Inner>>) {
    let mut inner = cell.borrow_mut();
    if inner.stopped {
        return;
    }
    inner.generation += 1;
    let generation = inner.generation;
    if let Some(old) = inner.ws.take() {
        detach(&old);
        let _ = old.close();
    }
    let ws = match WebSocket::new(&inner.url) {
        Ok(ws) => ws,
        Err(_) => {
            drop(inner);
            closed(cell, generation);
            return;
        }
    };
    let weak = Rc::downgrade(cell);

    let w = weak.clone();
    let on_open = Closure::<dyn FnMut()>::new(move || {
        if let Some(on_event) = current(&w, generation) {
            on_event(SocketEvent::Open);
        }
    });
    let w = weak.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Some(text) = event.data().as_string() else { return };
        // Not `shared::decode_frame`: its size limit is for frames clients send; a welcome or a
        // history legitimately exceeds it. Unknown frame types decode to `Unknown` and are ignored.
        let Ok(frame) = serde_json::from_str::<AdvisorServerFrame>(&text) else {
            web_sys::console::warn_1(&"confab: could not decode a frame from the relay".into());
            return;
        };
        if let Some(on_event) = current(&w, generation) {
            on_event(SocketEvent::Frame(Box::new(frame)));
        }
    });
    let w = weak;
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
        if let Some(cell) = w.upgrade() {
            closed(&cell, generation);
        }
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    inner.ws = Some(ws);
    // Replacing the previous socket's handlers here, not inside its own close handler, so a
    // closure is never dropped while it runs.
    inner.handlers = Some((on_open, on_message, on_close));
}

/// The event handler, if the connection `generation` is still the current one.
fn current(weak: &Weak<RefCell<Inner>>, generation: u32) -> Option<Rc<dyn Fn(SocketEvent)>> {
    let cell = weak.upgrade()?;
    let inner = cell.borrow();
    (inner.generation == generation && !inner.stopped).then(|| inner.on_event.clone())
}

fn closed(cell: &Rc<RefCell<Inner>>, generation: u32) {
    let on_event = {
        let mut inner = cell.borrow_mut();
        if inner.generation != generation || inner.stopped {
            return;
        }
        if let Some(ws) = inner.ws.take() {
            detach(&ws);
        }
        let delay = backoff_ms(inner.attempt, js_sys::Math::random());
        inner.attempt = inner.attempt.saturating_add(1);
        let weak = Rc::downgrade(cell);
        inner.timer = set_timeout_with_handle(
            move || {
                if let Some(cell) = weak.upgrade() {
                    cell.borrow_mut().timer = None;
                    open(&cell);
                }
            },
            Duration::from_millis(u64::from(delay)),
        )
        .ok();
        (inner.on_event.clone(), delay)
    };
    (on_event.0)(SocketEvent::Closed {
        retry_in_ms: on_event.1,
    });
}

/// `ws://` or `wss://` to this page's host.
pub fn advisor_url() -> String {
    let location = web_sys::window().expect("window").location();
    let scheme = if location.protocol().ok().as_deref() == Some("https:") {
        "wss"
    } else {
        "ws"
    };
    format!("{scheme}://{}/ws/advisor", location.host().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second_up_to_thirty_seconds() {
        assert_eq!(backoff_ms(0, 1.0), 500);
        assert_eq!(backoff_ms(1, 1.0), 1000);
        assert_eq!(backoff_ms(3, 1.0), 4000);
        assert_eq!(backoff_ms(6, 1.0), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(100, 1.0), MAX_BACKOFF_MS);
    }

    #[test]
    fn jitter_spreads_the_delay_over_the_upper_half() {
        assert_eq!(backoff_ms(3, 0.0), 2000);
        assert_eq!(backoff_ms(3, 0.5), 3000);
        assert_eq!(backoff_ms(100, 0.0), MAX_BACKOFF_MS / 2);
        assert_eq!(backoff_ms(2, 7.0), 2000, "jitter is clamped");
    }
}
