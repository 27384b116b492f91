//! The whole shop under a mixed load: shoppers double-click "Place order", pay,
//! cancel, or leave orders unpaid while staff ship, deliver and refund, all at
//! once; then unpaid orders expire. Afterwards every invariant holds.

mod support;

use std::sync::Arc;

use http::StatusCode;
use serde_json::json;
use support::{REGISTERED, Shop, VIP_BRONZE, VIP_BRONZE_2, VIP_SILVER, card, customer, shops, staff, vip};

const ROUNDS: usize = 3;

/// One shopper's rounds; `n` picks what they do with each order.
async fn shopper(shop: Arc<Shop>, token: String, n: usize, items: Vec<(String, String)>, redeem: i64) {
    for round in 0..ROUNDS {
        let (item_type, item_id) = &items[(n + round) % items.len()];
        let added = shop.add(&token, item_type, item_id, 1 + (round % 2) as i64).await;
        if added.status != StatusCode::CREATED {
            continue; // sold out
        }
        let body = json!({ "delivery_option": "pickup", "redeem_points": redeem });
        let keys = [format!("m{n}-{round}-a"), format!("m{n}-{round}-b")];
        let (a, b) = tokio::join!(shop.checkout(&token, &keys[0], body.clone()), shop.checkout(&token, &keys[1], body));
        let placed: Vec<_> = [a, b].into_iter().filter(|x| x.status == StatusCode::CREATED).collect();
        assert!(placed.len() <= 1, "one cart, one order");
        let Some(order) = placed.first().map(|x| x.id()) else {
            shop.call(http::Method::DELETE, "/api/cart/", Some(&token), None, None).await;
            continue;
        };
        match (n + round) % 4 {
            // Left unpaid: the sweep expires it.
            0 => {}
            // Paid, then cancelled at once: the two race.
            1 => {
                let cancel = format!("/api/orders/{order}/cancel");
                let key = format!("m{n}-{round}-pay");
                let (_, cancelled) =
                    tokio::join!(shop.pay(&token, &key, card(&order)), shop.post(&cancel, &token, None));
                assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
            }
            // Paid and delivered, then refunded by staff.
            2 | 3 => {
                let paid = shop.pay(&token, &format!("m{n}-{round}-pay"), card(&order)).await;
                assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
                let shipment = shop.shipment(&order).await["id"].as_str().unwrap().to_string();
                assert_eq!(shop.event(&shipment, "delivered").await.status, StatusCode::CREATED);
                if (n + round) % 4 == 3 {
                    let refunded = shop.post(&format!("/api/orders/{order}/refund"), &staff(), None).await;
                    assert_eq!(refunded.status, StatusCode::OK, "{}", refunded.text);
                }
            }
            _ => unreachable!(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mixed_load_leaves_every_invariant_standing() {
    for shop in shops("mixed").await {
        let shop = Arc::new(shop);
        let items = vec![
            ("book".to_string(), shop.item("book", 6, 1_500).await),
            ("mobile".to_string(), shop.item("mobile", 4, 20_000).await),
            ("clothes".to_string(), shop.item("clothes", 30, 3_000).await),
        ];
        let mut shoppers: Vec<(String, i64)> = REGISTERED.iter().map(|id| (customer(id), 0)).collect();
        shoppers.extend([VIP_BRONZE, VIP_BRONZE_2, VIP_SILVER].iter().map(|id| (vip(id), 100)));
        let runs = shoppers
            .into_iter()
            .enumerate()
            .map(|(n, (token, redeem))| tokio::spawn(shopper(shop.clone(), token, n, items.clone(), redeem)));
        for run in futures::future::join_all(runs).await {
            run.unwrap();
        }
        shop.assert_invariants("after the load").await;
        shop.clock.advance(31 * 60);
        let swept = shop.functions.order.sweep().await;
        assert!(swept.expired > 0 && swept.failed == 0, "{swept:?}");
        let report = shop.check().await;
        report.assert_clean("after the sweep");
        let held: i64 = report.stock.iter().map(|line| line.held).sum();
        assert!(held > 0, "delivered and refunded orders keep their goods: {report}");
    }
}
