//! Helpers for the functions' integration tests: fresh stores with unique names,
//! and sending requests to a Router in process.

use axum::Router;
use axum::body::Body;
use axum::response::IntoResponse;
use http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use crate::auth::{CustomerType, Role, TokenKeys};
use crate::store::StoreUrl;

pub mod faults;
pub mod mongo;

/// A SQLite file of its own under the system temp dir, so tests run in parallel.
pub fn temp_sqlite_url(name: &str) -> StoreUrl {
    let dir = std::env::temp_dir().join("shop-tests");
    let _ = std::fs::create_dir_all(&dir);
    StoreUrl::Sqlite(format!("sqlite://{}/{name}-{}.db", dir.display(), ulid::Ulid::new()))
}

/// A MongoDB database of its own when `MONGODB_URL` is set. Without it, `None`
/// after a notice that the MongoDB test is skipped, and a failure with `CI=true`.
pub fn temp_mongo_url(name: &str) -> Option<StoreUrl> {
    match std::env::var("MONGODB_URL") {
        Ok(url) if !url.is_empty() => {
            // MongoDB database names are shorter than 64 bytes.
            let short: String = name.chars().take(31).collect();
            let database = format!("test_{short}_{}", ulid::Ulid::new()).to_lowercase();
            Some(StoreUrl::MongoDb { url, database })
        }
        _ => required_in_ci("MongoDB", name, "MONGODB_URL is not set"),
    }
}

/// The URL text that configures `url` through a `*_DATABASE_URL` variable (a
/// MongoDB URL with its database as the path).
pub fn database_url(url: &StoreUrl) -> String {
    match url {
        StoreUrl::MongoDb { url, database } => {
            let (server, options) = url.split_once('?').map_or((url.as_str(), None), |(s, o)| (s, Some(o)));
            let server = server.trim_end_matches('/');
            match options {
                Some(options) => format!("{server}/{database}?{options}"),
                None => format!("{server}/{database}"),
            }
        }
        StoreUrl::Sqlite(url) | StoreUrl::MySql(url) | StoreUrl::Postgres(url) => url.clone(),
        StoreUrl::DynamoDb { table } => format!("dynamodb://{table}"),
    }
}

/// Tests that run once per document store, as `<name>::sqlite` and
/// `<name>::mongodb` (CI counts the MongoDB ones by that name). Each `name => run`
/// makes both from `async fn run(url: StoreUrl)` in the calling module; the
/// MongoDB one needs `MONGODB_URL` (see [`temp_mongo_url`]).
#[macro_export]
macro_rules! on_every_document_store {
    ($($name:ident => $run:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$run($crate::testing::temp_sqlite_url(stringify!($name))).await
            }

            #[tokio::test]
            async fn mongodb() {
                if let Some(url) = $crate::testing::temp_mongo_url(stringify!($name)) {
                    super::$run(url).await
                }
            }
        }
    )*};
}

/// Whether a missing test database fails the run (CI) or is skipped with a notice.
fn required_in_ci(what: &str, name: &str, why: &str) -> Option<StoreUrl> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is required in CI for `{name}`: {why}");
    }
    eprintln!("notice: {what} is not reachable ({why}); skipping it for `{name}`");
    None
}

