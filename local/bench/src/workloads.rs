//! What each function is asked during the memory step: its own everyday reads
//! and writes. Calls to other functions and the data a request needs first (a
//! cart before a checkout) go through the in-process shop and are not counted.

use std::collections::BTreeMap;
use std::path::Path;

use http::Method;
use serde_json::{Value, json};
use shared::auth::{CustomerType, Role};

use crate::Error;
use crate::rss::{Driver, Shop};

/// Item types with their collection names, as the item functions serve them.
pub const ITEM_TYPES: [(&str, &str); 4] =
    [("book", "books"), ("laptop", "laptops"), ("mobile", "mobiles"), ("clothes", "clothes")];

const ADDRESS: &str = r#"{"name": "Bench Customer", "line1": "1 Market Street", "city": "Springfield", "postal_code": "12345", "country": "US"}"#;
const CARD: &str = r#"{"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}"#;

/// The fixture records the workloads address.
pub struct Fixtures {
    pub items: BTreeMap<String, Vec<Value>>,
    /// Registered customers (id, email), staff left out.
    pub registered: Vec<(String, String)>,
    pub vips: Vec<String>,
}

fn read_json(path: &Path) -> Result<Value, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
}

impl Fixtures {
    pub fn read(root: &Path) -> Result<Self, Error> {
        let dir = root.join("fixtures");
        let mut items = BTreeMap::new();
        for (item_type, plural) in ITEM_TYPES {
            let list = read_json(&dir.join("items").join(format!("{plural}.json")))?;
            let list = list.as_array().cloned().filter(|l| !l.is_empty()).ok_or(format!("no {plural} fixtures"))?;
            items.insert(item_type.to_string(), list);
        }
        let registered = read_json(&dir.join("customers/registered.json"))?
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["role"].as_str() != Some("staff"))
            .filter_map(|c| Some((c["id"].as_str()?.to_string(), c["email"].as_str()?.to_string())))
            .collect::<Vec<_>>();
        let vips = read_json(&dir.join("customers/vip_customers.json"))?
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["customer_id"].as_str().map(str::to_string))
            .collect::<Vec<_>>();
        if registered.is_empty() || vips.is_empty() {
            return Err("the customer fixtures name no registered or no VIP customers".into());
        }
        Ok(Self { items, registered, vips })
    }

    pub fn items(&self, item_type: &str) -> &[Value] {
        self.items.get(item_type).map(Vec::as_slice).unwrap_or_default()
    }

    /// Items that can go into a cart a few times over: priced, with stock.
    pub fn sellable(&self) -> Vec<(String, String)> {
        ITEM_TYPES
            .iter()
            .flat_map(|(t, _)| self.items(t).iter().map(move |item| (*t, item)))
            .filter(|(_, item)| item["stock"].as_i64().unwrap_or(0) >= 20 && item["price"].as_i64().is_some())
            .filter_map(|(t, item)| Some((t.to_string(), item["id"].as_str()?.to_string())))
            .collect()
    }
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

fn staff(shop: &Shop) -> String {
    shop.keys.issue("staff_bench", CustomerType::Registered, Role::Staff, 86_400)
}

/// A token of the customer `sub`, whose account is made first if need be.
async fn customer(shop: &Shop, sub: &str, typ: CustomerType) -> Result<String, Error> {
    shop.accounts.ensure(sub).await?;
    Ok(shop.keys.issue(sub, typ, Role::Customer, 86_400))
}

/// Sends through the driver, or ends the workload once the request limit is reached.
macro_rules! send {
    ($driver:expr, $method:expr, $path:expr, $headers:expr, $body:expr) => {
        match $driver.call($method, &$path, $headers, $body).await? {
            Some(answer) => answer,
            None => return Ok(()),
        }
    };
}

pub async fn run(function: &str, driver: &mut Driver, shop: &Shop, fixtures: &Fixtures) -> Result<(), Error> {
    match function {
        "items-router" => items_router(driver, shop, fixtures).await,
        "customer-router" => customer_router(driver, shop, fixtures).await,
        "guest-customer" => guest(driver, fixtures).await,
        "registered-customer" => registered(driver, shop, fixtures).await,
        "vip-customer" => vip(driver, shop, fixtures).await,
        "cart" => cart(driver, shop, fixtures).await,
        "order" => order(driver, shop).await,
        "paying" => paying(driver, shop).await,
        "shipping" => shipping(driver, shop).await,
        other => match ITEM_TYPES.iter().find(|(t, _)| *t == other) {
            Some((item_type, plural)) => item_service(driver, shop, fixtures, item_type, plural).await,
            None => Err(format!("no workload for `{other}`").into()),
        },
    }
}

