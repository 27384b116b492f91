//! The paying service over fake order and VIP functions, on every transaction
//! store available here (SQLite always, PostgreSQL when reachable and always in CI).

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::*;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::ids::new_id;
use shared::invoke::InProcessInvoker;

#[tokio::test]
async fn a_card_is_authorized_then_captured_when_the_order_ships() {
    for url in transaction_store_urls("paying_card").await {
        let shop = shop(&url, false);
        let order = shop.orders.add("cust_a", 2599, "pending_payment");
        let (a, b) = (customer_token("cust_a"), customer_token("cust_b"));

        let paid = pay(&shop, &a, "key-1", card_payment(&order, GOOD)).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
        let p = &paid.json;
        let id = paid.id();
        assert!(id.starts_with("payment_"), "{id}");
        assert_eq!((p["state"].as_str(), p["method"].as_str()), (Some("authorized"), Some("card")));
        assert_eq!((p["amount"].as_i64(), p["currency"].as_str()), (Some(2599), Some("USD")));
        assert_eq!((p["captured_amount"].as_i64(), p["refunded_amount"].as_i64()), (Some(0), Some(0)));
        assert_eq!(p["card"], json!({ "brand": "visa", "last4": "4242" }));
        assert_eq!((p["order_id"].as_str(), p["customer_id"].as_str()), (Some(order.as_str()), Some("cust_a")));
        assert_eq!((p["wallet_email"].clone(), p["decline_code"].clone()), (Value::Null, Value::Null));
        assert_eq!(p["refunds"], json!([]));
        assert!(p["created_at"].as_str().unwrap().ends_with('Z'));
        // The order was told, once, and is paid by this payment.
        assert_eq!(
            *shop.orders.paid_calls.lock().unwrap(),
            vec![json!({ "payment_id": id, "method": "card",
            "order_id": order })]
        );
        assert_eq!((shop.orders.get(&order)["status"].as_str(), shop.processor.charges()), (Some("paid"), 1));

        // Only the owner and staff see it.
        for path in [format!("/api/payments/{id}"), format!("/api/payments/{id}/")] {
            let mine = call(&shop.app, Method::GET, &path, Some(&a), None, None).await;
            assert_eq!((mine.status, &mine.json), (StatusCode::OK, p));
        }
        let theirs = call(&shop.app, Method::GET, &format!("/api/payments/{id}"), Some(&b), None, None).await;
        assert_problem(&theirs, StatusCode::NOT_FOUND, None);
        assert_eq!(read(&shop, &id).await.json, *p, "staff see everything");
        let anonymous = call(&shop.app, Method::GET, &format!("/api/payments/{id}"), None, None, None).await;
        assert_problem(&anonymous, StatusCode::UNAUTHORIZED, None);
        assert_problem(
            &call(&shop.app, Method::GET, "/api/payments/payment_nope", Some(&a), None, None).await,
            StatusCode::NOT_FOUND,
            None,
        );
        for (token, query, count) in [
            (&a, "", 1),
            (&b, "", 0),
            (&staff_token(), "", 1),
            (&a, &format!("?order_id={order}") as &str, 1),
            (&a, "?order_id=order_other", 0),
        ] {
            let page = call(&shop.app, Method::GET, &format!("/api/payments{query}"), Some(token), None, None).await;
            assert_eq!((page.status, page.json["count"].as_u64()), (StatusCode::OK, Some(count)), "{query}");
        }
        let listed = call(&shop.app, Method::GET, "/api/payments/", Some(&a), None, None).await;
        assert_eq!(listed.json["results"][0], *p);
        let bad = call(&shop.app, Method::GET, "/api/payments/?colour=red", Some(&a), None, None).await;
        assert_problem(&bad, StatusCode::BAD_REQUEST, None);

        // Shipping the order captures it; delivering it after that changes nothing.
        let shipped =
            internal(&shop, "/internal/payments/capture", json!({ "order_id": order, "event": "shipped" })).await;
        assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.text);
        assert_eq!(
            (shipped.json["state"].as_str(), shipped.json["captured_amount"].as_i64()),
            (Some("captured"), Some(2599))
        );
        let delivered =
            internal(&shop, "/internal/payments/capture", json!({ "order_id": order, "event": "delivered" })).await;
        assert_eq!((delivered.status, delivered.json["state"].as_str()), (StatusCode::OK, Some("captured")));
        assert_eq!(shop.processor.charges(), 1);

        let nobody = shop.orders.add("cust_a", 100, "pending_payment");
        let none =
            internal(&shop, "/internal/payments/capture", json!({ "order_id": nobody, "event": "shipped" })).await;
        assert_problem(&none, StatusCode::NOT_FOUND, None);
        for (bad, field) in [
            (json!({ "order_id": order, "event": "lost" }), "event"),
            (json!({ "order_id": "x", "event": "shipped" }), "order_id"),
            (json!({ "order_id": order }), "event"),
            (json!({ "order_id": order, "event": "shipped", "extra": 1 }), "extra"),
        ] {
            assert_problem(
                &internal(&shop, "/internal/payments/capture", bad).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(field),
            );
        }
    }
}

#[tokio::test]
async fn capture_immediately_captures_cards_when_they_are_authorized() {
    for url in transaction_store_urls("paying_immediate").await {
        let shop = shop(&url, true);
        let order = shop.orders.add("cust_a", 1000, "pending_payment");
        let paid = pay(&shop, &customer_token("cust_a"), "k", card_payment(&order, GOOD)).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
        assert_eq!(
            (paid.json["state"].as_str(), paid.json["captured_amount"].as_i64()),
            (Some("captured"), Some(1000))
        );
        let shipped =
            internal(&shop, "/internal/payments/capture", json!({ "order_id": order, "event": "shipped" })).await;
        assert_eq!((shipped.status, shipped.json["state"].as_str()), (StatusCode::OK, Some("captured")));
    }
}

