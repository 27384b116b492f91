//! The items router over the four real item functions, invoked in process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use http::{Method, StatusCode};
use items_router::{Config, DEFAULT_SERVICES, ItemTable, RouterState};
use serde_json::{Value, json};
use shared::auth::TokenKeys;
use shared::catalog::{self, CatalogState, ItemKind, ServiceConfig};
use shared::invoke::InProcessInvoker;
use shared::store::StoreUrl;
use shared::testing::{customer_token, send, staff_token, temp_sqlite_url};

fn service<K: ItemKind>(url: StoreUrl) -> Router {
    let state =
        CatalogState::new::<K>(&ServiceConfig { store: url, max_connections: 2 }, Arc::new(TokenKeys::development()));
    catalog::router::<K>(state.unwrap())
}

fn all_services() -> InProcessInvoker {
    InProcessInvoker::new()
        .with("book", service::<book::Book>(temp_sqlite_url("r_book")))
        .with("laptop", service::<laptop::Laptop>(temp_sqlite_url("r_laptop")))
        .with("mobile", service::<mobile::Mobile>(temp_sqlite_url("r_mobile")))
        .with("clothes", service::<clothes::Clothes>(temp_sqlite_url("r_clothes")))
}

fn router_state(invoker: InProcessInvoker, fallback: &str, timeout: Duration) -> RouterState {
    let config = Config {
        table: ItemTable::parse(DEFAULT_SERVICES, fallback).unwrap(),
        store: temp_sqlite_url("r_router"),
        max_connections: 2,
        invoke_timeout: timeout,
    };
    RouterState::new(&config, Arc::new(invoker), Arc::new(TokenKeys::development())).unwrap()
}

fn items_router(invoker: InProcessInvoker, fallback: &str, timeout: Duration) -> Router {
    items_router::router(router_state(invoker, fallback, timeout))
}

async fn post(app: &Router, body: Value) -> (StatusCode, Value) {
    let (status, _, json) = send(app, Method::POST, "/api/items/", Some(&staff_token()), Some(body)).await;
    (status, json)
}

