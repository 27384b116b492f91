//! Choosing a store adapter from a URL, and the embedded SQLite default.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::config::{ConfigError, Env};
use crate::error::AppError;

/// Where a service keeps its data, parsed from its `*_DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(String),
    MongoDb {
        url: String,
        database: String,
    },
    MySql(String),
    Postgres(String),
    /// `dynamodb://<table>`; the endpoint comes from the AWS configuration
    /// (`AWS_ENDPOINT_URL_DYNAMODB` for a local or test endpoint).
    DynamoDb {
        table: String,
    },
}

impl StoreUrl {
    /// Reads `var`; without it, outside Lambda, the embedded SQLite file
    /// `<LOCAL_DATA_DIR>/<service>.db`. Inside Lambda the disk does not last, so a
    /// missing URL is an error unless `LOCAL_DATA_DIR` asks for embedded stores on
    /// purpose (as `cargo lambda watch` does; a deployment never sets it).
    pub fn from_env(env: &Env, var: &str, service: &str) -> Result<Self, ConfigError> {
        match env.get(var) {
            Some(url) => Self::parse(url, service).map_err(|why| ConfigError::Invalid { name: var.into(), why }),
            None if env.in_lambda() && env.get("LOCAL_DATA_DIR").is_none() => Err(ConfigError::Missing {
                name: var.into(),
                why: format!("the {service} function needs a database URL"),
            }),
            None => {
                let path = env.local_data_dir().join(format!("{service}.db"));
                Ok(Self::Sqlite(format!("sqlite://{}", path.display())))
            }
        }
    }

    /// `default_database` names the MongoDB database when the URL has no path.
    pub fn parse(url: &str, default_database: &str) -> Result<Self, String> {
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Self::Sqlite(url.to_string())),
            "mongodb" | "mongodb+srv" => {
                let rest = &url[scheme.len() + 3..];
                let database = rest
                    .split_once('/')
                    .map(|(_, path)| path.split('?').next().unwrap_or(""))
                    .filter(|db| !db.is_empty())
                    .unwrap_or(default_database);
                Ok(Self::MongoDb { url: url.to_string(), database: database.to_string() })
            }
            "mysql" | "mariadb" => Ok(Self::MySql(url.to_string())),
            "postgres" | "postgresql" => Ok(Self::Postgres(url.to_string())),
            "dynamodb" => {
                let table = url["dynamodb://".len()..].trim_end_matches('/');
                let valid = (3..=255).contains(&table.len())
                    && table.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
                if valid {
                    Ok(Self::DynamoDb { table: table.to_string() })
                } else {
                    Err("dynamodb:// needs a table name".into())
                }
            }
            _ => Err("use a sqlite://, mongodb://, mysql://, postgres:// or dynamodb:// URL".into()),
        }
    }

    /// The URL without credentials, for logs.
    pub fn redacted(&self) -> String {
        let url = match self {
            Self::Sqlite(u) | Self::MongoDb { url: u, .. } | Self::MySql(u) | Self::Postgres(u) => u,
            Self::DynamoDb { table } => return format!("dynamodb://{table}"),
        };
        match (url.split_once("://"), url.rfind('@')) {
            (Some((scheme, _)), Some(at)) => format!("{scheme}://***@{}", &url[at + 1..]),
            _ => url.clone(),
        }
    }
}

/// A small SQLite pool that opens its file on first use (not during init), in WAL
/// mode so readers do not wait for a writer.
pub fn sqlite_pool(url: &str, max_connections: u32) -> Result<SqlitePool, AppError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| AppError::internal(format!("bad SQLite URL: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    if let Some(parent) = Path::new(options.get_filename()).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| AppError::internal(format!("cannot create {}: {e}", parent.display())))?;
    }
    Ok(SqlitePoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options))
}

/// Store failures as problems: an unreachable database is a 503 the client may retry.
pub fn sqlx_error(error: sqlx::Error) -> AppError {
    match &error {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
            AppError::Unavailable {
                detail: "the database is not reachable; try again shortly".into(),
                retry_after_secs: 2,
            }
        }
        sqlx::Error::Database(db) if db.message().contains("database is locked") => {
            AppError::Unavailable { detail: "the database is busy; try again shortly".into(), retry_after_secs: 1 }
        }
        _ => AppError::internal(format!("database error: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_adapters() {
        assert_eq!(
            StoreUrl::parse("mongodb://u:p@db:27017/books?authSource=admin", "x").unwrap(),
            StoreUrl::MongoDb { url: "mongodb://u:p@db:27017/books?authSource=admin".into(), database: "books".into() }
        );
        assert_eq!(
            StoreUrl::parse("mongodb://db:27017", "laptops").unwrap(),
            StoreUrl::MongoDb { url: "mongodb://db:27017".into(), database: "laptops".into() }
        );
        assert!(matches!(StoreUrl::parse("sqlite://x.db", "x").unwrap(), StoreUrl::Sqlite(_)));
        assert!(StoreUrl::parse("redis://x", "x").is_err());
        assert_eq!(
            StoreUrl::parse("dynamodb://shop-guests", "x").unwrap(),
            StoreUrl::DynamoDb { table: "shop-guests".into() }
        );
        assert!(StoreUrl::parse("dynamodb://", "x").is_err());
    }

    #[test]
    fn missing_url_means_embedded_locally_and_error_in_lambda() {
        let local =
            StoreUrl::from_env(&Env::from_pairs([("LOCAL_DATA_DIR", "/tmp/d")]), "BOOK_DATABASE_URL", "book").unwrap();
        assert_eq!(local, StoreUrl::Sqlite("sqlite:///tmp/d/book.db".into()));
        let lambda = Env::from_pairs([("AWS_LAMBDA_FUNCTION_NAME", "book")]);
        assert!(StoreUrl::from_env(&lambda, "BOOK_DATABASE_URL", "book").is_err());
        let watched = Env::from_pairs([("AWS_LAMBDA_FUNCTION_NAME", "book"), ("LOCAL_DATA_DIR", "local/data/watch")]);
        let watched = StoreUrl::from_env(&watched, "BOOK_DATABASE_URL", "book").unwrap();
        assert_eq!(watched, StoreUrl::Sqlite("sqlite://local/data/watch/book.db".into()), "an explicit opt-in");
    }

    #[test]
    fn redaction_hides_credentials() {
        let url = StoreUrl::parse("mongodb://user:secret@db:27017/books", "b").unwrap();
        assert_eq!(url.redacted(), "mongodb://***@db:27017/books");
    }
}
