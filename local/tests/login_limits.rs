//! Failed logins through the customer router are limited per email and per
//! client address, the address being the one API Gateway (here: the local
//! server's connection) reports, never a header the client sets.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ConnectInfo;
use fixtures::customers::{DEMO_CUSTOMER_PASSWORD, DEMO_STAFF_PASSWORD, Passwords, STAFF_EMAIL};
use http::{Request, StatusCode};
use serde_json::json;
use shared::config::Env;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn shop() -> Router {
    let dir = std::env::temp_dir().join(format!("shop-login-limits-{}", shared::ids::new_id("t")));
    let env = Env::from_pairs([
        ("LOCAL_DATA_DIR", dir.display().to_string()),
        ("LOGIN_FAILURES_PER_ACCOUNT", "2".into()),
        ("LOGIN_FAILURES_PER_SOURCE", "3".into()),
    ]);
    let functions = local::Functions::build(&env).unwrap();
    functions.load_fixtures(&Passwords::demo()).await.unwrap();
    functions.app().unwrap()
}

/// A login from `source`, as a connection from that address would arrive.
async fn log_in(app: &Router, source: &str, email: &str, password: &str) -> (StatusCode, Option<String>) {
    let body = json!({ "email": email, "password": password }).to_string();
    let mut request = Request::post("/api/customers/login")
        .header("content-type", "application/json")
        // Ignored: only the connection's address counts.
        .header("x-forwarded-for", "192.0.2.200")
        .body(axum::body::Body::from(body))
        .unwrap();
    let peer: SocketAddr = format!("{source}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = tower::ServiceExt::oneshot(app.clone(), request).await.unwrap();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    (response.status(), retry_after)
}

const CUSTOMER: &str = "customer123@example.com";

#[tokio::test]
async fn an_email_locks_after_its_failures_wherever_they_come_from() {
    let app = shop().await;
    for source in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(log_in(&app, source, CUSTOMER, "not the password 1").await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, retry_after) = log_in(&app, "203.0.113.3", CUSTOMER, DEMO_CUSTOMER_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the right password is refused while locked");
    let seconds: u64 = retry_after.expect("a Retry-After").parse().unwrap();
    assert!((1..=900).contains(&seconds), "{seconds}");
    assert_eq!(log_in(&app, "203.0.113.3", STAFF_EMAIL, DEMO_STAFF_PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_address_locks_after_its_failures_whatever_emails_they_name() {
    let app = shop().await;
    let guesser = "198.51.100.9";
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        assert_eq!(log_in(&app, guesser, email, "guess 12345").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(log_in(&app, guesser, STAFF_EMAIL, DEMO_STAFF_PASSWORD).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(log_in(&app, "198.51.100.10", STAFF_EMAIL, DEMO_STAFF_PASSWORD).await.0, StatusCode::OK);
}

/// The local server as `cargo run -p local` serves it: the address is the socket's.
#[tokio::test]
async fn the_server_counts_the_connections_address() {
    let app = shop().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, app.clone().into_make_service_with_connect_info::<SocketAddr>()).into_future());
    let over_tcp = |email: &'static str, password: &'static str| async move {
        let body = json!({ "email": email, "password": password }).to_string();
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!(
            "POST /api/customers/login HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response.split(' ').nth(1).unwrap().parse::<u16>().unwrap()
    };
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        assert_eq!(over_tcp(email, "guess 12345").await, 401);
    }
    assert_eq!(over_tcp(STAFF_EMAIL, DEMO_STAFF_PASSWORD).await, 429, "127.0.0.1 is locked");
    assert_eq!(log_in(&app, "203.0.113.7", STAFF_EMAIL, DEMO_STAFF_PASSWORD).await.0, StatusCode::OK);
}
