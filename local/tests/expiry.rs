//! Unpaid orders expire: after `UNPAID_ORDER_EXPIRY_MINS` (30) the sweep (a
//! schedule when deployed, a background task in the local server) gives their
//! stock and points back, and a payment arriving then is refused. A customer
//! may have only so many orders waiting for payment.

mod support;

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{ADA, LINUS, MEI, VIP_SILVER, card, customer, shops, staff, vip};

const HALF_HOUR: i64 = 30 * 60;

#[tokio::test]
async fn an_unpaid_order_expires_and_gives_back_its_stock_and_points() {
    for shop in shops("expiry").await {
        let (linus, mei) = (customer(LINUS), customer(MEI));
        let phone = shop.item("mobile", 99, 30_000).await;
        assert_eq!(shop.add(&linus, "mobile", &phone, 99).await.status, StatusCode::CREATED);
        let hoarded = shop.checkout(&linus, "all-of-them", json!({ "delivery_option": "pickup" })).await;
        assert_eq!(hoarded.status, StatusCode::CREATED, "{}", hoarded.text);
        assert!(hoarded.json["expires_at"].is_string(), "{}", hoarded.text);
        let order = hoarded.id();
        assert_eq!(shop.add(&mei, "mobile", &phone, 1).await.status, StatusCode::CONFLICT, "sold out meanwhile");

        // A VIP's points wait with the order, and come back with it.
        let token = vip(VIP_SILVER);
        let member = shop.member(VIP_SILVER).await;
        let book = shop.item("book", 10, 5_000).await;
        shop.add(&token, "book", &book, 1).await;
        let body = json!({ "delivery_option": "pickup", "redeem_points": 400 });
        let redeeming = shop.checkout(&token, "points", body).await.id();

        shop.clock.advance(HALF_HOUR - 60);
        assert_eq!(shop.functions.order.sweep().await, order::SweepReport::default(), "not yet ({})", shop.stores);
        assert_eq!(shop.order(&order).await["status"], "pending_payment");
        shop.clock.advance(120);
        let swept = shop.functions.order.sweep().await;
        assert_eq!(swept.expired, 2, "{swept:?} ({})", shop.stores);
        for id in [&order, &redeeming] {
            let expired = shop.order(id).await;
            assert_eq!(
                (expired["status"].as_str(), &expired["expires_at"]),
                (Some("expired"), &Value::Null),
                "{expired}"
            );
        }
        assert_eq!(shop.stock(&phone).await, 99);
        assert_eq!(shop.add(&mei, "mobile", &phone, 1).await.status, StatusCode::CREATED, "back on sale");
        let after = shop.member(VIP_SILVER).await;
        for field in ["points_balance", "lifetime_points", "tier"] {
            assert_eq!(after[field], member[field], "{field}");
        }
        // Swept again: nothing more happens. Paid or cancelled now: refused.
        assert_eq!(shop.functions.order.sweep().await, order::SweepReport::default());
        let late = shop.pay(&linus, "late", card(&order)).await;
        assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
        let cancel = shop.post(&format!("/api/orders/{order}/cancel"), &linus, None).await;
        assert_eq!(cancel.status, StatusCode::CONFLICT, "{}", cancel.text);
        assert!(cancel.json["detail"].as_str().unwrap().contains("expired"));
        shop.assert_invariants("after the expiry").await;
    }
}

