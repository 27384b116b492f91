//! The whole shop on its documented relational stores (registered and VIP on
//! MariaDB, cart, order, paying and shipping on PostgreSQL, the catalog on
//! SQLite), each store then taken away: every function answers 503 problem
//! responses with `Retry-After`, none answers 500, what was refused was not
//! written, and everything serves again once the stores are back.

use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use shared::auth::{CustomerType, Role, TokenKeys};
use shared::config::Env;
use shared::store::StoreUrl;
use shared::testing::faults::StoreFault;
use shared::testing::{temp_mysql_url, temp_postgres_url};
use tower::ServiceExt;

const CUSTOMER_A: &str = "cust_01KGHBNSM04720ZDA0KBWR3C91"; // a fixture account
const VIP: &str = "456";

fn url(store: &StoreUrl) -> String {
    match store {
        StoreUrl::MySql(u) | StoreUrl::Postgres(u) | StoreUrl::Sqlite(u) => u.clone(),
        other => panic!("unexpected {}", other.redacted()),
    }
}

struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    content_type: String,
    body: Value,
}

async fn call(app: &Router, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
    let mut request = Request::builder().method(method).uri(path).header("host", "shop.test");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap_or_default().to_string());
    let (status, retry_after, content_type) = (response.status(), header("retry-after"), header("content-type"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Answer {
        status,
        retry_after,
        content_type: content_type.unwrap_or_default(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_store_going_away_is_a_503_that_writes_nothing() {
    let (Some(registered), Some(vip), Some(transactions)) = (
        temp_mysql_url("faults_registered").await,
        temp_mysql_url("faults_vip").await,
        temp_postgres_url("faults_shop").await,
    ) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("shop-faults-{}", shared::ids::new_id("t")));
    let book_store = StoreUrl::Sqlite(format!("sqlite://{}/book.db", dir.display()));
    let (registered_fault, registered) = StoreFault::new(&registered).await;
    let (vip_fault, vip) = StoreFault::new(&vip).await;
    let (transactions_fault, transactions) = StoreFault::new(&transactions).await;
    let (book_fault, _) = StoreFault::new(&book_store).await;
    let env = Env::from_pairs([
        ("LOCAL_DATA_DIR", dir.display().to_string()),
        ("REGISTERED_CUSTOMER_DATABASE_URL", url(&registered)),
        ("VIP_CUSTOMER_DATABASE_URL", url(&vip)),
        ("CART_DATABASE_URL", url(&transactions)),
        ("ORDER_DATABASE_URL", url(&transactions)),
        ("PAYING_DATABASE_URL", url(&transactions)),
        ("SHIPPING_DATABASE_URL", url(&transactions)),
        ("MAIL_DIR", dir.join("mail").display().to_string()),
    ]);
    let functions = local::Functions::build(&env).expect("functions");
    functions.load_fixtures(&fixtures::customers::Passwords::demo()).await.expect("fixtures");
    let app = functions.app().expect("app");
    let keys = TokenKeys::development();
    let ada = keys.issue(CUSTOMER_A, CustomerType::Registered, Role::Customer, 600);
    let vera = keys.issue(VIP, CustomerType::Vip, Role::Customer, 600);
    let staff = keys.issue("staff_faults", CustomerType::Registered, Role::Staff, 600);
    let book = json!({ "name": "Refused While Down", "author": "Nobody", "price": 100 });
    let signup = json!({ "email": "down@example.com", "password": "correct horse 9", "name": "Down" });
    let line = json!({ "item_type": "book", "item_id": fixture_book(), "quantity": 1 });

    // What each function is asked while its store is away.
    let requests: Vec<(Method, &str, Option<&str>, Option<Value>)> = vec![
        (Method::GET, "/api/customers/profile", Some(&ada), None),
        (Method::POST, "/api/customers/signup", None, Some(signup.clone())),
        (Method::GET, "/api/customers/vip/points", Some(&vera), None),
        (Method::GET, "/api/cart/", Some(&ada), None),
        (Method::POST, "/api/cart/items", Some(&ada), Some(line.clone())),
        (Method::GET, "/api/orders/", Some(&ada), None),
        (Method::GET, "/api/payments/", Some(&ada), None),
        (Method::GET, "/api/shipping/", Some(&ada), None),
        (Method::POST, "/api/books/", Some(&staff), Some(book.clone())),
    ];
    let cart_before = call(&app, Method::GET, "/api/cart/", Some(&ada), None).await.body;

    for fault in [&registered_fault, &vip_fault, &transactions_fault, &book_fault] {
        fault.cut().await;
    }
    let answers = futures::future::join_all(
        requests.iter().map(|(method, path, token, body)| call(&app, method.clone(), path, *token, body.clone())),
    )
    .await;
    for fault in [&registered_fault, &vip_fault, &transactions_fault, &book_fault] {
        fault.restore().await;
    }
    let mut wrong = Vec::new();
    for ((method, path, ..), answer) in requests.iter().zip(&answers) {
        let retry_after = answer.retry_after.as_deref().and_then(|s| s.parse::<u32>().ok());
        if answer.status != StatusCode::SERVICE_UNAVAILABLE
            || answer.content_type != shared::error::PROBLEM_JSON
            || retry_after.is_none_or(|n| n < 1)
        {
            wrong.push(format!("{method} {path}: {} {:?} {}", answer.status, answer.retry_after, answer.body));
        }
    }
    assert!(wrong.is_empty(), "while the stores were away:\n{}", wrong.join("\n"));

    // Back: nothing refused was written, and the same requests succeed.
    let cart = call(&app, Method::GET, "/api/cart/", Some(&ada), None).await;
    assert_eq!((cart.status, &cart.body["lines"]), (StatusCode::OK, &cart_before["lines"]));
    let found = call(&app, Method::GET, "/api/books/?q=refused", None, None).await;
    assert_eq!(found.body["count"], 0, "{}", found.body);
    let mut retried = Vec::new();
    for (method, path, token, body) in &requests {
        let answer = call(&app, method.clone(), path, *token, body.clone()).await;
        if !answer.status.is_success() {
            retried.push(format!("{method} {path}: {} {}", answer.status, answer.body));
        }
    }
    assert!(retried.is_empty(), "once the stores were back:\n{}", retried.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn fixture_book() -> String {
    serde_json::from_str::<Vec<Value>>(fixtures::BOOKS).unwrap()[0]["id"].as_str().unwrap().to_string()
}
