//! The VIP service's HTTP API on every relational store available here
//! (a SQLite file always, MariaDB when reachable).

mod common;

use common::{app, earn, enroll, guest_token, me, points, redeem, staff_points, state, vip_token};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::error::PROBLEM_JSON;
use shared::testing::{customer_token, relational_store_urls, send, send_raw, staff_token};

#[tokio::test]
async fn enrolling_is_idempotent_and_starts_at_bronze_with_no_points() {
    for url in relational_store_urls("vip_enroll").await {
        let (app, _) = app(&url).await;
        let (status, created) = enroll(&app, "cust_01JDQ8Z3X4C5V6B7N8M9K0J1H2").await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["customer_type"], "vip");
        assert_eq!(created["id"], "cust_01JDQ8Z3X4C5V6B7N8M9K0J1H2");
        for personal in ["email", "name"] {
            assert!(created.get(personal).is_none(), "the record names nobody: {created}");
        }
        assert_eq!(created["tier"], "bronze");
        assert_eq!(created["lifetime_points"], 0);
        assert_eq!(created["points_balance"], 0);
        assert_eq!(
            created["benefits"],
            json!({
                "discount_percent": 0, "free_shipping": false, "early_access": false, "priority_support": false,
                "birthday_bonus_points": 100, "points_multiplier_percent": 100
            })
        );
        assert_eq!(created["next_tier"], json!({ "name": "silver", "points_needed": 1000 }));
        assert!(created["enrolled_at"].as_str().unwrap().ends_with('Z'));

        // A retry answers with the record as it is.
        let body = json!({ "customer_id": " cust_01JDQ8Z3X4C5V6B7N8M9K0J1H2 " });
        let (status, _, again) = send(&app, Method::POST, "/internal/vip/enroll/", None, Some(body)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again, created);
        assert_eq!(me(&app, "cust_01JDQ8Z3X4C5V6B7N8M9K0J1H2").await, created);

        // Legacy ids enrol too.
        let (status, legacy) = enroll(&app, "456").await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(legacy["id"], "456");

        for (body, field) in [
            (json!({ "customer_id": "a b" }), "customer_id"),
            (json!({ "customer_id": "x".repeat(65) }), "customer_id"),
            (json!({}), "customer_id"),
            (json!({ "customer_id": 7 }), "customer_id"),
            (json!({ "customer_id": "c1", "tier": "gold" }), "tier"),
            (json!({ "customer_id": "c1", "email": "x@example.com", "name": "X" }), "email"),
        ] {
            let (status, content_type, problem) =
                send(&app, Method::POST, "/internal/vip/enroll", None, Some(body.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {problem}");
            assert_eq!(content_type, PROBLEM_JSON);
            assert!(problem["errors"].get(field).is_some(), "{body} -> {problem}");
        }
    }
}

#[tokio::test]
async fn enrolling_needs_a_tier_catalog() {
    for url in relational_store_urls("vip_no_tiers").await {
        let app = vip_customer::router(state(&url, false));
        let (status, problem) = enroll(&app, "cust_1").await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert_eq!(problem["detail"], "the tier catalog is empty");
        let (status, _, catalog) = send(&app, Method::GET, "/api/customers/vip/benefits", None, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(catalog["tiers"], json!([]));
    }
}

#[tokio::test]
async fn the_benefits_catalog_is_public_and_ordered_by_rank() {
    for url in relational_store_urls("vip_benefits").await {
        let (app, _) = app(&url).await;
        for path in ["/api/customers/vip/benefits", "/api/customers/vip/benefits/"] {
            let (status, _, catalog) = send(&app, Method::GET, path, None, None).await;
            assert_eq!(status, StatusCode::OK);
            let tiers = catalog["tiers"].as_array().unwrap();
            let names: Vec<&str> = tiers.iter().map(|t| t["name"].as_str().unwrap()).collect();
            assert_eq!(names, ["bronze", "silver", "gold", "platinum"]);
            let mins: Vec<i64> = tiers.iter().map(|t| t["min_lifetime_points"].as_i64().unwrap()).collect();
            assert_eq!(mins, [0, 1000, 5000, 15000]);
            assert_eq!(tiers[2]["benefits"]["free_shipping"], true);
            assert_eq!(tiers[2]["benefits"]["discount_percent"], 10);
            assert_eq!(tiers[3]["benefits"]["points_multiplier_percent"], 200);
            assert_eq!(tiers[3]["benefits"]["priority_support"], true);
        }
        let (status, _, _) = send(&app, Method::POST, "/api/customers/vip/benefits", None, Some(json!({}))).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }
}

#[tokio::test]
async fn earning_past_thresholds_moves_the_tier_with_the_multiplier() {
    for url in relational_store_urls("vip_earn").await {
        let (app, _) = app(&url).await;
        enroll(&app, "c1").await;

        let (status, result) = earn(&app, "c1", 999, "order-1").await;
        assert_eq!(status, StatusCode::CREATED, "{result}");
        assert_eq!(result["entry"]["kind"], "earn");
        assert_eq!(result["entry"]["points"], 999);
        assert_eq!(result["customer"]["tier"], "bronze");
        assert_eq!(result["customer"]["next_tier"], json!({ "name": "silver", "points_needed": 1 }));

        // Still bronze while earning, so 1×; the earn reaches silver.
        let (_, result) = earn(&app, "c1", 1, "order-2").await;
        assert_eq!(result["customer"]["tier"], "silver");
        assert_eq!(result["customer"]["benefits"]["discount_percent"], 5);

        // Silver earns 1.25×, rounded down: 3201 → 4001.
        let (status, result) = staff_points(&app, "c1", "earn", 3201, "order-3").await;
        assert_eq!(status, StatusCode::CREATED, "{result}");
        assert_eq!(result["entry"]["points"], 4001);
        assert_eq!(result["entry"]["requested_points"], 3201);
        assert_eq!(result["customer"]["lifetime_points"], 5001);
        assert_eq!(result["customer"]["points_balance"], 5001);
        assert_eq!(result["customer"]["tier"], "gold");
        assert_eq!(result["customer"]["benefits"]["free_shipping"], true);
        assert_eq!(result["customer"]["next_tier"], json!({ "name": "platinum", "points_needed": 9999 }));

        // Gold earns 1.5× and a big order reaches platinum, the top.
        let (_, result) = earn(&app, "c1", 6667, "order-4").await;
        assert_eq!(result["entry"]["points"], 10000);
        assert_eq!(result["customer"]["tier"], "platinum");
        assert_eq!(result["customer"]["next_tier"], Value::Null);
        let year = i64::from(time::OffsetDateTime::now_utc().year());
        assert_eq!(result["customer"]["tier_year"], year);

        let record = me(&app, "c1").await;
        assert_eq!(record["lifetime_points"], 15001);
        assert_eq!(record["benefits"]["early_access"], true);

        let summary = points(&app, "c1").await;
        assert_eq!(summary["balance"], 15001);
        assert_eq!(summary["lifetime_points"], 15001);
        assert_eq!(summary["tier"], "platinum");
        assert_eq!(summary["history"]["count"], 4);
        let keys: Vec<&str> = summary["history"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["idempotency_key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["order-4", "order-3", "order-2", "order-1"], "newest first");
        let balances: Vec<i64> = summary["history"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["balance_after"].as_i64().unwrap())
            .collect();
        assert_eq!(balances, [15001, 5001, 1000, 999]);

        let (status, _, page) =
            send(&app, Method::GET, "/api/customers/vip/points/?page_size=3&page=2", Some(&vip_token("c1")), None)
                .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["history"]["results"].as_array().unwrap().len(), 1);
        assert_eq!(page["history"]["previous"], "/api/customers/vip/points/?page_size=3");

        let (status, problem) = earn(&app, "nobody", 10, "order-x").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    }
}

#[tokio::test]
async fn redeeming_more_than_the_balance_conflicts_and_changes_nothing() {
    for url in relational_store_urls("vip_redeem").await {
        let (app, _) = app(&url).await;
        enroll(&app, "c1").await;
        earn(&app, "c1", 500, "order-1").await;

        let (status, problem) = redeem(&app, "c1", 501, "redeem-1").await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("500"), "{problem}");
        let summary = points(&app, "c1").await;
        assert_eq!(summary["balance"], 500);
        assert_eq!(summary["history"]["count"], 1);

        // The refused key was never used, so it may be used for a request that fits.
        let (status, entry) = redeem(&app, "c1", 200, "redeem-1").await;
        assert_eq!(status, StatusCode::CREATED, "{entry}");
        assert_eq!(entry["kind"], "redeem");
        assert_eq!(entry["points"], -200);
        assert_eq!(entry["requested_points"], 200);
        assert_eq!(entry["balance_after"], 300);
        assert_eq!(entry["customer_id"], "c1");
        assert!(entry["id"].as_str().unwrap().starts_with("pts_"));

        let record = me(&app, "c1").await;
        assert_eq!(record["points_balance"], 300);
        assert_eq!(record["lifetime_points"], 500, "redeeming does not take lifetime points");

        let (status, _) = redeem(&app, "c1", 300, "redeem-2").await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = redeem(&app, "c1", 1, "redeem-3").await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(points(&app, "c1").await["balance"], 0);

        // A VIP token of someone not enrolled has nothing to redeem.
        let (status, _) = redeem(&app, "c2", 1, "redeem-1").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_repeated_key_replays_the_same_request_and_refuses_a_different_one() {
    for url in relational_store_urls("vip_idempotency").await {
        let (app, _) = app(&url).await;
        enroll(&app, "c1").await;
        let (status, first) = earn(&app, "c1", 300, "delivered-ord_1").await;
        assert_eq!(status, StatusCode::CREATED);

        // The shipping service retries: same answer, nothing added.
        let (status, replay) = earn(&app, "c1", 300, "delivered-ord_1").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(replay, first);
        // Staff sending the same earn with the same key is the same request.
        let body =
            json!({ "kind": "earn", "points": 300, "reason": "Order delivered", "idempotency_key": "delivered-ord_1" });
        let (status, _, via_staff) =
            send(&app, Method::POST, "/api/customers/vip/customers/c1/points", Some(&staff_token()), Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{via_staff}");
        assert_eq!(via_staff["entry"], first["entry"]);
        // Keys are compared trimmed, the same on every engine.
        let (status, _) = earn(&app, "c1", 300, " delivered-ord_1 ").await;
        assert_eq!(status, StatusCode::OK);

        let (status, problem) = earn(&app, "c1", 301, "delivered-ord_1").await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        let (status, _) = staff_points(&app, "c1", "adjust", 300, "delivered-ord_1").await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = redeem(&app, "c1", 300, "delivered-ord_1").await;
        assert_eq!(status, StatusCode::CONFLICT);

        let (status, entry) = redeem(&app, "c1", 100, "voucher-1").await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, again) = redeem(&app, "c1", 100, "voucher-1").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again, entry);
        let body = json!({ "points": 100, "reason": "Another reason", "idempotency_key": "voucher-1" });
        let (status, _, _) =
            send(&app, Method::POST, "/api/customers/vip/points/redeem", Some(&vip_token("c1")), Some(body)).await;
        assert_eq!(status, StatusCode::CONFLICT);

        let summary = points(&app, "c1").await;
        assert_eq!(summary["balance"], 200);
        assert_eq!(summary["history"]["count"], 2);

        // Keys belong to one customer: another may use the same one.
        enroll(&app, "c2").await;
        let (status, _) = earn(&app, "c2", 300, "delivered-ord_1").await;
        assert_eq!(status, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn vip_routes_act_only_on_the_callers_own_record() {
    for url in relational_store_urls("vip_access").await {
        let (app, _) = app(&url).await;
        enroll(&app, "alice").await;
        enroll(&app, "bob").await;
        earn(&app, "alice", 700, "order-a").await;
        earn(&app, "bob", 50, "order-b").await;

        // Bob's token shows Bob, whatever he asks for; there is no route naming another member.
        assert_eq!(me(&app, "bob").await["id"], "bob");
        assert_eq!(points(&app, "bob").await["balance"], 50);
        let (status, _, _) =
            send(&app, Method::GET, "/api/customers/vip/customers/alice", Some(&vip_token("bob")), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = send(
            &app,
            Method::POST,
            "/api/customers/vip/customers/alice/points",
            Some(&vip_token("bob")),
            Some(json!({ "kind": "adjust", "points": -700, "reason": "mine now", "idempotency_key": "steal" })),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Bob redeeming spends Bob's points, never Alice's.
        let (status, _) = redeem(&app, "bob", 100, "redeem-1").await;
        assert_eq!(status, StatusCode::CONFLICT);
        let body = json!({ "points": 100, "reason": "x", "idempotency_key": "k", "customer_id": "alice" });
        let (status, _, problem) =
            send(&app, Method::POST, "/api/customers/vip/points/redeem", Some(&vip_token("bob")), Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(problem["errors"].get("customer_id").is_some());
        assert_eq!(me(&app, "alice").await["points_balance"], 700);

        let redeem_body = json!({ "points": 1, "reason": "x", "idempotency_key": "k" });
        for (method, path, body) in [
            (Method::GET, "/api/customers/", None),
            (Method::GET, "/api/customers", None),
            (Method::GET, "/api/customers/vip/points", None),
            (Method::POST, "/api/customers/vip/points/redeem", Some(redeem_body.clone())),
        ] {
            let (status, content_type, problem) = send(&app, method.clone(), path, None, body.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(content_type, PROBLEM_JSON);
            assert_eq!(problem["status"], 401);
            for token in [customer_token("alice"), guest_token("alice"), staff_token()] {
                let (status, _, _) = send(&app, method.clone(), path, Some(&token), body.clone()).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            }
            let (status, _, _) = send(&app, method.clone(), path, Some("garbage"), body.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        }
        let (status, _, _) = send(&app, Method::GET, "/api/customers/", Some(&vip_token("carol")), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a VIP token without an enrolment");

        let staff_body = json!({ "kind": "earn", "points": 1, "reason": "x", "idempotency_key": "k" });
        for (method, path, body) in [
            (Method::GET, "/api/customers/vip/customers", None),
            (Method::GET, "/api/customers/vip/customers/alice", None),
            (Method::POST, "/api/customers/vip/customers/alice/points", Some(staff_body.clone())),
        ] {
            let (status, _, _) = send(&app, method.clone(), path, None, body.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            for token in [vip_token("alice"), customer_token("alice")] {
                let (status, _, _) = send(&app, method.clone(), path, Some(&token), body.clone()).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            }
        }
    }
}

#[tokio::test]
async fn staff_read_and_list_members_by_tier() {
    for url in relational_store_urls("vip_staff").await {
        let (app, _) = app(&url).await;
        let staff = staff_token();
        for (id, points) in [("c1", 10), ("c2", 1000), ("c3", 6000), ("c4", 20)] {
            enroll(&app, id).await;
            earn(&app, id, points, "seed").await;
        }
        let (status, _, record) = send(&app, Method::GET, "/api/customers/vip/customers/c3/", Some(&staff), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(record["tier"], "gold");
        assert_eq!(record, me(&app, "c3").await);
        for missing in ["nobody", "a%20b", &"x".repeat(65)] {
            let (status, _, _) =
                send(&app, Method::GET, &format!("/api/customers/vip/customers/{missing}"), Some(&staff), None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        }
        let (status, problem) = staff_points(&app, "nobody", "earn", 5, "k").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");

        let (status, _, all) = send(&app, Method::GET, "/api/customers/vip/customers", Some(&staff), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(all["count"], 4);
        let (_, _, bronze) =
            send(&app, Method::GET, "/api/customers/vip/customers/?tier=bronze&page_size=1", Some(&staff), None).await;
        assert_eq!(bronze["count"], 2);
        assert_eq!(bronze["results"].as_array().unwrap().len(), 1);
        assert_eq!(bronze["results"][0]["tier"], "bronze");
        assert_eq!(bronze["next"], "/api/customers/vip/customers/?tier=bronze&page_size=1&page=2");
        let (_, _, gold) = send(&app, Method::GET, "/api/customers/vip/customers?tier=Gold", Some(&staff), None).await;
        assert_eq!(gold["count"], 1);
        assert_eq!(gold["results"][0]["id"], "c3");
        for query in ["tier=diamond", "page_size=101", "page=0", "colour=red", "tier=gold&tier=silver"] {
            let (status, _, problem) =
                send(&app, Method::GET, &format!("/api/customers/vip/customers?{query}"), Some(&staff), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query} -> {problem}");
        }
        let (status, _, _) =
            send(&app, Method::GET, "/api/customers/vip/points?bogus=1", Some(&vip_token("c1")), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn a_closed_accounts_record_is_kept_for_accounting_but_no_longer_served() {
    for url in relational_store_urls("vip_close").await {
        let (app, state) = app(&url).await;
        let staff = staff_token();
        for id in ["c1", "c2"] {
            enroll(&app, id).await;
            earn(&app, id, 1200, "seed").await;
        }
        let close = |id: &str| json!({ "customer_id": id });
        for _ in 0..2 {
            let (status, _, _) = send(&app, Method::POST, "/internal/vip/close", None, Some(close("c1"))).await;
            assert_eq!(status, StatusCode::NO_CONTENT, "closing is safe to repeat");
        }
        let (status, _, _) = send(&app, Method::POST, "/internal/vip/close", None, Some(close("nobody"))).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "an account that was never VIP closes too");
        let (status, _, problem) =
            send(&app, Method::POST, "/internal/vip/close", None, Some(json!({ "customer_id": "a b" }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

        let (status, _, _) = send(&app, Method::GET, "/api/customers/", Some(&vip_token("c1")), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = send(&app, Method::GET, "/api/customers/vip/customers/c1", Some(&staff), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "staff no longer read it either");
        let (_, _, all) = send(&app, Method::GET, "/api/customers/vip/customers", Some(&staff), None).await;
        assert_eq!(all["count"], 1);
        assert_eq!(all["results"][0]["id"], "c2");
        assert_eq!(earn(&app, "c1", 10, "after").await.0, StatusCode::NOT_FOUND, "nothing is credited to it");
        assert_eq!(redeem(&app, "c1", 10, "after").await.0, StatusCode::NOT_FOUND, "nor spent");

        let subjects = state.store.subjects().await.unwrap();
        assert_eq!(subjects.open, ["c2"]);
        assert_eq!(subjects.closed.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["c1"]);
        let (entries, count) = state.store.history("c1", 0, 10).await.unwrap();
        assert_eq!((count, entries[0].balance_after), (1, 1200), "the ledger stays, with the balance it left");
    }
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_field() {
    for url in relational_store_urls("vip_bad_input").await {
        let (app, _) = app(&url).await;
        enroll(&app, "c1").await;
        earn(&app, "c1", 100, "seed").await;
        let staff = staff_token();
        let staff_path = "/api/customers/vip/customers/c1/points";
        let redeem_path = "/api/customers/vip/points/redeem";
        let vip = vip_token("c1");

        let cases = [
            (redeem_path, &vip, json!({ "points": 0, "reason": "r", "idempotency_key": "k" }), "points"),
            (redeem_path, &vip, json!({ "points": 1_000_001, "reason": "r", "idempotency_key": "k" }), "points"),
            (redeem_path, &vip, json!({ "points": "ten", "reason": "r", "idempotency_key": "k" }), "points"),
            (redeem_path, &vip, json!({ "points": 1.5, "reason": "r", "idempotency_key": "k" }), "points"),
            (redeem_path, &vip, json!({ "points": 1, "reason": "", "idempotency_key": "k" }), "reason"),
            (redeem_path, &vip, json!({ "points": 1, "reason": "r".repeat(201), "idempotency_key": "k" }), "reason"),
            (
                redeem_path,
                &vip,
                json!({ "points": 1, "reason": "r", "idempotency_key": "k".repeat(101) }),
                "idempotency_key",
            ),
            (redeem_path, &vip, json!({ "points": 1, "reason": "r" }), "idempotency_key"),
            (redeem_path, &vip, json!({ "points": 1, "reason": "r", "idempotency_key": "k", "extra": 1 }), "extra"),
            (
                staff_path,
                &staff,
                json!({ "kind": "redeem", "points": 1, "reason": "r", "idempotency_key": "k" }),
                "kind",
            ),
            (
                staff_path,
                &staff,
                json!({ "kind": "bonus", "points": 1, "reason": "r", "idempotency_key": "k" }),
                "kind",
            ),
            (
                staff_path,
                &staff,
                json!({ "kind": "earn", "points": -5, "reason": "r", "idempotency_key": "k" }),
                "points",
            ),
            (
                staff_path,
                &staff,
                json!({ "kind": "adjust", "points": 0, "reason": "r", "idempotency_key": "k" }),
                "points",
            ),
            (
                staff_path,
                &staff,
                json!({ "kind": "adjust", "points": -1_000_001, "reason": "r", "idempotency_key": "k" }),
                "points",
            ),
            (staff_path, &staff, json!({ "kind": 1, "points": 1, "reason": "r", "idempotency_key": "k" }), "kind"),
        ];
        for (path, token, body, field) in cases {
            let (status, content_type, problem) = send(&app, Method::POST, path, Some(token), Some(body.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {problem}");
            assert_eq!(content_type, PROBLEM_JSON);
            assert!(problem["errors"].get(field).is_some(), "{body} -> {problem}");
        }
        let internal = "/internal/vip/earn";
        for (body, field) in [
            (json!({ "customer_id": "c1", "points": 0, "reason": "r", "idempotency_key": "k" }), "points"),
            (json!({ "customer_id": "c1", "points": 1_000_001, "reason": "r", "idempotency_key": "k" }), "points"),
            (json!({ "customer_id": "c 1", "points": 5, "reason": "r", "idempotency_key": "k" }), "customer_id"),
            (json!({ "points": 5, "reason": "r", "idempotency_key": "k" }), "customer_id"),
            (
                json!({ "customer_id": "c1", "points": 5, "reason": "r", "idempotency_key": "k", "kind": "adjust" }),
                "kind",
            ),
        ] {
            let (status, _, problem) = send(&app, Method::POST, internal, None, Some(body.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {problem}");
            assert!(problem["errors"].get(field).is_some(), "{body} -> {problem}");
        }

        for path in [redeem_path, staff_path, internal, "/internal/vip/enroll"] {
            let token = if path == staff_path { &staff } else { &vip };
            let (status, problem) =
                send_raw(&app, Method::POST, path, Some(token), "application/json", "{\"points\": ").await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} -> {problem}");
            let (status, _) = send_raw(&app, Method::POST, path, Some(token), "application/json", "[1]").await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
            let (status, _) = send_raw(&app, Method::POST, path, Some(token), "text/plain", "{}").await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{path}");
            let (status, _) = send_raw(&app, Method::POST, path, Some(token), "", "{}").await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{path}");
        }
        let huge =
            json!({ "points": 1, "reason": "x".repeat(shared::extract::MAX_BODY_BYTES), "idempotency_key": "k" });
        let (status, _) =
            send_raw(&app, Method::POST, redeem_path, Some(&vip), "application/json", &huge.to_string()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

        // Nothing above changed the balance.
        let summary = points(&app, "c1").await;
        assert_eq!(summary["balance"], 100);
        assert_eq!(summary["history"]["count"], 1);

        let (status, _, _) = send(&app, Method::DELETE, "/api/customers/vip/points", Some(&vip), None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        let (status, _, _) = send(&app, Method::GET, "/api/customers/vip/nothing", None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn restores_give_back_a_redeem_once_and_never_count_toward_the_tier() {
    for url in relational_store_urls("vip_restore").await {
        let (app, _) = app(&url).await;
        enroll(&app, "c1").await;
        earn(&app, "c1", 1000, "welcome").await;
        let path = "/internal/vip/restore";
        let restore = |points: Option<i64>, key: &str| {
            let mut body = json!({ "customer_id": "c1", "redeem_key": "order_1:redeem",
                "reason": "Order order_1 cancelled", "idempotency_key": key });
            if let Some(points) = points {
                body["points"] = json!(points);
            }
            body
        };
        // Redeem everything and get it back, fifteen times: the balance stays, and
        // lifetime points and the tier do not move (they used to grow by each restore).
        for round in 0..15 {
            let (status, _) = redeem(&app, "c1", 1000, &format!("order_{round}:redeem")).await;
            assert_eq!(status, StatusCode::CREATED);
            let body = json!({ "customer_id": "c1", "redeem_key": format!("order_{round}:redeem"),
                "reason": format!("Order order_{round} cancelled"),
                "idempotency_key": format!("order_{round}:points-back") });
            let (status, _, given) = send(&app, Method::POST, path, None, Some(body)).await;
            assert_eq!(status, StatusCode::CREATED, "{given}");
            assert_eq!(given["entry"]["kind"], "restore");
            assert_eq!(
                (given["entry"]["points"].as_i64(), given["entry"]["lifetime_change"].as_i64()),
                (Some(1000), Some(0))
            );
        }
        let member = me(&app, "c1").await;
        assert_eq!((member["points_balance"].as_i64(), member["lifetime_points"].as_i64()), (Some(1000), Some(1000)));
        assert_eq!(member["tier"], "silver");

        // The order service retries: the same entry, nothing added; then nothing is left.
        let (status, _, again) =
            send(&app, Method::POST, &format!("{path}/"), None, Some(restore(None, "order_1:points-back"))).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        let (status, _, _) = send(&app, Method::POST, path, None, Some(restore(None, "another-key"))).await;
        assert_eq!(status, StatusCode::CONFLICT, "a redeem is given back once");
        // Partial restores (a points payment refunded in parts) never exceed the redeem.
        let (status, _) = redeem(&app, "c1", 300, "payment_1:points").await;
        assert_eq!(status, StatusCode::CREATED);
        let part = |points: i64, key: &str| {
            json!({ "customer_id": "c1", "redeem_key": "payment_1:points",
            "points": points, "reason": "refund", "idempotency_key": key })
        };
        for (points, key, expected) in [
            (200, "r-1", StatusCode::CREATED),
            (200, "r-2", StatusCode::CONFLICT),
            (100, "r-2", StatusCode::CREATED),
            (1, "r-3", StatusCode::CONFLICT),
        ] {
            let (status, _, body) = send(&app, Method::POST, path, None, Some(part(points, key))).await;
            assert_eq!(status, expected, "{points} {key}: {body}");
        }
        assert_eq!(me(&app, "c1").await["points_balance"], 1000);
        let missing =
            json!({ "customer_id": "c1", "redeem_key": "order_99:redeem", "reason": "r", "idempotency_key": "k" });
        assert_eq!(send(&app, Method::POST, path, None, Some(missing)).await.0, StatusCode::NOT_FOUND);
        let stranger =
            json!({ "customer_id": "c9", "redeem_key": "order_1:redeem", "reason": "r", "idempotency_key": "k" });
        assert_eq!(send(&app, Method::POST, path, None, Some(stranger)).await.0, StatusCode::NOT_FOUND);
        for (body, field) in [
            (restore(Some(0), "k"), "points"),
            (json!({ "customer_id": "c 1", "redeem_key": "x", "reason": "r", "idempotency_key": "k" }), "customer_id"),
            (json!({ "customer_id": "c1", "redeem_key": " ", "reason": "r", "idempotency_key": "k" }), "redeem_key"),
            (
                json!({ "customer_id": "c1", "redeem_key": "x", "reason": "r", "idempotency_key": "k", "kind": "earn" }),
                "kind",
            ),
        ] {
            let (status, content_type, problem) = send(&app, Method::POST, path, None, Some(body.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {problem}");
            assert_eq!(content_type, PROBLEM_JSON);
            assert!(problem["errors"].get(field).is_some(), "{body} -> {problem}");
        }
        let (status, _, _) = send(&app, Method::POST, "/internal/vip/adjust", None, Some(restore(None, "k"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "points are given back by naming their redeem only");
    }
}

#[tokio::test]
async fn revokes_take_back_an_earn_once_and_stop_at_an_empty_balance() {
    for url in relational_store_urls("vip_revoke").await {
        let (app, _) = app(&url).await;
        enroll(&app, "c1").await;
        earn(&app, "c1", 100, "order_1:delivered").await;
        earn(&app, "c1", 50, "order_2:delivered").await;
        let revoke = |order: &str| {
            json!({ "customer_id": "c1", "earn_key": format!("{order}:delivered"),
            "reason": format!("Order {order} refunded"), "idempotency_key": format!("{order}:revoke") })
        };
        let path = "/internal/vip/revoke";
        let (status, _, taken) = send(&app, Method::POST, path, None, Some(revoke("order_1"))).await;
        assert_eq!(status, StatusCode::CREATED, "{taken}");
        assert_eq!(
            (taken["entry"]["points"].as_i64(), taken["entry"]["lifetime_change"].as_i64()),
            (Some(-100), Some(-100))
        );
        assert_eq!(
            (taken["customer"]["points_balance"].as_i64(), taken["customer"]["lifetime_points"].as_i64()),
            (Some(50), Some(50))
        );
        assert_eq!(send(&app, Method::POST, path, None, Some(revoke("order_1"))).await.0, StatusCode::OK);
        assert_eq!(me(&app, "c1").await["points_balance"], 50, "a retry takes nothing more");

        // Spent points: the balance stops at zero and the entry shows the shortfall.
        redeem(&app, "c1", 40, "voucher").await;
        let (_, _, short) = send(&app, Method::POST, path, None, Some(revoke("order_2"))).await;
        assert_eq!(
            (short["entry"]["points"].as_i64(), short["entry"]["requested_points"].as_i64()),
            (Some(-10), Some(50))
        );
        let member = me(&app, "c1").await;
        assert_eq!((member["points_balance"].as_i64(), member["lifetime_points"].as_i64()), (Some(0), Some(0)));

        // A refund before the delivery's earn: nothing to take, and the earn never comes.
        let (status, _, early) = send(&app, Method::POST, path, None, Some(revoke("order_3"))).await;
        assert_eq!((status, early["entry"]["points"].as_i64()), (StatusCode::CREATED, Some(0)), "{early}");
        assert_eq!(earn(&app, "c1", 500, "order_3:delivered").await.0, StatusCode::CONFLICT);
        assert_eq!(send(&app, Method::POST, path, None, Some(revoke("order_3"))).await.0, StatusCode::OK);
        assert_eq!(me(&app, "c1").await["lifetime_points"], 0);
    }
}

#[test]
fn configuration_comes_from_the_environment() {
    use shared::config::Env;
    use shared::store::StoreUrl;
    let config = vip_customer::Config::from_env(&Env::from_pairs([("LOCAL_DATA_DIR", "/tmp/d")])).unwrap();
    assert_eq!(config.store, StoreUrl::Sqlite("sqlite:///tmp/d/vip-customer.db".into()));
    assert_eq!(config.max_connections, 2);
    assert!(!config.downgrade_mid_year);
    let env = Env::from_pairs([
        ("VIP_CUSTOMER_DATABASE_URL", "mysql://u:p@db:3306/vip"),
        ("DATABASE_MAX_CONNECTIONS", "5"),
        ("VIP_DOWNGRADE_MID_YEAR", "true"),
    ]);
    let config = vip_customer::Config::from_env(&env).unwrap();
    assert_eq!(config.store, StoreUrl::MySql("mysql://u:p@db:3306/vip".into()));
    assert_eq!(config.max_connections, 5);
    assert!(config.downgrade_mid_year);
    assert!(vip_customer::Config::from_env(&Env::from_pairs([("VIP_DOWNGRADE_MID_YEAR", "sometimes")])).is_err());
    assert!(vip_customer::Config::from_env(&Env::from_pairs([("AWS_LAMBDA_FUNCTION_NAME", "vip")])).is_err());
}

#[test]
fn the_openapi_document_covers_the_public_routes_and_resolves_every_reference() {
    let doc = serde_json::to_value(vip_customer::openapi()).unwrap();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for path in [
        "/api/customers/",
        "/api/customers/vip/benefits",
        "/api/customers/vip/points",
        "/api/customers/vip/points/redeem",
        "/api/customers/vip/customers",
        "/api/customers/vip/customers/{id}",
        "/api/customers/vip/customers/{id}/points",
    ] {
        assert!(paths.iter().any(|p| *p == path), "{path} missing from {paths:?}");
    }
    assert!(paths.iter().all(|p| !p.starts_with("/internal")), "{paths:?}");

    let found = shared::testing::schema_refs(&doc);
    assert!(!found.is_empty());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for r in found {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(schemas.contains_key(name), "{r} does not resolve");
    }
    assert!(doc["paths"]["/api/customers/vip/points/redeem"]["post"]["security"].is_array());
}
