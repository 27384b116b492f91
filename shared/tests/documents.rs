//! The document store port on each adapter: what the catalog relies on beyond
//! its own tests, with records no API would write (a stock left out).

use serde_json::{Value, json};
use shared::AppError;
use shared::documents::{self, Collection, Document, Filter, FilterValue, Op};
use shared::store::StoreUrl;

shared::on_every_document_store! {
    below_counts_an_absent_field_as_below => below,
    unique_fields_admit_many_unset_and_one_of_each_value => unique,
}

fn record(value: Value) -> Document {
    value.as_object().unwrap().clone()
}

fn ids(found: &[Document]) -> Vec<&str> {
    found.iter().map(|d| d["id"].as_str().unwrap()).collect()
}

async fn below(url: StoreUrl) {
    let store = documents::open(&url, Collection::named("things"), 2).unwrap();
    for doc in [
        json!({ "id": "t_1", "stock": 0 }),
        json!({ "id": "t_2", "stock": 3 }),
        json!({ "id": "t_3" }),
        json!({ "id": "t_4", "stock": 1 }),
    ] {
        store.insert(record(doc)).await.unwrap();
    }
    let out = store.find(&Filter::new().and("stock", Op::Below, FilterValue::Integer(1)), 0, 10).await.unwrap();
    assert_eq!((out.count, ids(&out.documents)), (2, vec!["t_3", "t_1"]));
    let stocked = store.find(&Filter::new().and("stock", Op::Gte, FilterValue::Integer(1)), 0, 10).await.unwrap();
    assert_eq!((stocked.count, ids(&stocked.documents)), (2, vec!["t_4", "t_2"]));
}

async fn unique(url: StoreUrl) {
    let spec = Collection { unique: vec!["code"], ..Collection::named("coded") };
    let store = documents::open(&url, spec, 2).unwrap();
    for doc in [json!({ "id": "c_1", "code": "A" }), json!({ "id": "c_2", "code": null }), json!({ "id": "c_3" })] {
        store.insert(record(doc)).await.unwrap();
    }
    store.insert(record(json!({ "id": "c_4", "code": null }))).await.unwrap();
    match store.insert(record(json!({ "id": "c_5", "code": "A" }))).await {
        Err(AppError::Conflict(detail)) => assert!(detail.contains("code") && detail.contains("c_1"), "{detail}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    match store.insert(record(json!({ "id": "c_1", "code": "B" }))).await {
        Err(AppError::Conflict(detail)) => assert!(detail.contains("c_1"), "{detail}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    match store.replace(record(json!({ "id": "c_3", "code": "A" }))).await {
        Err(AppError::Conflict(detail)) => assert!(detail.contains("c_1"), "{detail}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(store.replace(record(json!({ "id": "c_1", "code": "A", "name": "kept" }))).await.unwrap());
    // Loading leaves out what is there by id or by a unique value, and adds the rest.
    let added = store
        .insert_missing(vec![
            record(json!({ "id": "c_1", "code": "Z" })),
            record(json!({ "id": "c_6", "code": "A" })),
            record(json!({ "id": "c_7", "code": "C" })),
        ])
        .await
        .unwrap();
    assert_eq!(added, 1);
    assert!(store.get("c_6").await.unwrap().is_none());
    assert_eq!(store.get("c_1").await.unwrap().unwrap()["name"], "kept");
    assert_eq!(store.find(&Filter::new(), 0, 0).await.unwrap().count, 5);
}
