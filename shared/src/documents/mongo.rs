//! The MongoDB document store: one database per service on a shared instance.

use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document as BsonDocument, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument, UpdateOptions};
use mongodb::{Client, IndexModel};
use serde_json::Value;
use tokio::sync::OnceCell;

use super::{Collection, Document, DocumentStore, Filter, Found, StockChange, StockMoves, duplicate, id_of, taken};
use crate::error::{AppError, AppResult};

type MongoCollection = mongodb::Collection<BsonDocument>;

pub struct MongoDocuments {
    url: String,
    database: String,
    spec: Collection,
    max_pool_size: u32,
    handle: OnceCell<MongoCollection>,
}

impl MongoDocuments {
    pub fn new(url: &str, database: &str, spec: Collection, max_pool_size: u32) -> Self {
        Self { url: url.into(), database: database.into(), spec, max_pool_size, handle: OnceCell::new() }
    }

    /// The collection, with its indexes. The client is created on first use
    /// (parsing a `mongodb+srv` URL resolves DNS, which must not happen during
    /// init), and so are the indexes: `createIndexes` answers at once for indexes
    /// that exist, so each cold start pays one short round trip on its first request.
    async fn collection(&self) -> AppResult<&MongoCollection> {
        self.handle
            .get_or_try_init(|| async {
                let mut options = ClientOptions::parse(&self.url).await.map_err(mongo_error)?;
                options.max_pool_size = Some(self.max_pool_size.max(1));
                options.server_selection_timeout = Some(Duration::from_secs(5));
                options.app_name.get_or_insert_with(|| "shop".to_string());
                let client = Client::with_options(options).map_err(mongo_error)?;
                let collection = client.database(&self.database).collection(self.spec.name);
                self.create_indexes(&collection).await?;
                Ok::<_, AppError>(collection)
            })
            .await
    }

    /// Creates [`index_models`] in one command; if that fails for another reason
    /// than an unreachable server (no `createIndex` privilege, an index of the same
    /// name with other options, existing documents sharing a unique value), each
    /// index is tried alone and the ones that fail are logged: queries still work
    /// without them, only slower, and unique fields are still checked before writes.
    async fn create_indexes(&self, collection: &MongoCollection) -> AppResult<()> {
        let models = index_models(&self.spec);
        if models.is_empty() {
            return Ok(());
        }
        match collection.create_indexes(models.clone()).await {
            Ok(_) => return Ok(()),
            Err(e) if is_unreachable(&e) => return Err(mongo_error(e)),
            Err(_) => {}
        }
        for model in models {
            let keys = model.keys.clone();
            match collection.create_index(model).await {
                Ok(_) => {}
                Err(e) if is_unreachable(&e) => return Err(mongo_error(e)),
                Err(e) => tracing::error!(collection = self.spec.name, %keys, error = %e, "could not create an index"),
            }
        }
        Ok(())
    }

    /// A conflict if another document has one of `doc`'s unique values.
    async fn check_unique(&self, collection: &MongoCollection, doc: &Document) -> AppResult<()> {
        for field in &self.spec.unique {
            let Some(value) = doc.get(*field).and_then(Value::as_str) else { continue };
            let id = id_of(doc)?;
            let mut query = doc! { "_id": { "$ne": id } };
            query.insert(*field, value);
            let holder = collection.find_one(query).projection(doc! { "_id": 1 }).await.map_err(mongo_error)?;
            if let Some(holder) = holder {
                return Err(taken(field, value, holder.get_str("_id").unwrap_or_default()));
            }
        }
        Ok(())
    }

    /// A duplicate key when writing `doc`: its id, or (raced past
    /// [`Self::check_unique`]) a unique field.
    async fn conflict(&self, collection: &MongoCollection, doc: &Document, creating: bool) -> AppError {
        if let Err(conflict) = self.check_unique(collection, doc).await {
            return conflict;
        }
        duplicate(doc, &self.spec.unique, creating)
    }

    fn read(&self, bson: BsonDocument) -> AppResult<Document> {
        from_bson(bson, &self.spec.integers)
    }
}

/// The indexes `spec`'s queries need: one per searched field, a unique one per
/// unique field (partial, so any number of documents may leave it unset), and
/// one on the stock change keys. Lists sort by `_id`, which MongoDB always indexes.
pub fn index_models(spec: &Collection) -> Vec<IndexModel> {
    let mut models: Vec<IndexModel> = spec
        .unique
        .iter()
        .map(|field| {
            let mut keys = BsonDocument::new();
            keys.insert(*field, 1);
            let mut only_set = BsonDocument::new();
            only_set.insert(*field, doc! { "$type": "string" });
            let options = IndexOptions::builder().unique(true).partial_filter_expression(only_set).build();
            IndexModel::builder().keys(keys).options(options).build()
        })
        .collect();
    let mut plain: Vec<&str> = spec.indexed.iter().copied().filter(|f| !spec.unique.contains(f)).collect();
    if spec.stock {
        plain.push("stock_moves.key");
    }
    let mut seen = Vec::new();
    for field in plain {
        if !seen.contains(&field) {
            seen.push(field);
            let mut keys = BsonDocument::new();
            keys.insert(field, 1);
            models.push(IndexModel::builder().keys(keys).build());
        }
    }
    models
}