/// A create body from a fixture item: its fields without the server's.
fn create_body(item: &Value, i: usize) -> Value {
    let mut body = item.clone();
    if let Some(map) = body.as_object_mut() {
        for field in ["id", "type", "created_at", "updated_at"] {
            map.remove(field);
        }
        let name = map.get("name").and_then(Value::as_str).unwrap_or("Item").to_string();
        map.insert("name".into(), Value::from(format!("{name} (bench {i})")));
    }
    body
}

async fn item_service(d: &mut Driver, shop: &Shop, f: &Fixtures, item_type: &str, plural: &str) -> Result<(), Error> {
    let items = f.items(item_type);
    let auth = [bearer(&staff(shop))];
    let pages = items.len().div_ceil(10).max(1);
    let mut created = String::new();
    for i in 0.. {
        let item = &items[i % items.len()];
        let id = item["id"].as_str().unwrap_or_default();
        match i % 10 {
            0 | 3 | 6 => {
                send!(d, Method::GET, format!("/api/{plural}/?page={}&page_size=10", (i / 10) % pages + 1), &[], None);
            }
            2 => {
                send!(d, Method::GET, format!("/api/{plural}/?in_stock=true&min_price=1000&page_size=20"), &[], None);
            }
            5 => {
                let answer = send!(d, Method::POST, format!("/api/{plural}/"), &auth, Some(&create_body(item, i)));
                if answer.status == 201 {
                    created = answer.text("id");
                }
            }
            9 if !created.is_empty() => {
                let patch = json!({ "stock": 10 + i % 50, "price": 1_000 + i });
                send!(d, Method::PATCH, format!("/api/{plural}/{created}/"), &auth, Some(&patch));
            }
            _ => {
                send!(d, Method::GET, format!("/api/{plural}/{id}/"), &[], None);
            }
        }
    }
    Ok(())
}

async fn items_router(d: &mut Driver, shop: &Shop, f: &Fixtures) -> Result<(), Error> {
    let auth = [bearer(&staff(shop))];
    for i in 0.. {
        let (item_type, _) = ITEM_TYPES[i % ITEM_TYPES.len()];
        let items = f.items(item_type);
        let id = items[(i / 4) % items.len()]["id"].as_str().unwrap_or_default();
        match i % 10 {
            0 | 5 => {
                send!(d, Method::GET, "/api/items/", &[], None);
            }
            1 | 6 | 8 => {
                send!(d, Method::GET, format!("/api/items/?type={item_type}&page_size=10"), &[], None);
            }
            9 => {
                // No ISBN: one names a single book, and this creates many.
                let body = json!({ "name": format!("Bench book {i}"), "type": "book", "author": "Robert Martin" });
                send!(d, Method::POST, "/api/items/", &auth, Some(&body));
            }
            _ => {
                send!(d, Method::GET, format!("/api/items/{id}/"), &[], None);
            }
        }
    }
    Ok(())
}

async fn customer_router(d: &mut Driver, shop: &Shop, f: &Fixtures) -> Result<(), Error> {
    let mut guest_token = String::new();
    for i in 0.. {
        let (registered_id, email) = &f.registered[i % f.registered.len()];
        let registered = [bearer(&customer(shop, registered_id, CustomerType::Registered).await?)];
        let vip = [bearer(&customer(shop, &f.vips[i % f.vips.len()], CustomerType::Vip).await?)];
        let guest = [("x-guest-token", guest_token.clone())];
        match i % 10 {
            0 => {
                send!(d, Method::GET, "/api/customers/", &[], None);
            }
            1 => {
                let answer = send!(d, Method::POST, "/api/customers/", &[], None);
                guest_token = answer.text("token");
            }
            2 => {
                send!(d, Method::GET, "/api/customers/", &guest, None);
            }
            3 => {
                send!(d, Method::GET, "/api/customers/", &registered, None);
            }
            4 => {
                send!(d, Method::GET, "/api/customers/profile", &registered, None);
            }
            5 => {
                send!(d, Method::GET, "/api/customers/", &vip, None);
            }
            6 => {
                send!(d, Method::GET, "/api/customers/vip/benefits", &vip, None);
            }
            7 => {
                send!(d, Method::GET, "/api/customers/addresses", &registered, None);
            }
            8 => {
                let body = json!({ "kind": "search", "query": "rust" });
                send!(d, Method::POST, "/api/customers/history", &guest, Some(&body));
            }
            _ if i % 50 == 9 => {
                let body = json!({ "email": email, "password": fixtures_password() });
                send!(d, Method::POST, "/api/customers/login", &[], Some(&body));
            }
            _ => {
                send!(d, Method::GET, "/api/customers/vip/points", &vip, None);
            }
        }
    }
    Ok(())
}

