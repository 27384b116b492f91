//! The stock changes a document store remembers, as an audit reads them: every
//! applied change once, none that was refused or replayed.

use serde_json::json;
use shared::documents::{self, StockChange};
use shared::store::StoreUrl;

shared::on_every_document_store! {
    an_item_remembers_the_stock_changes_it_applied => remembers_applied_changes,
}

async fn remembers_applied_changes(url: StoreUrl) {
    let store =
        documents::open(&url, documents::Collection { stock: true, ..documents::Collection::named("books") }, 2)
            .unwrap();
    let doc = json!({ "id": "book_1", "type": "book", "name": "Dune", "stock": 3 });
    store.insert(doc.as_object().unwrap().clone()).await.unwrap();
    assert_eq!(store.stock_moves("book_1").await.unwrap().moves, Vec::<(String, i64)>::new());
    for (delta, key) in [(-2, "order_a:reserve:book_1"), (-2, "order_a:reserve:book_1"), (-2, "order_b:reserve:book_1")]
    {
        store.change_stock("book_1", delta, key).await.unwrap();
    }
    assert_eq!(
        store.change_stock("book_1", 2, "order_a:release:book_1").await.unwrap(),
        StockChange::Applied { stock: 3, replayed: false }
    );
    let moves = store.stock_moves("book_1").await.unwrap();
    assert!(moves.complete);
    let mut seen = moves.moves;
    seen.sort();
    assert_eq!(
        seen,
        [("order_a:release:book_1".to_string(), 2), ("order_a:reserve:book_1".to_string(), -2)],
        "the replay and the refused reservation left no trace"
    );
    assert!(store.stock_moves("book_404").await.unwrap().moves.is_empty());
}
