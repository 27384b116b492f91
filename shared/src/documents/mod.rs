//! The document store port: JSON records with a string `id`, found by a small
//! filter description that each adapter translates (BSON for MongoDB, SQL over
//! JSON for the embedded SQLite store).

mod filter;
mod mongo;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

pub use filter::{Condition, Filter, FilterValue, Op};
pub use mongo::MongoDocuments;
pub use sqlite::SqliteDocuments;

use crate::error::{AppError, AppResult};
use crate::store::StoreUrl;

pub type Document = Map<String, Value>;

/// One window of matching documents and how many match in all.
#[derive(Debug, Default)]
pub struct Found {
    pub count: u64,
    pub documents: Vec<Document>,
}

/// [`Found`] with each document as its JSON text, for answers that pass the
/// documents on unchanged (a page of a list).
#[derive(Debug)]
pub struct FoundJson {
    pub count: u64,
    pub documents: Vec<Box<RawValue>>,
}

/// The outcome of a conditional stock change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockChange {
    /// Applied now, or earlier under the same key (then nothing moved this time).
    Applied {
        stock: i64,
        replayed: bool,
    },
    /// Not applied: it would take stock below zero.
    Insufficient {
        stock: i64,
    },
    Missing,
}

/// What one collection holds and what its queries need, so each adapter can
/// prepare for them: MongoDB creates the indexes on first use, both stores
/// enforce the unique fields, and MongoDB reads the integer fields tolerantly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collection {
    /// The MongoDB collection, or the collection key in the embedded store's one table.
    pub name: &'static str,
    /// Top-level fields searches filter on: an index each on MongoDB, so a search
    /// of a large collection does not read every document.
    pub indexed: Vec<&'static str>,
    /// Text fields no two documents may share when set (an ISBN): a unique index,
    /// and a conflict naming the field and the document that has the value.
    pub unique: Vec<&'static str>,
    /// Top-level fields written as integers. MongoDB hands them back as integers
    /// even when another writer stored an Int32 or a whole Double.
    pub integers: Vec<String>,
    /// Whether stock changes happen here: their keys are indexed on MongoDB.
    pub stock: bool,
}

impl Collection {
    /// A collection with no index, unique field or integer field of its own.
    pub fn named(name: &'static str) -> Self {
        Self { name, ..Self::default() }
    }
}

/// The stock changes a document remembers, by key (what `change_stock` made).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StockMoves {
    /// `(key, delta)`, in no particular order.
    pub moves: Vec<(String, i64)>,
    /// False when older moves may have been let go (MongoDB keeps the last 500).
    pub complete: bool,
}

/// Lists are ordered newest first by id (ids carry a ULID, which sorts by time).
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Adds a new document; an existing id is a conflict.
    async fn insert(&self, doc: Document) -> AppResult<()>;
    /// Adds the documents whose ids are not there yet and returns how many it added;
    /// existing documents are left as they are, so loading twice changes nothing.
    async fn insert_missing(&self, docs: Vec<Document>) -> AppResult<u64>;
    async fn get(&self, id: &str) -> AppResult<Option<Document>>;
    /// Replaces the document with the same id; false when there is none.
    async fn replace(&self, doc: Document) -> AppResult<bool>;
    async fn delete(&self, id: &str) -> AppResult<bool>;
    async fn find(&self, filter: &Filter, offset: u64, limit: u64) -> AppResult<Found>;
    /// [`DocumentStore::find`] with the documents as JSON text. A store that keeps
    /// JSON text hands it over as it is, instead of parsing it into a map that
    /// would only be written out again.
    async fn find_json(&self, filter: &Filter, offset: u64, limit: u64) -> AppResult<FoundJson> {
        let found = self.find(filter, offset, limit).await?;
        let documents = found
            .documents
            .iter()
            .map(serde_json::value::to_raw_value)
            .collect::<Result<_, _>>()
            .map_err(AppError::internal)?;
        Ok(FoundJson { count: found.count, documents })
    }
    /// Adds `delta` (negative to reserve) to the document's `stock` if the result is
    /// not negative, atomically, at most once per `key` in the collection (a key
    /// used for another document is a conflict).
    async fn change_stock(&self, id: &str, delta: i64, key: &str) -> AppResult<StockChange>;
    /// The stock changes recorded for the document, for audits: which orders'
    /// reservations and releases its stock went through.
    async fn stock_moves(&self, id: &str) -> AppResult<StockMoves>;
}

/// The adapter the URL names, holding `collection`. Nothing is connected yet.
pub fn open(url: &StoreUrl, collection: Collection, max_connections: u32) -> AppResult<Arc<dyn DocumentStore>> {
    assert!(
        filter::is_plain_field(collection.name)
            && collection.indexed.iter().chain(&collection.unique).all(|f| filter::is_plain_field(f))
            && collection.integers.iter().all(|f| filter::is_plain_field(f)),
        "collection and field names are plain names: {collection:?}"
    );
    match url {
        StoreUrl::Sqlite(url) => {
            Ok(Arc::new(SqliteDocuments::new(crate::store::sqlite_pool(url, max_connections)?, collection)))
        }
        StoreUrl::MongoDb { url, database } => {
            Ok(Arc::new(MongoDocuments::new(url, database, collection, max_connections)))
        }
        other => Err(AppError::internal(format!("a document store cannot use {}", other.redacted()))),
    }
}

/// The conflict for a unique field's value that another document has.
pub(crate) fn taken(field: &str, value: &str, holder: &str) -> AppError {
    AppError::Conflict(format!("`{field}` {value} belongs to `{holder}` already"))
}

/// A write refused as a duplicate where no other document has `doc`'s unique
/// values: its id exists (on create), or a racing write took a value and left.
pub(crate) fn duplicate(doc: &Document, unique: &[&str], creating: bool) -> AppError {
    match id_of(doc) {
        Ok(id) if creating => AppError::Conflict(format!("`{id}` exists already")),
        _ => AppError::Conflict(format!("another record has the same {}", unique.join(", "))),
    }
}

/// The id of a document, which every stored document has.
pub fn id_of(doc: &Document) -> AppResult<&str> {
    doc.get("id").and_then(Value::as_str).ok_or_else(|| AppError::internal("document without a string id"))
}
