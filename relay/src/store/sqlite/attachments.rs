//! SQLite side of [`AttachmentStore`]: the claims, outcomes and reads go through the pool; the
//! insert that rides in a message's commit goes through the group-commit writer ([`insert_all`]).

use async_trait::async_trait;
use rusqlite::params;
use shared::{Attachment, AttachmentState, ConversationId, Message, Seq};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::super::attachments::{
    kind_from, kind_str, source_columns, source_from, state_from, AttachmentChange, AttachmentJob, AttachmentStore,
    FetchedFile, NewAttachment, NewUpload, StoredAttachment,
};
use super::{channel_from, channel_str, SqliteStore};
use crate::store::StoreResult;

/// The columns [`attachment_from`] reads.
const COLUMNS: &str = "id, conversation_id, seq, kind, mime, name, size, state, error, sha256";

/// A message's attachments, inside its commit (group-commit writer).
pub(in crate::store) fn insert_all(
    tx: &rusqlite::Connection,
    conversation: ConversationId,
    seq: i64,
    attachments: &[NewAttachment],
    now: i64,
) -> rusqlite::Result<()> {
    for (position, a) in attachments.iter().enumerate() {
        if a.is_upload() {
            // Already stored, and taken by `claim_uploads` in this commit.
            continue;
        }
        let (source_kind, source) = source_columns(&a.source);
        tx.prepare_cached(
            "INSERT INTO attachments (id, conversation_id, seq, position, kind, name, channel, account, source_kind, source,
                                      declared_mime, declared_sha256, next_attempt_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?13)",
        )?
        .execute(params![
            a.id,
            conversation.0,
            seq,
            position as i64,
            kind_str(a.kind),
            a.name,
            channel_str(a.channel),
            a.account,
            source_kind,
            source,
            a.declared_mime,
            a.declared_sha256,
            now,
        ])?;
    }
    Ok(())
}

/// Give a message the uploaded files it names, inside its commit: each must be unsent, in this
/// conversation and uploaded by `by`. False (and nothing taken) when one isn't.
pub(in crate::store) fn claim_uploads(
    tx: &rusqlite::Connection,
    conversation: ConversationId,
    seq: i64,
    attachments: &[NewAttachment],
    now: i64,
) -> rusqlite::Result<bool> {
    for (position, a) in attachments.iter().enumerate() {
        let super::super::attachments::MediaRef::Upload { by } = &a.source else { continue };
        let taken = tx
            .prepare_cached(
                "UPDATE attachments SET seq = ?1, position = ?2, updated_at = ?3
                  WHERE id = ?4 AND conversation_id = ?5 AND seq = 0 AND source_kind = 'upload' AND source = ?6",
            )?
            .execute(params![seq, position as i64, now, a.id, conversation.0, by])?;
        if taken != 1 {
            tx.prepare_cached("UPDATE attachments SET seq = 0 WHERE conversation_id = ?1 AND seq = ?2 AND source_kind = 'upload'")?
                .execute(params![conversation.0, seq])?;
            return Ok(false);
        }
    }
    Ok(true)
}

/// The attachments of one message, inside the writer's transaction (a retried append returns the
/// stored message whole).
pub(in crate::store) fn of_message(
    tx: &rusqlite::Connection,
    conversation: ConversationId,
    seq: i64,
) -> rusqlite::Result<Vec<Attachment>> {
    let mut statement = tx.prepare_cached(
        "SELECT id, kind, mime, name, size, state, error FROM attachments
          WHERE conversation_id = ?1 AND seq = ?2 ORDER BY position",
    )?;
    let rows = statement.query_map(params![conversation.0, seq], |row| {
        let state = state_from(&row.get::<_, String>(5)?);
        Ok(Attachment {
            id: row.get(0)?,
            kind: kind_from(&row.get::<_, String>(1)?),
            mime: row.get(2)?,
            name: row.get(3)?,
            size: row.get::<_, i64>(4)?.max(0) as u64,
            error: if state == AttachmentState::Failed { row.get(6)? } else { None },
            state,
            url: None,
        })
    })?;
    rows.collect()
}

