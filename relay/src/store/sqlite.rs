//! The embedded store: SQLite in WAL mode with `synchronous = FULL`, so a commit that returned is on
//! disk even if the machine loses power right after.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use shared::{
    AdvisorId, AdvisorInfo, Author, Channel, ClientMsgId, ConversationId, ConversationSummary, Message, PlatformDelivery,
    PlatformState, Seq,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::group_commit::{Cursor, NewVisitor, Writer};
use super::*;

pub(super) mod analytics;
pub(super) mod attachments;
mod identity;
mod bot;
mod inbox;
mod notify;
mod routing;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    writer: Writer,
    /// A [`SqliteStore::temporary`] database's directory, deleted with the store.
    _temp: Option<tempfile::TempDir>,
}

impl SqliteStore {
    /// A conversation's messages with seq > `after`, oldest first, with their attachments;
    /// `filter` is a fixed extra SQL condition.
    async fn messages_where(&self, conversation: ConversationId, after: Seq, limit: usize, filter: &'static str) -> StoreResult<Vec<Message>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? {filter} ORDER BY seq LIMIT ?");
        let rows = sqlx::query(&sql)
            .bind(conversation.0)
            .bind(after as i64)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        let mut messages = rows.iter().map(message_from_row).collect::<StoreResult<Vec<_>>>()?;
        attachments::fill(&self.pool, conversation, &mut messages).await?;
        Ok(messages)
    }

    /// Open (creating if needed) the database file and apply pending migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Self::open_inner(path, None).await
    }

    /// A private database in a temporary directory that is deleted with the store (unit tests).
    /// A file, not `:memory:`: the writer thread has a connection of its own.
    pub async fn temporary() -> StoreResult<Self> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Corrupt(format!("no temporary directory: {e}")))?;
        let path = dir.path().join("confab.sqlite3");
        Self::open_inner(&path, Some(dir)).await
    }

    async fn open_inner(path: &Path, temp: Option<tempfile::TempDir>) -> StoreResult<Self> {
        // The owner's only (0600), before SQLite opens it: SQLite gives the `-wal` and `-shm` it
        // creates the database's mode. Ones left by an older relay are tightened too.
        let io = |e: std::io::Error| StoreError::Database(sqlx::Error::Io(e));
        crate::owner_only::prepare_file(path).map_err(io)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = Path::new(&side);
            if side.exists() {
                crate::owner_only::tighten(side).map_err(io)?;
            }
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        let writer = Writer::start(path)?;
        Ok(SqliteStore { pool, writer, _temp: temp })
    }
}

pub(super) const AUTHOR_VISITOR: &str = "visitor";
pub(super) const AUTHOR_ADVISOR: &str = "advisor";
pub(super) const AUTHOR_BOT: &str = "bot";
pub(super) const AUTHOR_SYSTEM: &str = "system";

pub(super) fn author_columns(author: &Author) -> (&'static str, Option<i64>, Option<&str>) {
    match author {
        Author::Advisor { id, name } => (AUTHOR_ADVISOR, Some(id.0), Some(name.as_str())),
        Author::Bot => (AUTHOR_BOT, None, None),
        Author::System => (AUTHOR_SYSTEM, None, None),
        Author::Visitor | Author::Unknown => (AUTHOR_VISITOR, None, None),
        #[allow(unreachable_patterns)]
        _ => (AUTHOR_SYSTEM, None, None),
    }
}

pub(super) fn channel_str(channel: Channel) -> &'static str {
    match channel {
        Channel::Whatsapp => "whatsapp",
        Channel::Messenger => "messenger",
        _ => "web",
    }
}

pub(super) fn channel_from(s: &str) -> Channel {
    match s {
        "whatsapp" => Channel::Whatsapp,
        "messenger" => Channel::Messenger,
        "web" => Channel::Web,
        _ => Channel::Unknown,
    }
}

pub(super) const MESSAGE_COLUMNS: &str =
    "conversation_id, seq, client_id, author_kind, advisor_id, author_name, channel, text, sent_at, platform_state, platform_error, note";

pub(super) fn platform_state_str(state: PlatformState) -> &'static str {
    match state {
        PlatformState::Received => "received",
        PlatformState::Queued => "queued",
        PlatformState::Sent => "sent",
        PlatformState::Delivered => "delivered",
        PlatformState::Read => "read",
        PlatformState::Failed => "failed",
        _ => "unknown",
    }
}

fn platform_state_from(s: &str) -> PlatformState {
    match s {
        "received" => PlatformState::Received,
        "queued" => PlatformState::Queued,
        "sent" => PlatformState::Sent,
        "delivered" => PlatformState::Delivered,
        "read" => PlatformState::Read,
        "failed" => PlatformState::Failed,
        _ => PlatformState::Unknown,
    }
}

/// Order of the states a reply goes through; a report never moves a message back (CONTRACTS §3).
fn platform_rank(state: PlatformState) -> u8 {
    match state {
        PlatformState::Received | PlatformState::Unknown => 0,
        PlatformState::Queued => 1,
        PlatformState::Sent => 2,
        PlatformState::Delivered => 3,
        PlatformState::Read => 4,
        PlatformState::Failed => 5,
        _ => 0,
    }
}

pub(super) fn delivery_from(state: Option<&str>, error: Option<String>) -> Option<PlatformDelivery> {
    state.map(|s| PlatformDelivery { state: platform_state_from(s), error })
}

/// The author of a stored message, from its three author columns.
pub(super) fn author_from(kind: &str, advisor_id: Option<i64>, name: Option<String>) -> StoreResult<Author> {
    Ok(match kind {
        AUTHOR_VISITOR => Author::Visitor,
        AUTHOR_ADVISOR => Author::Advisor { id: AdvisorId(advisor_id.unwrap_or_default()), name: name.unwrap_or_default() },
        AUTHOR_BOT => Author::Bot,
        AUTHOR_SYSTEM => Author::System,
        other => return Err(StoreError::Corrupt(format!("unknown author kind {other:?}"))),
    })
}

pub(super) fn message_from_row(row: &SqliteRow) -> StoreResult<Message> {
    let author = author_from(row.try_get("author_kind")?, row.try_get("advisor_id")?, row.try_get("author_name")?)?;
    Ok(Message {
        attachments: Vec::new(),
        delivery: delivery_from(row.try_get::<Option<&str>, _>("platform_state")?, row.try_get("platform_error")?),
        id: ClientMsgId(row.try_get("client_id")?),
        conversation: ConversationId(row.try_get("conversation_id")?),
        seq: row.try_get::<i64, _>("seq")? as Seq,
        author,
        channel: channel_from(row.try_get::<&str, _>("channel")?),
        text: row.try_get("text")?,
        sent_at: row.try_get("sent_at")?,
        note: row.try_get("note")?,
    })
}

