use std::sync::Arc;

use axum::Router;
use book::Book;
use http::{Method, StatusCode};
use serde_json::json;
use shared::auth::TokenKeys;
use shared::catalog::{self, CatalogState, ServiceConfig};
use shared::store::StoreUrl;
use shared::testing::{catalog_contract, create_item, send, staff_token};

shared::on_every_document_store! {
    catalog_contract_holds => contract,
    isbns_are_checked_and_books_are_searchable => searches,
    an_isbn_belongs_to_one_book => unique_isbns,
}

fn app(url: StoreUrl) -> Router {
    let state = CatalogState::new::<Book>(
        &ServiceConfig { store: url, max_connections: 2 },
        Arc::new(TokenKeys::development()),
    );
    catalog::router::<Book>(state.unwrap())
}

async fn contract(url: StoreUrl) {
    catalog_contract::<Book>(url).await;
}

async fn searches(url: StoreUrl) {
    let app = app(url);
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
    let (status, ten) = create_item(
        &app,
        base,
        json!({ "name": "Dune", "author": "Frank Herbert", "genre": "Science Fiction", "publication_year": 1965,
                "isbn": "0-441-17271-7" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ten}");
    assert_eq!(ten["isbn"], "9780441172719", "an ISBN-10 is kept as its ISBN-13");
    let (status, x_digit) =
        create_item(&app, base, json!({ "name": "Check digit X", "author": "A", "isbn": "080442957x" })).await;
    assert_eq!(status, StatusCode::CREATED, "{x_digit}");

    for (query, expected) in [
        ("author=fowler", 1),
        ("genre=programming", 1),
        ("genre=science%20fiction", 1),
        ("publisher=wesley", 1),
        ("year=1965", 1),
        ("year=2018&author=herbert", 0),
        ("min_price=4000&max_price=5000", 1),
        // An ISBN is searched in the form a create stores, however it is written.
        ("isbn=9780134757599", 1),
        ("isbn=978-0-13-475759-9", 1),
        ("isbn=978%200%2013%20475759%209", 1),
        ("isbn=0441172717", 1),
        ("isbn=0-441-17271-7", 1),
        ("isbn=9780441172719", 1),
        ("isbn=080442957x", 1),
        ("isbn=080442957X", 1),
        ("isbn=9780804429573", 1),
        // A wrong check digit is no book's ISBN.
        ("isbn=9780134757590", 0),
        ("isbn=0441172718", 0),
    ] {
        let (status, _, page) = send(&app, Method::GET, &format!("{base}?{query}"), None, None).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(page["count"], expected, "{query}");
    }
    for query in ["year=last", "isbn=12345", "isbn=978013475759X"] {
        let (status, _, problem) = send(&app, Method::GET, &format!("{base}?{query}"), None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        let field = query.split('=').next().unwrap();
        assert!(problem["errors"].get(field).is_some(), "{query} -> {problem}");
    }
}

/// An ISBN identifies one edition: a second book with it is a 409, whichever
/// form it is written in, on create and on change, and the first stays as it was.
async fn unique_isbns(url: StoreUrl) {
    let app = app(url);
    let base = "/api/books/";
    let (status, first) =
        create_item(&app, base, json!({ "name": "Clean Code", "author": "Robert Martin", "isbn": "9780132350884" }))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    for isbn in ["9780132350884", "978-0-13-235088-4", "0132350882", "0-13-235088-2"] {
        let (status, problem) =
            create_item(&app, base, json!({ "name": "Clean Code again", "author": "R. Martin", "isbn": isbn })).await;
        assert_eq!(status, StatusCode::CONFLICT, "{isbn} -> {problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("isbn") && detail.contains(first["id"].as_str().unwrap()), "{detail}");
    }
    // Books without an ISBN are not alike.
    for name in ["Notes I", "Notes II"] {
        let (status, created) = create_item(&app, base, json!({ "name": name, "author": "Anon" })).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    let (status, other) =
        create_item(&app, base, json!({ "name": "Refactoring", "author": "Martin Fowler", "isbn": "9780134757599" }))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let other_item = format!("{base}{}/", other["id"].as_str().unwrap());
    let (status, _, problem) =
        send(&app, Method::PATCH, &other_item, Some(&staff_token()), Some(json!({ "isbn": "978-0-13-235088-4" })))
            .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (_, _, unchanged) = send(&app, Method::GET, &other_item, None, None).await;
    assert_eq!(unchanged["isbn"], "9780134757599");
    // A book keeps its own ISBN through a change, and may give it up for another.
    let first_item = format!("{base}{}/", first["id"].as_str().unwrap());
    let (status, _, kept) =
        send(&app, Method::PATCH, &first_item, Some(&staff_token()), Some(json!({ "stock": 3 }))).await;
    assert_eq!((status, kept["isbn"].as_str()), (StatusCode::OK, Some("9780132350884")), "{kept}");
    let (status, _, _) =
        send(&app, Method::PATCH, &first_item, Some(&staff_token()), Some(json!({ "isbn": null }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, moved) =
        send(&app, Method::PATCH, &other_item, Some(&staff_token()), Some(json!({ "isbn": "9780132350884" }))).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let (_, _, page) = send(&app, Method::GET, &format!("{base}?isbn=9780132350884"), None, None).await;
    assert_eq!(page["count"], 1);
    assert_eq!(page["results"][0]["id"], other["id"]);
}

#[test]
fn the_store_knows_the_book_fields_it_searches_keeps_unique_and_writes_as_integers() {
    let collection = catalog::collection::<Book>();
    assert_eq!(collection.name, "books");
    assert_eq!(
        collection.indexed,
        ["name", "price", "stock", "author", "genre", "publisher", "publication_year", "isbn"]
    );
    assert_eq!(collection.unique, ["isbn"]);
    let mut integers = collection.integers.clone();
    integers.sort();
    assert_eq!(integers, ["pages", "price", "publication_year", "stock"]);
    assert!(collection.stock);
}
