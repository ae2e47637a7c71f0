//! The router: the routing policy applied to the relay's live state. One task runs a *pass*
//! whenever something routing depends on changes (`routing::changed`: a customer waiting, an
//! advisor's tab, status, capacity or teams, a conversation resolved or handed over) and every
//! [`TICK`] for what changes with time alone (auto-away, the requeue delay). A pass:
//!
//! 1. gathers the facts: every active advisor with their load and effective status;
//! 2. returns to the queue the conversations of advisors who left (`to_requeue`);
//! 3. drains the queue (`drain_queue`) and assigns what it can;
//! 4. tells each waiting visitor their place and an honest expected wait, when either changed;
//! 5. sends advisors the roster (status and load) when it changed.
//!
//! Passes never overlap (one task), and every change they make is conditional in the store (a
//! conversation an advisor took meanwhile is not assigned twice), so a pass can always be rerun.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use shared::{AdvisorId, ConversationId, Presence, RosterEntry, TeamInfo};

use super::{auto_status, drain_queue, expected_wait, to_requeue, AdvisorState, Status, Waiting};
use crate::access::Viewer;
pub use crate::settings::RoutingSettings;
use crate::conversation::{self, Change};
use crate::hub::Event;
use crate::state::AppState;
use crate::store::routing::RosterFact;
use crate::store::StoreResult;

/// How often the router looks again without being woken.
pub const TICK: Duration = Duration::from_secs(2);
/// Passes start at most this often: under load (every customer message into an unassigned
/// conversation wakes the router) one pass serves every wake-up of its window.
const MIN_GAP: Duration = Duration::from_millis(50);
/// A conversation that sat in the queue at least this long "waited": its assignment is one of the
/// departures the expected wait is estimated from.
const WAITED_MS: i64 = 2_000;
/// Departures the expected wait looks at.
const DEPARTURES: usize = 10;

#[derive(Default)]
pub struct Router {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// When each advisor's last dashboard tab closed.
    tab_closed_at: HashMap<AdvisorId, i64>,
    /// Since when each advisor who chose offline has been seen offline.
    offline_since: HashMap<AdvisorId, i64>,
    /// What each waiting visitor was last told: (position, expected wait).
    places: HashMap<ConversationId, (u32, Option<i64>)>,
    /// The roster as last sent to advisors.
    roster: Option<(Vec<RosterEntry>, Vec<TeamInfo>)>,
}

impl Router {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where a waiting conversation stands: (position, expected wait in ms). None: not waiting.
    pub fn place(&self, conversation: ConversationId) -> Option<(u32, Option<i64>)> {
        self.lock().places.get(&conversation).copied()
    }

    /// The roster as last computed (for a dashboard's welcome).
    pub fn roster(&self) -> Option<(Vec<RosterEntry>, Vec<TeamInfo>)> {
        self.lock().roster.clone()
    }

    /// One of the advisor's dashboard tabs closed (auto-away counts from the last one).
    pub fn tab_closed(&self, advisor: AdvisorId, now: i64) {
        self.lock().tab_closed_at.insert(advisor, now);
    }
}

/// Run passes until the relay stops.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.stopping.cancelled() => return,
            _ = state.routing_wake.notified() => {}
            _ = tick.tick() => {}
        }
        if let Err(e) = pass(&state).await {
            tracing::warn!(error = %e, "routing pass failed; retrying");
        }
        tokio::time::sleep(MIN_GAP).await;
    }
}

fn status_of(s: Status) -> Presence {
    match s {
        Status::Online => Presence::Online,
        Status::Away => Presence::Away,
        Status::Offline => Presence::Offline,
    }
}

