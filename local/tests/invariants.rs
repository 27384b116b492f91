//! The invariant checker over a whole shop: the fixtures' orders in every
//! status obey every invariant, and each kind of broken invariant is caught.

mod support;

use support::shops;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixture_shop_obeys_every_invariant() {
    for shop in shops("invariants_fixtures").await {
        shop.functions.load_fixtures(&fixtures::customers::Passwords::demo()).await.unwrap();
        let report = shop.check().await;
        report.assert_clean("fixtures");
        assert!(report.counts.iter().any(|(what, n)| *what == "orders" && *n >= 13), "{report}");
        assert!(report.stock.iter().any(|line| line.held > 0), "fixture orders hold stock: {report}");
    }
}

/// A shop with one order of each ending: cancelled after payment, delivered
/// (a VIP's, with points redeemed and earned), refunded, and one waiting.
async fn busy_shop(shop: &support::Shop) -> Vec<String> {
    use http::StatusCode;
    use serde_json::json;
    use support::{ADA, GRACE, VIP_SILVER, card, customer, staff, vip};
    let book = shop.item("book", 20, 2_000).await;
    let mut orders = Vec::new();
    for (n, token) in [customer(ADA), vip(VIP_SILVER), customer(GRACE), customer(ADA)].iter().enumerate() {
        shop.add(token, "book", &book, 1).await;
        let redeem = if n == 1 { 300 } else { 0 };
        let body = json!({ "delivery_option": "pickup", "redeem_points": redeem });
        let order = shop.checkout(token, &format!("busy-{n}"), body).await.id();
        if n < 3 {
            assert_eq!(shop.pay(token, &format!("busy-{n}-pay"), card(&order)).await.status, StatusCode::CREATED);
        }
        match n {
            0 => {
                assert_eq!(shop.post(&format!("/api/orders/{order}/cancel"), token, None).await.status, StatusCode::OK)
            }
            1 | 2 => {
                let shipment = shop.shipment(&order).await["id"].as_str().unwrap().to_string();
                assert_eq!(shop.event(&shipment, "delivered").await.status, StatusCode::CREATED);
            }
            _ => {}
        }
        if n == 2 {
            assert_eq!(shop.post(&format!("/api/orders/{order}/refund"), &staff(), None).await.status, StatusCode::OK);
        }
        orders.push(order);
    }
    orders
}

/// A change to a snapshot that breaks an invariant.
type Breaking = Box<dyn Fn(&mut checker::Snapshot)>;

