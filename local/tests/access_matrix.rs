//! Who may call what: every public operation of the API document against six
//! callers, with the status each must get, from one table. An operation the
//! document gains without a row here fails the test, and so does a row for an
//! operation the document does not have.
//!
//! Write operations are sent with bodies that pass access control but not
//! validation where possible (`{}`), so a 422 or 409 means "let in" and nothing
//! changes; a 401, 403 or 404 means "kept out" (404 when the caller may not
//! learn that another customer's record exists). Paths marked `fresh_*` get a
//! new record for each caller, so one caller's success cannot change what the
//! next one meets.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use shared::auth::{CustomerType, Role, TokenKeys};
use shared::config::Env;
use tower::ServiceExt;

/// The callers, in the order of the status columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Guest,
    /// A registered customer who owns the records in the paths.
    CustomerA,
    /// Another registered customer.
    CustomerB,
    Vip,
    Staff,
}

const CALLERS: [Caller; 6] =
    [Caller::Anonymous, Caller::Guest, Caller::CustomerA, Caller::CustomerB, Caller::Vip, Caller::Staff];

// Fixture accounts: A has a paid order with its payment and shipment.
const CUSTOMER_A: &str = "cust_01KGHBNSM04720ZDA0KBWR3C91"; // grace.hopper@example.com
const CUSTOMER_B: &str = "cust_01KGKY2GM02DAV2AKV76QKXTKD"; // linus.t@example.com
const VIP: &str = "456"; // vip456@example.com
const STAFF: &str = "cust_01KG9MFMM0WES27JCBME9VNM3Z"; // staff@shop.local

/// One operation: method, documented path, the path actually called (with
/// placeholders), the body, and the status for each caller in [`CALLERS`] order.
struct Row {
    method: Method,
    documented: &'static str,
    called: &'static str,
    body: Option<&'static str>,
    expected: [u16; 6],
}

macro_rules! rows {
    ($( $method:ident $documented:literal $( as $called:literal )? $( with $body:literal )? => [$($s:literal),*]; )*) => {
        vec![$( Row {
            method: Method::$method,
            documented: $documented,
            called: rows!(@called $documented $( $called )?),
            body: rows!(@body $( $body )?),
            expected: [$($s),*],
        }, )*]
    };
    (@called $documented:literal) => { $documented };
    (@called $documented:literal $called:literal) => { $called };
    (@body) => { None };
    (@body $body:literal) => { Some($body) };
}