async fn seed(app: &Router) {
    for body in [
        json!({ "type": "book", "name": "Dune", "author": "Frank Herbert", "price": 999 }),
        json!({ "type": "book", "name": "Emma", "author": "Jane Austen", "price": 799 }),
        json!({ "type": "laptop", "name": "XPS 13", "brand": "Dell", "ram_gb": 16, "price": 129900 }),
        json!({ "type": "mobile", "name": "Pixel 9", "brand": "Google", "price": 79900 }),
        json!({ "type": "clothes", "name": "Linen Shirt", "size": "M", "price": 4500 }),
        json!({ "type": "clothes", "name": "Wool Coat", "size": "L", "price": 19900 }),
    ] {
        let (status, created) = post(app, body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
}

#[tokio::test]
async fn seed_examples_create_items_readable_through_the_router_and_the_service() {
    let invoker = all_services();
    let app = items_router(invoker.clone(), "", Duration::from_secs(3));
    for (body, base) in [
        (
            json!({ "name": "Clean Code", "type": "book", "author": "Robert Martin", "isbn": "9780132350884" }),
            "/api/books/",
        ),
        (
            json!({ "name": "Summer T-Shirt", "type": "clothes", "size": "L", "color": "Blue", "material": "Cotton" }),
            "/api/clothes/",
        ),
    ] {
        let (status, created) = post(&app, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap();
        let (status, _, via_router) = send(&app, Method::GET, &format!("/api/items/{id}/"), None, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(via_router, created);
        let item_type = body["type"].as_str().unwrap();
        let direct = invoker.clone();
        let request = http::Request::get(format!("{base}{id}/")).body(bytes::Bytes::new()).unwrap();
        let response = shared::invoke::Invoker::invoke(&direct, item_type, request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn lists_by_type_and_across_all_types() {
    let app = items_router(all_services(), "", Duration::from_secs(3));
    seed(&app).await;

    let (status, _, all) = send(&app, Method::GET, "/api/items/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["count"], 6);
    assert_eq!(all["unavailable"], json!([]));
    let names: Vec<&str> = all["results"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["Wool Coat", "Linen Shirt", "Pixel 9", "XPS 13", "Emma", "Dune"],
        "newest first across services"
    );

    for (item_type, expected) in [("book", 2), ("laptop", 1), ("mobile", 1), ("clothes", 2)] {
        let (status, _, page) = send(&app, Method::GET, &format!("/api/items/?type={item_type}"), None, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["count"], expected, "{item_type}");
        assert!(page["results"].as_array().unwrap().iter().all(|i| i["type"] == item_type));
    }

    // Pages of the merged list join up to the whole list, without repeats.
    let mut seen = Vec::new();
    let mut next = Some("/api/items/?page_size=4".to_string());
    while let Some(uri) = next {
        let uri = uri.trim_start_matches("http://shop.test").to_string();
        let (status, _, page) = send(&app, Method::GET, &uri, None, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        seen.extend(page["results"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()));
        next = page["next"].as_str().map(str::to_string);
    }
    assert_eq!(seen, names);

    // A one-type list's links point back at the router.
    let (_, _, books) = send(&app, Method::GET, "/api/items/?type=book&page_size=1", None, None).await;
    assert_eq!(books["next"], "/api/items/?type=book&page_size=1&page=2");

    // Common filters work across types; type-specific ones need a type.
    let (_, _, cheap) = send(&app, Method::GET, "/api/items/?max_price=5000", None, None).await;
    assert_eq!(cheap["count"], 3);
    let (_, _, herbert) = send(&app, Method::GET, "/api/items/?type=book&author=herbert", None, None).await;
    assert_eq!(herbert["count"], 1);
    let (status, _, problem) = send(&app, Method::GET, "/api/items/?author=herbert", None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(problem["errors"]["author"].to_string().contains("type"));
}

#[tokio::test]
async fn bad_requests_are_clear_problems() {
    let app = items_router(all_services(), "", Duration::from_secs(3));
    let (status, _, problem) = send(&app, Method::GET, "/api/items/?type=toy", None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(problem["detail"].as_str().unwrap().contains("book, laptop, mobile, clothes"));
    let (status, problem) = post(&app, json!({ "type": "toy", "name": "Yo-yo" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let (status, _) = post(&app, json!({ "name": "No type" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, problem) = post(&app, json!({ "type": "book", "name": "Bad", "author": "A", "isbn": "123" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem["errors"].get("isbn").is_some());
    let (status, problem) =
        post(&app, json!({ "type": "laptop", "name": "L", "brand": "B", "ram_gb": "sixteen" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, _, _) =
        send(&app, Method::POST, "/api/items/", None, Some(json!({ "type": "book", "name": "X", "author": "Y" })))
            .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(
        &app,
        Method::POST,
        "/api/items/",
        Some(&customer_token("c1")),
        Some(json!({ "type": "book", "name": "X", "author": "Y" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        shared::testing::send_raw(&app, Method::POST, "/api/items/", Some(&staff_token()), "application/json", "{oops")
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for uri in ["/api/items/?page_size=500", "/api/items/?type=book&page_size=500", "/api/items/?type=book&type=laptop"]
    {
        let (status, _, problem) = send(&app, Method::GET, uri, None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri} -> {problem}");
    }
    // A valid page past what the all-types merge reaches: not found, like a page past the end.
    let (status, _, problem) = send(&app, Method::GET, "/api/items/?page=60", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (status, _, _) = send(&app, Method::GET, "/api/items/?type=&page_size=2", None, None).await;
    assert_eq!(status, StatusCode::OK, "a blank type is no type");
    let (status, _, _) = send(&app, Method::GET, "/api/items/book_01JDQ0000000000000000000000/", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(&app, Method::GET, "/api/items/whatever/", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn updates_and_deletes_reach_the_owning_service() {
    let app = items_router(all_services(), "", Duration::from_secs(3));
    let (_, created) = post(&app, json!({ "type": "mobile", "name": "Fairphone 5", "brand": "Fairphone" })).await;
    let item = format!("/api/items/{}/", created["id"].as_str().unwrap());
    let (status, _, updated) =
        send(&app, Method::PATCH, &item, Some(&staff_token()), Some(json!({ "stock": 4 }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["stock"], 4);
    let (status, _, _) =
        send(&app, Method::PATCH, &item, Some(&customer_token("c")), Some(json!({ "stock": 9 }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(&app, Method::DELETE, &item, Some(&staff_token()), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = send(&app, Method::GET, &item, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_stopped_service_leaves_the_others_answering() {
    let invoker = InProcessInvoker::new()
        .with("book", service::<book::Book>(temp_sqlite_url("s_book")))
        .with("mobile", service::<mobile::Mobile>(temp_sqlite_url("s_mobile")))
        .with("clothes", service::<clothes::Clothes>(temp_sqlite_url("s_clothes")));
    let app = items_router(invoker, "", Duration::from_secs(3));
    post(&app, json!({ "type": "book", "name": "Dune", "author": "Frank Herbert" })).await;
    post(&app, json!({ "type": "clothes", "name": "Scarf", "size": "M" })).await;

    let (status, _, page) = send(&app, Method::GET, "/api/items/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["count"], 2);
    assert_eq!(page["unavailable"].as_array().unwrap().len(), 1);
    assert_eq!(page["unavailable"][0]["type"], "laptop");

    let (status, _, problem) = send(&app, Method::GET, "/api/items/?type=laptop", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(problem["detail"].as_str().unwrap().contains("laptop"));
}

#[tokio::test]
async fn a_slow_service_is_cut_off_at_the_deadline() {
    let slow = Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "too late"
    });
    let invoker = all_services().with("mobile", slow);
    let app = items_router(invoker, "", Duration::from_millis(300));
    post(&app, json!({ "type": "book", "name": "Dune", "author": "Frank Herbert" })).await;

    let started = Instant::now();
    let (status, _, page) = send(&app, Method::GET, "/api/items/", None, None).await;
    assert!(started.elapsed() < Duration::from_secs(3), "the fan-out waited for the slow service");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["count"], 1);
    assert_eq!(page["unavailable"][0]["type"], "mobile");
    assert!(page["unavailable"][0]["detail"].as_str().unwrap().contains("300 ms"));
}

#[tokio::test]
async fn fallback_types_live_in_the_router_catalog() {
    let app = items_router(all_services(), "gift-card", Duration::from_secs(3));
    post(&app, json!({ "type": "book", "name": "Dune", "author": "Frank Herbert" })).await;
    let (status, card) = post(
        &app,
        json!({ "type": "gift-card", "name": "Gift card 50", "price": 5000, "attributes": { "value": 5000 } }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let id = card["id"].as_str().unwrap();
    assert!(id.starts_with("gift-card_"));

    let (_, _, cards) = send(&app, Method::GET, "/api/items/?type=gift-card", None, None).await;
    assert_eq!(cards["count"], 1);
    let (_, _, all) = send(&app, Method::GET, "/api/items/", None, None).await;
    assert_eq!(all["count"], 2);
    let (status, _, read) = send(&app, Method::GET, &format!("/api/items/{id}/"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["attributes"]["value"], 5000);
    let (status, problem) =
        post(&app, json!({ "type": "gift-card", "name": "Bad", "attributes": { "nested": { "x": 1 } } })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, _, _) = send(
        &app,
        Method::POST,
        "/api/items/",
        Some(&customer_token("c")),
        Some(json!({ "type": "gift-card", "name": "X" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, patched) =
        send(&app, Method::PATCH, &format!("/api/items/{id}/"), Some(&staff_token()), Some(json!({ "stock": 10 })))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["stock"], 10);
    let (status, _, _) = send(&app, Method::DELETE, &format!("/api/items/{id}/"), Some(&staff_token()), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn ids_without_a_type_prefix_route_through_the_registry() {
    // A record kept under an id from before type prefixes (e.g. migrated data).
    let book_store = temp_sqlite_url("legacy_book");
    let invoker = all_services().with("book", service::<book::Book>(book_store));
    let state = router_state(invoker, "", Duration::from_secs(3));
    let mut entry = serde_json::Map::new();
    entry.insert("id".into(), json!("legacy-42"));
    entry.insert("type".into(), json!("book"));
    state.registry.insert(entry).await.unwrap();
    let app = items_router::router(state);

    // The registry sends the request to the book service, which owns the answer.
    let (status, _, problem) = send(&app, Method::GET, "/api/items/legacy-42/", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(problem["detail"].as_str().unwrap().contains("book"), "{problem}");
    let (status, _, problem) = send(&app, Method::GET, "/api/items/legacy-43/", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!problem["detail"].as_str().unwrap().contains("book"), "{problem}");
}

#[tokio::test]
async fn stock_changes_reach_the_owning_service() {
    let app = items_router(all_services(), "", Duration::from_secs(3));
    let (_, laptop) = post(&app, json!({ "type": "laptop", "name": "XPS 13", "brand": "Dell", "stock": 2 })).await;
    let path = format!("/internal/items/{}/stock", laptop["id"].as_str().unwrap());
    let reserve = |key: &str| json!({ "delta": -2, "key": key });
    let (status, _, done) = send(&app, Method::POST, &path, None, Some(reserve("order-1"))).await;
    assert_eq!((status, done["stock"].as_i64()), (StatusCode::OK, Some(0)), "{done}");
    let (status, _, problem) = send(&app, Method::POST, &path, None, Some(reserve("order-2"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, _, _) =
        send(&app, Method::POST, "/internal/items/book_01JDQ0000000000000000000000/stock", None, Some(reserve("x")))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