#[tokio::test]
async fn an_overdue_order_reads_as_expired_before_the_sweep_comes() {
    for shop in shops("expiry_lazy").await {
        let ada = customer(ADA);
        let book = shop.item("book", 3, 1_000).await;
        shop.add(&ada, "book", &book, 2).await;
        let order = shop.checkout(&ada, "lazy", json!({ "delivery_option": "pickup" })).await.id();
        shop.clock.advance(HALF_HOUR + 1);
        // The payment request reads the order first: it is expired, and nothing is charged.
        let refused = shop.pay(&ada, "lazy-pay", card(&order)).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
        assert_eq!(shop.order(&order).await["status"], "expired");
        assert_eq!(shop.stock(&book).await, 3);
        let payments = shop.get(&format!("/api/payments/?order_id={order}"), &staff()).await;
        assert_eq!(payments.json["count"], 0, "{}", payments.text);
        shop.assert_invariants("after a late payment").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_and_the_expiry_at_once_never_both_win() {
    for shop in shops("expiry_race").await {
        let ada = customer(ADA);
        let (mut paid, mut expired) = (0, 0);
        for round in 0..10 {
            let book = shop.item("book", 5, 1_200).await;
            shop.add(&ada, "book", &book, 1).await;
            let order =
                shop.checkout(&ada, &format!("race-{round}"), json!({ "delivery_option": "pickup" })).await.id();
            shop.clock.advance(HALF_HOUR - 1);
            let key = format!("race-{round}-pay");
            let pay = shop.pay(&ada, &key, card(&order));
            let expire = async {
                tokio::time::sleep(Duration::from_millis(round * 3)).await;
                shop.clock.advance(2);
                shop.functions.order.sweep().await
            };
            let (payment, _) = tokio::join!(pay, expire);
            let status = shop.order(&order).await["status"].as_str().unwrap().to_string();
            match status.as_str() {
                "paid" => {
                    paid += 1;
                    assert_eq!(payment.status, StatusCode::CREATED, "{}", payment.text);
                    assert_eq!(shop.stock(&book).await, 4);
                }
                "expired" => {
                    expired += 1;
                    assert_ne!(payment.status, StatusCode::CREATED, "{}", payment.text);
                    assert_eq!(shop.stock(&book).await, 5);
                }
                other => panic!("round {round}: the order is {other} ({})", shop.stores),
            }
            shop.assert_invariants(&format!("round {round}")).await;
        }
        assert_eq!(paid + expired, 10);
        println!("{}: of 10 payments racing the expiry, {paid} won and {expired} lost", shop.stores);
    }
}

#[tokio::test]
async fn a_customer_may_have_three_orders_waiting_for_payment() {
    for shop in shops("expiry_cap").await {
        let ada = customer(ADA);
        let book = shop.item("book", 20, 800).await;
        let mut orders = Vec::new();
        for n in 0..3 {
            shop.add(&ada, "book", &book, 1).await;
            orders.push(shop.checkout(&ada, &format!("cap-{n}"), json!({ "delivery_option": "pickup" })).await.id());
        }
        shop.add(&ada, "book", &book, 1).await;
        let fourth = shop.checkout(&ada, "cap-3", json!({ "delivery_option": "pickup" })).await;
        assert_eq!(fourth.status, StatusCode::CONFLICT, "{}", fourth.text);
        assert!(fourth.json["detail"].as_str().unwrap().contains("waiting for payment"), "{}", fourth.text);
        assert_eq!(shop.stock(&book).await, 17, "the refused checkout reserved nothing");
        // Paying one frees a place; so does one expiring.
        assert_eq!(shop.pay(&ada, "cap-pay", card(&orders[0])).await.status, StatusCode::CREATED);
        let freed = shop.checkout(&ada, "cap-3", json!({ "delivery_option": "pickup" })).await;
        assert_eq!(freed.status, StatusCode::CREATED, "{}", freed.text);
        shop.add(&ada, "book", &book, 1).await;
        assert_eq!(
            shop.checkout(&ada, "cap-4", json!({ "delivery_option": "pickup" })).await.status,
            StatusCode::CONFLICT
        );
        shop.clock.advance(HALF_HOUR + 1);
        let later = shop.checkout(&ada, "cap-4", json!({ "delivery_option": "pickup" })).await;
        assert_eq!(later.status, StatusCode::CREATED, "{}", later.text);
        shop.functions.order.sweep().await;
        shop.assert_invariants("at the cap").await;
    }
}

#[tokio::test]
async fn the_local_server_sweeps_in_the_background() {
    let shop = shops("expiry_background").await.remove(0);
    let ada = customer(ADA);
    let book = shop.item("book", 2, 1_000).await;
    shop.add(&ada, "book", &book, 2).await;
    let order = shop.checkout(&ada, "bg", json!({ "delivery_option": "pickup" })).await.id();
    shop.clock.advance(HALF_HOUR + 1);
    let functions = std::sync::Arc::new(shop.functions);
    let sweeper = tokio::spawn({
        let functions = functions.clone();
        async move { functions.sweep_every(Duration::from_millis(50)).await }
    });
    // The order's stock comes back without anyone reading or paying the order.
    let mut stock = 0;
    for _ in 0..100 {
        let item = functions.stores.book.items.get(&book).await.unwrap().unwrap();
        stock = item["stock"].as_i64().unwrap();
        if stock == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sweeper.abort();
    assert_eq!(stock, 2, "the background sweep expired {order}");
}

#[tokio::test]
async fn the_scheduled_event_reaches_the_sweep() {
    // What template.yaml's schedule sends, and what `cargo lambda invoke order` sends by hand.
    let event: Value = serde_json::from_str(include_str!("../events/order-sweep.json")).unwrap();
    let template: serde_yaml::Value = serde_yaml::from_str(local::TEMPLATE).unwrap();
    let input = template["Resources"]["OrderFunction"]["Properties"]["Events"]["Sweep"]["Properties"]["Input"]
        .as_str()
        .expect("the order function has a scheduled Sweep event with an Input");
    assert_eq!(
        serde_json::from_str::<Value>(input).unwrap(),
        event,
        "the template sends local/events/order-sweep.json"
    );

    let shop = shops("expiry_event").await.remove(0);
    let ada = customer(ADA);
    let book = shop.item("book", 1, 1_000).await;
    shop.add(&ada, "book", &book, 1).await;
    shop.checkout(&ada, "event", json!({ "delivery_option": "pickup" })).await;
    shop.clock.advance(HALF_HOUR + 1);
    // lambda_http turns the event into the request the function's Router serves.
    let request = lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event");
    assert_eq!((request.method(), request.uri().path()), (&Method::POST, "/internal/orders/sweep"));
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
    let order = shop.functions.routers["order"].clone();
    let response = tower::ServiceExt::oneshot(order, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let report: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(report, json!({ "expired": 1, "finished": 0, "abandoned": 0, "failed": 0 }));
    assert_eq!(shop.stock(&book).await, 1);
}
