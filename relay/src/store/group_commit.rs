//! Group commit for SQLite. Every write on the message path (appends and cursor moves) goes
//! through one writer thread, which takes whatever has queued up (at most [`MAX_BATCH`]), applies
//! it in one `BEGIN IMMEDIATE` transaction, commits once (one WAL fsync under `synchronous = FULL`)
//! and only then answers each caller. An idle relay commits a lone message at once; a busy one
//! commits hundreds per fsync, so durability does not cap throughput.
//!
//! The writer is a plain thread with its own connection and prepared statements rather than a task
//! on the async pool: at tens of thousands of statements a second, handing each one to a pool
//! worker thread and back cost more CPU than SQLite itself. A message takes two statements (insert
//! with the next seq; move `last_seq` and return the conversation's counters); one that is refused
//! (a retry, an unknown conversation, an id of another author) burns no seq and doesn't fail its
//! neighbours.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use shared::{ClientMsgId, ConversationId, Message, Seq};

use crate::customer::Visit;
use tokio::sync::{mpsc, oneshot};

use super::sqlite::attachments;
use super::sqlite::{
    author_columns, author_from, channel_from, channel_str, delivery_from, platform_state_str, AUTHOR_ADVISOR, AUTHOR_VISITOR,
};
use super::{Advanced, Appended, Counters, NewAttachment, NewMessage, SiteId, StoreError, StoreResult, VisitorId};

/// Most jobs in one transaction.
pub const MAX_BATCH: usize = 512;
/// Jobs that may wait for the writer before callers wait to enqueue (back-pressure).
const QUEUE: usize = 8192;

/// A cursor column of `conversations` that only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    VisitorRead,
    AdvisorRead,
    VisitorDelivered,
    AdvisorDelivered,
}

/// What the writer does. Cursor moves (receipts) and new visitors ride in the same transactions
/// as messages: a second writer would fight this one for SQLite's write lock and cost its own
/// fsyncs (a burst of page views opening the widget is a burst of new visitors).
enum Job {
    Append { new: NewMessage, reply: oneshot::Sender<StoreResult<Appended>> },
    Advance { conversation: ConversationId, cursor: Cursor, up_to: Seq, reply: oneshot::Sender<StoreResult<Advanced>> },
    Open { new: Box<NewVisitor>, reply: oneshot::Sender<StoreResult<(VisitorId, ConversationId)>> },
    Visit { visitor: VisitorId, conversation: ConversationId, arrival: Box<Arrival>, reply: oneshot::Sender<StoreResult<()>> },
}

/// A job's answer, sent only after the commit.
enum Outcome {
    Appended(StoreResult<Appended>),
    Advanced(StoreResult<Advanced>),
    Opened(StoreResult<(VisitorId, ConversationId)>),
    Visited(StoreResult<()>),
}

impl Job {
    /// Send the job's answer; a caller that stopped waiting is no one's loss.
    fn answer(self, outcome: Outcome) {
        match (self, outcome) {
            (Job::Append { reply, .. }, Outcome::Appended(r)) => drop(reply.send(r)),
            (Job::Advance { reply, .. }, Outcome::Advanced(r)) => drop(reply.send(r)),
            (Job::Open { reply, .. }, Outcome::Opened(r)) => drop(reply.send(r)),
            (Job::Visit { reply, .. }, Outcome::Visited(r)) => drop(reply.send(r)),
            _ => unreachable!("outcomes follow their jobs"),
        }
    }

    fn fail(self, error: StoreError) {
        match self {
            Job::Append { reply, .. } => drop(reply.send(Err(error))),
            Job::Advance { reply, .. } => drop(reply.send(Err(error))),
            Job::Open { reply, .. } => drop(reply.send(Err(error))),
            Job::Visit { reply, .. } => drop(reply.send(Err(error))),
        }
    }
}

/// A web visitor's first page view: the visitor, their conversation, and what their browser and
/// the widget said about them.
pub struct NewVisitor {
    pub site: SiteId,
    pub token_hash: Vec<u8>,
    pub arrival: Arrival,
}