#[tokio::test]
async fn wallets_cash_on_delivery_and_points() {
    for url in transaction_store_urls("paying_methods").await {
        let shop = shop(&url, false);
        let a = customer_token("cust_a");

        let order = shop.orders.add("cust_a", 4500, "pending_payment");
        let wallet = json!({ "order_id": order, "method": "wallet", "wallet": { "email": "ada@example.com" } });
        let paid = pay(&shop, &a, "w1", wallet).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
        assert_eq!(
            (paid.json["state"].as_str(), paid.json["captured_amount"].as_i64()),
            (Some("captured"), Some(4500))
        );
        assert_eq!(
            (paid.json["wallet_email"].as_str(), paid.json["card"].clone()),
            (Some("ada@example.com"), Value::Null)
        );
        assert_eq!(shop.orders.paid_calls.lock().unwrap()[0]["method"], "wallet");

        let order = shop.orders.add("cust_a", 4500, "pending_payment");
        let refused = json!({ "order_id": order, "method": "wallet", "wallet": { "email": "ada@decline.test" } });
        let declined = pay(&shop, &a, "w2", refused).await;
        assert_problem(&declined, StatusCode::PAYMENT_REQUIRED, None);
        assert_eq!(declined.json["decline_code"], "wallet_declined");
        let stored = read(&shop, declined.json["payment_id"].as_str().unwrap()).await;
        assert_eq!(
            (stored.json["state"].as_str(), stored.json["decline_code"].as_str()),
            (Some("declined"), Some("wallet_declined"))
        );
        assert_eq!(shop.orders.get(&order)["status"], "pending_payment");

        // Cash on delivery waits for the delivery, not the shipping.
        let cod_order = shop.orders.add("cust_a", 1999, "pending_payment");
        let cod = pay(&shop, &a, "c1", json!({ "order_id": cod_order, "method": "cash_on_delivery" })).await;
        assert_eq!(cod.status, StatusCode::CREATED, "{}", cod.text);
        assert_eq!((cod.json["state"].as_str(), cod.json["captured_amount"].as_i64()), (Some("pending"), Some(0)));
        assert_eq!(shop.orders.get(&cod_order)["status"], "paid", "cash on delivery counts as paid for the order");
        let capture = |event: &str| json!({ "order_id": cod_order, "event": event });
        let shipped = internal(&shop, "/internal/payments/capture", capture("shipped")).await;
        assert_eq!((shipped.status, shipped.json["state"].as_str()), (StatusCode::OK, Some("pending")));
        let delivered = internal(&shop, "/internal/payments/capture", capture("delivered")).await;
        assert_eq!(
            (delivered.json["state"].as_str(), delivered.json["captured_amount"].as_i64()),
            (Some("captured"), Some(1999))
        );

        // Points: the VIP's own balance, redeemed with their own token.
        shop.vip.balances.lock().unwrap().insert("vip_a".into(), 5000);
        let vip = vip_token("vip_a");
        let points_order = shop.orders.add("vip_a", 1200, "pending_payment");
        let points = pay(&shop, &vip, "p1", json!({ "order_id": points_order, "method": "points" })).await;
        assert_eq!(points.status, StatusCode::CREATED, "{}", points.text);
        assert_eq!(
            (points.json["state"].as_str(), points.json["captured_amount"].as_i64()),
            (Some("captured"), Some(1200))
        );
        assert_eq!(shop.vip.balance("vip_a"), 3800);
        let again = pay(&shop, &vip, "p1", json!({ "order_id": points_order, "method": "points" })).await;
        assert_eq!((again.status, again.text), (StatusCode::CREATED, points.text.clone()));
        assert_eq!(shop.vip.balance("vip_a"), 3800, "a replay redeems nothing");

        let big = shop.orders.add("vip_a", 9000, "pending_payment");
        let short = pay(&shop, &vip, "p2", json!({ "order_id": big, "method": "points" })).await;
        assert_problem(&short, StatusCode::PAYMENT_REQUIRED, None);
        assert_eq!(short.json["decline_code"], "insufficient_points");
        assert_eq!(read(&shop, short.json["payment_id"].as_str().unwrap()).await.json["state"], "declined");
        assert_eq!(
            (shop.vip.balance("vip_a"), shop.orders.get(&big)["status"].as_str()),
            (3800, Some("pending_payment"))
        );

        let registered = shop.orders.add("cust_a", 100, "pending_payment");
        let not_vip = pay(&shop, &a, "p3", json!({ "order_id": registered, "method": "points" })).await;
        assert_problem(&not_vip, StatusCode::UNPROCESSABLE_ENTITY, Some("method"));
        let by_staff = pay(&shop, &staff_token(), "p4", json!({ "order_id": big, "method": "points" })).await;
        assert_problem(&by_staff, StatusCode::UNPROCESSABLE_ENTITY, Some("method"));
    }
}

#[tokio::test]
async fn declines_are_402_stored_and_replayed() {
    for url in transaction_store_urls("paying_declines").await {
        let shop = shop(&url, false);
        let a = customer_token("cust_a");
        let order = shop.orders.add("cust_a", 700, "pending_payment");

        let declined = pay(&shop, &a, "d1", card_payment(&order, DECLINED)).await;
        assert_problem(&declined, StatusCode::PAYMENT_REQUIRED, None);
        assert_eq!(declined.json["decline_code"], "card_declined");
        let payment_id = declined.json["payment_id"].as_str().unwrap().to_string();
        assert!(payment_id.starts_with("payment_"));
        let replay = pay(&shop, &a, "d1", card_payment(&order, DECLINED)).await;
        assert_eq!((replay.status, &replay.text), (StatusCode::PAYMENT_REQUIRED, &declined.text), "the same answer");
        let stored = read(&shop, &payment_id).await.json;
        assert_eq!(
            (stored["state"].as_str(), stored["decline_code"].as_str()),
            (Some("declined"), Some("card_declined"))
        );
        assert_eq!(stored["card"], json!({ "brand": "visa", "last4": "0002" }));

        for (key, number, code) in [("d2", NO_FUNDS, "insufficient_funds"), ("d3", UNSUPPORTED, "card_not_supported")] {
            let answer = pay(&shop, &a, key, card_payment(&order, number)).await;
            assert_problem(&answer, StatusCode::PAYMENT_REQUIRED, None);
            assert_eq!(answer.json["decline_code"], code);
        }
        assert_eq!((shop.orders.paid_calls_for(&order), shop.processor.charges()), (0, 0));

        // A new key after the declines pays the order.
        let paid = pay(&shop, &a, "d4", card_payment(&order, GOOD)).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
        let page =
            call(&shop.app, Method::GET, &format!("/api/payments/?order_id={order}"), Some(&a), None, None).await;
        assert_eq!(page.json["count"], 4);
        let states: Vec<&str> =
            page.json["results"].as_array().unwrap().iter().map(|p| p["state"].as_str().unwrap()).collect();
        assert_eq!(states, ["authorized", "declined", "declined", "declined"], "newest first");
    }
}

