//! SQLite side of [`AnalyticsStore`]: a handful of reads in one transaction, so the rows agree
//! with each other.

use async_trait::async_trait;
use sqlx::Row;

use super::super::analytics::{AnalyticsRows, AnalyticsStore, AssignmentRow, ConversationRow, MessageRow, OpenGroup, Speaker};
use super::{channel_from, SqliteStore, AUTHOR_ADVISOR, AUTHOR_VISITOR};
use crate::access::Viewer;
use crate::store::{StoreError, StoreResult};

/// The conversations a report looks at: visible to the viewer, with a message in the period or
/// resolved in it. Binds: from, from, to, from, to.
fn scope(viewer: &Viewer) -> String {
    format!(
        "WITH scope AS (
           SELECT c.id, c.resolved_at FROM conversations c
            WHERE {} AND c.started = 1
              AND ((c.last_activity_at >= ?
                    AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.sent_at >= ? AND m.sent_at < ?))
                   OR (c.resolved_at >= ? AND c.resolved_at < ?)))",
        viewer.sql_condition("c")
    )
}

#[async_trait]
impl AnalyticsStore for SqliteStore {
    async fn analytics_rows(&self, viewer: &Viewer, from: i64, to: i64) -> StoreResult<AnalyticsRows> {
        let scope = scope(viewer);
        let mut tx = self.pool.begin().await?;

        let sql = format!(
            "{scope}
             SELECT s.id, s.resolved_at, f.sent_at, f.channel FROM scope s
               JOIN messages f ON f.conversation_id = s.id
                AND f.seq = (SELECT MIN(seq) FROM messages WHERE conversation_id = s.id AND note = 0)"
        );
        let conversations = sqlx::query(&sql)
            .bind(from)
            .bind(from)
            .bind(to)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| {
                Ok(ConversationRow {
                    id: row.try_get(0)?,
                    resolved_at: row.try_get(1)?,
                    first_message_at: row.try_get(2)?,
                    channel: channel_from(row.try_get::<&str, _>(3)?),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;

        let sql = format!(
            "{scope}
             SELECT m.conversation_id, m.sent_at, m.author_kind, m.advisor_id, m.note FROM scope s
               JOIN messages m ON m.conversation_id = s.id
              ORDER BY m.conversation_id, m.seq"
        );
        let messages = sqlx::query(&sql)
            .bind(from)
            .bind(from)
            .bind(to)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| {
                let speaker = match (row.try_get::<&str, _>(2)?, row.try_get::<Option<i64>, _>(3)?) {
                    (AUTHOR_VISITOR, _) => Speaker::Customer,
                    (AUTHOR_ADVISOR, Some(id)) => Speaker::Advisor(id),
                    (AUTHOR_ADVISOR, None) => {
                        return Err(StoreError::Corrupt("an advisor's message without an advisor id".into()));
                    }
                    _ => Speaker::Other,
                };
                Ok(MessageRow { conversation: row.try_get(0)?, at: row.try_get(1)?, speaker, note: row.try_get(4)? })
            })
            .collect::<StoreResult<Vec<_>>>()?;

        let sql = format!(
            "SELECT a.advisor_id, a.at FROM assignments a JOIN conversations c ON c.id = a.conversation_id
              WHERE a.at >= ? AND a.at < ? AND a.advisor_id IS NOT NULL AND {}",
            viewer.sql_condition("c")
        );
        let assignments = sqlx::query(&sql)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| Ok(AssignmentRow { advisor: row.try_get(0)?, at: row.try_get(1)? }))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;

        let sql = format!(
            "SELECT c.assignee_id, COUNT(*), MIN(c.waiting_since) FROM conversations c
              WHERE c.status = 'open' AND c.started = 1 AND {}
              GROUP BY c.assignee_id",
            viewer.sql_condition("c")
        );
        let open = sqlx::query(&sql)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| {
                Ok(OpenGroup {
                    assignee: row.try_get(0)?,
                    count: row.try_get::<i64, _>(1)? as u32,
                    oldest_waiting_since: row.try_get(2)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;

        let advisors = sqlx::query_as::<_, (i64, String)>("SELECT id, name FROM advisors").fetch_all(&mut *tx).await?;

        let sql = format!(
            "SELECT s.rating FROM surveys s JOIN conversations c ON c.id = s.conversation_id
              WHERE s.rating IS NOT NULL AND s.rated_at >= ? AND s.rated_at < ? AND {}",
            viewer.sql_condition("c")
        );
        let ratings: Vec<i64> = sqlx::query_scalar(&sql).bind(from).bind(to).fetch_all(&mut *tx).await?;
        let ratings = ratings.into_iter().map(|r| r.clamp(0, 5) as u8).collect();
        tx.commit().await?;
        Ok(AnalyticsRows { conversations, messages, assignments, open, advisors, ratings })
    }
}
