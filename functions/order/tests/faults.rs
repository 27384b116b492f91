//! The order's own database going away: before a checkout starts and in the
//! middle of one (stock already reserved). Each time the client gets a 503 with
//! `Retry-After`, nothing is half-written, and a retry with the same key ends in
//! exactly one order with its stock taken once. On SQLite (the file's write
//! lock held) and PostgreSQL (the connection cut).

mod common;

use std::time::Duration;

use common::{Answer, World, assert_problem, call, registered, standard};
use http::{Method, StatusCode};
use shared::testing::faults::StoreFault;
use shared::testing::{staff_token, transaction_store_urls};

fn assert_retry_later(answer: &Answer) {
    assert_problem(answer, StatusCode::SERVICE_UNAVAILABLE, None);
    let retry_after: u64 = answer.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1, "{retry_after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkout_whose_database_goes_away_converges_on_retry() {
    for url in transaction_store_urls("order_db_fault").await {
        let w = World::new(&url, "order_db_fault").await;
        let (fault, faulty_url) = StoreFault::new(&url).await;
        // A short lease, so that the retry after an attempt that could not even
        // free its key does not wait two minutes.
        let order = w.order_app_on(&faulty_url, Duration::from_secs(10), Duration::from_secs(1));
        let c = w.catalog().await;
        let ada = registered("cust_ada");
        w.add_to_cart(&ada, "book", &c.book, 2).await;
        let checkout = |key: &'static str| {
            let (order, ada) = (order.clone(), ada.clone());
            async move { call(&order, Method::POST, "/api/orders/", Some(&ada), Some(key), Some(standard())).await }
        };

        // Down before anything happens: nothing is claimed, reserved or placed.
        fault.cut().await;
        assert_retry_later(&checkout("k-1").await);
        fault.restore().await;
        assert_eq!(w.stock(&c.book).await, 10);
        assert_eq!(w.cart_lines(&ada).await.len(), 1);
        assert_eq!(call(&order, Method::GET, "/api/orders/", Some(&ada), None, None).await.json["count"], 0);

        // Down while the stock is being reserved: the order cannot be written.
        w.stock_gate.arm();
        let attempt = tokio::spawn(checkout("k-1"));
        w.stock_gate.arrived().await;
        fault.cut().await;
        w.stock_gate.open();
        let failed = attempt.await.unwrap();
        assert_retry_later(&failed);
        fault.restore().await;
        assert_eq!(call(&order, Method::GET, "/api/orders/", Some(&ada), None, None).await.json["count"], 0);
        assert_eq!(w.stock(&c.book).await, 8, "held for the checkout under its key, not sold");
        assert_eq!(w.cart_lines(&ada).await.len(), 1, "the cart is kept until an order stands");

        // The retry takes over once the dead attempt's lease has run out, and
        // replays the reservation instead of taking the stock again.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        let placed = checkout("k-1").await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        assert_eq!(w.stock(&c.book).await, 8);
        assert_eq!(w.cart_lines(&ada).await.len(), 0);
        let replayed = checkout("k-1").await;
        assert_eq!((replayed.status, &replayed.text), (StatusCode::CREATED, &placed.text));
        let all = call(&order, Method::GET, "/api/orders/", Some(&staff_token()), None, None).await;
        assert_eq!(all.json["count"], 1, "{}", all.text);
    }
}
