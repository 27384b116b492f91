//! Checkouts racing each other for the last units, and checkouts interrupted by
//! a failing peer, on every transaction store available here.

mod common;

use std::sync::atomic::Ordering;

use common::{Answer, World, assert_problem, call, pickup, registered, standard, vip_token};
use http::{Method, StatusCode};
use serde_json::json;
use shared::testing::{staff_token, transaction_store_urls};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_customers_race_for_five_units_and_exactly_five_get_one() {
    for url in transaction_store_urls("order_oversell").await {
        let w = World::new(&url, "order_oversell").await;
        let last = w
            .create_item(
                json!({ "type": "mobile", "name": "Pixel 9 Pro", "brand": "Google", "price": 99900, "stock": 5 }),
            )
            .await;
        let customers: Vec<String> = (0..20).map(|n| format!("cust_{n:02}")).collect();
        for customer in &customers {
            w.add_to_cart(&registered(customer), "mobile", &last, 1).await;
        }

        let checkouts = customers.iter().map(|customer| {
            let (order, token) = (w.order.clone(), registered(customer));
            tokio::spawn(async move {
                call(&order, Method::POST, "/api/orders/", Some(&token), Some("buy-now"), Some(standard())).await
            })
        });
        let answers: Vec<Answer> = futures::future::join_all(checkouts).await.into_iter().map(|a| a.unwrap()).collect();
        let statuses: Vec<StatusCode> = answers.iter().map(|a| a.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 5, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 15, "{statuses:?}");
        for refused in answers.iter().filter(|a| a.status == StatusCode::CONFLICT) {
            assert_problem(refused, StatusCode::CONFLICT, None);
            assert!(refused.json["detail"].as_str().unwrap().contains(&last), "names the item: {}", refused.text);
        }
        assert_eq!(w.stock(&last).await, 0, "sold out, never below");
        let all = w.get("/api/orders/", Some(&staff_token())).await;
        assert_eq!(all.json["count"], 5);

        // Winners' carts are empty; losers keep theirs, and their answer is final for the key.
        for (customer, answer) in customers.iter().zip(&answers) {
            let lines = w.cart_lines(&registered(customer)).await.len();
            assert_eq!(lines, usize::from(answer.status != StatusCode::CREATED), "{customer}");
        }
        let (loser, refused) = customers.iter().zip(&answers).find(|(_, a)| a.status == StatusCode::CONFLICT).unwrap();
        let replayed = w.checkout(&registered(loser), "buy-now", standard()).await;
        assert_eq!((replayed.status, &replayed.text), (StatusCode::CONFLICT, &refused.text));
        assert_eq!(replayed.headers["idempotent-replayed"], "true");
        assert_eq!(w.stock(&last).await, 0);
    }
}

#[tokio::test]
async fn a_refused_line_gives_back_the_lines_reserved_before_it() {
    for url in transaction_store_urls("order_partial").await {
        let w = World::new(&url, "order_partial").await;
        let plenty = w
            .create_item(json!({ "type": "book", "name": "Emma", "author": "Jane Austen", "price": 500, "stock": 9 }))
            .await;
        let scarce =
            w.create_item(json!({ "type": "clothes", "name": "Scarf", "size": "M", "price": 1500, "stock": 2 })).await;
        let (ada, bob) = (registered("cust_ada"), registered("cust_bob"));
        w.add_to_cart(&ada, "book", &plenty, 3).await;
        w.add_to_cart(&ada, "clothes", &scarce, 2).await;
        w.add_to_cart(&bob, "clothes", &scarce, 1).await;
        // Bob buys a scarf after Ada's cart was filled: Ada's second line cannot be had.
        assert_eq!(w.checkout(&bob, "b", pickup()).await.status, StatusCode::CREATED);
        let refused = w.checkout(&ada, "a", pickup()).await;
        assert_problem(&refused, StatusCode::CONFLICT, None);
        assert!(refused.json["detail"].as_str().unwrap().contains("Scarf"), "{}", refused.text);
        assert_eq!((w.stock(&plenty).await, w.stock(&scarce).await), (9, 1), "nothing of Ada's stays reserved");
        assert_eq!(w.cart_lines(&ada).await.len(), 2);
    }
}

#[tokio::test]
async fn a_retry_after_a_failed_peer_finishes_the_same_checkout_once() {
    for url in transaction_store_urls("order_converge").await {
        let w = World::new(&url, "order_converge").await;
        let c = w.catalog().await;
        w.vip_member("cust_vera", 1000).await;
        let vera = vip_token("cust_vera");
        w.add_to_cart(&vera, "book", &c.book, 2).await;
        w.add_to_cart(&vera, "mobile", &c.mobile, 1).await;
        let body = json!({ "delivery_option": "pickup", "redeem_points": 300 });

        // The VIP service fails after the stock was reserved: 503, a half-made checkout.
        w.redeem_down.store(true, Ordering::SeqCst);
        let failed = w.checkout(&vera, "retry-me", body.clone()).await;
        assert_problem(&failed, StatusCode::SERVICE_UNAVAILABLE, None);
        assert!(failed.headers.contains_key("retry-after"));
        assert_eq!((w.stock(&c.book).await, w.stock(&c.mobile).await), (8, 4), "reserved, not yet sold");
        assert_eq!(w.vip_balance("cust_vera").await, 1000);
        assert_eq!(w.get("/api/orders/", Some(&vera)).await.json["count"], 0);

        // The client retries with the same key: the same reservations replay, the points go once.
        w.redeem_down.store(false, Ordering::SeqCst);
        let placed = w.checkout(&vera, "retry-me", body.clone()).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        assert_eq!((w.stock(&c.book).await, w.stock(&c.mobile).await), (8, 4), "not reserved twice");
        assert_eq!(w.vip_balance("cust_vera").await, 700);
        assert_eq!(placed.json["points_redeemed"], 300);
        assert_eq!(w.checkout(&vera, "retry-me", body).await.text, placed.text);
        assert_eq!(w.get("/api/orders/", Some(&vera)).await.json["count"], 1);

        // The items router fails while pricing: nothing was taken, the key stays usable.
        let ada = registered("cust_ada");
        w.add_to_cart(&ada, "laptop", &c.laptop, 1).await;
        w.items_down.store(true, Ordering::SeqCst);
        let down = w.checkout(&ada, "a-1", standard()).await;
        assert_problem(&down, StatusCode::SERVICE_UNAVAILABLE, None);
        assert!(down.json["detail"].as_str().unwrap().contains("items"), "{}", down.text);
        w.items_down.store(false, Ordering::SeqCst);
        assert_eq!(w.stock(&c.laptop).await, 3);
        let placed = w.checkout(&ada, "a-1", standard()).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        assert_eq!(w.stock(&c.laptop).await, 2);
    }
}
