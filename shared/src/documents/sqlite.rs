//! The embedded document store: JSON in one SQLite table, filtered with `json_extract`.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::sqlite::SqlitePool;
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::OnceCell;

use super::{Document, DocumentStore, Filter, FilterValue, Found, StockChange, id_of};
use crate::error::{AppError, AppResult};
use crate::store::sqlx_error;

const SCHEMA: &str = include_str!("../../migrations/sqlite/0001_documents.sql");

pub struct SqliteDocuments {
    pool: SqlitePool,
    collection: &'static str,
    schema: OnceCell<()>,
}

impl SqliteDocuments {
    pub fn new(pool: SqlitePool, collection: &'static str) -> Self {
        Self { pool, collection, schema: OnceCell::new() }
    }

    /// The pool, once the schema exists: created on first use, not during init.
    async fn pool(&self) -> AppResult<&SqlitePool> {
        self.schema
            .get_or_try_init(|| async {
                sqlx::raw_sql(SCHEMA).execute(&self.pool).await.map(|_| ()).map_err(sqlx_error)
            })
            .await?;
        Ok(&self.pool)
    }
}

fn encode(doc: &Document) -> AppResult<String> {
    serde_json::to_string(doc).map_err(AppError::internal)
}

fn decode(text: &str) -> AppResult<Document> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(AppError::internal("stored document is not an object")),
        Err(e) => Err(AppError::internal(format!("stored document is not JSON: {e}"))),
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[async_trait]
impl DocumentStore for SqliteDocuments {
    async fn insert(&self, doc: Document) -> AppResult<()> {
        let pool = self.pool().await?;
        let result = sqlx::query("INSERT INTO documents (collection, id, doc) VALUES (?, ?, ?)")
            .bind(self.collection)
            .bind(id_of(&doc)?)
            .bind(encode(&doc)?)
            .execute(pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(AppError::Conflict(format!("`{}` exists already", id_of(&doc)?))),
            Err(e) => Err(sqlx_error(e)),
        }
    }

    async fn insert_missing(&self, docs: Vec<Document>) -> AppResult<u64> {
        let pool = self.pool().await?;
        let mut tx = pool.begin().await.map_err(sqlx_error)?;
        let mut added = 0;
        for doc in &docs {
            added += sqlx::query("INSERT OR IGNORE INTO documents (collection, id, doc) VALUES (?, ?, ?)")
                .bind(self.collection)
                .bind(id_of(doc)?)
                .bind(encode(doc)?)
                .execute(&mut *tx)
                .await
                .map_err(sqlx_error)?
                .rows_affected();
        }
        tx.commit().await.map_err(sqlx_error)?;
        Ok(added)
    }

    async fn get(&self, id: &str) -> AppResult<Option<Document>> {
        let pool = self.pool().await?;
        let row = sqlx::query("SELECT doc FROM documents WHERE collection = ? AND id = ?")
            .bind(self.collection)
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(sqlx_error)?;
        row.map(|r| decode(r.get::<&str, _>(0))).transpose()
    }

