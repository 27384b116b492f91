//! Guest sessions in SQL over `sqlx::Any` (the embedded SQLite file by default).

use async_trait::async_trait;
use shared::error::{AppError, AppResult};
use shared::sql::{Database, Migrations};
use shared::store::{StoreUrl, sqlx_error};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Conversion, GuestStore, NewSession, SessionRecord};
use crate::history::{Activity, HistoryEntry, MAX_ENTRIES};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
const MIGRATIONS: Migrations = Migrations { mysql: None, postgres: None, sqlite: &SQLITE };

// Appends only while the session is live, in the same statement, so an entry
// cannot land after a conversion has read the history it hands over.
const INSERT_LIVE_ENTRY: &str = "INSERT INTO guest_history (session_id, kind, item_type, item_id, query, at) \
     SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS \
     (SELECT 1 FROM guest_sessions WHERE id = ? AND converted_to IS NULL AND expires_at > ?)";
const INSERT_ENTRY: &str =
    "INSERT INTO guest_history (session_id, kind, item_type, item_id, query, at) VALUES (?, ?, ?, ?, ?, ?)";
// Everything at or below the 201st newest entry goes; with fewer entries the
// subquery is NULL and nothing matches.
const TRIM_HISTORY: &str = "DELETE FROM guest_history WHERE session_id = ? AND seq <= \
     (SELECT seq FROM guest_history WHERE session_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)";
const SELECT_NEWEST: &str = "SELECT kind, item_type, item_id, query, at FROM guest_history WHERE session_id = ? \
     ORDER BY seq DESC LIMIT ? OFFSET ?";
const SELECT_OLDEST: &str =
    "SELECT kind, item_type, item_id, query, at FROM guest_history WHERE session_id = ? ORDER BY seq";

/// The name the fixture sessions are recorded under in `fixture_loads`.
const FIXTURE_SET: &str = "guest-sessions";

pub struct SqliteGuests {
    db: Database,
}

impl SqliteGuests {
    pub fn connect_lazy(url: &StoreUrl, max_connections: u32) -> AppResult<Self> {
        Ok(Self { db: Database::connect_lazy(url, max_connections, &MIGRATIONS)? })
    }
}

fn entry_columns(entry: &HistoryEntry) -> (&'static str, Option<&str>, Option<&str>, Option<&str>) {
    match &entry.activity {
        Activity::ViewedItem { item_type, item_id } => ("viewed_item", Some(item_type), Some(item_id), None),
        Activity::Search { query } => ("search", None, None, Some(query)),
    }
}

fn entry_from_row(row: &AnyRow) -> AppResult<HistoryEntry> {
    let kind: String = row.try_get("kind").map_err(sqlx_error)?;
    let optional = |name: &str| row.try_get::<Option<String>, _>(name).map_err(sqlx_error);
    let activity = match (kind.as_str(), optional("item_type")?, optional("item_id")?, optional("query")?) {
        ("viewed_item", Some(item_type), Some(item_id), _) => Activity::ViewedItem { item_type, item_id },
        ("search", _, _, Some(query)) => Activity::Search { query },
        _ => return Err(AppError::internal(format!("a stored history entry of kind `{kind}` is incomplete"))),
    };
    Ok(HistoryEntry { activity, at: row.try_get("at").map_err(sqlx_error)? })
}