#[tokio::test]
async fn each_broken_invariant_is_caught() {
    use checker::Invariant;
    use order::OrderStatus;
    for shop in shops("invariants_broken").await {
        let orders = busy_shop(&shop).await;
        let (cancelled, delivered, refunded, waiting) = (&orders[0], &orders[1], &orders[2], &orders[3]);
        let snapshot = shop.functions.checker().read().await.unwrap();
        checker::check(&snapshot).assert_clean("before breaking anything");

        // Each change breaks exactly one invariant, and the checker names it.
        let breaks: Vec<(Invariant, Breaking)> = vec![
            (Invariant::Points, Box::new(|s| s.members.as_mut().unwrap()[0].customer.points_balance += 1)),
            (Invariant::Points, {
                let delivered = delivered.clone();
                Box::new(move |s| {
                    let member = s
                        .members
                        .as_mut()
                        .unwrap()
                        .iter_mut()
                        .find(|m| m.ledger.iter().any(|e| e.idempotency_key.starts_with(&delivered)))
                        .unwrap();
                    let earn = member
                        .ledger
                        .iter_mut()
                        .find(|e| e.idempotency_key == format!("{delivered}:delivered"))
                        .unwrap();
                    // Counted as a restore: the balance still adds up, lifetime points no longer do.
                    earn.kind = vip_customer::domain::EntryKind::Restore;
                })
            }),
            (Invariant::Money, {
                let cancelled = cancelled.clone();
                Box::new(move |s| {
                    let payment = s.payments.as_mut().unwrap().iter_mut().find(|p| p.order_id == cancelled).unwrap();
                    payment.state = paying::PaymentState::Authorized;
                })
            }),
            (Invariant::Money, {
                let refunded = refunded.clone();
                Box::new(move |s| {
                    let shipment = s.shipments.as_mut().unwrap().iter_mut().find(|x| x.order_id == refunded).unwrap();
                    let mut moved = shipment.events.last().unwrap().clone();
                    (moved.status, moved.at, moved.seq) =
                        (shipping::Status::InTransit, shipment.stopped_at.unwrap() + 60, 99);
                    shipment.events.push(moved);
                })
            }),
            (Invariant::OneOrderPerCart, {
                let (waiting, cancelled) = (waiting.clone(), cancelled.clone());
                Box::new(move |s| {
                    let orders = s.orders.as_mut().unwrap();
                    let version = orders.iter().find(|o| o.id == cancelled).unwrap().cart_version.clone();
                    orders.iter_mut().find(|o| o.id == waiting).unwrap().cart_version = version;
                })
            }),
            (Invariant::Lifecycle, {
                let cancelled = cancelled.clone();
                Box::new(move |s| {
                    s.orders.as_mut().unwrap().iter_mut().find(|o| o.id == cancelled).unwrap().undo_pending = true
                })
            }),
            (Invariant::Stock, {
                let waiting = waiting.clone();
                Box::new(move |s| {
                    let order = s.orders.as_mut().unwrap().iter_mut().find(|o| o.id == waiting).unwrap();
                    order.status = OrderStatus::Expired;
                })
            }),
            (
                Invariant::Accounts,
                Box::new(|s| {
                    s.accounts.as_mut().unwrap().live.remove(support::ADA);
                }),
            ),
            (
                Invariant::Accounts,
                Box::new(|s| {
                    let accounts = s.accounts.as_mut().unwrap();
                    accounts.live.remove(support::VIP_SILVER);
                    accounts.closed.insert(support::VIP_SILVER.to_string(), 1);
                }),
            ),
            (
                Invariant::Accounts,
                Box::new(|s| {
                    let accounts = s.accounts.as_mut().unwrap();
                    accounts.live.remove(support::GRACE);
                    accounts.closed.insert(support::GRACE.to_string(), 1);
                    accounts.personal_data_left.push((support::GRACE.to_string(), 2));
                }),
            ),
        ];
        for (n, (invariant, breaking)) in breaks.iter().enumerate() {
            let mut broken = snapshot.clone();
            breaking(&mut broken);
            let report = checker::check(&broken);
            let caught: std::collections::BTreeSet<Invariant> = report.violations.iter().map(|v| v.invariant).collect();
            assert_eq!(caught, [*invariant].into(), "break {n} ({}): {report}", shop.stores);
        }

        // And in the stores themselves: an order closed behind the order service's
        // back keeps its stock held, which the checker reports from the stores.
        sqlx::any::install_default_drivers();
        let store = shared::store::StoreUrl::from_env(&shop.env, "ORDER_DATABASE_URL", "order").unwrap();
        let (url, table) = match &store {
            shared::store::StoreUrl::Sqlite(url) => (url.clone(), "orders"),
            shared::store::StoreUrl::Postgres(url) => (url.clone(), "orders.orders"),
            other => panic!("{other:?}"),
        };
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let sql = format!("UPDATE {table} SET status = 'cancelled' WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(waiting.as_str()).execute(&pool).await.unwrap();
        let report = shop.check().await;
        assert_eq!(report.violations.len(), 1, "{report}");
        let violation = &report.violations[0];
        assert_eq!(violation.invariant, Invariant::Stock, "{report}");
        assert!(violation.detail.contains(waiting.as_str()) && violation.detail.contains("holds 0"), "{report}");
    }
}