/// Fill in the attachments of `messages` (all of `conversation`, in seq order) in one query.
pub(super) async fn fill(pool: &SqlitePool, conversation: ConversationId, messages: &mut [Message]) -> StoreResult<()> {
    let (Some(first), Some(last)) = (messages.first(), messages.last()) else { return Ok(()) };
    let sql = format!(
        "SELECT {COLUMNS} FROM attachments WHERE conversation_id = ? AND seq BETWEEN ? AND ? ORDER BY seq, position"
    );
    let rows = sqlx::query(&sql)
        .bind(conversation.0)
        .bind(first.seq as i64)
        .bind(last.seq as i64)
        .fetch_all(pool)
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    for row in &rows {
        let seq = row.try_get::<i64, _>("seq")? as Seq;
        if let Ok(i) = messages.binary_search_by_key(&seq, |m| m.seq) {
            messages[i].attachments.push(attachment_from(row)?);
        }
    }
    Ok(())
}

fn attachment_from(row: &SqliteRow) -> StoreResult<Attachment> {
    let state = state_from(row.try_get("state")?);
    Ok(Attachment {
        id: row.try_get("id")?,
        kind: kind_from(row.try_get("kind")?),
        mime: row.try_get("mime")?,
        name: row.try_get("name")?,
        size: row.try_get::<i64, _>("size")?.max(0) as u64,
        // A pending attachment's error is the last attempt's, kept for the log: not news for advisors.
        error: if state == AttachmentState::Failed { row.try_get("error")? } else { None },
        state,
        url: None,
    })
}

fn change_from(row: &SqliteRow) -> StoreResult<AttachmentChange> {
    Ok(AttachmentChange {
        conversation: ConversationId(row.try_get("conversation_id")?),
        seq: row.try_get::<i64, _>("seq")? as Seq,
        attachment: attachment_from(row)?,
    })
}