#[tokio::test]
async fn transient_failures_retry_with_the_same_key_and_charge_once() {
    for url in transaction_store_urls("paying_transient").await {
        let shop = shop(&url, false);
        let a = customer_token("cust_a");

        // Fails once, then succeeds: retried here, authorized once.
        let order = shop.orders.add("cust_a", 1500, "pending_payment");
        let paid = pay(&shop, &a, "t1", card_payment(&order, FIRST_DOWN)).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
        assert_eq!(paid.json["state"], "authorized");
        assert_eq!(shop.processor.attempts(&format!("{}:authorize", paid.id())), 2, "retried with the same key");
        assert_eq!(shop.processor.charges(), 1, "authorized once");

        // Always down: 503 with Retry-After, the payment `failed`, and a retry resumes it.
        let order = shop.orders.add("cust_a", 2500, "pending_payment");
        let down = pay(&shop, &a, "t2", card_payment(&order, ALWAYS_DOWN)).await;
        assert_problem(&down, StatusCode::SERVICE_UNAVAILABLE, None);
        assert!(down.headers.contains_key("retry-after"));
        let page =
            call(&shop.app, Method::GET, &format!("/api/payments/?order_id={order}"), Some(&a), None, None).await;
        assert_eq!(page.json["count"], 1);
        let failed = page.json["results"][0].clone();
        assert_eq!(
            (failed["state"].as_str(), failed["decline_code"].as_str()),
            (Some("failed"), Some("processor_unavailable"))
        );
        let key = format!("{}:authorize", failed["id"].as_str().unwrap());
        assert_eq!(shop.processor.attempts(&key), 3);
        let again = pay(&shop, &a, "t2", card_payment(&order, ALWAYS_DOWN)).await;
        assert_problem(&again, StatusCode::SERVICE_UNAVAILABLE, None);
        let page =
            call(&shop.app, Method::GET, &format!("/api/payments/?order_id={order}"), Some(&a), None, None).await;
        assert_eq!(page.json["count"], 1, "the retry resumed the same payment");
        assert_eq!(shop.processor.attempts(&key), 6);
        // A failed payment took nothing: another card may pay.
        let other = pay(&shop, &a, "t3", card_payment(&order, GOOD)).await;
        assert_eq!(other.status, StatusCode::CREATED, "{}", other.text);
        assert_eq!(shop.processor.charges(), 2);

        // The order service fails after the authorization: the retry finishes the
        // same payment without authorizing again.
        let order = shop.orders.add("cust_a", 3500, "pending_payment");
        shop.orders.fail_paid.store(1, Ordering::SeqCst);
        let cut = pay(&shop, &a, "t4", card_payment(&order, GOOD)).await;
        assert_problem(&cut, StatusCode::SERVICE_UNAVAILABLE, None);
        assert_eq!(shop.orders.get(&order)["status"], "pending_payment");
        let page =
            call(&shop.app, Method::GET, &format!("/api/payments/?order_id={order}"), Some(&a), None, None).await;
        assert_eq!(page.json["results"][0]["state"], "authorized");
        let pending_id = page.json["results"][0]["id"].as_str().unwrap().to_string();
        let another_key = pay(&shop, &a, "t5", card_payment(&order, GOOD)).await;
        assert_problem(&another_key, StatusCode::CONFLICT, None);
        let resumed = pay(&shop, &a, "t4", card_payment(&order, GOOD)).await;
        assert_eq!(resumed.status, StatusCode::CREATED, "{}", resumed.text);
        assert_eq!(resumed.id(), pending_id);
        assert_eq!((shop.processor.charges(), shop.orders.paid_calls_for(&order)), (3, 2));
        assert_eq!(shop.processor.attempts(&format!("{pending_id}:authorize")), 1, "not authorized again");
        assert_eq!(shop.orders.get(&order)["payment_id"], pending_id.as_str());
    }
}

#[tokio::test]
async fn idempotency_keys_replay_answers_and_refuse_other_bodies() {
    for url in transaction_store_urls("paying_keys").await {
        let shop = shop(&url, false);
        let (a, b) = (customer_token("cust_a"), customer_token("cust_b"));
        let order = shop.orders.add("cust_a", 1250, "pending_payment");

        let no_key =
            call(&shop.app, Method::POST, "/api/payments/", Some(&a), None, Some(card_payment(&order, GOOD))).await;
        assert_problem(&no_key, StatusCode::BAD_REQUEST, None);
        assert!(no_key.json["detail"].as_str().unwrap().contains("Idempotency-Key"));
        let long = "k".repeat(101);
        for bad in ["", " ", long.as_str(), "naïve"] {
            let answer = raw(
                &shop.app,
                Method::POST,
                "/api/payments/",
                Some(&a),
                Some(bad),
                Some(("application/json", card_payment(&order, GOOD).to_string())),
            )
            .await;
            assert_problem(&answer, StatusCode::BAD_REQUEST, None);
        }
        let anonymous =
            call(&shop.app, Method::POST, "/api/payments/", None, None, Some(card_payment(&order, GOOD))).await;
        assert_problem(&anonymous, StatusCode::UNAUTHORIZED, None);
        assert_eq!(shop.processor.charges(), 0);

        let first = pay(&shop, &a, "same", card_payment(&order, GOOD)).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        let replay = pay(&shop, &a, "same", card_payment(&order, GOOD)).await;
        assert_eq!((replay.status, &replay.text), (StatusCode::CREATED, &first.text));
        assert_eq!(replay.headers["content-type"], "application/json");
        let mut other = card_payment(&order, GOOD);
        other["card"]["exp_year"] = json!(2036);
        assert_problem(&pay(&shop, &a, "same", other).await, StatusCode::CONFLICT, None);
        let cod = json!({ "order_id": order, "method": "cash_on_delivery" });
        assert_problem(&pay(&shop, &a, "same", cod).await, StatusCode::CONFLICT, None);
        let another_order = shop.orders.add("cust_a", 1250, "pending_payment");
        let moved = pay(&shop, &a, "same", card_payment(&another_order, GOOD)).await;
        assert_problem(&moved, StatusCode::CONFLICT, None);
        assert_eq!(shop.orders.get(&another_order)["status"], "pending_payment");
        assert_eq!((shop.processor.charges(), shop.orders.paid_calls_for(&order)), (1, 1));

        // Keys are the caller's own: another customer's identical key is another request.
        let theirs = shop.orders.add("cust_b", 900, "pending_payment");
        let b_paid = pay(&shop, &b, "same", card_payment(&theirs, GOOD)).await;
        assert_eq!(b_paid.status, StatusCode::CREATED, "{}", b_paid.text);
        assert_ne!(b_paid.id(), first.id());
    }
}

