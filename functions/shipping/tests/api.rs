//! The shipping function with fake order, paying and vip-customer functions that
//! record every call (and can be told to fail), on every transaction store
//! available here (SQLite always, PostgreSQL when reachable and always in CI).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};
use shared::auth::{CustomerType, Role, TokenKeys};
use shared::error::PROBLEM_JSON;
use shared::ids::new_id;
use shared::invoke::{InProcessInvoker, Invoker};
use shared::store::StoreUrl;
use shared::testing::{customer_token, staff_token, transaction_store_urls};
use shipping::{Config, ShippingState};

const ALICE: &str = "cust_alice";
const BOB: &str = "cust_bob";
const VERA: &str = "cust_vera";

/// How a fake peer answers.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Status(StatusCode),
    /// Never answers within the caller's deadline.
    Hang,
    /// 200 with a body that is not what the contract says.
    Nonsense,
}

#[derive(Clone, Debug, PartialEq)]
struct Call {
    service: &'static str,
    path: String,
    body: Value,
}

/// The fake peers' shared memory: every call in order, the failures to act out,
/// and the VIP ledger keyed like the real one.
#[derive(Clone, Default)]
struct Peers {
    calls: Arc<Mutex<Vec<Call>>>,
    modes: Arc<Mutex<HashMap<&'static str, Mode>>>,
    ledger: Arc<Mutex<HashMap<String, (String, i64)>>>,
}

impl Peers {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn forget_calls(&self) {
        self.calls.lock().unwrap().clear();
    }

    fn fail(&self, service: &'static str, mode: Mode) {
        self.modes.lock().unwrap().insert(service, mode);
    }

    fn heal(&self) {
        self.modes.lock().unwrap().clear();
    }

    fn credited(&self) -> HashMap<String, (String, i64)> {
        self.ledger.lock().unwrap().clone()
    }

    /// Records the call, then acts out a failure if one is set.
    async fn enter(&self, service: &'static str, path: String, body: &Value) -> Option<Response> {
        self.calls.lock().unwrap().push(Call { service, path, body: body.clone() });
        let mode = self.modes.lock().unwrap().get(service).copied();
        match mode {
            None => None,
            Some(Mode::Status(status)) => Some(
                (status, axum::Json(json!({ "status": status.as_u16(), "detail": "told to fail" }))).into_response(),
            ),
            Some(Mode::Hang) => {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Some(StatusCode::OK.into_response())
            }
            Some(Mode::Nonsense) => Some((StatusCode::OK, "<html>hello</html>").into_response()),
        }
    }

    fn order(&self) -> Router {
        let peers = self.clone();
        Router::new().route(
            "/internal/orders/{id}/status",
            post(move |Path(id): Path<String>, axum::Json(body): axum::Json<Value>| async move {
                if let Some(failure) = peers.enter("order", format!("/internal/orders/{id}/status"), &body).await {
                    return failure;
                }
                axum::Json(json!({ "id": id, "status": body["status"] })).into_response()
            }),
        )
    }

    fn paying(&self) -> Router {
        let peers = self.clone();
        Router::new().route(
            "/internal/payments/capture",
            post(move |axum::Json(body): axum::Json<Value>| async move {
                if let Some(failure) = peers.enter("paying", "/internal/payments/capture".into(), &body).await {
                    return failure;
                }
                axum::Json(json!({ "id": "payment_1", "order_id": body["order_id"], "status": "captured" }))
                    .into_response()
            }),
        )
    }

    fn vip(&self) -> Router {
        let peers = self.clone();
        Router::new().route(
            "/internal/vip/earn",
            post(move |axum::Json(body): axum::Json<Value>| async move {
                if let Some(failure) = peers.enter("vip", "/internal/vip/earn".into(), &body).await {
                    return failure;
                }
                let key = body["idempotency_key"].as_str().unwrap_or_default().to_string();
                let entry =
                    (body["customer_id"].as_str().unwrap_or_default().to_string(), body["points"].as_i64().unwrap());
                let mut ledger = peers.ledger.lock().unwrap();
                let status = if ledger.contains_key(&key) { StatusCode::OK } else { StatusCode::CREATED };
                ledger.entry(key).or_insert(entry);
                (status, axum::Json(json!({ "entry": {}, "customer": {} }))).into_response()
            }),
        )
    }
}

struct World {
    app: InProcessInvoker,
    peers: Peers,
}

