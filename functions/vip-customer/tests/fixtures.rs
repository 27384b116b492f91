//! The seed tiers and members load on every store, agree with the ledger rules,
//! and loading them again changes nothing.

mod common;

use common::{CUSTOMERS, TIERS, me, state};
use http::{Method, StatusCode};
use serde_json::Value;
use shared::testing::{relational_store_urls, send, staff_token};
use vip_customer::{load_customers, load_tiers};

#[tokio::test]
async fn fixtures_load_once_and_match_their_declared_standing() {
    let fixtures: Vec<Value> = serde_json::from_str(CUSTOMERS).unwrap();
    assert_eq!(fixtures.len(), 8);
    for tier in ["bronze", "silver", "gold", "platinum"] {
        assert!(fixtures.iter().any(|c| c["tier"] == tier), "no {tier} member in the fixtures");
    }
    for url in relational_store_urls("vip_fixtures").await {
        let state = state(&url, false);
        let app = vip_customer::router(state.clone());
        // Members need the tiers first.
        assert!(load_customers(&state.store, CUSTOMERS).await.is_err());

        assert_eq!(load_tiers(&state.store, TIERS).await.unwrap(), 4);
        assert_eq!(load_tiers(&state.store, TIERS).await.unwrap(), 0);
        assert_eq!(load_customers(&state.store, CUSTOMERS).await.unwrap(), 8);

        let staff = staff_token();
        let mut before = Vec::new();
        for fixture in &fixtures {
            let id = fixture["customer_id"].as_str().unwrap();
            let record = me(&app, id).await;
            assert_eq!(record["tier"], fixture["tier"], "{id}");
            assert_eq!(record["lifetime_points"], fixture["lifetime_points"], "{id}");
            assert_eq!(record["points_balance"], fixture["points_balance"], "{id}");
            assert_eq!(record["enrolled_at"], fixture["enrolled_at"], "{id}");
            let summary = common::points(&app, id).await;
            let history = fixture["history"].as_array().unwrap();
            assert_eq!(summary["history"]["count"], history.len(), "{id}");
            let newest = &summary["history"]["results"][0];
            let last = history.last().unwrap();
            assert_eq!(newest["idempotency_key"], last["idempotency_key"], "{id}");
            assert_eq!(newest["created_at"], last["created_at"], "{id}");
            assert_eq!(newest["balance_after"], fixture["points_balance"], "{id}");
            before.push((record, summary));
        }
        let vip456 = me(&app, "456").await;
        assert!(vip456.get("email").is_none(), "the fixture's email is the account's, not the record's");

        // A second load adds and changes nothing.
        assert_eq!(load_customers(&state.store, CUSTOMERS).await.unwrap(), 0);
        for (fixture, (record, summary)) in fixtures.iter().zip(&before) {
            let id = fixture["customer_id"].as_str().unwrap();
            assert_eq!(&me(&app, id).await, record, "{id}");
            assert_eq!(&common::points(&app, id).await, summary, "{id}");
        }
        let (status, _, all) = send(&app, Method::GET, "/api/customers/vip/customers", Some(&staff), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(all["count"], 8);
    }
}

#[tokio::test]
async fn invalid_fixtures_load_nothing() {
    for url in relational_store_urls("vip_bad_fixtures").await {
        let state = state(&url, false);
        assert!(load_tiers(&state.store, "[{\"name\": \"diamond\"}]").await.is_err());
        let broken_catalog = TIERS.replace("\"min_lifetime_points\": 0", "\"min_lifetime_points\": 10");
        assert!(load_tiers(&state.store, &broken_catalog).await.is_err());
        assert_eq!(state.store.tiers().await.unwrap().tiers().len(), 0);

        load_tiers(&state.store, TIERS).await.unwrap();
        // A history that no longer leads to the declared standing is refused.
        let drifted = CUSTOMERS.replacen("\"points_balance\": ", "\"points_balance\": 1", 1);
        assert!(load_customers(&state.store, &drifted).await.is_err());
        let unknown_field = CUSTOMERS.replacen("\"name\": ", "\"nickname\": \"x\", \"name\": ", 1);
        assert!(load_customers(&state.store, &unknown_field).await.is_err());
    }
}