/// A fresh MariaDB/MySQL database for one test: `MYSQL_TEST_URL` (default
/// `mysql://root@127.0.0.1:3306`) must reach a server that lets us create databases.
pub async fn temp_mysql_url(name: &str) -> Option<StoreUrl> {
    use sqlx::Connection;
    let server = std::env::var("MYSQL_TEST_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let database = format!("test_{name}_{}", ulid::Ulid::new()).to_lowercase();
    let mut conn = match sqlx::MySqlConnection::connect(&server).await {
        Ok(conn) => conn,
        Err(e) => return required_in_ci("MySQL/MariaDB", name, &e.to_string()),
    };
    let create = format!("CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(create)).execute(&mut conn).await {
        return required_in_ci("MySQL/MariaDB", name, &e.to_string());
    }
    Some(StoreUrl::MySql(format!("{}/{database}", server.trim_end_matches('/'))))
}

/// A fresh PostgreSQL database for one test: `POSTGRES_TEST_URL` (default
/// `postgres://postgres@127.0.0.1:5432`) must reach a server that lets us create databases.
pub async fn temp_postgres_url(name: &str) -> Option<StoreUrl> {
    use sqlx::Connection;
    let server = std::env::var("POSTGRES_TEST_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let database = format!("test_{name}_{}", ulid::Ulid::new()).to_lowercase();
    let mut conn = match sqlx::PgConnection::connect(&format!("{}/postgres", server.trim_end_matches('/'))).await {
        Ok(conn) => conn,
        Err(e) => return required_in_ci("PostgreSQL", name, &e.to_string()),
    };
    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{database}\""))).execute(&mut conn).await
    {
        return required_in_ci("PostgreSQL", name, &e.to_string());
    }
    Some(StoreUrl::Postgres(format!("{}/{database}", server.trim_end_matches('/'))))
}

/// SQLite always; PostgreSQL when reachable (required in CI): the transaction services' engines.
pub async fn transaction_store_urls(name: &str) -> Vec<StoreUrl> {
    let mut urls = vec![temp_sqlite_url(name)];
    urls.extend(temp_postgres_url(name).await);
    urls
}

/// SQLite always; MariaDB when reachable (required in CI).
pub async fn relational_store_urls(name: &str) -> Vec<StoreUrl> {
    let mut urls = vec![temp_sqlite_url(name)];
    urls.extend(temp_mysql_url(name).await);
    urls
}

pub fn staff_token() -> String {
    TokenKeys::development().issue("staff_test", CustomerType::Registered, Role::Staff, 600)
}

pub fn customer_token(sub: &str) -> String {
    TokenKeys::development().issue(sub, CustomerType::Registered, Role::Customer, 600)
}

/// Stands in for the registered-customer function where another function checks
/// accounts (see [`crate::accounts`]): every subject has a live account at token
/// version 0, as [`customer_token`]'s are. For tests that are about something
/// else; the check itself is tested against the real function.
pub fn every_account_live() -> Router {
    use axum::extract::Path;
    Router::new().route(
        &crate::accounts::token_version_path("{id}"),
        axum::routing::get(|Path(id): Path<String>| async move {
            axum::Json(serde_json::json!({ "customer_id": id, "token_version": 0 }))
        }),
    )
}

/// Sends a request and returns the status, the content type and the body as JSON (`Null` when empty).
pub async fn send(
    router: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let mut request = Request::builder().method(method).uri(uri).header("host", "shop.test");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    let json = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
    (status, content_type, json)
}

/// Sends a raw body with the given content type.
pub async fn send_raw(
    router: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri).header("content-type", content_type);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response =
        router.clone().oneshot(request.body(Body::from(body.to_string())).expect("request")).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The behaviour every item service must show on the given store: CRUD, access
