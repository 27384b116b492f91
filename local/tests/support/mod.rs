//! The whole shop in process for the tests of what holds between functions: on
//! SQLite, and on the documented servers (MariaDB for registered and VIP
//! customers, PostgreSQL for cart, order, paying and shipping; the catalog on
//! SQLite), with the order service on a clock the test turns.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use shared::auth::{CustomerType, Role, TokenKeys};
use shared::config::Env;
use shared::store::StoreUrl;
use shared::testing::{temp_mysql_url, temp_postgres_url};
use tower::ServiceExt;

/// Fixture accounts (live, with passwords and verified emails).
pub const ADA: &str = "cust_01KGES92M03S433BX3SRZDZ1AC";
pub const GRACE: &str = "cust_01KGHBNSM04720ZDA0KBWR3C91";
pub const LINUS: &str = "cust_01KGKY2GM02DAV2AKV76QKXTKD";
pub const MEI: &str = "cust_01KGPGF7M0ZMXB4FG4JVKBQTQ5";
pub const JOSE: &str = "cust_01KGS2VYM0BHMPKKAX1BV916ZD";
pub const CUSTOMER_123: &str = "123";
pub const REGISTERED: [&str; 6] = [ADA, GRACE, LINUS, MEI, JOSE, CUSTOMER_123];
/// Fixture VIP members (bronze, 357 and 503 points; silver, 1,180).
pub const VIP_BRONZE: &str = "cust_01JHNCGKV0BEJTGQEKY1MZ91A1";
pub const VIP_BRONZE_2: &str = "cust_01J6VN7B80JSAGP13K44B23TJK";
pub const VIP_SILVER: &str = "cust_01HWFVCV00226YPB87HYY1KH95";

pub const GOOD_CARD: &str = "4242424242424242";

pub struct Shop {
    /// `sqlite` or `servers`, for messages.
    pub stores: &'static str,
    pub functions: local::Functions,
    pub app: Router,
    pub clock: Arc<order::ManualClock>,
    /// What the functions were built from (their store URLs).
    pub env: Env,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Answer {
    pub fn id(&self) -> String {
        self.json["id"].as_str().unwrap_or_else(|| panic!("no id in {}", self.text)).to_string()
    }
}

fn url(store: &StoreUrl) -> String {
    match store {
        StoreUrl::MySql(u) | StoreUrl::Postgres(u) | StoreUrl::Sqlite(u) => u.clone(),
        other => panic!("unexpected {}", other.redacted()),
    }
}

/// The shop on SQLite, and on MariaDB and PostgreSQL when they answer (always in CI).
pub async fn shops(name: &str) -> Vec<Shop> {
    shops_on(name, &["sqlite", "servers"]).await
}

/// The shop on each of the store sets named (`sqlite`, `servers`).
pub async fn shops_on(name: &str, sets: &[&str]) -> Vec<Shop> {
    let dir = || std::env::temp_dir().join(format!("shop-{name}-{}", shared::ids::new_id("t")));
    let mut envs = Vec::new();
    if sets.contains(&"sqlite") {
        let sqlite = dir();
        envs.push((
            "sqlite",
            Env::from_pairs([
                ("LOCAL_DATA_DIR", sqlite.display().to_string()),
                ("MAIL_DIR", sqlite.join("mail").display().to_string()),
            ]),
        ));
    }
    if sets.contains(&"servers")
        && let (Some(registered), Some(vip), Some(transactions)) = (
            temp_mysql_url(&format!("{name}_reg")).await,
            temp_mysql_url(&format!("{name}_vip")).await,
            temp_postgres_url(name).await,
        )
    {
        let servers = dir();
        envs.push((
            "servers",
            Env::from_pairs([
                ("LOCAL_DATA_DIR", servers.display().to_string()),
                ("MAIL_DIR", servers.join("mail").display().to_string()),
                ("REGISTERED_CUSTOMER_DATABASE_URL", url(&registered)),
                ("VIP_CUSTOMER_DATABASE_URL", url(&vip)),
                ("CART_DATABASE_URL", url(&transactions)),
                ("ORDER_DATABASE_URL", url(&transactions)),
                ("PAYING_DATABASE_URL", url(&transactions)),
                ("SHIPPING_DATABASE_URL", url(&transactions)),
            ]),
        ));
    }
    let mut shops = Vec::new();
    for (stores, env) in envs {
        let clock = Arc::new(order::ManualClock::new());
        let functions = local::Functions::build_with_clock(&env, clock.clone()).expect("functions");
        let app = functions.app().expect("app");
        let shop = Shop { stores, functions, app, clock, env };
        shop.load_accounts().await;
        shops.push(shop);
    }
    shops
}

pub fn staff() -> String {
    TokenKeys::development().issue("staff_tests", CustomerType::Registered, Role::Staff, 3_600)
}

pub fn customer(sub: &str) -> String {
    TokenKeys::development().issue(sub, CustomerType::Registered, Role::Customer, 3_600)
}

pub fn vip(sub: &str) -> String {
    TokenKeys::development().issue(sub, CustomerType::Vip, Role::Customer, 3_600)
}

pub fn address() -> Value {
    json!({ "name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH",
        "country": "GB" })
}

pub fn card(order_id: &str) -> Value {
    json!({ "order_id": order_id, "method": "card",
        "card": { "number": GOOD_CARD, "exp_month": 12, "exp_year": 2035, "cvc": "123" } })
}

impl Shop {
    /// The fixture accounts and VIP members, without catalog or orders.
    async fn load_accounts(&self) {
        let f = &self.functions;
        let stores = fixtures::customers::CustomerStores {
            guest: f.guest.store().as_ref(),
            guest_session_ttl_secs: f.guest.session_ttl_secs(),
            registered: &f.registered.store,
            vip: &f.vip.store,
        };
        stores.load_all(fixtures::Mode::IntoEmpty, &fixtures::customers::Passwords::demo(), |_| {}).await.unwrap();
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path).header("host", "shop.test");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let request = match body {
            Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Answer { status, headers, json: serde_json::from_slice(&bytes).unwrap_or(Value::Null), text }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Option<Value>) -> Answer {
        self.call(Method::POST, path, Some(token), None, body).await
    }

