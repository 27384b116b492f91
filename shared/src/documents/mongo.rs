//! The MongoDB document store: one database per service on a shared instance.

use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document as BsonDocument, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, ReturnDocument, UpdateOptions};
use mongodb::{Client, Collection};
use serde_json::Value;
use tokio::sync::OnceCell;

use super::{Document, DocumentStore, Filter, Found, StockChange, StockMoves, id_of};
use crate::error::{AppError, AppResult};

pub struct MongoDocuments {
    url: String,
    database: String,
    collection: &'static str,
    max_pool_size: u32,
    handle: OnceCell<Collection<BsonDocument>>,
}

impl MongoDocuments {
    pub fn new(url: &str, database: &str, collection: &'static str, max_pool_size: u32) -> Self {
        Self { url: url.into(), database: database.into(), collection, max_pool_size, handle: OnceCell::new() }
    }

    /// The collection; the client is created on first use (parsing a `mongodb+srv`
    /// URL resolves DNS, which must not happen during init).
    async fn collection(&self) -> AppResult<&Collection<BsonDocument>> {
        self.handle
            .get_or_try_init(|| async {
                let mut options = ClientOptions::parse(&self.url).await.map_err(mongo_error)?;
                options.max_pool_size = Some(self.max_pool_size.max(1));
                options.server_selection_timeout = Some(Duration::from_secs(5));
                options.app_name.get_or_insert_with(|| "shop".to_string());
                let client = Client::with_options(options).map_err(mongo_error)?;
                Ok::<_, AppError>(client.database(&self.database).collection(self.collection))
            })
            .await
    }
}

fn mongo_error(error: mongodb::error::Error) -> AppError {
    match error.kind.as_ref() {
        ErrorKind::ServerSelection { .. } | ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } => {
            AppError::Unavailable {
                detail: "the database is not reachable; try again shortly".into(),
                retry_after_secs: 2,
            }
        }
        _ => AppError::internal(format!("MongoDB error: {error}")),
    }
}

fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    matches!(error.kind.as_ref(), ErrorKind::Write(WriteFailure::WriteError(e)) if e.code == 11000)
}

/// JSON `id` becomes MongoDB's `_id`, so the id is the primary key there too.
fn to_bson(doc: &Document) -> AppResult<BsonDocument> {
    let mut bson = mongodb::bson::to_document(doc).map_err(AppError::internal)?;
    if let Some(id) = bson.remove("id") {
        bson.insert("_id", id);
    }
    Ok(bson)
}

fn from_bson(mut bson: BsonDocument) -> AppResult<Document> {
    // The stock change keys are bookkeeping for `change_stock`, not part of the record.
    bson.remove("stock_moves");
    if let Some(id) = bson.remove("_id") {
        bson.insert("id", id);
    }
    match Bson::Document(bson).into_relaxed_extjson() {
        Value::Object(map) => Ok(map),
        _ => Err(AppError::internal("stored document is not an object")),
    }
}

