//! The customer router over the real guest, registered and VIP functions, invoked
//! in process: routing by verified type, login, and the transitions.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use customer_router::{Config, CustomerRouterState, Functions, router};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::auth::{CustomerType, Role, TokenKeys};
use shared::invoke::InProcessInvoker;
use shared::testing::{send, temp_sqlite_url};

const PASSWORD: &str = "correct horse 9";

struct Stack {
    app: Router,
    mail_dir: PathBuf,
    guest: Router,
    registered: Router,
    vip: Router,
}

/// The one item the stand-in items router knows.
const KNOWN_BOOK: &str = "book_01JDQ0000000000000000000AA";

fn keys() -> Arc<TokenKeys> {
    Arc::new(TokenKeys::development())
}

async fn stack() -> Stack {
    let mail_dir = std::env::temp_dir().join(format!("shop-router-mail-{}", shared::ids::new_id("t")));
    let guest_config = guest_customer::Config::from_env(&shared::config::Env::from_pairs([(
        "GUEST_CUSTOMER_DATABASE_URL",
        match temp_sqlite_url("cr_guest") {
            shared::store::StoreUrl::Sqlite(url) => url,
            _ => unreachable!(),
        },
    )]))
    .unwrap();
    let items = InProcessInvoker::new().with("items-router", shared::testing::items_router_knowing(&[KNOWN_BOOK]));
    let guest =
        guest_customer::router(guest_customer::GuestState::new(&guest_config, Arc::new(items), keys()).unwrap());

    let registered_config = registered_customer::Config {
        store: temp_sqlite_url("cr_registered"),
        max_connections: 2,
        mail_dir: mail_dir.clone(),
        verification_ttl_secs: 3600,
        public_base_url: "http://shop.test".into(),
        login_limits: Default::default(),
        refresh_token_ttl_secs: 3600,
    };
    let registered_state = registered_customer::RegisteredState::new(&registered_config, keys()).unwrap();
    let accounts = vec![
        registered_customer::fixtures::AccountFixture {
            id: "123".into(),
            email: "customer123@example.com".into(),
            name: Some("Sam".into()),
            phone: None,
            role: "customer".into(),
            customer_type: None,
            preferences: Default::default(),
            addresses: vec![],
        },
        registered_customer::fixtures::AccountFixture {
            id: "456".into(),
            email: "vip456@example.com".into(),
            name: Some("Val".into()),
            phone: None,
            role: "customer".into(),
            customer_type: Some("vip".into()),
            preferences: Default::default(),
            addresses: vec![],
        },
        registered_customer::fixtures::AccountFixture {
            id: "staff_1".into(),
            email: "staff@shop.local".into(),
            name: Some("Staff".into()),
            phone: None,
            role: "staff".into(),
            customer_type: None,
            preferences: Default::default(),
            addresses: vec![],
        },
    ];
    registered_customer::fixtures::load_accounts(&registered_state.store, &accounts, |_| PASSWORD.to_string())
        .await
        .unwrap();
    let registered = registered_customer::router(registered_state);

    let vip_config =
        vip_customer::Config { store: temp_sqlite_url("cr_vip"), max_connections: 2, downgrade_mid_year: false };
    let vip_state = vip_customer::VipState::new(&vip_config, keys()).unwrap();
    vip_customer::load_tiers(&vip_state.store, fixtures::customers::VIP_TIERS).await.unwrap();
    let vip = vip_customer::router(vip_state);
    let (status, _, _) =
        send(&vip, Method::POST, "/internal/vip/enroll", None, Some(json!({ "customer_id": "456" }))).await;
    assert_eq!(status, StatusCode::CREATED);

    let app = customer_router(guest.clone(), registered.clone(), vip.clone());
    Stack { app, mail_dir, guest, registered, vip }
}

/// Stands in for the cart function: remembers every merge and every emptied cart.
static MERGES: std::sync::Mutex<Vec<Value>> = std::sync::Mutex::new(Vec::new());
static EMPTIED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn cart_recorder() -> Router {
    Router::new()
        .route(
            "/internal/cart/merge",
            axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
                MERGES.lock().unwrap().push(body);
                axum::Json(json!({ "lines": [] }))
            }),
        )
        .route(
            "/internal/cart/customer/{id}",
            axum::routing::delete(|axum::extract::Path(id): axum::extract::Path<String>| async move {
                EMPTIED.lock().unwrap().push(id);
                StatusCode::NO_CONTENT
            }),
        )
}

