//! Group commit for SQLite. Every append goes through one writer task, which takes whatever has
//! queued up (at most [`MAX_BATCH`]), applies it in one `BEGIN IMMEDIATE` transaction, commits once
//! (one WAL fsync under `synchronous = FULL`) and only then answers each caller. An idle relay
//! commits a lone message at once; a busy one commits hundreds per fsync, so durability does not
//! cap throughput. A message takes two statements (insert with the next seq, move `last_seq`); one
//! that is refused (a retry, an unknown conversation, an id of another author) burns no seq and
//! doesn't fail its neighbours.

use shared::{ClientMsgId, ConversationId, Seq};
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::sqlite::{author_columns, channel_str, message_from_row, MESSAGE_COLUMNS};
use super::{Appended, NewMessage, StoreError, StoreResult};

/// Most messages in one transaction.
pub const MAX_BATCH: usize = 512;
/// Appends that may wait for the writer before callers wait to enqueue (back-pressure).
const QUEUE: usize = 8192;

/// What the writer does. Cursor moves (receipts) ride in the same transactions as messages: a
/// second writer would fight this one for SQLite's write lock and cost its own fsyncs.
enum Job {
    Append { new: NewMessage, reply: oneshot::Sender<StoreResult<Appended>> },
    Advance { conversation: ConversationId, column: &'static str, up_to: Seq, reply: oneshot::Sender<StoreResult<Seq>> },
}

/// A job's answer, sent only after the commit.
enum Outcome {
    Appended(StoreResult<Appended>),
    Advanced(StoreResult<Seq>),
}

pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    pub fn start(pool: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, queue));
        Writer { jobs }
    }

    /// Append and wait until the message is durably committed (or refused).
    pub async fn append(&self, new: NewMessage) -> StoreResult<Appended> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Append { new, reply }).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Move a cursor column of a conversation forward (never back, never past its last seq), in the
    /// next batch; returns the cursor once committed.
    pub async fn advance(&self, conversation: ConversationId, column: &'static str, up_to: Seq) -> StoreResult<Seq> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Advance { conversation, column, up_to, reply }).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(pool: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let results = match pool.acquire().await {
            Ok(mut conn) => commit(&mut conn, &batch).await,
            Err(e) => Err(e),
        };
        match results {
            Ok(results) => {
                for (job, outcome) in batch.drain(..).zip(results) {
                    match (job, outcome) {
                        (Job::Append { reply, .. }, Outcome::Appended(r)) => drop(reply.send(r)),
                        (Job::Advance { reply, .. }, Outcome::Advanced(r)) => drop(reply.send(r)),
                        _ => unreachable!("outcomes follow their jobs"),
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(), "a group commit failed; nothing in it was stored");
                let reason = e.to_string();
                for job in batch.drain(..) {
                    let failed = StoreError::CommitFailed(reason.clone());
                    match job {
                        Job::Append { reply, .. } => drop(reply.send(Err(failed))),
                        Job::Advance { reply, .. } => drop(reply.send(Err(failed))),
                    }
                }
            }
        }
    }
}

/// Apply a batch in one transaction. `Ok` means committed; each message has its own outcome.
async fn commit(conn: &mut SqliteConnection, batch: &[Job]) -> Result<Vec<Outcome>, sqlx::Error> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let outcome = match job {
            Job::Append { new, .. } => append_one(conn, new).await.map(Outcome::Appended),
            Job::Advance { conversation, column, up_to, .. } => {
                advance(conn, *conversation, column, *up_to).await.map(Outcome::Advanced)
            }
        };
        match outcome {
            Ok(r) => results.push(r),
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                return Err(e);
            }
        }
    }
    if let Err(e) = sqlx::query("COMMIT").execute(&mut *conn).await {
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        return Err(e);
    }
    Ok(results)
}

/// One message inside the batch's transaction: two statements in the common case. The outer `Err`
/// is a database failure, which aborts (rolls back) the whole batch; the inner result is this
/// message's own answer. The seq is taken from the conversation in the INSERT itself and `last_seq`
/// moves only once the row is in, so a refused message never burns a seq.
async fn append_one(conn: &mut SqliteConnection, new: &NewMessage) -> Result<StoreResult<Appended>, sqlx::Error> {
    let (kind, advisor_id, author_name) = author_columns(&new.author);
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, seq, client_id, author_kind, advisor_id, author_name, channel, text, sent_at)
         SELECT id, last_seq + 1, ?, ?, ?, ?, ?, ?, ? FROM conversations WHERE id = ?
         ON CONFLICT (conversation_id, client_id) DO NOTHING
         RETURNING seq",
    )
    .bind(new.id.as_str())
    .bind(kind)
    .bind(advisor_id)
    .bind(author_name)
    .bind(channel_str(new.channel))
    .bind(&new.text)
    .bind(new.now)
    .bind(new.conversation.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(seq) = inserted else {
        // Nothing inserted: a retry of a stored id (possibly earlier in this very batch), or no
        // such conversation.
        let Some(existing) = find(conn, new.conversation, &new.id).await? else {
            return Ok(Err(StoreError::NotFound));
        };
        let existing = match message_from_row(&existing) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        if std::mem::discriminant(&existing.author) != std::mem::discriminant(&new.author) {
            return Ok(Err(StoreError::IdConflict));
        }
        return Ok(Ok(Appended { message: existing, created: false }));
    };
    sqlx::query("UPDATE conversations SET last_seq = ?, last_activity_at = ? WHERE id = ?")
        .bind(seq)
        .bind(new.now)
        .bind(new.conversation.0)
        .execute(&mut *conn)
        .await?;
    let message = shared::Message {
        id: new.id.clone(),
        conversation: new.conversation,
        seq: seq as Seq,
        author: new.author.clone(),
        channel: new.channel,
        text: new.text.clone(),
        sent_at: new.now,
    };
    Ok(Ok(Appended { message, created: true }))
}

async fn advance(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    column: &str,
    up_to: Seq,
) -> Result<StoreResult<Seq>, sqlx::Error> {
    let sql = format!("UPDATE conversations SET {column} = MAX({column}, MIN(?, last_seq)) WHERE id = ? RETURNING {column}");
    let seq: Option<i64> = sqlx::query_scalar(&sql)
        .bind(up_to.min(i64::MAX as u64) as i64)
        .bind(conversation.0)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(seq.map(|s| s as Seq).ok_or(StoreError::NotFound))
}

async fn find(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    id: &ClientMsgId,
) -> Result<Option<sqlx::sqlite::SqliteRow>, sqlx::Error> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND client_id = ?");
    sqlx::query(&sql).bind(conversation.0).bind(id.as_str()).fetch_optional(&mut *conn).await
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use shared::{Author, Channel};

    use crate::store::{SiteSettings, SqliteStore, Store};

    use super::*;

    async fn store_with_conversations(n: usize) -> (Arc<SqliteStore>, Vec<ConversationId>) {
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let site = SiteSettings {
            key: "s".into(),
            name: "S".into(),
            greeting: String::new(),
            color: "#000000".into(),
            reply_time: String::new(),
            allowed_origins: vec![],
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
}