/// One routing pass (see the module comment).
pub async fn pass(state: &AppState) -> StoreResult<()> {
    let store = &state.store;
    let router = &state.router;
    let now = crate::now_ms();
    let settings = RoutingSettings::load(&**store).await;
    let facts = store.roster().await?;
    let tabs = state.hub.advisor_tabs();

    // 1. Facts.
    let (mut advisors, offline_since) = {
        let mut inner = router.lock();
        let mut advisors = Vec::with_capacity(facts.len());
        for f in &facts {
            let chosen = match f.presence {
                Presence::Online => Status::Online,
                Presence::Away => Status::Away,
                _ => Status::Offline,
            };
            let open_tabs = tabs.get(&f.id).copied().unwrap_or(0);
            let status = auto_status(open_tabs, inner.tab_closed_at.get(&f.id).copied(), chosen, now, settings.away_after_ms as i64);
            if status == Status::Offline {
                inner.offline_since.entry(f.id).or_insert(now);
            } else {
                inner.offline_since.remove(&f.id);
            }
            advisors.push(AdvisorState {
                id: f.id.0,
                status,
                capacity: f.capacity,
                open: f.open,
                teams: f.teams.clone(),
                last_assigned_at: f.last_assigned_at,
            });
        }
        let offline: HashMap<i64, i64> = inner.offline_since.iter().map(|(a, t)| (a.0, *t)).collect();
        (advisors, offline)
    };
    for f in &facts {
        crate::access::apply(state, &Viewer { advisor: f.id, admin: f.admin, teams: f.teams.clone() }).await;
    }

    // 2. Conversations of advisors who left go back to the queue.
    let held: Vec<(i64, i64)> = store.held_by_leavers().await?.into_iter().map(|(c, a)| (c.0, a.0)).collect();
    for conversation in to_requeue(&advisors, &held, &offline_since, now, settings.requeue_delay_ms as i64) {
        if store.requeue(ConversationId(conversation), now).await? {
            let from = held.iter().find(|(c, _)| *c == conversation).map(|(_, a)| *a);
            if let Some(a) = advisors.iter_mut().find(|a| Some(a.id) == from) {
                a.open = a.open.saturating_sub(1);
            }
            tracing::info!(conversation, advisor = ?from, "returned to the queue: its advisor is offline");
            state.inbox_updates.changed(ConversationId(conversation), Change::Reload);
        }
    }

    // 3. Drain the queue.
    let queue = store.queue().await?;
    let waiting: Vec<Waiting> = queue
        .iter()
        .map(|q| Waiting {
            conversation: q.conversation.0,
            team: q.team,
            waiting_since: q.queued_at,
            last_helped_by: q.last_helped_by.map(|a| a.0),
        })
        .collect();
    let mut taken = Vec::new();
    for (conversation, advisor) in drain_queue(&waiting, &advisors, now) {
        let queued_at = waiting.iter().find(|w| w.conversation == conversation).map_or(now, |w| w.waiting_since);
        let waited = now - queued_at >= WAITED_MS;
        if store.assign_from_queue(ConversationId(conversation), AdvisorId(advisor), waited, now).await? {
            if let Some(a) = advisors.iter_mut().find(|a| a.id == advisor) {
                a.open += 1;
                a.last_assigned_at = Some(now);
            }
            taken.push(conversation);
            state.inbox_updates.changed(ConversationId(conversation), Change::Reload);
        }
    }

    // 4. Tell waiting visitors where they stand.
    // The store lists the queue in the order the drain serves it (`queue_position`'s order), so a
    // conversation's place is its index among its team's: one walk, however long the line.
    let still: Vec<Waiting> = waiting.into_iter().filter(|w| !taken.contains(&w.conversation)).collect();
    debug_assert!(still.windows(2).all(|p| (p[0].waiting_since, p[0].conversation) <= (p[1].waiting_since, p[1].conversation)));
    let mut places = HashMap::new();
    let mut departures: HashMap<Option<i64>, Vec<i64>> = HashMap::new();
    let mut in_line: HashMap<Option<i64>, usize> = HashMap::new();
    for w in &still {
        let position = {
            let n = in_line.entry(w.team).or_default();
            *n += 1;
            *n
        };
        if !departures.contains_key(&w.team) {
            let times = store.queue_departures(w.team, DEPARTURES).await?;
            departures.insert(w.team, times.windows(2).map(|p| p[0] - p[1]).collect());
        }
        let online = advisors.iter().filter(|a| a.status == Status::Online && w.team.is_none_or(|t| a.teams.contains(&t))).count();
        let wait = expected_wait(position, &departures[&w.team], online).map(|d| d.as_millis() as i64);
        places.insert(ConversationId(w.conversation), (position as u32, wait));
    }
    let told = std::mem::replace(&mut router.lock().places, places.clone());
    for (conversation, place) in &places {
        if told.get(conversation) != Some(place) {
            state.hub.to_visitor(*conversation, Event::Queue { position: place.0, wait_ms: place.1 });
        }
    }
    for conversation in told.keys().filter(|c| !places.contains_key(c)) {
        state.hub.to_visitor(*conversation, Event::Queue { position: 0, wait_ms: None });
    }

    // 5. The roster.
    let teams = teams_with(store.routing_teams().await?, &settings);
    let roster = roster_entries(&facts, &advisors);
    let changed = {
        let mut inner = router.lock();
        let now_sent = Some((roster.clone(), teams.clone()));
        let changed = inner.roster != now_sent;
        inner.roster = now_sent;
        changed
    };
    if changed {
        state.hub.to_advisors(Event::Roster { roster, teams });
    }
    Ok(())
}

/// The teams as dashboards get them: with the warning window of the settings.
pub fn teams_with(mut teams: Vec<TeamInfo>, settings: &RoutingSettings) -> Vec<TeamInfo> {
    for t in &mut teams {
        t.warn_before_ms = settings.warn_before_ms as i64;
    }
    teams
}

fn roster_entries(facts: &[RosterFact], advisors: &[AdvisorState]) -> Vec<RosterEntry> {
    facts
        .iter()
        .zip(advisors)
        .map(|(f, a)| RosterEntry {
            id: f.id,
            name: f.name.clone(),
            presence: status_of(a.status),
            chosen: f.presence,
            open: a.open,
            capacity: f.capacity,
            teams: f.teams.clone(),
        })
        .collect()
}

/// Announce a conversation whose hands changed, and let routing run.
pub fn handed_over(state: &AppState, conversation: ConversationId) {
    state.inbox_updates.changed(conversation, conversation::Change::Reload);
    super::changed(state);
}
