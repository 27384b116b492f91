//! The paying service over fake `order` and `vip-customer` functions, invoked in
//! process, on a given store.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{Method, Request, StatusCode};
use paying::{Config, PayingState, RetryPolicy, SimulatedProcessor};
use serde_json::{Value, json};
use shared::auth::{CustomerType, Role, TokenKeys};
use shared::error::{AppError, PROBLEM_JSON};
use shared::ids::new_id;
use shared::invoke::InProcessInvoker;
use shared::store::StoreUrl;
use sqlx::{Column, Row};
use tower::ServiceExt;

pub use shared::testing::{customer_token, staff_token, transaction_store_urls};

pub const GOOD: &str = "4242 4242 4242 4242";
pub const DECLINED: &str = "4000 0000 0000 0002";
pub const NO_FUNDS: &str = "4000 0000 0000 9995";
pub const ALWAYS_DOWN: &str = "4000 0000 0000 0119";
pub const FIRST_DOWN: &str = "4000 0000 0000 0259";
/// Luhn-valid, but not one of the simulated processor's cards.
pub const UNSUPPORTED: &str = "5555 5555 5555 4444";

pub fn vip_token(sub: &str) -> String {
    TokenKeys::development().issue(sub, CustomerType::Vip, Role::Customer, 600)
}

/// The order service's internal routes over a map of orders.
#[derive(Default)]
pub struct FakeOrders {
    orders: Mutex<HashMap<String, Value>>,
    /// Every `/paid` body received, including the ones answered with an error.
    pub paid_calls: Mutex<Vec<Value>>,
    /// How many of the next `/paid` calls answer 503.
    pub fail_paid: AtomicU32,
    /// Answer `/paid` with 409 as if the order had just been cancelled.
    pub refuse_paid: AtomicBool,
}

impl FakeOrders {
    pub fn add(&self, customer_id: &str, total: i64, status: &str) -> String {
        let id = new_id("order");
        let order = json!({
            "id": id, "customer_id": customer_id, "customer_type": "registered", "status": status,
            "currency": "USD", "subtotal": total, "discount": 0, "shipping_fee": 0, "points_redeemed": 0,
            "total": total, "delivery_option": "standard",
            "shipping_address": { "line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US" },
            "lines": [{ "item_type": "book", "item_id": new_id("book"), "name": "Dune", "quantity": 1,
                        "unit_price": total, "line_total": total }],
            "payment_id": null, "shipment_id": null,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        });
        self.orders.lock().unwrap().insert(id.clone(), order);
        id
    }

    pub fn get(&self, id: &str) -> Value {
        self.orders.lock().unwrap().get(id).cloned().unwrap_or(Value::Null)
    }

    pub fn set_status(&self, id: &str, status: &str) {
        if let Some(order) = self.orders.lock().unwrap().get_mut(id) {
            order["status"] = json!(status);
        }
    }

    pub fn paid_calls_for(&self, id: &str) -> usize {
        let calls = self.paid_calls.lock().unwrap();
        calls.iter().filter(|c| c["order_id"] == id).count()
    }
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let error = match status {
        StatusCode::NOT_FOUND => AppError::NotFound(detail.into()),
        StatusCode::CONFLICT => AppError::Conflict(detail.into()),
        _ => AppError::Unavailable { detail: detail.into(), retry_after_secs: 1 },
    };
    error.into_response()
}

pub fn order_service(fake: Arc<FakeOrders>) -> Router {
    async fn read(State(fake): State<Arc<FakeOrders>>, Path(id): Path<String>) -> Response {
        match fake.orders.lock().unwrap().get(&id) {
            Some(order) => axum::Json(order.clone()).into_response(),
            None => problem(StatusCode::NOT_FOUND, "no such order"),
        }
    }
    async fn paid(State(fake): State<Arc<FakeOrders>>, Path(id): Path<String>, body: axum::Json<Value>) -> Response {
        let mut call = body.0.clone();
        call["order_id"] = json!(id);
        fake.paid_calls.lock().unwrap().push(call);
        if fake.fail_paid.load(Ordering::SeqCst) > 0 {
            fake.fail_paid.fetch_sub(1, Ordering::SeqCst);
            return problem(StatusCode::SERVICE_UNAVAILABLE, "order store down");
        }
        if fake.refuse_paid.load(Ordering::SeqCst) {
            return problem(StatusCode::CONFLICT, "the order was cancelled");
        }
        let mut orders = fake.orders.lock().unwrap();
        let Some(order) = orders.get_mut(&id) else { return problem(StatusCode::NOT_FOUND, "no such order") };
        let payment_id = body.0["payment_id"].clone();
        if order["status"] == "pending_payment" {
            order["status"] = json!("paid");
            order["payment_id"] = payment_id;
            axum::Json(order.clone()).into_response()
        } else if order["status"] == "paid" && order["payment_id"] == payment_id {
            axum::Json(order.clone()).into_response()
        } else {
            problem(StatusCode::CONFLICT, "the order is not pending payment")
        }
    }
    Router::new()
        .route("/internal/orders/{id}", get(read))
        .route("/internal/orders/{id}/paid", post(paid))
        .with_state(fake)
}