/// What a hello records: the page the widget was opened on and the browser's details.
#[derive(Default)]
pub struct Arrival {
    pub page: Option<String>,
    pub visit: Visit,
    pub now: i64,
}

pub struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Versions of commits that are durable (see [`Counters::version`]).
    committed: Arc<AtomicU64>,
}

impl Writer {
    /// Open the writer's own connection to the database file (already migrated) and start its
    /// thread. The thread ends once every handle to the writer is dropped.
    pub fn start(path: &Path) -> StoreResult<Self> {
        let conn = open(path).map_err(writer_error)?;
        // The writer never checkpoints itself: an automatic checkpoint inside a commit would stall
        // every message queued behind it. A second thread copies the WAL back into the database
        // beside it, which WAL mode allows without blocking the writer.
        conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(writer_error)?;
        let checkpointer = open(path).map_err(writer_error)?;
        let (jobs, queue) = mpsc::channel(QUEUE);
        let committed = Arc::new(AtomicU64::new(0));
        let seen = committed.clone();
        let (alive, writer_gone) = std::sync::mpsc::channel::<()>();
        let failed = |e: std::io::Error| StoreError::CommitFailed(format!("could not start the writer thread: {e}"));
        std::thread::Builder::new()
            .name("confab-writer".into())
            .spawn(move || {
                run(conn, queue, seen);
                drop(alive);
            })
            .map_err(failed)?;
        std::thread::Builder::new()
            .name("confab-checkpoint".into())
            .spawn(move || checkpoints(checkpointer, writer_gone))
            .map_err(failed)?;
        Ok(Writer { jobs, committed })
    }

    /// Append and wait until the message is durably committed (or refused).
    pub async fn append(&self, new: NewMessage) -> StoreResult<Appended> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Append { new, reply }).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Move a cursor of a conversation forward (never back, never past its last seq), in the next
    /// batch; returns the cursor once committed.
    pub async fn advance(&self, conversation: ConversationId, cursor: Cursor, up_to: Seq) -> StoreResult<Advanced> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Advance { conversation, cursor, up_to, reply }).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// A new web visitor and their conversation, committed with the next batch.
    pub async fn open(&self, new: NewVisitor) -> StoreResult<(VisitorId, ConversationId)> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Open { new: Box::new(new), reply }).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// A known visitor is back: record the page and the browser, with the next batch.
    pub async fn visit(&self, visitor: VisitorId, conversation: ConversationId, arrival: Arrival) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Visit { visitor, conversation, arrival: Box::new(arrival), reply }).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Every commit with a version up to this one is durable and visible to readers.
    pub fn committed_version(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }
}

fn writer_error(e: rusqlite::Error) -> StoreError {
    StoreError::CommitFailed(e.to_string())
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(PathBuf::from(path))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // The pool's connections set WAL on the file; these are per connection.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 16 MiB of page cache: the b-tree pages of busy conversations stay in memory.
    conn.pragma_update(None, "cache_size", -16384)?;
    // Pages read through a memory map instead of a read() copy each.
    conn.pragma_update(None, "mmap_size", 256 * 1024 * 1024)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Checkpoint the WAL every [`CHECKPOINT_EVERY`] until the writer is gone. `PASSIVE` never waits for
/// the writer or readers; whatever it can't copy now, it copies next time.
fn checkpoints(conn: Connection, writer_gone: std::sync::mpsc::Receiver<()>) {
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = writer_gone.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "a WAL checkpoint failed; the next one will retry");
        }
    }
}

fn run(conn: Connection, mut queue: mpsc::Receiver<Job>, committed: Arc<AtomicU64>) {
    let mut hot = match Hot::prepare(&conn) {
        Ok(hot) => hot,
        Err(e) => {
            // Answered, not hung: every job fails until the relay is restarted.
            tracing::error!(error = %e, "the writer could not prepare its statements; messages can't be stored");
            while let Some(job) = queue.blocking_recv() {
                job.fail(StoreError::CommitFailed(e.to_string()));
            }
            return;
        }
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut version = 0u64;
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match commit(&conn, &mut hot, &batch, &mut version) {
            Ok(results) => {
                committed.store(version, Ordering::Release);
                for (job, outcome) in batch.drain(..).zip(results) {
                    job.answer(outcome);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(), "a group commit failed; nothing in it was stored");
                let reason = e.to_string();
                for job in batch.drain(..) {
                    job.fail(StoreError::CommitFailed(reason.clone()));
                }
            }
        }
    }
}