fn fixtures_password() -> &'static str {
    fixtures::customers::DEMO_CUSTOMER_PASSWORD
}

async fn guest(d: &mut Driver, f: &Fixtures) -> Result<(), Error> {
    let (mut token, mut id) = (String::new(), String::new());
    let books = f.items("book");
    for i in 0.. {
        let auth = [("x-guest-token", token.clone())];
        let viewed = json!({ "kind": "viewed_item", "item_type": "book", "item_id": books[i % books.len()]["id"] });
        match i % 10 {
            0 => {
                let answer = send!(d, Method::POST, "/api/customers/", &[], None);
                token = answer.text("token");
                id = answer.text("id");
            }
            1 => {
                send!(d, Method::GET, "/api/customers/", &auth, None);
            }
            2 => {
                send!(d, Method::POST, "/api/customers/history", &auth, Some(&viewed));
            }
            3 => {
                send!(d, Method::GET, "/api/customers/history", &auth, None);
            }
            4 => {
                let search = json!({ "kind": "search", "query": "rust" });
                send!(d, Method::POST, "/api/customers/history", &auth, Some(&search));
            }
            5 => {
                send!(d, Method::GET, format!("/api/guest-customer/{id}/"), &auth, None);
            }
            6 => {
                send!(d, Method::POST, format!("/api/guest-customer/{id}/touch"), &auth, None);
            }
            7 => {
                send!(d, Method::GET, format!("/api/guest-customer/{id}/history"), &auth, None);
            }
            8 => {
                send!(d, Method::POST, format!("/api/guest-customer/{id}/history"), &auth, Some(&viewed));
            }
            _ => {
                send!(d, Method::GET, "/internal/guest/session", &auth, None);
            }
        }
    }
    Ok(())
}

async fn registered(d: &mut Driver, shop: &Shop, f: &Fixtures) -> Result<(), Error> {
    let mut address = String::new();
    for i in 0.. {
        let (id, email) = &f.registered[(i / 10) % f.registered.len()];
        let auth = [bearer(&customer(shop, id, CustomerType::Registered).await?)];
        match i % 10 {
            0 => {
                send!(d, Method::GET, "/api/customers/", &auth, None);
            }
            1 | 8 => {
                send!(d, Method::GET, "/api/customers/profile", &auth, None);
            }
            2 => {
                send!(d, Method::GET, "/api/customers/addresses", &auth, None);
            }
            3 => {
                let body = json!({ "phone": format!("+1 415 555 {:04}", i % 10_000) });
                send!(d, Method::PATCH, "/api/customers/profile", &auth, Some(&body));
            }
            4 => {
                let body = json!({ "label": "Bench", "recipient": "Bench Customer", "line1": "1 Market Street", "city": "Springfield", "postal_code": "12345", "country": "US" });
                let answer = send!(d, Method::POST, "/api/customers/addresses", &auth, Some(&body));
                address = answer.text("id");
            }
            5 => {
                send!(d, Method::GET, format!("/api/customers/addresses/{address}"), &auth, None);
            }
            6 => {
                send!(d, Method::DELETE, format!("/api/customers/addresses/{address}"), &auth, None);
            }
            7 => {
                send!(d, Method::GET, format!("/internal/registered/accounts/{id}"), &[], None);
            }
            _ if i % 50 == 9 => {
                let body = json!({ "email": email, "password": fixtures_password() });
                send!(d, Method::POST, "/internal/registered/authenticate", &[], Some(&body));
            }
            _ => {
                send!(d, Method::GET, "/api/customers/history", &auth, None);
            }
        }
    }
    Ok(())
}