fn site_from_row(row: &SqliteRow) -> StoreResult<Site> {
    let origins: String = row.try_get("allowed_origins")?;
    Ok(Site {
        id: SiteId(row.try_get("id")?),
        key: row.try_get("key")?,
        name: row.try_get("name")?,
        greeting: row.try_get("greeting")?,
        color: row.try_get("color")?,
        reply_time: row.try_get("reply_time")?,
        allowed_origins: serde_json::from_str(&origins)
            .map_err(|e| StoreError::Corrupt(format!("allowed_origins of a site: {e}")))?,
        team_id: row.try_get::<Option<i64>, _>("team_id")?.map(TeamId),
        position: row.try_get("position")?,
        launcher: row.try_get("launcher")?,
        avatar: row.try_get("avatar")?,
        identity_secret: row.try_get("identity_secret")?,
        require_identity: row.try_get("require_identity")?,
        translations: serde_json::from_str(row.try_get::<&str, _>("translations")?)
            .map_err(|e| StoreError::Corrupt(format!("translations of a site: {e}")))?,
    })
}

/// An inbox row in one query: the conversation, its customer, its site and its newest message.
const SUMMARY_SELECT: &str = "
    SELECT c.id, c.channel, c.last_seq, c.page, c.last_activity_at, c.visitor_read_seq, c.visitor_delivered_seq,
           c.advisor_unread, c.status, c.snoozed_until, c.team_id, c.assignee_id, c.waiting_since, c.with_bot,
           c.waiting_since + t.first_response_target_ms AS first_response_due,
           (SELECT MAX(i.last_inbound_at) FROM channel_identities i WHERE i.conversation_id = c.id AND i.channel = c.channel)
               AS last_inbound_at,
           COALESCE(v.name, 'Visitor ' || v.id) AS visitor_name,
           (v.name IS NOT NULL AND v.name_by_visitor) OR (v.email IS NOT NULL AND v.email_by_visitor) AS unverified,
           s.name AS site_name,
           m.client_id, m.author_kind, m.advisor_id, m.author_name, m.channel AS message_channel, m.text, m.sent_at, m.note
      FROM conversations c
      JOIN visitors v ON v.id = c.visitor_id
      JOIN sites s ON s.id = c.site_id
      LEFT JOIN teams t ON t.id = c.team_id
      LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq";

/// How long a "Continue on …" link code stays valid.
const LINK_CODE_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

fn target_from_row(r: &SqliteRow) -> StoreResult<ReplyTarget> {
    Ok(ReplyTarget {
        channel: channel_from(r.try_get::<&str, _>("channel")?),
        account: r.try_get("account")?,
        recipient: r.try_get("external_id")?,
        last_inbound_at: r.try_get("last_inbound_at")?,
        tagged: false,
    })
}

/// The platform identities of these conversations, for their inbox rows.
async fn identities_of(pool: &sqlx::SqlitePool, rows: &mut [ConversationSummary]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.0.to_string()).collect();
    let sql = format!(
        "SELECT id, conversation_id, channel, external_id, name, linked_at, last_inbound_at FROM channel_identities
          WHERE conversation_id IN ({}) ORDER BY id",
        ids.join(",")
    );
    let found = sqlx::query(&sql).fetch_all(pool).await?;
    let mut by_conversation: std::collections::HashMap<i64, Vec<shared::ChannelIdentity>> = std::collections::HashMap::new();
    for r in &found {
        let channel = channel_from(r.try_get::<&str, _>("channel")?);
        let external: String = r.try_get("external_id")?;
        let name: Option<String> = r.try_get("name")?;
        by_conversation.entry(r.try_get("conversation_id")?).or_default().push(shared::ChannelIdentity {
            id: r.try_get("id")?,
            channel,
            label: crate::channels::link::identity_label(channel, name.as_deref(), &external),
            linked: r.try_get::<Option<i64>, _>("linked_at")?.is_some(),
            window_closes_at: window_closes_at(channel, r.try_get("last_inbound_at")?),
        });
    }
    for row in rows {
        row.identities = by_conversation.remove(&row.id.0).unwrap_or_default();
    }
    Ok(())
}

/// Until when an advisor may reply on the customer's platform (None on the web).
fn window_closes_at(channel: Channel, last_inbound_at: Option<i64>) -> Option<i64> {
    use crate::channels::meta::window::{HUMAN_AGENT_WINDOW_MS, WINDOW_MS};
    match channel {
        Channel::Whatsapp => Some(last_inbound_at.map_or(0, |t| t + WINDOW_MS)),
        Channel::Messenger => Some(last_inbound_at.map_or(0, |t| t + HUMAN_AGENT_WINDOW_MS)),
        _ => None,
    }
}

/// A visitor and their empty conversation, inside the caller's transaction.
async fn insert_visitor(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    site: SiteId,
    token_hash: &[u8],
    name: Option<&str>,
    channel: Channel,
    now: i64,
) -> StoreResult<(i64, i64)> {
    let visitor: i64 =
        sqlx::query_scalar("INSERT INTO visitors (site_id, token_hash, name, created_at) VALUES (?, ?, ?, ?) RETURNING id")
            .bind(site.0)
            .bind(token_hash)
            .bind(name)
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
    let conversation: i64 = sqlx::query_scalar(
        "INSERT INTO conversations (site_id, visitor_id, channel, created_at, last_activity_at, team_id)
         VALUES (?1, ?2, ?3, ?4, ?5, (SELECT team_id FROM sites WHERE id = ?1)) RETURNING id",
    )
    .bind(site.0)
    .bind(visitor)
    .bind(channel_str(channel))
    .bind(now)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok((visitor, conversation))
}

/// Inbox rows from `SUMMARY_SELECT` rows, complete: with the customers' channel identities and
/// the conversations' labels. Every query that returns inbox rows ends here.
async fn summaries(pool: &sqlx::SqlitePool, rows: &[SqliteRow]) -> StoreResult<Vec<ConversationSummary>> {
    let mut rows = rows.iter().map(summary_from_row).collect::<StoreResult<Vec<_>>>()?;
    identities_of(pool, &mut rows).await?;
    inbox::labels_of(pool, &mut rows).await?;
    Ok(rows)
}

