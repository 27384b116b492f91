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

/// A VIP checkout of two lines with points, cut off by the VIP service failing
/// after the stock was reserved: a 503, and a half-made checkout under `key`.
/// The VIP service stays down.
async fn half_made_checkout(w: &World, key: &str) -> (common::Catalog, String, serde_json::Value) {
    let c = w.catalog().await;
    w.vip_member("cust_vera", 1000).await;
    let vera = vip_token("cust_vera");
    w.add_to_cart(&vera, "book", &c.book, 2).await;
    w.add_to_cart(&vera, "mobile", &c.mobile, 1).await;
    let body = json!({ "delivery_option": "pickup", "redeem_points": 300 });
    w.redeem_down.store(true, Ordering::SeqCst);
    let failed = w.checkout(&vera, key, body.clone()).await;
    assert_problem(&failed, StatusCode::SERVICE_UNAVAILABLE, None);
    assert!(failed.headers.contains_key("retry-after"));
    assert_eq!((w.stock(&c.book).await, w.stock(&c.mobile).await), (8, 4), "reserved, not yet sold");
    (c, vera, body)
}

#[tokio::test]
async fn a_retry_after_a_failed_peer_finishes_the_same_checkout_once() {
    for url in transaction_store_urls("order_converge").await {
        let w = World::new(&url, "order_converge").await;
        let (c, vera, body) = half_made_checkout(&w, "retry-me").await;
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

/// One shopper's run: fill the cart, check out (retrying the same key on 503
/// or "in progress", as a client would), and cancel every other order placed.
/// Answers the orders that stand and how many were cancelled.
async fn shop_and_sometimes_cancel(
    w: std::sync::Arc<World>,
    token: String,
    scarce: String,
    rare: String,
    redeem: i64,
    rounds: usize,
) -> (Vec<serde_json::Value>, usize) {
    let (mut kept, mut cancelled) = (Vec::new(), 0);
    for round in 0..rounds {
        let lines = [("book", &scarce, 1 + (round as i64 % 2)), ("mobile", &rare, 1)];
        for (item_type, item_id, quantity) in lines {
            let body = json!({ "item_type": item_type, "item_id": item_id, "quantity": quantity });
            let added = call(&w.cart, Method::POST, "/api/cart/items", Some(&token), None, Some(body)).await;
            assert!(matches!(added.status.as_u16(), 200 | 201 | 409), "{}", added.text);
        }
        if w.cart_lines(&token).await.is_empty() {
            continue;
        }
        let key = format!("mixed-{round}");
        let body = json!({ "delivery_option": "pickup", "redeem_points": redeem });
        let mut answer = w.checkout(&token, &key, body.clone()).await;
        for _ in 0..50 {
            let in_progress = answer.status == StatusCode::CONFLICT && answer.text.contains("in progress");
            if answer.status != StatusCode::SERVICE_UNAVAILABLE && !in_progress {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            answer = w.checkout(&token, &key, body.clone()).await;
        }
        match answer.status {
            StatusCode::CREATED => {
                if round % 2 == 1 {
                    let done = w.post(&format!("/api/orders/{}/cancel", answer.id()), Some(&token), None).await;
                    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
                    cancelled += 1;
                } else {
                    kept.push(answer.json);
                }
            }
            StatusCode::CONFLICT => {
                // Sold out (or points short): the cart is left for the next round.
                let _ = call(&w.cart, Method::DELETE, "/api/cart/", Some(&token), None, None).await;
            }
            other => panic!("checkout answered {other}: {}", answer.text),
        }
    }
    (kept, cancelled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_carts_checkouts_and_cancels_never_oversell_or_lose_points() {
    for url in transaction_store_urls("order_mixed").await {
        let w = std::sync::Arc::new(World::new(&url, "order_mixed").await);
        let scarce = w
            .create_item(json!({ "type": "book", "name": "Scarce", "author": "A. Writer", "price": 1000, "stock": 14 }))
            .await;
        let rare = w
            .create_item(json!({ "type": "mobile", "name": "Rare", "brand": "Phone Co", "price": 50000, "stock": 6 }))
            .await;
        let vips: Vec<String> = (0..4).map(|n| format!("cust_vip_{n}")).collect();
        for vip in &vips {
            w.vip_member(vip, 1_000).await;
        }
        let mut shoppers: Vec<(String, String, i64)> =
            (0..8).map(|n| (format!("cust_mixed_{n}"), registered(&format!("cust_mixed_{n}")), 0)).collect();
        shoppers.extend(vips.iter().map(|id| (id.clone(), vip_token(id), 150)));

        let runs = shoppers.iter().map(|(_, token, redeem)| {
            let (w, token, scarce, rare) = (w.clone(), token.clone(), scarce.clone(), rare.clone());
            tokio::spawn(shop_and_sometimes_cancel(w, token, scarce, rare, *redeem, 4))
        });
        let results: Vec<_> = futures::future::join_all(runs).await.into_iter().map(|r| r.unwrap()).collect();

        // Stock: what the standing orders hold is exactly what left the shelf.
        let held = |item: &str| -> i64 {
            results
                .iter()
                .flat_map(|(kept, _)| kept)
                .flat_map(|order| order["lines"].as_array().unwrap())
                .filter(|line| line["item_id"] == item)
                .map(|line| line["quantity"].as_i64().unwrap())
                .sum()
        };
        let (scarce_left, rare_left) = (w.stock(&scarce).await, w.stock(&rare).await);
        assert!(scarce_left >= 0 && rare_left >= 0, "{scarce_left} {rare_left}");
        assert_eq!(scarce_left, 14 - held(&scarce), "book stock");
        assert_eq!(rare_left, 6 - held(&rare), "mobile stock");

        // Orders: each placed one is there once, standing or cancelled.
        let kept: usize = results.iter().map(|(kept, _)| kept.len()).sum();
        let cancelled: usize = results.iter().map(|(_, c)| *c).sum();
        assert!(kept > 0 && cancelled > 0, "the load placed and cancelled orders: {kept} {cancelled}");
        let staff = shared::testing::staff_token();
        let count = |status: &str| {
            let (w, staff) = (w.clone(), staff.clone());
            let path = format!("/api/orders/?status={status}&page_size=100");
            async move { w.get(&path, Some(&staff)).await.json["count"].as_u64().unwrap() as usize }
        };
        assert_eq!(count("pending_payment").await, kept);
        assert_eq!(count("cancelled").await, cancelled);

        // Points: each VIP spent exactly what their standing orders redeemed.
        for (vip, (kept, _)) in vips.iter().zip(&results[8..]) {
            let redeemed: i64 = kept.iter().map(|o| o["points_redeemed"].as_i64().unwrap()).sum();
            assert_eq!(w.vip_balance(vip).await, 1_000 - redeemed, "{vip}");
        }
    }
}

#[tokio::test]
async fn the_sweep_undoes_a_checkout_its_client_never_finished() {
    for url in transaction_store_urls("order_abandoned").await {
        let w = World::new(&url, "order_abandoned").await;
        let (c, vera, body) = half_made_checkout(&w, "gave-up").await;
        w.redeem_down.store(false, Ordering::SeqCst);
        // Another click meanwhile is told the cart is being checked out.
        let other = w.checkout(&vera, "second-click", body.clone()).await;
        assert_problem(&other, StatusCode::CONFLICT, None);

        // The client never comes back. Within the payment window the sweep leaves it alone.
        let state = w.state();
        assert_eq!(state.sweep().await, order::SweepReport::default());
        w.clock.advance(31 * 60);
        let swept = state.sweep().await;
        assert_eq!(swept.abandoned, 1, "{swept:?}");
        assert_eq!((w.stock(&c.book).await, w.stock(&c.mobile).await), (10, 5), "everything went back");
        assert_eq!(w.vip_balance("cust_vera").await, 1000);
        assert_eq!(state.sweep().await, order::SweepReport::default(), "once");
        // The client's key now answers that nothing was ordered; the cart checks out anew.
        let late = w.checkout(&vera, "gave-up", body.clone()).await;
        assert_problem(&late, StatusCode::CONFLICT, None);
        assert!(late.json["detail"].as_str().unwrap().contains("never finished"), "{}", late.text);
        assert_eq!(w.checkout(&vera, "new-key", body).await.status, StatusCode::CREATED);
        assert_eq!(w.vip_balance("cust_vera").await, 700);
    }
}