#[async_trait]
impl AttachmentStore for SqliteStore {
    async fn claim_attachments(&self, now: i64, lease_until: i64, limit: usize) -> StoreResult<Vec<AttachmentJob>> {
        let rows = sqlx::query(
            "UPDATE attachments SET leased_until = ?1, attempts = attempts + 1, updated_at = ?2
              WHERE id IN (SELECT id FROM attachments
                            WHERE state = 'pending' AND next_attempt_at <= ?2 AND (leased_until IS NULL OR leased_until <= ?2)
                            ORDER BY next_attempt_at LIMIT ?3)
              RETURNING id, conversation_id, seq, kind, name, channel, account, source_kind, source, declared_mime,
                        declared_sha256, attempts, next_attempt_at",
        )
        .bind(lease_until)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut jobs = rows
            .iter()
            .map(|r| {
                Ok(AttachmentJob {
                    id: r.try_get("id")?,
                    conversation: ConversationId(r.try_get("conversation_id")?),
                    seq: r.try_get::<i64, _>("seq")? as Seq,
                    kind: kind_from(r.try_get("kind")?),
                    name: r.try_get("name")?,
                    channel: channel_from(r.try_get("channel")?),
                    account: r.try_get("account")?,
                    source: source_from(r.try_get("source_kind")?, r.try_get("source")?),
                    declared_mime: r.try_get("declared_mime")?,
                    declared_sha256: r.try_get("declared_sha256")?,
                    attempts: r.try_get::<i64, _>("attempts")?.max(0) as u32,
                })
                .map(|job| (r.try_get::<i64, _>("next_attempt_at").unwrap_or_default(), job))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        // RETURNING gives no order: oldest due first.
        jobs.sort_by_key(|(due, _)| *due);
        Ok(jobs.into_iter().map(|(_, job)| job).collect())
    }

    async fn release_attachment_leases(&self) -> StoreResult<u64> {
        let done = sqlx::query("UPDATE attachments SET leased_until = NULL WHERE state = 'pending' AND leased_until IS NOT NULL")
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn attachment_retry(&self, id: &str, next_at: i64, error: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE attachments SET next_attempt_at = ?, error = ?, leased_until = NULL, updated_at = ?
              WHERE id = ? AND state = 'pending'",
        )
        .bind(next_at)
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn attachment_ready(&self, id: &str, file: &FetchedFile, now: i64) -> StoreResult<Option<AttachmentChange>> {
        let sql = format!(
            "UPDATE attachments SET state = 'ready', mime = ?, kind = ?, size = ?, sha256 = ?, error = NULL, leased_until = NULL,
                    updated_at = ?
              WHERE id = ? AND state = 'pending' RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(&file.mime)
            .bind(kind_str(file.kind))
            .bind(file.size.min(i64::MAX as u64) as i64)
            .bind(&file.sha256)
            .bind(now)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(change_from).transpose()
    }

    async fn attachment_failed(&self, id: &str, reason: &str, now: i64) -> StoreResult<Option<AttachmentChange>> {
        let sql = format!(
            "UPDATE attachments SET state = 'failed', error = ?, leased_until = NULL, updated_at = ?
              WHERE id = ? AND state = 'pending' RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql).bind(reason).bind(now).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(change_from).transpose()
    }

    async fn attachment(&self, id: &str) -> StoreResult<Option<StoredAttachment>> {
        let sql = format!("SELECT {COLUMNS}, source_kind, source FROM attachments WHERE id = ?");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.map(|row| {
            let upload = row.try_get::<String, _>("source_kind")? == "upload";
            Ok(StoredAttachment {
                conversation: ConversationId(row.try_get("conversation_id")?),
                seq: row.try_get::<i64, _>("seq")? as Seq,
                sha256: row.try_get("sha256")?,
                attachment: attachment_from(&row)?,
                uploaded_by: if upload { Some(row.try_get("source")?) } else { None },
            })
        })
        .transpose()
    }

    async fn create_upload(&self, upload: &NewUpload, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO attachments (id, conversation_id, seq, position, kind, mime, name, size, sha256, state, channel, account,
                                      source_kind, source, next_attempt_at, created_at, updated_at)
             VALUES (?1, ?2, 0, 0, ?3, ?4, ?5, ?6, ?7, 'ready', 'web', '', 'upload', ?8, ?9, ?9, ?9)",
        )
        .bind(&upload.id)
        .bind(upload.conversation.0)
        .bind(kind_str(upload.kind))
        .bind(&upload.mime)
        .bind(&upload.name)
        .bind(upload.size.min(i64::MAX as u64) as i64)
        .bind(&upload.sha256)
        .bind(upload.by.as_source())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn unsent_upload_bytes(&self, conversation: ConversationId) -> StoreResult<(u64, u64)> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN a.conversation_id = ?1 THEN a.size END), 0) AS mine, COALESCE(SUM(a.size), 0) AS site
               FROM attachments a JOIN conversations c ON c.id = a.conversation_id
              WHERE a.seq = 0 AND a.source_kind = 'upload' AND a.source = 'visitor'
                AND c.site_id = (SELECT site_id FROM conversations WHERE id = ?1)",
        )
        .bind(conversation.0)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get::<i64, _>("mine")?.max(0) as u64, row.try_get::<i64, _>("site")?.max(0) as u64))
    }

    async fn sweep_uploads(&self, before: i64) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "DELETE FROM attachments WHERE seq = 0 AND source_kind = 'upload' AND created_at < ? RETURNING id",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }
}

#[cfg(test)]
mod tests {
    use shared::{AttachmentKind, Author, Channel, ClientMsgId};

    use super::*;
    use crate::store::attachments::{MediaRef, Uploader};
    use crate::store::{NewMessage, SiteSettings, Store, StoreError};

    async fn conversation(store: &SqliteStore) -> ConversationId {
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
        store.create_visitor(site.id, b"token", 0).await.unwrap().conversation
    }

    fn photo(id: &str) -> NewAttachment {
        NewAttachment {
            id: id.into(),
            kind: AttachmentKind::Image,
            name: None,
            channel: Channel::Whatsapp,
            account: "208765432109876".into(),
            source: MediaRef::WhatsAppId("1290384756102938".into()),
            declared_mime: Some("image/jpeg".into()),
            declared_sha256: None,
        }
    }

