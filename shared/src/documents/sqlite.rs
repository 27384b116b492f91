//! The embedded document store: JSON in one SQLite table, filtered with `json_extract`.

use async_trait::async_trait;
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::sqlite::SqlitePool;
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::OnceCell;

use super::{
    Collection, Document, DocumentStore, Filter, FilterValue, Found, FoundJson, StockChange, StockMoves, duplicate,
    id_of, taken,
};
use crate::error::{AppError, AppResult};
use crate::store::sqlx_error;

const SCHEMA: &str = include_str!("../../migrations/sqlite/0001_documents.sql");

pub struct SqliteDocuments {
    pool: SqlitePool,
    collection: &'static str,
    unique: Vec<&'static str>,
    schema: OnceCell<()>,
}

impl SqliteDocuments {
    pub fn new(pool: SqlitePool, collection: Collection) -> Self {
        Self { pool, collection: collection.name, unique: collection.unique, schema: OnceCell::new() }
    }

    /// The pool, once the schema and the unique indexes exist: created on first
    /// use, not during init.
    async fn pool(&self) -> AppResult<&SqlitePool> {
        self.schema
            .get_or_try_init(|| async {
                sqlx::raw_sql(SCHEMA).execute(&self.pool).await.map_err(sqlx_error)?;
                for field in &self.unique {
                    // Names are plain (checked by `documents::open`), so they may be
                    // spelt into the statement; the partial index leaves unset values out.
                    let (collection, path) = (self.collection, json_path(field));
                    let create = format!(
                        "CREATE UNIQUE INDEX IF NOT EXISTS documents_{collection}_{field} ON documents ({path}) \
                         WHERE collection = '{collection}' AND {path} IS NOT NULL"
                    );
                    match sqlx::query(AssertSqlSafe(create)).execute(&self.pool).await {
                        Ok(_) => {}
                        // Records from before the rule: writes still check the field first.
                        Err(e) if is_unique_violation(&e) => tracing::error!(
                            collection,
                            field,
                            "documents share a value of a unique field; no unique index until they differ"
                        ),
                        Err(e) => return Err(sqlx_error(e)),
                    }
                }
                Ok(())
            })
            .await?;
        Ok(&self.pool)
    }

    /// A conflict if another document has one of `doc`'s unique values.
    async fn check_unique(&self, pool: &SqlitePool, doc: &Document) -> AppResult<()> {
        for field in &self.unique {
            let Some(value) = doc.get(*field).and_then(Value::as_str) else { continue };
            let id = id_of(doc)?;
            let (collection, path) = (self.collection, json_path(field));
            let holder: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT id FROM documents WHERE collection = '{collection}' AND {path} = ? AND id <> ? LIMIT 1"
            )))
            .bind(value)
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(sqlx_error)?;
            if let Some(holder) = holder {
                return Err(taken(field, value, &holder));
            }
        }
        Ok(())
    }

    /// A unique violation when writing `doc`: its id, or (raced past
    /// [`Self::check_unique`]) a unique field.
    async fn conflict(&self, pool: &SqlitePool, doc: &Document, creating: bool) -> AppError {
        if let Err(conflict) = self.check_unique(pool, doc).await {
            return conflict;
        }
        duplicate(doc, &self.unique, creating)
    }

    /// How many documents match, and the window's documents as stored, newest first.
    async fn find_texts(&self, filter: &Filter, offset: u64, limit: u64) -> AppResult<(u64, Vec<String>)> {
        let pool = self.pool().await?;
        let (condition, params) = filter.to_sql();
        // `condition` is built from field names checked by `Filter` and `?` placeholders only.
        // The page and the count are two statements: `COUNT(*) OVER ()` in the page's
        // statement makes SQLite read and sort every match instead of stopping at the
        // page's end (measured: a third fewer requests/s on a list of 30).
        let page_sql =
            format!("SELECT doc FROM documents WHERE collection = ? AND {condition} ORDER BY id DESC LIMIT ? OFFSET ?");
        let mut page_query = sqlx::query(AssertSqlSafe(page_sql)).bind(self.collection);
        for param in &params {
            page_query = bind(page_query, param);
        }
        let rows = page_query.bind(limit as i64).bind(offset as i64).fetch_all(pool).await.map_err(sqlx_error)?;
        let texts: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        // A window that is not full (and not past the end) is the last one: it
        // tells the count, and the second statement is not needed.
        let len = texts.len() as u64;
        if len < limit && (len > 0 || offset == 0) {
            return Ok((offset + len, texts));
        }
        let count_sql = format!("SELECT COUNT(*) FROM documents WHERE collection = ? AND {condition}");
        let mut count_query = sqlx::query(AssertSqlSafe(count_sql)).bind(self.collection);
        for param in &params {
            count_query = bind(count_query, param);
        }
        let count: i64 = count_query.fetch_one(pool).await.map_err(sqlx_error)?.get(0);
        Ok((count as u64, texts))
    }
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

fn bind<'q>(query: SqliteQuery<'q>, param: &FilterValue) -> SqliteQuery<'q> {
    match param {
        FilterValue::Text(t) => query.bind(t.clone()),
        FilterValue::Integer(i) => query.bind(*i),
        FilterValue::Number(n) => query.bind(*n),
        FilterValue::Bool(b) => query.bind(*b),
    }
}

fn json_path(field: &str) -> String {
    format!("json_extract(doc, '$.{field}')")
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
        self.check_unique(pool, &doc).await?;
        let result = sqlx::query("INSERT INTO documents (collection, id, doc) VALUES (?, ?, ?)")
            .bind(self.collection)
            .bind(id_of(&doc)?)
            .bind(encode(&doc)?)
            .execute(pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(self.conflict(pool, &doc, true).await),
            Err(e) => Err(sqlx_error(e)),
        }
    }

    /// A fixture whose unique value another document has is left out, like one whose id is there.
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
        self.check_unique(pool, &doc).await?;
        let done = sqlx::query("UPDATE documents SET doc = ? WHERE collection = ? AND id = ?")
            .bind(encode(&doc)?)
            .bind(self.collection)
            .bind(id_of(&doc)?)
            .execute(pool)
            .await;
        match done {
            Ok(done) => Ok(done.rows_affected() > 0),
            Err(e) if is_unique_violation(&e) => Err(self.conflict(pool, &doc, false).await),
            Err(e) => Err(sqlx_error(e)),
        }
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
        let (count, texts) = self.find_texts(filter, offset, limit).await?;
        let documents = texts.iter().map(|text| decode(text)).collect::<AppResult<Vec<_>>>()?;
        Ok(Found { count, documents })
    }

    async fn find_json(&self, filter: &Filter, offset: u64, limit: u64) -> AppResult<FoundJson> {
        let (count, texts) = self.find_texts(filter, offset, limit).await?;
        let documents = texts
            .into_iter()
            .map(|text| RawValue::from_string(text).map_err(|e| AppError::internal(format!("stored document: {e}"))))
            .collect::<AppResult<Vec<_>>>()?;
        Ok(FoundJson { count, documents })
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

    async fn stock_moves(&self, id: &str) -> AppResult<StockMoves> {
        let rows = sqlx::query("SELECT key, delta FROM stock_moves WHERE collection = ? AND item_id = ? ORDER BY key")
            .bind(self.collection)
            .bind(id)
            .fetch_all(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(StockMoves { moves: rows.iter().map(|r| (r.get(0), r.get(1))).collect(), complete: true })
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