/// Apply a batch in one transaction. `Ok` means committed; each job has its own outcome. A failed
/// batch is rolled back whole.
fn commit(conn: &Connection, hot: &mut Hot<'_>, batch: &[Job], version: &mut u64) -> rusqlite::Result<Vec<Outcome>> {
    // BEGIN and COMMIT by hand rather than through `Transaction`, which borrows the connection
    // mutably: the hot statements borrow it for the writer's whole life.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let applied = (|| {
        let mut results = Vec::with_capacity(batch.len());
        let mut next = *version;
        for job in batch {
            next += 1;
            results.push(match job {
                Job::Append { new, .. } => Outcome::Appended(append_one(conn, hot, new, next)?),
                Job::Advance { conversation, cursor, up_to, .. } => Outcome::Advanced(advance(conn, *conversation, *cursor, *up_to, next)?),
                Job::Open { new, .. } => Outcome::Opened(open_visitor(conn, new)?),
                Job::Visit { visitor, conversation, arrival, .. } => Outcome::Visited(visit(conn, *visitor, *conversation, arrival)?),
            });
        }
        conn.execute_batch("COMMIT")?;
        Ok((results, next))
    })();
    match applied {
        Ok((results, next)) => {
            *version = next;
            Ok(results)
        }
        Err(e) => {
            if !conn.is_autocommit() {
                if let Err(rollback) = conn.execute_batch("ROLLBACK") {
                    tracing::error!(error = %rollback, "rolling back a failed group commit failed too");
                }
            }
            Err(e)
        }
    }
}

/// The statements every message runs, prepared once for the writer's life. Through
/// `prepare_cached` each use hashed its whole SQL text twice (lookup and return), a tenth of the
/// writer's instructions for the long UPDATE.
struct Hot<'c> {
    /// The conversation's `last_seq`, and whether a customer's message changes nothing but its
    /// counters (see [`QUIET`]).
    head: rusqlite::Statement<'c>,
    insert: rusqlite::Statement<'c>,
    update: rusqlite::Statement<'c>,
    quiet_update: rusqlite::Statement<'c>,
    counters: rusqlite::Statement<'c>,
}

impl<'c> Hot<'c> {
    fn prepare(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Hot {
            head: conn.prepare(&format!("SELECT last_seq, {QUIET} FROM conversations WHERE id = ?1"))?,
            insert: conn.prepare(INSERT_MESSAGE)?,
            update: conn.prepare(UPDATE_CONVERSATION)?,
            quiet_update: conn.prepare(QUIET_UPDATE)?,
            counters: conn.prepare(&format!("SELECT {COUNTERS} FROM conversations WHERE id = ?1"))?,
        })
    }
}

/// The conversation columns every write returns, in [`counters`]'s order.
const COUNTERS: &str = "last_seq, last_activity_at, advisor_unread, visitor_read_seq, visitor_delivered_seq, status, snoozed_until,
     team_id, assignee_id, waiting_since,
     waiting_since + (SELECT t.first_response_target_ms FROM teams t WHERE t.id = conversations.team_id)";

/// [`Counters`] from the [`COUNTERS`] columns starting at `at`.
fn counters_at(row: &rusqlite::Row<'_>, at: usize, version: u64) -> rusqlite::Result<Counters> {
    Ok(Counters {
        version,
        last_seq: row.get::<_, i64>(at)? as Seq,
        last_activity_at: row.get(at + 1)?,
        unread: row.get::<_, i64>(at + 2)? as u32,
        visitor_read_seq: row.get::<_, i64>(at + 3)? as Seq,
        visitor_delivered_seq: row.get::<_, i64>(at + 4)? as Seq,
        status: shared::ConversationStatus::parse(&row.get::<_, String>(at + 5)?),
        snoozed_until: row.get(at + 6)?,
        team: row.get(at + 7)?,
        assignee: row.get::<_, Option<i64>>(at + 8)?.map(shared::AdvisorId),
        waiting_since: row.get(at + 9)?,
        first_response_due: row.get(at + 10)?,
    })
}