fn world(url: &StoreUrl) -> World {
    let peers = Peers::default();
    let functions = InProcessInvoker::new()
        .with("order", peers.order())
        .with("paying", peers.paying())
        .with("vip-customer", peers.vip());
    let config = Config {
        store: url.clone(),
        max_connections: 2,
        order_function: "order".into(),
        paying_function: "paying".into(),
        vip_customer_function: "vip-customer".into(),
        invoke_timeout: Duration::from_millis(300),
    };
    let state = ShippingState::new(&config, Arc::new(functions), Arc::new(TokenKeys::development())).unwrap();
    World { app: InProcessInvoker::new().with("shipping", shipping::router(state)), peers }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl World {
    async fn raw(&self, method: Method, uri: &str, token: Option<&str>, body: Option<(&str, String)>) -> Answer {
        let mut request = http::Request::builder().method(method).uri(uri).header("host", "shop.test");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let bytes = match body {
            Some((content_type, text)) => {
                request = request.header("content-type", content_type);
                Bytes::from(text)
            }
            None => Bytes::new(),
        };
        let response = self.app.invoke("shipping", request.body(bytes).unwrap()).await.unwrap();
        let json = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        Answer { status: response.status(), headers: response.headers().clone(), json }
    }

    async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        self.raw(method, uri, token, body.map(|b| ("application/json", b.to_string()))).await
    }

    async fn create(&self, body: Value) -> Answer {
        self.call(Method::POST, "/internal/shipments", None, Some(body)).await
    }

    /// A fresh order's shipment, made as the order service would; its JSON.
    async fn ship(&self, customer_id: &str, customer_type: &str, option: &str, total: i64) -> Value {
        let made = self.create(order(&new_id("order"), customer_id, customer_type, option, total)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
        made.json
    }

    async fn event(&self, id: &str, body: Value) -> Answer {
        self.call(Method::POST, &format!("/api/shipping/{id}/events"), Some(&staff_token()), Some(body)).await
    }

    /// The shipment as staff see it now.
    async fn staff_view(&self, id: &str) -> Value {
        let read = self.call(Method::GET, &format!("/api/shipping/{id}"), Some(&staff_token()), None).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.json);
        read.json
    }
}

fn address() -> Value {
    json!({ "name": "Alice Example", "line1": "1 Secret Lane", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB" })
}

fn order(order_id: &str, customer_id: &str, customer_type: &str, option: &str, total: i64) -> Value {
    json!({
        "order_id": order_id,
        "customer_id": customer_id,
        "customer_type": customer_type,
        "delivery_option": option,
        "shipping_address": if option == "pickup" { Value::Null } else { address() },
        "total": total,
        "currency": "USD",
    })
}

fn vip_token(sub: &str) -> String {
    TokenKeys::development().issue(sub, CustomerType::Vip, Role::Customer, 600)
}

fn statuses(shipment: &Value) -> Vec<String> {
    shipment["events"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap().to_string()).collect()
}

fn assert_problem(answer: &Answer, status: StatusCode, field: Option<&str>) {
    assert_eq!(answer.status, status, "{}", answer.json);
    assert_eq!(answer.headers["content-type"], PROBLEM_JSON, "{}", answer.json);
    assert_eq!(answer.json["status"], status.as_u16());
    if let Some(field) = field {
        assert!(answer.json["errors"].get(field).is_some(), "expected `{field}` in {}", answer.json);
    }
}

/// Today plus `days` (UTC) as YYYY-MM-DD, read before and after the request.
fn dates_in(days: i64) -> HashSet<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    [time::OffsetDateTime::now_utc(), time::OffsetDateTime::now_utc() - time::Duration::seconds(5)]
        .iter()
        .map(|now| (now.date() + time::Duration::days(days)).format(format).unwrap())
        .collect()
}

#[tokio::test]
async fn a_shipment_is_created_once_per_order() {
    for url in transaction_store_urls("shipping_create").await {
        let w = world(&url);
        let order_id = new_id("order");
        let body = order(&order_id, ALICE, "registered", "standard", 5_999);
        let made = w.create(body.clone()).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
        let s = &made.json;
        assert!(shared::ids::has_prefix(s["id"].as_str().unwrap(), "shipment"), "{s}");
        assert_eq!((s["order_id"].as_str(), s["customer_id"].as_str()), (Some(order_id.as_str()), Some(ALICE)));
        assert_eq!((s["carrier"].as_str(), s["method"].as_str()), (Some("ShopPost"), Some("standard")));
        let tracking = s["tracking_number"].as_str().unwrap();
        assert!(tracking.starts_with("SP") && tracking.len() == 18, "{tracking}");
        assert_eq!(s["status"], "label_created");
        assert!(dates_in(5).contains(s["estimated_delivery"].as_str().unwrap()), "{s}");
        assert_eq!(s["shipping_address"], address());
        assert_eq!(s["events"].as_array().unwrap().len(), 1);
        let label = &s["events"][0];
        assert_eq!(
            (label["status"].as_str(), label["location"].clone(), label["note"].clone()),
            (Some("label_created"), Value::Null, Value::Null)
        );
        assert!(label["at"].as_str().unwrap().ends_with('Z'));
        assert!(s["created_at"].as_str().unwrap().ends_with('Z'));
        let keys: HashSet<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        let expected = [
            "id",
            "order_id",
            "customer_id",
            "carrier",
            "method",
            "tracking_number",
            "status",
            "estimated_delivery",
            "shipping_address",
            "events",
            "stopped_at",
            "created_at",
            "updated_at",
        ];
        assert_eq!(keys, expected.into_iter().collect(), "the contract's shipment JSON");

        // The order service retrying gets the same shipment back.
        let again = w.create(body.clone()).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.json);
        assert_eq!(again.json, made.json);
        let other_customer = w.create(order(&order_id, BOB, "registered", "standard", 5_999)).await;
        assert_problem(&other_customer, StatusCode::CONFLICT, None);

        // Concurrent first requests for one order still make one shipment.
        let racing_order = new_id("order");
        let racers = (0..6).map(|_| {
            let (app, body) = (w.app.clone(), order(&racing_order, ALICE, "vip", "express", 100));
            tokio::spawn(async move {
                let request = http::Request::post("/internal/shipments")
                    .header("content-type", "application/json")
                    .body(Bytes::from(body.to_string()))
                    .unwrap();
                let response = app.invoke("shipping", request).await.unwrap();
                let json: Value = serde_json::from_slice(response.body()).unwrap();
                (response.status(), json["id"].as_str().map(str::to_string))
            })
        });
        let mut answers = Vec::new();
        for racer in racers {
            answers.push(racer.await.unwrap());
        }
        assert_eq!(answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).count(), 1, "{answers:?}");
        assert_eq!(answers.iter().filter(|(s, _)| *s == StatusCode::OK).count(), 5, "{answers:?}");
        assert_eq!(answers.iter().map(|(_, id)| id.clone()).collect::<HashSet<_>>().len(), 1, "{answers:?}");
        let listed =
            w.call(Method::GET, &format!("/api/shipping/?order_id={racing_order}"), Some(&staff_token()), None).await;
        assert_eq!(listed.json["count"], 1);

        // Each delivery option has its carrier, days and tracking prefix.
        let express = w.ship(ALICE, "registered", "express", 1).await;
        assert_eq!((express["carrier"].as_str(), express["method"].as_str()), (Some("ShopExpress"), Some("express")));
        assert!(express["tracking_number"].as_str().unwrap().starts_with("SX"));
        assert!(dates_in(2).contains(express["estimated_delivery"].as_str().unwrap()));
        let pickup = w.ship(ALICE, "registered", "pickup", 1).await;
        assert_eq!((pickup["carrier"].as_str(), pickup["method"].as_str()), (Some("Store pickup"), Some("pickup")));
        assert!(pickup["tracking_number"].as_str().unwrap().starts_with("PU"));
        assert!(dates_in(1).contains(pickup["estimated_delivery"].as_str().unwrap()));
        assert_eq!(pickup["shipping_address"], Value::Null);
        let numbers: HashSet<&str> =
            [&made.json, &express, &pickup].iter().map(|s| s["tracking_number"].as_str().unwrap()).collect();
        assert_eq!(numbers.len(), 3);
        assert!(w.peers.calls().is_empty(), "creating a shipment calls nobody");
    }
}