/// rules, problem responses for bad input, search by name and pagination.
pub async fn catalog_contract<K: crate::catalog::ItemKind>(url: StoreUrl) {
    use crate::catalog::{self, CatalogState, ServiceConfig};
    use serde_json::json;
    use std::sync::Arc;

    let config = ServiceConfig { store: url, max_connections: 2 };
    let app = catalog::router::<K>(CatalogState::new::<K>(&config, Arc::new(TokenKeys::development())).unwrap());
    let base = format!("/api/{}/", K::PLURAL);
    let staff = staff_token();
    let customer = customer_token("cust_a");
    let example = K::example();

    let (status, _, page) = send(&app, Method::GET, &base, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["count"], 0);
    assert_eq!(page["results"], json!([]));

    // Writes are for staff only.
    let (status, content_type, problem) = send(&app, Method::POST, &base, None, Some(example.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(content_type, crate::error::PROBLEM_JSON);
    assert_eq!(problem["status"], 401);
    let (status, _, _) = send(&app, Method::POST, &base, Some(&customer), Some(example.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(&app, Method::POST, &base, Some("not-a-token"), Some(example.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _, created) = send(&app, Method::POST, &base, Some(&staff), Some(example.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(crate::ids::has_prefix(&id, K::TYPE), "{id}");
    assert_eq!(created["type"], K::TYPE);
    assert_eq!(created["name"], example["name"]);
    assert_eq!(created["stock"], 0);

    for path in [format!("{base}{id}/"), format!("{base}{id}")] {
        let (status, _, read) = send(&app, Method::GET, &path, None, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read, created);
    }
    let (status, _, page) = send(&app, Method::GET, base.trim_end_matches('/'), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["count"], 1);

    // Partial updates keep what they do not name; `null` clears an optional field.
    let item = format!("{base}{id}/");
    let (status, _, updated) =
        send(&app, Method::PATCH, &item, Some(&staff), Some(json!({ "stock": 7, "price": 1999, "description": "x" })))
            .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["stock"], 7);
    assert_eq!(updated["price"], 1999);
    assert_eq!(updated["name"], example["name"]);
    assert_eq!(updated["created_at"], created["created_at"]);
    let (_, _, cleared) = send(&app, Method::PATCH, &item, Some(&staff), Some(json!({ "description": null }))).await;
    assert_eq!(cleared["description"], Value::Null);
    let (status, _, _) = send(&app, Method::PATCH, &item, Some(&customer), Some(json!({ "stock": 1 }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Bad input is a 4xx problem naming the field, and changes nothing.
    for (patch, field) in [
        (json!({ "price": -1 }), "price"),
        (json!({ "price": 19.99 }), "price"),
        (json!({ "price": "ten" }), "price"),
        (json!({ "stock": -3 }), "stock"),
        (json!({ "name": "   " }), "name"),
        (json!({ "name": null }), "name"),
        (json!({ "id": "x" }), "id"),
        (json!({ "bogus": 1 }), "bogus"),
        (json!({ "type": "not-this-type" }), "type"),
        (json!({ "currency": "dollars" }), "currency"),
        (json!({ "currency": "BTC" }), "currency"),
        (json!({ "currency": "XXX" }), "currency"),
        (json!({ "currency": "eur" }), "currency"),
    ] {
        let (status, content_type, problem) = send(&app, Method::PATCH, &item, Some(&staff), Some(patch.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{patch} -> {problem}");
        assert_eq!(content_type, crate::error::PROBLEM_JSON);
        assert!(problem["errors"].get(field).is_some(), "{patch} -> {problem}");
    }
    let (_, _, unchanged) = send(&app, Method::GET, &item, None, None).await;
    assert_eq!(unchanged["stock"], 7);
    assert_eq!(unchanged["price"], 1999);
    assert_eq!(unchanged["currency"], created["currency"]);
    for currency in ["EUR", "JPY", "USD"] {
        let (status, _, priced) =
            send(&app, Method::PATCH, &item, Some(&staff), Some(json!({ "currency": currency }))).await;
        assert_eq!((status, priced["currency"].as_str()), (StatusCode::OK, Some(currency)), "{priced}");
    }

    let (status, _) = send_raw(&app, Method::POST, &base, Some(&staff), "application/json", "{\"name\": ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send_raw(&app, Method::POST, &base, Some(&staff), "application/json", "[1, 2]").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send_raw(&app, Method::POST, &base, Some(&staff), "text/plain", &example.to_string()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({ "name": "x".repeat(crate::extract::MAX_BODY_BYTES) }).to_string();
    let (status, _) = send_raw(&app, Method::POST, &base, Some(&staff), "application/json", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _, _) = send(&app, Method::GET, &format!("{base}?type={}", K::TYPE), None, None).await;
    assert_eq!(status, StatusCode::OK);
    for query in [
        "type=not-this-type",
        "page_size=101",
        "page=0",
        "page=abc",
        "no_such_filter=1",
        "min_price=-5",
        "page=2&offset=1",
        "limit=1000",
        "limit=0",
        "offset=5",
    ] {
        let (status, _, problem) = send(&app, Method::GET, &format!("{base}?{query}"), None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query} -> {problem}");
    }
    let (status, _, _) = send(&app, Method::PUT, &item, Some(&staff), Some(example.clone())).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    // Search by name and paging.
    let word = example["name"].as_str().unwrap().split_whitespace().next().unwrap().to_lowercase();
    let (_, _, found) = send(&app, Method::GET, &format!("{base}?q={word}"), None, None).await;
    assert_eq!(found["count"], 1);
    let (_, _, none) = send(&app, Method::GET, &format!("{base}?q=zzqqxx"), None, None).await;
    assert_eq!(none["count"], 0);
    let (_, _, in_stock) = send(&app, Method::GET, &format!("{base}?in_stock=true&max_price=1999"), None, None).await;
    assert_eq!(in_stock["count"], 1);
    let (_, _, out_of_stock) = send(&app, Method::GET, &format!("{base}?in_stock=false"), None, None).await;
    assert_eq!(out_of_stock["count"], 0, "in_stock=false lists only items out of stock");
    // The kind's unique attributes belong to the first item: the same example again
    // is a conflict, and is created once they are left out.
    let mut again = example.clone();
    for field in K::UNIQUE {
        let (status, _, problem) = send(&app, Method::POST, &base, Some(&staff), Some(again.clone())).await;
        assert_eq!(status, StatusCode::CONFLICT, "{field}: {problem}");
        again.as_object_mut().unwrap().remove(*field);
    }
    for _ in 0..3 {
        let (status, _, _) = send(&app, Method::POST, &base, Some(&staff), Some(again.clone())).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, _, first) = send(&app, Method::GET, &format!("{base}?page_size=3"), None, None).await;
    assert_eq!(first["count"], 4);
    assert_eq!(first["results"].as_array().unwrap().len(), 3);
    assert_eq!(first["next"], format!("{base}?page_size=3&page=2"));
    let (_, _, second) = send(&app, Method::GET, &format!("{base}?page_size=3&page=2"), None, None).await;
    assert_eq!(second["results"].as_array().unwrap().len(), 1);
    assert_eq!(second["results"][0]["id"], id, "newest first, so the first item comes last");
    assert_eq!(second["next"], Value::Null);
    // The count is right whichever window tells it: a short last page, a full
    // last page, and a page past the end.
    assert_eq!(second["count"], 4);
    let (_, _, full_last) = send(&app, Method::GET, &format!("{base}?page_size=2&page=2"), None, None).await;
    assert_eq!((full_last["count"].clone(), full_last["results"].as_array().unwrap().len()), (json!(4), 2));
    let (status, _, past_end) = send(&app, Method::GET, &format!("{base}?page_size=3&page=3"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((past_end["count"].clone(), past_end["results"].clone()), (json!(4), json!([])));

    // Stock is reserved atomically: twenty concurrent reservations of one unit when
    // five are left succeed exactly five times, and retries move nothing.
    let (status, _, _) = send(&app, Method::PATCH, &item, Some(&staff), Some(json!({ "stock": 5 }))).await;
    assert_eq!(status, StatusCode::OK);
    let stock_path = format!("/internal/stock/{id}");
    let reservations = (0..20).map(|n| {
        let (app, path) = (app.clone(), stock_path.clone());
        tokio::spawn(async move {
            send(&app, Method::POST, &path, None, Some(json!({ "delta": -1, "key": format!("order-{n}") }))).await.0
        })
    });
    let statuses: Vec<StatusCode> =
        futures::future::join_all(reservations).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 15, "{statuses:?}");
    let (_, _, sold_out) = send(&app, Method::GET, &item, None, None).await;
    assert_eq!(sold_out["stock"], 0);
    // Now every item is out of stock: the sold-out one and the three made with none.
    let (_, _, out_of_stock) = send(&app, Method::GET, &format!("{base}?in_stock=false"), None, None).await;
    let results = out_of_stock["results"].as_array().unwrap();
    assert_eq!((out_of_stock["count"].as_u64(), results.len()), (Some(4), 4), "{out_of_stock}");
    assert!(results.iter().all(|i| i["stock"] == 0) && results.iter().any(|i| i["id"] == id), "{out_of_stock}");
    let (_, _, in_stock) = send(&app, Method::GET, &format!("{base}?in_stock=true"), None, None).await;
    assert_eq!(in_stock["count"], 0);
    let winner = (0..20).find(|n| statuses[*n] == StatusCode::OK).unwrap();
    let (status, _, replay) =
        send(&app, Method::POST, &stock_path, None, Some(json!({ "delta": -1, "key": format!("order-{winner}") })))
            .await;
    assert_eq!(
        (status, replay["replayed"].as_bool()),
        (StatusCode::OK, Some(true)),
        "a retried reservation is not taken twice"
    );
    let (status, _, _) =
        send(&app, Method::POST, &stock_path, None, Some(json!({ "delta": -2, "key": format!("order-{winner}") })))
            .await;
    assert_eq!(status, StatusCode::CONFLICT, "the same key with another change");
    let (status, _, released) =
        send(&app, Method::POST, &stock_path, None, Some(json!({ "delta": 1, "key": "release-1" }))).await;
    assert_eq!((status, released["stock"].as_i64()), (StatusCode::OK, Some(1)));
    for bad in [
        json!({ "delta": 0, "key": "k" }),
        json!({ "delta": -1, "key": "" }),
        json!({ "delta": -1 }),
        json!({ "delta": "one", "key": "k" }),
    ] {
        let (status, _, _) = send(&app, Method::POST, &stock_path, None, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let missing = format!("/internal/stock/{}_01JDQ0000000000000000000000", K::TYPE);
    assert_eq!(
        send(&app, Method::POST, &missing, None, Some(json!({ "delta": -1, "key": "x" }))).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _, after) = send(&app, Method::PATCH, &item, Some(&staff), Some(json!({ "price": 2099 }))).await;
    assert_eq!(status, StatusCode::OK, "stock bookkeeping never leaks into the record: {after}");

    // Deleting.
    let (status, _, _) = send(&app, Method::DELETE, &item, Some(&customer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(&app, Method::DELETE, &item, Some(&staff), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = send(&app, Method::GET, &item, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(&app, Method::DELETE, &item, Some(&staff), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for bad in ["nope", "laptop_01JDQ0000000000000000000000", "..%2F..%2Fetc"] {
        let (status, _, _) = send(&app, Method::GET, &format!("{base}{bad}/"), None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
}

/// Creates `body` through the service (as staff) and returns the response status and body.
pub async fn create_item(app: &Router, base: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, json) = send(app, Method::POST, base, Some(&staff_token()), Some(body)).await;
    (status, json)
}

/// Every log line of the process, captured at TRACE, for tests that check what
/// must never be logged. Installs the process-wide subscriber: one such test
/// per test binary. `json` writes the lines as Lambda does.
#[derive(Clone, Default)]
pub struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn install(json: bool) -> Self {
        let logs = Self::default();
        let writer = logs.clone();
        let builder = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone());
        if json {
            builder.json().init()
        } else {
            builder.init()
        }
        logs
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every `$ref` in an API document, for tests that check each one resolves.
pub fn schema_refs(doc: &Value) -> Vec<String> {
    fn collect(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| collect(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    collect(doc, &mut found);
    found
}

/// Stands in for the items router in a function's own tests: `GET
/// /api/items/{id}/` finds the ids given (with their type from the prefix) and
/// no other. The real router answers the same in the local server's tests.
pub fn items_router_knowing(ids: &[&str]) -> Router {
    let known: std::sync::Arc<Vec<String>> = std::sync::Arc::new(ids.iter().map(|id| id.to_string()).collect());
    let find = move |axum::extract::Path(id): axum::extract::Path<String>| {
        let known = known.clone();
        async move {
            match crate::ids::split_id(&id) {
                Some((item_type, _)) if known.contains(&id) => {
                    axum::Json(serde_json::json!({ "id": id, "type": item_type })).into_response()
                }
                _ => crate::AppError::NotFound("there is no item with this id".into()).into_response(),
            }
        }
    };
    Router::new().route("/api/items/{id}/", axum::routing::get(find))
}
