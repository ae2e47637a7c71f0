//! SQLite side of [`InboxStore`]: canned responses, labels and search.

use async_trait::async_trait;
use shared::{AdvisorId, ConversationId, ConversationSummary, Seq};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::{SqliteStore, SUMMARY_SELECT};
use crate::store::inbox::{CannedResponse, InboxStore, Label, MatchedMessage, SearchHit};
use crate::store::{StoreError, StoreResult};

const CANNED_COLUMNS: &str = "id, shortcut, text, owner_id, created_by, created_at, updated_at";

fn canned_from_row(row: &SqliteRow) -> StoreResult<CannedResponse> {
    Ok(CannedResponse {
        id: row.try_get("id")?,
        shortcut: row.try_get("shortcut")?,
        text: row.try_get("text")?,
        owner: row.try_get::<Option<i64>, _>("owner_id")?.map(AdvisorId),
        created_by: row.try_get::<Option<i64>, _>("created_by")?.map(AdvisorId),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The labels of these conversations, by name, for their inbox rows.
pub(super) async fn labels_of(pool: &SqlitePool, rows: &mut [ConversationSummary]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.0.to_string()).collect();
    let sql = format!(
        "SELECT cl.conversation_id, l.name FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id
          WHERE cl.conversation_id IN ({}) ORDER BY l.name COLLATE NOCASE",
        ids.join(",")
    );
    let found: Vec<(i64, String)> = sqlx::query_as(&sql).fetch_all(pool).await?;
    let mut by_conversation: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    for (conversation, name) in found {
        by_conversation.entry(conversation).or_default().push(name);
    }
    for row in rows {
        row.labels = by_conversation.remove(&row.id.0).unwrap_or_default();
    }
    Ok(())
}

/// `text` as a LIKE pattern matching it anywhere (with `ESCAPE '\'`).
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A phone number as typed ("+351 912-345 678") as the digits platforms store ("351912345678"),
/// or None when the query is not a number.
fn phone_digits(query: &str) -> Option<String> {
    let digits: String = query.chars().filter(char::is_ascii_digit).collect();
    let only_phone = query.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    (only_phone && digits.len() >= 2).then_some(digits)
}

#[async_trait]
impl InboxStore for SqliteStore {
    async fn list_canned(&self, advisor: AdvisorId) -> StoreResult<Vec<CannedResponse>> {
        let sql = format!(
            "SELECT {CANNED_COLUMNS} FROM canned_responses WHERE owner_id IS NULL OR owner_id = ?
              ORDER BY shortcut COLLATE NOCASE, id"
        );
        let rows = sqlx::query(&sql).bind(advisor.0).fetch_all(&self.pool).await?;
        rows.iter().map(canned_from_row).collect()
    }

    async fn canned(&self, id: i64) -> StoreResult<Option<CannedResponse>> {
        let sql = format!("SELECT {CANNED_COLUMNS} FROM canned_responses WHERE id = ?");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(canned_from_row).transpose()
    }

    async fn create_canned(
        &self,
        shortcut: &str,
        text: &str,
        owner: Option<AdvisorId>,
        created_by: AdvisorId,
        now: i64,
    ) -> StoreResult<CannedResponse> {
        let sql = format!(
            "INSERT INTO canned_responses (shortcut, text, owner_id, created_by, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING {CANNED_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(shortcut)
            .bind(text)
            .bind(owner.map(|a| a.0))
            .bind(created_by.0)
            .bind(now)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        canned_from_row(&row)
    }

    async fn update_canned(&self, id: i64, shortcut: &str, text: &str, now: i64) -> StoreResult<CannedResponse> {
        let sql = format!(
            "UPDATE canned_responses SET shortcut = ?, text = ?, updated_at = ? WHERE id = ? RETURNING {CANNED_COLUMNS}"
        );
        let row = sqlx::query(&sql).bind(shortcut).bind(text).bind(now).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(canned_from_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_canned(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM canned_responses WHERE id = ?").bind(id).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list_labels(&self, visible: &str) -> StoreResult<Vec<Label>> {
        let sql = format!(
            "SELECT l.id, l.name, l.color,
                    (SELECT COUNT(*) FROM conversation_labels cl JOIN conversations c ON c.id = cl.conversation_id
                      WHERE cl.label_id = l.id AND {visible}) AS n
               FROM labels l ORDER BY l.name COLLATE NOCASE"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Label { id: r.try_get("id")?, name: r.try_get("name")?, color: r.try_get("color")?, conversations: r.try_get("n")? })
            })
            .collect()
    }

    async fn set_conversation_labels(
        &self,
        conversation: ConversationId,
        labels: &[(String, String)],
        by: AdvisorId,
        now: i64,
    ) -> StoreResult<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM conversations WHERE id = ?").bind(conversation.0).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let mut ids = Vec::with_capacity(labels.len());
        for (name, color) in labels {
            // `name` is UNIQUE COLLATE NOCASE: an existing label in another case is the same one.
            sqlx::query("INSERT INTO labels (name, color, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(color)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let id: i64 = sqlx::query_scalar("SELECT id FROM labels WHERE name = ?").bind(name).fetch_one(&mut *tx).await?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let keep: Vec<String> = ids.iter().map(i64::to_string).collect();
        let remove = if keep.is_empty() {
            "DELETE FROM conversation_labels WHERE conversation_id = ?".to_owned()
        } else {
            format!("DELETE FROM conversation_labels WHERE conversation_id = ? AND label_id NOT IN ({})", keep.join(","))
        };
        sqlx::query(&remove).bind(conversation.0).execute(&mut *tx).await?;
        for id in &ids {
            sqlx::query(
                "INSERT INTO conversation_labels (conversation_id, label_id, added_by, added_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT DO NOTHING",
            )
            .bind(conversation.0)
            .bind(id)
            .bind(by.0)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let stored: Vec<String> = sqlx::query_scalar(
            "SELECT l.name FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id
              WHERE cl.conversation_id = ? ORDER BY l.name COLLATE NOCASE",
        )
        .bind(conversation.0)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn delete_label(&self, id: i64) -> StoreResult<Vec<ConversationId>> {
        let mut tx = self.pool.begin().await?;
        let had: Vec<i64> = sqlx::query_scalar("SELECT conversation_id FROM conversation_labels WHERE label_id = ?")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM conversation_labels WHERE label_id = ?").bind(id).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM labels WHERE id = ?").bind(id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(had.into_iter().map(ConversationId).collect())
    }

    async fn search(&self, query: &str, visible: &str, limit: usize) -> StoreResult<Vec<SearchHit>> {
        let pattern = contains_pattern(query);
        let number = phone_digits(query).map(|d| contains_pattern(&d)).unwrap_or_else(|| pattern.clone());
        // SQLite's LIKE ignores case for ASCII letters only. A scan of every message: fine for a
        // single-node inbox; a full-text index is the next step if it ever shows.
        let sql = format!(
            "SELECT c.id,
                    (SELECT m.seq FROM messages m WHERE m.conversation_id = c.id AND m.text LIKE ?1 ESCAPE '\\'
                      ORDER BY m.seq DESC LIMIT 1) AS hit_seq
               FROM conversations c JOIN visitors v ON v.id = c.visitor_id
              WHERE c.started = 1 AND {visible}
                AND (COALESCE(v.name, 'Visitor ' || v.id) LIKE ?1 ESCAPE '\\'
                     OR v.email LIKE ?1 ESCAPE '\\'
                     OR EXISTS (SELECT 1 FROM channel_identities i WHERE i.conversation_id = c.id
                                   AND (i.external_id LIKE ?2 ESCAPE '\\' OR i.name LIKE ?1 ESCAPE '\\'))
                     OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.text LIKE ?1 ESCAPE '\\'))
              ORDER BY c.last_activity_at DESC, c.id DESC
              LIMIT ?3"
        );
        let found: Vec<(i64, Option<i64>)> =
            sqlx::query_as(&sql).bind(&pattern).bind(&number).bind(limit as i64).fetch_all(&self.pool).await?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = found.iter().map(|(id, _)| id.to_string()).collect();
        let sql = format!("{SUMMARY_SELECT} WHERE c.id IN ({})", ids.join(","));
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        let summaries = super::summaries(&self.pool, &rows).await?;
        let mut by_id: std::collections::HashMap<i64, ConversationSummary> =
            summaries.into_iter().map(|s| (s.id.0, s)).collect();
        let mut hits = Vec::with_capacity(found.len());
        for (id, seq) in found {
            let Some(summary) = by_id.remove(&id) else { continue };
            let message = match seq {
                Some(seq) => {
                    let row: Option<(String, bool)> =
                        sqlx::query_as("SELECT text, note FROM messages WHERE conversation_id = ? AND seq = ?")
                            .bind(id)
                            .bind(seq)
                            .fetch_optional(&self.pool)
                            .await?;
                    row.map(|(text, note)| MatchedMessage { seq: seq as Seq, text, note })
                }
                None => None,
            };
            hits.push(SearchHit { summary, message });
        }
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(contains_pattern("ana"), "%ana%");
    }

    #[test]
    fn phone_numbers_are_searched_as_digits() {
        assert_eq!(phone_digits("+351 912-345 678").as_deref(), Some("351912345678"));
        assert_eq!(phone_digits("(21) 555"), Some("21555".into()));
        assert_eq!(phone_digits("ana 12"), None);
        assert_eq!(phone_digits("+"), None);
    }
}