    fn message(conversation: ConversationId, id: &str, attachments: Vec<NewAttachment>) -> NewMessage {
        NewMessage {
            conversation,
            id: ClientMsgId(id.into()),
            author: Author::Visitor,
            channel: Channel::Whatsapp,
            text: "📷 Photo".into(),
            now: 1_000,
            delivered: false,
            platform: None,
            attachments,
            note: false,
        }
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";

    #[tokio::test]
    async fn a_message_is_committed_with_its_attachments_pending_and_read_back_with_them() {
        let store = SqliteStore::temporary().await.unwrap();
        let c = conversation(&store).await;
        store.append_message(message(c, "text", vec![])).await.unwrap();
        let appended = store.append_message(message(c, "photo", vec![photo(A), photo(B)])).await.unwrap();
        assert!(appended.created);
        let ids: Vec<_> = appended.message.attachments.iter().map(|a| (a.id.as_str(), a.state)).collect();
        assert_eq!(ids, [(A, AttachmentState::Pending), (B, AttachmentState::Pending)]);
        assert_eq!(appended.message.attachments[0].mime, "", "no type until the bytes are in");

        // A redelivery is a retry: the stored message comes back whole, with the first ids.
        let again = store.append_message(message(c, "photo", vec![photo("cccccccccccccccccccccccc")])).await.unwrap();
        assert!(!again.created);
        assert_eq!(again.message.attachments, appended.message.attachments);

        let thread = store.messages_after(c, 0, 10).await.unwrap();
        assert!(thread[0].attachments.is_empty());
        assert_eq!(thread[1].attachments, appended.message.attachments);
        assert_eq!(store.messages_after(c, 1, 10).await.unwrap()[0].attachments.len(), 2);
    }

    #[tokio::test]
    async fn a_claimed_attachment_is_not_claimed_twice_and_its_outcome_is_announced_once() {
        let store = SqliteStore::temporary().await.unwrap();
        let c = conversation(&store).await;
        store.append_message(message(c, "photo", vec![photo(A)])).await.unwrap();
        let jobs = store.claim_attachments(1_000, 60_000, 4).await.unwrap();
        assert_eq!(jobs.len(), 1);
        let job = &jobs[0];
        assert_eq!((job.id.as_str(), job.conversation, job.seq, job.attempts), (A, c, 1, 1));
        assert_eq!(job.source, MediaRef::WhatsAppId("1290384756102938".into()));
        assert!(store.claim_attachments(2_000, 60_000, 4).await.unwrap().is_empty(), "leased");

        store.attachment_retry(A, 5_000, "WhatsApp had a temporary problem.", 2_000).await.unwrap();
        assert!(store.claim_attachments(4_999, 60_000, 4).await.unwrap().is_empty(), "not due yet");
        let pending = store.attachment(A).await.unwrap().unwrap();
        assert_eq!((pending.attachment.state, pending.attachment.error), (AttachmentState::Pending, None));
        let again = store.claim_attachments(5_000, 60_000, 4).await.unwrap();
        assert_eq!(again[0].attempts, 2);

        let file = FetchedFile { mime: "image/png".into(), kind: AttachmentKind::Image, size: 1234, sha256: "ab".repeat(32) };
        let change = store.attachment_ready(A, &file, 6_000).await.unwrap().unwrap();
        assert_eq!((change.conversation, change.seq), (c, 1));
        assert_eq!(change.attachment.state, AttachmentState::Ready);
        assert_eq!((change.attachment.mime.as_str(), change.attachment.size), ("image/png", 1234));
        assert!(store.attachment_ready(A, &file, 6_000).await.unwrap().is_none(), "settled once");
        assert!(store.attachment_failed(A, "late", 6_000).await.unwrap().is_none(), "a ready file stays ready");
        assert!(store.claim_attachments(i64::MAX, i64::MAX, 4).await.unwrap().is_empty());
        let stored = store.attachment(A).await.unwrap().unwrap();
        assert_eq!(stored.sha256.as_deref(), Some("ab".repeat(32).as_str()));
        assert_eq!(store.messages_after(c, 0, 1).await.unwrap()[0].attachments[0], change.attachment);
        assert!(store.attachment("nope").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_failed_attachment_carries_its_reason() {
        let store = SqliteStore::temporary().await.unwrap();
        let c = conversation(&store).await;
        store.append_message(message(c, "photo", vec![photo(A)])).await.unwrap();
        store.claim_attachments(1_000, 60_000, 4).await.unwrap();
        let change = store.attachment_failed(A, "WhatsApp no longer has this file.", 2_000).await.unwrap().unwrap();
        assert_eq!(change.attachment.state, AttachmentState::Failed);
        assert_eq!(change.attachment.error.as_deref(), Some("WhatsApp no longer has this file."));
        let thread = store.messages_after(c, 0, 10).await.unwrap();
        assert_eq!(thread[0].attachments[0], change.attachment);
    }

    #[tokio::test]
    async fn downloads_interrupted_by_a_restart_are_claimed_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("confab.sqlite3");
        let store = SqliteStore::open(&path).await.unwrap();
        let c = conversation(&store).await;
        store.append_message(message(c, "photo", vec![photo(A)])).await.unwrap();
        assert_eq!(store.claim_attachments(1_000, 600_000, 4).await.unwrap().len(), 1);
        store.close().await;
        drop(store);

        let store = SqliteStore::open(&path).await.unwrap();
        assert!(store.claim_attachments(2_000, 600_000, 4).await.unwrap().is_empty(), "still leased");
        assert_eq!(store.release_attachment_leases().await.unwrap(), 1);
        let jobs = store.claim_attachments(2_000, 600_000, 4).await.unwrap();
        assert_eq!((jobs.len(), jobs[0].attempts), (1, 2), "the interrupted attempt counts");
    }

    fn upload(id: &str, conversation: ConversationId, by: Uploader) -> NewUpload {
        NewUpload {
            id: id.into(),
            conversation,
            by,
            kind: AttachmentKind::Image,
            mime: "image/png".into(),
            name: Some("beach.png".into()),
            size: 68,
            sha256: "ab".repeat(32),
        }
    }

    fn sent_with(conversation: ConversationId, id: &str, files: &[&str], by: Uploader) -> NewMessage {
        NewMessage {
            channel: Channel::Web,
            text: "📷 Photo".into(),
            attachments: files.iter().map(|f| NewAttachment::upload((*f).into(), by)).collect(),
            ..message(conversation, id, vec![])
        }
    }

    #[tokio::test]
    async fn an_upload_is_taken_once_by_a_message_of_its_sender_and_unsent_ones_are_swept() {
        let store = SqliteStore::temporary().await.unwrap();
        let c = conversation(&store).await;
        store.create_upload(&upload(A, c, Uploader::Visitor), 1_000).await.unwrap();
        store.create_upload(&upload(B, c, Uploader::Visitor), 1_000).await.unwrap();
        let stored = store.attachment(A).await.unwrap().unwrap();
        assert_eq!((stored.seq, stored.uploaded_by.as_deref()), (0, Some("visitor")));
        assert_eq!(stored.attachment.state, AttachmentState::Ready);
        assert!(store.messages_after(c, 0, 10).await.unwrap().is_empty());

        // An advisor can't send the visitor's file; nothing of that message is kept.
        let advisor = Uploader::Advisor(shared::AdvisorId(3));
        let refused = store.append_message(sent_with(c, "m-0", &[A], advisor)).await;
        assert!(matches!(refused, Err(StoreError::UploadUnavailable)), "{refused:?}");
        assert!(store.messages_after(c, 0, 10).await.unwrap().is_empty(), "no message, no seq burnt");

        let sent = store.append_message(sent_with(c, "m-1", &[A], Uploader::Visitor)).await.unwrap();
        assert_eq!(sent.message.seq, 1);
        assert_eq!(sent.message.attachments[0].mime, "image/png", "the message carries the stored file");
        let again = store.append_message(sent_with(c, "m-1", &[A], Uploader::Visitor)).await.unwrap();
        assert!(!again.created && again.message.attachments == sent.message.attachments, "a retry");
        let twice = store.append_message(sent_with(c, "m-2", &[B, A], Uploader::Visitor)).await;
        assert!(matches!(twice, Err(StoreError::UploadUnavailable)));
        assert_eq!(store.attachment(B).await.unwrap().unwrap().seq, 0, "B is free again");

        assert_eq!(store.sweep_uploads(999).await.unwrap(), Vec::<String>::new(), "not old enough");
        assert_eq!(store.sweep_uploads(1_001).await.unwrap(), vec![B.to_owned()], "only the unsent one");
        assert!(store.attachment(A).await.unwrap().is_some());
        assert_eq!(store.messages_after(c, 0, 10).await.unwrap()[0].attachments.len(), 1);
    }
}
