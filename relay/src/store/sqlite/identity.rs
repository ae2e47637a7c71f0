//! SQLite side of [`IdentityStore`].

use async_trait::async_trait;
use shared::ConversationId;

use sqlx::{Sqlite, Transaction};

use super::SqliteStore;
use crate::store::identity::{Bind, IdentityStore};
use crate::store::{SiteId, StoreError, StoreResult, VisitorId};

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn bind_user(
        &self,
        site: SiteId,
        visitor: VisitorId,
        conversation: ConversationId,
        user_id: &str,
        fresh_token_hash: &[u8],
        now: i64,
    ) -> StoreResult<Bind> {
        let mut tx = self.pool.begin().await?;
        let current: Option<String> = sqlx::query_scalar("SELECT user_id FROM visitors WHERE id = ?")
            .bind(visitor.0)
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
        match current.as_deref() {
            Some(u) if u == user_id => return Ok(Bind::Already),
            Some(_) => return Ok(Bind::OtherUser),
            None => {}
        }
        let owner: Option<i64> = sqlx::query_scalar("SELECT id FROM visitors WHERE site_id = ? AND user_id = ?")
            .bind(site.0)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
        // What the anonymous visitor's holders had, whoever they were: gone (see the trait).
        revoke_anonymous(&mut tx, visitor).await?;
        let Some(owner) = owner else {
            sqlx::query("UPDATE visitors SET user_id = ?, token_hash = ? WHERE id = ?")
                .bind(user_id)
                .bind(fresh_token_hash)
                .bind(visitor.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Bind::Bound);
        };
        // The user's thread: their first conversation (the web one, created with the visitor).
        let into: (i64, i64) = sqlx::query_as("SELECT id, last_seq FROM conversations WHERE visitor_id = ? ORDER BY id LIMIT 1")
            .bind(owner)
            .fetch_one(&mut *tx)
            .await?;
        let (into, offset) = into;
        let moved: i64 = sqlx::query_scalar("SELECT last_seq FROM conversations WHERE id = ?")
            .bind(conversation.0)
            .fetch_one(&mut *tx)
            .await?;
        if moved > 0 {
            sqlx::query("UPDATE messages SET conversation_id = ?1, seq = seq + ?2 WHERE conversation_id = ?3")
                .bind(into)
                .bind(offset)
                .bind(conversation.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE attachments SET conversation_id = ?1, seq = seq + ?2 WHERE conversation_id = ?3")
                .bind(into)
                .bind(offset)
                .bind(conversation.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE conversations SET last_seq = last_seq + ?1, last_activity_at = MAX(last_activity_at, ?2),
                        status = 'open', snoozed_until = NULL,
                        advisor_unread = (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = ?3
                                           AND m.author_kind = 'visitor' AND m.seq > conversations.advisor_read_seq)
                  WHERE id = ?3",
            )
            .bind(moved)
            .bind(now)
            .bind(into)
            .execute(&mut *tx)
            .await?;
        }
        // The emptied conversation leaves every inbox (it is no longer started).
        sqlx::query(
            "UPDATE conversations SET last_seq = 0, started = 0, advisor_unread = 0, visitor_read_seq = 0, advisor_read_seq = 0,
                    visitor_delivered_seq = 0, advisor_delivered_seq = 0, status = 'resolved'
              WHERE id = ?",
        )
        .bind(conversation.0)
        .execute(&mut *tx)
        .await?;
        // A name given while anonymous completes the user's (still marked as the visitor's word);
        // a typed e-mail was dropped above.
        sqlx::query(
            "UPDATE visitors SET name_by_visitor = CASE WHEN name IS NULL THEN (SELECT name_by_visitor FROM visitors WHERE id = ?2)
                                                        ELSE name_by_visitor END,
                    name = COALESCE(name, (SELECT name FROM visitors WHERE id = ?2)),
                    email = COALESCE(email, (SELECT email FROM visitors WHERE id = ?2))
              WHERE id = ?1",
        )
        .bind(owner)
        .bind(visitor.0)
        .execute(&mut *tx)
        .await?;
        // The merged visitor's rows keep pointing at the user's (old lookups, analytics); a token
        // reaches the user's thread only as this device's fresh one.
        sqlx::query("UPDATE visitors SET merged_into = ?1, token_hash = randomblob(32) WHERE id = ?2 OR merged_into = ?2")
            .bind(owner)
            .bind(visitor.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO visitor_tokens (token_hash, visitor_id, created_at) VALUES (?, ?, ?)")
            .bind(fresh_token_hash)
            .bind(owner)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Bind::Merged { from: conversation, into: ConversationId(into), first_moved_seq: offset as u64 + 1 })
    }

    async fn set_site_appearance(
        &self,
        site: SiteId,
        position: &str,
        launcher: &str,
        avatar: &str,
        translations: &[shared::SiteTexts],
    ) -> StoreResult<()> {
        let translations = serde_json::to_string(translations).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("UPDATE sites SET position = ?, launcher = ?, avatar = ?, translations = ? WHERE id = ?")
            .bind(position)
            .bind(launcher)
            .bind(avatar)
            .bind(translations)
            .bind(site.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_site_identity(&self, site: SiteId, secret: Option<&str>, require: bool) -> StoreResult<()> {
        sqlx::query("UPDATE sites SET identity_secret = ?, require_identity = ? WHERE id = ?")
            .bind(secret)
            .bind(require)
            .bind(site.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Ends what an anonymous visitor's holders had before it is bound to a user: every further token
/// (the primary one is replaced by the caller), push subscriptions, unused resume codes, and an
/// e-mail the visitor typed itself.
async fn revoke_anonymous(tx: &mut Transaction<'_, Sqlite>, visitor: VisitorId) -> StoreResult<()> {
    sqlx::query("DELETE FROM visitor_tokens WHERE visitor_id = ?").bind(visitor.0).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM push_subscriptions WHERE visitor_id = ?").bind(visitor.0).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM resume_codes WHERE visitor_id = ? AND used_at IS NULL").bind(visitor.0).execute(&mut **tx).await?;
    sqlx::query("UPDATE visitors SET email = NULL, email_by_visitor = 0 WHERE id = ? AND email_by_visitor = 1")
        .bind(visitor.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
