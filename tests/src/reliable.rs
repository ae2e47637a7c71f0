//! Clients that behave like the widget and the dashboard on a bad day: they keep a local copy of the
//! thread, an outbox of messages the relay has not acked yet (re-sent with the same client ids on
//! every reconnect), and resume from the highest seq up to which they hold every message.
//!
//! They never panic on what the relay does; they record it. Whatever breaks the protocol's promises
//! (a seq that changes meaning, a message delivered twice on one connection, a resume that skips,
//! an ack that changes its seq) goes into `violations`, which the tests assert to be empty, and the
//! tests then compare every client's thread with the database.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shared::*;
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::{Ws, SHOP_ORIGIN, SITE};

/// Where the clients connect: the relay, or a proxy in front of it. Shared, so a restarted relay on
/// a new port (or a new proxy) is picked up by every client's next connection.
#[derive(Clone, Debug)]
pub struct Endpoint(Arc<RwLock<SocketAddr>>);

impl Endpoint {
    pub fn new(addr: SocketAddr) -> Self {
        Endpoint(Arc::new(RwLock::new(addr)))
    }
    pub fn get(&self) -> SocketAddr {
        *self.0.read().unwrap_or_else(|p| p.into_inner())
    }
    pub fn set(&self, addr: SocketAddr) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = addr;
    }
}

/// The switch every client of a scenario watches: while it is on they write new messages; once it is
/// off they only deliver what they have queued, then stop.
#[derive(Clone, Debug)]
pub struct Workload {
    sending: Arc<AtomicBool>,
    give_up_at: Arc<RwLock<Option<Instant>>>,
}

impl Default for Workload {
    fn default() -> Self {
        Workload { sending: Arc::new(AtomicBool::new(true)), give_up_at: Arc::new(RwLock::new(None)) }
    }
}

impl Workload {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn is_sending(&self) -> bool {
        self.sending.load(Ordering::SeqCst)
    }
    pub fn stop_sending(&self) {
        self.sending.store(false, Ordering::SeqCst);
    }
    /// Stop writing, and give up delivering what is queued after `within`: a client still holding
    /// unacked messages then stops with a violation (so the test reports it instead of hanging).
    pub fn finish_within(&self, within: Duration) {
        *self.give_up_at.write().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + within);
        self.stop_sending();
    }
    fn given_up(&self) -> bool {
        self.give_up_at.read().unwrap_or_else(|p| p.into_inner()).is_some_and(|t| Instant::now() >= t)
    }
}

/// How a client behaves.
#[derive(Clone, Debug)]
pub struct Pace {
    /// Milliseconds between two messages a visitor writes.
    pub every_ms: Range<u64>,
    /// At most this many messages unacked (a visitor stops typing; an advisor skips a reply).
    pub max_unacked: usize,
    /// An advisor answers a visitor's message with this probability.
    pub reply_probability: f64,
    /// No ack within this long: the connection is presumed dead and replaced.
    pub ack_wait: Duration,
    /// Which seq a visitor resumes from.
    pub resume: Resume,
    /// Visitors: drop the connection the moment a live message leaves a gap (as if the network
    /// failed right then), to probe what the resume cursor does with out-of-order delivery.
    pub drop_on_gap: bool,
}

/// A visitor's resume cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// The highest seq up to which it holds every message (safe whatever order messages came in).
    Contiguous,
    /// The highest seq it holds, whatever is missing below it (what the widget's `Thread::last_seq`
    /// and the dashboard's `highest_seq` do today).
    Highest,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            every_ms: 100..300,
            max_unacked: 3,
            reply_probability: 0.5,
            ack_wait: Duration::from_secs(3),
            resume: Resume::Contiguous,
            drop_on_gap: false,
        }
    }
}