#[tokio::test]
async fn public_tracking_shows_no_personal_data() {
    for url in transaction_store_urls("shipping_track").await {
        let w = world(&url);
        let s = w.ship(ALICE, "registered", "standard", 2_500).await;
        let id = s["id"].as_str().unwrap();
        let tracking = s["tracking_number"].as_str().unwrap();
        let moved = w.event(id, json!({ "status": "in_transit", "location": "Leeds hub", "note": "Sorted" })).await;
        assert_eq!(moved.status, StatusCode::CREATED, "{}", moved.json);

        for uri in [
            format!("/api/shipping/track/{tracking}"),
            format!("/api/shipping/track/{tracking}/"),
            format!("/api/shipping/track/{}", tracking.to_lowercase()),
        ] {
            let seen = w.call(Method::GET, &uri, None, None).await;
            assert_eq!(seen.status, StatusCode::OK, "{uri}: {}", seen.json);
            let keys: HashSet<&str> = seen.json.as_object().unwrap().keys().map(String::as_str).collect();
            let expected =
                ["tracking_number", "carrier", "method", "status", "estimated_delivery", "events", "stopped_at"];
            assert_eq!(keys, expected.into_iter().collect());
            for private in ["shipping_address", "customer_id", "order_id", "id", "address", "customer"] {
                assert!(seen.json.get(private).is_none(), "{private} leaked: {}", seen.json);
            }
            let text = seen.json.to_string();
            for secret in [ALICE, "Secret Lane", "Alice Example", s["order_id"].as_str().unwrap(), id] {
                assert!(!text.contains(secret), "{secret} leaked: {text}");
            }
            assert_eq!(
                (seen.json["tracking_number"].as_str(), seen.json["status"].as_str()),
                (Some(tracking), Some("in_transit"))
            );
            assert_eq!(seen.json["carrier"], "ShopPost");
            assert_eq!(
                seen.json["events"][1],
                json!({
                    "status": "in_transit", "location": "Leeds hub", "note": "Sorted", "at": seen.json["events"][1]["at"]
                })
            );
        }
        // A staff token changes nothing about what the public page shows.
        let as_staff =
            w.call(Method::GET, &format!("/api/shipping/track/{tracking}"), Some(&staff_token()), None).await;
        assert!(as_staff.json.get("shipping_address").is_none());

        for unknown in ["SP0000000000000000", "nope", "SP00000000000000000000000", "..%2F..%2Fetc"] {
            let missing = w.call(Method::GET, &format!("/api/shipping/track/{unknown}"), None, None).await;
            assert_problem(&missing, StatusCode::NOT_FOUND, None);
        }
    }
}