#[async_trait]
impl GuestStore for SqliteGuests {
    async fn insert(&self, session: &NewSession, history: &[HistoryEntry]) -> AppResult<bool> {
        let pool = self.db.pool().await?;
        let mut tx = pool.begin().await.map_err(sqlx_error)?;
        let sql = format!(
            "{} INTO guest_sessions (id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)",
            self.db.engine().insert_ignore()
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&session.id)
            .bind(&session.token_hash)
            .bind(session.created_at)
            .bind(session.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let keep = history.len().saturating_sub(MAX_ENTRIES);
        for entry in &history[keep..] {
            let (kind, item_type, item_id, query) = entry_columns(entry);
            sqlx::query(INSERT_ENTRY)
                .bind(&session.id)
                .bind(kind)
                .bind(item_type)
                .bind(item_id)
                .bind(query)
                .bind(entry.at)
                .execute(&mut *tx)
                .await
                .map_err(sqlx_error)?;
        }
        tx.commit().await.map_err(sqlx_error)?;
        Ok(true)
    }

    async fn get(&self, id: &str) -> AppResult<Option<SessionRecord>> {
        let pool = self.db.pool().await?;
        let row = sqlx::query(
            "SELECT s.id, s.token_hash, s.created_at, s.expires_at, s.converted_to, \
             (SELECT COUNT(*) FROM guest_history h WHERE h.session_id = s.id) AS history_count \
             FROM guest_sessions s WHERE s.id = ?",
        )
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(sqlx_error)?;
        let Some(row) = row else { return Ok(None) };
        let count: i64 = row.try_get("history_count").map_err(sqlx_error)?;
        Ok(Some(SessionRecord {
            id: row.try_get("id").map_err(sqlx_error)?,
            token_hash: row.try_get("token_hash").map_err(sqlx_error)?,
            created_at: row.try_get("created_at").map_err(sqlx_error)?,
            expires_at: row.try_get("expires_at").map_err(sqlx_error)?,
            converted_to: row.try_get("converted_to").map_err(sqlx_error)?,
            history_count: u64::try_from(count).unwrap_or(0),
        }))
    }

    async fn set_expiry(&self, id: &str, expires_at: i64, now: i64) -> AppResult<bool> {
        let pool = self.db.pool().await?;
        let done = sqlx::query(
            "UPDATE guest_sessions SET expires_at = ? WHERE id = ? AND converted_to IS NULL AND expires_at > ?",
        )
        .bind(expires_at)
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map_err(sqlx_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_history(&self, id: &str, entry: &HistoryEntry, now: i64) -> AppResult<bool> {
        let pool = self.db.pool().await?;
        let mut tx = pool.begin().await.map_err(sqlx_error)?;
        let (kind, item_type, item_id, query) = entry_columns(entry);
        let done = sqlx::query(INSERT_LIVE_ENTRY)
            .bind(id)
            .bind(kind)
            .bind(item_type)
            .bind(item_id)
            .bind(query)
            .bind(entry.at)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(TRIM_HISTORY)
            .bind(id)
            .bind(id)
            .bind(MAX_ENTRIES as i64)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        tx.commit().await.map_err(sqlx_error)?;
        Ok(true)
    }

    async fn history_page(&self, id: &str, offset: u64, limit: u64) -> AppResult<(u64, Vec<HistoryEntry>)> {
        let pool = self.db.pool().await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM guest_history WHERE session_id = ?")
            .bind(id)
            .fetch_one(pool)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(sqlx_error)?;
        let rows = sqlx::query(SELECT_NEWEST)
            .bind(id)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await
            .map_err(sqlx_error)?;
        let entries = rows.iter().map(entry_from_row).collect::<AppResult<Vec<_>>>()?;
        Ok((u64::try_from(count).unwrap_or(0), entries))
    }

    async fn history(&self, id: &str) -> AppResult<Vec<HistoryEntry>> {
        let pool = self.db.pool().await?;
        let rows = sqlx::query(SELECT_OLDEST).bind(id).fetch_all(pool).await.map_err(sqlx_error)?;
        rows.iter().map(entry_from_row).collect()
    }

    async fn convert(&self, id: &str, customer_id: &str, now: i64) -> AppResult<Conversion> {
        let pool = self.db.pool().await?;
        let done = sqlx::query(
            "UPDATE guest_sessions SET converted_to = ?, converted_at = ? \
             WHERE id = ? AND converted_to IS NULL AND expires_at > ?",
        )
        .bind(customer_id)
        .bind(now)
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map_err(sqlx_error)?;
        if done.rows_affected() > 0 {
            return Ok(Conversion::Converted);
        }
        Ok(match self.get(id).await? {
            None => Conversion::Missing,
            Some(SessionRecord { converted_to: Some(customer), .. }) => Conversion::AlreadyConverted(customer),
            Some(_) => Conversion::Expired,
        })
    }

    async fn fixtures_loaded(&self) -> AppResult<bool> {
        self.db.fixtures_loaded(FIXTURE_SET).await
    }

    async fn mark_fixtures_loaded(&self) -> AppResult<()> {
        self.db.mark_fixtures_loaded(FIXTURE_SET).await
    }
}