async fn vip(d: &mut Driver, shop: &Shop, f: &Fixtures) -> Result<(), Error> {
    let staff = [bearer(&staff(shop))];
    for i in 0.. {
        let id = &f.vips[(i / 10) % f.vips.len()];
        let auth = [bearer(&customer(shop, id, CustomerType::Vip).await?)];
        match i % 10 {
            0 | 8 => {
                send!(d, Method::GET, "/api/customers/", &auth, None);
            }
            1 | 9 => {
                send!(d, Method::GET, "/api/customers/vip/benefits", &[], None);
            }
            2 => {
                send!(d, Method::GET, "/api/customers/vip/points", &auth, None);
            }
            3 => {
                send!(d, Method::GET, "/api/customers/vip/customers", &staff, None);
            }
            4 => {
                send!(d, Method::GET, format!("/api/customers/vip/customers/{id}"), &staff, None);
            }
            5 => {
                let body = json!({ "kind": "earn", "points": 10, "reason": "Bench order delivered", "idempotency_key": format!("bench-earn-{i}") });
                send!(d, Method::POST, format!("/api/customers/vip/customers/{id}/points"), &staff, Some(&body));
            }
            6 => {
                send!(d, Method::GET, "/api/customers/vip/points?page=1&page_size=5", &auth, None);
            }
            _ => {
                let body =
                    json!({ "points": 1, "reason": "Bench voucher", "idempotency_key": format!("bench-redeem-{i}") });
                send!(d, Method::POST, "/api/customers/vip/points/redeem", &auth, Some(&body));
            }
        }
    }
    Ok(())
}

async fn cart(d: &mut Driver, shop: &Shop, f: &Fixtures) -> Result<(), Error> {
    let items = f.sellable();
    if items.len() < 3 {
        return Err("fewer than three fixture items with stock to put in carts".into());
    }
    for i in 0.. {
        // A new customer every 40 requests; every cycle of ten ends with an empty cart.
        let sub = format!("bench-cart-{}", i / 40);
        let auth = [bearer(&customer(shop, &sub, CustomerType::Registered).await?)];
        let pick = |k: usize| &items[(i / 10 * 3 + k) % items.len()];
        let add = |k: usize| {
            let (item_type, id) = pick(k);
            json!({ "item_type": item_type, "item_id": id, "quantity": 1 })
        };
        match i % 10 {
            0 => {
                send!(d, Method::POST, "/api/cart/items", &auth, Some(&add(0)));
            }
            2 => {
                send!(d, Method::POST, "/api/cart/items", &auth, Some(&add(1)));
            }
            5 => {
                send!(d, Method::POST, "/api/cart/items", &auth, Some(&add(2)));
            }
            3 => {
                let body = json!({ "quantity": 3 });
                send!(d, Method::PATCH, format!("/api/cart/items/{}", pick(0).1), &auth, Some(&body));
            }
            6 => {
                send!(d, Method::DELETE, format!("/api/cart/items/{}", pick(1).1), &auth, None);
            }
            8 => {
                send!(d, Method::GET, format!("/internal/cart/customer/{sub}"), &[], None);
            }
            9 => {
                send!(d, Method::DELETE, "/api/cart/", &auth, None);
            }
            _ => {
                send!(d, Method::GET, "/api/cart/", &auth, None);
            }
        }
    }
    Ok(())
}

/// A book with stock that never runs out, created through the in-process shop.
pub async fn bench_book(shop: &Shop) -> Result<String, Error> {
    let body = json!({
        "name": "The Benchmark Handbook", "price": 1999, "stock": shared::catalog::MAX_STOCK,
        "author": "Bench Mark", "isbn": "9780132350884",
    });
    let created = shop.call(Method::POST, "/api/books/", &[bearer(&staff(shop))], Some(&body)).await?;
    created["id"].as_str().map(str::to_string).ok_or_else(|| "the bench book was created without an id".into())
}

async fn fill_cart(shop: &Shop, token: &str, book: &str) -> Result<(), Error> {
    let line = json!({ "item_type": "book", "item_id": book, "quantity": 1 });
    shop.call(Method::POST, "/api/cart/items", &[bearer(token)], Some(&line)).await.map(|_| ())
}

fn checkout_body() -> Result<Value, Error> {
    let address: Value = serde_json::from_str(ADDRESS)?;
    Ok(json!({ "delivery_option": "standard", "shipping_address": address }))
}

fn card_payment(order: &str) -> Result<Value, Error> {
    let card: Value = serde_json::from_str(CARD)?;
    Ok(json!({ "order_id": order, "method": "card", "card": card }))
}

