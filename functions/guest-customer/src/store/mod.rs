//! The guest store port and its adapters: embedded SQLite (local, tests) and
//! DynamoDB (deployed, where sessions expire by the table's TTL).
//!
//! Every write that depends on a session's state (live, not converted) carries
//! that condition into the store, so a request racing a conversion or a DELETE
//! cannot slip an entry in or bring the session back to life.

mod dynamo;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use shared::error::{AppError, AppResult};
use shared::store::StoreUrl;

pub use dynamo::DynamoGuests;
pub use sqlite::SqliteGuests;

use crate::history::HistoryEntry;

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub converted_to: Option<String>,
    pub history_count: u64,
}

impl SessionRecord {
    pub fn is_live(&self, now: i64) -> bool {
        self.converted_to.is_none() && self.expires_at > now
    }
}

/// A session to add, without history counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id: String,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What an attempt to convert a session found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conversion {
    /// This call converted the session.
    Converted,
    /// An earlier call converted it, to this customer.
    AlreadyConverted(String),
    /// It had expired before anyone converted it.
    Expired,
    Missing,
}

#[async_trait]
pub trait GuestStore: Send + Sync {
    /// Adds a session with its history (oldest first); false when its id exists.
    async fn insert(&self, session: &NewSession, history: &[HistoryEntry]) -> AppResult<bool>;
    async fn get(&self, id: &str) -> AppResult<Option<SessionRecord>>;
    /// Moves the expiry of a session that is live at `now` (to extend it, or to
    /// end it with `expires_at = now`); false when it is missing, expired or converted.
    async fn set_expiry(&self, id: &str, expires_at: i64, now: i64) -> AppResult<bool>;
    /// Appends an entry to a session live at `now`, dropping the oldest beyond
    /// [`crate::history::MAX_ENTRIES`]; false when it is not live.
    async fn add_history(&self, id: &str, entry: &HistoryEntry, now: i64) -> AppResult<bool>;
    /// A window of the history, newest first, and how many entries there are.
    async fn history_page(&self, id: &str, offset: u64, limit: u64) -> AppResult<(u64, Vec<HistoryEntry>)>;
    /// The whole history, oldest first.
    async fn history(&self, id: &str) -> AppResult<Vec<HistoryEntry>>;
    /// Marks a session live at `now` as converted into `customer_id`; of two
    /// concurrent conversions exactly one wins.
    async fn convert(&self, id: &str, customer_id: &str, now: i64) -> AppResult<Conversion>;
    /// Whether the fixture sessions were loaded into this store once already, so
    /// that expired or removed fixture sessions are not loaded again.
    async fn fixtures_loaded(&self) -> AppResult<bool>;
    async fn mark_fixtures_loaded(&self) -> AppResult<()>;
}

/// The adapter the URL names. Nothing connects here: both adapters open their
/// connection on first use, so a function's init stays fast and cannot fail on
/// a database that is briefly unreachable.
pub fn open(url: &StoreUrl, max_connections: u32) -> AppResult<Arc<dyn GuestStore>> {
    match url {
        StoreUrl::Sqlite(_) => Ok(Arc::new(SqliteGuests::connect_lazy(url, max_connections)?)),
        StoreUrl::DynamoDb { table } => Ok(Arc::new(DynamoGuests::new(table))),
        other => Err(AppError::internal(format!("the guest store cannot use {}", other.redacted()))),
    }
}

/// The window `[offset, offset + limit)` of `entries` (oldest first), newest first.
pub(crate) fn newest_first_window(entries: &[HistoryEntry], offset: u64, limit: u64) -> Vec<HistoryEntry> {
    entries
        .iter()
        .rev()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .cloned()
        .collect()
}