#[tokio::test]
async fn orders_that_cannot_be_paid_are_refused() {
    for url in transaction_store_urls("paying_orders").await {
        let shop = shop(&url, false);
        let (a, b) = (customer_token("cust_a"), customer_token("cust_b"));
        let order = shop.orders.add("cust_a", 800, "pending_payment");

        let unknown = pay(&shop, &a, "o1", card_payment(&new_id("order"), GOOD)).await;
        assert_problem(&unknown, StatusCode::NOT_FOUND, None);
        let not_theirs = pay(&shop, &b, "o2", card_payment(&order, GOOD)).await;
        assert_problem(&not_theirs, StatusCode::NOT_FOUND, None);
        for status in ["cancelled", "shipped", "refunded"] {
            let other = shop.orders.add("cust_a", 800, status);
            let refused = pay(&shop, &a, &format!("o-{status}"), card_payment(&other, GOOD)).await;
            assert_problem(&refused, StatusCode::CONFLICT, None);
        }
        assert_eq!(shop.processor.charges(), 0);

        let paid = pay(&shop, &a, "o3", card_payment(&order, GOOD)).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
        let twice = pay(&shop, &a, "o4", json!({ "order_id": order, "method": "cash_on_delivery" })).await;
        assert_problem(&twice, StatusCode::CONFLICT, None);
        // Even if the order still looked payable, the earlier payment blocks a second one.
        shop.orders.set_status(&order, "pending_payment");
        let blocked = pay(&shop, &a, "o5", card_payment(&order, GOOD)).await;
        assert_problem(&blocked, StatusCode::CONFLICT, None);
        assert!(blocked.json["detail"].as_str().unwrap().contains(&paid.id()), "{}", blocked.text);
        assert_eq!(shop.processor.charges(), 1);

        // The order refuses the payment (cancelled meanwhile): the authorization is voided.
        let racing = shop.orders.add("cust_a", 650, "pending_payment");
        shop.orders.refuse_paid.store(true, Ordering::SeqCst);
        let lost = pay(&shop, &a, "o6", card_payment(&racing, GOOD)).await;
        assert_problem(&lost, StatusCode::CONFLICT, None);
        shop.orders.refuse_paid.store(false, Ordering::SeqCst);
        let page =
            call(&shop.app, Method::GET, &format!("/api/payments/?order_id={racing}"), Some(&a), None, None).await;
        let voided = &page.json["results"][0];
        assert_eq!(voided["state"], "voided", "{voided}");
        assert_eq!(
            (voided["refunds"][0]["kind"].as_str(), voided["refunds"][0]["amount"].as_i64()),
            (Some("void"), Some(650))
        );
        let replay = pay(&shop, &a, "o6", card_payment(&racing, GOOD)).await;
        assert_eq!((replay.status, &replay.text), (StatusCode::CONFLICT, &lost.text));

        // Staff may pay a customer's order (not with points); the payment is the customer's.
        let for_a = shop.orders.add("cust_a", 300, "pending_payment");
        let by_staff = pay(&shop, &staff_token(), "o7", card_payment(&for_a, GOOD)).await;
        assert_eq!(by_staff.status, StatusCode::CREATED, "{}", by_staff.text);
        assert_eq!(by_staff.json["customer_id"], "cust_a");
        let own = call(&shop.app, Method::GET, &format!("/api/payments/{}", by_staff.id()), Some(&a), None, None).await;
        assert_eq!(own.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_failing_order_service_is_a_503_and_a_nonsense_one_a_502() {
    for url in transaction_store_urls("paying_peers").await {
        let a = customer_token("cust_a");
        let order = &new_id("order");
        let orders = Arc::new(FakeOrders::default());
        let vip = Arc::new(FakeVip::default());
        let down = shop_with(&url, false, InProcessInvoker::new(), orders.clone(), vip.clone());
        let answer = pay(&down, &a, "x1", card_payment(order, GOOD)).await;
        assert_problem(&answer, StatusCode::SERVICE_UNAVAILABLE, None);
        assert!(answer.headers.contains_key("retry-after"));

        let nonsense = Router::new().route("/internal/orders/{id}", get(|| async { "surely not an order" }));
        let confused = shop_with(&url, false, InProcessInvoker::new().with("order", nonsense), orders, vip);
        let answer = pay(&confused, &a, "x2", card_payment(order, GOOD)).await;
        assert_problem(&answer, StatusCode::BAD_GATEWAY, None);
        let page = call(&confused.app, Method::GET, "/api/payments/", Some(&a), None, None).await;
        assert_eq!(page.json["count"], 0, "nothing was stored");

        // An order service slower than the deadline counts as down.
        let slow = Router::new().route(
            "/internal/orders/{id}",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "too late"
            }),
        );
        let mut config = config(&url, false);
        config.invoke_timeout = Duration::from_millis(50);
        let impatient = shop_from(config, InProcessInvoker::new().with("order", slow), Arc::default(), Arc::default());
        let answer = pay(&impatient, &a, "x3", card_payment(order, GOOD)).await;
        assert_problem(&answer, StatusCode::SERVICE_UNAVAILABLE, None);
        assert!(answer.json["detail"].as_str().unwrap().contains("50 ms"), "{}", answer.text);
    }
}

#[tokio::test]
async fn staff_capture_refund_and_void() {
    for url in transaction_store_urls("paying_refunds").await {
        let shop = shop(&url, false);
        let (a, staff) = (customer_token("cust_a"), staff_token());
        let order = shop.orders.add("cust_a", 10000, "pending_payment");
        let id = pay(&shop, &a, "r0", card_payment(&order, GOOD)).await.id();
        let capture = format!("/api/payments/{id}/capture");
        let refunds = format!("/api/payments/{id}/refunds");

        assert_problem(
            &call(&shop.app, Method::POST, &capture, Some(&a), None, None).await,
            StatusCode::FORBIDDEN,
            None,
        );
        assert_problem(
            &call(&shop.app, Method::POST, &capture, None, None, None).await,
            StatusCode::UNAUTHORIZED,
            None,
        );
        let captured = call(&shop.app, Method::POST, &capture, Some(&staff), None, None).await;
        assert_eq!(
            (captured.status, captured.json["state"].as_str()),
            (StatusCode::OK, Some("captured")),
            "{}",
            captured.text
        );
        assert_eq!(captured.json["captured_amount"], 10000);
        let again = call(&shop.app, Method::POST, &format!("{capture}/"), Some(&staff), None, None).await;
        assert_eq!((again.status, again.json["state"].as_str()), (StatusCode::OK, Some("captured")));

        let refund = |key: Option<&'static str>, body: Value, token: String| {
            let (app, refunds) = (shop.app.clone(), refunds.clone());
            async move { call(&app, Method::POST, &refunds, Some(&token), key, Some(body)).await }
        };
        let body = json!({ "amount": 3000, "reason": "one item arrived damaged" });
        assert_problem(&refund(None, body.clone(), staff.clone()).await, StatusCode::BAD_REQUEST, None);
        assert_problem(&refund(Some("r1"), body.clone(), a.clone()).await, StatusCode::FORBIDDEN, None);
        let partial = refund(Some("r1"), body.clone(), staff.clone()).await;
        assert_eq!(partial.status, StatusCode::CREATED, "{}", partial.text);
        assert_eq!(
            (partial.json["state"].as_str(), partial.json["refunded_amount"].as_i64()),
            (Some("partially_refunded"), Some(3000))
        );
        let entry = &partial.json["refunds"][0];
        assert_eq!(
            (entry["kind"].as_str(), entry["status"].as_str(), entry["amount"].as_i64()),
            (Some("refund"), Some("succeeded"), Some(3000))
        );
        assert!(entry["id"].as_str().unwrap().starts_with("refund_"));
        let replay = refund(Some("r1"), body.clone(), staff.clone()).await;
        assert_eq!((replay.status, &replay.text), (StatusCode::CREATED, &partial.text));
        assert_problem(
            &refund(Some("r1"), json!({ "amount": 2000, "reason": "one item arrived damaged" }), staff.clone()).await,
            StatusCode::CONFLICT,
            None,
        );

        for (bad, field) in [
            (json!({ "amount": 7001, "reason": "too much" }), "amount"),
            (json!({ "amount": 0, "reason": "nothing" }), "amount"),
            (json!({ "amount": -5, "reason": "negative" }), "amount"),
            (json!({ "amount": 10.5, "reason": "float" }), "amount"),
            (json!({ "amount": 10 }), "reason"),
            (json!({ "amount": 10, "reason": "x", "note": 1 }), "note"),
        ] {
            assert_problem(
                &refund(Some("r2"), bad, staff.clone()).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(field),
            );
        }
        // All that is left, while the order is open, goes through the order: that
        // also stops its shipment. Once the order is refunded it may go here.
        for (status, how) in [("paid", "cancel the order"), ("shipped", "refund the order")] {
            shop.orders.set_status(&order, status);
            let refused = refund(Some("r3"), json!({ "reason": "order returned" }), staff.clone()).await;
            assert_problem(&refused, StatusCode::CONFLICT, None);
            assert!(refused.json["detail"].as_str().unwrap().contains(how), "{}", refused.text);
            let exactly_the_rest = json!({ "amount": 7000, "reason": "order returned" });
            assert_problem(&refund(Some("r3b"), exactly_the_rest, staff.clone()).await, StatusCode::CONFLICT, None);
        }
        let smaller = refund(Some("r3c"), json!({ "amount": 1, "reason": "goodwill" }), staff.clone()).await;
        assert_eq!((smaller.status, smaller.json["state"].as_str()), (StatusCode::CREATED, Some("partially_refunded")));
        shop.orders.set_status(&order, "refunded");
        let rest = refund(Some("r3"), json!({ "reason": "order returned" }), staff.clone()).await;
        assert_eq!(rest.status, StatusCode::CREATED, "{}", rest.text);
        assert_eq!(
            (rest.json["state"].as_str(), rest.json["refunded_amount"].as_i64()),
            (Some("refunded"), Some(10000))
        );
        assert_eq!(rest.json["refunds"].as_array().unwrap().len(), 3);
        assert_problem(
            &refund(Some("r4"), json!({ "reason": "again" }), staff.clone()).await,
            StatusCode::CONFLICT,
            None,
        );
        let after = call(&shop.app, Method::POST, &capture, Some(&staff), None, None).await;
        assert_eq!((after.status, after.json["state"].as_str()), (StatusCode::OK, Some("refunded")), "as it is");

        // An authorization is voided, in full only.
        let order = shop.orders.add("cust_a", 2000, "pending_payment");
        let id = pay(&shop, &a, "v0", card_payment(&order, GOOD)).await.id();
        let path = format!("/api/payments/{id}/refunds");
        let partial = call(
            &shop.app,
            Method::POST,
            &path,
            Some(&staff),
            Some("v1"),
            Some(json!({ "amount": 100, "reason": "x" })),
        )
        .await;
        assert_problem(&partial, StatusCode::UNPROCESSABLE_ENTITY, Some("amount"));
        assert!(partial.text.contains("this payment is authorized"), "{}", partial.text);
        let open = call(&shop.app, Method::POST, &path, Some(&staff), Some("v2"), Some(json!({ "reason": "x" }))).await;
        assert_problem(&open, StatusCode::CONFLICT, None);
        shop.orders.set_status(&order, "cancelled");
        let voided =
            call(&shop.app, Method::POST, &path, Some(&staff), Some("v2"), Some(json!({ "reason": "customer asked" })))
                .await;
        assert_eq!(voided.status, StatusCode::CREATED, "{}", voided.text);
        assert_eq!(
            (voided.json["state"].as_str(), voided.json["refunds"][0]["kind"].as_str()),
            (Some("voided"), Some("void"))
        );
        assert_eq!(
            (voided.json["captured_amount"].as_i64(), voided.json["refunded_amount"].as_i64()),
            (Some(0), Some(0))
        );
        let capture_voided =
            call(&shop.app, Method::POST, &format!("/api/payments/{id}/capture"), Some(&staff), None, None).await;
        assert_problem(&capture_voided, StatusCode::CONFLICT, None);

        // Nothing to refund on a declined payment, nor on one that does not exist.
        let order = shop.orders.add("cust_a", 2000, "pending_payment");
        let declined = pay(&shop, &a, "x0", card_payment(&order, DECLINED)).await;
        let declined_id = declined.json["payment_id"].as_str().unwrap();
        let path = format!("/api/payments/{declined_id}/refunds");
        let answer =
            call(&shop.app, Method::POST, &path, Some(&staff), Some("x1"), Some(json!({ "reason": "x" }))).await;
        assert_problem(&answer, StatusCode::CONFLICT, None);
        let missing = &format!("/api/payments/{}/refunds", new_id("payment"));
        let answer =
            call(&shop.app, Method::POST, missing, Some(&staff), Some("x2"), Some(json!({ "reason": "x" }))).await;
        assert_problem(&answer, StatusCode::NOT_FOUND, None);
    }
}