/// A checked-out order of `token`'s customer, prepared in process.
async fn prepared_order(shop: &Shop, token: &str, book: &str, key: &str) -> Result<String, Error> {
    fill_cart(shop, token, book).await?;
    let headers = [bearer(token), ("idempotency-key", key.to_string())];
    let order = shop.call(Method::POST, "/api/orders/", &headers, Some(&checkout_body()?)).await?;
    order["id"].as_str().map(str::to_string).ok_or_else(|| "a checkout answered no order id".into())
}

async fn order(d: &mut Driver, shop: &Shop) -> Result<(), Error> {
    let book = bench_book(shop).await?;
    let staff = [bearer(&staff(shop))];
    let checkout = checkout_body()?;
    for k in 0.. {
        let token = customer(shop, &format!("bench-order-{k}"), CustomerType::Registered).await?;
        if d.sent >= d.limit {
            break;
        }
        fill_cart(shop, &token, &book).await?;
        let headers = [bearer(&token), ("idempotency-key", format!("bench-order-{k}"))];
        let placed = send!(d, Method::POST, "/api/orders/", &headers, Some(&checkout));
        let id = placed.text("id");
        let auth = [bearer(&token)];
        send!(d, Method::GET, format!("/api/orders/{id}/"), &auth, None);
        send!(d, Method::GET, "/api/orders/?page_size=5", &auth, None);
        send!(d, Method::GET, "/api/orders/delivery-options", &[], None);
        if k % 2 == 0 {
            send!(d, Method::POST, format!("/api/orders/{id}/cancel"), &auth, None);
        } else {
            send!(d, Method::GET, "/api/orders/?page_size=20", &staff, None);
        }
    }
    Ok(())
}

async fn paying(d: &mut Driver, shop: &Shop) -> Result<(), Error> {
    let book = bench_book(shop).await?;
    let staff = [bearer(&staff(shop))];
    for k in 0.. {
        if d.sent >= d.limit {
            break;
        }
        let token = customer(shop, &format!("bench-pay-{k}"), CustomerType::Registered).await?;
        let order = prepared_order(shop, &token, &book, &format!("bench-pay-order-{k}")).await?;
        let by_card = k % 3 != 2;
        let body = if by_card {
            card_payment(&order)?
        } else {
            json!({ "order_id": order, "method": "wallet", "wallet": { "email": "bench@example.com" } })
        };
        let headers = [bearer(&token), ("idempotency-key", format!("bench-pay-{k}"))];
        let paid = send!(d, Method::POST, "/api/payments/", &headers, Some(&body));
        let id = paid.text("id");
        let auth = [bearer(&token)];
        send!(d, Method::GET, format!("/api/payments/{id}/"), &auth, None);
        send!(d, Method::GET, "/api/payments/", &auth, None);
        if by_card {
            send!(d, Method::POST, format!("/api/payments/{id}/capture"), &staff, None);
        } else {
            send!(d, Method::GET, "/api/payments/?page_size=5", &staff, None);
        }
    }
    Ok(())
}

async fn shipping(d: &mut Driver, shop: &Shop) -> Result<(), Error> {
    let book = bench_book(shop).await?;
    let staff = [bearer(&staff(shop))];
    for k in 0.. {
        if d.sent >= d.limit {
            break;
        }
        let token = customer(shop, &format!("bench-ship-{k}"), CustomerType::Registered).await?;
        let order = prepared_order(shop, &token, &book, &format!("bench-ship-order-{k}")).await?;
        let headers = [bearer(&token), ("idempotency-key", format!("bench-ship-pay-{k}"))];
        shop.call(Method::POST, "/api/payments/", &headers, Some(&card_payment(&order)?)).await?;
        let list = send!(d, Method::GET, format!("/api/shipping/?order_id={order}"), &staff, None);
        let shipment = &list.body["results"][0];
        let id = shipment["id"].as_str().unwrap_or_default().to_string();
        let tracking = shipment["tracking_number"].as_str().unwrap_or_default().to_string();
        send!(d, Method::GET, format!("/api/shipping/{id}/"), &[bearer(&token)], None);
        send!(d, Method::GET, format!("/api/shipping/track/{tracking}"), &[], None);
        for status in ["in_transit", "out_for_delivery", "delivered"] {
            let event = json!({ "status": status, "location": "Springfield depot" });
            send!(d, Method::POST, format!("/api/shipping/{id}/events"), &staff, Some(&event));
        }
        send!(d, Method::GET, format!("/api/shipping/track/{tracking}"), &[], None);
    }
    Ok(())
}
