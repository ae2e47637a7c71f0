//! SQLite side of [`NotifyStore`].

use async_trait::async_trait;
use shared::{AdvisorId, ConversationId, Seq};
use sqlx::Row;

use super::SqliteStore;
use crate::store::notify::{MailsSent, NotifyContext, NotifyStore, ResumeOwner, Survey};
use crate::store::{SiteId, StoreResult, VisitorId};

#[async_trait]
impl NotifyStore for SqliteStore {
    async fn schedule_notification(&self, conversation: ConversationId, due_at: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO notifications (conversation_id, due_at) VALUES (?1, ?2)
             ON CONFLICT (conversation_id) DO UPDATE
                SET due_at = COALESCE(due_at, excluded.due_at),
                    attempts = CASE WHEN due_at IS NULL THEN 0 ELSE attempts END",
        )
        .bind(conversation.0)
        .bind(due_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn due_notifications(&self, now: i64, limit: usize) -> StoreResult<Vec<ConversationId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT conversation_id FROM notifications WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(ConversationId).collect())
    }

    async fn notify_context(&self, conversation: ConversationId) -> StoreResult<Option<NotifyContext>> {
        let row = sqlx::query(
            "SELECT c.site_id, c.visitor_id, v.email, v.language, s.name, s.allowed_origins, c.page,
                    c.visitor_read_seq, COALESCE(n.notified_seq, 0) AS notified_seq, COALESCE(n.attempts, 0) AS attempts,
                    (SELECT MAX(m.seq) FROM messages m WHERE m.conversation_id = c.id AND m.author_kind = 'visitor') AS visitor_wrote
               FROM conversations c JOIN visitors v ON v.id = c.visitor_id JOIN sites s ON s.id = c.site_id
               LEFT JOIN notifications n ON n.conversation_id = c.id
              WHERE c.id = ?",
        )
        .bind(conversation.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let origins: String = row.try_get("allowed_origins")?;
        let origins: Vec<String> = serde_json::from_str(&origins).unwrap_or_default();
        Ok(Some(NotifyContext {
            site: SiteId(row.try_get("site_id")?),
            visitor: VisitorId(row.try_get("visitor_id")?),
            email: row.try_get("email")?,
            language: row.try_get("language")?,
            site_name: row.try_get("name")?,
            site_origins: origins,
            page: row.try_get("page")?,
            visitor_wrote: row.try_get::<Option<i64>, _>("visitor_wrote")?.map(|s| s as Seq),
            read_seq: row.try_get::<i64, _>("visitor_read_seq")? as Seq,
            notified_seq: row.try_get::<i64, _>("notified_seq")? as Seq,
            attempts: row.try_get::<i64, _>("attempts")? as u32,
        }))
    }

    async fn notification_done(&self, conversation: ConversationId, covered: Seq) -> StoreResult<()> {
        sqlx::query(
            "UPDATE notifications SET due_at = NULL, attempts = 0, last_error = NULL,
                    notified_seq = MAX(notified_seq, ?) WHERE conversation_id = ?",
        )
        .bind(covered as i64)
        .bind(conversation.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn notification_failed(&self, conversation: ConversationId, now: i64, error: &str) -> StoreResult<u32> {
        let attempts: Option<i64> = sqlx::query_scalar(
            "UPDATE notifications SET due_at = ?1 + (60000 << MIN(attempts, 6)), attempts = attempts + 1, last_error = ?2
              WHERE conversation_id = ?3 RETURNING attempts",
        )
        .bind(now)
        .bind(error)
        .bind(conversation.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(attempts.unwrap_or(0) as u32)
    }

    async fn create_resume_code(
        &self,
        code_hash: &[u8],
        visitor: VisitorId,
        conversation: ConversationId,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO resume_codes (code_hash, visitor_id, conversation_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(code_hash)
        .bind(visitor.0)
        .bind(conversation.0)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn redeem_resume_code(&self, site: SiteId, code_hash: &[u8], token_hash: &[u8], now: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let visitor: Option<i64> = sqlx::query_scalar(
            "UPDATE resume_codes SET used_at = ?1
              WHERE code_hash = ?2 AND used_at IS NULL AND expires_at > ?1
                AND visitor_id IN (SELECT id FROM visitors WHERE site_id = ?3)
              RETURNING visitor_id",
        )
        .bind(now)
        .bind(code_hash)
        .bind(site.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(visitor) = visitor else { return Ok(false) };
        sqlx::query("INSERT INTO visitor_tokens (token_hash, visitor_id, created_at) VALUES (?, ?, ?)")
            .bind(token_hash)
            .bind(visitor)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn resume_code_owner(&self, site: SiteId, code_hash: &[u8], now: i64) -> StoreResult<Option<ResumeOwner>> {
        let row = sqlx::query(
            "SELECT v.id, v.email FROM resume_codes r JOIN visitors t ON t.id = r.visitor_id
                    JOIN visitors v ON v.id = COALESCE(t.merged_into, t.id)
              WHERE r.code_hash = ?1 AND r.used_at IS NULL AND r.expires_at > ?2 AND t.site_id = ?3",
        )
        .bind(code_hash)
        .bind(now)
        .bind(site.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok(ResumeOwner { visitor: VisitorId(r.try_get("id")?), email: r.try_get("email")? })).transpose()
    }

    async fn last_visitor_message(&self, conversation: ConversationId) -> StoreResult<Option<Seq>> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM messages WHERE conversation_id = ? AND author_kind = 'visitor'")
            .bind(conversation.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.map(|s| s as Seq))
    }

    async fn mails_sent(&self, site: SiteId, address_hash: &[u8], since: i64) -> StoreResult<MailsSent> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM notification_mails WHERE address_hash = ?1 AND sent_at >= ?3) AS to_address,
                    (SELECT COUNT(*) FROM notification_mails WHERE site_id = ?2 AND sent_at >= ?3) AS by_site,
                    (SELECT MAX(sent_at) FROM notification_mails WHERE address_hash = ?1) AS last_to_address",
        )
        .bind(address_hash)
        .bind(site.0)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(MailsSent {
            to_address: row.try_get::<i64, _>("to_address")? as u32,
            by_site: row.try_get::<i64, _>("by_site")? as u32,
            last_to_address: row.try_get("last_to_address")?,
        })
    }

    async fn record_mail(&self, site: SiteId, address_hash: &[u8], now: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO notification_mails (site_id, address_hash, sent_at) VALUES (?, ?, ?)")
            .bind(site.0)
            .bind(address_hash)
            .bind(now)
            .execute(&self.pool)
            .await?;
        // A day is all the caps look back on; older rows only cost space.
        sqlx::query("DELETE FROM notification_mails WHERE sent_at < ?").bind(now - 2 * 24 * 3600 * 1000).execute(&self.pool).await?;
        Ok(())
    }

    async fn defer_notification(&self, conversation: ConversationId, due_at: i64) -> StoreResult<()> {
        sqlx::query("UPDATE notifications SET due_at = ? WHERE conversation_id = ? AND due_at IS NOT NULL")
            .bind(due_at)
            .bind(conversation.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn save_push_subscription(
        &self,
        visitor: VisitorId,
        s: &crate::notify::push::Subscription,
        now: i64,
        keep: usize,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO push_subscriptions (endpoint, visitor_id, p256dh, auth, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (endpoint) DO UPDATE
                SET visitor_id = excluded.visitor_id, p256dh = excluded.p256dh, auth = excluded.auth, created_at = excluded.created_at",
        )
        .bind(&s.endpoint)
        .bind(visitor.0)
        .bind(&s.p256dh)
        .bind(&s.auth)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM push_subscriptions WHERE visitor_id = ?1 AND rowid NOT IN
                (SELECT rowid FROM push_subscriptions WHERE visitor_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2)",
        )
        .bind(visitor.0)
        .bind(keep as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn push_subscriptions(&self, visitor: VisitorId) -> StoreResult<Vec<crate::notify::push::Subscription>> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE visitor_id = ? ORDER BY created_at")
                .bind(visitor.0)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(endpoint, p256dh, auth)| crate::notify::push::Subscription { endpoint, p256dh, auth }).collect())
    }

    async fn delete_push_subscription(&self, endpoint: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM push_subscriptions WHERE endpoint = ?").bind(endpoint).execute(&self.pool).await?;
        Ok(())
    }

    async fn set_visitor_email(&self, visitor: VisitorId, email: &str) -> StoreResult<()> {
        sqlx::query("UPDATE visitors SET email = ?, email_by_visitor = 1 WHERE id = ?").bind(email).bind(visitor.0).execute(&self.pool).await?;
        Ok(())
    }

    async fn visitor_email(&self, visitor: VisitorId) -> StoreResult<Option<String>> {
        let email: Option<Option<String>> =
            sqlx::query_scalar("SELECT email FROM visitors WHERE id = ?").bind(visitor.0).fetch_optional(&self.pool).await?;
        Ok(email.flatten())
    }

    async fn open_survey(&self, conversation: ConversationId, by: Option<AdvisorId>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO surveys (conversation_id, resolved_at, resolved_by)
             SELECT id, resolved_at, ? FROM conversations WHERE id = ? AND status = 'resolved' AND resolved_at IS NOT NULL
             ON CONFLICT (conversation_id, resolved_at) DO UPDATE SET resolved_by = excluded.resolved_by",
        )
        .bind(by.map(|a| a.0))
        .bind(conversation.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn current_survey(&self, conversation: ConversationId) -> StoreResult<Option<Survey>> {
        let row = sqlx::query(
            "SELECT s.resolved_at, s.rating FROM surveys s JOIN conversations c
                 ON c.id = s.conversation_id AND c.status = 'resolved' AND c.resolved_at = s.resolved_at
              WHERE s.conversation_id = ?",
        )
        .bind(conversation.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Survey { resolved_at: r.try_get(0)?, rating: r.try_get::<Option<i64>, _>(1)?.map(|n| n as u8) })
        })
        .transpose()
    }

    async fn rate(&self, conversation: ConversationId, rating: u8, comment: Option<&str>, now: i64) -> StoreResult<Option<i64>> {
        let rated: Option<i64> = sqlx::query_scalar(
            "UPDATE surveys SET rating = ?, comment = ?, rated_at = ?
              WHERE conversation_id = ? AND resolved_at = (
                    SELECT resolved_at FROM conversations WHERE id = surveys.conversation_id AND status = 'resolved')
              RETURNING resolved_at",
        )
        .bind(i64::from(rating))
        .bind(comment)
        .bind(now)
        .bind(conversation.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(rated)
    }

    async fn set_rating_note(
        &self,
        conversation: ConversationId,
        resolved_at: i64,
        rating: u8,
        comment: Option<&str>,
        note_id: &str,
        text: &str,
    ) -> StoreResult<Option<shared::Message>> {
        let sql = format!(
            "UPDATE messages SET text = ?1
              WHERE conversation_id = ?2 AND client_id = ?3 AND note = 1 AND author_kind = '{}' AND text <> ?1
                AND EXISTS (SELECT 1 FROM surveys s WHERE s.conversation_id = ?2 AND s.resolved_at = ?4
                                                     AND s.rating = ?5 AND s.comment IS ?6)
              RETURNING {}",
            super::AUTHOR_SYSTEM,
            super::MESSAGE_COLUMNS
        );
        let row = sqlx::query(&sql)
            .bind(text)
            .bind(conversation.0)
            .bind(note_id)
            .bind(resolved_at)
            .bind(i64::from(rating))
            .bind(comment)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(super::message_from_row).transpose()
    }
}