#[tokio::test]
async fn refund_order_undoes_each_kind_of_payment_once() {
    for url in transaction_store_urls("paying_undo").await {
        let shop = shop(&url, false);
        let a = customer_token("cust_a");
        let undo = |order: &str| json!({ "order_id": order, "reason": "order cancelled" });

        let card_order = shop.orders.add("cust_a", 1000, "pending_payment");
        pay(&shop, &a, "u1", card_payment(&card_order, GOOD)).await;
        let voided = internal(&shop, "/internal/payments/refund-order", undo(&card_order)).await;
        assert_eq!((voided.status, voided.json["state"].as_str()), (StatusCode::OK, Some("voided")), "{}", voided.text);

        let cod_order = shop.orders.add("cust_a", 1100, "pending_payment");
        pay(&shop, &a, "u2", json!({ "order_id": cod_order, "method": "cash_on_delivery" })).await;
        let voided = internal(&shop, "/internal/payments/refund-order", undo(&cod_order)).await;
        assert_eq!((voided.status, voided.json["state"].as_str()), (StatusCode::OK, Some("voided")));

        let captured_order = shop.orders.add("cust_a", 1200, "pending_payment");
        pay(&shop, &a, "u3", card_payment(&captured_order, GOOD)).await;
        internal(&shop, "/internal/payments/capture", json!({ "order_id": captured_order, "event": "shipped" })).await;
        let refunded = internal(&shop, "/internal/payments/refund-order", undo(&captured_order)).await;
        assert_eq!(
            (refunded.json["state"].as_str(), refunded.json["refunded_amount"].as_i64()),
            (Some("refunded"), Some(1200))
        );

        let wallet_order = shop.orders.add("cust_a", 1300, "pending_payment");
        let wallet = json!({ "order_id": wallet_order, "method": "wallet", "wallet": { "email": "a@example.com" } });
        let wallet_id = pay(&shop, &a, "u4", wallet).await.id();
        let partial = call(
            &shop.app,
            Method::POST,
            &format!("/api/payments/{wallet_id}/refunds"),
            Some(&staff_token()),
            Some("part"),
            Some(json!({ "amount": 300, "reason": "late" })),
        )
        .await;
        assert_eq!(partial.json["state"], "partially_refunded");
        let refunded = internal(&shop, "/internal/payments/refund-order", undo(&wallet_order)).await;
        assert_eq!(
            (refunded.json["state"].as_str(), refunded.json["refunded_amount"].as_i64()),
            (Some("refunded"), Some(1300))
        );
        assert_eq!(refunded.json["refunds"][1]["amount"], 1000, "only what was left");

        shop.vip.balances.lock().unwrap().insert("vip_a".into(), 2000);
        let points_order = shop.orders.add("vip_a", 1400, "pending_payment");
        let points_id =
            pay(&shop, &vip_token("vip_a"), "u5", json!({ "order_id": points_order, "method": "points" })).await.id();
        assert_eq!(shop.vip.balance("vip_a"), 600);
        let refunded = internal(&shop, "/internal/payments/refund-order", undo(&points_order)).await;
        assert_eq!(
            (refunded.status, refunded.json["state"].as_str()),
            (StatusCode::OK, Some("refunded")),
            "{}",
            refunded.text
        );
        assert_eq!(shop.vip.balance("vip_a"), 2000, "the points went back");
        let restore = shop.vip.restores.lock().unwrap()[0].clone();
        assert_eq!(restore["points"], 1400);
        assert_eq!(restore["customer_id"], "vip_a");
        assert_eq!(restore["idempotency_key"], format!("{points_id}:points-back"));
        assert_eq!(restore["redeem_key"], format!("{points_id}:points"), "the redeem it gives back");

        // Again: the same answer, nothing given back twice.
        let twice = internal(&shop, "/internal/payments/refund-order", undo(&points_order)).await;
        assert_eq!((twice.status, twice.json["state"].as_str()), (StatusCode::OK, Some("refunded")));
        assert_eq!((shop.vip.restores.lock().unwrap().len(), shop.vip.balance("vip_a")), (1, 2000));
        let voided_again = internal(&shop, "/internal/payments/refund-order", undo(&card_order)).await;
        assert_eq!((voided_again.status, voided_again.json["state"].as_str()), (StatusCode::OK, Some("voided")));
        assert_eq!(voided_again.json["refunds"].as_array().unwrap().len(), 1);

        let unpaid = shop.orders.add("cust_a", 100, "pending_payment");
        assert_problem(
            &internal(&shop, "/internal/payments/refund-order", undo(&unpaid)).await,
            StatusCode::NOT_FOUND,
            None,
        );
        for (bad, field) in [
            (json!({ "order_id": unpaid }), "reason"),
            (json!({ "order_id": unpaid, "reason": "" }), "reason"),
            (json!({ "order_id": "nope", "reason": "x" }), "order_id"),
        ] {
            assert_problem(
                &internal(&shop, "/internal/payments/refund-order", bad).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(field),
            );
        }
    }
}