/// The table. Columns: anonymous, guest, customer A, customer B, VIP, staff.
fn table() -> Vec<Row> {
    rows! {
        // Catalog: anyone reads, staff writes.
        GET "/api/items/" => [200, 200, 200, 200, 200, 200];
        POST "/api/items/" with r#"{"type": "book"}"# => [401, 401, 403, 403, 403, 422];
        GET "/api/items/{id}/" as "/api/items/{book}/" => [200, 200, 200, 200, 200, 200];
        PATCH "/api/items/{id}/" as "/api/items/{book}/" with "{}" => [401, 401, 403, 403, 403, 200];
        DELETE "/api/items/{id}/" as "/api/items/{fresh_book}/" => [401, 401, 403, 403, 403, 204];
        GET "/api/books/" => [200, 200, 200, 200, 200, 200];
        POST "/api/books/" with "{}" => [401, 401, 403, 403, 403, 422];
        GET "/api/books/{id}/" as "/api/books/{book}/" => [200, 200, 200, 200, 200, 200];
        PATCH "/api/books/{id}/" as "/api/books/{book}/" with "{}" => [401, 401, 403, 403, 403, 200];
        DELETE "/api/books/{id}/" as "/api/books/{fresh_book}/" => [401, 401, 403, 403, 403, 204];
        GET "/api/laptops/" => [200, 200, 200, 200, 200, 200];
        POST "/api/laptops/" with "{}" => [401, 401, 403, 403, 403, 422];
        GET "/api/laptops/{id}/" as "/api/laptops/{laptop}/" => [200, 200, 200, 200, 200, 200];
        PATCH "/api/laptops/{id}/" as "/api/laptops/{laptop}/" with "{}" => [401, 401, 403, 403, 403, 200];
        DELETE "/api/laptops/{id}/" as "/api/laptops/{missing_laptop}/" => [401, 401, 403, 403, 403, 404];
        GET "/api/mobiles/" => [200, 200, 200, 200, 200, 200];
        POST "/api/mobiles/" with "{}" => [401, 401, 403, 403, 403, 422];
        GET "/api/mobiles/{id}/" as "/api/mobiles/{mobile}/" => [200, 200, 200, 200, 200, 200];
        PATCH "/api/mobiles/{id}/" as "/api/mobiles/{mobile}/" with "{}" => [401, 401, 403, 403, 403, 200];
        DELETE "/api/mobiles/{id}/" as "/api/mobiles/{missing_mobile}/" => [401, 401, 403, 403, 403, 404];
        GET "/api/clothes/" => [200, 200, 200, 200, 200, 200];
        POST "/api/clothes/" with "{}" => [401, 401, 403, 403, 403, 422];
        GET "/api/clothes/{id}/" as "/api/clothes/{clothes}/" => [200, 200, 200, 200, 200, 200];
        PATCH "/api/clothes/{id}/" as "/api/clothes/{clothes}/" with "{}" => [401, 401, 403, 403, 403, 200];
        DELETE "/api/clothes/{id}/" as "/api/clothes/{missing_clothes}/" => [401, 401, 403, 403, 403, 404];
        // Customers: the router decides by the token (none: guest).
        GET "/api/customers/" => [200, 200, 200, 200, 200, 200];
        POST "/api/customers/" with "{}" => [201, 201, 409, 409, 409, 409];
        DELETE "/api/customers/" with "{}" => [401, 401, 422, 422, 422, 422];
        GET "/api/customers/history" => [401, 200, 200, 200, 200, 200];
        POST "/api/customers/history" with "{}" => [401, 422, 422, 422, 422, 422];
        GET "/api/customers/profile" => [401, 401, 200, 200, 200, 200];
        PATCH "/api/customers/profile" with "{}" => [401, 401, 200, 200, 200, 200];
        GET "/api/customers/addresses" => [401, 401, 200, 200, 200, 200];
        POST "/api/customers/addresses" with "{}" => [401, 401, 422, 422, 422, 422];
        GET "/api/customers/addresses/{id}" as "/api/customers/addresses/{fresh_address_a}" => [401, 401, 200, 404, 404, 404];
        PATCH "/api/customers/addresses/{id}" as "/api/customers/addresses/{fresh_address_a}" with "{}" => [401, 401, 200, 404, 404, 404];
        DELETE "/api/customers/addresses/{id}" as "/api/customers/addresses/{fresh_address_a}" => [401, 401, 204, 404, 404, 404];
        POST "/api/customers/password" with "{}" => [401, 401, 422, 422, 422, 422];
        GET "/api/customers/verify-email" => [400, 400, 400, 400, 400, 400];
        POST "/api/customers/verify-email" with "{}" => [422, 422, 422, 422, 422, 422];
        POST "/api/customers/verify-email/resend" with "{}" => [422, 422, 422, 422, 422, 422];
        GET "/api/customers/accounts/{id}" as "/api/customers/accounts/cust_01KGHBNSM04720ZDA0KBWR3C91" => [401, 401, 403, 403, 403, 200];
        GET "/api/customers/vip/benefits" => [200, 200, 200, 200, 200, 200];
        GET "/api/customers/vip/points" => [401, 401, 403, 403, 200, 403];
        POST "/api/customers/vip/points/redeem" with "{}" => [401, 401, 403, 403, 422, 403];
        GET "/api/customers/vip/customers" => [401, 401, 403, 403, 403, 200];
        GET "/api/customers/vip/customers/{id}" as "/api/customers/vip/customers/456" => [401, 401, 403, 403, 403, 200];
        POST "/api/customers/vip/customers/{id}/points" as "/api/customers/vip/customers/456/points" with "{}" => [401, 401, 403, 403, 403, 422];
        POST "/api/customers/login" with "{}" => [422, 422, 422, 422, 422, 422];
        POST "/api/customers/token/refresh" with "{}" => [422, 422, 422, 422, 422, 422];
        POST "/api/customers/signup" with "{}" => [422, 422, 409, 409, 409, 409];
        POST "/api/guest-customer/" with "{}" => [201, 201, 201, 201, 201, 201];
        GET "/api/guest-customer/{id}/" as "/api/guest-customer/{guest_id}/" => [401, 200, 403, 403, 403, 200];
        DELETE "/api/guest-customer/{id}/" as "/api/guest-customer/{fresh_guest_id}/" => [401, 403, 403, 403, 403, 204];
        GET "/api/guest-customer/{id}/history" as "/api/guest-customer/{guest_id}/history" => [401, 200, 403, 403, 403, 200];
        POST "/api/guest-customer/{id}/history" as "/api/guest-customer/{guest_id}/history" with "{}" => [401, 422, 401, 401, 401, 401];
        POST "/api/guest-customer/{id}/touch" as "/api/guest-customer/{guest_id}/touch" => [401, 200, 401, 401, 401, 401];
        // Cart: each caller's own cart.
        GET "/api/cart/" => [401, 200, 200, 200, 200, 200];
        DELETE "/api/cart/" => [401, 204, 204, 204, 204, 204];
        POST "/api/cart/items" with "{}" => [401, 422, 422, 422, 422, 422];
        PATCH "/api/cart/items/{item_id}" as "/api/cart/items/{book}" with "{}" => [401, 422, 422, 422, 422, 422];
        DELETE "/api/cart/items/{item_id}" as "/api/cart/items/{book}" => [401, 404, 404, 404, 404, 404];
        // Orders, payments, shipping: A's records.
        GET "/api/orders/" => [401, 401, 200, 200, 200, 200];
        POST "/api/orders/" with "{}" => [401, 401, 400, 400, 400, 400];
        GET "/api/orders/delivery-options" => [200, 200, 200, 200, 200, 200];
        GET "/api/orders/{id}" as "/api/orders/{order_a}" => [401, 401, 200, 404, 404, 200];
        POST "/api/orders/{id}/cancel" as "/api/orders/{fresh_order_a}/cancel" => [401, 401, 200, 404, 404, 200];
        POST "/api/orders/{id}/refund" as "/api/orders/{fresh_order_a}/refund" => [401, 401, 403, 403, 403, 409];
        GET "/api/payments/" => [401, 401, 200, 200, 200, 200];
        POST "/api/payments/" with "{}" => [401, 401, 400, 400, 400, 400];
        GET "/api/payments/{id}" as "/api/payments/{payment_a}" => [401, 401, 200, 404, 404, 200];
        POST "/api/payments/{id}/capture" as "/api/payments/{payment_a}/capture" with "{}" => [401, 401, 403, 403, 403, 200];
        POST "/api/payments/{id}/refunds" as "/api/payments/{payment_a}/refunds" with "{}" => [401, 401, 403, 403, 403, 400];
        GET "/api/shipping/" => [401, 401, 200, 200, 200, 200];
        GET "/api/shipping/{id}" as "/api/shipping/{shipment_a}" => [401, 401, 200, 404, 404, 200];
        POST "/api/shipping/{id}/events" as "/api/shipping/{shipment_a}/events" with "{}" => [401, 401, 403, 403, 403, 422];
        GET "/api/shipping/track/{tracking_number}" as "/api/shipping/track/{tracking_a}" => [200, 200, 200, 200, 200, 200];
        // Last: a customer's upgrade makes them a VIP (a customer's `customer_id` is
        // ignored: only staff name whom to upgrade).
        POST "/api/customers/upgrade" with "{}" => [401, 401, 200, 200, 200, 422];
    }
}

