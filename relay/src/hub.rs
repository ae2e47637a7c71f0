//! Live sockets of this relay node: who should hear about what. The hub never holds its lock across
//! an `.await` and never blocks on a slow client: a socket whose queue is full is kicked (it
//! reconnects and resumes from its cursor) rather than slowing everyone else down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use shared::{AdvisorId, ConversationId, ConversationSummary, Message, Seq};

use crate::access::Viewer;
use crate::store::routing::Scope;
use tokio::sync::{mpsc, Notify};

/// Events are built once and shared by every socket they go to; each socket turns them into its
/// own frame type.
#[derive(Debug)]
pub enum Event {
    /// A committed message. `origin` is the socket that sent it (it already has the ack).
    Message { message: Message, origin: Option<ConnId> },
    /// An inbox row changed (advisors).
    Conversation(ConversationSummary),
    /// The visitor of a conversation is typing (advisors).
    VisitorTyping { conversation: ConversationId, on: bool },
    /// An advisor is typing in a conversation (its visitor).
    AdvisorTyping { conversation: ConversationId, on: bool, name: String },
    /// The advisors have read a conversation up to `up_to` (its visitor).
    AdvisorsRead { conversation: ConversationId, up_to: Seq },
    /// The visitor's messages up to `up_to` reached an advisor's dashboard (its visitor).
    DeliveredToAdvisors { conversation: ConversationId, up_to: Seq },
    /// The first advisor came online, or the last one left (every visitor).
    Presence { advisors_online: bool },
    /// A platform reported on a relayed message (advisors).
    PlatformDelivery { conversation: ConversationId, seq: Seq, delivery: shared::PlatformDelivery },
    /// A platform channel's status changed: an alert raised or cleared (advisors).
    Channels(Vec<shared::ChannelStatus>),
    /// An attachment of a message was fetched, or failed for good (advisors).
    Attachment { conversation: ConversationId, seq: Seq, attachment: shared::Attachment },
    /// Advisors' status or load, or the teams, changed (advisors).
    Roster { roster: Vec<shared::RosterEntry>, teams: Vec<shared::TeamInfo> },
    /// A conversation left this advisor's sight (sent only to those who lost it).
    Removed { conversation: ConversationId },
    /// The visitor's place in their team's queue (its visitor).
    Queue { position: u32, wait_ms: Option<i64> },
    /// Whether the bot has the conversation, and its newest message's quick replies (its visitor).
    Bot { active: bool, seq: Seq, replies: Vec<String> },
    /// A frame for the conversation's visitor sockets only (the survey).
    Visitor(shared::VisitorServerFrame),
}

impl Event {
    /// The conversation an advisor event is about: only advisors who may see it get it.
    fn conversation(&self) -> Option<ConversationId> {
        match self {
            Event::Message { message, .. } => Some(message.conversation),
            Event::Conversation(summary) => Some(summary.id),
            Event::VisitorTyping { conversation, .. }
            | Event::PlatformDelivery { conversation, .. }
            | Event::Attachment { conversation, .. }
            | Event::Removed { conversation } => Some(*conversation),
            _ => None,
        }
    }
}

/// An event on its way to sockets. Every advisor socket sends the same frame for it, so the first
/// one to need it serializes it for all.
#[derive(Debug)]
pub struct Delivery {
    pub event: Event,
    pub advisor_frame: std::sync::OnceLock<Option<axum::extract::ws::Utf8Bytes>>,
}

impl Delivery {
    fn new(event: Event) -> Arc<Self> {
        Arc::new(Delivery { event, advisor_frame: std::sync::OnceLock::new() })
    }
}

