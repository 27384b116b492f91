//! Points on cancel, expiry and refund: redeemed points come back without
//! counting toward the tier, and a refund takes back what the order earned.

mod support;

use http::StatusCode;
use serde_json::json;
use support::{VIP_BRONZE, VIP_BRONZE_2, VIP_SILVER, card, shops, staff, vip};

#[tokio::test]
async fn redeeming_and_cancelling_never_pumps_lifetime_points_or_the_tier() {
    for shop in shops("points_pump").await {
        let token = vip(VIP_SILVER);
        let before = shop.member(VIP_SILVER).await;
        let book = shop.item("book", 100, 2_000).await;
        for round in 0..15 {
            assert_eq!(shop.add(&token, "book", &book, 1).await.status, StatusCode::CREATED);
            let body = json!({ "delivery_option": "pickup", "redeem_points": 1000 });
            let placed = shop.checkout(&token, &format!("pump-{round}"), body).await;
            assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
            let cancelled = shop.post(&format!("/api/orders/{}/cancel", placed.id()), &token, None).await;
            assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
        }
        let after = shop.member(VIP_SILVER).await;
        for field in ["points_balance", "lifetime_points", "tier"] {
            assert_eq!(after[field], before[field], "{field} ({})", shop.stores);
        }
        let history = shop.get("/api/customers/vip/points?page_size=100", &token).await.json;
        let restores =
            history["history"]["results"].as_array().unwrap().iter().filter(|e| e["kind"] == "restore").count();
        assert_eq!(restores, 15, "each cancellation gives its redeem back, as a restore");
        shop.assert_invariants("after fifteen redeems and cancellations").await;
    }
}

/// A 100.00 pickup order, paid by card and delivered; its id.
async fn delivered(shop: &support::Shop, member: &str, key: &str) -> String {
    let token = vip(member);
    let item = shop.item("laptop", 5, 10_000).await;
    shop.add(&token, "laptop", &item, 1).await;
    let order = shop.checkout(&token, key, json!({ "delivery_option": "pickup" })).await.id();
    assert_eq!(shop.pay(&token, &format!("{key}-pay"), card(&order)).await.status, StatusCode::CREATED);
    let shipment = shop.shipment(&order).await;
    let done = shop.event(shipment["id"].as_str().unwrap(), "delivered").await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
    order
}

#[tokio::test]
async fn a_refund_takes_back_the_points_the_order_earned() {
    for shop in shops("points_refund").await {
        let before = shop.member(VIP_BRONZE).await;
        let order = delivered(&shop, VIP_BRONZE, "earn").await;
        let earned = shop.member(VIP_BRONZE).await;
        assert_eq!(earned["points_balance"].as_i64().unwrap(), before["points_balance"].as_i64().unwrap() + 100);
        let refunded = shop.post(&format!("/api/orders/{order}/refund"), &staff(), None).await;
        assert_eq!(
            (refunded.status, refunded.json["status"].as_str()),
            (StatusCode::OK, Some("refunded")),
            "{}",
            refunded.text
        );
        let after = shop.member(VIP_BRONZE).await;
        for field in ["points_balance", "lifetime_points", "tier"] {
            assert_eq!(after[field], before[field], "{field} ({})", shop.stores);
        }
        // Refunding again takes nothing more.
        assert_eq!(shop.post(&format!("/api/orders/{order}/refund"), &staff(), None).await.status, StatusCode::OK);
        assert_eq!(shop.member(VIP_BRONZE).await["points_balance"], before["points_balance"]);
        shop.assert_invariants("after a refund").await;
    }
}

#[tokio::test]
async fn earned_points_already_spent_leave_the_balance_at_zero_and_the_shortfall_recorded() {
    for shop in shops("points_spent").await {
        let token = vip(VIP_BRONZE_2);
        let order = delivered(&shop, VIP_BRONZE_2, "spend").await;
        let balance = shop.member(VIP_BRONZE_2).await["points_balance"].as_i64().unwrap();
        // Nearly all of it goes on another order.
        let book = shop.item("book", 5, 90_000).await;
        shop.add(&token, "book", &book, 1).await;
        let spent = balance - 30;
        let body = json!({ "delivery_option": "pickup", "redeem_points": spent });
        assert_eq!(shop.checkout(&token, "spend-2", body).await.status, StatusCode::CREATED);
        assert_eq!(shop.post(&format!("/api/orders/{order}/refund"), &staff(), None).await.status, StatusCode::OK);
        let after = shop.member(VIP_BRONZE_2).await;
        assert_eq!(after["points_balance"], 0, "never below zero ({})", shop.stores);
        let history = shop.get("/api/customers/vip/points", &token).await.json;
        let revoke =
            history["history"]["results"].as_array().unwrap().iter().find(|e| e["kind"] == "revoke").unwrap().clone();
        assert_eq!(
            (revoke["points"].as_i64(), revoke["requested_points"].as_i64()),
            (Some(-30), Some(100)),
            "{revoke}"
        );
        assert_eq!(revoke["lifetime_change"], -100);
        shop.assert_invariants("after refunding spent points").await;
    }
}

/// A VIP's points go with the account: an order that redeemed points, cancelled
/// or refunded after the account closed, gives nothing back to the closed
/// record (which is never credited), and the shop still adds up.
#[tokio::test]
async fn points_of_a_closed_account_are_forfeited_with_it() {
    for shop in shops("points_closed").await {
        let token = vip(VIP_SILVER);
        let book = shop.item("book", 10, 2_000).await;
        shop.add(&token, "book", &book, 1).await;
        let body = json!({ "delivery_option": "pickup", "redeem_points": 500 });
        let order = shop.checkout(&token, "forfeit", body).await.id();
        assert_eq!(shop.pay(&token, "forfeit-pay", card(&order)).await.status, StatusCode::CREATED);
        let close = json!({ "password": fixtures::customers::DEMO_CUSTOMER_PASSWORD });
        let closed = shop.call(http::Method::DELETE, "/api/customers/", Some(&token), None, Some(close)).await;
        assert_eq!(closed.status, StatusCode::NO_CONTENT, "{}", closed.text);

        let shipment = shop.shipment(&order).await;
        assert_eq!(shop.event(shipment["id"].as_str().unwrap(), "delivered").await.status, StatusCode::CREATED);
        let refunded = shop.post(&format!("/api/orders/{order}/refund"), &staff(), None).await;
        assert_eq!((refunded.status, refunded.json["status"].as_str()), (StatusCode::OK, Some("refunded")));
        let record = shop.functions.vip.store.history(VIP_SILVER, 0, 100).await.unwrap().0;
        assert!(record.iter().all(|e| e.idempotency_key != format!("{order}:redeem:restore")), "nothing given back");
        assert!(
            record
                .iter()
                .all(|e| e.kind != vip_customer::domain::EntryKind::Restore || !e.idempotency_key.starts_with(&order))
        );
        let kept = shop.functions.vip.store.subjects().await.unwrap();
        assert!(kept.closed.iter().any(|(id, _)| id == VIP_SILVER));
        shop.assert_invariants("after a closed VIP's order was refunded").await;
    }
}
