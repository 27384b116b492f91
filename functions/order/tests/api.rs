//! The order function's API over the real item, items-router, cart and VIP
//! functions on every transaction store available here (SQLite always,
//! PostgreSQL when reachable and always in CI).

mod common;

use common::{Answer, World, address, assert_problem, call, guest_token, pickup, raw, registered, standard, vip_token};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::testing::{staff_token, transaction_store_urls};

fn line<'a>(order: &'a Value, item_id: &str) -> &'a Value {
    order["lines"].as_array().unwrap().iter().find(|l| l["item_id"] == item_id).unwrap_or(&Value::Null)
}

fn count(page: &Answer) -> i64 {
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    page.json["count"].as_i64().unwrap()
}

#[tokio::test]
async fn a_registered_customer_checks_out_items_of_every_type() {
    for url in transaction_store_urls("order_checkout").await {
        let w = World::new(&url, "order_checkout").await;
        let c = w.catalog().await;
        let ada = registered("cust_ada");
        w.add_to_cart(&ada, "book", &c.book, 2).await;
        w.add_to_cart(&ada, "laptop", &c.laptop, 1).await;
        w.add_to_cart(&ada, "mobile", &c.mobile, 1).await;
        w.add_to_cart(&ada, "clothes", &c.clothes, 3).await;

        let placed = w.checkout(&ada, "checkout-1", standard()).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        let order = &placed.json;
        let id = placed.id();
        assert!(id.starts_with("order_"), "{id}");
        assert_eq!(placed.headers["location"], format!("/api/orders/{id}"));
        assert_eq!(placed.headers["content-type"], "application/json");
        assert_eq!(order["customer_id"], "cust_ada");
        assert_eq!(order["customer_type"], "registered");
        assert_eq!(order["status"], "pending_payment");
        assert_eq!(order["currency"], "USD");
        let subtotal = 2 * 999 + 129900 + 79900 + 3 * 4500;
        assert_eq!(order["subtotal"], subtotal);
        assert_eq!((order["discount"].as_i64(), order["shipping_fee"].as_i64()), (Some(0), Some(499)));
        assert_eq!(order["points_redeemed"], 0);
        assert_eq!(order["total"], subtotal + 499);
        assert_eq!(order["delivery_option"], "standard");
        assert_eq!(order["shipping_address"]["country"], "GB");
        assert_eq!(order["shipping_address"]["line2"], Value::Null);
        assert_eq!((order["payment_id"].clone(), order["shipment_id"].clone()), (Value::Null, Value::Null));
        assert!(order["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(order["lines"].as_array().unwrap().len(), 4);
        assert_eq!(
            line(order, &c.book),
            &json!({ "item_type": "book", "item_id": c.book, "name": "Dune", "quantity": 2, "unit_price": 999,
                "line_total": 1998 })
        );
        assert_eq!(line(order, &c.clothes)["line_total"], 13500);
        assert_eq!(line(order, &c.laptop)["item_type"], "laptop");
        assert_eq!(line(order, &c.mobile)["item_type"], "mobile");

        // Stock is taken, the cart is empty.
        for (item, left) in [(&c.book, 8), (&c.laptop, 2), (&c.mobile, 4), (&c.clothes, 197)] {
            assert_eq!(w.stock(item).await, left, "{item}");
        }
        assert_eq!(w.cart_lines(&ada).await, Vec::<Value>::new());

        // The same record everywhere.
        for uri in [format!("/api/orders/{id}"), format!("/api/orders/{id}/")] {
            let read = w.get(&uri, Some(&ada)).await;
            assert_eq!((read.status, &read.json), (StatusCode::OK, order), "{uri}");
        }
        let internal = w.get(&format!("/internal/orders/{id}"), None).await;
        assert_eq!((internal.status, &internal.json), (StatusCode::OK, order));
        let mine = w.get("/api/orders", Some(&ada)).await;
        assert_eq!(count(&mine), 1);
        assert_eq!(&mine.json["results"][0], order);

        // Pickup needs no address and costs nothing to deliver; the newest comes first.
        w.add_to_cart(&ada, "book", &c.book, 1).await;
        let collected = w.checkout(&ada, "checkout-2", pickup()).await;
        assert_eq!(collected.status, StatusCode::CREATED, "{}", collected.text);
        assert_eq!((collected.json["shipping_fee"].as_i64(), collected.json["total"].as_i64()), (Some(0), Some(999)));
        assert_eq!(collected.json["shipping_address"], Value::Null);
        let mine = w.get("/api/orders/", Some(&ada)).await;
        assert_eq!(count(&mine), 2);
        assert_eq!(mine.json["results"][0]["id"], collected.json["id"]);

        // The delivery options are public data.
        let options = w.get("/api/orders/delivery-options", None).await;
        assert_eq!(options.status, StatusCode::OK);
        let fees: Vec<(String, i64, i64, String)> = options.json["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["id"].as_str().unwrap().into(),
                    o["fee"].as_i64().unwrap(),
                    o["days"].as_i64().unwrap(),
                    o["carrier"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            fees,
            [
                ("standard".into(), 499, 5, "ShopPost".into()),
                ("express".into(), 1499, 2, "ShopExpress".into()),
                ("pickup".into(), 0, 1, "Store pickup".into())
            ]
        );
        assert_eq!(w.get("/api/orders/delivery-options/", None).await.json, options.json);
    }
}

#[tokio::test]
async fn a_vip_checkout_gets_the_tier_discount_free_shipping_and_spends_points() {
    for url in transaction_store_urls("order_vip").await {
        let w = World::new(&url, "order_vip").await;
        let c = w.catalog().await;
        // 6000 lifetime points: Gold, 10% off and free shipping.
        w.vip_member("cust_vera", 6000).await;
        let vera = vip_token("cust_vera");
        w.add_to_cart(&vera, "laptop", &c.laptop, 1).await;
        w.add_to_cart(&vera, "book", &c.book, 1).await;

        let body = json!({ "delivery_option": "express", "shipping_address": address(), "redeem_points": 2500 });
        let placed = w.checkout(&vera, "vip-1", body).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        let order = &placed.json;
        assert_eq!(order["customer_type"], "vip");
        assert_eq!(order["subtotal"], 130899);
        assert_eq!(order["discount"], 13089, "10% rounded down");
        assert_eq!(order["shipping_fee"], 0, "Gold ships express for free");
        assert_eq!(order["points_redeemed"], 2500);
        assert_eq!(order["total"], 130899 - 13089 - 2500);
        assert_eq!(w.vip_balance("cust_vera").await, 3500);
        assert_eq!(w.stock(&c.laptop).await, 2);

        // More points than the balance, or than what is due: 422, nothing taken, key reusable.
        w.add_to_cart(&vera, "book", &c.book, 1).await;
        let too_many = json!({ "delivery_option": "pickup", "redeem_points": 3501 });
        assert_problem(
            &w.checkout(&vera, "vip-2", too_many).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("redeem_points"),
        );
        let beyond_due = json!({ "delivery_option": "pickup", "redeem_points": 1000 });
        let refused = w.checkout(&vera, "vip-2", beyond_due).await;
        assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, Some("redeem_points"));
        assert!(refused.text.contains("at most 900"), "999 less 10% is 900: {}", refused.text);
        assert_eq!((w.stock(&c.book).await, w.vip_balance("cust_vera").await), (9, 3500));
        assert_eq!(w.cart_lines(&vera).await.len(), 1);
        let all_points = w.checkout(&vera, "vip-2", json!({ "delivery_option": "pickup", "redeem_points": 900 })).await;
        assert_eq!(all_points.status, StatusCode::CREATED, "{}", all_points.text);
        assert_eq!((all_points.json["total"].as_i64(), all_points.json["discount"].as_i64()), (Some(0), Some(99)));
        assert_eq!((w.stock(&c.book).await, w.vip_balance("cust_vera").await), (8, 2600));

        // Standard shipping is free for Gold too; registered customers pay it and have no points.
        w.add_to_cart(&vera, "book", &c.book, 1).await;
        let shipped = w.checkout(&vera, "vip-3", standard()).await;
        assert_eq!((shipped.json["shipping_fee"].as_i64(), shipped.json["total"].as_i64()), (Some(0), Some(900)));
        let reg = registered("cust_reg");
        w.add_to_cart(&reg, "book", &c.book, 1).await;
        let points = json!({ "delivery_option": "pickup", "redeem_points": 1 });
        assert_problem(
            &w.checkout(&reg, "reg-1", points).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("redeem_points"),
        );
        let zero = json!({ "delivery_option": "pickup", "redeem_points": 0 });
        assert_eq!(w.checkout(&reg, "reg-1", zero).await.status, StatusCode::CREATED);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_key_replays_and_a_different_body_conflicts() {
    for url in transaction_store_urls("order_replay").await {
        let w = World::new(&url, "order_replay").await;
        let c = w.catalog().await;
        let ada = registered("cust_ada");
        w.add_to_cart(&ada, "book", &c.book, 2).await;

        let first = w.checkout(&ada, "same-key", standard()).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        assert!(first.headers.get("idempotent-replayed").is_none());
        // The cart is empty now, yet the retry answers the order it made.
        let again = w.checkout(&ada, "same-key", standard()).await;
        assert_eq!((again.status, &again.text), (StatusCode::CREATED, &first.text));
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(again.headers["location"], first.headers["location"]);
        // Key order and spaces do not make another request.
        let respelt = json!({ "shipping_address": address(), "delivery_option": " standard " });
        assert_eq!(w.checkout(&ada, "same-key", respelt).await.text, first.text);
        assert_eq!(w.stock(&c.book).await, 8, "reserved once");
        assert_eq!(count(&w.get("/api/orders/", Some(&ada)).await), 1);

        let other_body = json!({ "delivery_option": "express", "shipping_address": address() });
        let reused = w.checkout(&ada, "same-key", other_body).await;
        assert_problem(&reused, StatusCode::CONFLICT, None);
        assert!(reused.json["detail"].as_str().unwrap().contains("different checkout"), "{}", reused.text);
        // Keys belong to one customer.
        let bob = registered("cust_bob");
        let theirs = w.checkout(&bob, "same-key", standard()).await;
        assert_problem(&theirs, StatusCode::CONFLICT, None);
        assert!(theirs.json["detail"].as_str().unwrap().contains("empty"), "{}", theirs.text);

        // One key sent five times at once: one order, every answer it or "in progress".
        w.add_to_cart(&ada, "clothes", &c.clothes, 4).await;
        let attempts = (0..5).map(|_| {
            let (order, token) = (w.order.clone(), ada.clone());
            tokio::spawn(async move {
                call(&order, Method::POST, "/api/orders/", Some(&token), Some("burst"), Some(standard())).await
            })
        });
        let answers: Vec<Answer> = futures::future::join_all(attempts).await.into_iter().map(|a| a.unwrap()).collect();
        let created: Vec<&Answer> = answers.iter().filter(|a| a.status == StatusCode::CREATED).collect();
        assert!(!created.is_empty(), "{:?}", answers.iter().map(|a| &a.text).collect::<Vec<_>>());
        assert!(created.iter().all(|a| a.text == created[0].text), "every 201 is the same order");
        for busy in answers.iter().filter(|a| a.status != StatusCode::CREATED) {
            assert_problem(busy, StatusCode::CONFLICT, None);
            assert!(busy.json["detail"].as_str().unwrap().contains("in progress"), "{}", busy.text);
        }
        assert_eq!(w.stock(&c.clothes).await, 196);
        assert_eq!(count(&w.get("/api/orders/", Some(&ada)).await), 2);
        let replay = w.checkout(&ada, "burst", standard()).await;
        assert_eq!(replay.text, created[0].text);
    }
}

#[tokio::test]
async fn an_empty_cart_cannot_be_checked_out_and_the_key_stays_usable() {
    for url in transaction_store_urls("order_empty").await {
        let w = World::new(&url, "order_empty").await;
        let c = w.catalog().await;
        let ada = registered("cust_ada");
        let none = w.checkout(&ada, "k-1", standard()).await;
        assert_problem(&none, StatusCode::CONFLICT, None);
        assert!(none.json["detail"].as_str().unwrap().contains("your cart is empty"), "{}", none.text);
        // A cart that had a line and lost it is empty too.
        w.add_to_cart(&ada, "book", &c.book, 1).await;
        let (status, _, _) =
            shared::testing::send(&w.cart, Method::DELETE, &format!("/api/cart/items/{}", c.book), Some(&ada), None)
                .await;
        assert_eq!(status, StatusCode::OK);
        assert_problem(&w.checkout(&ada, "k-1", standard()).await, StatusCode::CONFLICT, None);
        // Nothing happened, so the same key works once the cart has something.
        w.add_to_cart(&ada, "book", &c.book, 1).await;
        assert_eq!(w.checkout(&ada, "k-1", standard()).await.status, StatusCode::CREATED);

        // An item gone from the catalog is named, and nothing is taken.
        w.add_to_cart(&ada, "mobile", &c.mobile, 1).await;
        w.add_to_cart(&ada, "laptop", &c.laptop, 1).await;
        let (status, _, _) = shared::testing::send(
            &w.items,
            Method::DELETE,
            &format!("/api/items/{}/", c.laptop),
            Some(&staff_token()),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let gone = w.checkout(&ada, "k-2", standard()).await;
        assert_problem(&gone, StatusCode::CONFLICT, None);
        assert!(gone.json["detail"].as_str().unwrap().contains(&c.laptop), "{}", gone.text);
        assert!(gone.json["detail"].as_str().unwrap().contains("no longer sold"), "{}", gone.text);
        assert_eq!(w.stock(&c.mobile).await, 5);
        assert_eq!(w.cart_lines(&ada).await.len(), 2);
    }
}

#[tokio::test]
async fn bad_checkouts_are_clear_problems_and_change_nothing() {
    for url in transaction_store_urls("order_bad_input").await {
        let w = World::new(&url, "order_bad_input").await;
        let c = w.catalog().await;
        let ada = registered("cust_ada");
        w.add_to_cart(&ada, "book", &c.book, 2).await;

        let with_address = |field: &str, value: Value| {
            let mut address = address();
            address[field] = value;
            json!({ "delivery_option": "standard", "shipping_address": address })
        };
        let mut no_city = address();
        no_city.as_object_mut().unwrap().remove("city");
        for (body, field) in [
            (json!({ "delivery_option": "drone", "shipping_address": address() }), "delivery_option"),
            (json!({ "delivery_option": 1, "shipping_address": address() }), "delivery_option"),
            (json!({ "shipping_address": address() }), "delivery_option"),
            (json!({ "delivery_option": "standard" }), "shipping_address"),
            (json!({ "delivery_option": "express", "shipping_address": null }), "shipping_address"),
            (json!({ "delivery_option": "pickup", "shipping_address": address() }), "shipping_address"),
            (json!({ "delivery_option": "standard", "shipping_address": "London" }), "shipping_address"),
            (json!({ "delivery_option": "standard", "shipping_address": no_city }), "shipping_address.city"),
            (with_address("country", json!("Britain")), "shipping_address.country"),
            (with_address("country", json!("XX")), "shipping_address.country"),
            (with_address("name", json!("   ")), "shipping_address.name"),
            (with_address("name", json!("n".repeat(101))), "shipping_address.name"),
            (with_address("line1", json!("l".repeat(201))), "shipping_address.line1"),
            (with_address("line2", json!(7)), "shipping_address.line2"),
            (with_address("postal_code", json!("<script>")), "shipping_address.postal_code"),
            (with_address("phone", json!("call me")), "shipping_address.phone"),
            (with_address("city", json!("Lon\u{0}don")), "shipping_address.city"),
            (with_address("floor", json!(3)), "shipping_address.floor"),
            (json!({ "delivery_option": "pickup", "redeem_points": -1 }), "redeem_points"),
            (json!({ "delivery_option": "pickup", "redeem_points": 2.5 }), "redeem_points"),
            (json!({ "delivery_option": "pickup", "redeem_points": "10" }), "redeem_points"),
            (json!({ "delivery_option": "pickup", "coupon": "FREE" }), "coupon"),
        ] {
            let answer = w.checkout(&ada, "bad-1", body.clone()).await;
            assert_problem(&answer, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        }

        // The key is checked first; malformed bodies are 400, other media 415.
        for key in [None, Some(""), Some("with space"), Some(&*"k".repeat(101))] {
            let answer = call(&w.order, Method::POST, "/api/orders/", Some(&ada), key, Some(pickup())).await;
            assert_problem(&answer, StatusCode::BAD_REQUEST, None);
            assert!(answer.json["detail"].as_str().unwrap().contains("Idempotency-Key"), "{}", answer.text);
        }
        let json = Some(("application/json", "{\"delivery_option\": "));
        assert_problem(
            &raw(&w.order, Method::POST, "/api/orders/", Some(&ada), Some("k"), json).await,
            StatusCode::BAD_REQUEST,
            None,
        );
        let list = Some(("application/json", "[1]"));
        assert_problem(
            &raw(&w.order, Method::POST, "/api/orders/", Some(&ada), Some("k"), list).await,
            StatusCode::BAD_REQUEST,
            None,
        );
        let text = Some(("text/plain", "{}"));
        assert_problem(
            &raw(&w.order, Method::POST, "/api/orders/", Some(&ada), Some("k"), text).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
        );

        // Only customers with an account have orders.
        let nobody = call(&w.order, Method::POST, "/api/orders/", None, Some("k"), Some(pickup())).await;
        assert_problem(&nobody, StatusCode::UNAUTHORIZED, None);
        for token in [guest_token("guest_1"), "not-a-token".to_string()] {
            assert_problem(&w.checkout(&token, "k", pickup()).await, StatusCode::UNAUTHORIZED, None);
            assert_problem(&w.get("/api/orders/", Some(&token)).await, StatusCode::UNAUTHORIZED, None);
        }
        let anonymous = w.get("/api/orders/", None).await;
        assert!(anonymous.json["detail"].as_str().unwrap().contains("sign up or log in"), "{}", anonymous.text);
        let guest = w.get("/api/orders/", Some(&guest_token("guest_1"))).await;
        assert!(guest.json["detail"].as_str().unwrap().contains("sign up or log in"), "{}", guest.text);

        assert_eq!(w.stock(&c.book).await, 10, "nothing was reserved");
        assert_eq!(w.cart_lines(&ada).await.len(), 1, "the cart is untouched");
        assert_eq!(count(&w.get("/api/orders/", Some(&staff_token())).await), 0);
        assert_problem(
            &w.post("/api/orders/delivery-options", Some(&ada), None).await,
            StatusCode::METHOD_NOT_ALLOWED,
            None,
        );
    }
}

#[tokio::test]
async fn customers_reach_only_their_own_orders_and_staff_reach_all() {
    for url in transaction_store_urls("order_access").await {
        let w = World::new(&url, "order_access").await;
        let c = w.catalog().await;
        let (ada, bob, staff) = (registered("cust_ada"), registered("cust_bob"), staff_token());
        w.add_to_cart(&ada, "book", &c.book, 1).await;
        w.add_to_cart(&bob, "clothes", &c.clothes, 1).await;
        let adas = w.checkout(&ada, "a-1", standard()).await.id();
        let bobs = w.checkout(&bob, "b-1", pickup()).await.id();

        // Bob cannot tell Ada's order from a missing one.
        let read = w.get(&format!("/api/orders/{adas}"), Some(&bob)).await;
        assert_problem(&read, StatusCode::NOT_FOUND, None);
        assert_eq!(read.json["detail"], format!("there is no order `{adas}`"));
        let missing = w.get("/api/orders/order_01JDQ000000000000000000000", Some(&bob)).await;
        assert_problem(&missing, StatusCode::NOT_FOUND, None);
        assert_problem(
            &w.post(&format!("/api/orders/{adas}/cancel"), Some(&bob), None).await,
            StatusCode::NOT_FOUND,
            None,
        );
        assert_eq!(w.get(&format!("/api/orders/{adas}"), Some(&ada)).await.json["status"], "pending_payment");
        assert_eq!(w.stock(&c.book).await, 9, "Bob's cancel released nothing");

        let mine = w.get("/api/orders/", Some(&ada)).await;
        assert_eq!(count(&mine), 1);
        assert_eq!(mine.json["results"][0]["id"], adas.as_str());

        // Staff see everything, and filter.
        assert_eq!(count(&w.get("/api/orders/", Some(&staff)).await), 2);
        let bob_only = w.get("/api/orders/?customer_id=cust_bob", Some(&staff)).await;
        assert_eq!((count(&bob_only), bob_only.json["results"][0]["id"].as_str()), (1, Some(bobs.as_str())));
        assert_eq!(count(&w.get("/api/orders/?status=pending_payment", Some(&staff)).await), 2);
        assert_eq!(count(&w.get("/api/orders/?status=cancelled", Some(&staff)).await), 0);
        let paged = w.get("/api/orders/?page_size=1", Some(&staff)).await;
        assert_eq!(paged.json["results"].as_array().unwrap().len(), 1);
        assert_eq!(paged.json["results"][0]["id"], bobs.as_str(), "newest first");
        assert_eq!(paged.json["next"], "/api/orders/?page_size=1&page=2");
        assert_eq!(w.get(&format!("/api/orders/{adas}"), Some(&staff)).await.status, StatusCode::OK);
        for query in ["status=lost", "colour=red", "page=0", "page_size=101"] {
            let answer = w.get(&format!("/api/orders/?{query}"), Some(&ada)).await;
            assert_problem(&answer, StatusCode::BAD_REQUEST, None);
        }
        let others = w.get("/api/orders/?customer_id=cust_bob", Some(&ada)).await;
        assert_problem(&others, StatusCode::FORBIDDEN, None);

        // Refunds are for staff; a customer's token is refused before anything is looked up.
        assert_problem(
            &w.post(&format!("/api/orders/{adas}/refund"), Some(&ada), None).await,
            StatusCode::FORBIDDEN,
            None,
        );
        assert_problem(
            &w.post(&format!("/api/orders/{adas}/refund"), None, None).await,
            StatusCode::UNAUTHORIZED,
            None,
        );
        assert_problem(&w.post("/api/orders/nope/refund", Some(&staff), None).await, StatusCode::NOT_FOUND, None);
        assert_problem(&w.get("/internal/orders/nope", None).await, StatusCode::NOT_FOUND, None);

        // Staff cancel anyone's order.
        let cancelled = w.post(&format!("/api/orders/{bobs}/cancel/"), Some(&staff), None).await;
        assert_eq!((cancelled.status, cancelled.json["status"].as_str()), (StatusCode::OK, Some("cancelled")));
    }
}

#[tokio::test]
async fn cancelling_gives_back_stock_points_and_payment_once() {
    for url in transaction_store_urls("order_cancel").await {
        let w = World::new(&url, "order_cancel").await;
        let c = w.catalog().await;
        w.vip_member("cust_vera", 6000).await;
        let vera = vip_token("cust_vera");
        w.add_to_cart(&vera, "laptop", &c.laptop, 1).await;
        w.add_to_cart(&vera, "book", &c.book, 2).await;
        let body = json!({ "delivery_option": "standard", "shipping_address": address(), "redeem_points": 500 });
        let id = w.checkout(&vera, "v-1", body).await.id();
        assert_eq!((w.stock(&c.laptop).await, w.stock(&c.book).await), (2, 8));
        assert_eq!(w.vip_balance("cust_vera").await, 5500);

        let cancelled = w.post(&format!("/api/orders/{id}/cancel"), Some(&vera), None).await;
        assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
        assert_eq!(cancelled.json["status"], "cancelled");
        assert_eq!((w.stock(&c.laptop).await, w.stock(&c.book).await), (3, 10));
        assert_eq!(w.vip_balance("cust_vera").await, 6000);
        assert_eq!(w.paying.calls_for(&id), 1, "paying is asked to void whatever payment there is");

        // Again: 200, and nothing is given back twice.
        let again = w.post(&format!("/api/orders/{id}/cancel/"), Some(&vera), None).await;
        assert_eq!((again.status, again.json["status"].as_str()), (StatusCode::OK, Some("cancelled")));
        assert_eq!((w.stock(&c.laptop).await, w.stock(&c.book).await), (3, 10));
        assert_eq!(w.vip_balance("cust_vera").await, 6000);
        assert_eq!(w.paying.calls_for(&id), 1);
        // A cancelled order is never paid or shipped.
        let paid = json!({ "payment_id": "payment_01JDQ000000000000000000001", "method": "card" });
        assert_problem(
            &w.post(&format!("/internal/orders/{id}/paid"), None, Some(paid)).await,
            StatusCode::CONFLICT,
            None,
        );
        let shipped = json!({ "status": "shipped" });
        assert_problem(
            &w.post(&format!("/internal/orders/{id}/status"), None, Some(shipped)).await,
            StatusCode::CONFLICT,
            None,
        );
        assert_eq!(w.shipping.calls_for(&id), 0);

        // Paying down: the order is cancelled at once, its stock and points go back
        // at once too (they wait for nothing), and a repeat voids the payment once.
        w.add_to_cart(&vera, "mobile", &c.mobile, 2).await;
        let body = json!({ "delivery_option": "pickup", "redeem_points": 100 });
        let second = w.checkout(&vera, "v-2", body).await.id();
        let paid = json!({ "payment_id": "payment_01JDQ000000000000000000002", "method": "wallet" });
        assert_eq!(w.post(&format!("/internal/orders/{second}/paid"), None, Some(paid)).await.status, StatusCode::OK);
        w.paying.set_down(true);
        let stuck = w.post(&format!("/api/orders/{second}/cancel"), Some(&vera), None).await;
        assert_problem(&stuck, StatusCode::SERVICE_UNAVAILABLE, None);
        assert!(stuck.headers.contains_key("retry-after"));
        let read = w.get(&format!("/api/orders/{second}"), Some(&vera)).await;
        assert_eq!(read.json["status"], "cancelled", "no payment or shipment can slip in meanwhile");
        assert_eq!((w.stock(&c.mobile).await, w.vip_balance("cust_vera").await), (5, 6000));
        w.paying.set_down(false);
        let finished = w.post(&format!("/api/orders/{second}/cancel"), Some(&vera), None).await;
        assert_eq!(finished.status, StatusCode::OK, "{}", finished.text);
        assert_eq!((w.stock(&c.mobile).await, w.vip_balance("cust_vera").await), (5, 6000));
        assert_eq!(w.paying.calls_for(&second), 1);
        w.post(&format!("/api/orders/{second}/cancel"), Some(&vera), None).await;
        assert_eq!((w.stock(&c.mobile).await, w.paying.calls_for(&second)), (5, 1));

        // Shipped orders are refunded by staff, not cancelled.
        w.add_to_cart(&vera, "book", &c.book, 1).await;
        let third = w.checkout(&vera, "v-3", pickup()).await.id();
        let paid = json!({ "payment_id": "payment_01JDQ000000000000000000003", "method": "card" });
        w.post(&format!("/internal/orders/{third}/paid"), None, Some(paid)).await;
        w.post(&format!("/internal/orders/{third}/status"), None, Some(json!({ "status": "shipped" }))).await;
        let late = w.post(&format!("/api/orders/{third}/cancel"), Some(&vera), None).await;
        assert_problem(&late, StatusCode::CONFLICT, None);
        assert!(late.json["detail"].as_str().unwrap().contains("refund"), "{}", late.text);
        assert_problem(
            &w.post(&format!("/api/orders/{third}/cancel"), Some(&staff_token()), None).await,
            StatusCode::CONFLICT,
            None,
        );
    }
}

#[tokio::test]
async fn payments_and_shipping_move_an_order_through_its_lifecycle() {
    for url in transaction_store_urls("order_lifecycle").await {
        let w = World::new(&url, "order_lifecycle").await;
        let c = w.catalog().await;
        let ada = registered("cust_ada");
        w.add_to_cart(&ada, "laptop", &c.laptop, 1).await;
        let placed = w.checkout(&ada, "l-1", standard()).await;
        let id = placed.id();
        let paid_uri = format!("/internal/orders/{id}/paid");
        let status_uri = format!("/internal/orders/{id}/status");
        let to = |status: &str| Some(json!({ "status": status }));

        assert_problem(&w.post(&status_uri, None, to("shipped")).await, StatusCode::CONFLICT, None);
        for (body, field) in [
            (json!({ "payment_id": "nope", "method": "card" }), "payment_id"),
            (json!({ "payment_id": "payment_01JDQ000000000000000000001", "method": "cheque" }), "method"),
            (json!({ "payment_id": "payment_01JDQ000000000000000000001" }), "method"),
            (json!({ "payment_id": "payment_01JDQ000000000000000000001", "method": "card", "amount": 1 }), "amount"),
        ] {
            assert_problem(&w.post(&paid_uri, None, Some(body)).await, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        }
        assert_problem(&w.post(&status_uri, None, to("paid")).await, StatusCode::UNPROCESSABLE_ENTITY, Some("status"));
        assert_problem(
            &w.post(
                "/internal/orders/order_01JDQ0000000000000000000000/paid",
                None,
                Some(json!({ "payment_id": "payment_01JDQ000000000000000000001", "method": "card" })),
            )
            .await,
            StatusCode::NOT_FOUND,
            None,
        );

        // Paid: the shipment is created and recorded.
        let payment = json!({ "payment_id": "payment_01JDQ000000000000000000001", "method": "card" });
        let paid = w.post(&paid_uri, None, Some(payment.clone())).await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
        assert_eq!(paid.json["status"], "paid");
        assert_eq!(paid.json["payment_id"], "payment_01JDQ000000000000000000001");
        assert!(paid.json["shipment_id"].as_str().unwrap().starts_with("shipment_"));
        let asked = &w.shipping.calls()[0];
        assert_eq!(
            asked,
            &json!({ "order_id": id, "customer_id": "cust_ada", "customer_type": "registered",
                "delivery_option": "standard", "shipping_address": placed.json["shipping_address"],
                "total": placed.json["total"], "currency": "USD" })
        );
        // Idempotent per payment; another payment is refused.
        let again = w.post(&paid_uri, None, Some(payment.clone())).await;
        assert_eq!((again.status, &again.json), (StatusCode::OK, &paid.json));
        assert_eq!(w.shipping.calls_for(&id), 1, "the shipment exists: not asked again");
        let other = json!({ "payment_id": "payment_01JDQ000000000000000000009", "method": "card" });
        assert_problem(&w.post(&paid_uri, None, Some(other)).await, StatusCode::CONFLICT, None);

        // Shipped, delivered; the same status twice is fine; going back is not.
        let shipped = w.post(&status_uri, None, to("shipped")).await;
        assert_eq!((shipped.status, shipped.json["status"].as_str()), (StatusCode::OK, Some("shipped")));
        assert_eq!(w.post(&status_uri, None, to("shipped")).await.status, StatusCode::OK);
        let delivered = w.post(&status_uri, None, to("delivered")).await;
        assert_eq!(delivered.json["status"], "delivered");
        assert_problem(&w.post(&status_uri, None, to("shipped")).await, StatusCode::CONFLICT, None);
        assert_eq!(w.post(&paid_uri, None, Some(payment)).await.json["status"], "delivered", "a late retry of paid");
        assert_eq!(w.get(&format!("/internal/orders/{id}"), None).await.json["status"], "delivered");

        // Staff refund a delivered order: the payment is refunded, the stock stays sold.
        let staff = staff_token();
        let refunded = w.post(&format!("/api/orders/{id}/refund"), Some(&staff), None).await;
        assert_eq!((refunded.status, refunded.json["status"].as_str()), (StatusCode::OK, Some("refunded")));
        assert_eq!(w.paying.calls_for(&id), 1);
        assert_eq!(w.stock(&c.laptop).await, 2);
        let again = w.post(&format!("/api/orders/{id}/refund/"), Some(&staff), None).await;
        assert_eq!((again.status, w.paying.calls_for(&id)), (StatusCode::OK, 1));
        assert_problem(&w.post(&status_uri, None, to("delivered")).await, StatusCode::CONFLICT, None);

        // Pickup goes from paid to delivered; pending orders are not refunded.
        w.add_to_cart(&ada, "book", &c.book, 1).await;
        let pickup_id = w.checkout(&ada, "l-2", pickup()).await.id();
        assert_problem(
            &w.post(&format!("/api/orders/{pickup_id}/refund"), Some(&staff), None).await,
            StatusCode::CONFLICT,
            None,
        );
        let cod = json!({ "payment_id": "payment_01JDQ000000000000000000002", "method": "cash_on_delivery" });
        assert_eq!(w.post(&format!("/internal/orders/{pickup_id}/paid"), None, Some(cod)).await.status, StatusCode::OK);
        let collected = w.post(&format!("/internal/orders/{pickup_id}/status"), None, to("delivered")).await;
        assert_eq!(collected.json["status"], "delivered");

        // Shipping down: the payment is recorded, and the repeat creates the shipment.
        w.add_to_cart(&ada, "book", &c.book, 1).await;
        let third = w.checkout(&ada, "l-3", standard()).await.id();
        let payment = json!({ "payment_id": "payment_01JDQ000000000000000000003", "method": "card" });
        w.shipping.set_down(true);
        let stuck = w.post(&format!("/internal/orders/{third}/paid"), None, Some(payment.clone())).await;
        assert_problem(&stuck, StatusCode::SERVICE_UNAVAILABLE, None);
        assert!(stuck.json["detail"].as_str().unwrap().contains("is paid"), "{}", stuck.text);
        let read = w.get(&format!("/internal/orders/{third}"), None).await;
        assert_eq!((read.json["status"].as_str(), read.json["shipment_id"].clone()), (Some("paid"), Value::Null));
        w.shipping.set_down(false);
        let retried = w.post(&format!("/internal/orders/{third}/paid"), None, Some(payment.clone())).await;
        assert_eq!(retried.status, StatusCode::OK);
        assert!(retried.json["shipment_id"].as_str().unwrap().starts_with("shipment_"));

        // A slow peer is a 503 within the deadline, not a hang.
        w.add_to_cart(&ada, "book", &c.book, 1).await;
        let fourth = w.checkout(&ada, "l-4", standard()).await.id();
        let hasty = w.order_app(std::time::Duration::from_millis(200));
        w.shipping.slow.store(true, std::sync::atomic::Ordering::SeqCst);
        let started = std::time::Instant::now();
        let payment = json!({ "payment_id": "payment_01JDQ000000000000000000004", "method": "card" });
        let slow =
            call(&hasty, Method::POST, &format!("/internal/orders/{fourth}/paid"), None, None, Some(payment)).await;
        assert_problem(&slow, StatusCode::SERVICE_UNAVAILABLE, None);
        assert!(started.elapsed() < std::time::Duration::from_millis(1_200), "{:?}", started.elapsed());
        w.shipping.slow.store(false, std::sync::atomic::Ordering::SeqCst);

        // A peer answering nonsense is a 502, not a 500.
        w.shipping.nonsense.store(true, std::sync::atomic::Ordering::SeqCst);
        let payment = json!({ "payment_id": "payment_01JDQ000000000000000000004", "method": "card" });
        let garbled = w.post(&format!("/internal/orders/{fourth}/paid"), None, Some(payment.clone())).await;
        assert_problem(&garbled, StatusCode::BAD_GATEWAY, None);
        assert!(garbled.json["detail"].as_str().unwrap().contains("shipping"), "{}", garbled.text);
        w.shipping.nonsense.store(false, std::sync::atomic::Ordering::SeqCst);
        let fixed = w.post(&format!("/internal/orders/{fourth}/paid"), None, Some(payment)).await;
        assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.text);
        assert!(fixed.json["shipment_id"].as_str().unwrap().starts_with("shipment_"));
    }
}