fn is_unreachable(error: &mongodb::error::Error) -> bool {
    matches!(
        error.kind.as_ref(),
        ErrorKind::ServerSelection { .. } | ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. }
    )
}

fn mongo_error(error: mongodb::error::Error) -> AppError {
    if is_unreachable(&error) {
        return AppError::Unavailable {
            detail: "the database is not reachable; try again shortly".into(),
            retry_after_secs: 2,
        };
    }
    AppError::internal(format!("MongoDB error: {error}"))
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

/// A stored document as JSON. The `integers` fields come back as integers
/// whatever numeric type holds them, as long as they are whole: this store
/// writes Int64, but another tool, a migration or a hand edit may write an Int32
/// or a Double, and such a record must still read (and sell) like any other.
pub(crate) fn from_bson(mut bson: BsonDocument, integers: &[String]) -> AppResult<Document> {
    // The stock change keys are bookkeeping for `change_stock`, not part of the record.
    bson.remove("stock_moves");
    // `id` first, where the embedded store (and the create answer) has it.
    if let Some(id) = bson.remove("_id") {
        let mut with_id = doc! { "id": id };
        with_id.extend(bson);
        bson = with_id;
    }
    for field in integers {
        if let Some(value) = bson.get_mut(field)
            && let Some(n) = whole_number(value)
        {
            *value = Bson::Int64(n);
        }
    }
    match Bson::Document(bson).into_relaxed_extjson() {
        Value::Object(map) => Ok(map),
        _ => Err(AppError::internal("stored document is not an object")),
    }
}

/// The value as a whole number, whichever BSON number type holds it (2.0 is the
/// whole number 2, as the API reads JSON).
pub(crate) fn whole_number(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int64(n) => Some(*n),
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Double(f) if f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64 => Some(*f as i64),
        _ => None,
    }
}

/// How many stock changes a document remembers (`$slice` in `change_stock`).
const REMEMBERED_MOVES: usize = 500;

/// Units in stock: a missing or non-numeric stock is none, a fraction counts whole units.
pub(crate) fn stock_of(doc: &BsonDocument) -> i64 {
    match doc.get("stock") {
        Some(Bson::Double(f)) if f.is_finite() && f.fract() != 0.0 => f.floor() as i64,
        Some(value) => whole_number(value).unwrap_or(0),
        None => 0,
    }
}