fn counters(row: &rusqlite::Row<'_>, version: u64) -> rusqlite::Result<Counters> {
    counters_at(row, 0, version)
}

/// The new message's row; the seq is the conversation's `last_seq` + 1, read in the same
/// transaction (the writer holds the write lock). A plain `INSERT … VALUES`: an `INSERT … SELECT`
/// or a `RETURNING` clause makes SQLite open a statement journal and an ephemeral table for every
/// message (a third of the writer's instructions, measured with callgrind).
const INSERT_MESSAGE: &str = "INSERT INTO messages (conversation_id, seq, client_id, author_kind, advisor_id, author_name, channel, text, sent_at,
                              platform_id, platform_state, note)
     VALUES (?8, ?12, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?10, ?11)
     ON CONFLICT (conversation_id, client_id) DO NOTHING";

/// The conversation after any message: cursors, counters, status and routing.
const UPDATE_CONVERSATION: &str = "UPDATE conversations SET last_seq = ?1, last_activity_at = ?2, advisor_unread = CASE WHEN ?7 THEN 0 ELSE advisor_unread + ?3 END,
        advisor_delivered_seq = CASE WHEN ?5 THEN ?1 ELSE advisor_delivered_seq END,
        visitor_delivered_seq = CASE WHEN ?6 THEN ?1 ELSE visitor_delivered_seq END,
        advisor_read_seq = CASE WHEN ?7 THEN ?1 ELSE advisor_read_seq END,
        channel = CASE WHEN ?3 THEN ?8 ELSE channel END,
        status = CASE WHEN ?3 THEN 'open' ELSE status END,
        snoozed_until = CASE WHEN ?3 THEN NULL ELSE snoozed_until END,
        resolved_at = CASE WHEN ?3 THEN NULL ELSE resolved_at END,
        -- Routing (docs/ROUTING.md). A customer writing into a closed conversation
        -- sends it through routing again; into an unassigned one, queues it (keeping
        -- its place if it already waits). An advisor's reply takes an unassigned
        -- conversation out of the queue, and answers whatever the customer waited for.
        assignee_id = CASE WHEN ?3 AND status != 'open' THEN NULL
                           WHEN ?7 AND assignee_id IS NULL THEN ?9 ELSE assignee_id END,
        assigned_at = CASE WHEN ?7 AND assignee_id IS NULL THEN ?2 ELSE assigned_at END,
        -- While the site's bot has it (docs/BOT.md) the customer waits for nobody: no
        -- queue, no first-response clock, until the hand-off. An advisor's reply ends the bot's turn.
        queued_at = CASE WHEN ?7 THEN NULL
                         WHEN ?3 AND with_bot = 0 AND (status != 'open' OR assignee_id IS NULL) THEN COALESCE(queued_at, ?2)
                         ELSE queued_at END,
        waiting_since = CASE WHEN ?7 THEN NULL WHEN ?3 AND with_bot = 0 THEN COALESCE(waiting_since, ?2) ELSE waiting_since END,
        with_bot = CASE WHEN ?7 THEN 0 ELSE with_bot END,
        last_helped_by = CASE WHEN ?7 THEN ?9 ELSE last_helped_by END,
        -- In the inbox from the first word of the customer or an advisor (the bot's
        -- greeting to a silent visitor is not a conversation anyone needs to see).
        started = started OR ?10
  WHERE id = ?4";