fn emptied(customer_id: &str) -> bool {
    EMPTIED.lock().unwrap().iter().any(|id| id == customer_id)
}

fn merged(guest_id: &str, customer_id: &str) -> bool {
    MERGES.lock().unwrap().iter().any(|m| m["guest_id"] == guest_id && m["customer_id"] == customer_id)
}

fn customer_router(guest: Router, registered: Router, vip: Router) -> Router {
    customer_router_with_cart(guest, registered, vip, cart_recorder())
}

fn customer_router_with_cart(guest: Router, registered: Router, vip: Router, cart: Router) -> Router {
    let invoker = InProcessInvoker::new()
        .with("guest-customer", guest)
        .with("registered-customer", registered)
        .with("vip-customer", vip)
        .with("cart", cart)
        .with("items-router", shared::testing::items_router_knowing(&[KNOWN_BOOK]));
    router_over(invoker, Duration::from_secs(5))
}

fn router_over(invoker: InProcessInvoker, invoke_timeout: Duration) -> Router {
    let config = Config {
        functions: Functions {
            guest: "guest-customer".into(),
            registered: "registered-customer".into(),
            vip: "vip-customer".into(),
            cart: "cart".into(),
            items_router: "items-router".into(),
        },
        token_ttl_secs: 600,
        invoke_timeout,
    };
    router(CustomerRouterState::new(&config, Arc::new(invoker), keys()))
}

fn mail_token(dir: &PathBuf, email: &str) -> String {
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        if text.contains(&format!("To: {email}")) {
            let start = text.find("token=").unwrap() + "token=".len();
            return text[start..].split_whitespace().next().unwrap().to_string();
        }
    }
    panic!("no mail to {email}");
}

