//! Accounts across the whole shop, on SQLite and on the documented relational
//! stores (registered and VIP on MariaDB; cart, order, paying and shipping on
//! PostgreSQL): a closed account, a subject that never had one, and a token from
//! before a password change cannot fill a cart, check out, pay or cancel; a
//! closed VIP leaves no personal data to read; the VIP views show the account's
//! personal data as it is now.

use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use shared::auth::{CustomerType, Role, TokenKeys};
use shared::config::Env;
use shared::store::StoreUrl;
use shared::testing::{temp_mysql_url, temp_postgres_url};
use tower::ServiceExt;

const PASSWORD: &str = "shop-demo-password-1";
const ADA: &str = "cust_01KGES92M03S433BX3SRZDZ1AC"; // ada.lovelace@example.com, with an order awaiting payment
const VIP: &str = "456"; // vip456@example.com

fn url(store: &StoreUrl) -> String {
    match store {
        StoreUrl::MySql(u) | StoreUrl::Postgres(u) | StoreUrl::Sqlite(u) => u.clone(),
        other => panic!("unexpected {}", other.redacted()),
    }
}

struct Shop {
    app: Router,
    functions: local::Functions,
    book: String,
}

/// A fresh shop with the fixtures on SQLite, and one on MariaDB and PostgreSQL
/// (required in CI).
async fn shops(name: &str) -> Vec<Shop> {
    let dir = |set: &str| std::env::temp_dir().join(format!("shop-{name}-{set}-{}", shared::ids::new_id("t")));
    let mut envs = vec![Env::from_pairs([("LOCAL_DATA_DIR", dir("sqlite").display().to_string())])];
    if let (Some(registered), Some(vip), Some(transactions)) = (
        temp_mysql_url(&format!("{name}_registered")).await,
        temp_mysql_url(&format!("{name}_vip")).await,
        temp_postgres_url(&format!("{name}_shop")).await,
    ) {
        envs.push(Env::from_pairs([
            ("LOCAL_DATA_DIR", dir("servers").display().to_string()),
            ("REGISTERED_CUSTOMER_DATABASE_URL", url(&registered)),
            ("VIP_CUSTOMER_DATABASE_URL", url(&vip)),
            ("CART_DATABASE_URL", url(&transactions)),
            ("ORDER_DATABASE_URL", url(&transactions)),
            ("PAYING_DATABASE_URL", url(&transactions)),
            ("SHIPPING_DATABASE_URL", url(&transactions)),
        ]));
    }
    let mut shops = Vec::new();
    for env in envs {
        let functions = local::Functions::build(&env).expect("functions");
        functions.load_fixtures(&fixtures::customers::Passwords::demo()).await.expect("fixtures");
        let app = functions.app().expect("app");
        let book = serde_json::from_str::<Vec<Value>>(fixtures::BOOKS).unwrap()[0]["id"].as_str().unwrap().to_string();
        shops.push(Shop { app, functions, book });
    }
    shops
}

