//! One cart's contents become one order, however many "Place order" clicks
//! arrive at once, each with an Idempotency-Key of its own.

mod support;

use http::StatusCode;
use serde_json::json;
use support::{ADA, Answer, Shop, card, customer, shops};

async fn at_once(shop: &Shop, token: &str, keys: Vec<String>) -> Vec<Answer> {
    let body = json!({ "delivery_option": "pickup" });
    futures::future::join_all(keys.iter().map(|key| shop.checkout(token, key, body.clone()))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checkouts_of_one_cart_make_one_order() {
    for shop in shops("one_cart").await {
        let ada = customer(ADA);
        let book = shop.item("book", 10, 1_500).await;
        assert_eq!(shop.add(&ada, "book", &book, 3).await.status, StatusCode::CREATED);
        let answers = at_once(&shop, &ada, vec!["click-1".into(), "click-2".into()]).await;
        let statuses: Vec<StatusCode> = answers.iter().map(|a| a.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?} ({})", shop.stores);
        let refused = answers.iter().find(|a| a.status != StatusCode::CREATED).unwrap();
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
        assert!(refused.json["detail"].as_str().unwrap().contains("cart"), "{}", refused.text);
        assert_eq!(shop.stock(&book).await, 7, "reserved once");
        let order = answers.iter().find(|a| a.status == StatusCode::CREATED).unwrap().id();
        // The refused click's key is free again: the client learns the order from its list.
        let orders = shop.get("/api/orders/", &ada).await;
        assert_eq!(orders.json["count"], 1);
        assert_eq!(shop.pay(&ada, "pay-1", card(&order)).await.status, StatusCode::CREATED);
        shop.assert_invariants("after two clicks").await;

        // Twenty at once, on a new cart: still one order, the stock taken once.
        let stock = shop.item("book", 100, 700).await;
        assert_eq!(shop.add(&ada, "book", &stock, 2).await.status, StatusCode::CREATED);
        let answers = at_once(&shop, &ada, (0..20).map(|n| format!("burst-{n}")).collect()).await;
        let created = answers.iter().filter(|a| a.status == StatusCode::CREATED).count();
        let conflicts = answers.iter().filter(|a| a.status == StatusCode::CONFLICT).count();
        assert_eq!((created, conflicts), (1, 19), "({})", shop.stores);
        assert_eq!(shop.stock(&stock).await, 98);
        assert_eq!(shop.get("/api/orders/", &ada).await.json["count"], 2);
        // The cart was emptied; the same key again replays the one order.
        let cart = shop.get("/api/cart/", &ada).await;
        assert_eq!(cart.json["lines"], json!([]));
        let winner = answers.iter().position(|a| a.status == StatusCode::CREATED).unwrap();
        let replay = shop.checkout(&ada, &format!("burst-{winner}"), json!({ "delivery_option": "pickup" })).await;
        assert_eq!(
            (replay.status, replay.headers["idempotent-replayed"].to_str().unwrap()),
            (StatusCode::CREATED, "true")
        );
        shop.assert_invariants("after twenty clicks").await;
    }
}

#[tokio::test]
async fn a_refused_checkout_leaves_the_cart_free_to_check_out_again() {
    for shop in shops("one_cart_refused").await {
        let ada = customer(ADA);
        let scarce = shop.item("mobile", 1, 20_000).await;
        assert_eq!(shop.add(&ada, "mobile", &scarce, 1).await.status, StatusCode::CREATED);
        // Someone else buys the last unit first: Ada's checkout is refused, her cart kept.
        let grace = customer(support::GRACE);
        shop.add(&grace, "mobile", &scarce, 1).await;
        assert_eq!(
            shop.checkout(&grace, "g", json!({ "delivery_option": "pickup" })).await.status,
            StatusCode::CREATED
        );
        let refused = shop.checkout(&ada, "a-1", json!({ "delivery_option": "pickup" })).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
        // Stock comes back (the other order is cancelled): the same cart checks out under a new key.
        let theirs = shop.get("/api/orders/", &grace).await.json["results"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(shop.post(&format!("/api/orders/{theirs}/cancel"), &grace, None).await.status, StatusCode::OK);
        let placed = shop.checkout(&ada, "a-2", json!({ "delivery_option": "pickup" })).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        shop.assert_invariants("after a refusal and a retry").await;
    }
}
