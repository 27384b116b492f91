//! Card numbers and CVCs never reach the logs, at any level. A test binary of its
//! own, since it installs the process-wide log subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use http::{Method, StatusCode};
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn card_numbers_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .init();

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
                let refunds = format!("/api/payments/{}/refunds", answer.id());
                let body = json!({ "reason": "logging test" });
                let refund = call(&shop.app, Method::POST, &refunds, Some(&staff_token()), Some("r"), Some(body)).await;
                assert_eq!(refund.status, StatusCode::CREATED, "{}", refund.text);
            }
        }
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
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