#[tokio::test]
async fn bad_cards_are_422_per_field_and_change_nothing() {
    for url in transaction_store_urls("paying_bad_cards").await {
        let shop = shop(&url, false);
        let a = customer_token("cust_a");
        let order = shop.orders.add("cust_a", 500, "pending_payment");
        let with = |changes: Value| {
            let mut body = card_payment(&order, GOOD);
            for (k, v) in changes.as_object().unwrap() {
                if v.is_null() {
                    body["card"].as_object_mut().unwrap().remove(k);
                } else {
                    body["card"][k] = v.clone();
                }
            }
            body
        };
        for (body, field) in [
            (with(json!({ "number": "4242 4242 4242 4241" })), "card.number"),
            (with(json!({ "number": "4242" })), "card.number"),
            (with(json!({ "number": "4242-4242-4242-424x" })), "card.number"),
            (with(json!({ "number": 4242424242424242_i64 })), "card.number"),
            (with(json!({ "number": null })), "card.number"),
            (with(json!({ "exp_year": 2020 })), "card.exp_year"),
            (with(json!({ "exp_year": 2099 })), "card.exp_year"),
            (with(json!({ "exp_month": 0 })), "card.exp_month"),
            (with(json!({ "exp_month": "12" })), "card.exp_month"),
            (with(json!({ "cvc": "12" })), "card.cvc"),
            (with(json!({ "cvc": "12345" })), "card.cvc"),
            (with(json!({ "cvc": 123 })), "card.cvc"),
            (with(json!({ "pin": "0000" })), "card.pin"),
            (json!({ "order_id": order, "method": "card" }), "card"),
            (json!({ "order_id": order, "method": "card", "card": "4242424242424242" }), "card"),
            (json!({ "order_id": order, "method": "cash_on_delivery", "card": card(GOOD) }), "card"),
            (json!({ "order_id": order, "method": "cheque" }), "method"),
            (json!({ "order_id": 42, "method": "cash_on_delivery" }), "order_id"),
            (json!({ "order_id": order, "method": "cash_on_delivery", "amount": 1 }), "amount"),
        ] {
            let answer = pay(&shop, &a, "bad", body.clone()).await;
            assert_problem(&answer, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
            assert!(!answer.text.contains("4242424242424242"), "the number came back: {}", answer.text);
        }
        // Every problem at once.
        let all = pay(&shop, &a, "bad", with(json!({ "number": "1234567890123", "exp_month": 13, "cvc": "x" }))).await;
        for field in ["card.number", "card.exp_month", "card.cvc"] {
            assert!(all.json["errors"].get(field).is_some(), "{field}: {}", all.text);
        }
        let malformed = raw(
            &shop.app,
            Method::POST,
            "/api/payments/",
            Some(&a),
            Some("bad"),
            Some(("application/json", "{\"order_id\": ".into())),
        )
        .await;
        assert_problem(&malformed, StatusCode::BAD_REQUEST, None);
        let text =
            raw(&shop.app, Method::POST, "/api/payments/", Some(&a), Some("bad"), Some(("text/plain", "hi".into())))
                .await;
        assert_problem(&text, StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
        let put = call(&shop.app, Method::PUT, "/api/payments/", Some(&a), None, None).await;
        assert_problem(&put, StatusCode::METHOD_NOT_ALLOWED, None);

        // Nothing was stored, charged or told; the key is still free.
        let page = call(&shop.app, Method::GET, "/api/payments/", Some(&a), None, None).await;
        assert_eq!(page.json["count"], 0);
        assert_eq!((shop.processor.charges(), shop.orders.paid_calls_for(&order)), (0, 0));
        let good = pay(&shop, &a, "bad", card_payment(&order, GOOD)).await;
        assert_eq!(good.status, StatusCode::CREATED, "{}", good.text);
    }
}

#[tokio::test]
async fn card_numbers_and_cvcs_are_never_stored() {
    for url in transaction_store_urls("paying_pan").await {
        let shop = shop(&url, false);
        let a = customer_token("cust_a");
        let numbers = [GOOD, DECLINED, ALWAYS_DOWN, FIRST_DOWN, UNSUPPORTED];
        for (n, number) in numbers.iter().enumerate() {
            let order = shop.orders.add("cust_a", 100 + n as i64, "pending_payment");
            let mut body = card_payment(&order, number);
            body["card"]["cvc"] = json!("8147");
            let answer = pay(&shop, &a, &format!("pan-{n}"), body).await;
            assert!(
                answer.status.is_client_error()
                    || answer.status.is_success()
                    || answer.status == StatusCode::SERVICE_UNAVAILABLE
            );
            assert!(!answer.text.contains(&number.replace(' ', "")), "{}", answer.text);
        }
        let cells = every_stored_value(&url).await;
        assert!(cells.len() > 50, "the tables were read: {cells:?}");
        assert!(cells.iter().any(|c| c == "4242"), "the last four digits are kept");
        for number in numbers {
            let digits = number.replace(' ', "");
            assert!(!cells.iter().any(|c| c.contains(&digits) || c.contains(number)), "{number} was stored");
            // Not even the digits past the last four.
            assert!(!cells.iter().any(|c| c.contains(&digits[..12])), "the start of {number} was stored");
        }
        assert!(!cells.iter().any(|c| c == "8147"), "a CVC was stored");
    }
}

#[tokio::test]
async fn a_failing_vip_service_is_retried_into_one_redeem_and_one_give_back() {
    for url in transaction_store_urls("paying_vip_down").await {
        let shop = shop(&url, false);
        shop.vip.balances.lock().unwrap().insert("vip_a".into(), 3000);
        let vip = vip_token("vip_a");
        let order = shop.orders.add("vip_a", 1000, "pending_payment");
        let body = json!({ "order_id": order, "method": "points" });

        shop.vip.fail_next.store(1, Ordering::SeqCst);
        let down = pay(&shop, &vip, "v1", body.clone()).await;
        assert_problem(&down, StatusCode::SERVICE_UNAVAILABLE, None);
        let page = call(&shop.app, Method::GET, "/api/payments/", Some(&vip), None, None).await;
        let failed = &page.json["results"][0];
        assert_eq!(
            (failed["state"].as_str(), failed["decline_code"].as_str()),
            (Some("failed"), Some("points_unavailable"))
        );
        assert_eq!(shop.vip.balance("vip_a"), 3000);
        let paid = pay(&shop, &vip, "v1", body).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
        assert_eq!(
            (paid.id().as_str(), paid.json["state"].as_str()),
            (failed["id"].as_str().unwrap(), Some("captured"))
        );
        assert_eq!(paid.json["decline_code"], Value::Null);
        assert_eq!(shop.vip.balance("vip_a"), 2000, "redeemed once");

        // Giving the points back fails once: the refund stays pending, then finishes.
        shop.vip.fail_next.store(1, Ordering::SeqCst);
        let undo = json!({ "order_id": order, "reason": "order cancelled" });
        let cut = internal(&shop, "/internal/payments/refund-order", undo.clone()).await;
        assert_problem(&cut, StatusCode::SERVICE_UNAVAILABLE, None);
        let halfway = read(&shop, &paid.id()).await.json;
        assert_eq!(
            (halfway["state"].as_str(), halfway["refunds"][0]["status"].as_str()),
            (Some("captured"), Some("pending"))
        );
        let done = internal(&shop, "/internal/payments/refund-order", undo).await;
        assert_eq!((done.status, done.json["state"].as_str()), (StatusCode::OK, Some("refunded")), "{}", done.text);
        assert_eq!(done.json["refunds"].as_array().unwrap().len(), 1);
        assert_eq!(done.json["refunds"][0]["status"], "succeeded");
        assert_eq!((shop.vip.balance("vip_a"), shop.vip.restores.lock().unwrap().len()), (3000, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_pay_an_order_once() {
    for url in transaction_store_urls("paying_concurrent").await {
        let shop = Arc::new(shop(&url, false));
        let a = customer_token("cust_a");

        // The same key at once: one payment, one authorization; the others replay or wait.
        let order = shop.orders.add("cust_a", 999, "pending_payment");
        let same: Vec<_> = (0..6)
            .map(|_| {
                let (shop, a, body) = (shop.clone(), a.clone(), card_payment(&order, FIRST_DOWN));
                tokio::spawn(async move { pay(&shop, &a, "together", body).await })
            })
            .collect();
        let mut ids = Vec::new();
        for answer in same {
            let answer = answer.await.unwrap();
            match answer.status {
                StatusCode::CREATED => ids.push(answer.id()),
                StatusCode::CONFLICT => {}
                other => panic!("{other}: {}", answer.text),
            }
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_eq!((shop.processor.charges(), shop.orders.paid_calls_for(&order)), (1, 1));

        // Different keys at once: the order takes one payment, nothing else keeps money.
        let order = shop.orders.add("cust_a", 555, "pending_payment");
        let racing: Vec<_> = (0..6)
            .map(|n| {
                let (shop, a, body) = (shop.clone(), a.clone(), card_payment(&order, GOOD));
                tokio::spawn(async move { pay(&shop, &a, &format!("racer-{n}"), body).await })
            })
            .collect();
        let mut winners = Vec::new();
        for answer in racing {
            let answer = answer.await.unwrap();
            match answer.status {
                StatusCode::CREATED => winners.push(answer.id()),
                StatusCode::CONFLICT => {}
                other => panic!("{other}: {}", answer.text),
            }
        }
        assert_eq!(winners.len(), 1, "{winners:?}");
        assert_eq!(shop.orders.get(&order)["payment_id"], winners[0].as_str());
        let page =
            call(&shop.app, Method::GET, &format!("/api/payments/?order_id={order}"), Some(&a), None, None).await;
        for p in page.json["results"].as_array().unwrap() {
            let expected = if p["id"] == winners[0].as_str() { "authorized" } else { "voided" };
            assert_eq!(p["state"], expected, "{p}");
        }
    }
}

#[tokio::test]
async fn an_order_with_nothing_to_pay_is_paid_without_charging() {
    for url in transaction_store_urls("paying_zero").await {
        let shop = shop(&url, false);
        let order = shop.orders.add("cust_a", 0, "pending_payment");
        let paid = pay(&shop, &customer_token("cust_a"), "z", card_payment(&order, GOOD)).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
        assert_eq!((paid.json["state"].as_str(), paid.json["amount"].as_i64()), (Some("captured"), Some(0)));
        assert_eq!((shop.processor.charges(), shop.orders.get(&order)["status"].as_str()), (0, Some("paid")));
        let undo = json!({ "order_id": order, "reason": "order cancelled" });
        let undone = internal(&shop, "/internal/payments/refund-order", undo).await;
        assert_eq!(
            (undone.status, undone.json["state"].as_str()),
            (StatusCode::OK, Some("refunded")),
            "{}",
            undone.text
        );
    }
}
