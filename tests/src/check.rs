//! The end-of-scenario audit: the database, read directly, against what every client wrote, was
//! acked, and holds. Failures are collected (not the first one only) so a broken run says everything
//! that is wrong at once.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use shared::{ConversationId, Seq};

use crate::reliable::{ReliableAdvisor, ReliableVisitor, Row};

/// Every message of every conversation, straight from the relay's SQLite file (read-only), by seq.
pub async fn all_messages_in_database(data_dir: &Path) -> BTreeMap<ConversationId, Vec<Row>> {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=ro", data_dir.join("confab.sqlite3").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open database read-only");
    let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
        "SELECT conversation_id, seq, client_id, text, author_kind FROM messages ORDER BY conversation_id, seq",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read messages");
    conn.close().await.ok();
    let mut out: BTreeMap<ConversationId, Vec<Row>> = BTreeMap::new();
    for (conversation, seq, id, text, kind) in rows {
        let kind = match kind.as_str() {
            "visitor" => "visitor",
            "advisor" => "advisor",
            "bot" => "bot",
            "system" => "system",
            _ => "unknown",
        };
        out.entry(ConversationId(conversation)).or_default().push((seq as Seq, id, text, kind));
    }
    out
}

/// What the audit counted; printed by the tests.
#[derive(Debug, Default)]
pub struct Audit {
    pub conversations: usize,
    pub messages: usize,
    pub written_by_visitors: usize,
    pub written_by_advisors: usize,
    /// Acks the clients received, each checked against the database.
    pub acks_checked: usize,
    pub failures: Vec<String>,
}

impl Audit {
    pub fn assert_clean(&self) {
        if !self.failures.is_empty() {
            let shown: Vec<&String> = self.failures.iter().take(40).collect();
            panic!(
                "{} failures (showing {}):\n  {}",
                self.failures.len(),
                shown.len(),
                shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")
            );
        }
    }
}

/// Check the database and every client against each other:
/// - each conversation's seqs are exactly 1..=n and each client id appears once in it;
/// - every message any client wrote is stored exactly once, in its conversation, with its text and
///   author, and nothing else is stored (count of rows == count of messages written);
/// - every ack a client received names the seq the database has for that id;
/// - every client's thread is identical to the database (same seqs, ids, texts, authors, order),
///   the visitor's for its conversation, each advisor's for every conversation;
/// - no client has anything left unacked and none recorded a protocol violation.
pub async fn audit(data_dir: &Path, visitors: &[ReliableVisitor], advisors: &[ReliableAdvisor]) -> Audit {
    let db = all_messages_in_database(data_dir).await;
    let mut a = Audit { conversations: db.len(), ..Audit::default() };
    let mut where_is: HashMap<(ConversationId, &str), Vec<&Row>> = HashMap::new();
    for (conversation, rows) in &db {
        a.messages += rows.len();
        let seqs: Vec<Seq> = rows.iter().map(|r| r.0).collect();
        let expected: Vec<Seq> = (1..=rows.len() as Seq).collect();
        if seqs != expected {
            a.failures.push(format!("conversation {conversation}: seqs are {seqs:?}, not 1..={}", rows.len()));
        }
        for row in rows {
            where_is.entry((*conversation, row.1.as_str())).or_default().push(row);
        }
    }
    for ((conversation, id), rows) in &where_is {
        if rows.len() != 1 {
            a.failures.push(format!("conversation {conversation}: client id {id:?} stored {} times", rows.len()));
        }
    }

    let mut written = 0usize;
    for v in visitors {
        a.failures.extend(v.violations.iter().cloned());
        if !v.outbox.is_empty() {
            a.failures.push(format!("{}: {} messages never acked", v.name, v.outbox.len()));
        }
        let Some(conversation) = v.conversation else {
            a.failures.push(format!("{}: never got a conversation", v.name));
            continue;
        };
        a.written_by_visitors += v.written.len();
        written += v.written.len();
        for (id, text) in &v.written {
            match where_is.get(&(conversation, id.as_str())).map(Vec::as_slice) {
                Some([row]) => {
                    if row.2 != *text || row.3 != "visitor" {
                        a.failures.push(format!("{}: {id} is stored as {row:?}", v.name));
                    }
                }
                Some(rows) => a.failures.push(format!("{}: {id} is stored {} times", v.name, rows.len())),
                None => a.failures.push(format!("{}: {id} ({text:?}) is not stored", v.name)),
            }
        }
        for (id, seq) in &v.acks {
            a.acks_checked += 1;
            match where_is.get(&(conversation, id.as_str())).and_then(|r| r.first()) {
                Some(row) if row.0 == *seq => {}
                Some(row) => a.failures.push(format!("{}: {id} was acked as seq {seq} but is stored at seq {}", v.name, row.0)),
                None => a.failures.push(format!("{}: {id} was acked as seq {seq} but is not stored", v.name)),
            }
        }
        let mine = db.get(&conversation).cloned().unwrap_or_default();
        compare(&mut a.failures, &v.name, conversation, &v.thread.rows(), &mine);
    }

    for adv in advisors {
        a.failures.extend(adv.violations.iter().cloned());
        if !adv.outbox.is_empty() {
            a.failures.push(format!("{}: {} replies never acked", adv.name, adv.outbox.len()));
        }
        a.written_by_advisors += adv.written.len();
        written += adv.written.len();
        for (conversation, id, text) in &adv.written {
            match where_is.get(&(*conversation, id.as_str())).map(Vec::as_slice) {
                Some([row]) => {
                    if row.2 != *text || row.3 != "advisor" {
                        a.failures.push(format!("{}: {id} is stored as {row:?}", adv.name));
                    }
                }
                Some(rows) => a.failures.push(format!("{}: {id} is stored {} times", adv.name, rows.len())),
                None => a.failures.push(format!("{}: {id} ({text:?}) is not stored in {conversation}", adv.name)),
            }
        }
        for (id, (conversation, seq)) in &adv.acks {
            a.acks_checked += 1;
            match where_is.get(&(*conversation, id.as_str())).and_then(|r| r.first()) {
                Some(row) if row.0 == *seq => {}
                Some(row) => a.failures.push(format!("{}: {id} was acked as seq {seq} but is stored at seq {}", adv.name, row.0)),
                None => a.failures.push(format!("{}: {id} was acked as seq {seq} but is not stored", adv.name)),
            }
        }
        for (conversation, rows) in &db {
            let held = adv.threads.get(conversation).map(|t| t.rows()).unwrap_or_default();
            compare(&mut a.failures, &adv.name, *conversation, &held, rows);
        }
        for conversation in adv.threads.keys() {
            if !db.contains_key(conversation) && !adv.threads[conversation].messages.is_empty() {
                a.failures.push(format!("{}: holds messages of conversation {conversation}, which has none", adv.name));
            }
        }
    }

    if a.messages != written {
        a.failures.push(format!("the database holds {} messages; the clients wrote {written}", a.messages));
    }
    a
}

fn compare(failures: &mut Vec<String>, who: &str, conversation: ConversationId, held: &[Row], stored: &[Row]) {
    if held == stored {
        return;
    }
    let first = held.iter().zip(stored).position(|(h, s)| h != s).unwrap_or(held.len().min(stored.len()));
    failures.push(format!(
        "{who}: thread of conversation {conversation} differs from the database: holds {} messages, the database {}; \
         first difference at index {first}: {:?} vs {:?}",
        held.len(),
        stored.len(),
        held.get(first),
        stored.get(first)
    ));
}