fn summary_from_row(row: &SqliteRow) -> StoreResult<ConversationSummary> {
    let id = ConversationId(row.try_get("id")?);
    let last_seq = row.try_get::<i64, _>("last_seq")? as Seq;
    let last_message = match row.try_get::<Option<String>, _>("client_id")? {
        Some(client_id) => Some(Message {
            attachments: Vec::new(),
            delivery: None,
            id: ClientMsgId(client_id),
            conversation: id,
            seq: last_seq,
            author: author_from(row.try_get("author_kind")?, row.try_get("advisor_id")?, row.try_get("author_name")?)?,
            channel: channel_from(row.try_get::<&str, _>("message_channel")?),
            text: row.try_get("text")?,
            sent_at: row.try_get("sent_at")?,
            note: row.try_get("note")?,
        }),
        None => None,
    };
    Ok(ConversationSummary {
        window_closes_at: window_closes_at(channel_from(row.try_get::<&str, _>("channel")?), row.try_get("last_inbound_at")?),
        id,
        visitor_name: row.try_get("visitor_name")?,
        site_name: row.try_get("site_name")?,
        channel: channel_from(row.try_get::<&str, _>("channel")?),
        last_seq,
        last_message,
        last_activity_at: row.try_get("last_activity_at")?,
        unread: row.try_get::<i64, _>("advisor_unread")? as u32,
        page: row.try_get("page")?,
        visitor_online: false, // live state: the relay fills it in from the hub
        visitor_delivered_seq: row.try_get::<i64, _>("visitor_delivered_seq")? as Seq,
        visitor_read_seq: row.try_get::<i64, _>("visitor_read_seq")? as Seq,
        identities: Vec::new(),
        reply_channel: channel_from(row.try_get::<&str, _>("channel")?),
        status: shared::ConversationStatus::parse(row.try_get("status")?),
        snoozed_until: row.try_get("snoozed_until")?,
        team: row.try_get("team_id")?,
        assignee: row.try_get::<Option<i64>, _>("assignee_id")?.map(AdvisorId),
        waiting_since: row.try_get("waiting_since")?,
        first_response_due: row.try_get("first_response_due")?,
        labels: Vec::new(),
        with_bot: row.try_get("with_bot")?,
        unverified: row.try_get("unverified")?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn create_site(&self, site: &SiteSettings, now: i64) -> StoreResult<Site> {
        let origins = serde_json::to_string(&site.allowed_origins).expect("strings serialize");
        let row = sqlx::query(
            "INSERT INTO sites (key, name, greeting, color, reply_time, allowed_origins, team_id, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(&site.key)
        .bind(&site.name)
        .bind(&site.greeting)
        .bind(&site.color)
        .bind(&site.reply_time)
        .bind(origins)
        .bind(site.team_id.map(|t| t.0))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate("site key"),
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound,
            e => e.into(),
        })?;
        site_from_row(&row)
    }

    async fn update_site(&self, site: &SiteSettings) -> StoreResult<Site> {
        let origins = serde_json::to_string(&site.allowed_origins).expect("strings serialize");
        let row = sqlx::query(
            "UPDATE sites SET name = ?, greeting = ?, color = ?, reply_time = ?, allowed_origins = ?, team_id = ?
              WHERE key = ? RETURNING *",
        )
        .bind(&site.name)
        .bind(&site.greeting)
        .bind(&site.color)
        .bind(&site.reply_time)
        .bind(origins)
        .bind(site.team_id.map(|t| t.0))
        .bind(&site.key)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound,
            e => e.into(),
        })?
        .ok_or(StoreError::NotFound)?;
        site_from_row(&row)
    }

    async fn site_by_key(&self, key: &str) -> StoreResult<Option<Site>> {
        let row = sqlx::query("SELECT * FROM sites WHERE key = ?").bind(key).fetch_optional(&self.pool).await?;
        row.as_ref().map(site_from_row).transpose()
    }

    async fn list_sites(&self) -> StoreResult<Vec<Site>> {
        let rows = sqlx::query("SELECT * FROM sites ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter().map(site_from_row).collect()
    }

    async fn create_visitor(&self, site: SiteId, token_hash: &[u8], now: i64) -> StoreResult<VisitorThread> {
        self.open_visitor(site, token_hash, Arrival { now, ..Arrival::default() }).await
    }

    async fn open_visitor(&self, site: SiteId, token_hash: &[u8], arrival: Arrival) -> StoreResult<VisitorThread> {
        let new = NewVisitor { site, token_hash: token_hash.to_vec(), arrival };
        let (visitor, conversation) = self.writer.open(new).await?;
        Ok(VisitorThread { visitor, conversation, last_seq: 0, read_seq: 0, delivered_seq: 0, advisors_read_seq: 0 })
    }

    async fn forget_silent_visitors(&self, before: i64, limit: usize, online: &(dyn Fn(ConversationId) -> bool + Sync)) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        // From the unstarted conversations (a partial index): the sweep costs what there is to sweep.
        let silent: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT v.id, c.id FROM conversations c JOIN visitors v ON v.id = c.visitor_id
              WHERE c.started = 0 AND c.channel = 'web' AND COALESCE(v.last_seen_at, v.created_at) < ?1
                AND v.user_id IS NULL AND v.merged_into IS NULL
                AND NOT EXISTS (SELECT 1 FROM visitors m WHERE m.merged_into = v.id)
                AND NOT EXISTS (SELECT 1 FROM conversations o WHERE o.visitor_id = v.id
                                   AND (o.started = 1 OR o.channel != 'web'
                                        OR EXISTS (SELECT 1 FROM attachments a WHERE a.conversation_id = o.id)
                                        OR EXISTS (SELECT 1 FROM channel_identities i WHERE i.conversation_id = o.id)
                                        OR EXISTS (SELECT 1 FROM outbox x WHERE x.conversation_id = o.id)))
              LIMIT ?2",
        )
        .bind(before)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        // A socket open all along (a tab left open a whole day) keeps its visitor.
        let silent: Vec<i64> = silent.into_iter().filter(|(_, c)| !online(ConversationId(*c))).map(|(v, _)| v).collect();
        if silent.is_empty() {
            return Ok(0);
        }
        let ids = silent.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let conversations = format!("(SELECT id FROM conversations WHERE visitor_id IN ({ids}))");
        // Surveys, notifications, resume codes, labels, the bot's memory, tokens, push
        // subscriptions: ON DELETE CASCADE.
        for table in ["link_codes", "assignments", "messages"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE conversation_id IN {conversations}")).execute(&mut *tx).await?;
        }
        sqlx::query(&format!("DELETE FROM conversations WHERE visitor_id IN ({ids})")).execute(&mut *tx).await?;
        let done = sqlx::query(&format!("DELETE FROM visitors WHERE id IN ({ids})")).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn visitor_by_token(&self, site: SiteId, token_hash: &[u8]) -> StoreResult<Option<VisitorThread>> {
        let row = sqlx::query(
            "SELECT v.id AS visitor, c.id AS conversation,
                    -- What the visitor's thread holds: its newest message that is not a private note.
                    (SELECT m.seq FROM messages m WHERE m.conversation_id = c.id AND m.note = 0
                      ORDER BY m.seq DESC LIMIT 1) AS visible_seq,
                    c.last_seq, c.visitor_read_seq, c.advisor_delivered_seq, c.advisor_read_seq
               FROM visitors t JOIN visitors v ON v.id = COALESCE(t.merged_into, t.id)
                    JOIN conversations c ON c.visitor_id = v.id
              WHERE t.site_id = ?1
                AND (t.token_hash = ?2 OR t.id IN (SELECT visitor_id FROM visitor_tokens WHERE token_hash = ?2))
              ORDER BY c.id LIMIT 1",
        )
        .bind(site.0)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(VisitorThread {
                visitor: VisitorId(row.try_get("visitor")?),
                conversation: ConversationId(row.try_get("conversation")?),
                last_seq: row.try_get::<Option<i64>, _>("visible_seq")?.unwrap_or(0) as Seq,
                read_seq: row.try_get::<i64, _>("visitor_read_seq")? as Seq,
                delivered_seq: row.try_get::<i64, _>("advisor_delivered_seq")? as Seq,
                advisors_read_seq: row.try_get::<i64, _>("advisor_read_seq")? as Seq,
            })
        })
        .transpose()
    }

    async fn record_arrival(&self, visitor: VisitorId, conversation: ConversationId, arrival: Arrival) -> StoreResult<()> {
        self.writer.visit(visitor, conversation, arrival).await
    }

    async fn customer(&self, conversation: ConversationId) -> StoreResult<Option<CustomerRecord>> {
        let row = sqlx::query(
            "SELECT v.id, v.name, v.email, v.name_by_visitor, v.email_by_visitor, v.user_agent, v.language, v.timezone,
                    v.created_at, v.last_seen_at, c.referrer
               FROM conversations c JOIN visitors v ON v.id = c.visitor_id WHERE c.id = ?",
        )
        .bind(conversation.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(CustomerRecord {
                visitor: VisitorId(r.try_get("id")?),
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                name_by_visitor: r.try_get("name_by_visitor")?,
                email_by_visitor: r.try_get("email_by_visitor")?,
                user_agent: r.try_get("user_agent")?,
                language: r.try_get("language")?,
                timezone: r.try_get("timezone")?,
                referrer: r.try_get("referrer")?,
                first_seen: r.try_get("created_at")?,
                last_seen: r.try_get("last_seen_at")?,
            })
        })
        .transpose()
    }

    async fn edit_customer(&self, conversation: ConversationId, edit: &CustomerEdit) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE visitors SET name = CASE WHEN ?1 THEN ?2 ELSE name END, email = CASE WHEN ?3 THEN ?4 ELSE email END,
                    name_by_visitor = CASE WHEN ?1 THEN ?6 ELSE name_by_visitor END,
                    email_by_visitor = CASE WHEN ?3 THEN ?6 ELSE email_by_visitor END
              WHERE id = (SELECT visitor_id FROM conversations WHERE id = ?5)",
        )
        .bind(edit.name.is_some())
        .bind(edit.name.clone().flatten())
        .bind(edit.email.is_some())
        .bind(edit.email.clone().flatten())
        .bind(conversation.0)
        .bind(edit.by_visitor)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn related_conversations(&self, conversation: ConversationId, visible: &str, limit: usize) -> StoreResult<Vec<ConversationSummary>> {
        let sql = format!(
            "{SUMMARY_SELECT}
              WHERE c.id != ?1 AND c.started = 1 AND {visible} AND (
                    c.visitor_id IN (
                        SELECT me.id FROM conversations this JOIN visitors me ON me.id = this.visitor_id WHERE this.id = ?1
                        UNION
                        -- The same e-mail, only where both sides are vouched for (a verified identity or
                        -- an advisor's entry): anyone can type anyone's address into the widget.
                        SELECT other.id FROM conversations this JOIN visitors me ON me.id = this.visitor_id
                          JOIN visitors other ON other.email = me.email COLLATE NOCASE AND other.email_by_visitor = 0
                         WHERE this.id = ?1 AND me.email IS NOT NULL AND me.email_by_visitor = 0)
                    OR c.id IN (SELECT previous_conversation_id FROM channel_identities WHERE conversation_id = ?1)
                    OR c.id IN (SELECT conversation_id FROM channel_identities WHERE previous_conversation_id = ?1))
              ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?2"
        );
        let rows = sqlx::query(&sql).bind(conversation.0).bind(limit as i64).fetch_all(&self.pool).await?;
        summaries(&self.pool, &rows).await
    }

    async fn append_message(&self, new: NewMessage) -> StoreResult<Appended> {
        self.writer.append(new).await
    }

    async fn messages_after(&self, conversation: ConversationId, after: Seq, limit: usize) -> StoreResult<Vec<Message>> {
        self.messages_where(conversation, after, limit, "").await
    }

    async fn visitor_messages_after(&self, conversation: ConversationId, after: Seq, limit: usize) -> StoreResult<Vec<Message>> {
        // Private notes never leave the relay towards the customer: filtered here, in SQL.
        self.messages_where(conversation, after, limit, "AND note = 0").await
    }

    async fn set_status(
        &self,
        conversation: ConversationId,
        status: shared::ConversationStatus,
        snoozed_until: Option<i64>,
        now: i64,
    ) -> StoreResult<()> {
        let snoozed_until = if status == shared::ConversationStatus::Snoozed { snoozed_until } else { None };
        let done = sqlx::query(
            "UPDATE conversations SET status = ?1, snoozed_until = ?2,
                    resolved_at = CASE WHEN ?1 = 'resolved' THEN ?3 ELSE NULL END
              WHERE id = ?4",
        )
        .bind(status.as_str())
        .bind(snoozed_until)
        .bind(now)
        .bind(conversation.0)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn wake_snoozed(&self, now: i64) -> StoreResult<Vec<ConversationId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE conversations SET status = 'open', snoozed_until = NULL
              WHERE status = 'snoozed' AND snoozed_until <= ? RETURNING id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(ConversationId).collect())
    }

    async fn mark_read(&self, conversation: ConversationId, reader: Reader, up_to: Seq) -> StoreResult<Advanced> {
        let cursor = match reader {
            Reader::Visitor => Cursor::VisitorRead,
            Reader::Advisors => Cursor::AdvisorRead,
        };
        self.writer.advance(conversation, cursor, up_to).await
    }

    async fn mark_delivered(&self, conversation: ConversationId, to: Reader, up_to: Seq) -> StoreResult<Advanced> {
        let cursor = match to {
            Reader::Visitor => Cursor::VisitorDelivered,
            Reader::Advisors => Cursor::AdvisorDelivered,
        };
        self.writer.advance(conversation, cursor, up_to).await
    }

    fn committed_version(&self) -> u64 {
        self.writer.committed_version()
    }

    async fn conversation_summary(&self, conversation: ConversationId) -> StoreResult<Option<ConversationSummary>> {
        // Not started (a silent visitor): not a conversation advisors see.
        let sql = format!("{SUMMARY_SELECT} WHERE c.id = ? AND c.started = 1");
        let row = sqlx::query(&sql).bind(conversation.0).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        Ok(summaries(&self.pool, &[row]).await?.pop())
    }

    async fn list_conversations(&self, limit: usize) -> StoreResult<Vec<ConversationSummary>> {
        let sql = format!("{SUMMARY_SELECT} WHERE c.started = 1 ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?");
        let rows = sqlx::query(&sql).bind(limit as i64).fetch_all(&self.pool).await?;
        summaries(&self.pool, &rows).await
    }

    async fn record_webhook(&self, channel: &str, body: &[u8], now: i64) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("INSERT INTO webhook_events (channel, body, received_at) VALUES (?, ?, ?) RETURNING id")
            .bind(channel)
            .bind(body)
            .bind(now)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn pending_webhooks(&self, limit: usize) -> StoreResult<Vec<WebhookEvent>> {
        let rows = sqlx::query("SELECT id, channel, body FROM webhook_events WHERE processed_at IS NULL ORDER BY id LIMIT ?")
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(WebhookEvent { id: r.try_get("id")?, channel: r.try_get("channel")?, body: r.try_get("body")? }))
            .collect()
    }

    async fn finish_webhook(&self, id: i64, error: Option<&str>, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE webhook_events SET processed_at = ?, error = ? WHERE id = ?")
            .bind(now)
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn channel_customer(
        &self,
        site: SiteId,
        channel: Channel,
        account: &str,
        external_id: &str,
        name: Option<&str>,
        now: i64,
    ) -> StoreResult<ConversationId> {
        let channel = channel_str(channel);
        let find = "SELECT conversation_id FROM channel_identities WHERE channel = ? AND account = ? AND external_id = ?";
        let existing: Option<i64> =
            sqlx::query_scalar(find).bind(channel).bind(account).bind(external_id).fetch_optional(&self.pool).await?;
        if let Some(id) = existing {
            return Ok(ConversationId(id));
        }
        // A customer with no web token: the visitor row gets a random token hash nobody holds.
        let token_hash: [u8; 32] = rand::random();
        let mut tx = self.pool.begin().await?;
        let (_, conversation) = insert_visitor(&mut tx, site, &token_hash, name, channel_from(channel), now).await?;
        let inserted = sqlx::query(
            "INSERT INTO channel_identities (conversation_id, channel, account, external_id, name, created_at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, account, external_id) DO NOTHING",
        )
        .bind(conversation)
        .bind(channel)
        .bind(account)
        .bind(external_id)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            // Created concurrently by another webhook: use that one.
            tx.rollback().await?;
            let id: i64 = sqlx::query_scalar(find).bind(channel).bind(account).bind(external_id).fetch_one(&self.pool).await?;
            return Ok(ConversationId(id));
        }
        tx.commit().await?;
        Ok(ConversationId(conversation))
    }

    async fn note_inbound(&self, channel: Channel, account: &str, external_id: &str, at: i64) -> StoreResult<()> {
        let channel = channel_str(channel);
        sqlx::query(
            "UPDATE channel_identities SET last_inbound_at = MAX(COALESCE(last_inbound_at, 0), ?)
              WHERE channel = ? AND account = ? AND external_id = ?",
        )
        .bind(at)
        .bind(channel)
        .bind(account)
        .bind(external_id)
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "UPDATE conversations SET channel = ?
              WHERE id = (SELECT conversation_id FROM channel_identities WHERE channel = ? AND account = ? AND external_id = ?)",
        )
        .bind(channel)
        .bind(channel)
        .bind(account)
        .bind(external_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn reply_target(&self, conversation: ConversationId, via: Option<Channel>) -> StoreResult<Option<ReplyTarget>> {
        // By default the channel the customer last wrote from (`conversations.channel`).
        let row = sqlx::query(
            "SELECT i.channel, i.account, i.external_id, i.last_inbound_at
               FROM conversations c JOIN channel_identities i ON i.conversation_id = c.id AND i.channel = COALESCE(?, c.channel)
              WHERE c.id = ? ORDER BY i.last_inbound_at DESC LIMIT 1",
        )
        .bind(via.map(channel_str))
        .bind(conversation.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| target_from_row(&r)).transpose()
    }

    async fn last_inbound(&self, conversation: ConversationId) -> StoreResult<Option<LastInbound>> {
        let row = sqlx::query(
            "SELECT m.seq, m.platform_id, i.channel, i.account, i.external_id, i.last_inbound_at
               FROM messages m JOIN channel_identities i ON i.conversation_id = m.conversation_id AND i.channel = m.channel
              WHERE m.conversation_id = ? AND m.author_kind = 'visitor' AND m.platform_id IS NOT NULL
              ORDER BY m.seq DESC LIMIT 1",
        )
        .bind(conversation.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(LastInbound {
                target: target_from_row(&r)?,
                seq: r.try_get::<i64, _>("seq")? as Seq,
                platform_id: r.try_get("platform_id")?,
            })
        })
        .transpose()
    }

    async fn name_channel_customer(&self, channel: Channel, account: &str, external_id: &str, name: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE channel_identities SET name = ? WHERE channel = ? AND account = ? AND external_id = ? AND name IS NULL
             RETURNING conversation_id",
        )
        .bind(name)
        .bind(channel_str(channel))
        .bind(account)
        .bind(external_id)
        .fetch_optional(&mut *tx)
        .await?;
        let named = updated.is_some();
        if let Some(row) = updated {
            let conversation: i64 = row.try_get("conversation_id")?;
            sqlx::query("UPDATE visitors SET name = ? WHERE name IS NULL AND id = (SELECT visitor_id FROM conversations WHERE id = ?)")
                .bind(name)
                .bind(conversation)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(named)
    }

    async fn link_code(&self, conversation: ConversationId, channel: Channel, now: i64) -> StoreResult<String> {
        let channel = channel_str(channel);
        let live: Option<String> = sqlx::query_scalar(
            "SELECT code FROM link_codes WHERE conversation_id = ? AND channel = ? AND used_at IS NULL AND expires_at > ?
              ORDER BY expires_at DESC LIMIT 1",
        )
        .bind(conversation.0)
        .bind(channel)
        // Hand out only a code with a day left, so one shown on a page doesn't expire while read.
        .bind(now + LINK_CODE_TTL_MS / 7)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(code) = live {
            return Ok(code);
        }
        loop {
            let code = crate::channels::link::new_code();
            let inserted = sqlx::query(
                "INSERT INTO link_codes (code, conversation_id, channel, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (code) DO NOTHING",
            )
            .bind(&code)
            .bind(conversation.0)
            .bind(channel)
            .bind(now)
            .bind(now + LINK_CODE_TTL_MS)
            .execute(&self.pool)
            .await?;
            if inserted.rows_affected() == 1 {
                return Ok(code);
            }
        }
    }

    async fn redeem_link_code(
        &self,
        code: &str,
        channel: Channel,
        account: &str,
        external_id: &str,
        name: Option<&str>,
        now: i64,
    ) -> StoreResult<Option<Linked>> {
        let channel = channel_str(channel);
        let mut tx = self.pool.begin().await?;
        let target: Option<i64> = sqlx::query_scalar(
            "UPDATE link_codes SET used_at = ? WHERE code = ? AND channel = ? AND used_at IS NULL AND expires_at > ?
             RETURNING conversation_id",
        )
        .bind(now)
        .bind(code)
        .bind(channel)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(target) = target else { return Ok(None) };
        let existing = sqlx::query("SELECT id, conversation_id FROM channel_identities WHERE channel = ? AND account = ? AND external_id = ?")
            .bind(channel)
            .bind(account)
            .bind(external_id)
            .fetch_optional(&mut *tx)
            .await?;
        let (identity, previous) = match existing {
            Some(row) => {
                let (id, had): (i64, i64) = (row.try_get("id")?, row.try_get("conversation_id")?);
                if had == target {
                    (id, None)
                } else {
                    sqlx::query(
                        "UPDATE channel_identities SET conversation_id = ?, linked_at = ?, previous_conversation_id = ? WHERE id = ?",
                    )
                    .bind(target)
                    .bind(now)
                    .bind(had)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    (id, Some(ConversationId(had)))
                }
            }
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO channel_identities (conversation_id, channel, account, external_id, name, created_at, linked_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(target)
                .bind(channel)
                .bind(account)
                .bind(external_id)
                .bind(name)
                .bind(now)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                (id, None)
            }
        };
        sqlx::query("UPDATE link_codes SET identity_id = ? WHERE code = ?").bind(identity).bind(code).execute(&mut *tx).await?;
        // A customer who gave no name on the web is known by their profile name from now on.
        if let Some(name) = name {
            sqlx::query(
                "UPDATE visitors SET name = ? WHERE name IS NULL AND id = (SELECT visitor_id FROM conversations WHERE id = ?)",
            )
            .bind(name)
            .bind(target)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Some(Linked { conversation: ConversationId(target), previous }))
    }

    async fn unlink_identity(&self, conversation: ConversationId, identity: i64, now: i64) -> StoreResult<ConversationId> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT i.channel, i.name, i.previous_conversation_id, c.site_id
               FROM channel_identities i JOIN conversations c ON c.id = i.conversation_id
              WHERE i.id = ? AND i.conversation_id = ? AND i.linked_at IS NOT NULL",
        )
        .bind(identity)
        .bind(conversation.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Err(StoreError::NotFound) };
        let channel = channel_from(row.try_get::<&str, _>("channel")?);
        let to = match row.try_get::<Option<i64>, _>("previous_conversation_id")? {
            Some(previous) => previous,
            None => {
                let token_hash: [u8; 32] = rand::random();
                let site = SiteId(row.try_get("site_id")?);
                insert_visitor(&mut tx, site, &token_hash, row.try_get("name")?, channel, now).await?.1
            }
        };
        sqlx::query("UPDATE channel_identities SET conversation_id = ?, linked_at = NULL, previous_conversation_id = NULL WHERE id = ?")
            .bind(to)
            .bind(identity)
            .execute(&mut *tx)
            .await?;
        // Replies in the conversation it left go where its customer last wrote from, if still there.
        sqlx::query(
            "UPDATE conversations SET channel = 'web' WHERE id = ? AND channel = ?
                AND NOT EXISTS (SELECT 1 FROM channel_identities WHERE conversation_id = ? AND channel = ?)",
        )
        .bind(conversation.0)
        .bind(channel_str(channel))
        .bind(conversation.0)
        .bind(channel_str(channel))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ConversationId(to))
    }

    async fn set_platform_state(
        &self,
        platform_id: &str,
        state: PlatformState,
        error: Option<&str>,
    ) -> StoreResult<Option<(ConversationId, Seq, PlatformDelivery)>> {
        // One statement, so it takes the write lock at once and waits (busy_timeout) behind other
        // writers. A read then a write in one deferred transaction fails with "database is locked"
        // when another connection commits in between, and the report would be lost. Platforms
        // report only on what the business sent: a customer's own message is never changed. The
        // CASE is `platform_rank`.
        let row: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE messages SET platform_state = ?1, platform_error = ?2
              WHERE platform_id = ?3 AND author_kind <> ?4
                AND CASE COALESCE(platform_state, '')
                      WHEN 'queued' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3
                      WHEN 'read' THEN 4 WHEN 'failed' THEN 5 ELSE 0 END < ?5
             RETURNING conversation_id, seq",
        )
        .bind(platform_state_str(state))
        .bind(error)
        .bind(platform_id)
        .bind(AUTHOR_VISITOR)
        .bind(i64::from(platform_rank(state)))
        .fetch_optional(&self.pool)
        .await?;
        if row.is_none() {
            // No message has this id yet: the send that produced it may not have returned.
            sqlx::query(
                "INSERT INTO early_reports (platform_id, state, error, received_at)
                 SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM messages WHERE platform_id = ?1)
                 ON CONFLICT (platform_id) DO UPDATE SET state = excluded.state, error = excluded.error
                  WHERE CASE early_reports.state WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3 WHEN 'read' THEN 4
                        WHEN 'failed' THEN 5 ELSE 0 END < ?5",
            )
            .bind(platform_id)
            .bind(platform_state_str(state))
            .bind(error)
            .bind(crate::now_ms())
            .bind(i64::from(platform_rank(state)))
            .execute(&self.pool)
            .await?;
            // Reports for sends the relay never made (another app's) would otherwise pile up.
            sqlx::query("DELETE FROM early_reports WHERE received_at < ?")
                .bind(crate::now_ms() - 24 * 60 * 60 * 1000)
                .execute(&self.pool)
                .await?;
        }
        Ok(row.map(|(conversation, seq)| {
            (ConversationId(conversation), seq as Seq, PlatformDelivery { state, error: error.map(str::to_owned) })
        }))
    }

    async fn apply_watermark(
        &self,
        channel: Channel,
        account: &str,
        external_id: &str,
        watermark: i64,
        state: PlatformState,
    ) -> StoreResult<Vec<(ConversationId, Seq, PlatformDelivery)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "UPDATE messages SET platform_state = ?1, platform_error = NULL
              WHERE conversation_id IN (SELECT conversation_id FROM channel_identities
                                         WHERE channel = ?2 AND account = ?3 AND external_id = ?4)
                AND channel = ?2 AND author_kind <> ?5 AND platform_id IS NOT NULL AND sent_at <= ?6
                AND CASE COALESCE(platform_state, '')
                      WHEN 'queued' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3
                      WHEN 'read' THEN 4 WHEN 'failed' THEN 5 ELSE 0 END < ?7
             RETURNING conversation_id, seq",
        )
        .bind(platform_state_str(state))
        .bind(channel_str(channel))
        .bind(account)
        .bind(external_id)
        .bind(AUTHOR_VISITOR)
        .bind(watermark)
        .bind(i64::from(platform_rank(state)))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(c, seq)| (ConversationId(c), seq as Seq, PlatformDelivery { state, error: None }))
            .collect())
    }

    async fn due_outbox(&self, now: i64, limit: usize) -> StoreResult<Vec<OutboxItem>> {
        let rows = sqlx::query(
            "SELECT o.id, o.conversation_id, o.seq, o.channel, o.account, o.recipient, o.tagged, o.attempts, o.template, m.text
               FROM outbox o JOIN messages m ON m.conversation_id = o.conversation_id AND m.seq = o.seq
              WHERE o.state = 'pending' AND o.next_attempt_at <= ? ORDER BY o.next_attempt_at, o.id LIMIT ?",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxItem {
                    id: r.try_get("id")?,
                    conversation: ConversationId(r.try_get("conversation_id")?),
                    seq: r.try_get::<i64, _>("seq")? as Seq,
                    target: ReplyTarget {
                        channel: channel_from(r.try_get::<&str, _>("channel")?),
                        account: r.try_get("account")?,
                        recipient: r.try_get("recipient")?,
                        last_inbound_at: None,
                        tagged: r.try_get("tagged")?,
                    },
                    attempts: r.try_get::<i64, _>("attempts")? as u32,
                    text: r.try_get("text")?,
                    template: match r.try_get::<Option<&str>, _>("template")? {
                        Some(json) => Some(serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("outbox template: {e}")))?),
                        None => None,
                    },
                })
            })
            .collect()
    }

    async fn outbox_sent(&self, item: &OutboxItem, platform_id: &str) -> StoreResult<PlatformDelivery> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE outbox SET state = 'sent', attempts = attempts + 1 WHERE id = ?").bind(item.id).execute(&mut *tx).await?;
        // A status webhook may have raced the send's answer (CONTRACTS §3): keep the later state.
        let early: Option<(String, Option<String>)> =
            sqlx::query_as("DELETE FROM early_reports WHERE platform_id = ? RETURNING state, error")
                .bind(platform_id)
                .fetch_optional(&mut *tx)
                .await?;
        let (state, error) = match early {
            Some((state, error)) if platform_rank(platform_state_from(&state)) > platform_rank(PlatformState::Sent) => {
                (platform_state_from(&state), error)
            }
            _ => (PlatformState::Sent, None),
        };
        sqlx::query("UPDATE messages SET platform_id = ?, platform_state = ?, platform_error = ? WHERE conversation_id = ? AND seq = ?")
            .bind(platform_id)
            .bind(platform_state_str(state))
            .bind(error.as_deref())
            .bind(item.conversation.0)
            .bind(item.seq as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(PlatformDelivery { state, error })
    }

    async fn outbox_retry(&self, item: &OutboxItem, next_at: i64, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?")
            .bind(next_at)
            .bind(error)
            .bind(item.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn outbox_failed(&self, item: &OutboxItem, reason: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?")
            .bind(reason)
            .bind(item.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE messages SET platform_state = 'failed', platform_error = ? WHERE conversation_id = ? AND seq = ?")
            .bind(reason)
            .bind(item.conversation.0)
            .bind(item.seq as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn first_site(&self) -> StoreResult<Option<Site>> {
        let row = sqlx::query("SELECT * FROM sites ORDER BY id LIMIT 1").fetch_optional(&self.pool).await?;
        row.as_ref().map(site_from_row).transpose()
    }

    async fn create_advisor(&self, email: &str, name: &str, password_hash: &str, now: i64) -> StoreResult<AdvisorInfo> {
        Ok(self.create_account(email, name, password_hash, Role::Advisor, now).await?.info)
    }

    async fn advisor_credentials(&self, email: &str) -> StoreResult<Option<AdvisorCredentials>> {
        let row = sqlx::query("SELECT id, email, name, password_hash, active, totp_secret FROM advisors WHERE email = ?")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(AdvisorCredentials {
                info: AdvisorInfo {
                    id: AdvisorId(row.try_get("id")?),
                    name: row.try_get("name")?,
                    email: row.try_get("email")?,
                },
                password_hash: row.try_get("password_hash")?,
                active: row.try_get("active")?,
                totp_secret: row.try_get("totp_secret")?,
            })
        })
        .transpose()
    }

    async fn set_advisor_password(&self, advisor: AdvisorId, password_hash: &str) -> StoreResult<()> {
        let done = sqlx::query("UPDATE advisors SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(advisor.0)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM advisor_sessions WHERE advisor_id = ?").bind(advisor.0).execute(&self.pool).await?;
        Ok(())
    }

    async fn create_session(&self, token_hash: &[u8], advisor: AdvisorId, now: i64, expires_at: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM advisor_sessions WHERE expires_at <= ? OR last_seen_at <= ?")
            .bind(now)
            .bind(now - SESSION_IDLE_MS)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO advisor_sessions (token_hash, advisor_id, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(advisor.0)
        .bind(now)
        .bind(expires_at)
        .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session_advisor(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<AdvisorInfo>> {
        let row = sqlx::query(
            "SELECT a.id, a.name, a.email, s.last_seen_at FROM advisor_sessions s JOIN advisors a ON a.id = s.advisor_id
              WHERE s.token_hash = ? AND s.expires_at > ? AND s.last_seen_at > ? AND a.active AND NOT s.enrol_only",
        )
        .bind(token_hash)
        .bind(now)
        .bind(now - SESSION_IDLE_MS)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = &row {
            // Sliding idle expiry, written at most once an hour rather than on every request.
            if row.try_get::<i64, _>("last_seen_at")? <= now - SESSION_TOUCH_MS {
                sqlx::query("UPDATE advisor_sessions SET last_seen_at = ? WHERE token_hash = ?")
                    .bind(now)
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await?;
            }
        }
        row.map(|row| {
            Ok(AdvisorInfo { id: AdvisorId(row.try_get("id")?), name: row.try_get("name")?, email: row.try_get("email")? })
        })
        .transpose()
    }

    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query("DELETE FROM advisor_sessions WHERE token_hash = ?").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }

    async fn end_sessions(&self, advisor: AdvisorId) -> StoreResult<()> {
        sqlx::query("DELETE FROM advisor_sessions WHERE advisor_id = ?").bind(advisor.0).execute(&self.pool).await?;
        Ok(())
    }

    async fn create_account(&self, email: &str, name: &str, password_hash: &str, role: Role, now: i64) -> StoreResult<Account> {
        // One statement, so two first accounts created at once can't both miss being the first.
        let row = sqlx::query(
            "INSERT INTO advisors (email, name, password_hash, created_at, role)
             VALUES (?, ?, ?, ?, CASE WHEN EXISTS (SELECT 1 FROM advisors) THEN ? ELSE 'admin' END)
             RETURNING id, role, capacity",
        )
        .bind(email)
        .bind(name)
        .bind(password_hash)
        .bind(now)
        .bind(role.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate("advisor e-mail"),
            e => e.into(),
        })?;
        Ok(Account {
            info: AdvisorInfo { id: AdvisorId(row.try_get("id")?), name: name.to_owned(), email: email.to_owned() },
            role: role_from(row.try_get("role")?)?,
            active: true,
            teams: Vec::new(),
            capacity: row.try_get::<i64, _>("capacity")?.try_into().unwrap_or(0),
            two_factor: false,
        })
    }

    async fn account(&self, advisor: AdvisorId) -> StoreResult<Option<Account>> {
        let row = sqlx::query(&format!("{ACCOUNT_SELECT} WHERE a.id = ?")).bind(advisor.0).fetch_optional(&self.pool).await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        let rows = sqlx::query(&format!("{ACCOUNT_SELECT} ORDER BY a.id")).fetch_all(&self.pool).await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn set_advisor_active(&self, advisor: AdvisorId, active: bool) -> StoreResult<Account> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE advisors SET active = ? WHERE id = ?").bind(active).bind(advisor.0).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if !active {
            sqlx::query("DELETE FROM advisor_sessions WHERE advisor_id = ?").bind(advisor.0).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.account(advisor).await?.ok_or(StoreError::NotFound)
    }

    async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        let rows = sqlx::query(
            "SELECT t.id, t.name, t.first_response_target_ms,
                    (SELECT group_concat(advisor_id) FROM team_members m WHERE m.team_id = t.id) AS members
               FROM teams t ORDER BY t.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Team {
                    id: TeamId(row.try_get("id")?),
                    name: row.try_get("name")?,
                    members: id_list(row.try_get("members")?)?.into_iter().map(AdvisorId).collect(),
                    first_response_target_ms: row.try_get("first_response_target_ms")?,
                })
            })
            .collect()
    }

    async fn create_team(&self, name: &str, now: i64) -> StoreResult<Team> {
        let id: i64 = sqlx::query_scalar("INSERT INTO teams (name, created_at) VALUES (?, ?) RETURNING id")
            .bind(name)
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(team_name_taken)?;
        Ok(Team { id: TeamId(id), name: name.to_owned(), members: Vec::new(), first_response_target_ms: None })
    }

    async fn rename_team(&self, team: TeamId, name: &str) -> StoreResult<Team> {
        let done = sqlx::query("UPDATE teams SET name = ? WHERE id = ?")
            .bind(name)
            .bind(team.0)
            .execute(&self.pool)
            .await
            .map_err(team_name_taken)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.team(team).await
    }

    async fn delete_team(&self, team: TeamId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM teams WHERE id = ?").bind(team.0).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_team_members(&self, team: TeamId, members: &[AdvisorId]) -> StoreResult<Team> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM teams WHERE id = ?").bind(team.0).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM team_members WHERE team_id = ?").bind(team.0).execute(&mut *tx).await?;
        for advisor in members {
            sqlx::query("INSERT OR IGNORE INTO team_members (team_id, advisor_id) VALUES (?, ?)")
                .bind(team.0)
                .bind(advisor.0)
                .execute(&mut *tx)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound,
                    e => e.into(),
                })?;
        }
        tx.commit().await?;
        self.team(team).await
    }

    async fn set_team_target(&self, team: TeamId, first_response_target_ms: Option<i64>) -> StoreResult<Team> {
        let done = sqlx::query("UPDATE teams SET first_response_target_ms = ? WHERE id = ?")
            .bind(first_response_target_ms)
            .bind(team.0)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.team(team).await
    }

    async fn update_account(&self, advisor: AdvisorId, changes: &AccountChanges) -> StoreResult<Account> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM advisors WHERE id = ?").bind(advisor.0).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        if let Some(name) = &changes.name {
            sqlx::query("UPDATE advisors SET name = ? WHERE id = ?").bind(name).bind(advisor.0).execute(&mut *tx).await?;
        }
        if let Some(capacity) = changes.capacity {
            sqlx::query("UPDATE advisors SET capacity = ? WHERE id = ?")
                .bind(i64::from(capacity))
                .bind(advisor.0)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(role) = changes.role {
            // An admin stays one unless another active admin remains.
            let done = sqlx::query(
                "UPDATE advisors SET role = ?1 WHERE id = ?2
                   AND (?1 = 'admin' OR role <> 'admin' OR NOT active
                        OR EXISTS (SELECT 1 FROM advisors o WHERE o.role = 'admin' AND o.active AND o.id <> ?2))",
            )
            .bind(role.as_str())
            .bind(advisor.0)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::LastAdmin);
            }
        }
        tx.commit().await?;
        self.account(advisor).await?.ok_or(StoreError::NotFound)
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = ?").bind(key).fetch_optional(&self.pool).await?)
    }

    async fn put_setting(&self, key: &str, json: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(json)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn totp_state(&self, advisor: AdvisorId) -> StoreResult<TotpState> {
        let row = sqlx::query("SELECT totp_secret, totp_pending, totp_last_step FROM advisors WHERE id = ?")
            .bind(advisor.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(TotpState {
            secret: row.try_get("totp_secret")?,
            pending: row.try_get("totp_pending")?,
            last_step: row.try_get("totp_last_step")?,
        })
    }

    async fn set_totp_pending(&self, advisor: AdvisorId, secret: &[u8]) -> StoreResult<()> {
        let done = sqlx::query("UPDATE advisors SET totp_pending = ? WHERE id = ?")
            .bind(secret)
            .bind(advisor.0)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn confirm_totp(&self, advisor: AdvisorId, step: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE advisors SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = ?
              WHERE id = ? AND totp_pending IS NOT NULL",
        )
        .bind(step)
        .bind(advisor.0)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn disable_totp(&self, advisor: AdvisorId) -> StoreResult<()> {
        let done = sqlx::query("UPDATE advisors SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL WHERE id = ?")
            .bind(advisor.0)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn use_totp_step(&self, advisor: AdvisorId, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE advisors SET totp_last_step = ?1 WHERE id = ?2 AND (totp_last_step IS NULL OR totp_last_step < ?1)",
        )
        .bind(step)
        .bind(advisor.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_enrolment_session(&self, token_hash: &[u8], advisor: AdvisorId, now: i64, expires_at: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO advisor_sessions (token_hash, advisor_id, created_at, expires_at, last_seen_at, enrol_only)
             VALUES (?, ?, ?, ?, ?, 1)",
        )
        .bind(token_hash)
        .bind(advisor.0)
        .bind(now)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn any_session_advisor(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<(AdvisorInfo, bool)>> {
        let row = sqlx::query(
            "SELECT a.id, a.name, a.email, s.enrol_only FROM advisor_sessions s JOIN advisors a ON a.id = s.advisor_id
              WHERE s.token_hash = ? AND s.expires_at > ? AND s.last_seen_at > ? AND a.active",
        )
        .bind(token_hash)
        .bind(now)
        .bind(now - SESSION_IDLE_MS)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok((
                AdvisorInfo { id: AdvisorId(row.try_get("id")?), name: row.try_get("name")?, email: row.try_get("email")? },
                row.try_get("enrol_only")?,
            ))
        })
        .transpose()
    }

    async fn upgrade_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query("UPDATE advisor_sessions SET enrol_only = 0 WHERE token_hash = ?").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }
}

const ACCOUNT_SELECT: &str = "SELECT a.id, a.name, a.email, a.role, a.active, a.capacity, a.totp_secret IS NOT NULL AS two_factor,
        (SELECT group_concat(team_id) FROM team_members m WHERE m.advisor_id = a.id) AS teams
   FROM advisors a";

fn account_from_row(row: &SqliteRow) -> StoreResult<Account> {
    Ok(Account {
        info: AdvisorInfo { id: AdvisorId(row.try_get("id")?), name: row.try_get("name")?, email: row.try_get("email")? },
        role: role_from(row.try_get("role")?)?,
        active: row.try_get("active")?,
        teams: id_list(row.try_get("teams")?)?.into_iter().map(TeamId).collect(),
        capacity: row.try_get::<i64, _>("capacity")?.try_into().unwrap_or(0),
        two_factor: row.try_get("two_factor")?,
    })
}

fn role_from(s: &str) -> StoreResult<Role> {
    match s {
        "admin" => Ok(Role::Admin),
        "advisor" => Ok(Role::Advisor),
        other => Err(StoreError::Corrupt(format!("unknown advisor role {other:?}"))),
    }
}

/// A `group_concat` of ids, sorted.
fn id_list(joined: Option<String>) -> StoreResult<Vec<i64>> {
    let mut ids = joined
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<i64>().map_err(|_| StoreError::Corrupt(format!("bad id list {joined:?}"))))
        .collect::<StoreResult<Vec<_>>>()?;
    ids.sort_unstable();
    Ok(ids)
}

fn team_name_taken(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate("team name"),
        e => e.into(),
    }
}

impl SqliteStore {
    async fn team(&self, team: TeamId) -> StoreResult<Team> {
        self.list_teams().await?.into_iter().find(|t| t.id == team).ok_or(StoreError::NotFound)
    }
}
