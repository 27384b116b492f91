//! Refunds through paying and through the order tell one story: a whole refund
//! of an open order's payment goes through the order, which also stops the
//! shipment; partial refunds stay in paying and leave the order as it was.

mod support;

use http::StatusCode;
use serde_json::json;
use support::{GRACE, address, card, customer, shops, staff};

#[tokio::test]
async fn a_whole_refund_goes_through_the_order_and_stops_the_shipment() {
    for shop in shops("refunds").await {
        let grace = customer(GRACE);
        let laptop = shop.item("laptop", 5, 50_000).await;
        shop.add(&grace, "laptop", &laptop, 1).await;
        let body = json!({ "delivery_option": "standard", "shipping_address": address() });
        let order = shop.checkout(&grace, "r-1", body).await.id();
        let payment = shop.pay(&grace, "r-1-pay", card(&order)).await;
        assert_eq!(payment.status, StatusCode::CREATED, "{}", payment.text);
        let (payment, total) = (payment.id(), payment.json["amount"].as_i64().unwrap());
        let refunds = format!("/api/payments/{payment}/refunds");
        let refund = |key: &'static str, body: serde_json::Value| {
            let refunds = refunds.clone();
            let shop = &shop;
            async move { shop.call(http::Method::POST, &refunds, Some(&staff()), Some(key), Some(body)).await }
        };

        // Paid, not shipped: the authorization is all there is; voiding it is the order's cancellation.
        let refused = refund("void", json!({ "reason": "customer asked" })).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
        assert!(
            refused.json["detail"].as_str().unwrap().contains(&format!("/api/orders/{order}/cancel")),
            "{}",
            refused.text
        );

        let shipment = shop.shipment(&order).await["id"].as_str().unwrap().to_string();
        assert_eq!(shop.event(&shipment, "in_transit").await.status, StatusCode::CREATED);
        // Captured when it left. The whole of it is refused; part of it is not.
        let whole = refund("all", json!({ "reason": "returned" })).await;
        assert_eq!(whole.status, StatusCode::CONFLICT, "{}", whole.text);
        assert!(whole.json["detail"].as_str().unwrap().contains(&format!("/api/orders/{order}/refund")));
        let exact = refund("exact", json!({ "amount": total, "reason": "returned" })).await;
        assert_eq!(exact.status, StatusCode::CONFLICT, "all that is left, spelt as an amount");
        let part = refund("part", json!({ "amount": 1_000, "reason": "scratched lid" })).await;
        assert_eq!(
            (part.status, part.json["state"].as_str()),
            (StatusCode::CREATED, Some("partially_refunded")),
            "{}",
            part.text
        );
        let rest = refund("rest", json!({ "amount": total - 1_000, "reason": "returned" })).await;
        assert_eq!(rest.status, StatusCode::CONFLICT, "partial refunds never add up to the whole");
        assert_eq!(shop.order(&order).await["status"], "shipped");
        assert_eq!(
            shop.event(&shipment, "out_for_delivery").await.status,
            StatusCode::CREATED,
            "the order is still on"
        );
        shop.assert_invariants("after a partial refund").await;

        // Refunded through the order: the payment gives back the rest, the shipment stops.
        let refunded = shop.post(&format!("/api/orders/{order}/refund"), &staff(), None).await;
        assert_eq!(refunded.status, StatusCode::OK, "{}", refunded.text);
        let paid = shop.get(&format!("/api/payments/{payment}"), &staff()).await.json;
        assert_eq!((paid["state"].as_str(), paid["refunded_amount"].as_i64()), (Some("refunded"), Some(total)));
        for status in ["delivered", "failed_delivery"] {
            let late = shop.event(&shipment, status).await;
            assert_eq!(late.status, StatusCode::CONFLICT, "{status}: {}", late.text);
        }
        let seen = shop.shipment(&order).await;
        assert!(seen["stopped_at"].is_string(), "{seen}");
        shop.assert_invariants("after the order's refund").await;
    }
}

#[tokio::test]
async fn a_cancelled_order_is_never_shipped_afterwards() {
    for shop in shops("refunds_cancel").await {
        let grace = customer(GRACE);
        let book = shop.item("book", 5, 2_500).await;
        shop.add(&grace, "book", &book, 1).await;
        let body = json!({ "delivery_option": "express", "shipping_address": address() });
        let order = shop.checkout(&grace, "c-1", body).await.id();
        assert_eq!(shop.pay(&grace, "c-1-pay", card(&order)).await.status, StatusCode::CREATED);
        let shipment = shop.shipment(&order).await["id"].as_str().unwrap().to_string();
        assert_eq!(shop.post(&format!("/api/orders/{order}/cancel"), &grace, None).await.status, StatusCode::OK);
        let left = shop.event(&shipment, "in_transit").await;
        assert_eq!(left.status, StatusCode::CONFLICT, "{}", left.text);
        assert_eq!(shop.stock(&book).await, 5);
        shop.assert_invariants("after a cancellation").await;
    }
}
