//! What MongoDB tests do behind the store's back: write values as other tools
//! would (an Int32 or a Double where the store writes an Int64) and list the
//! indexes the store created.

use mongodb::bson::{Bson, Document, doc};
use mongodb::{Client, Collection};

use crate::store::StoreUrl;

/// A number as another writer may have stored it.
#[derive(Debug, Clone, Copy)]
pub enum ForeignNumber {
    Int32(i32),
    Double(f64),
}

impl From<ForeignNumber> for Bson {
    fn from(number: ForeignNumber) -> Self {
        match number {
            ForeignNumber::Int32(n) => Bson::Int32(n),
            ForeignNumber::Double(f) => Bson::Double(f),
        }
    }
}

async fn collection(url: &StoreUrl, name: &str) -> Collection<Document> {
    let StoreUrl::MongoDb { url, database } = url else { panic!("not a MongoDB store: {}", url.redacted()) };
    let client = Client::with_uri_str(url).await.expect("a MongoDB client");
    client.database(database).collection(name)
}

/// Sets `field` of document `id` to `number`, in that BSON type.
pub async fn store_number_as(url: &StoreUrl, collection_name: &str, id: &str, field: &str, number: ForeignNumber) {
    let mut set = Document::new();
    set.insert(field, Bson::from(number));
    let done = collection(url, collection_name).await.update_one(doc! { "_id": id }, doc! { "$set": set }).await;
    assert_eq!(done.expect("an update").matched_count, 1, "no document `{id}`");
}

/// Remembers a stock change `key` on document `id` with its `delta` in another number type.
pub async fn store_stock_move_as(url: &StoreUrl, collection_name: &str, id: &str, key: &str, delta: ForeignNumber) {
    let entry = doc! { "key": key, "delta": Bson::from(delta) };
    let done = collection(url, collection_name)
        .await
        .update_one(doc! { "_id": id }, doc! { "$push": { "stock_moves": entry } })
        .await;
    assert_eq!(done.expect("an update").matched_count, 1, "no document `{id}`");
}

/// The BSON type name of `field` in document `id` as stored (`"long"`, `"int"`, `"double"`).
pub async fn stored_type(url: &StoreUrl, collection_name: &str, id: &str, field: &str) -> Option<&'static str> {
    let found = collection(url, collection_name).await.find_one(doc! { "_id": id }).await.expect("a read")?;
    Some(match found.get(field)? {
        Bson::Int64(_) => "long",
        Bson::Int32(_) => "int",
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        _ => "other",
    })
}

/// The collection's indexes as `(keys, unique)`, keys like `isbn` or
/// `publication_year`, sorted. Names are left out: MongoDB names an index
/// `<field>_1`, but servers that speak its protocol name them their own way.
pub async fn index_keys(url: &StoreUrl, collection_name: &str) -> Vec<(String, bool)> {
    use futures::TryStreamExt;
    let indexes: Vec<_> = collection(url, collection_name)
        .await
        .list_indexes()
        .await
        .expect("listIndexes")
        .try_collect()
        .await
        .expect("the index list");
    let mut keys: Vec<(String, bool)> = indexes
        .into_iter()
        .map(|index| {
            let keys = index.keys.keys().cloned().collect::<Vec<_>>().join(",");
            (keys, index.options.and_then(|o| o.unique).unwrap_or(false))
        })
        .collect();
    keys.sort();
    keys
}