    async fn replace(&self, doc: Document) -> AppResult<bool> {
        let pool = self.pool().await?;
        let done = sqlx::query("UPDATE documents SET doc = ? WHERE collection = ? AND id = ?")
            .bind(encode(&doc)?)
            .bind(self.collection)
            .bind(id_of(&doc)?)
            .execute(pool)
            .await
            .map_err(sqlx_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete(&self, id: &str) -> AppResult<bool> {
        let pool = self.pool().await?;
        let done = sqlx::query("DELETE FROM documents WHERE collection = ? AND id = ?")
            .bind(self.collection)
            .bind(id)
            .execute(pool)
            .await
            .map_err(sqlx_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn find(&self, filter: &Filter, offset: u64, limit: u64) -> AppResult<Found> {
        let pool = self.pool().await?;
        let (condition, params) = filter.to_sql();
        // `condition` is built from field names checked by `Filter` and `?` placeholders only.
        let count_sql = format!("SELECT COUNT(*) FROM documents WHERE collection = ? AND {condition}");
        let page_sql =
            format!("SELECT doc FROM documents WHERE collection = ? AND {condition} ORDER BY id DESC LIMIT ? OFFSET ?");
        let mut count_query = sqlx::query(AssertSqlSafe(count_sql)).bind(self.collection);
        let mut page_query = sqlx::query(AssertSqlSafe(page_sql)).bind(self.collection);
        for param in params {
            (count_query, page_query) = match param {
                FilterValue::Text(t) => (count_query.bind(t.clone()), page_query.bind(t)),
                FilterValue::Integer(i) => (count_query.bind(i), page_query.bind(i)),
                FilterValue::Number(n) => (count_query.bind(n), page_query.bind(n)),
                FilterValue::Bool(b) => (count_query.bind(b), page_query.bind(b)),
            };
        }
        let page_query = page_query.bind(limit as i64).bind(offset as i64);
        let count: i64 = count_query.fetch_one(pool).await.map_err(sqlx_error)?.get(0);
        let rows = page_query.fetch_all(pool).await.map_err(sqlx_error)?;
        let documents = rows.iter().map(|r| decode(r.get::<&str, _>(0))).collect::<AppResult<Vec<_>>>()?;
        Ok(Found { count: count as u64, documents })
    }

    async fn change_stock(&self, id: &str, delta: i64, key: &str) -> AppResult<StockChange> {
        let pool = self.pool().await?;
        // BEGIN IMMEDIATE takes the write lock first, so two reservations of the last
        // unit queue instead of both reading the same stock.
        let mut conn = pool.acquire().await.map_err(sqlx_error)?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await.map_err(sqlx_error)?;
        let outcome = change_stock_locked(&mut conn, self.collection, id, delta, key).await;
        let end =
            if matches!(outcome, Ok(StockChange::Applied { replayed: false, .. })) { "COMMIT" } else { "ROLLBACK" };
        sqlx::query(end).execute(&mut *conn).await.map_err(sqlx_error)?;
        outcome
    }
}

async fn current_stock(conn: &mut sqlx::SqliteConnection, collection: &str, id: &str) -> AppResult<Option<i64>> {
    let row = sqlx::query("SELECT CAST(COALESCE(json_extract(doc, '$.stock'), 0) AS INTEGER) FROM documents WHERE collection = ? AND id = ?")
        .bind(collection)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(sqlx_error)?;
    Ok(row.map(|r| r.get::<i64, _>(0)))
}

async fn change_stock_locked(
    conn: &mut sqlx::SqliteConnection,
    collection: &str,
    id: &str,
    delta: i64,
    key: &str,
) -> AppResult<StockChange> {
    let Some(stock) = current_stock(conn, collection, id).await? else { return Ok(StockChange::Missing) };
    let seen = sqlx::query("SELECT item_id, delta FROM stock_moves WHERE collection = ? AND key = ?")
        .bind(collection)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(sqlx_error)?;
    if let Some(row) = seen {
        let (item, moved): (String, i64) = (row.get(0), row.get(1));
        if item != id || moved != delta {
            return Err(AppError::Conflict(format!("stock change `{key}` was made already with other values")));
        }
        return Ok(StockChange::Applied { stock, replayed: true });
    }
    if stock + delta < 0 {
        return Ok(StockChange::Insufficient { stock });
    }
    sqlx::query("UPDATE documents SET doc = json_set(doc, '$.stock', ?) WHERE collection = ? AND id = ?")
        .bind(stock + delta)
        .bind(collection)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(sqlx_error)?;
    sqlx::query(
        "INSERT INTO stock_moves (collection, key, item_id, delta, at) VALUES (?, ?, ?, ?, strftime('%s', 'now'))",
    )
    .bind(collection)
    .bind(key)
    .bind(id)
    .bind(delta)
    .execute(&mut *conn)
    .await
    .map_err(sqlx_error)?;
    Ok(StockChange::Applied { stock: stock + delta, replayed: false })
}