#[tokio::test]
async fn customers_see_only_their_own_shipments_and_staff_see_all() {
    for url in transaction_store_urls("shipping_access").await {
        let w = world(&url);
        let mine = w.ship(ALICE, "registered", "standard", 1_000).await;
        let also_mine = w.ship(ALICE, "registered", "pickup", 2_000).await;
        let bobs = w.ship(BOB, "vip", "express", 3_000).await;
        let id = mine["id"].as_str().unwrap();
        let (alice, bob) = (customer_token(ALICE), vip_token(BOB));

        for uri in [format!("/api/shipping/{id}"), format!("/api/shipping/{id}/")] {
            let read = w.call(Method::GET, &uri, Some(&alice), None).await;
            assert_eq!(read.status, StatusCode::OK, "{}", read.json);
            assert_eq!(read.json, mine, "the owner sees everything, address included");
        }
        let by_staff = w.call(Method::GET, &format!("/api/shipping/{id}"), Some(&staff_token()), None).await;
        assert_eq!((by_staff.status, &by_staff.json), (StatusCode::OK, &mine));
        let by_bob = w.call(Method::GET, &format!("/api/shipping/{id}"), Some(&bob), None).await;
        assert_problem(&by_bob, StatusCode::NOT_FOUND, None);
        let absent = w.call(Method::GET, "/api/shipping/shipment_01JDQ000000000000000000000", Some(&alice), None).await;
        assert_problem(&absent, StatusCode::NOT_FOUND, None);
        assert_eq!(
            by_bob.json["detail"].as_str().map(|d| d.replace(id, "X")),
            absent.json["detail"].as_str().map(|d| d.replace("shipment_01JDQ000000000000000000000", "X")),
            "another's shipment reads exactly like a missing one"
        );
        assert_problem(
            &w.call(Method::GET, &format!("/api/shipping/{id}"), None, None).await,
            StatusCode::UNAUTHORIZED,
            None,
        );
        assert_problem(
            &w.call(Method::GET, &format!("/api/shipping/{id}"), Some("not-a-token"), None).await,
            StatusCode::UNAUTHORIZED,
            None,
        );
        assert_problem(
            &w.call(Method::GET, "/api/shipping/order_1", Some(&alice), None).await,
            StatusCode::NOT_FOUND,
            None,
        );

        // Lists: anonymous is refused; a customer sees theirs; staff see all.
        for uri in ["/api/shipping/", "/api/shipping"] {
            assert_problem(&w.call(Method::GET, uri, None, None).await, StatusCode::UNAUTHORIZED, None);
        }
        let alices = w.call(Method::GET, "/api/shipping", Some(&alice), None).await;
        assert_eq!(alices.status, StatusCode::OK, "{}", alices.json);
        assert_eq!(alices.json["count"], 2);
        assert_eq!(alices.json["results"][0], also_mine, "newest first");
        assert_eq!(alices.json["results"][1], mine);
        let bobs_list = w.call(Method::GET, "/api/shipping/", Some(&bob), None).await;
        assert_eq!((bobs_list.json["count"].as_u64(), &bobs_list.json["results"][0]), (Some(1), &bobs));
        let nobodys = w.call(Method::GET, "/api/shipping/", Some(&customer_token("cust_new")), None).await;
        assert_eq!((nobodys.json["count"].as_u64(), nobodys.json["results"].clone()), (Some(0), json!([])));
        let all = w.call(Method::GET, "/api/shipping/", Some(&staff_token()), None).await;
        assert_eq!(all.json["count"], 3);

        // Filters, and a customer's filter never reaches past their own.
        let bobs_order = bobs["order_id"].as_str().unwrap();
        let by_order = w.call(Method::GET, &format!("/api/shipping/?order_id={bobs_order}"), Some(&alice), None).await;
        assert_eq!(by_order.json["count"], 0);
        let by_order =
            w.call(Method::GET, &format!("/api/shipping/?order_id={bobs_order}"), Some(&staff_token()), None).await;
        assert_eq!((by_order.json["count"].as_u64(), &by_order.json["results"][0]["id"]), (Some(1), &bobs["id"]));
        assert_eq!(w.event(id, json!({ "status": "in_transit" })).await.status, StatusCode::CREATED);
        let moving = w.call(Method::GET, "/api/shipping/?status=in_transit", Some(&alice), None).await;
        assert_eq!((moving.json["count"].as_u64(), &moving.json["results"][0]["id"]), (Some(1), &mine["id"]));
        let labelled = w.call(Method::GET, "/api/shipping/?status=label_created", Some(&staff_token()), None).await;
        assert_eq!(labelled.json["count"], 2);
        let paged = w.call(Method::GET, "/api/shipping/?page_size=1", Some(&staff_token()), None).await;
        assert_eq!(paged.json["results"].as_array().unwrap().len(), 1);
        assert_eq!(paged.json["next"], "/api/shipping/?page_size=1&page=2");
        let last = w.call(Method::GET, "/api/shipping/?page_size=1&page=3", Some(&staff_token()), None).await;
        assert_eq!(
            (last.json["results"][0]["id"].clone(), last.json["next"].clone()),
            (mine["id"].clone(), Value::Null)
        );
        for query in ["status=lost", "colour=red", "page_size=500", "page=0", "status=in_transit&status=delivered"] {
            let bad = w.call(Method::GET, &format!("/api/shipping/?{query}"), Some(&alice), None).await;
            assert_problem(&bad, StatusCode::BAD_REQUEST, None);
        }
    }
}