/// Points balances, redeems by the customer's own VIP token, and restores.
#[derive(Default)]
pub struct FakeVip {
    pub balances: Mutex<HashMap<String, i64>>,
    keys: Mutex<HashMap<String, Value>>,
    pub restores: Mutex<Vec<Value>>,
    /// How many of the next calls (redeem or restore) answer 503.
    pub fail_next: AtomicU32,
}

impl FakeVip {
    fn failing(&self) -> bool {
        self.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    pub fn balance(&self, customer_id: &str) -> i64 {
        self.balances.lock().unwrap().get(customer_id).copied().unwrap_or_default()
    }
}

pub fn vip_service(fake: Arc<FakeVip>) -> Router {
    async fn redeem(State(fake): State<Arc<FakeVip>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let claims = match TokenKeys::development().verify(token) {
            Ok(claims) if claims.typ == CustomerType::Vip => claims,
            Ok(_) => return AppError::Forbidden("not a VIP".into()).into_response(),
            Err(e) => return e.into_response(),
        };
        if fake.failing() {
            return problem(StatusCode::SERVICE_UNAVAILABLE, "ledger locked");
        }
        let key = format!("{}:{}", claims.sub, body.0["idempotency_key"].as_str().unwrap_or_default());
        if let Some(entry) = fake.keys.lock().unwrap().get(&key) {
            return axum::Json(entry.clone()).into_response();
        }
        let points = body.0["points"].as_i64().unwrap_or_default();
        let mut balances = fake.balances.lock().unwrap();
        let balance = balances.entry(claims.sub.clone()).or_default();
        if *balance < points {
            return AppError::Conflict(format!("the balance is {balance} points")).into_response();
        }
        *balance -= points;
        let entry = json!({ "kind": "redeem", "points": -points, "reason": body.0["reason"] });
        fake.keys.lock().unwrap().insert(key, entry.clone());
        (StatusCode::CREATED, axum::Json(entry)).into_response()
    }
    async fn restore(State(fake): State<Arc<FakeVip>>, body: axum::Json<Value>) -> Response {
        if fake.failing() {
            return problem(StatusCode::SERVICE_UNAVAILABLE, "ledger locked");
        }
        let key = format!("restore:{}", body.0["idempotency_key"].as_str().unwrap_or_default());
        if let Some(entry) = fake.keys.lock().unwrap().get(&key) {
            return axum::Json(entry.clone()).into_response();
        }
        let customer = body.0["customer_id"].as_str().unwrap_or_default().to_string();
        *fake.balances.lock().unwrap().entry(customer).or_default() += body.0["points"].as_i64().unwrap_or_default();
        fake.restores.lock().unwrap().push(body.0.clone());
        fake.keys.lock().unwrap().insert(key, body.0.clone());
        (StatusCode::CREATED, axum::Json(body.0)).into_response()
    }
    Router::new()
        .route("/api/customers/vip/points/redeem", post(redeem))
        .route("/internal/vip/restore", post(restore))
        .with_state(fake)
}

pub struct Shop {
    pub app: Router,
    pub orders: Arc<FakeOrders>,
    pub vip: Arc<FakeVip>,
    pub processor: Arc<SimulatedProcessor>,
    pub url: StoreUrl,
}

pub fn config(url: &StoreUrl, capture_immediately: bool) -> Config {
    Config {
        store: url.clone(),
        max_connections: 2,
        order_function: "order".into(),
        vip_function: "vip-customer".into(),
        registered_function: "registered-customer".into(),
        invoke_timeout: Duration::from_secs(3),
        capture_immediately,
        retry: RetryPolicy { attempts: 3, first_backoff: Duration::from_millis(5) },
    }
}

pub fn shop(url: &StoreUrl, capture_immediately: bool) -> Shop {
    let orders = Arc::new(FakeOrders::default());
    let vip = Arc::new(FakeVip::default());
    let invoker = InProcessInvoker::new()
        .with("order", order_service(orders.clone()))
        .with("vip-customer", vip_service(vip.clone()));
    shop_with(url, capture_immediately, invoker, orders, vip)
}

pub fn shop_with(
    url: &StoreUrl,
    capture_immediately: bool,
    invoker: InProcessInvoker,
    orders: Arc<FakeOrders>,
    vip: Arc<FakeVip>,
) -> Shop {
    shop_from(config(url, capture_immediately), invoker, orders, vip)
}

pub fn shop_from(config: Config, invoker: InProcessInvoker, orders: Arc<FakeOrders>, vip: Arc<FakeVip>) -> Shop {
    let url = config.store.clone();
    let processor = Arc::new(SimulatedProcessor::new());
    let invoker = invoker.with("registered-customer", shared::testing::every_account_live());
    let state =
        PayingState::with_processor(&config, Arc::new(invoker), Arc::new(TokenKeys::development()), processor.clone())
            .unwrap();
    Shop { app: paying::router(state), orders, vip, processor, url }
}

#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Answer {
    pub fn id(&self) -> String {
        self.json["id"].as_str().unwrap_or_default().to_string()
    }
}

