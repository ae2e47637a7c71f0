//! SQLite side of [`RoutingStore`].

use async_trait::async_trait;
use shared::{AdvisorId, ConversationId, ConversationSummary, Presence, TeamInfo};
use sqlx::Row;

use super::super::routing::{Handover, Queued, RosterFact, RoutingStore, Scope};
use super::{id_list, SqliteStore, SUMMARY_SELECT};
use crate::store::{StoreError, StoreResult};

#[async_trait]
impl RoutingStore for SqliteStore {
    async fn roster(&self) -> StoreResult<Vec<RosterFact>> {
        let rows = sqlx::query(
            "SELECT a.id, a.name, a.role, a.presence, a.capacity,
                    (SELECT COUNT(*) FROM conversations c WHERE c.assignee_id = a.id AND c.status = 'open') AS open,
                    (SELECT MAX(s.at) FROM assignments s WHERE s.advisor_id = a.id) AS last_assigned_at,
                    (SELECT group_concat(m.team_id) FROM team_members m WHERE m.advisor_id = a.id) AS teams
               FROM advisors a WHERE a.active = 1 ORDER BY a.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RosterFact {
                    id: AdvisorId(r.try_get("id")?),
                    name: r.try_get("name")?,
                    admin: r.try_get::<&str, _>("role")? == "admin",
                    presence: Presence::parse(r.try_get("presence")?),
                    capacity: r.try_get::<i64, _>("capacity")?.max(0) as u32,
                    open: r.try_get::<i64, _>("open")? as u32,
                    teams: id_list(r.try_get("teams")?)?,
                    last_assigned_at: r.try_get("last_assigned_at")?,
                })
            })
            .collect()
    }

    async fn routing_teams(&self) -> StoreResult<Vec<TeamInfo>> {
        let rows = sqlx::query("SELECT id, name, first_response_target_ms FROM teams ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(TeamInfo {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    first_response_target_ms: r.try_get("first_response_target_ms")?,
                    warn_before_ms: 0,
                })
            })
            .collect()
    }

    async fn queue(&self) -> StoreResult<Vec<Queued>> {
        let rows = sqlx::query(
            "SELECT id, team_id, queued_at, last_helped_by FROM conversations
              WHERE queued_at IS NOT NULL AND assignee_id IS NULL AND status = 'open'
              ORDER BY queued_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Queued {
                    conversation: ConversationId(r.try_get("id")?),
                    team: r.try_get("team_id")?,
                    queued_at: r.try_get("queued_at")?,
                    last_helped_by: r.try_get::<Option<i64>, _>("last_helped_by")?.map(AdvisorId),
                })
            })
            .collect()
    }

    async fn held_by_leavers(&self) -> StoreResult<Vec<(ConversationId, AdvisorId)>> {
        let rows = sqlx::query(
            "SELECT c.id, c.assignee_id FROM conversations c JOIN advisors a ON a.id = c.assignee_id
              WHERE c.status = 'open' AND (a.active = 0 OR a.presence = 'offline') ORDER BY c.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((ConversationId(r.try_get("id")?), AdvisorId(r.try_get("assignee_id")?))))
            .collect()
    }

    async fn assign_from_queue(&self, conversation: ConversationId, advisor: AdvisorId, waited: bool, now: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE conversations SET assignee_id = ?2, assigned_at = ?3, queued_at = NULL
              WHERE id = ?1 AND assignee_id IS NULL AND queued_at IS NOT NULL AND status = 'open'",
        )
        .bind(conversation.0)
        .bind(advisor.0)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO assignments (conversation_id, advisor_id, team_id, kind, from_queue, at)
             SELECT id, ?2, team_id, 'auto', ?3, ?4 FROM conversations WHERE id = ?1",
        )
        .bind(conversation.0)
        .bind(advisor.0)
        .bind(waited)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn requeue(&self, conversation: ConversationId, now: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE conversations SET assignee_id = NULL, assigned_at = NULL, queued_at = COALESCE(waiting_since, ?2)
              WHERE id = ?1 AND assignee_id IS NOT NULL AND status = 'open'",
        )
        .bind(conversation.0)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO assignments (conversation_id, advisor_id, team_id, kind, at)
             SELECT id, NULL, team_id, 'requeue', ?2 FROM conversations WHERE id = ?1",
        )
        .bind(conversation.0)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn hand_over(&self, h: Handover) -> StoreResult<Scope> {
        let mut tx = self.pool.begin().await?;
        if let Some(advisor) = h.advisor {
            let active: Option<i64> = sqlx::query_scalar("SELECT active FROM advisors WHERE id = ?")
                .bind(advisor.0)
                .fetch_optional(&mut *tx)
                .await?;
            if active != Some(1) {
                return Err(StoreError::NotFound);
            }
        }
        if let Some(team) = h.team {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM teams WHERE id = ?").bind(team).fetch_optional(&mut *tx).await?;
            if found.is_none() {
                return Err(StoreError::NotFound);
            }
        }
        // To an advisor: out of the queue. To the queue: it keeps its place if it had one, else
        // the customer's waiting time, else now.
        let row = sqlx::query(
            "UPDATE conversations SET
                    team_id = CASE WHEN ?3 IS NULL THEN team_id ELSE ?3 END,
                    assignee_id = ?2,
                    assigned_at = CASE WHEN ?2 IS NULL THEN NULL ELSE ?4 END,
                    queued_at = CASE WHEN ?2 IS NULL THEN COALESCE(queued_at, waiting_since, ?4) ELSE NULL END,
                    status = CASE WHEN status = 'snoozed' THEN status ELSE 'open' END,
                    resolved_at = CASE WHEN status = 'resolved' THEN NULL ELSE resolved_at END
              WHERE id = ?1 RETURNING team_id, assignee_id",
        )
        .bind(h.conversation.0)
        .bind(h.advisor.map(|a| a.0))
        .bind(h.team)
        .bind(h.now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let scope = Scope {
            team: row.try_get("team_id")?,
            assignee: row.try_get::<Option<i64>, _>("assignee_id")?.map(AdvisorId),
        };
        sqlx::query(
            "INSERT INTO assignments (conversation_id, advisor_id, team_id, kind, by_advisor, at) VALUES (?, ?, ?, 'manual', ?, ?)",
        )
        .bind(h.conversation.0)
        .bind(h.advisor.map(|a| a.0))
        .bind(scope.team)
        .bind(h.by.0)
        .bind(h.now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(scope)
    }

    async fn set_presence(&self, advisor: AdvisorId, presence: Presence) -> StoreResult<()> {
        let done = sqlx::query("UPDATE advisors SET presence = ? WHERE id = ?")
            .bind(presence.as_str())
            .bind(advisor.0)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn queue_departures(&self, team: Option<i64>, limit: usize) -> StoreResult<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT at FROM assignments WHERE kind = 'auto' AND from_queue = 1 AND team_id IS ?
              ORDER BY at DESC LIMIT ?",
        )
        .bind(team)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn conversation_scope(&self, conversation: ConversationId) -> StoreResult<Option<Scope>> {
        let row = sqlx::query("SELECT team_id, assignee_id FROM conversations WHERE id = ?")
            .bind(conversation.0)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Scope {
                team: r.try_get("team_id")?,
                assignee: r.try_get::<Option<i64>, _>("assignee_id")?.map(AdvisorId),
            })
        })
        .transpose()
    }

    async fn inbox(&self, visible: &str, me: AdvisorId, limit: usize) -> StoreResult<Vec<ConversationSummary>> {
        let sql = format!(
            "{SUMMARY_SELECT}
              WHERE c.started = 1 AND {visible}
                AND (c.id IN (SELECT id FROM conversations WHERE started = 1 ORDER BY last_activity_at DESC, id DESC LIMIT ?2)
                     OR (c.status = 'open' AND (c.assignee_id = ?1 OR c.queued_at IS NOT NULL)))
              ORDER BY c.last_activity_at DESC, c.id DESC"
        );
        let rows = sqlx::query(&sql).bind(me.0).bind(limit as i64).fetch_all(&self.pool).await?;
        super::summaries(&self.pool, &rows).await
    }

    async fn conversations_matching(&self, visible: &str, limit: usize) -> StoreResult<Vec<ConversationId>> {
        let sql = format!(
            "SELECT c.id FROM conversations c WHERE c.started = 1 AND {visible} ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?"
        );
        let ids: Vec<i64> = sqlx::query_scalar(&sql).bind(limit as i64).fetch_all(&self.pool).await?;
        Ok(ids.into_iter().map(ConversationId).collect())
    }
}