/// What the table's callers and placeholders stand for in one fresh shop.
struct Shop {
    app: Router,
    keys: TokenKeys,
    guest_token: String,
    guest_id: String,
    order_a: String,
    payment_a: String,
    shipment_a: String,
    tracking_a: String,
    book: String,
    laptop: String,
    mobile: String,
    clothes: String,
}

impl Shop {
    async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("shop-access-{}", shared::ids::new_id("t")));
        // Customer A places a fresh unpaid order per row that cancels one: more than
        // the default limit of orders waiting for payment, which is not what this tests.
        let env = Env::from_pairs([("LOCAL_DATA_DIR", dir.display().to_string()), ("MAX_UNPAID_ORDERS", "100".into())]);
        let functions = local::Functions::build(&env).expect("functions");
        let app = functions.app().expect("app");
        functions.load_fixtures(&fixtures::customers::Passwords::demo()).await.expect("fixtures");
        let first = |json: &str| -> String {
            serde_json::from_str::<Vec<Value>>(json).unwrap()[0]["id"].as_str().unwrap().to_string()
        };
        let mut shop = Self {
            app,
            keys: TokenKeys::development(),
            guest_token: String::new(),
            guest_id: String::new(),
            order_a: String::new(),
            payment_a: String::new(),
            shipment_a: String::new(),
            tracking_a: String::new(),
            book: first(fixtures::BOOKS),
            laptop: first(fixtures::LAPTOPS),
            mobile: first(fixtures::MOBILES),
            clothes: first(fixtures::CLOTHES),
        };
        let (status, session) = shop.call(Caller::Anonymous, Method::POST, "/api/customers/", Some("{}")).await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        shop.guest_token = session["token"].as_str().expect("a guest token").to_string();
        shop.guest_id = session["id"].as_str().expect("a guest id").to_string();
        // A's paid order from the fixtures, with its payment and shipment.
        let (_, orders) = shop.call(Caller::CustomerA, Method::GET, "/api/orders/?status=paid", None).await;
        shop.order_a = orders["results"][0]["id"].as_str().expect("A has a paid order").to_string();
        let path = format!("/api/payments/?order_id={}", shop.order_a);
        let (_, payments) = shop.call(Caller::CustomerA, Method::GET, &path, None).await;
        shop.payment_a = payments["results"][0]["id"].as_str().expect("A's order has a payment").to_string();
        let path = format!("/api/shipping/?order_id={}", shop.order_a);
        let (_, shipments) = shop.call(Caller::Staff, Method::GET, &path, None).await;
        shop.shipment_a = shipments["results"][0]["id"].as_str().expect("A's order has a shipment").to_string();
        shop.tracking_a = shipments["results"][0]["tracking_number"].as_str().expect("a tracking number").to_string();
        shop
    }

    /// A new guest session, for a caller to delete.
    async fn fresh_guest_id(&self) -> String {
        let (_, session) = self.call(Caller::Anonymous, Method::POST, "/api/guest-customer/", Some("{}")).await;
        session["id"].as_str().expect("a guest id").to_string()
    }

    /// A new order of A's awaiting payment, for a caller to cancel or refund.
    async fn fresh_order_a(&self) -> String {
        let line = json!({ "item_type": "book", "item_id": self.book, "quantity": 1 }).to_string();
        let (status, cart) = self.call(Caller::CustomerA, Method::POST, "/api/cart/items", Some(&line)).await;
        assert!(status.is_success(), "{cart}");
        let checkout = json!({ "delivery_option": "pickup" }).to_string();
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/orders/")
            .header("authorization", format!("Bearer {}", self.token(Caller::CustomerA).unwrap()))
            .header("idempotency-key", shared::ids::new_id("key"))
            .header("content-type", "application/json")
            .body(Body::from(checkout))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let order: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::CREATED, "{order}");
        order["id"].as_str().unwrap().to_string()
    }

    fn token(&self, caller: Caller) -> Option<String> {
        let (sub, typ, role) = match caller {
            Caller::Anonymous | Caller::Guest => return None,
            Caller::CustomerA => (CUSTOMER_A, CustomerType::Registered, Role::Customer),
            Caller::CustomerB => (CUSTOMER_B, CustomerType::Registered, Role::Customer),
            Caller::Vip => (VIP, CustomerType::Vip, Role::Customer),
            Caller::Staff => (STAFF, CustomerType::Registered, Role::Staff),
        };
        Some(self.keys.issue(sub, typ, role, 600))
    }

    async fn call(&self, caller: Caller, method: Method, path: &str, body: Option<&str>) -> (StatusCode, Value) {
        self.call_with(caller, method, path, body, &[]).await
    }

    async fn call_with(
        &self,
        caller: Caller,
        method: Method,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = self.token(caller) {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if caller == Caller::Guest {
            request = request.header("x-guest-token", &self.guest_token);
        }
        let request = match body {
            Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("request");
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A new book, made by staff, for a caller to delete.
    async fn fresh_book(&self) -> String {
        let body = json!({ "name": "Access Matrix", "author": "Test", "price": 100, "stock": 1 }).to_string();
        let (status, book) = self.call(Caller::Staff, Method::POST, "/api/books/", Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{book}");
        book["id"].as_str().unwrap().to_string()
    }

    /// A new address of A's, for a caller to read, change or delete.
    async fn fresh_address_a(&self) -> String {
        let body = json!({ "recipient": "Grace Hopper", "line1": "1 Navy Way", "city": "Arlington",
            "postal_code": "22202", "country": "US" })
        .to_string();
        let (status, address) =
            self.call(Caller::CustomerA, Method::POST, "/api/customers/addresses", Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{address}");
        address["id"].as_str().unwrap().to_string()
    }

    async fn path_for(&self, called: &str) -> String {
        let mut path = called.to_string();
        if path.contains("{fresh_address_a}") {
            path = path.replace("{fresh_address_a}", &self.fresh_address_a().await);
        }
        if path.contains("{fresh_book}") {
            path = path.replace("{fresh_book}", &self.fresh_book().await);
        }
        if path.contains("{fresh_guest_id}") {
            path = path.replace("{fresh_guest_id}", &self.fresh_guest_id().await);
        }
        if path.contains("{fresh_order_a}") {
            path = path.replace("{fresh_order_a}", &self.fresh_order_a().await);
        }
        path.replace("{guest_id}", &self.guest_id)
            .replace("{order_a}", &self.order_a)
            .replace("{payment_a}", &self.payment_a)
            .replace("{shipment_a}", &self.shipment_a)
            .replace("{tracking_a}", &self.tracking_a)
            .replace("{book}", &self.book)
            .replace("{laptop}", &self.laptop)
            .replace("{mobile}", &self.mobile)
            .replace("{clothes}", &self.clothes)
            .replace("{missing_laptop}", "laptop_01KAAAAAAAAAAAAAAAAAAAAAAA")
            .replace("{missing_mobile}", "mobile_01KAAAAAAAAAAAAAAAAAAAAAAA")
            .replace("{missing_clothes}", "clothes_01KAAAAAAAAAAAAAAAAAAAAAAA")
    }
}

/// Every public operation of the merged API document, as `METHOD path`.
fn documented_operations() -> BTreeSet<String> {
    let document = serde_json::to_value(local::openapi()).expect("document");
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                operations.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    operations
}

#[tokio::test]
async fn every_operation_answers_each_caller_as_the_table_says() {
    let table = table();
    let in_table: BTreeSet<String> = table.iter().map(|r| format!("{} {}", r.method, r.documented)).collect();
    assert_eq!(in_table.len(), table.len(), "an operation has two rows");
    let documented = documented_operations();
    let missing: Vec<_> = documented.difference(&in_table).collect();
    let extra: Vec<_> = in_table.difference(&documented).collect();

    let shop = Shop::start().await;
    let mut wrong = Vec::new();
    for row in &table {
        let mut got = [0u16; 6];
        for (i, caller) in CALLERS.into_iter().enumerate() {
            let path = shop.path_for(row.called).await;
            let (status, body) = shop.call(caller, row.method.clone(), &path, row.body).await;
            got[i] = status.as_u16();
            assert!(status.as_u16() < 500, "{} {path} as {caller:?}: {status} {body}", row.method);
        }
        if got != row.expected {
            wrong.push(format!("{} {} expected {:?}, got {:?}", row.method, row.documented, row.expected, got));
        }
    }
    assert!(
        missing.is_empty() && extra.is_empty() && wrong.is_empty(),
        "operations without a row: {missing:#?}\nrows the document does not have: {extra:#?}\nwrong statuses:\n{}",
        wrong.join("\n")
    );
}

/// Every documented operation that takes a body refuses one over the limit
/// with a 413 problem, for each caller the table lets in (401, 403, 404 and 409
/// keep a caller out before the body is read). Calls carry an
/// `Idempotency-Key`, which payments and refunds check first. New operations
/// are covered through their table row.
#[tokio::test]
async fn every_body_over_the_limit_is_refused_with_413() {
    let document = serde_json::to_value(local::openapi()).expect("document");
    let huge = json!({ "name": "x".repeat(shared::extract::MAX_BODY_BYTES) }).to_string();
    let shop = Shop::start().await;
    let mut wrong = Vec::new();
    let mut checked = 0;
    for row in table() {
        let method = row.method.as_str().to_lowercase();
        let takes_body = document["paths"][row.documented][&method].get("requestBody").is_some();
        if !takes_body {
            continue;
        }
        for (caller, expected) in CALLERS.into_iter().zip(row.expected) {
            if matches!(expected, 401 | 403 | 404 | 409) {
                continue;
            }
            let path = shop.path_for(row.called).await;
            let key = shared::ids::new_id("key");
            let headers = [("idempotency-key", key.as_str())];
            let (status, problem) = shop.call_with(caller, row.method.clone(), &path, Some(&huge), &headers).await;
            checked += 1;
            if status != StatusCode::PAYLOAD_TOO_LARGE || problem["status"] != 413 {
                wrong.push(format!("{} {} as {caller:?}: {status} {problem}", row.method, row.documented));
            }
        }
    }
    assert!(checked > 40, "only {checked} calls were checked");
    assert!(wrong.is_empty(), "bodies over the limit that were not refused with 413:\n{}", wrong.join("\n"));
}

/// Every documented operation, detail routes included, refuses a query
/// parameter it does not take with a 400 problem naming it, for the first
/// caller the table lets in (who would otherwise get past access control).
#[tokio::test]
async fn every_operation_refuses_unknown_query_parameters() {
    let shop = Shop::start().await;
    let mut wrong = Vec::new();
    for row in table() {
        let Some((caller, _)) =
            CALLERS.into_iter().zip(row.expected).find(|(_, expected)| !matches!(expected, 401 | 403 | 404))
        else {
            continue;
        };
        let path = shop.path_for(row.called).await;
        let key = shared::ids::new_id("key");
        let headers = [("idempotency-key", key.as_str())];
        let uri = format!("{path}?no_such_parameter=1");
        let (status, problem) = shop.call_with(caller, row.method.clone(), &uri, row.body, &headers).await;
        if status != StatusCode::BAD_REQUEST || problem["errors"].get("no_such_parameter").is_none() {
            wrong.push(format!("{} {uri} as {caller:?}: {status} {problem}", row.method));
        }
    }
    assert!(wrong.is_empty(), "unknown query parameters that were not refused:\n{}", wrong.join("\n"));
}