/// True when [`UPDATE_CONVERSATION`] for a customer's message would change nothing but the
/// columns [`QUIET_UPDATE`] sets: the conversation is open and started, and already queued,
/// assigned or with the bot, with its waiting clock running (or the bot's). Every other CASE then
/// keeps its value, so SQLite need not rewrite the status, queue, assignee and snooze indexes nor
/// check the assignee's foreign keys — a customer's second message onward, the common case.
const QUIET: &str = "status = 'open' AND snoozed_until IS NULL AND resolved_at IS NULL AND started = 1
     AND (with_bot = 1 OR (waiting_since IS NOT NULL AND (assignee_id IS NOT NULL OR queued_at IS NOT NULL)))";

/// [`UPDATE_CONVERSATION`] for a customer's message into a [`QUIET`] conversation, with the same
/// parameters (?7 and ?9, an advisor's, go unused; ?3 and ?10 are true for a customer).
const QUIET_UPDATE: &str = "UPDATE conversations SET last_seq = ?1, last_activity_at = ?2, advisor_unread = advisor_unread + ?3,
        advisor_delivered_seq = CASE WHEN ?5 THEN ?1 ELSE advisor_delivered_seq END,
        visitor_delivered_seq = CASE WHEN ?6 THEN ?1 ELSE visitor_delivered_seq END,
        channel = ?8
  WHERE id = ?4 AND ?3 AND ?10";

