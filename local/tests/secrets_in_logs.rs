//! Passwords, tokens and secrets never reach the logs: a customer's whole
//! account life (sign-up, the mailed link, logins right and wrong, a password
//! change, a refresh, a guest session, closing the account) runs with every function's
//! logs captured at TRACE, in the JSON Lambda writes, and none of them appear.
//!
//! One test in this file: it installs the process-wide subscriber.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::config::Env;
use shared::testing::send;

#[tokio::test]
async fn no_password_token_or_secret_is_logged() {
    let logs = shared::testing::CapturedLogs::install(true);

    let dir = std::env::temp_dir().join(format!("shop-secrets-{}", shared::ids::new_id("t")));
    let secret = "a-test-secret-that-must-never-be-logged-0123456789";
    let functions = local::Functions::build(&Env::from_pairs([
        ("LOCAL_DATA_DIR", dir.display().to_string()),
        ("JWT_SECRET", secret.to_string()),
    ]))
    .unwrap();
    let app = functions.app().unwrap();

    let (status, _, guest) = send(&app, Method::POST, "/api/customers/", None, None).await;
    assert_eq!(status, StatusCode::CREATED, "{guest}");
    let guest_token = guest["token"].as_str().unwrap().to_string();
    let guest_headers = |method: Method, uri: &str, body: Option<Value>| {
        let mut request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("x-guest-token", &guest_token)
            .header("content-type", "application/json");
        if body.is_none() {
            request = request.header("content-length", "0");
        }
        request.body(axum::body::Body::from(body.map(|b| b.to_string()).unwrap_or_default())).unwrap()
    };
    let response =
        tower::ServiceExt::oneshot(app.clone(), guest_headers(Method::GET, "/api/customers/", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let first_password = "first Secret 4711";
    let signup = json!({ "email": "mallory.private@example.com", "password": first_password, "name": "M" });
    let response =
        tower::ServiceExt::oneshot(app.clone(), guest_headers(Method::POST, "/api/customers/signup", Some(signup)))
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let mail = std::fs::read_dir(dir.join("mail")).unwrap().next().unwrap().unwrap().path();
    let mail = std::fs::read_to_string(mail).unwrap();
    let start = mail.find("token=").unwrap() + "token=".len();
    let link_token = mail[start..].split_whitespace().next().unwrap().to_string();
    let (status, _, _) =
        send(&app, Method::POST, "/api/customers/verify-email", None, Some(json!({ "token": link_token }))).await;
    assert_eq!(status, StatusCode::OK);

    let wrong_password = "wrong Secret 0815";
    let login = |password: &str| json!({ "email": "mallory.private@example.com", "password": password });
    let (status, _, _) = send(&app, Method::POST, "/api/customers/login", None, Some(login(wrong_password))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, session) =
        send(&app, Method::POST, "/api/customers/login", None, Some(login(first_password))).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let access_token = session["access_token"].as_str().unwrap().to_string();

    let (status, _, _) = send(&app, Method::GET, "/api/customers/profile", Some(&access_token), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(&app, Method::GET, "/api/cart/", Some(&access_token), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(&app, Method::GET, "/api/orders/", Some("eyJhbGciOiJIUzI1NiJ9.forged.token"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let second_password = "second Secret 1337";
    let change = json!({ "current_password": first_password, "new_password": second_password });
    let (status, _, _) = send(&app, Method::POST, "/api/customers/password", Some(&access_token), Some(change)).await;
    assert!(status.is_success(), "{status}");
    // A password typed into the email field is a common slip.
    let slip = json!({ "email": second_password, "password": second_password });
    let (status, _, _) = send(&app, Method::POST, "/api/customers/login", None, Some(slip)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The change revoked the token: the customer logs in again, then refreshes.
    let (status, _, session) =
        send(&app, Method::POST, "/api/customers/login", None, Some(login(second_password))).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let refresh_token = session["refresh_token"].as_str().unwrap().to_string();
    let (status, _, session) =
        send(&app, Method::POST, "/api/customers/token/refresh", None, Some(json!({ "refresh_token": refresh_token })))
            .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let second_access_token = session["access_token"].as_str().unwrap().to_string();
    let close = json!({ "password": second_password });
    let (status, _, _) = send(&app, Method::DELETE, "/api/customers/", Some(&second_access_token), Some(close)).await;
    assert!(status.is_success(), "{status}");

    let text = logs.text();
    assert!(text.lines().count() > 20, "the logs were captured:\n{text}");
    assert!(text.contains("logged in"), "the login was logged:\n{text}");
    for (what, value) in [
        ("first password", first_password),
        ("wrong password", wrong_password),
        ("second password", second_password),
        ("guest token", guest_token.as_str()),
        ("email link token", link_token.as_str()),
        ("access token", access_token.as_str()),
        ("second access token", second_access_token.as_str()),
        ("refresh token", refresh_token.as_str()),
        ("signing secret", secret),
    ] {
        assert!(!text.contains(value), "the {what} is in the logs:\n{text}");
    }
    // Nor any part of a token long enough to matter (a JWT's signature alone).
    let signature = access_token.rsplit('.').next().unwrap();
    assert!(!text.contains(signature), "the access token's signature is in the logs");
}