#[tokio::test]
async fn only_staff_record_events() {
    for url in transaction_store_urls("shipping_staff").await {
        let w = world(&url);
        let s = w.ship(ALICE, "vip", "standard", 10_000).await;
        let uri = format!("/api/shipping/{}/events", s["id"].as_str().unwrap());
        let body = json!({ "status": "in_transit" });
        let owner = w.call(Method::POST, &uri, Some(&vip_token(ALICE)), Some(body.clone())).await;
        assert_problem(&owner, StatusCode::FORBIDDEN, None);
        let other = w.call(Method::POST, &uri, Some(&customer_token(BOB)), Some(body.clone())).await;
        assert_problem(&other, StatusCode::FORBIDDEN, None);
        let anonymous = w.call(Method::POST, &uri, None, Some(body.clone())).await;
        assert_problem(&anonymous, StatusCode::UNAUTHORIZED, None);
        assert!(anonymous.headers.contains_key("www-authenticate"));
        // Identity comes before the body: a customer's bad body is still a 403.
        let bad_body = w.call(Method::POST, &uri, Some(&customer_token(ALICE)), Some(json!({ "status": 1 }))).await;
        assert_problem(&bad_body, StatusCode::FORBIDDEN, None);
        assert_eq!(statuses(&w.staff_view(s["id"].as_str().unwrap()).await), ["label_created"]);
        assert!(w.peers.calls().is_empty(), "refused requests call nobody");
        let missing = w.event("shipment_01JDQ0000000000000000000000", body.clone()).await;
        assert_problem(&missing, StatusCode::NOT_FOUND, None);
        assert_problem(&w.event("nonsense", body).await, StatusCode::NOT_FOUND, None);
        assert_problem(
            &w.call(Method::PUT, &uri, Some(&staff_token()), None).await,
            StatusCode::METHOD_NOT_ALLOWED,
            None,
        );
        assert_problem(
            &w.call(Method::POST, "/api/shipping/", Some(&staff_token()), Some(json!({}))).await,
            StatusCode::METHOD_NOT_ALLOWED,
            None,
        );
    }
}

/// Posts each status in turn, checking each is recorded with its details.
async fn walk(w: &World, shipment: &Value, path: &[&str]) {
    let id = shipment["id"].as_str().unwrap();
    let before = w.staff_view(id).await["events"].as_array().unwrap().len();
    for (n, status) in path.iter().enumerate() {
        let location = format!("stop {n}");
        let recorded =
            w.event(id, json!({ "status": status, "location": location, "note": format!("{status} scan") })).await;
        assert_eq!(recorded.status, StatusCode::CREATED, "{status}: {}", recorded.json);
        assert_eq!(recorded.json["status"], *status);
        let last = recorded.json["events"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["status"].as_str(), last["location"].as_str()), (Some(*status), Some(location.as_str())));
        assert_eq!(last["note"], format!("{status} scan"));
        assert_eq!(recorded.json["events"].as_array().unwrap().len(), before + n + 1);
    }
}