/// One message inside the batch's transaction. The outer `Err` is a database failure, which
/// aborts (rolls back) the whole batch; the inner result is this message's own answer. `last_seq`
/// moves only once the row is in, so a refused message never burns a seq.
fn append_one(tx: &Connection, hot: &mut Hot<'_>, new: &NewMessage, version: u64) -> rusqlite::Result<StoreResult<Appended>> {
    let (kind, advisor_id, author_name) = author_columns(&new.author);
    let head: Option<(i64, bool)> = hot.head.query_row(params![new.conversation.0], |row| Ok((row.get(0)?, row.get(1)?))).optional()?;
    let Some((last, quiet)) = head else { return Ok(Err(StoreError::NotFound)) };
    let seq = last + 1;
    let inserted = hot.insert.execute(params![
        new.id.as_str(),
        kind,
        advisor_id,
        author_name,
        channel_str(new.channel),
        new.text,
        new.now,
        new.conversation.0,
        new.platform.as_ref().and_then(|p| p.platform_id.as_deref()),
        new.platform.as_ref().map(|p| platform_state_str(p.state)),
        new.note,
        seq,
    ])?;
    if inserted == 0 {
        // Nothing inserted: a retry of a stored id (possibly earlier in this very batch).
        let Some(existing) = find(tx, new.conversation, &new.id)? else {
            return Ok(Err(StoreError::NotFound));
        };
        let existing = match existing {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        if std::mem::discriminant(&existing.author) != std::mem::discriminant(&new.author) {
            return Ok(Err(StoreError::IdConflict));
        }
        let mut existing = existing;
        existing.attachments = attachments::of_message(tx, new.conversation, existing.seq as i64)?;
        return Ok(Ok(Appended { message: existing, created: false, counters: None, routing_unchanged: true }));
    }
    // Uploaded files the message names must be free to take; if one isn't, the message is taken
    // back (its seq was never published: `last_seq` has not moved) and refused on its own.
    if !attachments::claim_uploads(tx, new.conversation, seq, &new.attachments, new.now)? {
        tx.prepare_cached("DELETE FROM messages WHERE conversation_id = ?1 AND seq = ?2")?
            .execute(params![new.conversation.0, seq])?;
        return Ok(Err(StoreError::UploadUnavailable));
    }
    let from_visitor = kind == AUTHOR_VISITOR;
    let (to_advisors, to_visitor) = (new.delivered && from_visitor, new.delivered && !from_visitor);
    // An advisor who replies has read the thread up to their reply (nothing after it is unread).
    // A note is not a reply: it moves no cursor.
    let by_advisor = kind == AUTHOR_ADVISOR && !new.note;
    if by_advisor {
        // Replying to an unassigned conversation takes it: recorded like a hand assignment.
        tx.prepare_cached(
            "INSERT INTO assignments (conversation_id, advisor_id, team_id, kind, by_advisor, at)
             SELECT id, ?2, team_id, 'manual', ?2, ?3 FROM conversations WHERE id = ?1 AND assignee_id IS NULL",
        )?
        .execute(params![new.conversation.0, advisor_id, new.now])?;
    }
    let quiet = quiet && from_visitor;
    let update = if quiet { &mut hot.quiet_update } else { &mut hot.update };
    let updated = update.execute(params![
        seq,
        new.now,
        i64::from(from_visitor),
        new.conversation.0,
        to_advisors,
        to_visitor,
        by_advisor,
        // Replies go where the customer last wrote from.
        channel_str(new.channel),
        advisor_id,
        from_visitor || kind == AUTHOR_ADVISOR
    ])?;
    if updated != 1 {
        // The row was read a moment ago in this transaction; a miss is a bug, and the batch is
        // rolled back rather than a seq published without its counters.
        return Err(rusqlite::Error::StatementChangedRows(updated));
    }
    let counters = hot.counters.query_row(params![new.conversation.0], |row| counters(row, version))?;
    if let Some(target) = new.platform.as_ref().and_then(|p| p.outbox.as_ref()) {
        tx.prepare_cached(
            "INSERT INTO outbox (conversation_id, seq, channel, account, recipient, tagged, next_attempt_at, created_at, template)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
        )?
        .execute(params![
            new.conversation.0,
            seq,
            channel_str(target.channel),
            target.account,
            target.recipient,
            target.tagged,
            new.now,
            new.platform.as_ref().and_then(|p| p.template.as_ref()).map(|t| serde_json::to_string(t).unwrap_or_default()),
        ])?;
    }
    attachments::insert_all(tx, new.conversation, seq, &new.attachments, new.now)?;
    let uploads = new.attachments.iter().any(NewAttachment::is_upload);
    let message = Message {
        attachments: if uploads {
            attachments::of_message(tx, new.conversation, seq)?
        } else {
            new.attachments.iter().map(NewAttachment::pending).collect()
        },
        delivery: new.platform.as_ref().map(|p| shared::PlatformDelivery { state: p.state, error: None }),
        id: new.id.clone(),
        conversation: new.conversation,
        seq: seq as Seq,
        author: new.author.clone(),
        channel: new.channel,
        text: new.text.clone(),
        sent_at: new.now,
        note: new.note,
    };
    Ok(Ok(Appended { message, created: true, counters: Some(counters), routing_unchanged: quiet }))
}

/// A new visitor and their first conversation (in the site's default team), with the page and the
/// browser's details, in one go. Refusals (no such site, a token hash already taken) are the job's
/// own and leave the batch alone.
fn open_visitor(tx: &Connection, new: &NewVisitor) -> rusqlite::Result<StoreResult<(VisitorId, ConversationId)>> {
    let site: Option<Option<i64>> =
        tx.prepare_cached("SELECT team_id FROM sites WHERE id = ?1")?.query_row(params![new.site.0], |row| row.get(0)).optional()?;
    let Some(team) = site else { return Ok(Err(StoreError::NotFound)) };
    let Arrival { page, visit, now } = &new.arrival;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO visitors (site_id, token_hash, created_at, user_agent, language, timezone, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?3) ON CONFLICT (token_hash) DO NOTHING",
        )?
        .execute(params![new.site.0, new.token_hash, now, visit.user_agent, visit.language, visit.timezone])?;
    if inserted == 0 {
        return Ok(Err(StoreError::Duplicate("visitor token")));
    }
    let visitor = tx.last_insert_rowid();
    tx.prepare_cached(
        "INSERT INTO conversations (site_id, visitor_id, channel, created_at, last_activity_at, team_id, page, referrer)
         VALUES (?1, ?2, 'web', ?3, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![new.site.0, visitor, now, team, page, visit.referrer])?;
    Ok(Ok((VisitorId(visitor), ConversationId(tx.last_insert_rowid()))))
}

/// A returning visitor's page and browser (what the hello didn't say is kept as it was; the
/// referrer is the first one only).
fn visit(tx: &Connection, visitor: VisitorId, conversation: ConversationId, arrival: &Arrival) -> rusqlite::Result<StoreResult<()>> {
    let Arrival { page, visit, now } = arrival;
    tx.prepare_cached(
        "UPDATE visitors SET user_agent = COALESCE(?1, user_agent), language = COALESCE(?2, language),
                timezone = COALESCE(?3, timezone), last_seen_at = ?4 WHERE id = ?5",
    )?
    .execute(params![visit.user_agent, visit.language, visit.timezone, now, visitor.0])?;
    tx.prepare_cached(
        "UPDATE conversations SET page = COALESCE(?1, page), referrer = COALESCE(referrer, ?2) WHERE id = ?3",
    )?
    .execute(params![page, visit.referrer, conversation.0])?;
    Ok(Ok(()))
}

fn advance(
    tx: &Connection,
    conversation: ConversationId,
    cursor: Cursor,
    up_to: Seq,
    version: u64,
) -> rusqlite::Result<StoreResult<Advanced>> {
    let column = match cursor {
        Cursor::VisitorRead => "visitor_read_seq",
        Cursor::AdvisorRead => "advisor_read_seq",
        Cursor::VisitorDelivered => "visitor_delivered_seq",
        Cursor::AdvisorDelivered => "advisor_delivered_seq",
    };
    // Reading moves the unread count too: the visitor messages after the new cursor. (The
    // right-hand sides see the row as it was before this update.)
    let unread = if cursor == Cursor::AdvisorRead {
        ", advisor_unread = (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = conversations.id
             AND m.author_kind = 'visitor' AND m.seq > MAX(advisor_read_seq, MIN(?1, last_seq)))"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE conversations SET {column} = MAX({column}, MIN(?1, last_seq)){unread} WHERE id = ?2 RETURNING {column}, {COUNTERS}"
    );
    let up_to = up_to.min(i64::MAX as u64) as i64;
    let advanced = tx
        .prepare_cached(&sql)?
        .query_row(params![up_to, conversation.0], |row| {
            let seq = row.get::<_, i64>(0)? as Seq;
            Ok(Advanced { seq, counters: counters_at(row, 1, version)? })
        })
        .optional()?;
    Ok(advanced.ok_or(StoreError::NotFound))
}

