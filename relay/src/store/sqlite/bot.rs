//! SQLite side of [`BotStore`].

use async_trait::async_trait;
use shared::ConversationId;
use sqlx::Row;

use super::super::bot::{BotConversation, BotRow, BotStore};
use super::SqliteStore;
use crate::store::{SiteId, StoreError, StoreResult};

#[async_trait]
impl BotStore for SqliteStore {
    async fn bot(&self, site: SiteId) -> StoreResult<Option<BotRow>> {
        let row = sqlx::query("SELECT config, token_hash IS NOT NULL AS has_token FROM bots WHERE site_id = ?")
            .bind(site.0)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(BotRow { config: r.try_get("config")?, has_token: r.try_get("has_token")? })).transpose()
    }

    async fn put_bot(&self, site: SiteId, config: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO bots (site_id, config, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (site_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
        )
        .bind(site.0)
        .bind(config)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_bot_token(&self, site: SiteId, token_hash: &[u8]) -> StoreResult<()> {
        let done = sqlx::query("UPDATE bots SET token_hash = ? WHERE site_id = ?").bind(token_hash).bind(site.0).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn site_by_bot_token(&self, token_hash: &[u8]) -> StoreResult<Option<SiteId>> {
        let row = sqlx::query("SELECT site_id FROM bots WHERE token_hash = ?").bind(token_hash).fetch_optional(&self.pool).await?;
        row.map(|r| Ok(SiteId(r.try_get("site_id")?))).transpose()
    }

    async fn start_bot(&self, conversation: ConversationId, memory: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE conversations SET with_bot = 1 WHERE id = ?").bind(conversation.0).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("INSERT OR REPLACE INTO bot_memory (conversation_id, memory) VALUES (?, ?)")
            .bind(conversation.0)
            .bind(memory)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn bot_conversation(&self, conversation: ConversationId) -> StoreResult<Option<BotConversation>> {
        let row = sqlx::query(
            "SELECT c.site_id, c.with_bot, b.memory, v.language, v.name, v.email
               FROM conversations c JOIN visitors v ON v.id = c.visitor_id
               LEFT JOIN bot_memory b ON b.conversation_id = c.id
              WHERE c.id = ?",
        )
        .bind(conversation.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(BotConversation {
                site: SiteId(r.try_get("site_id")?),
                with_bot: r.try_get("with_bot")?,
                memory: r.try_get("memory")?,
                language: r.try_get("language")?,
                name: r.try_get("name")?,
                email: r.try_get("email")?,
            })
        })
        .transpose()
    }

    async fn save_bot_memory(&self, conversation: ConversationId, memory: &str) -> StoreResult<()> {
        sqlx::query("INSERT OR REPLACE INTO bot_memory (conversation_id, memory) VALUES (?, ?)")
            .bind(conversation.0)
            .bind(memory)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn bot_handoff(&self, conversation: ConversationId, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE conversations SET with_bot = 0, started = 1,
                    queued_at = CASE WHEN status = 'open' AND assignee_id IS NULL THEN COALESCE(queued_at, ?2) ELSE queued_at END,
                    waiting_since = CASE WHEN assignee_id IS NULL THEN COALESCE(waiting_since, ?2) ELSE waiting_since END
              WHERE id = ?1 AND with_bot = 1",
        )
        .bind(conversation.0)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