pub async fn raw(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<(&str, String)>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri).header("host", "shop.test");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let request = match body {
        Some((content_type, text)) => request.header("content-type", content_type).body(Body::from(text)),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer { status, headers, text, json }
}

pub async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<Value>,
) -> Answer {
    raw(app, method, uri, token, key, body.map(|b| ("application/json", b.to_string()))).await
}

pub fn card(number: &str) -> Value {
    json!({ "number": number, "exp_month": 12, "exp_year": 2035, "cvc": "123", "holder": "Ada Lovelace" })
}

pub fn card_payment(order_id: &str, number: &str) -> Value {
    json!({ "order_id": order_id, "method": "card", "card": card(number) })
}

pub async fn pay(shop: &Shop, token: &str, key: &str, body: Value) -> Answer {
    call(&shop.app, Method::POST, "/api/payments/", Some(token), Some(key), Some(body)).await
}

pub async fn internal(shop: &Shop, path: &str, body: Value) -> Answer {
    call(&shop.app, Method::POST, path, None, None, Some(body)).await
}

pub async fn read(shop: &Shop, id: &str) -> Answer {
    call(&shop.app, Method::GET, &format!("/api/payments/{id}"), Some(&staff_token()), None, None).await
}

pub fn assert_problem(answer: &Answer, status: StatusCode, field: Option<&str>) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.headers["content-type"], PROBLEM_JSON, "{}", answer.text);
    assert_eq!(answer.json["status"], status.as_u16(), "{}", answer.text);
    if let Some(field) = field {
        assert!(answer.json["errors"].get(field).is_some(), "expected `{field}` in {}", answer.text);
    }
}

/// Every cell of the service's tables, as text, read straight from the database.
pub async fn every_stored_value(url: &StoreUrl) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let (url, prefix) = match url {
        StoreUrl::Sqlite(u) => (u.clone(), ""),
        StoreUrl::Postgres(u) => (u.clone(), "paying."),
        other => panic!("not a transaction store: {other:?}"),
    };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let mut cells = Vec::new();
    for table in ["payments", "refunds"] {
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {prefix}{table}"))).fetch_all(&pool).await.unwrap();
        for row in rows {
            for (i, column) in row.columns().iter().enumerate() {
                if let Ok(text) = row.try_get::<Option<String>, _>(i) {
                    cells.extend(text);
                } else if let Ok(number) = row.try_get::<Option<i64>, _>(i) {
                    cells.extend(number.map(|n| n.to_string()));
                } else {
                    panic!("column {} of {table} could not be read", column.name());
                }
            }
        }
    }
    pool.close().await;
    cells
}