fn find(tx: &Connection, conversation: ConversationId, id: &ClientMsgId) -> rusqlite::Result<Option<StoreResult<Message>>> {
    tx.prepare_cached(
        "SELECT seq, author_kind, advisor_id, author_name, channel, text, sent_at, platform_state, platform_error, note
           FROM messages WHERE conversation_id = ?1 AND client_id = ?2",
    )?
    .query_row(params![conversation.0, id.as_str()], |row| {
        let kind: String = row.get(1)?;
        let author = match author_from(&kind, row.get(2)?, row.get(3)?) {
            Ok(author) => author,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(Message {
            attachments: Vec::new(),
            delivery: delivery_from(row.get::<_, Option<String>>(7)?.as_deref(), row.get(8)?),
            id: id.clone(),
            conversation,
            seq: row.get::<_, i64>(0)? as Seq,
            author,
            channel: channel_from(&row.get::<_, String>(4)?),
            text: row.get(5)?,
            sent_at: row.get(6)?,
            note: row.get(9)?,
        }))
    })
    .optional()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use shared::{Author, Channel};

    use crate::store::{SiteSettings, SqliteStore, Store};

    use super::*;

    async fn store_with_conversations(n: usize) -> (Arc<SqliteStore>, Vec<ConversationId>) {
        let store = Arc::new(SqliteStore::temporary().await.unwrap());
        let site = SiteSettings {
            key: "s".into(),
            name: "S".into(),
            greeting: String::new(),
            color: "#000000".into(),
            reply_time: String::new(),
            allowed_origins: vec![],
            team_id: None,
        };
        let site = store.create_site(&site, 0).await.unwrap();
        let mut conversations = Vec::new();
        for i in 0..n {
            let thread = store.create_visitor(site.id, format!("token-{i}").as_bytes(), 0).await.unwrap();
            conversations.push(thread.conversation);
        }
        (store, conversations)
    }

    fn message(conversation: ConversationId, id: &str) -> NewMessage {
        NewMessage {
            conversation,
            id: ClientMsgId(id.into()),
            author: Author::Visitor,
            channel: Channel::Web,
            text: format!("text of {id}"),
            now: 1,
            delivered: false,
            platform: None,
            attachments: Vec::new(),
            note: false,
        }
    }

    #[tokio::test]
    async fn concurrent_appends_with_retries_get_contiguous_seqs_and_each_id_once() {
        let (store, conversations) = store_with_conversations(4).await;
        let mut tasks = Vec::new();
        // 4 conversations × 50 ids, each id sent twice at the same time (a retry racing the original).
        for &c in &conversations {
            for i in 0..50 {
                for _ in 0..2 {
                    let store = store.clone();
                    tasks.push(tokio::spawn(async move { store.append_message(message(c, &format!("m{i}"))).await }));
                }
            }
        }
        let mut created = 0;
        for t in tasks {
            let appended = t.await.unwrap().unwrap();
            created += usize::from(appended.created);
        }
        assert_eq!(created, 4 * 50, "every id stored exactly once");
        for &c in &conversations {
            let all = store.messages_after(c, 0, 1000).await.unwrap();
            let seqs: Vec<Seq> = all.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (1..=50).collect::<Vec<_>>(), "gap-free, in order");
            let ids: HashSet<_> = all.iter().map(|m| m.id.clone()).collect();
            assert_eq!(ids.len(), 50);
        }
    }

    #[tokio::test]
    async fn a_bad_message_in_a_batch_fails_alone_and_leaves_no_gap() {
        let (store, conversations) = store_with_conversations(1).await;
        let c = conversations[0];
        let good = store.clone();
        let bad = store.clone();
        let late = store.clone();
        let (a, b, d) = tokio::join!(
            tokio::spawn(async move { good.append_message(message(c, "a")).await }),
            tokio::spawn(async move { bad.append_message(message(ConversationId(999), "x")).await }),
            tokio::spawn(async move { late.append_message(message(c, "b")).await }),
        );
        assert_eq!(a.unwrap().unwrap().message.seq, 1);
        assert!(matches!(b.unwrap(), Err(StoreError::NotFound)));
        assert_eq!(d.unwrap().unwrap().message.seq, 2);
        // The same id from another kind of author is refused, not mistaken for a retry.
        let mut advisor = message(c, "a");
        advisor.author = Author::Advisor { id: shared::AdvisorId(1), name: "Ada".into() };
        assert!(matches!(store.append_message(advisor).await, Err(StoreError::IdConflict)));
        assert_eq!(store.messages_after(c, 0, 10).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_taken_token_or_a_gone_site_refuses_that_visitor_alone() {
        let (store, conversations) = store_with_conversations(1).await;
        let c = conversations[0];
        let site = crate::store::SiteId(1);
        let arrival = |page: &str| Arrival { page: Some(page.into()), visit: crate::customer::Visit::default(), now: 5 };
        let (a, b, d, e) = tokio::join!(
            store.open_visitor(site, b"token-0", arrival("https://shop.test/a")),
            store.open_visitor(crate::store::SiteId(99), b"fresh", arrival("https://shop.test/b")),
            store.append_message(message(c, "m1")),
            store.open_visitor(site, b"fresh-too", arrival("https://shop.test/c")),
        );
        assert!(matches!(a, Err(StoreError::Duplicate(_))), "token-0 is taken: {:?}", a.map(|t| t.visitor));
        assert!(matches!(b, Err(StoreError::NotFound)));
        assert_eq!(d.unwrap().message.seq, 1, "its neighbours in the batch are stored");
        let opened = e.unwrap();
        assert_ne!(opened.conversation, c);
        let found = store.visitor_by_token(site, b"fresh-too").await.unwrap().expect("the new visitor is stored");
        assert_eq!((found.visitor, found.conversation), (opened.visitor, opened.conversation));
    }

}