async fn with_headers(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http::Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = match body {
        Some(body) => request.header("content-type", "application/json").body(axum::body::Body::from(body.to_string())),
        None => request.body(axum::body::Body::empty()),
    }
    .unwrap();
    let response = tower::ServiceExt::oneshot(app.clone(), request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn login(app: &Router, email: &str) -> (StatusCode, Value) {
    let (status, _, body) =
        send(app, Method::POST, "/api/customers/login", None, Some(json!({ "email": email, "password": PASSWORD })))
            .await;
    (status, body)
}

#[tokio::test]
async fn the_seed_examples_reach_the_function_for_each_customer_type() {
    let s = stack().await;
    let (status, me) = with_headers(&s.app, Method::GET, "/api/customers/", None, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["customer_type"], "guest");

    let registered = [("x-user-id", "123"), ("x-customer-type", "registered")];
    let vip = [("x-user-id", "456"), ("x-customer-type", "vip")];
    assert_eq!(
        with_headers(&s.app, Method::GET, "/api/customers/", None, &registered, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        with_headers(&s.app, Method::GET, "/api/customers/", None, &vip, None).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, token_123) = login(&s.app, "customer123@example.com").await;
    assert_eq!(status, StatusCode::OK, "{token_123}");
    assert_eq!(token_123["customer_type"], "registered");
    let token_123 = token_123["access_token"].as_str().unwrap().to_string();
    let (status, me) = with_headers(&s.app, Method::GET, "/api/customers/", Some(&token_123), &registered, None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!((me["customer_type"].as_str(), me["id"].as_str()), (Some("registered"), Some("123")));

    let (_, token_456) = login(&s.app, "vip456@example.com").await;
    assert_eq!(token_456["customer_type"], "vip");
    let token_456 = token_456["access_token"].as_str().unwrap().to_string();
    let (status, me) = with_headers(&s.app, Method::GET, "/api/customers/", Some(&token_456), &vip, None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!((me["customer_type"].as_str(), me["tier"].as_str()), (Some("vip"), Some("bronze")));

    // Hints that do not match the token.
    assert_eq!(
        with_headers(&s.app, Method::GET, "/api/customers/", Some(&token_123), &vip, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        with_headers(&s.app, Method::GET, "/api/customers/", Some(&token_456), &registered, None).await.0,
        StatusCode::FORBIDDEN
    );
    let forged =
        TokenKeys::new(b"someone else's secret of 32 bytes!!").issue("123", CustomerType::Registered, Role::Staff, 60);
    assert_eq!(
        with_headers(&s.app, Method::GET, "/api/customers/", Some(&forged), &[], None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn guest_to_registered_to_vip() {
    let s = stack().await;
    // A guest browses.
    let (status, session) = with_headers(&s.app, Method::POST, "/api/customers/", None, &[], None).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let guest_token = session["token"].as_str().unwrap().to_string();
    let guest = [("x-guest-token", guest_token.as_str())];
    for entry in [
        json!({ "kind": "viewed_item", "item_type": "book", "item_id": KNOWN_BOOK }),
        json!({ "kind": "search", "query": "dune" }),
    ] {
        let (status, _) = with_headers(&s.app, Method::POST, "/api/customers/history", None, &guest, Some(entry)).await;
        assert_eq!(status, StatusCode::CREATED);
    }

    // Signs up: the history moves, the guest session closes.
    let sign_up = json!({ "email": "Gus@Example.com", "password": PASSWORD, "name": "Gus" });
    let (status, accepted) =
        with_headers(&s.app, Method::POST, "/api/customers/signup", None, &guest, Some(sign_up.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["email"], "gus@example.com");
    let (status, _) = with_headers(&s.app, Method::GET, "/api/customers/", None, &guest, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the converted guest token is dead");
    let (status, problem) = login(&s.app, "gus@example.com").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "email not confirmed yet: {problem}");
    let token = mail_token(&s.mail_dir, "gus@example.com");
    let (status, _, _) =
        send(&s.app, Method::POST, "/api/customers/verify-email", None, Some(json!({ "token": token }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, logged_in) = login(&s.app, "gus@example.com").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        merged(session["id"].as_str().unwrap(), logged_in["customer_id"].as_str().unwrap()),
        "the guest's cart joins the account"
    );
    let session = logged_in;
    let token = session["access_token"].as_str().unwrap().to_string();
    let (_, _, history) = send(&s.app, Method::GET, "/api/customers/history", Some(&token), None).await;
    assert_eq!(history["count"], 2, "{history}");

    // Logging in from another guest session brings that session's cart along too.
    let (_, second) = with_headers(&s.app, Method::POST, "/api/customers/", None, &[], None).await;
    let second_token = second["token"].as_str().unwrap().to_string();
    let (status, logged_in) = with_headers(
        &s.app,
        Method::POST,
        "/api/customers/login",
        None,
        &[("x-guest-token", second_token.as_str())],
        Some(json!({ "email": "gus@example.com", "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(merged(second["id"].as_str().unwrap(), logged_in["customer_id"].as_str().unwrap()));

    // Profile and addresses through the router; another customer cannot touch them.
    let (status, _, _) = send(
        &s.app,
        Method::PATCH,
        "/api/customers/profile",
        Some(&token),
        Some(json!({ "phone": "+1 555 010 0199" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let address = json!({ "recipient": "Gus", "line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US" });
    let (status, _, created) =
        send(&s.app, Method::POST, "/api/customers/addresses", Some(&token), Some(address)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, other) = login(&s.app, "customer123@example.com").await;
    let other = other["access_token"].as_str().unwrap().to_string();
    let path = format!("/api/customers/addresses/{}", created["id"].as_str().unwrap());
    assert_eq!(send(&s.app, Method::GET, &path, Some(&other), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(&s.app, Method::DELETE, &path, Some(&other), None).await.0, StatusCode::NOT_FOUND);

    // Becomes a VIP: Bronze, 0 points, Bronze benefits; the next login says vip.
    let (status, _, upgraded) = send(&s.app, Method::POST, "/api/customers/upgrade", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{upgraded}");
    assert_eq!(upgraded["customer"]["tier"], "bronze");
    let vip_token = upgraded["access_token"].as_str().unwrap().to_string();
    let (_, _, me) = send(&s.app, Method::GET, "/api/customers/", Some(&vip_token), None).await;
    assert_eq!((me["tier"].as_str(), me["points_balance"].as_i64()), (Some("bronze"), Some(0)));
    assert_eq!(me["benefits"]["discount_percent"], upgraded["customer"]["benefits"]["discount_percent"]);
    let (_, relogin) = login(&s.app, "gus@example.com").await;
    assert_eq!(relogin["customer_type"], "vip");
    let (status, _, again) = send(&s.app, Method::POST, "/api/customers/upgrade", Some(&vip_token), None).await;
    assert_eq!(status, StatusCode::OK, "upgrading twice is harmless: {again}");

    // Points past a threshold move the tier.
    let (_, staff) = login(&s.app, "staff@shop.local").await;
    let staff = staff["access_token"].as_str().unwrap().to_string();
    let earn = json!({ "kind": "earn", "points": 2000, "reason": "order delivered", "idempotency_key": "order-1" });
    let path = format!("/api/customers/vip/customers/{}/points", me["id"].as_str().unwrap());
    let (status, _, earned) = send(&s.app, Method::POST, &path, Some(&staff), Some(earn.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{earned}");
    assert_ne!(earned["customer"]["tier"], "bronze");
    assert_eq!(send(&s.app, Method::POST, &path, Some(&vip_token), Some(earn)).await.0, StatusCode::FORBIDDEN);

    // A VIP closes their account: the account, the VIP record and the cart go.
    let (status, _, _) =
        send(&s.app, Method::DELETE, "/api/customers/", Some(&vip_token), Some(json!({ "password": PASSWORD }))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(login(&s.app, "gus@example.com").await.0, StatusCode::UNAUTHORIZED);
    assert!(emptied(me["id"].as_str().unwrap()));
}

fn access_token(session: &Value) -> String {
    session["access_token"].as_str().unwrap_or_else(|| panic!("no access token in {session}")).to_string()
}

#[tokio::test]
async fn vip_records_show_the_accounts_name_and_email_as_they_are_now() {
    let s = stack().await;
    let (_, session) = login(&s.app, "vip456@example.com").await;
    let vip = access_token(&session);
    let (status, _, me) = send(&s.app, Method::GET, "/api/customers/", Some(&vip), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!((me["email"].as_str(), me["name"].as_str()), (Some("vip456@example.com"), Some("Val")));

    let (status, _, _) =
        send(&s.app, Method::PATCH, "/api/customers/profile", Some(&vip), Some(json!({ "name": "Valentina" }))).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, me) = send(&s.app, Method::GET, "/api/customers/", Some(&vip), None).await;
    assert_eq!(me["name"], "Valentina", "the VIP view shows the profile's new name at once");
    let (_, staff) = login(&s.app, "staff@shop.local").await;
    let staff = access_token(&staff);
    let (status, _, record) = send(&s.app, Method::GET, "/api/customers/vip/customers/456", Some(&staff), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((record["name"].as_str(), record["email"].as_str()), (Some("Valentina"), Some("vip456@example.com")));
    let (_, _, page) = send(&s.app, Method::GET, "/api/customers/vip/customers", Some(&staff), None).await;
    assert_eq!(page["results"][0]["name"], "Valentina", "{page}");

    // An account without a name: the VIP view says so, rather than showing the email as a name.
    let (status, _, _) = send(
        &s.app,
        Method::POST,
        "/api/customers/signup",
        None,
        Some(json!({ "email": "nameless@example.com", "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let link = mail_token(&s.mail_dir, "nameless@example.com");
    send(&s.app, Method::POST, "/api/customers/verify-email", None, Some(json!({ "token": link }))).await;
    let (_, session) = login(&s.app, "nameless@example.com").await;
    let (status, _, upgraded) =
        send(&s.app, Method::POST, "/api/customers/upgrade", Some(&access_token(&session)), None).await;
    assert_eq!(status, StatusCode::OK, "{upgraded}");
    assert_eq!(upgraded["customer"]["email"], "nameless@example.com");
    assert_eq!(upgraded["customer"]["name"], Value::Null);
    let vip = access_token(&upgraded);
    send(&s.app, Method::PATCH, "/api/customers/profile", Some(&vip), Some(json!({ "name": "Named Later" }))).await;
    let (_, _, me) = send(&s.app, Method::GET, "/api/customers/", Some(&vip), None).await;
    assert_eq!(me["name"], "Named Later");
}

#[tokio::test]
async fn closing_a_vip_account_leaves_no_record_to_read_and_finishes_on_retry() {
    let s = stack().await;
    let cart = failing_once(cart_recorder(), "/internal/cart/customer/456");
    let app = customer_router_with_cart(s.guest.clone(), s.registered.clone(), s.vip.clone(), cart);
    let (_, session) = login(&app, "vip456@example.com").await;
    let vip = access_token(&session);
    let (_, staff) = login(&app, "staff@shop.local").await;
    let staff = access_token(&staff);
    let close = json!({ "password": PASSWORD });

    let (status, _, problem) = send(&app, Method::DELETE, "/api/customers/", Some(&vip), Some(close.clone())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the cart did not answer: {problem}");
    assert!(problem["detail"].as_str().unwrap().contains("send the same request again"), "{problem}");
    let (status, _, _) = send(&app, Method::DELETE, "/api/customers/", Some(&vip), Some(close)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "the retry finishes the closure");
    assert!(emptied("456"));

    let (status, _, body) = send(&app, Method::GET, "/api/customers/", Some(&vip), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.get("email").is_none() && body.get("name").is_none(), "{body}");
    let (status, _, _) = send(&app, Method::GET, "/api/customers/vip/customers/456", Some(&staff), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, page) = send(&app, Method::GET, "/api/customers/vip/customers", Some(&staff), None).await;
    assert_eq!(page["count"], 0, "{page}");
    let (status, _, _) = send(&app, Method::GET, "/api/customers/profile", Some(&vip), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let refresh = json!({ "refresh_token": session["refresh_token"] });
    let (status, _, _) = send(&app, Method::POST, "/api/customers/token/refresh", None, Some(refresh)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the refresh token went with the account");
    assert_eq!(login(&app, "vip456@example.com").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_password_change_revokes_earlier_tokens_in_the_vip_views_at_once() {
    let s = stack().await;
    let (_, session) = login(&s.app, "vip456@example.com").await;
    let old = access_token(&session);
    let change = json!({ "current_password": PASSWORD, "new_password": "another horse 10" });
    let (status, _, _) = send(&s.app, Method::POST, "/api/customers/password", Some(&old), Some(change)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, problem) = send(&s.app, Method::GET, "/api/customers/", Some(&old), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let redeem = json!({ "points": 1, "reason": "voucher", "idempotency_key": "old-token" });
    let (status, _, problem) =
        send(&s.app, Method::POST, "/api/customers/vip/points/redeem", Some(&old), Some(redeem)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "spending points with the old token: {problem}");
    let (status, _, problem) = send(&s.app, Method::POST, "/api/customers/upgrade", Some(&old), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an upgrade would answer a fresh token: {problem}");
    let (status, _, session) = send(
        &s.app,
        Method::POST,
        "/api/customers/login",
        None,
        Some(json!({ "email": "vip456@example.com", "password": "another horse 10" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, me) = send(&s.app, Method::GET, "/api/customers/", Some(&access_token(&session)), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
}

#[tokio::test]
async fn refresh_tokens_keep_a_customer_logged_in_as_the_account_is_now() {
    let s = stack().await;
    let (status, session) = login(&s.app, "customer123@example.com").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["expires_in"], 600);
    assert_eq!(session["refresh_expires_in"], 3600);
    let first = session["refresh_token"].clone();
    let (status, _, _) =
        send(&s.app, Method::POST, "/api/customers/upgrade", Some(&access_token(&session)), None).await;
    assert_eq!(status, StatusCode::OK);

    let refresh = |token: &Value| json!({ "refresh_token": token });
    let (status, _, renewed) =
        send(&s.app, Method::POST, "/api/customers/token/refresh", None, Some(refresh(&first))).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(renewed["customer_type"], "vip", "the new token says what the account is now");
    let claims = keys().verify(&access_token(&renewed)).unwrap();
    assert_eq!((claims.sub.as_str(), claims.typ), ("123", CustomerType::Vip));
    let (status, _, me) = send(&s.app, Method::GET, "/api/customers/", Some(&access_token(&renewed)), None).await;
    assert_eq!((status, me["customer_type"].as_str()), (StatusCode::OK, Some("vip")));

    let (status, _, _) = send(&s.app, Method::POST, "/api/customers/token/refresh", None, Some(refresh(&first))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a refresh token works once");
    let (status, _, _) =
        send(&s.app, Method::POST, "/api/customers/token/refresh", None, Some(refresh(&renewed["refresh_token"])))
            .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "and its reuse revoked the newer one too");

    let (status, _, problem) = send(
        &s.app,
        Method::POST,
        "/api/customers/token/refresh",
        None,
        Some(json!({ "refresh_token": "x", "sub": "1" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, _) = shared::testing::send_raw(
        &s.app,
        Method::POST,
        "/api/customers/token/refresh",
        None,
        "text/plain",
        "refresh_token=x",
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// Fails the first call to `path` with a 500, as a function that crashed would.
fn failing_once(router: Router, path: &'static str) -> Router {
    let calls = Arc::new(AtomicUsize::new(0));
    router.layer(middleware::from_fn(move |request: Request, next: Next| {
        let calls = calls.clone();
        async move {
            if request.uri().path() == path && calls.fetch_add(1, Ordering::SeqCst) == 0 {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            next.run(request).await
        }
    }))
}

#[tokio::test]
async fn transitions_that_fail_half_way_finish_on_retry() {
    let s = stack().await;
    let app =
        customer_router(failing_once(s.guest.clone(), "/internal/guest/convert"), s.registered.clone(), s.vip.clone());
    let (_, session) = with_headers(&app, Method::POST, "/api/customers/", None, &[], None).await;
    let guest_token = session["token"].as_str().unwrap().to_string();
    let guest = [("x-guest-token", guest_token.as_str())];
    with_headers(
        &app,
        Method::POST,
        "/api/customers/history",
        None,
        &guest,
        Some(json!({ "kind": "search", "query": "tents" })),
    )
    .await;
    let sign_up = json!({ "email": "retry@example.com", "password": PASSWORD });

    let (status, problem) =
        with_headers(&app, Method::POST, "/api/customers/signup", None, &guest, Some(sign_up.clone())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    let (status, _) = with_headers(&app, Method::GET, "/api/customers/", None, &guest, None).await;
    assert_eq!(status, StatusCode::OK, "the guest is still a guest until the move finishes");
    let (status, accepted) =
        with_headers(&app, Method::POST, "/api/customers/signup", None, &guest, Some(sign_up)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "the retry finds the account made the first time: {accepted}");
    let (status, _) = with_headers(&app, Method::GET, "/api/customers/", None, &guest, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the retry moved the guest session");
    let verify = mail_token(&s.mail_dir, "retry@example.com");
    send(&app, Method::POST, "/api/customers/verify-email", None, Some(json!({ "token": verify }))).await;
    let (_, session) = login(&app, "retry@example.com").await;
    let token = session["access_token"].as_str().unwrap().to_string();
    let (_, _, history) = send(&app, Method::GET, "/api/customers/history", Some(&token), None).await;
    assert_eq!(history["count"], 1, "history moved once");

    // The VIP service down mid-upgrade: still registered, and the retry finishes.
    let app =
        customer_router(s.guest.clone(), s.registered.clone(), failing_once(s.vip.clone(), "/internal/vip/enroll"));
    let (status, _, _) = send(&app, Method::POST, "/api/customers/upgrade", Some(&token), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (_, relogin) = login(&app, "retry@example.com").await;
    assert_eq!(relogin["customer_type"], "registered");
    let (status, _, upgraded) = send(&app, Method::POST, "/api/customers/upgrade", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{upgraded}");
    let (_, relogin) = login(&app, "retry@example.com").await;
    assert_eq!(relogin["customer_type"], "vip");
}

#[tokio::test]
async fn bad_requests_and_odd_paths_are_clear_problems() {
    let s = stack().await;
    let (status, _, problem) = send(
        &s.app,
        Method::POST,
        "/api/customers/login",
        None,
        Some(json!({ "email": "customer123@example.com", "password": "nope nope 1" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let (status, _, problem) = send(
        &s.app,
        Method::POST,
        "/api/customers/login",
        None,
        Some(json!({ "email": "a@b.co", "password": "x", "admin": true })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem["errors"].get("admin").is_some());
    let (status, _, problem) = send(
        &s.app,
        Method::POST,
        "/api/customers/signup",
        None,
        Some(json!({ "email": "x@example.com", "password": PASSWORD, "guest_id": "guest_x" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "customers cannot claim a guest session by id: {problem}");
    let (status, _) =
        shared::testing::send_raw(&s.app, Method::POST, "/api/customers/login", None, "text/plain", "hi").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) =
        shared::testing::send_raw(&s.app, Method::POST, "/api/customers/login", None, "application/json", "{").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for path in [
        "/api/customers/internal/registered/authenticate",
        "/api/customers/../internal/vip/enroll",
        "/api/customers/nothing",
    ] {
        let (status, _, _) = send(&s.app, Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _, _) = send(&s.app, Method::POST, "/api/customers/upgrade", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) =
        with_headers(&s.app, Method::GET, "/api/customers/", None, &[("x-customer-type", "admin")], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = send(&s.app, Method::GET, "/api/customers/vip/benefits", None, None).await;
    assert_eq!(status, StatusCode::OK, "the benefits catalog is public");
}

#[tokio::test]
async fn the_router_answers_for_paths_served_per_type_and_routes_before_it_checks_callers() {
    let s = stack().await;
    let (_, login) = login(&s.app, "customer123@example.com").await;
    let token = login["access_token"].as_str().unwrap().to_string();

    // Guest sessions are for callers without an account.
    let (status, _) = with_headers(&s.app, Method::POST, "/api/customers/", Some(&token), &[], None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // A customer's history goes on after sign-up: searches and items that exist, of their own type.
    let history = "/api/customers/history";
    for (entry, expected) in [
        (json!({ "kind": "search", "query": "dune" }), StatusCode::CREATED),
        (json!({ "kind": "viewed_item", "item_type": "book", "item_id": KNOWN_BOOK }), StatusCode::CREATED),
        (
            json!({ "kind": "viewed_item", "item_type": "book", "item_id": "book_01JDQ0000000000000000000ZZ" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "kind": "viewed_item", "item_type": "laptop", "item_id": KNOWN_BOOK }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (status, answer) =
            with_headers(&s.app, Method::POST, history, Some(&token), &[], Some(entry.clone())).await;
        assert_eq!(status, expected, "{entry}: {answer}");
    }
    let (_, page) = with_headers(&s.app, Method::GET, history, Some(&token), &[], None).await;
    assert_eq!(page["count"], 2, "{page}");
    assert_eq!(page["results"][0]["item_id"], KNOWN_BOOK, "newest first: {page}");
    // Closing an account without one to close: log in first.
    let (status, _) =
        with_headers(&s.app, Method::DELETE, "/api/customers/", None, &[], Some(json!({ "password": PASSWORD }))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // 404 and 405 (with every method of the path) come before hints and tokens.
    let hints = [("x-customer-type", "vip"), ("x-user-id", "someone")];
    for (method, path, allow) in [
        (Method::PUT, "/api/customers/", "GET, HEAD, POST, DELETE"),
        (Method::TRACE, "/api/customers/history", "GET, HEAD, POST"),
        (Method::DELETE, "/api/customers/profile/", "GET, HEAD, PATCH"),
        (Method::GET, "/api/customers/vip/points/redeem", "POST"),
    ] {
        let request = http::Request::builder()
            .method(method.clone())
            .uri(path)
            .header("x-customer-type", "vip")
            .header("x-user-id", "someone")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(s.app.clone(), request).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
    let (status, _) = with_headers(&s.app, Method::GET, "/api/customers/history/x", None, &hints, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Upgrading: a customer names no one else, and a named id must be an id.
    let (status, _) = with_headers(
        &s.app,
        Method::POST,
        "/api/customers/upgrade",
        Some(&token),
        &[],
        Some(json!({ "customer_id": "456" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let staff = keys().issue("staff_1", CustomerType::Registered, Role::Staff, 60);
    for bad in [json!({ "customer_id": "a b/../c" }), json!({ "customer_id": 7 }), json!({ "who": "123" }), json!({})] {
        let (status, problem) =
            with_headers(&s.app, Method::POST, "/api/customers/upgrade", Some(&staff), &[], Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {problem}");
    }
}

#[tokio::test]
async fn a_function_that_does_not_answer_is_cut_off_at_the_routers_deadline() {
    let hanging = Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        StatusCode::OK
    });
    let invoker = InProcessInvoker::new()
        .with("guest-customer", hanging.clone())
        .with("registered-customer", hanging.clone())
        .with("vip-customer", hanging);
    let app = router_over(invoker, Duration::from_millis(300));
    let vip = keys().issue("456", CustomerType::Vip, Role::Customer, 600);
    for token in [None, Some(vip.as_str())] {
        let started = std::time::Instant::now();
        let mut request = http::Request::builder().uri("/api/customers/");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(axum::body::Body::empty()).unwrap();
        let response = tower::ServiceExt::oneshot(app.clone(), request).await.unwrap();
        // The function would take a minute; the router gives up at its own deadline.
        assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key("retry-after"));
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let problem: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("300 ms"), "{problem}");
    }
}

/// Sign-up and resend tell nobody which emails are customers: a known address
/// gets the same answer as a new one (its owner gets a mail), and every
/// address, known or not, gets at most three mails an hour.
#[tokio::test]
async fn sign_up_and_resend_answer_alike_for_known_and_new_addresses() {
    let s = stack().await;
    let strip = |mut answer: Value| {
        answer["email"] = Value::Null;
        answer
    };
    let (_, guest) = with_headers(&s.app, Method::POST, "/api/customers/", None, &[], None).await;
    let guest_token = guest["token"].as_str().unwrap().to_string();
    let sign_up = |email: &str| json!({ "email": email, "password": PASSWORD });
    let (new_status, new_answer) =
        with_headers(&s.app, Method::POST, "/api/customers/signup", None, &[], Some(sign_up("fresh@example.com")))
            .await;
    let (known_status, known_answer) = with_headers(
        &s.app,
        Method::POST,
        "/api/customers/signup",
        None,
        &[("x-guest-token", guest_token.as_str())],
        Some(sign_up("customer123@example.com")),
    )
    .await;
    assert_eq!((new_status, strip(new_answer)), (known_status, strip(known_answer)));
    assert_eq!(known_status, StatusCode::ACCEPTED);
    let note = mails_to(&s.mail_dir, "customer123@example.com");
    assert!(note.iter().any(|m| m.contains("You already have an account")), "{note:?}");
    let (status, _) =
        with_headers(&s.app, Method::GET, "/api/customers/", None, &[("x-guest-token", guest_token.as_str())], None)
            .await;
    assert_eq!(status, StatusCode::OK, "the guest keeps the session: it moves only into a new account");

    // Resends: the same answers for an address with an account and one without, and a limit for both.
    for email in ["fresh@example.com", "nobody@example.com"] {
        let resend =
            || send(&s.app, Method::POST, "/api/customers/verify-email/resend", None, Some(json!({ "email": email })));
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(resend().await.0.as_u16());
        }
        // fresh@ had its sign-up mail: two resends; nobody@ had none: three.
        let expected: &[u16] = if email == "fresh@example.com" { &[202, 202, 429, 429] } else { &[202, 202, 202, 429] };
        assert_eq!(statuses, expected, "{email}");
    }
    assert_eq!(mails_to(&s.mail_dir, "fresh@example.com").len(), 3, "the sign-up's mail and two resends");
    assert!(mails_to(&s.mail_dir, "nobody@example.com").is_empty());
}

fn mails_to(dir: &PathBuf, email: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter(|text| text.contains(&format!("To: {email}")))
        .collect()
}