impl std::ops::Deref for Delivery {
    type Target = Event;
    fn deref(&self) -> &Event {
        &self.event
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

/// Events a visitor socket may have queued before it counts as too slow.
const VISITOR_QUEUE: usize = 256;
/// An advisor socket hears about every conversation (two events per message), and a group commit
/// lands up to `MAX_BATCH` messages at once: its queue must hold a few batches.
const ADVISOR_QUEUE: usize = 4096;

struct Conn {
    id: ConnId,
    tx: mpsc::Sender<Arc<Delivery>>,
    kick: Arc<Notify>,
    /// An advisor socket's account, so its sockets can be ended when the account is.
    advisor: Option<AdvisorId>,
    /// What an advisor socket may see.
    viewer: Option<Viewer>,
    ended: Arc<Notify>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    visitors: HashMap<ConversationId, Vec<Conn>>,
    advisors: Vec<Conn>,
    /// Whose each conversation is, as last committed: which advisor sockets hear about it. A
    /// conversation not in here is heard about by admins only, so every source of advisor events
    /// records the scope first (`access::ensure_scope`).
    scopes: HashMap<ConversationId, Scope>,
}

#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
}

/// A socket's membership: its event queue and kick signal. Dropping it leaves the hub.
pub struct Member {
    pub id: ConnId,
    pub events: mpsc::Receiver<Arc<Delivery>>,
    pub kicked: Arc<Notify>,
    /// The account's sessions were ended (deactivated, password reset), or a visitor's tokens were
    /// revoked: close for good.
    pub ended: Arc<Notify>,
    hub: Arc<Hub>,
    room: Room,
}

#[derive(Clone, Copy)]
enum Room {
    Visitor(ConversationId),
    Advisors,
}

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::new(Hub::default())
    }

    pub fn join_visitor(self: &Arc<Self>, conversation: ConversationId) -> Member {
        self.join(Room::Visitor(conversation), None)
    }

    pub fn join_advisors(self: &Arc<Self>, viewer: Viewer) -> Member {
        self.join(Room::Advisors, Some(viewer))
    }

    /// Record whose a conversation is now. Advisor sockets that could see it before and can't any
    /// more are told to drop it.
    pub fn set_scope(&self, conversation: ConversationId, scope: Scope) {
        let mut inner = self.lock();
        let old = inner.scopes.insert(conversation, scope);
        if let Some(old) = old.filter(|old| *old != scope) {
            let lost: Vec<&Conn> = inner
                .advisors
                .iter()
                .filter(|c| c.viewer.as_ref().is_some_and(|v| v.can_see(old.team, old.assignee) && !v.can_see(scope.team, scope.assignee)))
                .collect();
            if !lost.is_empty() {
                let event = Delivery::new(Event::Removed { conversation });
                deliver(lost.into_iter(), &event);
            }
        }
    }

    /// Record a scope read from the store, unless a newer one was recorded meanwhile.
    pub fn init_scope(&self, conversation: ConversationId, scope: Scope) {
        self.lock().scopes.entry(conversation).or_insert(scope);
    }

    pub fn scope(&self, conversation: ConversationId) -> Option<Scope> {
        self.lock().scopes.get(&conversation).copied()
    }

    /// An advisor's role or teams changed: their sockets see accordingly from now on. Returns the
    /// sights they had that were wider (each once): the caller tells them which conversations they
    /// lost ([`Hub::removed`], see `access::apply`).
    #[must_use = "sockets that lost sight of conversations must be told (access::apply)"]
    pub fn set_viewer(&self, viewer: &Viewer) -> Vec<Viewer> {
        let mut inner = self.lock();
        let mut wider = Vec::new();
        for conn in inner.advisors.iter_mut().filter(|c| c.advisor == Some(viewer.advisor)) {
            if let Some(old) = conn.viewer.replace(viewer.clone()) {
                if old.sees_more_than(viewer) && !wider.contains(&old) {
                    wider.push(old);
                }
            }
        }
        wider
    }

    /// This advisor's sockets may no longer see these conversations: each is told to drop them,
    /// unless the hub knows a newer scope that lets it see one after all.
    pub fn removed(&self, advisor: AdvisorId, conversations: &[ConversationId]) {
        let inner = self.lock();
        for &conversation in conversations {
            let scope = inner.scopes.get(&conversation).copied();
            let lost = inner.advisors.iter().filter(|c| c.advisor == Some(advisor)).filter(|c| match (scope, &c.viewer) {
                (Some(s), Some(v)) => !v.can_see(s.team, s.assignee),
                _ => true,
            });
            deliver(lost, &Delivery::new(Event::Removed { conversation }));
        }
    }

    /// Close this advisor's sockets so their dashboards reconnect and load the inbox afresh (too
    /// much changed to tell them row by row); returns how many.
    pub fn reload_advisor(&self, advisor: AdvisorId) -> usize {
        let inner = self.lock();
        let mine: Vec<&Conn> = inner.advisors.iter().filter(|c| c.advisor == Some(advisor)).collect();
        for conn in &mine {
            conn.kick.notify_one();
        }
        mine.len()
    }

    /// A team was deleted: its conversations belong to no team now (the store's `ON DELETE SET
    /// NULL`), so every advisor hears about them again.
    pub fn forget_team(&self, team: i64) {
        for scope in self.lock().scopes.values_mut().filter(|s| s.team == Some(team)) {
            scope.team = None;
        }
    }

    /// What this advisor socket may see now.
    pub fn viewer(&self, conn: ConnId) -> Option<Viewer> {
        self.lock().advisors.iter().find(|c| c.id == conn).and_then(|c| c.viewer.clone())
    }

    /// Open dashboard tabs per advisor.
    pub fn advisor_tabs(&self) -> HashMap<AdvisorId, usize> {
        let mut tabs = HashMap::new();
        for conn in &self.lock().advisors {
            if let Some(a) = conn.advisor {
                *tabs.entry(a).or_default() += 1;
            }
        }
        tabs
    }

    /// Close every socket of this advisor (their sessions were ended); returns how many.
    pub fn end_advisor(&self, advisor: AdvisorId) -> usize {
        let inner = self.lock();
        let mine: Vec<&Conn> = inner.advisors.iter().filter(|c| c.advisor == Some(advisor)).collect();
        for conn in &mine {
            conn.ended.notify_one();
        }
        mine.len()
    }

    /// Close every socket of the visitor of `conversation` but `keep` (their tokens were revoked:
    /// the visitor was bound to a verified user); returns how many.
    pub fn end_visitor(&self, conversation: ConversationId, keep: ConnId) -> usize {
        let inner = self.lock();
        let others: Vec<&Conn> = inner.visitors.get(&conversation).map(|c| c.iter().filter(|c| c.id != keep).collect()).unwrap_or_default();
        for conn in &others {
            conn.ended.notify_one();
        }
        others.len()
    }

    fn join(self: &Arc<Self>, room: Room, viewer: Option<Viewer>) -> Member {
        let advisor = viewer.as_ref().map(|v| v.advisor);
        let queue = match room {
            Room::Visitor(_) => VISITOR_QUEUE,
            Room::Advisors => ADVISOR_QUEUE,
        };
        let (tx, events) = mpsc::channel(queue);
        let kicked = Arc::new(Notify::new());
        let ended = Arc::new(Notify::new());
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = ConnId(inner.next_id);
        let conn = Conn { id, tx, kick: kicked.clone(), advisor, viewer, ended: ended.clone() };
        match room {
            Room::Visitor(c) => inner.visitors.entry(c).or_default().push(conn),
            Room::Advisors => {
                inner.advisors.push(conn);
                if inner.advisors.len() == 1 {
                    inner.to_all_visitors(Event::Presence { advisors_online: true });
                }
            }
        }
        Member { id, events, kicked, ended, hub: self.clone(), room }
    }

    /// Every socket of the visitor of `conversation`; returns how many took the event.
    pub fn to_visitor(&self, conversation: ConversationId, event: Event) -> usize {
        let event = Delivery::new(event);
        let inner = self.lock();
        inner.visitors.get(&conversation).map_or(0, |conns| deliver(conns.iter(), &event))
    }

    /// Every advisor socket that may see the event's conversation (all of them for an event
    /// about no conversation); returns how many took it.
    pub fn to_advisors(&self, event: Event) -> usize {
        let inner = self.lock();
        let scope = event.conversation().map(|c| inner.scopes.get(&c).copied());
        let event = Delivery::new(event);
        let allowed = |conn: &&Conn| match (&scope, &conn.viewer) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(Some(s)), Some(v)) => v.can_see(s.team, s.assignee),
            (Some(None), Some(v)) => v.admin,
        };
        deliver(inner.advisors.iter().filter(allowed), &event)
    }

    pub fn advisors_online(&self) -> bool {
        !self.lock().advisors.is_empty()
    }

    /// Whether the visitor of `conversation` has a socket open.
    pub fn visitor_online(&self, conversation: ConversationId) -> bool {
        self.lock().visitors.contains_key(&conversation)
    }

    /// Number of live sockets (visitors, advisors), for health and tests.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.visitors.values().map(Vec::len).sum(), inner.advisors.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock can't leave the maps half-updated in a way that matters.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn to_all_visitors(&self, event: Event) {
        let event = Delivery::new(event);
        for conns in self.visitors.values() {
            deliver(conns.iter(), &event);
        }
    }
}

