//! The order function among the real item functions, items router, cart and
//! VIP service, invoked in process, with small recording fakes for shipping and
//! paying (built in parallel by other crates).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use items_router::{DEFAULT_SERVICES, ItemTable, RouterState};
use order::{Config, Functions, ManualClock, OrderState};
use serde_json::{Value, json};
use shared::auth::{CustomerType, Role, TokenKeys};
use shared::catalog::{self, CatalogState, ItemKind, ServiceConfig};
use shared::error::PROBLEM_JSON;
use shared::ids::new_id;
use shared::invoke::{InProcessInvoker, Invoker};
use shared::store::StoreUrl;
use shared::testing::{customer_token, send, staff_token, temp_sqlite_url};
use tower::ServiceExt;

const TIERS: &str = include_str!("../../../../fixtures/customers/vip_tiers.json");

pub fn vip_token(sub: &str) -> String {
    TokenKeys::development().issue(sub, CustomerType::Vip, Role::Customer, 600)
}

pub fn guest_token(sub: &str) -> String {
    TokenKeys::development().issue(sub, CustomerType::Guest, Role::Customer, 600)
}

pub fn registered(sub: &str) -> String {
    customer_token(sub)
}

/// A stand-in for shipping or paying: records what it is asked, and can be
/// stopped or slowed down.
#[derive(Clone, Default)]
pub struct Fake {
    pub calls: Arc<Mutex<Vec<Value>>>,
    pub down: Arc<AtomicBool>,
    pub slow: Arc<AtomicBool>,
    /// Answers 200 with a body that is not what the contract says.
    pub nonsense: Arc<AtomicBool>,
}

impl Fake {
    pub fn calls(&self) -> Vec<Value> {
        self.calls.lock().unwrap().clone()
    }

    pub fn calls_for(&self, order_id: &str) -> usize {
        self.calls().iter().filter(|c| c["order_id"] == order_id).count()
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Records the call; `None` when it should succeed.
    async fn enter(&self, body: &Value) -> Option<Response> {
        if self.slow.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1_500)).await;
        }
        if self.down.load(Ordering::SeqCst) {
            let problem =
                json!({ "type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "down" });
            return Some((StatusCode::SERVICE_UNAVAILABLE, axum::Json(problem)).into_response());
        }
        if self.nonsense.load(Ordering::SeqCst) {
            return Some((StatusCode::OK, "<html>hello</html>").into_response());
        }
        self.calls.lock().unwrap().push(body.clone());
        None
    }
}

/// `POST /internal/shipments` as the contract has it: one shipment per order.
fn shipping(fake: Fake) -> Router {
    let made: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
    Router::new().route(
        "/internal/shipments",
        post(move |axum::Json(body): axum::Json<Value>| {
            let (fake, made) = (fake.clone(), made.clone());
            async move {
                if let Some(refused) = fake.enter(&body).await {
                    return refused;
                }
                let order_id = body["order_id"].as_str().unwrap_or_default().to_string();
                let mut made = made.lock().unwrap();
                if let Some(existing) = made.get(&order_id) {
                    return (StatusCode::OK, axum::Json(existing.clone())).into_response();
                }
                let shipment = json!({
                    "id": new_id("shipment"), "order_id": order_id, "customer_id": body["customer_id"],
                    "carrier": "ShopPost", "method": body["delivery_option"], "tracking_number": "SP123",
                    "status": "label_created", "estimated_delivery": "2030-01-01",
                    "shipping_address": body["shipping_address"], "events": [],
                    "created_at": "2030-01-01T00:00:00Z", "updated_at": "2030-01-01T00:00:00Z"
                });
                made.insert(order_id, shipment.clone());
                (StatusCode::CREATED, axum::Json(shipment)).into_response()
            }
        }),
    )
}

/// `POST /internal/payments/refund-order`: every order has a payment here.
fn paying(fake: Fake) -> Router {
    Router::new().route(
        "/internal/payments/refund-order",
        post(move |axum::Json(body): axum::Json<Value>| {
            let fake = fake.clone();
            async move {
                if let Some(refused) = fake.enter(&body).await {
                    return refused;
                }
                let payment = json!({ "id": "payment_01JDQ000000000000000000000", "order_id": body["order_id"],
                    "status": "refunded" });
                (StatusCode::OK, axum::Json(payment)).into_response()
            }
        }),
    )
}