async fn refused(w: &World, shipment: &Value, status: &str, allowed: &str) {
    let id = shipment["id"].as_str().unwrap();
    let before = w.staff_view(id).await;
    let answer = w.event(id, json!({ "status": status })).await;
    assert_problem(&answer, StatusCode::CONFLICT, None);
    let detail = answer.json["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("allowed next statuses: {allowed}")), "{detail}");
    assert_eq!(w.staff_view(id).await, before, "a refused event changes nothing");
}

#[tokio::test]
async fn every_allowed_transition_and_the_forbidden_ones() {
    for url in transaction_store_urls("shipping_transitions").await {
        let w = world(&url);
        let a = w.ship(ALICE, "registered", "standard", 100).await;
        refused(&w, &a, "delivered", "in_transit").await;
        refused(&w, &a, "out_for_delivery", "in_transit").await;
        refused(&w, &a, "label_created", "in_transit").await;
        walk(&w, &a, &["in_transit", "out_for_delivery", "failed_delivery", "out_for_delivery", "delivered"]).await;
        refused(&w, &a, "returned", "none: it is final").await;
        refused(&w, &a, "in_transit", "none: it is final").await;

        let b = w.ship(ALICE, "registered", "express", 100).await;
        walk(&w, &b, &["in_transit"]).await;
        refused(&w, &b, "in_transit", "out_for_delivery, returned").await;
        refused(&w, &b, "delivered", "out_for_delivery, returned").await;
        walk(&w, &b, &["returned"]).await;
        refused(&w, &b, "in_transit", "none: it is final").await;

        let c = w.ship(ALICE, "registered", "standard", 100).await;
        walk(&w, &c, &["in_transit", "out_for_delivery"]).await;
        refused(&w, &c, "returned", "delivered, failed_delivery").await;
        walk(&w, &c, &["failed_delivery"]).await;
        refused(&w, &c, "delivered", "out_for_delivery, returned").await;
        walk(&w, &c, &["returned"]).await;

        // Pickup may go straight to delivered, or travel like any parcel.
        let d = w.ship(ALICE, "registered", "pickup", 100).await;
        refused(&w, &d, "out_for_delivery", "in_transit, delivered").await;
        walk(&w, &d, &["delivered"]).await;
        let e = w.ship(ALICE, "registered", "pickup", 100).await;
        walk(&w, &e, &["in_transit", "out_for_delivery", "delivered"]).await;

        // Concurrent events: one moves the shipment, the rest find it moved; with one
        // key, the rest are answered as replays of the one recorded.
        for key in [None, Some("scan-1")] {
            let f = w.ship(ALICE, "registered", "standard", 100).await;
            let uri = format!("/api/shipping/{}/events", f["id"].as_str().unwrap());
            let racers = (0..5).map(|_| {
                let (app, uri) = (w.app.clone(), uri.clone());
                let body = json!({ "status": "in_transit", "idempotency_key": key });
                tokio::spawn(async move {
                    let request = http::Request::post(uri)
                        .header("content-type", "application/json")
                        .header("authorization", format!("Bearer {}", staff_token()))
                        .body(Bytes::from(body.to_string()))
                        .unwrap();
                    app.invoke("shipping", request).await.unwrap().status()
                })
            });
            let mut answers = Vec::new();
            for racer in racers {
                answers.push(racer.await.unwrap());
            }
            let loser = if key.is_some() { StatusCode::OK } else { StatusCode::CONFLICT };
            assert_eq!(answers.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{answers:?}");
            assert_eq!(answers.iter().filter(|s| **s == loser).count(), 4, "{answers:?}");
            assert_eq!(statuses(&w.staff_view(f["id"].as_str().unwrap()).await), ["label_created", "in_transit"]);
        }

        let after = w.staff_view(a["id"].as_str().unwrap()).await;
        assert_eq!(
            statuses(&after),
            ["label_created", "in_transit", "out_for_delivery", "failed_delivery", "out_for_delivery", "delivered"]
        );
        assert_eq!(after["status"], "delivered");
    }
}

fn call(service: &'static str, path: &str, body: Value) -> Call {
    Call { service, path: path.to_string(), body }
}

#[tokio::test]
async fn shipping_and_delivery_move_the_order_the_payment_and_vip_points() {
    for url in transaction_store_urls("shipping_downstream").await {
        let w = world(&url);
        let s = w.ship(VERA, "vip", "standard", 12_345).await;
        let (id, order_id) = (s["id"].as_str().unwrap(), s["order_id"].as_str().unwrap().to_string());
        let status_path = format!("/internal/orders/{order_id}/status");

        walk(&w, &s, &["in_transit"]).await;
        assert_eq!(
            w.peers.calls(),
            [
                call("paying", "/internal/payments/capture", json!({ "order_id": order_id, "event": "shipped" })),
                call("order", &status_path, json!({ "status": "shipped" })),
            ],
            "capture first, then the order"
        );
        w.peers.forget_calls();
        walk(&w, &s, &["out_for_delivery", "failed_delivery", "out_for_delivery"]).await;
        assert!(w.peers.calls().is_empty(), "attempts on the road concern nobody else");

        walk(&w, &s, &["delivered"]).await;
        let key = format!("{order_id}:delivered");
        assert_eq!(
            w.peers.calls(),
            [
                call("paying", "/internal/payments/capture", json!({ "order_id": order_id, "event": "delivered" })),
                call("order", &status_path, json!({ "status": "delivered" })),
                call(
                    "vip",
                    "/internal/vip/earn",
                    json!({
                        "customer_id": VERA,
                        "points": 123,
                        "reason": format!("order {order_id} delivered"),
                        "idempotency_key": key,
                    })
                ),
            ]
        );
        assert_eq!(w.peers.credited(), HashMap::from([(key, (VERA.to_string(), 123))]));
        assert_eq!(w.staff_view(id).await["status"], "delivered");

        // A registered customer earns nothing; the rest happens all the same.
        w.peers.forget_calls();
        let r = w.ship(ALICE, "registered", "pickup", 50_000).await;
        walk(&w, &r, &["delivered"]).await;
        let services: Vec<&str> = w.peers.calls().iter().map(|c| c.service).collect();
        assert_eq!(services, ["paying", "order"], "a pickup goes straight from paid to delivered");
        assert_eq!(w.peers.calls()[1].body, json!({ "status": "delivered" }));

        // A VIP order under one currency unit earns no points, so no call.
        w.peers.forget_calls();
        let small = w.ship(VERA, "vip", "pickup", 99).await;
        walk(&w, &small, &["delivered"]).await;
        assert!(w.peers.calls().iter().all(|c| c.service != "vip"), "{:?}", w.peers.calls());

        // No payment to capture (paying answers 404) is fine for a shipment.
        w.peers.fail("paying", Mode::Status(StatusCode::NOT_FOUND));
        let unpaid = w.ship(ALICE, "registered", "express", 700).await;
        walk(&w, &unpaid, &["in_transit"]).await;
        assert_eq!(w.peers.calls().last().unwrap().service, "order");

        // A return calls nobody: refunds are decided in the order service.
        w.peers.heal();
        w.peers.forget_calls();
        walk(&w, &unpaid, &["returned"]).await;
        assert!(w.peers.calls().is_empty());
        assert_eq!(w.peers.credited().len(), 1);
    }
}

#[tokio::test]
async fn a_failing_peer_records_nothing_and_a_retry_converges() {
    for url in transaction_store_urls("shipping_failures").await {
        let w = world(&url);
        let s = w.ship(VERA, "vip", "standard", 40_000).await;
        let id = s["id"].as_str().unwrap();
        let order_id = s["order_id"].as_str().unwrap();
        walk(&w, &s, &["in_transit", "out_for_delivery"]).await;
        let before = w.staff_view(id).await;
        let delivered = json!({ "status": "delivered", "location": "Front door", "idempotency_key": "scan-42" });

        // Each peer failing in turn, each way it can fail: nothing is recorded.
        for (service, mode) in [
            ("paying", Mode::Status(StatusCode::INTERNAL_SERVER_ERROR)),
            ("paying", Mode::Hang),
            ("order", Mode::Status(StatusCode::SERVICE_UNAVAILABLE)),
            ("order", Mode::Hang),
            ("vip", Mode::Status(StatusCode::INTERNAL_SERVER_ERROR)),
            ("vip", Mode::Hang),
        ] {
            w.peers.heal();
            w.peers.fail(service, mode);
            let failed = w.event(id, delivered.clone()).await;
            assert_problem(&failed, StatusCode::SERVICE_UNAVAILABLE, None);
            assert!(failed.headers.contains_key("retry-after"), "{service} {mode:?}");
            assert!(failed.json["detail"].as_str().unwrap().contains("unavailable"), "{}", failed.json);
            assert_eq!(w.staff_view(id).await, before, "{service} {mode:?}: nothing recorded");
        }
        // Answers that break the contract are a 502; a refusal is a 409.
        for (service, mode, status) in [
            ("order", Mode::Nonsense, StatusCode::BAD_GATEWAY),
            ("order", Mode::Status(StatusCode::NOT_FOUND), StatusCode::BAD_GATEWAY),
            ("paying", Mode::Status(StatusCode::UNPROCESSABLE_ENTITY), StatusCode::BAD_GATEWAY),
            ("vip", Mode::Status(StatusCode::BAD_REQUEST), StatusCode::BAD_GATEWAY),
            ("order", Mode::Status(StatusCode::CONFLICT), StatusCode::CONFLICT),
            ("paying", Mode::Status(StatusCode::CONFLICT), StatusCode::CONFLICT),
        ] {
            w.peers.heal();
            w.peers.fail(service, mode);
            let failed = w.event(id, delivered.clone()).await;
            assert_problem(&failed, status, None);
            assert_eq!(w.staff_view(id).await, before, "{service} {mode:?}: nothing recorded");
        }
        assert!(w.peers.credited().is_empty(), "no attempt got as far as crediting");

        // Healed, the same request converges: delivered once, points credited once.
        w.peers.heal();
        w.peers.forget_calls();
        let done = w.event(id, delivered.clone()).await;
        assert_eq!(done.status, StatusCode::CREATED, "{}", done.json);
        assert_eq!(statuses(&done.json).last().unwrap(), "delivered");
        assert_eq!(w.peers.calls().len(), 3, "capture, order, earn: {:?}", w.peers.calls());
        let key = format!("{order_id}:delivered");
        assert_eq!(w.peers.credited(), HashMap::from([(key.clone(), (VERA.to_string(), 400))]));
        let earns: HashSet<String> = w
            .peers
            .calls()
            .iter()
            .filter(|c| c.service == "vip")
            .map(|c| c.body["idempotency_key"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(earns, HashSet::from([key]), "every attempt used the same key");

        // The same request once more is answered from the record, calling nobody.
        w.peers.forget_calls();
        let replay = w.event(id, delivered.clone()).await;
        assert_eq!(replay.status, StatusCode::OK, "{}", replay.json);
        assert_eq!(replay.json, done.json);
        assert!(w.peers.calls().is_empty());
        // The key with another event is refused; without a key it is a transition like any.
        let reused =
            w.event(id, json!({ "status": "delivered", "location": "Back door", "idempotency_key": "scan-42" })).await;
        assert_problem(&reused, StatusCode::CONFLICT, None);
        assert!(reused.json["detail"].as_str().unwrap().contains("scan-42"));
        refused(&w, &s, "delivered", "none: it is final").await;
        assert_eq!(w.staff_view(id).await["events"].as_array().unwrap().len(), 4);

        // A VIP the loyalty service does not know does not block a delivery.
        let stranger = w.ship("cust_unknown_vip", "vip", "pickup", 1_000).await;
        w.peers.fail("vip", Mode::Status(StatusCode::NOT_FOUND));
        walk(&w, &stranger, &["delivered"]).await;
    }
}

#[tokio::test]
async fn bad_bodies_are_refused_and_change_nothing() {
    for url in transaction_store_urls("shipping_input").await {
        let w = world(&url);
        let good = || order(&new_id("order"), ALICE, "registered", "standard", 1_000);
        let with = |field: &str, value: Value| {
            let mut body = good();
            body[field] = value;
            body
        };
        let without = |field: &str| {
            let mut body = good();
            body.as_object_mut().unwrap().remove(field);
            body
        };
        for (body, field) in [
            (without("order_id"), "order_id"),
            (without("customer_id"), "customer_id"),
            (without("total"), "total"),
            (without("currency"), "currency"),
            (without("delivery_option"), "delivery_option"),
            (without("shipping_address"), "shipping_address"),
            (with("order_id", json!("../orders/x")), "order_id"),
            (with("order_id", json!("")), "order_id"),
            (with("customer_id", json!("a b")), "customer_id"),
            (with("customer_type", json!("guest")), "customer_type"),
            (with("delivery_option", json!("drone")), "delivery_option"),
            (with("shipping_address", Value::Null), "shipping_address"),
            (with("shipping_address", json!({})), "shipping_address"),
            (with("shipping_address", json!("1 Secret Lane")), "shipping_address"),
            (with("shipping_address", json!({ "line1": "x".repeat(3_000) })), "shipping_address"),
            (with("total", json!(-1)), "total"),
            (with("total", json!(10.5)), "total"),
            (with("total", json!("100")), "total"),
            (with("currency", json!("usd")), "currency"),
            (with("carrier", json!("ShopPost")), "carrier"),
        ] {
            let refused = w.create(body.clone()).await;
            assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        }
        let malformed = w
            .raw(Method::POST, "/internal/shipments", None, Some(("application/json", "{\"order_id\": ".into())))
            .await;
        assert_problem(&malformed, StatusCode::BAD_REQUEST, None);
        let list = w.raw(Method::POST, "/internal/shipments", None, Some(("application/json", "[]".into()))).await;
        assert_problem(&list, StatusCode::BAD_REQUEST, None);
        let text = w.raw(Method::POST, "/internal/shipments", None, Some(("text/plain", good().to_string()))).await;
        assert_problem(&text, StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
        let all = w.call(Method::GET, "/api/shipping/", Some(&staff_token()), None).await;
        assert_eq!(all.json["count"], 0, "refused bodies create nothing");

        let s = w.ship(ALICE, "registered", "standard", 1_000).await;
        let id = s["id"].as_str().unwrap();
        for (body, field) in [
            (json!({}), "status"),
            (json!({ "status": "lost" }), "status"),
            (json!({ "status": 3 }), "status"),
            (json!({ "status": null }), "status"),
            (json!({ "status": "in_transit", "location": "x".repeat(101) }), "location"),
            (json!({ "status": "in_transit", "location": "  " }), "location"),
            (json!({ "status": "in_transit", "location": 7 }), "location"),
            (json!({ "status": "in_transit", "note": "n".repeat(501) }), "note"),
            (json!({ "status": "in_transit", "note": "bell\u{7}" }), "note"),
            (json!({ "status": "in_transit", "idempotency_key": "k".repeat(101) }), "idempotency_key"),
            (json!({ "status": "in_transit", "idempotency_key": "" }), "idempotency_key"),
            (json!({ "status": "in_transit", "at": "2020-01-01T00:00:00Z" }), "at"),
        ] {
            let refused = w.event(id, body.clone()).await;
            assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        }
        let uri = format!("/api/shipping/{id}/events");
        let malformed = w.raw(Method::POST, &uri, Some(&staff_token()), Some(("application/json", "{".into()))).await;
        assert_problem(&malformed, StatusCode::BAD_REQUEST, None);
        let untyped = w.raw(Method::POST, &uri, Some(&staff_token()), None).await;
        assert_problem(&untyped, StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
        assert_eq!(statuses(&w.staff_view(id).await), ["label_created"]);
        assert!(w.peers.calls().is_empty(), "refused bodies call nobody");

        // Null optional fields are simply absent; the longest allowed texts fit.
        let fine = json!({ "status": "in_transit", "location": "l".repeat(100), "note": "é".repeat(500), "idempotency_key": null });
        let recorded = w.event(id, fine).await;
        assert_eq!(recorded.status, StatusCode::CREATED, "{}", recorded.json);
        assert_eq!(recorded.json["events"][1]["note"].as_str().unwrap().chars().count(), 500);
    }
}

#[tokio::test]
async fn a_stopped_shipment_goes_no_further_but_may_come_back() {
    for url in transaction_store_urls("shipping_stop").await {
        let w = world(&url);
        let s = w.ship(VERA, "vip", "standard", 5_000).await;
        let (id, order_id) = (s["id"].as_str().unwrap(), s["order_id"].as_str().unwrap().to_string());
        walk(&w, &s, &["in_transit"]).await;
        assert_eq!(w.staff_view(id).await["stopped_at"], Value::Null);

        // The order service refunds the order and stops its shipment, twice: the same answer.
        let stop = json!({ "order_id": order_id });
        let stopped = w.call(Method::POST, "/internal/shipments/stop", None, Some(stop.clone())).await;
        assert_eq!(stopped.status, StatusCode::OK, "{}", stopped.json);
        assert!(stopped.json["stopped_at"].as_str().unwrap().ends_with('Z'));
        let again = w.call(Method::POST, "/internal/shipments/stop", None, Some(stop)).await;
        assert_eq!(again.json["stopped_at"], stopped.json["stopped_at"]);
        let tracking = w
            .call(Method::GET, &format!("/api/shipping/track/{}", s["tracking_number"].as_str().unwrap()), None, None)
            .await;
        assert_eq!(tracking.json["stopped_at"], stopped.json["stopped_at"], "the public page says so too");

        w.peers.forget_calls();
        let onward = w.event(id, json!({ "status": "out_for_delivery" })).await;
        assert_problem(&onward, StatusCode::CONFLICT, None);
        assert!(onward.json["detail"].as_str().unwrap().contains("stopped"), "{}", onward.json);
        assert!(w.peers.calls().is_empty(), "a refused event captures nothing and moves no order");
        let back = w.event(id, json!({ "status": "returned", "location": "Depot" })).await;
        assert_eq!(back.status, StatusCode::CREATED, "{}", back.json);
        assert_eq!(statuses(&back.json), ["label_created", "in_transit", "returned"]);

        let none = json!({ "order_id": new_id("order") });
        assert_problem(
            &w.call(Method::POST, "/internal/shipments/stop", None, Some(none)).await,
            StatusCode::NOT_FOUND,
            None,
        );
        let bad = json!({ "order_id": "book_1" });
        assert_problem(
            &w.call(Method::POST, "/internal/shipments/stop", None, Some(bad)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("order_id"),
        );
    }
}
