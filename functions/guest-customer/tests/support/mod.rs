//! What the guest service's tests share: the stores to run against (SQLite
//! always, DynamoDB through the moto server when it is reachable) and sending
//! requests with guest and bearer tokens.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use axum::Router;
use axum::body::Bytes;
use guest_customer::{DynamoGuests, GuestState, GuestStore, SqliteGuests};
use http::{Method, Request, StatusCode};
use serde_json::Value;
use shared::auth::TokenKeys;
use shared::invoke::{InProcessInvoker, Invoker};
use shared::testing::temp_sqlite_url;

pub const TTL_SECS: i64 = 30 * 24 * 60 * 60;

pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn GuestStore>,
}

/// The items the tests' stand-in items router knows.
pub const KNOWN_ITEMS: [&str; 3] =
    ["book_01KE226VD8K7WF2X7HM5T2628T", "laptop_01KFH5JAJ8QDX3GCWDZZ5GSRSD", "gift-card_01KFH5JAJ8QDX3GCWDZZ5GSRSE"];

pub fn items() -> guest_customer::Items {
    let invoker = InProcessInvoker::new().with("items-router", shared::testing::items_router_knowing(&KNOWN_ITEMS));
    guest_customer::Items {
        invoker: Arc::new(invoker),
        function: "items-router".into(),
        timeout: Duration::from_secs(5),
    }
}

impl Backend {
    pub fn state(&self, ttl_secs: i64) -> GuestState {
        GuestState::with_store(self.store.clone(), items(), Arc::new(TokenKeys::development()), ttl_secs)
    }

    pub fn app(&self) -> Router {
        guest_customer::router(self.state(TTL_SECS))
    }
}

/// SQLite always; DynamoDB when its test endpoint answers (required when `CI=true`).
pub async fn backends(test: &str) -> Vec<Backend> {
    let sqlite = SqliteGuests::connect_lazy(&temp_sqlite_url(test), 2).expect("sqlite store");
    let mut backends = vec![Backend { name: "sqlite", store: Arc::new(sqlite) }];
    if let Some(store) = dynamo_store(test).await {
        backends.push(Backend { name: "dynamodb", store });
    }
    backends
}

/// The moto server: `DYNAMODB_TEST_ENDPOINT`, by default `http://127.0.0.1:5000`.
pub fn dynamo_endpoint() -> String {
    std::env::var("DYNAMODB_TEST_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "http://127.0.0.1:5000".into())
}

/// A table of its own on the moto server.
pub async fn dynamo_store(test: &str) -> Option<Arc<dyn GuestStore>> {
    let (store, _) = dynamo_store_via(test, &dynamo_endpoint()).await?;
    Some(store)
}

/// A table of its own, created and used through `endpoint`; also the table's client.
pub async fn dynamo_store_via(test: &str, endpoint: &str) -> Option<(Arc<dyn GuestStore>, Client)> {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "guest-customer-tests"))
        .http_client(shared::aws::https_client())
        .build();
    let client = Client::from_conf(config);
    let table = format!("guests-{test}-{}", shared::ids::new_id("t")).replace('_', "-");
    let created = tokio::time::timeout(
        Duration::from_secs(15),
        client
            .create_table()
            .table_name(&table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute definition"),
            )
            .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().expect("key"))
            .billing_mode(BillingMode::PayPerRequest)
            .send(),
    )
    .await;
    let why = match created {
        Ok(Ok(_)) => return Some((Arc::new(DynamoGuests::with_client(client.clone(), &table)), client)),
        Ok(Err(e)) => aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
        Err(_) => "no answer within 15 s".to_string(),
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("DynamoDB at {endpoint} is required in CI for `{test}`: {why}");
    }
    eprintln!("notice: DynamoDB at {endpoint} is not reachable ({why}); skipping DynamoDB for `{test}`");
    None
}

/// Sends a request the way the customer router does (through an invoker), with
/// an optional `X-Guest-Token` and bearer token, and returns status and JSON body.
pub async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    guest: Option<&str>,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (content_type, body) = match body {
        Some(body) => (Some("application/json"), body.to_string()),
        None => (None, String::new()),
    };
    call_raw(app, method, uri, guest, bearer, content_type, &body).await
}

pub async fn call_raw(
    app: &Router,
    method: Method,
    uri: &str,
    guest: Option<&str>,
    bearer: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri).header("host", "shop.test");
    if let Some(token) = guest {
        request = request.header("x-guest-token", token);
    }
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let request = request.body(Bytes::from(body.to_string())).expect("request");
    let invoker = InProcessInvoker::new().with("guest-customer", app.clone());
    let response = invoker.invoke("guest-customer", request).await.expect("in-process call");
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(response.headers()["content-type"], shared::error::PROBLEM_JSON, "{status}");
    }
    let json = if response.body().is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(response.body()).expect("a JSON body")
    };
    (status, json)
}

/// Starts a session through the API and returns its id and token.
pub async fn new_session(app: &Router) -> (String, String) {
    let (status, created) = call(app, Method::POST, "/api/guest-customer/", None, None, None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (created["id"].as_str().expect("id").to_string(), created["token"].as_str().expect("token").to_string())
}

pub fn unix(rfc3339: &Value) -> i64 {
    let text = rfc3339.as_str().expect("a time");
    time_from_rfc3339(text)
}

/// Parses the `YYYY-MM-DDTHH:MM:SSZ` times the service writes, without a time crate.
fn time_from_rfc3339(text: &str) -> i64 {
    let num = |range: std::ops::Range<usize>| text[range].parse::<i64>().expect("digits");
    assert!(text.len() == 20 && text.ends_with('Z'), "{text}");
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let (hh, mm, ss) = (num(11..13), num(14..16), num(17..19));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

pub fn now() -> i64 {
    shared::sql::now_secs()
}

#[test]
fn rfc3339_parsing_matches_the_service() {
    for secs in [0, 951_782_400, 1_772_700_000, 4_102_444_800] {
        assert_eq!(time_from_rfc3339(&shared::sql::rfc3339(secs)), secs);
    }
}