/// Holds requests to paths containing `/stock` while armed, so a test can act
/// between the moment a checkout asks for stock and the moment it gets it.
#[derive(Clone, Default)]
pub struct StockGate {
    armed: Arc<AtomicBool>,
    arrived: Arc<tokio::sync::Notify>,
    open: Arc<tokio::sync::Notify>,
}

impl StockGate {
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Waits for the first held request.
    pub async fn arrived(&self) {
        self.arrived.notified().await;
    }

    /// Lets the held request (and every later one) through.
    pub fn open(&self) {
        self.armed.store(false, Ordering::SeqCst);
        self.open.notify_one();
    }

    fn wrap(&self, inner: Router) -> Router {
        let gate = self.clone();
        Router::new().fallback(move |request: Request| {
            let (inner, gate) = (inner.clone(), gate.clone());
            async move {
                if request.uri().path().contains("/stock") && gate.armed.load(Ordering::SeqCst) {
                    gate.arrived.notify_one();
                    gate.open.notified().await;
                }
                match inner.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        })
    }
}

/// `inner`, except that paths starting with `prefix` answer 503 while `down` is set.
fn switchable(inner: Router, down: Arc<AtomicBool>, prefix: &'static str) -> Router {
    Router::new().fallback(move |request: Request| {
        let (inner, down) = (inner.clone(), down.clone());
        async move {
            if down.load(Ordering::SeqCst) && request.uri().path().starts_with(prefix) {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            match inner.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    })
}

fn item_service<K: ItemKind>(url: &StoreUrl) -> Router {
    let config = ServiceConfig { store: url.clone(), max_connections: 2 };
    catalog::router::<K>(CatalogState::new::<K>(&config, Arc::new(TokenKeys::development())).unwrap())
}

pub struct Catalog {
    pub book: String,
    pub laptop: String,
    pub mobile: String,
    pub clothes: String,
}

pub struct World {
    pub order: Router,
    pub items: Router,
    pub cart: Router,
    pub vip: Router,
    pub shipping: Fake,
    pub paying: Fake,
    /// Item lookups (`/api/items/...`) fail while set.
    pub items_down: Arc<AtomicBool>,
    /// Point redemptions fail while set.
    pub redeem_down: Arc<AtomicBool>,
    pub stock_gate: StockGate,
    /// The order service's clock: tests let time pass with it.
    pub clock: Arc<ManualClock>,
    peers: InProcessInvoker,
    url: StoreUrl,
}

impl World {
    /// Everything on fresh stores; the order (and the cart, on PostgreSQL) on `url`.
    pub async fn new(url: &StoreUrl, name: &str) -> Self {
        let keys = || Arc::new(TokenKeys::development());
        let mut functions = InProcessInvoker::new();
        for (function, app) in [
            ("book", item_service::<book::Book>(&temp_sqlite_url(&format!("{name}_book")))),
            ("laptop", item_service::<laptop::Laptop>(&temp_sqlite_url(&format!("{name}_laptop")))),
            ("mobile", item_service::<mobile::Mobile>(&temp_sqlite_url(&format!("{name}_mobile")))),
            ("clothes", item_service::<clothes::Clothes>(&temp_sqlite_url(&format!("{name}_clothes")))),
        ] {
            functions = functions.with(function, app);
        }
        let items_config = items_router::Config {
            table: ItemTable::parse(DEFAULT_SERVICES, "").unwrap(),
            store: temp_sqlite_url(&format!("{name}_items_router")),
            max_connections: 2,
            invoke_timeout: Duration::from_secs(10),
        };
        let items = items_router::router(RouterState::new(&items_config, Arc::new(functions), keys()).unwrap());

        // The cart shares the order's PostgreSQL database (a schema each), as deployed.
        let cart_url = match url {
            StoreUrl::Postgres(_) => url.clone(),
            _ => temp_sqlite_url(&format!("{name}_cart")),
        };
        let cart_config = cart::Config {
            store: cart_url,
            max_connections: 2,
            items_router_function: "items-router".into(),
            guest_function: "guest-customer".into(),
            registered_function: "registered-customer".into(),
            invoke_timeout: Duration::from_secs(10),
            limits: cart::Limits { max_lines: 50, max_line_quantity: 99 },
        };
        let cart_peers = InProcessInvoker::new()
            .with("items-router", items.clone())
            .with("registered-customer", shared::testing::every_account_live());
        let cart = cart::router(cart::CartState::new(&cart_config, Arc::new(cart_peers), keys()).unwrap());

        let vip_config = vip_customer::Config {
            store: temp_sqlite_url(&format!("{name}_vip")),
            max_connections: 2,
            downgrade_mid_year: false,
        };
        let vip_state = vip_customer::VipState::new(&vip_config, keys()).unwrap();
        vip_customer::load_tiers(&vip_state.store, TIERS).await.unwrap();
        let vip = vip_customer::router(vip_state);

        let (shipping_fake, paying_fake) = (Fake::default(), Fake::default());
        let (items_down, redeem_down) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let stock_gate = StockGate::default();
        let peers = InProcessInvoker::new()
            .with("cart", cart.clone())
            .with("items-router", stock_gate.wrap(switchable(items.clone(), items_down.clone(), "/api/items/")))
            .with("vip-customer", switchable(vip.clone(), redeem_down.clone(), "/api/customers/vip/points/redeem"))
            .with("shipping", shipping(shipping_fake.clone()))
            .with("paying", paying(paying_fake.clone()))
            .with("registered-customer", shared::testing::every_account_live());
        let mut world = Self {
            order: Router::new(),
            items,
            cart,
            vip,
            shipping: shipping_fake,
            paying: paying_fake,
            items_down,
            redeem_down,
            stock_gate,
            clock: Arc::new(ManualClock::new()),
            peers,
            url: url.clone(),
        };
        world.order = world.order_app(Duration::from_secs(10));
        world
    }

    /// Another instance of the order function on the same store and peers.
    pub fn order_app(&self, invoke_timeout: Duration) -> Router {
        self.order_app_on(&self.url, invoke_timeout, Duration::from_secs(120))
    }

    /// An instance of the order function on `store` (the world's, or a way to it).
    pub fn order_app_on(&self, store: &StoreUrl, invoke_timeout: Duration, checkout_lease: Duration) -> Router {
        order::router(self.order_state(config(store, invoke_timeout, checkout_lease)))
    }

    /// The state of the world's order function (for its sweep, say).
    pub fn state(&self) -> OrderState {
        self.order_state(config(&self.url, Duration::from_secs(10), Duration::from_secs(120)))
    }

    /// The order function's state on `config`, with the world's peers and clock.
    pub fn order_state(&self, config: Config) -> OrderState {
        let invoker: Arc<dyn Invoker> = Arc::new(self.peers.clone());
        OrderState::with_clock(&config, invoker, Arc::new(TokenKeys::development()), self.clock.clone()).unwrap()
    }

    pub async fn create_item(&self, body: Value) -> String {
        let (status, _, created) =
            send(&self.items, Method::POST, "/api/items/", Some(&staff_token()), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["id"].as_str().unwrap().to_string()
    }

    pub async fn catalog(&self) -> Catalog {
        Catalog {
            book: self
                .create_item(
                    json!({ "type": "book", "name": "Dune", "author": "Frank Herbert", "price": 999, "stock": 10 }),
                )
                .await,
            laptop: self
                .create_item(
                    json!({ "type": "laptop", "name": "XPS 13", "brand": "Dell", "price": 129900, "stock": 3 }),
                )
                .await,
            mobile: self
                .create_item(
                    json!({ "type": "mobile", "name": "Pixel 9", "brand": "Google", "price": 79900, "stock": 5 }),
                )
                .await,
            clothes: self
                .create_item(
                    json!({ "type": "clothes", "name": "Linen Shirt", "size": "M", "price": 4500, "stock": 200 }),
                )
                .await,
        }
    }

    pub async fn stock(&self, item_id: &str) -> i64 {
        let (status, _, item) = send(&self.items, Method::GET, &format!("/api/items/{item_id}/"), None, None).await;
        assert_eq!(status, StatusCode::OK, "{item}");
        item["stock"].as_i64().unwrap()
    }

    /// Puts `quantity` of an item in the cart of the token's customer.
    pub async fn add_to_cart(&self, token: &str, item_type: &str, item_id: &str, quantity: i64) {
        let body = json!({ "item_type": item_type, "item_id": item_id, "quantity": quantity });
        let (status, _, cart) = send(&self.cart, Method::POST, "/api/cart/items", Some(token), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{cart}");
    }

    pub async fn cart_lines(&self, token: &str) -> Vec<Value> {
        let (status, _, cart) = send(&self.cart, Method::GET, "/api/cart/", Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "{cart}");
        cart["lines"].as_array().cloned().unwrap_or_default()
    }

    /// Enrols a VIP member and gives them `points` (at Bronze, one for one).
    pub async fn vip_member(&self, id: &str, points: i64) {
        let body = json!({ "customer_id": id });
        let (status, _, member) = send(&self.vip, Method::POST, "/internal/vip/enroll", None, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{member}");
        let earn = json!({ "customer_id": id, "points": points, "reason": "Welcome", "idempotency_key": "welcome" });
        let (status, _, earned) = send(&self.vip, Method::POST, "/internal/vip/earn", None, Some(earn)).await;
        assert_eq!(status, StatusCode::CREATED, "{earned}");
    }

    pub async fn vip_balance(&self, id: &str) -> i64 {
        let (status, _, member) = send(&self.vip, Method::GET, "/api/customers/", Some(&vip_token(id)), None).await;
        assert_eq!(status, StatusCode::OK, "{member}");
        member["points_balance"].as_i64().unwrap()
    }

    pub async fn checkout(&self, token: &str, key: &str, body: Value) -> Answer {
        call(&self.order, Method::POST, "/api/orders/", Some(token), Some(key), Some(body)).await
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> Answer {
        call(&self.order, Method::GET, uri, token, None, None).await
    }

    pub async fn post(&self, uri: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        call(&self.order, Method::POST, uri, token, None, body).await
    }
}

fn config(store: &StoreUrl, invoke_timeout: Duration, checkout_lease: Duration) -> Config {
    Config {
        store: store.clone(),
        max_connections: 2,
        functions: Functions {
            cart: "cart".into(),
            items_router: "items-router".into(),
            vip_customer: "vip-customer".into(),
            shipping: "shipping".into(),
            paying: "paying".into(),
            registered_customer: "registered-customer".into(),
        },
        invoke_timeout,
        checkout_lease,
        unpaid_expiry: Duration::from_secs(30 * 60),
        max_unpaid_orders: 3,
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Answer {
    pub fn id(&self) -> String {
        self.json["id"].as_str().unwrap_or_else(|| panic!("no id in {}", self.json)).to_string()
    }
}

pub async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let text = body.map(|b| b.to_string());
    raw(app, method, uri, token, key, text.as_deref().map(|t| ("application/json", t))).await
}

pub async fn raw(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<(&str, &str)>,
) -> Answer {
    let mut request = http::Request::builder().method(method).uri(uri).header("host", "shop.test");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let bytes = match body {
        Some((content_type, text)) => {
            request = request.header("content-type", content_type);
            Bytes::from(text.to_string())
        }
        None => Bytes::new(),
    };
    let response = app.clone().oneshot(request.body(axum::body::Body::from(bytes)).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer { status, headers, json, text }
}

pub fn assert_problem(answer: &Answer, status: StatusCode, field: Option<&str>) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.headers["content-type"], PROBLEM_JSON, "{}", answer.text);
    assert_eq!(answer.json["status"], status.as_u16(), "{}", answer.text);
    if let Some(field) = field {
        assert!(answer.json["errors"].get(field).is_some(), "expected `{field}` in {}", answer.text);
    }
}

pub fn address() -> Value {
    json!({ "name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH",
        "country": "GB", "phone": "+44 20 7946 0000" })
}

pub fn standard() -> Value {
    json!({ "delivery_option": "standard", "shipping_address": address() })
}

pub fn pickup() -> Value {
    json!({ "delivery_option": "pickup" })
}