    /// An item of `item_type` with `stock` units at `price`; its id.
    pub async fn item(&self, item_type: &str, stock: i64, price: i64) -> String {
        let body = json!({ "type": item_type, "name": format!("Test {item_type}"), "price": price, "stock": stock,
            "author": "A. Writer", "brand": "Brand", "size": "M" });
        let mut body = body.as_object().unwrap().clone();
        match item_type {
            "book" => {
                body.remove("brand");
                body.remove("size");
            }
            "clothes" => {
                body.remove("brand");
                body.remove("author");
            }
            _ => {
                body.remove("author");
                body.remove("size");
            }
        }
        let created = self.call(Method::POST, "/api/items/", Some(&staff()), None, Some(Value::Object(body))).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        created.id()
    }

    pub async fn stock(&self, item_id: &str) -> i64 {
        let item = self.call(Method::GET, &format!("/api/items/{item_id}/"), None, None, None).await;
        item.json["stock"].as_i64().unwrap_or_else(|| panic!("{}", item.text))
    }

    pub async fn add(&self, token: &str, item_type: &str, item_id: &str, quantity: i64) -> Answer {
        let body = json!({ "item_type": item_type, "item_id": item_id, "quantity": quantity });
        self.post("/api/cart/items", token, Some(body)).await
    }

    pub async fn checkout(&self, token: &str, key: &str, body: Value) -> Answer {
        self.call(Method::POST, "/api/orders/", Some(token), Some(key), Some(body)).await
    }

    pub async fn pay(&self, token: &str, key: &str, body: Value) -> Answer {
        self.call(Method::POST, "/api/payments/", Some(token), Some(key), Some(body)).await
    }

    pub async fn order(&self, id: &str) -> Value {
        self.get(&format!("/api/orders/{id}"), &staff()).await.json
    }

    pub async fn member(&self, id: &str) -> Value {
        let member = self.get(&format!("/api/customers/vip/customers/{id}"), &staff()).await;
        assert_eq!(member.status, StatusCode::OK, "{}", member.text);
        member.json
    }

    /// The order's one shipment.
    pub async fn shipment(&self, order_id: &str) -> Value {
        let page = self.get(&format!("/api/shipping/?order_id={order_id}"), &staff()).await;
        page.json["results"][0].clone()
    }

    pub async fn event(&self, shipment_id: &str, status: &str) -> Answer {
        self.post(&format!("/api/shipping/{shipment_id}/events"), &staff(), Some(json!({ "status": status }))).await
    }

    /// Every invariant over every store of this shop.
    pub async fn check(&self) -> checker::Report {
        checker::check(&self.functions.checker().read().await.expect("the stores read"))
    }

    pub async fn assert_invariants(&self, context: &str) {
        self.check().await.assert_clean(&format!("{context} ({})", self.stores));
    }
}