/// Queue `event` on every socket; returns how many took it.
fn deliver<'a>(conns: impl Iterator<Item = &'a Conn>, event: &Arc<Delivery>) -> usize {
    let mut taken = 0;
    for conn in conns {
        match conn.tx.try_send(event.clone()) {
            Ok(()) => taken += 1,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(conn = conn.id.0, "socket too slow; disconnecting it so it resumes");
                conn.kick.notify_one();
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
    taken
}

impl Drop for Member {
    fn drop(&mut self) {
        let mut inner = self.hub.lock();
        match self.room {
            Room::Visitor(c) => {
                if let Some(conns) = inner.visitors.get_mut(&c) {
                    conns.retain(|conn| conn.id != self.id);
                    if conns.is_empty() {
                        inner.visitors.remove(&c);
                    }
                }
            }
            Room::Advisors => {
                inner.advisors.retain(|conn| conn.id != self.id);
                if inner.advisors.is_empty() {
                    inner.to_all_visitors(Event::Presence { advisors_online: false });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(id: i64) -> Viewer {
        Viewer { advisor: AdvisorId(id), admin: true, teams: vec![] }
    }

    #[tokio::test]
    async fn advisors_hear_only_of_conversations_they_may_see_and_are_told_when_one_leaves() {
        let hub = Hub::new();
        let mut boss = hub.join_advisors(admin(1));
        let mut sales = hub.join_advisors(Viewer { advisor: AdvisorId(2), admin: false, teams: vec![10] });
        let typing = |c| Event::VisitorTyping { conversation: ConversationId(c), on: true };
        // Unknown scope: admins only.
        assert_eq!(hub.to_advisors(typing(1)), 1);
        hub.set_scope(ConversationId(1), Scope { team: Some(10), assignee: None });
        assert_eq!(hub.to_advisors(typing(1)), 2);
        hub.set_scope(ConversationId(2), Scope { team: Some(20), assignee: None });
        assert_eq!(hub.to_advisors(typing(2)), 1);
        // Transferred away from sales: the sales advisor is told to drop it, the admin isn't.
        while sales.events.try_recv().is_ok() {}
        while boss.events.try_recv().is_ok() {}
        hub.set_scope(ConversationId(1), Scope { team: Some(20), assignee: None });
        assert!(matches!(sales.events.try_recv().unwrap().event, Event::Removed { conversation: ConversationId(1) }));
        assert!(boss.events.try_recv().is_err());
        // Assigned to them across teams: they see it again.
        hub.set_scope(ConversationId(1), Scope { team: Some(20), assignee: Some(AdvisorId(2)) });
        assert_eq!(hub.to_advisors(typing(1)), 2);
        // Events about no conversation reach everyone.
        assert_eq!(hub.to_advisors(Event::Channels(vec![])), 2);
    }

    #[tokio::test]
    async fn an_advisor_who_loses_a_team_is_told_what_they_may_no_longer_see() {
        let hub = Hub::new();
        let sales = Viewer { advisor: AdvisorId(2), admin: false, teams: vec![10] };
        let mut tab = hub.join_advisors(sales.clone());
        hub.set_scope(ConversationId(1), Scope { team: Some(10), assignee: None });
        hub.set_scope(ConversationId(2), Scope { team: Some(10), assignee: Some(AdvisorId(2)) });
        let outside = Viewer { teams: vec![], ..sales.clone() };
        assert_eq!(hub.set_viewer(&outside), vec![sales.clone()], "a narrower sight reports the wider one");
        assert!(hub.set_viewer(&outside).is_empty(), "nothing narrower the second time");
        assert_eq!(hub.to_advisors(Event::VisitorTyping { conversation: ConversationId(1), on: true }), 0);
        // The store's list may name one the hub knows they still see (assigned to them): skipped.
        hub.removed(AdvisorId(2), &[ConversationId(1), ConversationId(2), ConversationId(3)]);
        let mut told = Vec::new();
        while let Ok(d) = tab.events.try_recv() {
            if let Event::Removed { conversation } = d.event {
                told.push(conversation.0);
            }
        }
        assert_eq!(told, [1, 3]);
    }

    #[tokio::test]
    async fn visitor_events_reach_only_that_conversation_and_leaving_cleans_up() {
        let hub = Hub::new();
        let mut a = hub.join_visitor(ConversationId(1));
        let mut b = hub.join_visitor(ConversationId(2));
        hub.to_visitor(ConversationId(1), Event::AdvisorsRead { conversation: ConversationId(1), up_to: 3 });
        assert!(matches!(a.events.recv().await.unwrap().event, Event::AdvisorsRead { up_to: 3, .. }));
        assert!(b.events.try_recv().is_err());
        assert_eq!(hub.counts(), (2, 0));
        drop(a);
        drop(b);
        assert_eq!(hub.counts(), (0, 0));
        assert!(hub.lock().visitors.is_empty());
    }

    #[tokio::test]
    async fn visitors_hear_when_the_first_advisor_comes_and_the_last_one_goes() {
        let hub = Hub::new();
        let mut visitor = hub.join_visitor(ConversationId(1));
        let first = hub.join_advisors(admin(1));
        let second = hub.join_advisors(admin(1));
        assert!(matches!(visitor.events.recv().await.unwrap().event, Event::Presence { advisors_online: true }));
        drop(first);
        assert!(visitor.events.try_recv().is_err(), "one advisor is still online");
        drop(second);
        assert!(matches!(visitor.events.recv().await.unwrap().event, Event::Presence { advisors_online: false }));
        assert!(!hub.advisors_online());
    }

    #[tokio::test]
    async fn a_full_queue_kicks_the_slow_socket() {
        let hub = Hub::new();
        let slow = hub.join_advisors(admin(1));
        for _ in 0..=ADVISOR_QUEUE {
            hub.to_advisors(Event::VisitorTyping { conversation: ConversationId(1), on: true });
        }
        tokio::time::timeout(std::time::Duration::from_secs(1), slow.kicked.notified()).await.unwrap();
    }
}
