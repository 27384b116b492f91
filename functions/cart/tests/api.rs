//! The cart over the real item functions and items router, invoked in process,
//! on every transaction store available here (SQLite always, PostgreSQL when
//! reachable and always in CI).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use cart::{CartState, Config, Limits};
use http::{HeaderMap, Method, StatusCode};
use items_router::{DEFAULT_SERVICES, ItemTable, RouterState};
use serde_json::{Value, json};
use shared::auth::TokenKeys;
use shared::catalog::{self, CatalogState, ItemKind, ServiceConfig};
use shared::error::{AppError, PROBLEM_JSON};
use shared::invoke::{InProcessInvoker, Invoker};
use shared::store::StoreUrl;
use shared::testing::{customer_token, send, staff_token, temp_sqlite_url, transaction_store_urls};

const GUEST_A: &str = "guest_01JDQ00000000000000000000A";
const GUEST_B: &str = "guest_01JDQ00000000000000000000B";
const TOKEN_A: &str = "guest_01JDQ00000000000000000000A.secret-a";
const TOKEN_B: &str = "guest_01JDQ00000000000000000000B.secret-b";
/// Well formed, with the right id part, but not the secret the guest service holds.
const FORGED_A: &str = "guest_01JDQ00000000000000000000A.guessed";
const MAX_LINES: usize = 6;

/// Stands in for the guest function's `/internal/guest/session`: only the exact
/// tokens it issued open a session.
fn guest_service() -> Router {
    Router::new().route(
        "/internal/guest/session",
        get(|headers: HeaderMap| async move {
            let token = headers.get("x-guest-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let guest_id = match token {
                TOKEN_A => GUEST_A,
                TOKEN_B => GUEST_B,
                _ => return Err(AppError::Unauthorized("the guest token is not valid".into())),
            };
            Ok(axum::Json(json!({ "guest_id": guest_id, "history": [] })))
        }),
    )
}

fn service<K: ItemKind>(url: &StoreUrl) -> Router {
    let config = ServiceConfig { store: url.clone(), max_connections: 2 };
    catalog::router::<K>(CatalogState::new::<K>(&config, Arc::new(TokenKeys::development())).unwrap())
}

/// The four item functions on SQLite files of their own, and the router in front.
struct Items {
    urls: [StoreUrl; 4],
    router_url: StoreUrl,
}

impl Items {
    fn new() -> Self {
        Self {
            urls: [
                temp_sqlite_url("cart_book"),
                temp_sqlite_url("cart_laptop"),
                temp_sqlite_url("cart_mobile"),
                temp_sqlite_url("cart_clothes"),
            ],
            router_url: temp_sqlite_url("cart_items_router"),
        }
    }

    /// The items router over every item function except `stopped`.
    fn router(&self, stopped: Option<&str>) -> Router {
        let mut invoker = InProcessInvoker::new();
        for (name, app) in [
            ("book", service::<book::Book>(&self.urls[0])),
            ("laptop", service::<laptop::Laptop>(&self.urls[1])),
            ("mobile", service::<mobile::Mobile>(&self.urls[2])),
            ("clothes", service::<clothes::Clothes>(&self.urls[3])),
        ] {
            if Some(name) != stopped {
                invoker = invoker.with(name, app);
            }
        }
        let config = items_router::Config {
            table: ItemTable::parse(DEFAULT_SERVICES, "").unwrap(),
            store: self.router_url.clone(),
            max_connections: 2,
            invoke_timeout: Duration::from_secs(3),
        };
        items_router::router(RouterState::new(&config, Arc::new(invoker), Arc::new(TokenKeys::development())).unwrap())
    }
}

/// The cart on `url`, reaching `items` (when given) as "items-router".
fn cart_app(url: &StoreUrl, items: Option<Router>) -> InProcessInvoker {
    let mut functions = InProcessInvoker::new()
        .with("guest-customer", guest_service())
        .with("registered-customer", shared::testing::every_account_live());
    if let Some(items) = items {
        functions = functions.with("items-router", items);
    }
    let config = Config {
        store: url.clone(),
        max_connections: 2,
        items_router_function: "items-router".into(),
        guest_function: "guest-customer".into(),
        registered_function: "registered-customer".into(),
        invoke_timeout: Duration::from_secs(3),
        limits: Limits { max_lines: MAX_LINES, max_line_quantity: 99 },
    };
    let state = CartState::new(&config, Arc::new(functions), Arc::new(TokenKeys::development())).unwrap();
    InProcessInvoker::new().with("cart", cart::router(state))
}

