//! What the VIP tests share: a service over a fresh store with the tier catalog
//! loaded, tokens, and short-hands for the internal routes.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::auth::{CustomerType, Role, TokenKeys};
use shared::store::StoreUrl;
use shared::testing::send;
use vip_customer::{Config, VipState, load_tiers, router};

pub const TIERS: &str = include_str!("../../../../fixtures/customers/vip_tiers.json");
pub const CUSTOMERS: &str = include_str!("../../../../fixtures/customers/vip_customers.json");

pub fn state(url: &StoreUrl, downgrade_mid_year: bool) -> VipState {
    let config = Config { store: url.clone(), max_connections: 2, downgrade_mid_year };
    VipState::new(&config, Arc::new(TokenKeys::development())).expect("state")
}

/// The service over `url` with the tier fixtures loaded.
pub async fn app(url: &StoreUrl) -> (Router, VipState) {
    app_with(url, false).await
}

pub async fn app_with(url: &StoreUrl, downgrade_mid_year: bool) -> (Router, VipState) {
    let state = state(url, downgrade_mid_year);
    load_tiers(&state.store, TIERS).await.expect("tiers load");
    (router(state.clone()), state)
}

pub fn vip_token(sub: &str) -> String {
    TokenKeys::development().issue(sub, CustomerType::Vip, Role::Customer, 600)
}

pub fn guest_token(sub: &str) -> String {
    TokenKeys::development().issue(sub, CustomerType::Guest, Role::Customer, 600)
}

pub async fn enroll(app: &Router, id: &str) -> (StatusCode, Value) {
    let (status, _, json) =
        send(app, Method::POST, "/internal/vip/enroll", None, Some(json!({ "customer_id": id }))).await;
    (status, json)
}

pub async fn earn(app: &Router, id: &str, points: i64, key: &str) -> (StatusCode, Value) {
    let body = json!({ "customer_id": id, "points": points, "reason": "Order delivered", "idempotency_key": key });
    let (status, _, json) = send(app, Method::POST, "/internal/vip/earn", None, Some(body)).await;
    (status, json)
}

pub async fn staff_points(app: &Router, id: &str, kind: &str, points: i64, key: &str) -> (StatusCode, Value) {
    let body = json!({ "kind": kind, "points": points, "reason": "Staff change", "idempotency_key": key });
    let uri = format!("/api/customers/vip/customers/{id}/points");
    let (status, _, json) = send(app, Method::POST, &uri, Some(&shared::testing::staff_token()), Some(body)).await;
    (status, json)
}

pub async fn redeem(app: &Router, id: &str, points: i64, key: &str) -> (StatusCode, Value) {
    let body = json!({ "points": points, "reason": "Voucher", "idempotency_key": key });
    let (status, _, json) =
        send(app, Method::POST, "/api/customers/vip/points/redeem", Some(&vip_token(id)), Some(body)).await;
    (status, json)
}

pub async fn me(app: &Router, id: &str) -> Value {
    let (status, _, json) = send(app, Method::GET, "/api/customers/", Some(&vip_token(id)), None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json
}

pub async fn points(app: &Router, id: &str) -> Value {
    let (status, _, json) = send(app, Method::GET, "/api/customers/vip/points", Some(&vip_token(id)), None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json
}