impl Shop {
    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request =
            Request::builder().method(method).uri(path).header("idempotency-key", shared::ids::new_id("k"));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn login(&self, email: &str, password: &str) -> Value {
        let body = json!({ "email": email, "password": password });
        let (status, session) = self.call(Method::POST, "/api/customers/login", None, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        session
    }

    async fn token(&self, email: &str) -> String {
        self.login(email, PASSWORD).await["access_token"].as_str().unwrap().to_string()
    }

    fn add_line(&self) -> Value {
        json!({ "item_type": "book", "item_id": self.book, "quantity": 1 })
    }

    /// Every money-moving request with `token`: add, change and remove a cart
    /// line, empty the cart, check out, pay `order`, cancel `order`.
    async fn money_moves(&self, token: &str, order: &str) -> Vec<(String, StatusCode)> {
        let item = format!("/api/cart/items/{}", self.book);
        let requests = [
            (Method::POST, "/api/cart/items".to_string(), Some(self.add_line())),
            (Method::PATCH, item.clone(), Some(json!({ "quantity": 2 }))),
            (Method::DELETE, item, None),
            (Method::DELETE, "/api/cart/".to_string(), None),
            (Method::POST, "/api/orders/".to_string(), Some(json!({ "delivery_option": "pickup" }))),
            (
                Method::POST,
                "/api/payments/".to_string(),
                Some(json!({ "order_id": order, "method": "cash_on_delivery" })),
            ),
            (Method::POST, format!("/api/orders/{order}/cancel"), None),
        ];
        let mut answers = Vec::new();
        for (method, path, body) in requests {
            let (status, _) = self.call(method.clone(), &path, Some(token), body).await;
            answers.push((format!("{method} {path}"), status));
        }
        answers
    }

    async fn pending_order_of(&self, token: &str) -> String {
        let (status, page) = self.call(Method::GET, "/api/orders/?status=pending_payment", Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["results"][0]["id"].as_str().expect("a pending order").to_string()
    }
}

fn refused(answers: &[(String, StatusCode)]) -> Vec<String> {
    answers.iter().filter(|(_, s)| *s != StatusCode::UNAUTHORIZED).map(|(r, s)| format!("{r}: {s}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_account_and_a_ghost_move_no_money() {
    for shop in shops("accounts_closed").await {
        let ada = shop.token("ada.lovelace@example.com").await;
        let order = shop.pending_order_of(&ada).await;
        let (status, _) = shop.call(Method::POST, "/api/cart/items", Some(&ada), Some(shop.add_line())).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) =
            shop.call(Method::DELETE, "/api/customers/", Some(&ada), Some(json!({ "password": PASSWORD }))).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        let answers = shop.money_moves(&ada, &order).await;
        assert!(refused(&answers).is_empty(), "a closed account's token moved money: {:?}", refused(&answers));
        let (status, cart) = shop.call(Method::GET, "/api/cart/", Some(&ada), None).await;
        assert_eq!(
            (status, cart["lines"].as_array().map(Vec::len)),
            (StatusCode::OK, Some(0)),
            "the cart went: {cart}"
        );
        let (status, _) = shop.call(Method::GET, "/api/customers/profile", Some(&ada), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // A subject that never had an account.
        let ghost = TokenKeys::development().issue("ghost", CustomerType::Registered, Role::Customer, 600);
        let answers = shop.money_moves(&ghost, &order).await;
        assert!(refused(&answers).is_empty(), "a ghost's token moved money: {:?}", refused(&answers));

        // Staff and guests work as before; the closed account's order is still the shop's to see.
        let staff = TokenKeys::development().issue("staff_local", CustomerType::Registered, Role::Staff, 600);
        let (status, found) = shop.call(Method::GET, &format!("/api/orders/{order}"), Some(&staff), None).await;
        assert_eq!((status, found["status"].as_str()), (StatusCode::OK, Some("pending_payment")));
        let (status, session) = shop.call(Method::POST, "/api/customers/", None, None).await;
        assert_eq!(status, StatusCode::CREATED);
        let request = Request::post("/api/cart/items")
            .header("x-guest-token", session["token"].as_str().unwrap())
            .header("content-type", "application/json")
            .body(Body::from(shop.add_line().to_string()))
            .unwrap();
        assert_eq!(shop.app.clone().oneshot(request).await.unwrap().status(), StatusCode::CREATED);

        let registered = &shop.functions.registered.store;
        assert_eq!(registered.personal_data_rows(ADA).await.unwrap(), 0);
        let subjects = registered.subjects().await.unwrap();
        assert!(subjects.closed.iter().any(|(id, _)| id == ADA) && !subjects.live.iter().any(|id| id == ADA));
        checker::check(&shop.functions.checker().read().await.unwrap()).assert_clean("after an account closed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_revokes_older_tokens_where_money_moves_at_once() {
    for shop in shops("accounts_password").await {
        let session = shop.login("ada.lovelace@example.com", PASSWORD).await;
        let old = session["access_token"].as_str().unwrap().to_string();
        let order = shop.pending_order_of(&old).await;
        let same = json!({ "current_password": PASSWORD, "new_password": PASSWORD });
        let (status, problem) = shop.call(Method::POST, "/api/customers/password", Some(&old), Some(same)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the same password is no change: {problem}");
        let change = json!({ "current_password": PASSWORD, "new_password": "a new horse 11" });
        let (status, _) = shop.call(Method::POST, "/api/customers/password", Some(&old), Some(change)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        let answers = shop.money_moves(&old, &order).await;
        assert!(refused(&answers).is_empty(), "a token from before the change moved money: {:?}", refused(&answers));
        let refresh = json!({ "refresh_token": session["refresh_token"] });
        let (status, _) = shop.call(Method::POST, "/api/customers/token/refresh", None, Some(refresh)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "so is the refresh token from before it");

        let new = shop.login("ada.lovelace@example.com", "a new horse 11").await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, _) = shop.call(Method::POST, "/api/cart/items", Some(&new), Some(shop.add_line())).await;
        assert_eq!(status, StatusCode::CREATED);
        let pay = json!({ "order_id": order, "method": "cash_on_delivery" });
        let (status, payment) = shop.call(Method::POST, "/api/payments/", Some(&new), Some(pay)).await;
        assert_eq!(status, StatusCode::CREATED, "{payment}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_vip_leaves_no_personal_data_and_views_show_the_account_as_it_is() {
    for shop in shops("accounts_vip").await {
        let vip = shop.token("vip456@example.com").await;
        let staff = shop.login("staff@shop.local", fixtures::customers::DEMO_STAFF_PASSWORD).await;
        let staff = staff["access_token"].as_str().unwrap().to_string();
        let (status, me) = shop.call(Method::GET, "/api/customers/", Some(&vip), None).await;
        assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("Valentina Ortiz")));

        let (status, _) =
            shop.call(Method::PATCH, "/api/customers/profile", Some(&vip), Some(json!({ "name": "Val Ortiz" }))).await;
        assert_eq!(status, StatusCode::OK);
        let (_, me) = shop.call(Method::GET, "/api/customers/", Some(&vip), None).await;
        assert_eq!(me["name"], "Val Ortiz", "the VIP view shows the new name: {me}");
        let (_, record) = shop.call(Method::GET, "/api/customers/vip/customers/456", Some(&staff), None).await;
        assert_eq!(
            (record["name"].as_str(), record["email"].as_str()),
            (Some("Val Ortiz"), Some("vip456@example.com"))
        );

        let (status, _) =
            shop.call(Method::DELETE, "/api/customers/", Some(&vip), Some(json!({ "password": PASSWORD }))).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, me) = shop.call(Method::GET, "/api/customers/", Some(&vip), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{me}");
        assert!(me.get("email").is_none() && me.get("name").is_none(), "{me}");
        let (status, _) = shop.call(Method::GET, "/api/customers/vip/customers/456", Some(&staff), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "staff no longer read the record");
        let (_, page) = shop.call(Method::GET, "/api/customers/vip/customers?page_size=100", Some(&staff), None).await;
        assert!(page["results"].as_array().unwrap().iter().all(|m| m["id"] != VIP), "{page}");

        assert_eq!(shop.functions.registered.store.personal_data_rows(VIP).await.unwrap(), 0);
        let members = shop.functions.vip.store.subjects().await.unwrap();
        assert!(members.closed.iter().any(|(id, _)| id == VIP), "the record is kept for accounting, closed");
        let (ledger, count) = shop.functions.vip.store.history(VIP, 0, 1).await.unwrap();
        assert!(count > 0 && ledger[0].balance_after >= 0, "with its ledger");
        checker::check(&shop.functions.checker().read().await.unwrap()).assert_clean("after a VIP closed the account");
    }
}
