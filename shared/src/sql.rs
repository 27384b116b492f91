//! Relational stores: one set of queries over `sqlx::Any`, so a service runs on
//! MySQL (or PostgreSQL) when deployed and on an embedded SQLite file locally.
//!
//! Queries use `?` placeholders and portable SQL; the few places where engines
//! differ ask [`Engine`] for their spelling. Migrations live per engine and run
//! once, on first use, never during a function's init.

use std::path::Path;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use tokio::sync::OnceCell;

use crate::error::{AppError, AppResult};
use crate::store::{StoreUrl, sqlx_error};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    MySql,
    Postgres,
    Sqlite,
}

impl Engine {
    /// `INSERT` that skips rows whose key exists.
    pub fn insert_ignore(self) -> &'static str {
        match self {
            Engine::MySql => "INSERT IGNORE",
            Engine::Sqlite => "INSERT OR IGNORE",
            Engine::Postgres => "INSERT",
        }
    }

    /// What follows a `SELECT` to lock its rows in a transaction (SQLite locks the
    /// whole database for a writing transaction instead).
    pub fn for_update(self) -> &'static str {
        match self {
            Engine::MySql | Engine::Postgres => " FOR UPDATE",
            Engine::Sqlite => "",
        }
    }
}

/// Migrations for each engine a store supports.
pub struct Migrations {
    pub mysql: Option<&'static Migrator>,
    pub postgres: Option<&'static Migrator>,
    pub sqlite: &'static Migrator,
}

pub struct Database {
    pool: AnyPool,
    engine: Engine,
    migrator: &'static Migrator,
    ready: OnceCell<()>,
}

impl Database {
    /// A small pool that connects on first use; SQLite files (and their folders) are created.
    pub fn connect_lazy(url: &StoreUrl, max_connections: u32, migrations: &Migrations) -> AppResult<Self> {
        Self::connect(url, max_connections, migrations, None)
    }

    /// Like [`Database::connect_lazy`], but on PostgreSQL everything (migrations
    /// included) lives in `schema`, created if missing: the transaction services
    /// share one database, a schema each. SQLite files need no schema.
    pub fn connect_lazy_in_schema(
        url: &StoreUrl,
        max_connections: u32,
        migrations: &Migrations,
        schema: &'static str,
    ) -> AppResult<Self> {
        if schema.is_empty() || !schema.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(AppError::internal(format!("`{schema}` is not a plain schema name")));
        }
        Self::connect(url, max_connections, migrations, Some(schema))
    }

    fn connect(
        url: &StoreUrl,
        max_connections: u32,
        migrations: &Migrations,
        schema: Option<&'static str>,
    ) -> AppResult<Self> {
        sqlx::any::install_default_drivers();
        let unsupported = || AppError::internal(format!("this store cannot use {}", url.redacted()));
        let (engine, url, migrator) = match url {
            StoreUrl::MySql(u) => (Engine::MySql, u.clone(), migrations.mysql.ok_or_else(unsupported)?),
            StoreUrl::Postgres(u) => (Engine::Postgres, u.clone(), migrations.postgres.ok_or_else(unsupported)?),
            StoreUrl::Sqlite(u) => (Engine::Sqlite, sqlite_url(u)?, migrations.sqlite),
            StoreUrl::MongoDb { .. } | StoreUrl::DynamoDb { .. } => return Err(unsupported()),
        };
        let mut options =
            AnyPoolOptions::new().max_connections(max_connections.max(1)).acquire_timeout(Duration::from_secs(5));
        if let (Engine::Postgres, Some(schema)) = (engine, schema) {
            options = options.after_connect(move |conn, _| {
                Box::pin(async move {
                    let sql = format!("CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(conn).await.map(|_| ())
                })
            });
        }
        let pool = options.connect_lazy(&url).map_err(sqlx_error)?;
        Ok(Self { pool, engine, migrator, ready: OnceCell::new() })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The pool, once this store's migrations have run.
    pub async fn pool(&self) -> AppResult<&AnyPool> {
        self.ready
            .get_or_try_init(|| async {
                // As the document stores do: in WAL mode readers do not wait for a
                // writer's commit (in the default rollback journal they do, which
                // under load kept reads waiting past callers' deadlines). The mode
                // is the file's, so setting it once serves every connection.
                if self.engine == Engine::Sqlite {
                    sqlx::raw_sql("PRAGMA journal_mode = WAL").execute(&self.pool).await.map_err(sqlx_error)?;
                }
                self.migrator.run(&self.pool).await.map_err(|e| match e {
                    sqlx::migrate::MigrateError::Execute(inner) => sqlx_error(inner),
                    other => AppError::internal(format!("migrations failed: {other}")),
                })
            })
            .await?;
        Ok(&self.pool)
    }

    pub async fn begin(&self) -> AppResult<sqlx::Transaction<'static, sqlx::Any>> {
        self.pool().await?.begin().await.map_err(sqlx_error)
    }

    /// A transaction that reads and then writes. A deferred SQLite transaction
    /// fails at once when another writer got in between; taking the write lock
    /// first makes it wait (busy timeout) instead.
    pub async fn begin_write(&self) -> AppResult<sqlx::Transaction<'static, sqlx::Any>> {
        let pool = self.pool().await?;
        let tx = match self.engine {
            Engine::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
            Engine::MySql | Engine::Postgres => pool.begin().await,
        };
        tx.map_err(sqlx_error)
    }
}

/// Which fixture sets were loaded into a store, so that the local server fills a
/// new shop once and never a store emptied on purpose. The stores that load
/// fixtures create the `fixture_loads` table (`name`, `loaded_at`) in their
/// migrations.
impl Database {
    pub async fn fixtures_loaded(&self, name: &str) -> AppResult<bool> {
        let row = sqlx::query("SELECT name FROM fixture_loads WHERE name = ?")
            .bind(name)
            .fetch_optional(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(row.is_some())
    }

    /// Records that the fixture set `name` was loaded (again: no change).
    pub async fn mark_fixtures_loaded(&self, name: &str) -> AppResult<()> {
        let sql = format!("{} INTO fixture_loads (name, loaded_at) VALUES (?, ?)", self.engine.insert_ignore());
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .bind(now_secs())
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(())
    }
}

/// Creates the file's folder and lets SQLite create the file (`mode=rwc`).
fn sqlite_url(url: &str) -> AppResult<String> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let (file, query) = path.split_once('?').unwrap_or((path, ""));
    if let Some(parent) = Path::new(file).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| AppError::internal(format!("cannot create {}: {e}", parent.display())))?;
    }
    if query.contains("mode=") {
        Ok(url.to_string())
    } else if query.is_empty() {
        Ok(format!("sqlite://{file}?mode=rwc"))
    } else {
        Ok(format!("sqlite://{file}?{query}&mode=rwc"))
    }
}

pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Seconds since the Unix epoch: times are stored as integers, the same on every engine.
pub fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// RFC 3339 for API responses.
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_gain_create_mode() {
        let dir = std::env::temp_dir().join("shop-sql-url");
        let url = format!("sqlite://{}/x.db", dir.display());
        assert_eq!(sqlite_url(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.exists());
        assert_eq!(sqlite_url("sqlite://x.db?mode=ro").unwrap(), "sqlite://x.db?mode=ro");
    }

    #[test]
    fn rfc3339_formats_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