#[async_trait]
impl DocumentStore for MongoDocuments {
    async fn insert(&self, doc: Document) -> AppResult<()> {
        let collection = self.collection().await?;
        match collection.insert_one(to_bson(&doc)?).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(AppError::Conflict(format!("`{}` exists already", id_of(&doc)?))),
            Err(e) => Err(mongo_error(e)),
        }
    }

    async fn insert_missing(&self, docs: Vec<Document>) -> AppResult<u64> {
        let collection = self.collection().await?;
        let mut added = 0;
        for doc in &docs {
            let mut bson = to_bson(doc)?;
            let id = bson.remove("_id").unwrap_or(Bson::Null);
            let result = collection
                .update_one(doc! { "_id": id }, doc! { "$setOnInsert": bson })
                .with_options(UpdateOptions::builder().upsert(true).build())
                .await
                .map_err(mongo_error)?;
            if result.upserted_id.is_some() {
                added += 1;
            }
        }
        Ok(added)
    }

    async fn get(&self, id: &str) -> AppResult<Option<Document>> {
        let collection = self.collection().await?;
        collection.find_one(doc! { "_id": id }).await.map_err(mongo_error)?.map(from_bson).transpose()
    }

    async fn replace(&self, doc: Document) -> AppResult<bool> {
        let collection = self.collection().await?;
        let id = id_of(&doc)?.to_string();
        // An update of the record's fields, not a replace: the stock change keys stay.
        let mut fields = to_bson(&doc)?;
        fields.remove("_id");
        let result = collection.update_one(doc! { "_id": id }, doc! { "$set": fields }).await.map_err(mongo_error)?;
        Ok(result.matched_count > 0)
    }

    async fn delete(&self, id: &str) -> AppResult<bool> {
        let collection = self.collection().await?;
        let result = collection.delete_one(doc! { "_id": id }).await.map_err(mongo_error)?;
        Ok(result.deleted_count > 0)
    }

    async fn find(&self, filter: &Filter, offset: u64, limit: u64) -> AppResult<Found> {
        let collection = self.collection().await?;
        let query = filter.to_bson();
        let count = collection.count_documents(query.clone());
        let page = async {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let cursor =
                collection.find(query.clone()).sort(doc! { "_id": -1 }).skip(offset).limit(limit as i64).await?;
            cursor.try_collect::<Vec<_>>().await
        };
        let (count, page) = tokio::join!(count, page);
        let documents = page.map_err(mongo_error)?.into_iter().map(from_bson).collect::<AppResult<Vec<_>>>()?;
        Ok(Found { count: count.map_err(mongo_error)?, documents })
    }

    /// One conditional update: the stock must cover the change and the key must not
    /// be among the keys the document remembers (the last 500 changes).
    async fn change_stock(&self, id: &str, delta: i64, key: &str) -> AppResult<StockChange> {
        let collection = self.collection().await?;
        let move_doc = doc! { "key": key, "delta": delta };
        let updated = collection
            .find_one_and_update(
                doc! { "_id": id, "stock": { "$gte": -delta }, "stock_moves.key": { "$ne": key } },
                doc! { "$inc": { "stock": delta }, "$push": { "stock_moves": { "$each": [move_doc], "$slice": -(REMEMBERED_MOVES as i64) } } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(mongo_error)?;
        if let Some(doc) = updated {
            return Ok(StockChange::Applied { stock: stock_of(&doc), replayed: false });
        }
        let Some(current) = collection.find_one(doc! { "_id": id }).await.map_err(mongo_error)? else {
            return Ok(StockChange::Missing);
        };
        let earlier = current.get_array("stock_moves").ok().and_then(|moves| {
            moves.iter().filter_map(Bson::as_document).find(|m| m.get_str("key").ok() == Some(key)).cloned()
        });
        match earlier {
            Some(m) if m.get_i64("delta").ok() == Some(delta) => {
                Ok(StockChange::Applied { stock: stock_of(&current), replayed: true })
            }
            Some(_) => Err(AppError::Conflict(format!("stock change `{key}` was made already with other values"))),
            None => Ok(StockChange::Insufficient { stock: stock_of(&current) }),
        }
    }

    async fn stock_moves(&self, id: &str) -> AppResult<StockMoves> {
        let collection = self.collection().await?;
        let Some(doc) = collection.find_one(doc! { "_id": id }).await.map_err(mongo_error)? else {
            return Ok(StockMoves { moves: Vec::new(), complete: true });
        };
        let moves: Vec<(String, i64)> = doc
            .get_array("stock_moves")
            .map(|moves| {
                moves
                    .iter()
                    .filter_map(Bson::as_document)
                    .filter_map(|m| Some((m.get_str("key").ok()?.to_string(), m.get_i64("delta").ok()?)))
                    .collect()
            })
            .unwrap_or_default();
        let complete = moves.len() < REMEMBERED_MOVES;
        Ok(StockMoves { moves, complete })
    }
}

/// How many stock changes a document remembers (`$slice` in `change_stock`).
const REMEMBERED_MOVES: usize = 500;

fn stock_of(doc: &BsonDocument) -> i64 {
    match doc.get("stock") {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs without a MongoDB server: the real driver against a port nothing
    /// listens on gives up at server selection, which callers see as a 503.
    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_not_an_internal_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let store = MongoDocuments::new(&format!("mongodb://127.0.0.1:{port}/"), "books", "items", 1);
        for result in [store.get("book_1").await.map(|_| ()), store.insert(Document::new()).await] {
            match result {
                Err(AppError::Unavailable { retry_after_secs, .. }) => assert!(retry_after_secs >= 1),
                other => panic!("expected a 503, got {other:?}"),
            }
        }
    }
}
