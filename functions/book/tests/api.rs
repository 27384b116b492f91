use std::sync::Arc;

use book::Book;
use http::{Method, StatusCode};
use serde_json::json;
use shared::auth::TokenKeys;
use shared::catalog::{self, CatalogState, ServiceConfig};
use shared::testing::{catalog_contract, create_item, document_store_urls, send};

#[tokio::test]
async fn catalog_contract_holds_on_every_store() {
    for url in document_store_urls("book") {
        catalog_contract::<Book>(url).await;
    }
}

#[tokio::test]
async fn isbns_are_checked_and_books_are_searchable() {
    for url in document_store_urls("book_search") {
        let state = CatalogState::new::<Book>(
            &ServiceConfig { store: url, max_connections: 2 },
            Arc::new(TokenKeys::development()),
        );
        let app = catalog::router::<Book>(state.unwrap());
        let base = "/api/books/";

        let (status, problem) =
            create_item(&app, base, json!({ "name": "Bad", "author": "A", "isbn": "9780132350885" })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(problem["errors"]["isbn"][0].as_str().unwrap().contains("check digit"));
        let (status, problem) = create_item(&app, base, json!({ "name": "No author" })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(problem["errors"].get("author").is_some());
        let (status, problem) =
            create_item(&app, base, json!({ "name": "Old", "author": "A", "publication_year": 1200 })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(problem["errors"].get("publication_year").is_some());

        let (status, created) = create_item(
            &app,
            base,
            json!({ "name": "Refactoring", "author": "Martin Fowler", "isbn": "978-0-13-475759-9", "genre": "Programming",
                    "publisher": "Addison-Wesley", "publication_year": 2018, "price": 4999, "stock": 3 }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["isbn"], "9780134757599", "hyphens removed");
        create_item(
            &app,
            base,
            json!({ "name": "Dune", "author": "Frank Herbert", "genre": "Science Fiction", "publication_year": 1965 }),
        )
        .await;

        for (query, expected) in [
            ("author=fowler", 1),
            ("genre=programming", 1),
            ("genre=science%20fiction", 1),
            ("publisher=wesley", 1),
            ("year=1965", 1),
            ("year=2018&author=herbert", 0),
            ("isbn=9780134757599", 1),
            ("min_price=4000&max_price=5000", 1),
        ] {
            let (status, _, page) = send(&app, Method::GET, &format!("{base}?{query}"), None, None).await;
            assert_eq!(status, StatusCode::OK, "{query}");
            assert_eq!(page["count"], expected, "{query}");
        }
        let (status, _, _) = send(&app, Method::GET, &format!("{base}?year=last"), None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