#[async_trait]
impl DocumentStore for MongoDocuments {
    async fn insert(&self, doc: Document) -> AppResult<()> {
        let collection = self.collection().await?;
        self.check_unique(collection, &doc).await?;
        match collection.insert_one(to_bson(&doc)?).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(self.conflict(collection, &doc, true).await),
            Err(e) => Err(mongo_error(e)),
        }
    }

    /// A document whose unique value another has is left out, like one whose id is there.
    async fn insert_missing(&self, docs: Vec<Document>) -> AppResult<u64> {
        let collection = self.collection().await?;
        let mut added = 0;
        for doc in &docs {
            let mut bson = to_bson(doc)?;
            let id = bson.remove("_id").unwrap_or(Bson::Null);
            let result = collection
                .update_one(doc! { "_id": id }, doc! { "$setOnInsert": bson })
                .with_options(UpdateOptions::builder().upsert(true).build())
                .await;
            match result {
                Ok(result) if result.upserted_id.is_some() => added += 1,
                Ok(_) => {}
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(mongo_error(e)),
            }
        }
        Ok(added)
    }

    async fn get(&self, id: &str) -> AppResult<Option<Document>> {
        let collection = self.collection().await?;
        collection.find_one(doc! { "_id": id }).await.map_err(mongo_error)?.map(|d| self.read(d)).transpose()
    }

    async fn replace(&self, doc: Document) -> AppResult<bool> {
        let collection = self.collection().await?;
        self.check_unique(collection, &doc).await?;
        let id = id_of(&doc)?.to_string();
        // An update of the record's fields, not a replace: the stock change keys stay.
        let mut fields = to_bson(&doc)?;
        fields.remove("_id");
        match collection.update_one(doc! { "_id": id }, doc! { "$set": fields }).await {
            Ok(result) => Ok(result.matched_count > 0),
            Err(e) if is_duplicate_key(&e) => Err(self.conflict(collection, &doc, false).await),
            Err(e) => Err(mongo_error(e)),
        }
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
        let documents = page.map_err(mongo_error)?.into_iter().map(|d| self.read(d)).collect::<AppResult<Vec<_>>>()?;
        Ok(Found { count: count.map_err(mongo_error)?, documents })
    }

    /// One conditional update: the stock must cover the change and the key must not
    /// be among the keys the document remembers (the last 500 changes). A key
    /// another document remembers is refused first, as the embedded store refuses
    /// it (an indexed lookup; keys name their item, so this is a caller's mistake).
    async fn change_stock(&self, id: &str, delta: i64, key: &str) -> AppResult<StockChange> {
        let collection = self.collection().await?;
        let elsewhere = collection
            .find_one(doc! { "stock_moves.key": key, "_id": { "$ne": id } })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(mongo_error)?;
        if elsewhere.is_some() {
            return Err(AppError::Conflict(format!("stock change `{key}` was made already with other values")));
        }
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
            Some(m) if m.get("delta").and_then(whole_number) == Some(delta) => {
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
                    .filter_map(|m| Some((m.get_str("key").ok()?.to_string(), m.get("delta").and_then(whole_number)?)))
                    .collect()
            })
            .unwrap_or_default();
        let complete = moves.len() < REMEMBERED_MOVES;
        Ok(StockMoves { moves, complete })
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
        let store =
            MongoDocuments::new(&format!("mongodb://127.0.0.1:{port}/"), "books", Collection::named("items"), 1);
        for result in [store.get("book_1").await.map(|_| ()), store.insert(Document::new()).await] {
            match result {
                Err(AppError::Unavailable { retry_after_secs, .. }) => assert!(retry_after_secs >= 1),
                other => panic!("expected a 503, got {other:?}"),
            }
        }
    }

    #[test]
    fn integer_fields_read_as_integers_whatever_number_type_holds_them() {
        let stored = doc! {
            "_id": "book_1", "stock": 7_i32, "price": 1999.0_f64, "pages": 12_i64, "ratio": 2.0_f64,
            "year": 2001.5_f64, "stock_moves": [{ "key": "k", "delta": -1_i32 }],
        };
        let read = from_bson(stored, &["stock", "price", "pages", "year"].map(String::from)).unwrap();
        assert_eq!(read["id"], "book_1");
        for field in ["stock", "price", "pages"] {
            assert!(read[field].is_i64(), "{field}: {}", read[field]);
        }
        assert_eq!((read["stock"].as_i64(), read["price"].as_i64()), (Some(7), Some(1999)));
        assert!(read["ratio"].is_f64(), "a float field stays a float");
        assert_eq!(read["year"], 2001.5, "a fraction is not an integer: left for validation to name");
        assert!(read.get("stock_moves").is_none());
    }

    #[test]
    fn stock_and_deltas_read_from_every_number_type() {
        for (stock, units) in [
            (Bson::Int64(5), 5),
            (Bson::Int32(5), 5),
            (Bson::Double(5.0), 5),
            (Bson::Double(4.5), 4),
            (Bson::String("5".into()), 0),
        ] {
            assert_eq!(stock_of(&doc! { "stock": stock.clone() }), units, "{stock:?}");
        }
        assert_eq!(stock_of(&doc! {}), 0);
        for delta in [Bson::Int64(-2), Bson::Int32(-2), Bson::Double(-2.0)] {
            assert_eq!(whole_number(&delta), Some(-2), "{delta:?}");
        }
        assert_eq!(whole_number(&Bson::Double(-2.5)), None);
    }

    #[test]
    fn indexes_cover_searched_unique_and_stock_key_fields_once() {
        let spec = Collection {
            name: "books",
            indexed: vec!["name", "price", "isbn", "storage_gb", "storage_gb"],
            unique: vec!["isbn"],
            integers: vec![],
            stock: true,
        };
        let models = index_models(&spec);
        let keys: Vec<String> = models.iter().map(|m| m.keys.to_string()).collect();
        assert_eq!(
            keys,
            [
                r#"{ "isbn": 1 }"#,
                r#"{ "name": 1 }"#,
                r#"{ "price": 1 }"#,
                r#"{ "storage_gb": 1 }"#,
                r#"{ "stock_moves.key": 1 }"#
            ]
        );
        let unique = models[0].options.as_ref().unwrap();
        assert_eq!(unique.unique, Some(true));
        assert_eq!(unique.partial_filter_expression, Some(doc! { "isbn": { "$type": "string" } }));
        assert!(index_models(&Collection::named("registry")).is_empty());
    }
}
