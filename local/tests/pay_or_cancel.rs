//! A payment and a cancellation sent together: whichever wins, the cancelled
//! order gives back its stock without anyone sending the cancel again.

mod support;

use http::StatusCode;
use serde_json::json;
use support::{GRACE, card, customer, shops};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pay_and_cancel_together_leave_nothing_for_a_retry() {
    for shop in shops("pay_or_cancel").await {
        let grace = customer(GRACE);
        let (mut cancelled, mut paid, mut retried) = (0, 0, 0);
        for round in 0..20 {
            let book = shop.item("book", 4, 1_100).await;
            shop.add(&grace, "book", &book, 3).await;
            let order = shop.checkout(&grace, &format!("r{round}"), json!({ "delivery_option": "pickup" })).await.id();
            let key = format!("r{round}-pay");
            let cancel_path = format!("/api/orders/{order}/cancel");
            // The cancel lands at a different moment of the payment each round.
            let cancel = async {
                tokio::time::sleep(std::time::Duration::from_millis(round)).await;
                shop.post(&cancel_path, &grace, None).await
            };
            let (payment, cancel) = tokio::join!(shop.pay(&grace, &key, card(&order)), cancel);
            let context = format!(
                "round {round} ({}): pay {} {}, cancel {} {}",
                shop.stores, payment.status, payment.text, cancel.status, cancel.text
            );
            match cancel.status {
                StatusCode::OK => {}
                StatusCode::SERVICE_UNAVAILABLE => {
                    // The documented alternative: a 503 with Retry-After, and the retry finishes it.
                    assert!(cancel.headers.contains_key("retry-after"), "{context}");
                    retried += 1;
                    assert_eq!(shop.post(&cancel_path, &grace, None).await.status, StatusCode::OK, "{context}");
                }
                other => panic!("{other}: {context}"),
            }
            let status = shop.order(&order).await["status"].as_str().unwrap().to_string();
            assert_eq!(status, "cancelled", "{context}");
            assert_eq!(shop.stock(&book).await, 4, "{context}: the stock is back");
            if payment.status == StatusCode::CREATED {
                paid += 1;
            }
            cancelled += 1;
            shop.assert_invariants(&context).await;
        }
        println!("{}: {cancelled} cancelled, {paid} of them paid first, {retried} answered 503 once", shop.stores);
    }
}