#[derive(Clone, Copy)]
enum Who<'a> {
    Nobody,
    Guest(&'a str),
    Customer(&'a str),
    Both { guest: &'a str, customer: &'a str },
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

async fn raw(cart: &InProcessInvoker, method: Method, uri: &str, who: Who<'_>, body: Option<(&str, &str)>) -> Answer {
    let mut request = http::Request::builder().method(method).uri(uri);
    let (guest, customer) = match who {
        Who::Nobody => (None, None),
        Who::Guest(token) => (Some(token), None),
        Who::Customer(sub) => (None, Some(sub)),
        Who::Both { guest, customer } => (Some(guest), Some(customer)),
    };
    if let Some(token) = guest {
        request = request.header("x-guest-token", token);
    }
    if let Some(sub) = customer {
        request = request.header("authorization", format!("Bearer {}", customer_token(sub)));
    }
    let bytes = match body {
        Some((content_type, text)) => {
            request = request.header("content-type", content_type);
            Bytes::from(text.to_string())
        }
        None => Bytes::new(),
    };
    let response = cart.invoke("cart", request.body(bytes).unwrap()).await.unwrap();
    let json = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    Answer { status: response.status(), headers: response.headers().clone(), json }
}

async fn call(cart: &InProcessInvoker, method: Method, uri: &str, who: Who<'_>, body: Option<Value>) -> Answer {
    let text = body.map(|b| b.to_string());
    raw(cart, method, uri, who, text.as_deref().map(|t| ("application/json", t))).await
}

async fn add(cart: &InProcessInvoker, who: Who<'_>, item_type: &str, item_id: &str, quantity: i64) -> Answer {
    let body = json!({ "item_type": item_type, "item_id": item_id, "quantity": quantity });
    call(cart, Method::POST, "/api/cart/items", who, Some(body)).await
}

async fn create_item(items: &Router, body: Value) -> String {
    let (status, _, created) = send(items, Method::POST, "/api/items/", Some(&staff_token()), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().unwrap().to_string()
}

async fn set_price(items: &Router, id: &str, price: i64) {
    let uri = format!("/api/items/{id}/");
    let (status, _, updated) =
        send(items, Method::PATCH, &uri, Some(&staff_token()), Some(json!({ "price": price }))).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
}

fn line<'a>(view: &'a Value, item_id: &str) -> &'a Value {
    view["lines"].as_array().unwrap().iter().find(|l| l["item_id"] == item_id).unwrap_or(&Value::Null)
}

fn assert_problem(answer: &Answer, status: StatusCode, field: Option<&str>) {
    assert_eq!(answer.status, status, "{}", answer.json);
    assert_eq!(answer.headers["content-type"], PROBLEM_JSON, "{}", answer.json);
    assert_eq!(answer.json["status"], status.as_u16());
    if let Some(field) = field {
        assert!(answer.json["errors"].get(field).is_some(), "expected `{field}` in {}", answer.json);
    }
}

struct Catalog {
    book: String,
    laptop: String,
    mobile: String,
    clothes: String,
    unpriced: String,
}

async fn stock_catalog(items: &Router) -> Catalog {
    Catalog {
        book: create_item(
            items,
            json!({ "type": "book", "name": "Dune", "author": "Frank Herbert", "price": 999, "stock": 10 }),
        )
        .await,
        laptop: create_item(
            items,
            json!({ "type": "laptop", "name": "XPS 13", "brand": "Dell", "price": 129900, "stock": 3 }),
        )
        .await,
        mobile: create_item(
            items,
            json!({ "type": "mobile", "name": "Pixel 9", "brand": "Google", "price": 79900, "stock": 5 }),
        )
        .await,
        clothes: create_item(
            items,
            json!({ "type": "clothes", "name": "Linen Shirt", "size": "M", "price": 4500, "stock": 200 }),
        )
        .await,
        unpriced: create_item(items, json!({ "type": "book", "name": "Emma", "author": "Jane Austen", "stock": 4 }))
            .await,
    }
}

#[tokio::test]
async fn a_guest_cart_holds_every_item_type_with_price_snapshots() {
    for url in transaction_store_urls("cart_flow").await {
        let items = Items::new();
        let router = items.router(None);
        let c = stock_catalog(&router).await;
        let app = cart_app(&url, Some(router.clone()));
        let guest = Who::Guest(TOKEN_A);

        let empty = call(&app, Method::GET, "/api/cart/", guest, None).await;
        assert_eq!(empty.status, StatusCode::OK);
        assert_eq!(empty.json["id"], Value::Null);
        assert_eq!(empty.json["owner"], json!({ "kind": "guest", "id": GUEST_A }));
        assert_eq!((empty.json["item_count"].as_i64(), empty.json["subtotal"].as_i64()), (Some(0), Some(0)));

        for (item_type, id, quantity) in
            [("book", &c.book, 2), ("laptop", &c.laptop, 1), ("mobile", &c.mobile, 1), ("clothes", &c.clothes, 2)]
        {
            let added = add(&app, guest, item_type, id, quantity).await;
            assert_eq!(added.status, StatusCode::CREATED, "{}", added.json);
        }
        // Adding an item already there adds to its line.
        let added = add(&app, guest, "book", &c.book, 3).await;
        assert_eq!(added.status, StatusCode::CREATED);
        let view = &added.json;
        assert_eq!(view["lines"].as_array().unwrap().len(), 4);
        assert_eq!(line(view, &c.book)["quantity"], 5);
        assert_eq!(view["item_count"], 9);
        assert_eq!(view["subtotal"], 5 * 999 + 129900 + 79900 + 2 * 4500);
        assert_eq!(view["currency"], "USD");
        assert_eq!(view["price_changes"], false);
        assert_eq!(view["unavailable"], json!([]));
        let book = line(view, &c.book);
        assert_eq!(book["item_type"], "book");
        assert_eq!(book["name"], "Dune");
        assert_eq!((book["snapshot_price"].as_i64(), book["current_price"].as_i64()), (Some(999), Some(999)));
        assert_eq!((book["line_total"].as_i64(), book["available"].as_bool()), (Some(4995), Some(true)));
        let cart_id = view["id"].as_str().unwrap().to_string();
        assert!(cart_id.starts_with("cart_"), "{cart_id}");

        // Stock, price and type are the items service's to say.
        let short = add(&app, guest, "laptop", &c.laptop, 3).await;
        assert_problem(&short, StatusCode::CONFLICT, None);
        assert!(short.json["detail"].as_str().unwrap().contains("only 3"), "{}", short.json);
        assert_problem(
            &add(&app, guest, "book", &c.unpriced, 1).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("item_id"),
        );
        assert_problem(
            &add(&app, guest, "laptop", &c.book, 1).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("item_type"),
        );
        let unknown = add(&app, guest, "book", "book_01JDQ0000000000000000000000", 1).await;
        assert_problem(&unknown, StatusCode::UNPROCESSABLE_ENTITY, Some("item_id"));
        let unchanged = call(&app, Method::GET, "/api/cart", guest, None).await;
        assert_eq!(unchanged.json["item_count"], 9, "refused adds change nothing");

        // A price change shows against the snapshot; the subtotal uses the new price.
        set_price(&router, &c.book, 1299).await;
        let read = call(&app, Method::GET, "/api/cart/", guest, None).await;
        assert_eq!(read.status, StatusCode::OK);
        let book = line(&read.json, &c.book);
        assert_eq!(book["price_changed"], true);
        assert_eq!((book["snapshot_price"].as_i64(), book["current_price"].as_i64()), (Some(999), Some(1299)));
        assert_eq!(book["line_total"], 5 * 1299);
        assert_eq!(read.json["price_changes"], true);
        assert_eq!(read.json["subtotal"], 5 * 1299 + 129900 + 79900 + 2 * 4500);
        assert_eq!(line(&read.json, &c.laptop)["price_changed"], false);
        // Adding again takes a fresh snapshot.
        let again = add(&app, guest, "book", &c.book, 1).await;
        assert_eq!(line(&again.json, &c.book)["snapshot_price"], 1299);
        assert_eq!(line(&again.json, &c.book)["quantity"], 6);
        assert_eq!(again.json["price_changes"], false);

        // Changing a quantity checks the stock again.
        let uri = format!("/api/cart/items/{}", c.mobile);
        let changed = call(&app, Method::PATCH, &uri, guest, Some(json!({ "quantity": 4 }))).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.json);
        assert_eq!(line(&changed.json, &c.mobile)["quantity"], 4);
        let too_many = call(&app, Method::PATCH, &format!("{uri}/"), guest, Some(json!({ "quantity": 6 }))).await;
        assert_problem(&too_many, StatusCode::CONFLICT, None);
        assert!(too_many.json["detail"].as_str().unwrap().contains("only 5"));
        let missing = format!("/api/cart/items/{}", c.unpriced);
        assert_problem(
            &call(&app, Method::PATCH, &missing, guest, Some(json!({ "quantity": 1 }))).await,
            StatusCode::NOT_FOUND,
            None,
        );

        // Removing a line, then clearing the cart.
        let removed = call(&app, Method::DELETE, &format!("/api/cart/items/{}/", c.laptop), guest, None).await;
        assert_eq!(removed.status, StatusCode::OK);
        assert_eq!(removed.json["lines"].as_array().unwrap().len(), 3);
        assert_eq!(line(&removed.json, &c.laptop), &Value::Null);
        assert_eq!(removed.json["id"], cart_id.as_str());
        let again = call(&app, Method::DELETE, &format!("/api/cart/items/{}", c.laptop), guest, None).await;
        assert_problem(&again, StatusCode::NOT_FOUND, None);
        let cleared = call(&app, Method::DELETE, "/api/cart/", guest, None).await;
        assert_eq!(cleared.status, StatusCode::NO_CONTENT);
        let gone = call(&app, Method::GET, "/api/cart/", guest, None).await;
        assert_eq!((gone.json["id"].clone(), gone.json["lines"].clone()), (Value::Null, json!([])));
        assert_eq!(call(&app, Method::DELETE, "/api/cart", guest, None).await.status, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn every_caller_reaches_only_their_own_cart() {
    for url in transaction_store_urls("cart_owners").await {
        let items = Items::new();
        let router = items.router(None);
        let c = stock_catalog(&router).await;
        let app = cart_app(&url, Some(router));
        assert_eq!(add(&app, Who::Guest(TOKEN_A), "book", &c.book, 2).await.status, StatusCode::CREATED);

        // Another customer, another guest: their own empty carts, never guest A's.
        let other = call(&app, Method::GET, "/api/cart/", Who::Customer("cust_other"), None).await;
        assert_eq!(other.status, StatusCode::OK);
        assert_eq!(other.json["owner"], json!({ "kind": "customer", "id": "cust_other" }));
        assert_eq!((other.json["id"].clone(), other.json["lines"].clone()), (Value::Null, json!([])));
        let guest_b = call(&app, Method::GET, "/api/cart/", Who::Guest(TOKEN_B), None).await;
        assert_eq!(guest_b.json["lines"], json!([]));
        // Clearing or removing as someone else leaves guest A's cart alone.
        call(&app, Method::DELETE, "/api/cart/", Who::Guest(TOKEN_B), None).await;
        let remove =
            call(&app, Method::DELETE, &format!("/api/cart/items/{}", c.book), Who::Customer("cust_other"), None).await;
        assert_problem(&remove, StatusCode::NOT_FOUND, None);
        let patch = format!("/api/cart/items/{}", c.book);
        let patched = call(&app, Method::PATCH, &patch, Who::Guest(TOKEN_B), Some(json!({ "quantity": 1 }))).await;
        assert_problem(&patched, StatusCode::NOT_FOUND, None);
        let mine = call(&app, Method::GET, "/api/cart/", Who::Guest(TOKEN_A), None).await;
        assert_eq!(line(&mine.json, &c.book)["quantity"], 2);

        // A guest id with the wrong secret is refused, whatever its id part says.
        let forged = call(&app, Method::GET, "/api/cart/", Who::Guest(FORGED_A), None).await;
        assert_problem(&forged, StatusCode::UNAUTHORIZED, None);
        let forged_add = add(&app, Who::Guest(FORGED_A), "book", &c.book, 1).await;
        assert_problem(&forged_add, StatusCode::UNAUTHORIZED, None);
        let anonymous = call(&app, Method::GET, "/api/cart/", Who::Nobody, None).await;
        assert_problem(&anonymous, StatusCode::UNAUTHORIZED, None);
        assert!(anonymous.json["detail"].as_str().unwrap().contains("guest session or log in"));
        // Identity comes before the body: no identity is a 401 whatever was sent.
        assert_problem(&add(&app, Who::Nobody, "book", &c.book, 1).await, StatusCode::UNAUTHORIZED, None);
        let bad_bearer = http::Request::get("/api/cart/")
            .header("authorization", "Bearer not-a-token")
            .header("x-guest-token", TOKEN_A)
            .body(Bytes::new())
            .unwrap();
        let response = app.invoke("cart", bad_bearer).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "a broken login never falls back to the guest cart");

        // With both, the customer wins.
        let both =
            call(&app, Method::GET, "/api/cart/", Who::Both { guest: TOKEN_A, customer: "cust_both" }, None).await;
        assert_eq!(both.json["owner"], json!({ "kind": "customer", "id": "cust_both" }));
        assert_eq!(both.json["lines"], json!([]));

        // The raw cart, for the order service.
        let raw_cart = call(&app, Method::GET, &format!("/internal/cart/guest/{GUEST_A}"), Who::Nobody, None).await;
        assert_eq!(raw_cart.status, StatusCode::OK, "{}", raw_cart.json);
        assert_eq!(raw_cart.json["owner"], json!({ "kind": "guest", "id": GUEST_A }));
        assert_eq!(raw_cart.json["id"], mine.json["id"]);
        assert!(raw_cart.json["version"].as_str().unwrap().starts_with(mine.json["id"].as_str().unwrap()));
        let raw_line = &raw_cart.json["lines"][0];
        assert_eq!((raw_line["item_id"].as_str(), raw_line["quantity"].as_i64()), (Some(c.book.as_str()), Some(2)));
        assert_eq!((raw_line["snapshot_price"].as_i64(), raw_line["currency"].as_str()), (Some(999), Some("USD")));
        assert!(raw_line["added_at"].as_str().unwrap().ends_with('Z'));
        for missing in ["/internal/cart/customer/cust_other", "/internal/cart/robot/x", "/internal/cart/guest/nobody"] {
            assert_problem(&call(&app, Method::GET, missing, Who::Nobody, None).await, StatusCode::NOT_FOUND, None);
        }
    }
}

#[tokio::test]
async fn merging_moves_a_guest_cart_into_the_customers_once() {
    for url in transaction_store_urls("cart_merge").await {
        let items = Items::new();
        let router = items.router(None);
        let c = stock_catalog(&router).await;
        let app = cart_app(&url, Some(router.clone()));
        let (guest, customer) = (Who::Guest(TOKEN_A), Who::Customer("cust_merge"));

        assert_eq!(add(&app, customer, "book", &c.book, 2).await.status, StatusCode::CREATED);
        assert_eq!(add(&app, customer, "clothes", &c.clothes, 60).await.status, StatusCode::CREATED);
        // Snapshots are taken to the second: let the guest's be strictly newer.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        set_price(&router, &c.book, 1099).await;
        assert_eq!(add(&app, guest, "book", &c.book, 3).await.status, StatusCode::CREATED);
        assert_eq!(add(&app, guest, "mobile", &c.mobile, 1).await.status, StatusCode::CREATED);
        assert_eq!(add(&app, guest, "clothes", &c.clothes, 50).await.status, StatusCode::CREATED);

        let body = json!({ "guest_id": GUEST_A, "customer_id": "cust_merge" });
        let merged = call(&app, Method::POST, "/internal/cart/merge", Who::Nobody, Some(body.clone())).await;
        assert_eq!(merged.status, StatusCode::OK, "{}", merged.json);
        assert_eq!(merged.json["owner"], json!({ "kind": "customer", "id": "cust_merge" }));
        let book = line(&merged.json, &c.book);
        assert_eq!(book["quantity"], 5, "quantities add");
        assert_eq!(book["snapshot_price"], 1099, "the guest's newer snapshot wins");
        assert_eq!(book["price_changed"], false);
        assert_eq!(line(&merged.json, &c.mobile)["quantity"], 1);
        assert_eq!(line(&merged.json, &c.clothes)["quantity"], 99, "capped at the line limit");
        assert_eq!(merged.json["lines"].as_array().unwrap().len(), 3);

        // The guest's cart is gone; merging again changes nothing.
        let guest_view = call(&app, Method::GET, "/api/cart/", guest, None).await;
        assert_eq!((guest_view.json["id"].clone(), guest_view.json["lines"].clone()), (Value::Null, json!([])));
        let raw_guest = call(&app, Method::GET, &format!("/internal/cart/guest/{GUEST_A}"), Who::Nobody, None).await;
        assert_eq!(raw_guest.status, StatusCode::NOT_FOUND);
        let twice = call(&app, Method::POST, "/internal/cart/merge", Who::Nobody, Some(body)).await;
        assert_eq!(twice.status, StatusCode::OK);
        assert_eq!(twice.json["lines"], merged.json["lines"]);
        let mine = call(&app, Method::GET, "/api/cart/", customer, None).await;
        assert_eq!(mine.json["lines"], merged.json["lines"]);

        // A guest with no cart merges into a customer with none: an empty view.
        let nothing = json!({ "guest_id": GUEST_B, "customer_id": "cust_new" });
        let empty = call(&app, Method::POST, "/internal/cart/merge", Who::Nobody, Some(nothing)).await;
        assert_eq!((empty.status, empty.json["id"].clone()), (StatusCode::OK, Value::Null));

        for (bad, field) in [
            (json!({ "guest_id": GUEST_A }), "customer_id"),
            (json!({ "guest_id": GUEST_A, "customer_id": "c", "extra": 1 }), "extra"),
            (json!({ "guest_id": 7, "customer_id": "c" }), "guest_id"),
            (json!({ "guest_id": "", "customer_id": "c" }), "guest_id"),
        ] {
            let answer = call(&app, Method::POST, "/internal/cart/merge", Who::Nobody, Some(bad.clone())).await;
            assert_problem(&answer, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        }
    }
}

#[tokio::test]
async fn a_stopped_item_service_leaves_the_cart_readable() {
    for url in transaction_store_urls("cart_outage").await {
        let items = Items::new();
        let router = items.router(None);
        let c = stock_catalog(&router).await;
        let guest = Who::Guest(TOKEN_A);
        let app = cart_app(&url, Some(router));
        assert_eq!(add(&app, guest, "book", &c.book, 2).await.status, StatusCode::CREATED);
        assert_eq!(add(&app, guest, "laptop", &c.laptop, 1).await.status, StatusCode::CREATED);

        // The same cart store, but the laptop function has stopped.
        let degraded = cart_app(&url, Some(items.router(Some("laptop"))));
        let read = call(&degraded, Method::GET, "/api/cart/", guest, None).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.json);
        let laptop = line(&read.json, &c.laptop);
        assert_eq!((laptop["available"].as_bool(), laptop["line_total"].clone()), (Some(false), Value::Null));
        assert_eq!(laptop["name"], "XPS 13", "the stored name still shows");
        assert_eq!(line(&read.json, &c.book)["available"], true);
        assert_eq!(read.json["subtotal"], 2 * 999, "only what can be priced counts");
        assert_eq!(read.json["unavailable"].as_array().unwrap().len(), 1);
        assert_eq!(read.json["unavailable"][0]["item_id"], c.laptop.as_str());
        // Adding what cannot be checked is refused with a retry hint.
        let refused = add(&degraded, guest, "laptop", &c.laptop, 1).await;
        assert_problem(&refused, StatusCode::SERVICE_UNAVAILABLE, None);
        assert!(refused.headers.contains_key("retry-after"));

        // A deleted item shows as unavailable too.
        let (status, _, _) =
            send(&items.router(None), Method::DELETE, &format!("/api/items/{}/", c.book), Some(&staff_token()), None)
                .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let read = call(&app, Method::GET, "/api/cart/", guest, None).await;
        assert_eq!(line(&read.json, &c.book)["available"], false);
        assert_eq!(
            (line(&read.json, &c.laptop)["available"].as_bool(), read.json["subtotal"].as_i64()),
            (Some(true), Some(129900))
        );

        // Without the items router at all, the cart still reads; it cannot add.
        let alone = cart_app(&url, None);
        let read = call(&alone, Method::GET, "/api/cart/", guest, None).await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(
            (read.json["subtotal"].as_i64(), read.json["unavailable"].as_array().map(Vec::len)),
            (Some(0), Some(2))
        );
        assert_problem(&add(&alone, guest, "mobile", &c.mobile, 1).await, StatusCode::SERVICE_UNAVAILABLE, None);
    }
}

#[tokio::test]
async fn bad_input_is_a_clear_problem() {
    for url in transaction_store_urls("cart_input").await {
        let items = Items::new();
        let router = items.router(None);
        let c = stock_catalog(&router).await;
        let app = cart_app(&url, Some(router.clone()));
        let guest = Who::Guest(TOKEN_A);
        let post = |body: Value| call(&app, Method::POST, "/api/cart/items", guest, Some(body));

        for (body, field) in [
            (json!({ "item_type": "book", "item_id": c.book, "quantity": 1, "colour": "red" }), "colour"),
            (json!({ "item_type": "book", "item_id": c.book, "quantity": "two" }), "quantity"),
            (json!({ "item_type": "book", "item_id": c.book, "quantity": 1.5 }), "quantity"),
            (json!({ "item_type": "book", "item_id": c.book }), "quantity"),
            (json!({ "item_type": 3, "item_id": c.book, "quantity": 1 }), "item_type"),
            (json!({ "item_type": "book", "item_id": c.book, "quantity": 0 }), "quantity"),
            (json!({ "item_type": "book", "item_id": c.book, "quantity": -2 }), "quantity"),
            (json!({ "item_type": "book", "item_id": c.book, "quantity": 100 }), "quantity"),
            (json!({ "item_type": "book", "item_id": "../../internal/stock", "quantity": 1 }), "item_id"),
            (json!({ "item_type": "book", "item_id": "", "quantity": 1 }), "item_id"),
            (json!({ "item_type": "Books!", "item_id": c.book, "quantity": 1 }), "item_type"),
        ] {
            let answer = post(body.clone()).await;
            assert_problem(&answer, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        }
        let body = json!({ "item_type": "book", "item_id": c.book, "quantity": 1 }).to_string();
        let malformed =
            raw(&app, Method::POST, "/api/cart/items", guest, Some(("application/json", "{\"item_id\": "))).await;
        assert_problem(&malformed, StatusCode::BAD_REQUEST, None);
        let list = raw(&app, Method::POST, "/api/cart/items", guest, Some(("application/json", "[1]"))).await;
        assert_problem(&list, StatusCode::BAD_REQUEST, None);
        let text = raw(&app, Method::POST, "/api/cart/items", guest, Some(("text/plain", &body))).await;
        assert_problem(&text, StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
        let untyped = raw(&app, Method::POST, "/api/cart/items", guest, None).await;
        assert_problem(&untyped, StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
        assert_eq!(call(&app, Method::GET, "/api/cart/", guest, None).await.json["lines"], json!([]));

        // A line's quantity has a ceiling, counted over repeated adds.
        assert_eq!(
            post(json!({ "item_type": "clothes", "item_id": c.clothes, "quantity": 90 })).await.status,
            StatusCode::CREATED
        );
        let over = post(json!({ "item_type": "clothes", "item_id": c.clothes, "quantity": 10 })).await;
        assert_problem(&over, StatusCode::UNPROCESSABLE_ENTITY, Some("quantity"));
        let uri = format!("/api/cart/items/{}", c.clothes);
        for (body, field) in [
            (json!({ "quantity": 0 }), "quantity"),
            (json!({ "quantity": 100 }), "quantity"),
            (json!({ "quantity": null }), "quantity"),
            (json!({ "quantity": 1, "price": 1 }), "price"),
        ] {
            let answer = call(&app, Method::PATCH, &uri, guest, Some(body)).await;
            assert_problem(&answer, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        }
        assert_problem(&call(&app, Method::PUT, "/api/cart/", guest, None).await, StatusCode::METHOD_NOT_ALLOWED, None);

        // A cart holds a limited number of different items.
        for n in 1..MAX_LINES {
            let id = create_item(
                &router,
                json!({ "type": "book", "name": format!("Book {n}"), "author": "A", "price": 100, "stock": 1 }),
            )
            .await;
            assert_eq!(add(&app, guest, "book", &id, 1).await.status, StatusCode::CREATED);
        }
        let id = create_item(
            &router,
            json!({ "type": "book", "name": "One too many", "author": "A", "price": 100, "stock": 1 }),
        )
        .await;
        let full = add(&app, guest, "book", &id, 1).await;
        assert_problem(&full, StatusCode::CONFLICT, None);
        assert!(full.json["detail"].as_str().unwrap().contains(&MAX_LINES.to_string()));
        // An item already in the full cart can still grow.
        let more = post(json!({ "item_type": "clothes", "item_id": c.clothes, "quantity": 1 })).await;
        assert_eq!(more.status, StatusCode::CREATED, "{}", more.json);
        assert_eq!(more.json["lines"].as_array().unwrap().len(), MAX_LINES);
    }
}

#[tokio::test]
async fn the_order_service_empties_the_cart_version_it_checked_out() {
    for url in transaction_store_urls("cart_checked_out").await {
        let items = Items::new();
        let router = items.router(None);
        let c = stock_catalog(&router).await;
        let app = cart_app(&url, Some(router));
        let (buyer, other) = (Who::Customer("cust_buyer"), Who::Customer("cust_other"));
        assert_eq!(add(&app, buyer, "book", &c.book, 2).await.status, StatusCode::CREATED);
        assert_eq!(add(&app, other, "mobile", &c.mobile, 1).await.status, StatusCode::CREATED);

        let path = "/internal/cart/customer/cust_buyer";
        let raw = call(&app, Method::GET, path, Who::Nobody, None).await;
        let version = raw.json["version"].as_str().unwrap().to_string();
        // Every change makes a new version; the same contents read twice are the same version.
        assert_eq!(call(&app, Method::GET, path, Who::Nobody, None).await.json["version"], version.as_str());
        let checked_out = |version: &str, lines: Value| json!({ "version": version, "lines": lines });
        let done = format!("{path}/checked-out");
        let ordered = json!([{ "item_id": c.book, "quantity": 2 }]);
        let answer = call(&app, Method::POST, &done, Who::Nobody, Some(checked_out(&version, ordered.clone()))).await;
        assert_eq!((answer.status, answer.json.clone()), (StatusCode::NO_CONTENT, Value::Null));
        assert_problem(&call(&app, Method::GET, path, Who::Nobody, None).await, StatusCode::NOT_FOUND, None);
        let mine = call(&app, Method::GET, "/api/cart/", buyer, None).await;
        assert_eq!((mine.json["id"].clone(), mine.json["lines"].clone()), (Value::Null, json!([])));
        // Only that cart: another customer's is untouched, and a repeat changes nothing.
        let theirs = call(&app, Method::GET, "/api/cart/", other, None).await;
        assert_eq!(line(&theirs.json, &c.mobile)["quantity"], 1);
        let again = call(&app, Method::POST, &done, Who::Nobody, Some(checked_out(&version, ordered))).await;
        assert_eq!(again.status, StatusCode::NO_CONTENT);

        // The cart changed while the checkout ran: only what was ordered goes.
        add(&app, buyer, "book", &c.book, 3).await;
        let read = call(&app, Method::GET, path, Who::Nobody, None).await.json["version"].as_str().unwrap().to_string();
        add(&app, buyer, "mobile", &c.mobile, 1).await;
        let newer =
            call(&app, Method::GET, path, Who::Nobody, None).await.json["version"].as_str().unwrap().to_string();
        assert_ne!(read, newer);
        let tidy = call(&app, Method::POST, &done, Who::Nobody, Some(checked_out(&read, json!([])))).await;
        assert_eq!(tidy.status, StatusCode::NO_CONTENT);
        assert_eq!(
            call(&app, Method::GET, "/api/cart/", buyer, None).await.json["lines"].as_array().unwrap().len(),
            2,
            "a tidy-up leaves a changed cart alone"
        );
        let partly = json!([{ "item_id": c.book, "quantity": 2 }]);
        call(&app, Method::POST, &done, Who::Nobody, Some(checked_out(&read, partly))).await;
        let left = call(&app, Method::GET, "/api/cart/", buyer, None).await;
        assert_eq!(line(&left.json, &c.book)["quantity"], 1);
        assert_eq!(line(&left.json, &c.mobile)["quantity"], 1);

        for bad in [
            checked_out("", json!([])),
            json!({ "version": "v", "lines": [{ "item_id": "x", "quantity": 0 }] }),
            json!({ "version": "v" }),
        ] {
            let refused = call(&app, Method::POST, &done, Who::Nobody, Some(bad.clone())).await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
        let unknown_kind = call(
            &app,
            Method::POST,
            "/internal/cart/robot/x/checked-out",
            Who::Nobody,
            Some(checked_out("v", json!([]))),
        )
        .await;
        assert_problem(&unknown_kind, StatusCode::NOT_FOUND, None);
    }
}

/// A closed account's cart goes with it, and a write whose account check
/// passed before the closure never leaves a cart behind: the closure and every
/// write take the owner's cart row first, so each write either lands before
/// the closure deletes it or finds the owner closed (401) and leaves nothing.
#[tokio::test]
async fn a_closed_owner_keeps_no_cart_whatever_was_under_way() {
    for url in transaction_store_urls("cart_closed_owner").await {
        let items = Items::new();
        let router = items.router(None);
        let c = stock_catalog(&router).await;
        let app = Arc::new(cart_app(&url, Some(router)));
        let (closing, other) = (Who::Customer("cust_closing"), Who::Customer("cust_staying"));
        assert_eq!(add(&app, closing, "book", &c.book, 1).await.status, StatusCode::CREATED);
        assert_eq!(add(&app, other, "book", &c.book, 1).await.status, StatusCode::CREATED);
        let close = "/internal/cart/customer/cust_closing";
        assert_eq!(call(&app, Method::DELETE, close, Who::Nobody, None).await.status, StatusCode::NO_CONTENT);
        assert_problem(&call(&app, Method::GET, close, Who::Nobody, None).await, StatusCode::NOT_FOUND, None);

        // The account check still says live (it ran before the closure): the cart refuses by itself.
        assert_problem(&add(&app, closing, "laptop", &c.laptop, 1).await, StatusCode::UNAUTHORIZED, None);
        let change = json!({ "quantity": 2 });
        let path = format!("/api/cart/items/{}", c.book);
        let changed = call(&app, Method::PATCH, &path, closing, Some(change)).await;
        assert!(matches!(changed.status, StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND), "{}", changed.json);
        assert_problem(&call(&app, Method::GET, close, Who::Nobody, None).await, StatusCode::NOT_FOUND, None);
        assert_eq!(call(&app, Method::DELETE, close, Who::Nobody, None).await.status, StatusCode::NO_CONTENT);
        let theirs = call(&app, Method::GET, "/api/cart/", other, None).await;
        assert_eq!(line(&theirs.json, &c.book)["quantity"], 1, "only that owner is closed");

        // Adds racing a closure: whatever order they land in, no cart is left.
        for round in 0..4 {
            let sub = format!("cust_racing_{round}");
            let who: &'static str = Box::leak(sub.clone().into_boxed_str());
            let mut tasks = Vec::new();
            for n in 0..6 {
                let (adding, item) = (app.clone(), if n % 2 == 0 { c.clothes.clone() } else { c.book.clone() });
                let item_type = if n % 2 == 0 { "clothes" } else { "book" };
                tasks.push(tokio::spawn(
                    async move { add(&adding, Who::Customer(who), item_type, &item, 1).await.status },
                ));
                if n == 2 {
                    let (closing, close) = (app.clone(), format!("/internal/cart/customer/{sub}"));
                    tasks.push(tokio::spawn(async move {
                        call(&closing, Method::DELETE, &close, Who::Nobody, None).await.status
                    }));
                }
            }
            for task in tasks {
                let status = task.await.unwrap();
                assert!(
                    [StatusCode::CREATED, StatusCode::UNAUTHORIZED, StatusCode::NO_CONTENT].contains(&status),
                    "{status}"
                );
            }
            let left = call(&app, Method::GET, &format!("/internal/cart/customer/{sub}"), Who::Nobody, None).await;
            assert_problem(&left, StatusCode::NOT_FOUND, None);
        }
    }
}