/// Counters for the report a test prints.
#[derive(Clone, Debug, Default)]
pub struct ClientStats {
    /// Connections that got a welcome.
    pub sessions: u32,
    /// Connection attempts that failed (refused, reset, or no welcome in time).
    pub failed_connects: u32,
    /// Sessions that ended because the socket closed or broke.
    pub lost: u32,
    /// Sessions given up because an ack was overdue.
    pub ack_timeouts: u32,
    /// Messages written.
    pub written: u32,
    /// Sends of a message after its first attempt (reconnects).
    pub resent: u32,
    /// Messages written while no connection was up (queued offline).
    pub written_offline: u32,
    /// Messages received by replay on `hello` or in `history`.
    pub replayed: u32,
    /// Messages received live.
    pub live: u32,
    /// Received messages the client already held (replay overlapping what it had beyond its cursor,
    /// or history overlapping live traffic on an advisor socket).
    pub already_held: u32,
    /// `internal` errors answered to a send (the message is kept and re-sent).
    pub internal_errors: u32,
    /// Own messages that also arrived as a `message` frame: sent on a connection that died before
    /// its ack, re-sent (and acked) on the next one, while the relay was still fanning out the first
    /// copy, to every socket but the dead one. Harmless to a client that merges by id or seq.
    pub own_echoes: u32,
    /// Advisors: `open` requests sent to fill a gap seen in live traffic.
    pub gap_opens: u32,
    /// Live messages that arrived after a higher seq of the same conversation had arrived (the relay
    /// fanned them out out of order). A client resuming from the highest seq it holds, rather than
    /// the highest contiguous one, would skip such a message if the connection dropped in between.
    pub live_out_of_order: u32,
    /// The last reason a connection attempt failed.
    pub last_connect_error: Option<String>,
}

/// A message waiting for its ack.
#[derive(Clone, Debug)]
pub struct Pending {
    pub id: String,
    pub conversation: Option<ConversationId>,
    pub text: String,
    /// When the client wrote it (queued it in the outbox).
    pub written_at: Instant,
    attempts: u32,
    sent_at: Option<Instant>,
}

/// One acked message: when it was written and when its (first) ack came.
#[derive(Clone, Debug)]
pub struct Acked {
    pub id: String,
    pub seq: Seq,
    pub written_at: Instant,
    pub acked_at: Instant,
    /// How many times it was sent before the ack came (more than 1: re-sent after a reconnect).
    pub attempts: u32,
}

/// A client's copy of one conversation, by seq.
#[derive(Clone, Debug, Default)]
pub struct Thread {
    pub messages: BTreeMap<Seq, Message>,
    seq_of: HashMap<String, Seq>,
}

/// A message as both sides and the database can describe it: `(seq, client id, text, author kind)`.
pub type Row = (Seq, String, String, &'static str);

pub fn author_kind(author: &Author) -> &'static str {
    match author {
        Author::Visitor => "visitor",
        Author::Advisor { .. } => "advisor",
        Author::Bot => "bot",
        Author::System => "system",
        _ => "unknown",
    }
}

impl Thread {
    /// The highest `k` such that the client holds every message `1..=k`: its resume cursor.
    pub fn contiguous(&self) -> Seq {
        let mut k = 0;
        for &seq in self.messages.keys() {
            if seq != k + 1 {
                break;
            }
            k = seq;
        }
        k
    }

    /// A new message below the highest seq held: it arrived after a later one.
    fn is_out_of_order(&self, m: &Message) -> bool {
        !self.messages.contains_key(&m.seq) && self.messages.keys().next_back().is_some_and(|&top| top > m.seq)
    }

    pub fn rows(&self) -> Vec<Row> {
        self.messages.values().map(|m| (m.seq, m.id.0.clone(), m.text.clone(), author_kind(&m.author))).collect()
    }

    /// Add a message; false if it was already held. A seq that changes meaning or an id seen at two
    /// seqs is a violation.
    fn insert(&mut self, m: Message, violations: &mut Vec<String>) -> bool {
        if let Some(held) = self.messages.get(&m.seq) {
            if held.id != m.id || held.text != m.text || author_kind(&held.author) != author_kind(&m.author) {
                violations.push(format!(
                    "conversation {} seq {} was {:?} {:?} and is now {:?} {:?}",
                    m.conversation, m.seq, held.id.0, held.text, m.id.0, m.text
                ));
            }
            return false;
        }
        if let Some(&other) = self.seq_of.get(&m.id.0) {
            violations.push(format!(
                "conversation {}: message id {:?} at seq {} and again at seq {}",
                m.conversation, m.id.0, other, m.seq
            ));
        }
        self.seq_of.insert(m.id.0.clone(), m.seq);
        self.messages.insert(m.seq, m);
        true
    }
}

/// How long a connection may take to open and be greeted.
const GREET_WAIT: Duration = Duration::from_secs(5);

async fn open_socket(url: String, headers: &[(&'static str, String)]) -> Result<Ws, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    for (name, value) in headers {
        request.headers_mut().insert(*name, HeaderValue::from_str(value).map_err(|e| e.to_string())?);
    }
    match timeout(GREET_WAIT, tokio_tungstenite::connect_async(request)).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("connect timed out".into()),
    }
}

