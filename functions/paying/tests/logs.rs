//! Card numbers and CVCs never reach the logs, at any level. A test binary of its
//! own, since it installs the process-wide log subscriber.

mod common;

use common::*;
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn card_numbers_never_reach_the_logs() {
    let captured = shared::testing::CapturedLogs::install(false);

    for url in transaction_store_urls("paying_logs").await {
        let shop = shop(&url, false);
        let a = customer_token("cust_a");
        let numbers = [GOOD, DECLINED, NO_FUNDS, ALWAYS_DOWN, FIRST_DOWN, UNSUPPORTED];
        for (n, number) in numbers.iter().enumerate() {
            let order = shop.orders.add("cust_a", 1000, "pending_payment");
            let mut body = card_payment(&order, number);
            body["card"]["cvc"] = json!("8147");
            let answer = pay(&shop, &a, &format!("log-{n}"), body.clone()).await;
            assert_ne!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", answer.text);
            // Wrong types and bad values go through the error paths (and their logs) too.
            body["card"]["number"] = json!(number.replace(' ', "").parse::<i64>().unwrap());
            assert_eq!(
                pay(&shop, &a, &format!("bad-{n}"), body.clone()).await.status,
                StatusCode::UNPROCESSABLE_ENTITY
            );
            body["card"]["number"] = json!(number);
            body["card"]["exp_year"] = json!(2001);
            assert_eq!(pay(&shop, &a, &format!("old-{n}"), body).await.status, StatusCode::UNPROCESSABLE_ENTITY);
            if answer.status == StatusCode::CREATED {
                // A whole refund through paying is for closed orders (see the refund tests).
                shop.orders.set_status(&order, "cancelled");
                let refunds = format!("/api/payments/{}/refunds", answer.id());
                let body = json!({ "reason": "logging test" });
                let refund = call(&shop.app, Method::POST, &refunds, Some(&staff_token()), Some("r"), Some(body)).await;
                assert_eq!(refund.status, StatusCode::CREATED, "{}", refund.text);
            }
        }
    }

    let logs = captured.text();
    assert!(logs.contains("retrying with the same key"), "the logs were captured: {logs}");
    assert!(logs.contains("payment refunded"), "the logs were captured");
    for number in [GOOD, DECLINED, NO_FUNDS, ALWAYS_DOWN, FIRST_DOWN, UNSUPPORTED] {
        let digits = number.replace(' ', "");
        assert!(!logs.contains(&digits) && !logs.contains(number), "{number} was logged");
        assert!(!logs.contains(&digits[..12]), "the start of {number} was logged");
    }
    // Bare digits could be a timing or an id; a logged CVC would be a quoted or assigned value.
    for leak in ["\"8147\"", "=8147", ": 8147"] {
        assert!(!logs.contains(leak), "a CVC was logged");
    }
}