async fn send_json<T: serde::Serialize>(ws: &mut Ws, frame: &T, wait: Duration) -> bool {
    let text = serde_json::to_string(frame).expect("frames serialize");
    matches!(timeout(wait, ws.send(WsMessage::Text(text.into()))).await, Ok(Ok(())))
}

/// The next text frame, decoded; `None` when the socket closed, broke, sent garbage or said nothing
/// within `wait`.
async fn recv_json<T: serde::de::DeserializeOwned>(ws: &mut Ws, wait: Duration) -> Option<T> {
    let deadline = Instant::now() + wait;
    loop {
        match timeout(deadline.saturating_duration_since(Instant::now()), ws.next()).await {
            Ok(Some(Ok(WsMessage::Text(t)))) => return serde_json::from_str(&t).ok(),
            Ok(Some(Ok(WsMessage::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => return None,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// What happened to one frame read in a session loop.
enum Incoming {
    Text(String),
    Gone,
    Other,
}

fn classify(frame: Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>>) -> Incoming {
    match frame {
        Some(Ok(WsMessage::Text(t))) => Incoming::Text(t.to_string()),
        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => Incoming::Gone,
        Some(Ok(_)) => Incoming::Other,
    }
}

fn backoff(rng: &mut StdRng) -> Duration {
    Duration::from_millis(rng.gen_range(30..150))
}

// ---------------------------------------------------------------------------------------------
// Visitor

/// A visitor's widget: one conversation, written to on a schedule, resumed on every reconnect.
pub struct ReliableVisitor {
    pub name: String,
    endpoint: Endpoint,
    pub token: Option<String>,
    pub conversation: Option<ConversationId>,
    pub thread: Thread,
    pub outbox: VecDeque<Pending>,
    /// Every message this visitor wrote, `(id, text)`, in order.
    pub written: Vec<(String, String)>,
    /// Every ack received: id → seq.
    pub acks: HashMap<String, Seq>,
    /// The acks in the order they came, with timings.
    pub ack_log: Vec<Acked>,
    pub stats: ClientStats,
    pub violations: Vec<String>,
    pace: Pace,
    rng: StdRng,
}

impl ReliableVisitor {
    pub fn new(name: impl Into<String>, endpoint: Endpoint, pace: Pace, seed: u64) -> Self {
        ReliableVisitor {
            name: name.into(),
            endpoint,
            token: None,
            conversation: None,
            thread: Thread::default(),
            outbox: VecDeque::new(),
            written: Vec::new(),
            acks: HashMap::new(),
            ack_log: Vec::new(),
            stats: ClientStats::default(),
            violations: Vec::new(),
            pace,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn next_gap(&mut self) -> Duration {
        Duration::from_millis(self.rng.gen_range(self.pace.every_ms.clone()))
    }

    /// Write the next message into the outbox when it is time to; true if one was written.
    fn write_if_due(&mut self, work: &Workload, due: &mut Instant, online: bool) -> bool {
        if !work.is_sending() || Instant::now() < *due || self.outbox.len() >= self.pace.max_unacked {
            return false;
        }
        *due = Instant::now() + self.next_gap();
        let n = self.written.len() + 1;
        let id = format!("{}-{n}", self.name);
        let text = format!("{} says {n}", self.name);
        self.written.push((id.clone(), text.clone()));
        self.outbox.push_back(Pending { id, conversation: None, text, written_at: Instant::now(), attempts: 0, sent_at: None });
        self.stats.written += 1;
        if !online {
            self.stats.written_offline += 1;
        }
        true
    }

    /// Talk until the workload stops and every written message is acked; returns the client for
    /// the checks.
    pub async fn run(mut self, work: Workload) -> Self {
        let mut due = Instant::now() + self.next_gap();
        loop {
            self.write_if_due(&work, &mut due, false);
            if !work.is_sending() && self.outbox.is_empty() && self.conversation.is_some() {
                return self;
            }
            if work.given_up() {
                self.violations.push(format!("{}: gave up with {} unacked messages; {:?}", self.name, self.outbox.len(), self.stats));
                return self;
            }
            match self.greet().await {
                Ok((ws, last_seq)) => self.session(ws, last_seq, &work, &mut due).await,
                Err(e) => {
                    self.stats.failed_connects += 1;
                    self.stats.last_connect_error = Some(e);
                    let pause = backoff(&mut self.rng);
                    sleep(pause).await;
                }
            }
        }
    }

    /// Connect, say hello with the resume cursor, and check the welcome and the replay that follows
    /// it. Returns the socket once the replay up to the welcome's `last_seq` is in.
    async fn greet(&mut self) -> Result<(Ws, Seq), String> {
        let url = format!("ws://{}/ws/visitor?site={SITE}", self.endpoint.get());
        let mut ws = open_socket(url, &[("origin", SHOP_ORIGIN.to_string())]).await?;
        let cursor = match self.pace.resume {
            Resume::Contiguous => self.thread.contiguous(),
            Resume::Highest => self.thread.messages.keys().next_back().copied().unwrap_or(0),
        };
        let hello = VisitorClientFrame::Hello { v: PROTOCOL_VERSION, token: self.token.clone(), last_seq: cursor, page: None, referrer: None, timezone: None, locale: None };
        if !send_json(&mut ws, &hello, GREET_WAIT).await {
            return Err("hello could not be sent".into());
        }
        let (token, conversation, last_seq) = match recv_json::<VisitorServerFrame>(&mut ws, GREET_WAIT).await {
            Some(VisitorServerFrame::Welcome { token, conversation, last_seq, .. }) => (token, conversation, last_seq),
            Some(VisitorServerFrame::Error(e)) => {
                if e.code != ErrorCode::Internal {
                    self.violations.push(format!("{}: hello refused: {e:?}", self.name));
                }
                return Err(format!("hello refused: {e:?}"));
            }
            Some(other) => return Err(format!("expected welcome, got {other:?}")),
            None => return Err("no welcome".into()),
        };
        if self.token.as_ref().is_some_and(|t| *t != token) {
            self.violations.push(format!("{}: the relay answered a resume with another token", self.name));
        }
        if self.conversation.is_some_and(|c| c != conversation) {
            self.violations.push(format!("{}: resumed into conversation {conversation}, not {:?}", self.name, self.conversation));
        }
        if last_seq < cursor {
            self.violations.push(format!(
                "{}: the relay says conversation {conversation} ends at seq {last_seq}, but this client holds 1..={cursor}: \
                 committed messages were lost",
                self.name
            ));
        }
        self.token = Some(token);
        self.conversation = Some(conversation);
        // The replay: every message after the cursor, in order, before anything else.
        let mut expected = cursor + 1;
        while expected <= last_seq {
            match recv_json::<VisitorServerFrame>(&mut ws, GREET_WAIT).await {
                Some(VisitorServerFrame::Message { message }) => {
                    if message.seq != expected {
                        self.violations.push(format!(
                            "{}: resume from {cursor} replayed seq {} where seq {expected} was due",
                            self.name, message.seq
                        ));
                    }
                    expected = message.seq.max(expected) + 1;
                    self.receive(message, true);
                }
                Some(other) => {
                    self.violations.push(format!("{}: expected a replayed message, got {other:?}", self.name));
                    return Err("replay interrupted".into());
                }
                None => return Err("connection lost during the replay".into()),
            }
        }
        self.stats.sessions += 1;
        Ok((ws, cursor))
    }

    fn receive(&mut self, message: Message, replayed: bool) {
        if Some(message.conversation) != self.conversation {
            self.violations.push(format!("{}: got a message of conversation {}", self.name, message.conversation));
            return;
        }
        if replayed {
            self.stats.replayed += 1;
        } else {
            self.stats.live += 1;
            if self.thread.is_out_of_order(&message) {
                self.stats.live_out_of_order += 1;
            }
        }
        if !self.thread.insert(message, &mut self.violations) {
            self.stats.already_held += 1;
        }
    }

    async fn session(&mut self, mut ws: Ws, _cursor: Seq, work: &Workload, due: &mut Instant) {
        // The replay of this session is done; from here a seq may arrive only once.
        let mut seen: HashSet<Seq> = HashSet::new();
        for p in self.outbox.iter_mut() {
            if p.attempts > 0 {
                self.stats.resent += 1;
            }
            p.attempts += 1;
            p.sent_at = Some(Instant::now());
            let frame = VisitorClientFrame::Send { id: ClientMsgId(p.id.clone()), text: p.text.clone(), attachments: vec![] };
            if !send_json(&mut ws, &frame, self.pace.ack_wait).await {
                self.stats.lost += 1;
                return;
            }
        }
        loop {
            if self.write_if_due(work, due, true) {
                let p = self.outbox.back_mut().expect("just written");
                p.attempts = 1;
                p.sent_at = Some(Instant::now());
                let frame = VisitorClientFrame::Send { id: ClientMsgId(p.id.clone()), text: p.text.clone(), attachments: vec![] };
                if !send_json(&mut ws, &frame, self.pace.ack_wait).await {
                    self.stats.lost += 1;
                    return;
                }
            }
            if !work.is_sending() && self.outbox.is_empty() || work.given_up() {
                let _ = timeout(Duration::from_millis(200), ws.close(None)).await;
                return;
            }
            let ack_due = self.outbox.front().and_then(|p| p.sent_at).map(|t| t + self.pace.ack_wait);
            let wake = match (work.is_sending().then_some(*due), ack_due) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => Instant::now() + Duration::from_millis(100),
            }
            .min(Instant::now() + Duration::from_millis(250));
            tokio::select! {
                incoming = ws.next() => match classify(incoming) {
                    Incoming::Text(text) => {
                        if !self.handle(&text, &mut seen) {
                            self.stats.lost += 1;
                            return;
                        }
                    }
                    Incoming::Gone => {
                        self.stats.lost += 1;
                        return;
                    }
                    Incoming::Other => {}
                },
                _ = sleep_until(wake) => {
                    if ack_due.is_some_and(|t| Instant::now() >= t) {
                        self.stats.ack_timeouts += 1;
                        return;
                    }
                }
            }
        }
    }

    /// One frame of a session; false to drop the connection and reconnect.
    fn handle(&mut self, text: &str, seen: &mut HashSet<Seq>) -> bool {
        let frame: VisitorServerFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                self.violations.push(format!("{}: undecodable frame {text}: {e}", self.name));
                return false;
            }
        };
        match frame {
            VisitorServerFrame::Message { message } => {
                if !seen.insert(message.seq) {
                    self.violations.push(format!("{}: seq {} delivered twice on one connection", self.name, message.seq));
                }
                if message.is_from_visitor() {
                    self.stats.own_echoes += 1;
                }
                let seq = message.seq;
                self.receive(message, false);
                if self.pace.drop_on_gap && seq > self.thread.contiguous() + 1 {
                    return false;
                }
            }
            VisitorServerFrame::Ack { id, seq, sent_at } => {
                let conversation = self.conversation.expect("greeted");
                match self.outbox.iter().position(|p| p.id == id.0) {
                    Some(i) => {
                        let p = self.outbox.remove(i).expect("found");
                        self.ack_log.push(Acked {
                            id: p.id.clone(),
                            seq,
                            written_at: p.written_at,
                            acked_at: Instant::now(),
                            attempts: p.attempts,
                        });
                        let message =
                            Message { id: id.clone(), conversation, seq, author: Author::Visitor, channel: Channel::Web, text: p.text, sent_at, delivery: None, attachments: Vec::new(), note: false };
                        self.thread.insert(message, &mut self.violations);
                    }
                    None if self.acks.get(&id.0) == Some(&seq) => {}
                    None => self.violations.push(format!("{}: ack for a message it did not send: {id} seq {seq}", self.name)),
                }
                if let Some(before) = self.acks.insert(id.0.clone(), seq) {
                    if before != seq {
                        self.violations.push(format!("{}: {id} was acked as seq {before}, then as seq {seq}", self.name));
                    }
                }
            }
            VisitorServerFrame::Error(e) => {
                let ours = e.reference.as_ref().is_some_and(|r| self.outbox.iter().any(|p| p.id == *r));
                if ours && e.code == ErrorCode::Internal {
                    // Not stored: re-send it on a fresh connection.
                    self.stats.internal_errors += 1;
                    return false;
                }
                self.violations.push(format!("{}: error frame {e:?}", self.name));
            }
            VisitorServerFrame::Welcome { .. } => self.violations.push(format!("{}: a second welcome", self.name)),
            _ => {}
        }
        true
    }

    /// Reconnect once more and resume (what the widget does when the page is reloaded); returns the
    /// number of messages the replay brought. Retries for up to `within`.
    pub async fn resync(&mut self, within: Duration) -> Result<usize, String> {
        let before = self.thread.messages.len();
        let deadline = Instant::now() + within;
        loop {
            match self.greet().await {
                Ok((mut ws, _)) => {
                    let _ = timeout(Duration::from_millis(200), ws.close(None)).await;
                    return Ok(self.thread.messages.len() - before);
                }
                Err(e) if Instant::now() < deadline => {
                    self.stats.last_connect_error = Some(e);
                    sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(format!("{}: resync failed: {e}", self.name)),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Advisor

/// An advisor's dashboard: every conversation, answered at random, re-opened from its cursor on every
/// reconnect.
pub struct ReliableAdvisor {
    pub name: String,
    endpoint: Endpoint,
    cookie: String,
    pub threads: BTreeMap<ConversationId, Thread>,
    pub outbox: VecDeque<Pending>,
    /// Every reply written, `(conversation, id, text)`.
    pub written: Vec<(ConversationId, String, String)>,
    /// Every ack received: id → (conversation, seq).
    pub acks: HashMap<String, (ConversationId, Seq)>,
    /// The acks in the order they came, with timings.
    pub ack_log: Vec<Acked>,
    pub stats: ClientStats,
    pub violations: Vec<String>,
    pace: Pace,
    rng: StdRng,
    next_ref: u64,
}

/// What an advisor session is waiting for.
#[derive(Default)]
struct AdvisorSessionState {
    /// `open` requests in flight: ref → (conversation, after_seq).
    opens: HashMap<String, (ConversationId, Seq)>,
    /// Live messages received on this connection.
    live: HashSet<(ConversationId, Seq)>,
}

impl ReliableAdvisor {
    /// `cookie` is a session cookie (`name=value`) of a logged-in advisor.
    pub fn new(name: impl Into<String>, endpoint: Endpoint, cookie: String, pace: Pace, seed: u64) -> Self {
        ReliableAdvisor {
            name: name.into(),
            endpoint,
            cookie,
            threads: BTreeMap::new(),
            outbox: VecDeque::new(),
            written: Vec::new(),
            acks: HashMap::new(),
            ack_log: Vec::new(),
            stats: ClientStats::default(),
            violations: Vec::new(),
            pace,
            rng: StdRng::seed_from_u64(seed),
            next_ref: 0,
        }
    }

    pub async fn run(mut self, work: Workload) -> Self {
        loop {
            if !work.is_sending() && self.outbox.is_empty() {
                return self;
            }
            if work.given_up() {
                self.violations.push(format!("{}: gave up with {} unacked replies; {:?}", self.name, self.outbox.len(), self.stats));
                return self;
            }
            match self.greet(&BTreeSet::new()).await {
                Ok((ws, state)) => self.session(ws, state, &work).await,
                Err(e) => {
                    self.stats.failed_connects += 1;
                    self.stats.last_connect_error = Some(e);
                    let pause = backoff(&mut self.rng);
                    sleep(pause).await;
                }
            }
        }
    }

    /// Connect, say hello, and open every known conversation (and `also`) from its cursor.
    async fn greet(&mut self, also: &BTreeSet<ConversationId>) -> Result<(Ws, AdvisorSessionState), String> {
        let addr = self.endpoint.get();
        let headers = [("cookie", self.cookie.clone()), ("origin", format!("http://{addr}"))];
        let mut ws = open_socket(format!("ws://{addr}/ws/advisor"), &headers).await?;
        if !send_json(&mut ws, &AdvisorClientFrame::Hello { v: PROTOCOL_VERSION }, GREET_WAIT).await {
            return Err("hello could not be sent".into());
        }
        match recv_json::<AdvisorServerFrame>(&mut ws, GREET_WAIT).await {
            Some(AdvisorServerFrame::Welcome { conversations, .. }) => {
                for c in conversations {
                    self.threads.entry(c.id).or_default();
                }
            }
            Some(AdvisorServerFrame::Error(e)) => {
                if e.code != ErrorCode::Internal {
                    self.violations.push(format!("{}: hello refused: {e:?}", self.name));
                }
                return Err(format!("hello refused: {e:?}"));
            }
            Some(other) => return Err(format!("expected welcome, got {other:?}")),
            None => return Err("no welcome".into()),
        }
        for c in also {
            self.threads.entry(*c).or_default();
        }
        let mut state = AdvisorSessionState::default();
        let known: Vec<ConversationId> = self.threads.keys().copied().collect();
        for conversation in known {
            if !self.open(&mut ws, &mut state, conversation).await {
                return Err("open could not be sent".into());
            }
        }
        self.stats.sessions += 1;
        Ok((ws, state))
    }

    async fn open(&mut self, ws: &mut Ws, state: &mut AdvisorSessionState, conversation: ConversationId) -> bool {
        self.next_ref += 1;
        let reference = format!("{}-open-{}", self.name, self.next_ref);
        let after_seq = self.threads.get(&conversation).map(Thread::contiguous).unwrap_or(0);
        state.opens.insert(reference.clone(), (conversation, after_seq));
        send_json(ws, &AdvisorClientFrame::Open { reference, conversation, after_seq }, self.pace.ack_wait).await
    }

    async fn send_pending(&mut self, ws: &mut Ws, index: usize) -> bool {
        let p = &mut self.outbox[index];
        if p.attempts > 0 {
            self.stats.resent += 1;
        }
        p.attempts += 1;
        p.sent_at = Some(Instant::now());
        let frame = AdvisorClientFrame::Send {
            id: ClientMsgId(p.id.clone()),
            conversation: p.conversation.expect("advisor messages have a conversation"),
            text: p.text.clone(),
            via: None,
            template: None,
            attachments: vec![],
        };
        send_json(ws, &frame, self.pace.ack_wait).await
    }

    async fn session(&mut self, mut ws: Ws, mut state: AdvisorSessionState, work: &Workload) {
        for i in 0..self.outbox.len() {
            if !self.send_pending(&mut ws, i).await {
                self.stats.lost += 1;
                return;
            }
        }
        loop {
            if !work.is_sending() && self.outbox.is_empty() || work.given_up() {
                let _ = timeout(Duration::from_millis(200), ws.close(None)).await;
                return;
            }
            let ack_due = self.outbox.front().and_then(|p| p.sent_at).map(|t| t + self.pace.ack_wait);
            let wake = ack_due.unwrap_or_else(|| Instant::now() + Duration::from_millis(100)).min(Instant::now() + Duration::from_millis(250));
            tokio::select! {
                incoming = ws.next() => match classify(incoming) {
                    Incoming::Text(text) => {
                        if !self.handle(&text, &mut ws, &mut state, work).await {
                            self.stats.lost += 1;
                            return;
                        }
                    }
                    Incoming::Gone => {
                        self.stats.lost += 1;
                        return;
                    }
                    Incoming::Other => {}
                },
                _ = sleep_until(wake) => {
                    if ack_due.is_some_and(|t| Instant::now() >= t) {
                        self.stats.ack_timeouts += 1;
                        return;
                    }
                }
            }
        }
    }

    fn receive(&mut self, message: Message) -> bool {
        let thread = self.threads.entry(message.conversation).or_default();
        let new = thread.insert(message, &mut self.violations);
        if !new {
            self.stats.already_held += 1;
        }
        new
    }

    /// One frame of a session; false to drop the connection and reconnect.
    async fn handle(&mut self, text: &str, ws: &mut Ws, state: &mut AdvisorSessionState, work: &Workload) -> bool {
        let frame: AdvisorServerFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                self.violations.push(format!("{}: undecodable frame {text}: {e}", self.name));
                return false;
            }
        };
        match frame {
            AdvisorServerFrame::History { reference, conversation, messages, last_seq } => {
                let Some((asked, after)) = state.opens.remove(&reference) else {
                    self.violations.push(format!("{}: history for unknown ref {reference}", self.name));
                    return true;
                };
                if asked != conversation {
                    self.violations.push(format!("{}: history of {conversation} for an open of {asked}", self.name));
                }
                let seqs: Vec<Seq> = messages.iter().map(|m| m.seq).collect();
                let expected: Vec<Seq> = (after + 1..=after + seqs.len() as Seq).collect();
                if seqs != expected {
                    self.violations.push(format!(
                        "{}: history of {conversation} after {after} has seqs {seqs:?}, not contiguous from {}",
                        self.name,
                        after + 1
                    ));
                }
                if last_seq > after && seqs.last().copied().unwrap_or(0) < last_seq {
                    self.violations.push(format!(
                        "{}: history of {conversation} after {after} ends before its last_seq {last_seq}",
                        self.name
                    ));
                }
                for m in messages {
                    if m.conversation != conversation {
                        self.violations.push(format!("{}: history of {conversation} holds {m:?}", self.name));
                        continue;
                    }
                    self.stats.replayed += 1;
                    self.receive(m);
                }
            }
            AdvisorServerFrame::Message { message } => {
                let conversation = message.conversation;
                if !state.live.insert((conversation, message.seq)) {
                    self.violations.push(format!(
                        "{}: conversation {conversation} seq {} delivered live twice on one connection",
                        self.name, message.seq
                    ));
                }
                if self.acks.contains_key(&message.id.0) || self.outbox.iter().any(|p| p.id == message.id.0) {
                    self.stats.own_echoes += 1;
                }
                self.stats.live += 1;
                if self.threads.get(&conversation).is_some_and(|t| t.is_out_of_order(&message)) {
                    self.stats.live_out_of_order += 1;
                }
                let from_visitor = message.is_from_visitor();
                let seq = message.seq;
                self.receive(message);
                let cursor = self.threads[&conversation].contiguous();
                let opening = state.opens.values().any(|(c, _)| *c == conversation);
                if seq > cursor + 1 && !opening {
                    // A gap (e.g. this conversation began before this socket knew it): fill it.
                    self.stats.gap_opens += 1;
                    if !self.open(ws, state, conversation).await {
                        return false;
                    }
                }
                if from_visitor
                    && work.is_sending()
                    && self.outbox.len() < self.pace.max_unacked
                    && self.rng.gen_bool(self.pace.reply_probability)
                {
                    let n = self.written.len() + 1;
                    let id = format!("{}-{n}", self.name);
                    let text = format!("{} answers {n} (to seq {seq})", self.name);
                    self.written.push((conversation, id.clone(), text.clone()));
                    self.stats.written += 1;
                    self.outbox.push_back(Pending { id, conversation: Some(conversation), text, written_at: Instant::now(), attempts: 0, sent_at: None });
                    if !self.send_pending(ws, self.outbox.len() - 1).await {
                        return false;
                    }
                }
            }
            AdvisorServerFrame::Conversation { conversation } => {
                self.threads.entry(conversation.id).or_default();
            }
            AdvisorServerFrame::Ack { id, conversation, seq, sent_at } => {
                match self.outbox.iter().position(|p| p.id == id.0) {
                    Some(i) => {
                        let p = self.outbox.remove(i).expect("found");
                        self.ack_log.push(Acked {
                            id: p.id.clone(),
                            seq,
                            written_at: p.written_at,
                            acked_at: Instant::now(),
                            attempts: p.attempts,
                        });
                        if p.conversation != Some(conversation) {
                            self.violations.push(format!("{}: ack of {id} names conversation {conversation}", self.name));
                        }
                        let author = Author::Advisor { id: AdvisorId(0), name: self.name.clone() };
                        let message = Message { id: id.clone(), conversation, seq, author, channel: Channel::Web, text: p.text, sent_at, delivery: None, attachments: Vec::new(), note: false };
                        self.receive(message);
                    }
                    None if self.acks.get(&id.0) == Some(&(conversation, seq)) => {}
                    None => self.violations.push(format!("{}: ack for a message it did not send: {id} seq {seq}", self.name)),
                }
                if let Some(before) = self.acks.insert(id.0.clone(), (conversation, seq)) {
                    if before != (conversation, seq) {
                        self.violations.push(format!("{}: {id} was acked as {before:?}, then as seq {seq}", self.name));
                    }
                }
            }
            AdvisorServerFrame::Error(e) => {
                let ours = e.reference.as_ref().is_some_and(|r| self.outbox.iter().any(|p| p.id == *r));
                if ours && e.code == ErrorCode::Internal {
                    self.stats.internal_errors += 1;
                    return false;
                }
                self.violations.push(format!("{}: error frame {e:?}", self.name));
            }
            AdvisorServerFrame::Welcome { .. } => self.violations.push(format!("{}: a second welcome", self.name)),
            _ => {}
        }
        true
    }

    /// Reconnect once more and load every conversation (those of the inbox, those it knows, and
    /// `also`) from its cursor; returns the number of messages that brought. Retries for up to
    /// `within`.
    pub async fn resync(&mut self, also: &BTreeSet<ConversationId>, within: Duration) -> Result<usize, String> {
        let before: usize = self.threads.values().map(|t| t.messages.len()).sum();
        let deadline = Instant::now() + within;
        let work = Workload::new();
        work.stop_sending();
        loop {
            let attempt = async {
                let (mut ws, mut state) = self.greet(also).await?;
                while !state.opens.is_empty() {
                    let text = match timeout(GREET_WAIT, ws.next()).await {
                        Ok(incoming) => match classify(incoming) {
                            Incoming::Text(text) => text,
                            Incoming::Other => continue,
                            Incoming::Gone => return Err("connection lost while loading histories".to_string()),
                        },
                        Err(_) => return Err("no history in time".to_string()),
                    };
                    if !self.handle(&text, &mut ws, &mut state, &work).await {
                        return Err("bad frame while loading histories".into());
                    }
                }
                let _ = timeout(Duration::from_millis(200), ws.close(None)).await;
                Ok(())
            };
            match attempt.await {
                Ok(()) => return Ok(self.threads.values().map(|t| t.messages.len()).sum::<usize>() - before),
                Err(e) if Instant::now() < deadline => {
                    self.stats.last_connect_error = Some(e);
                    sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(format!("{}: resync failed: {e}", self.name)),
            }
        }
    }
}
