//! DynamoDB going away (a cut proxy in front of the moto server): the guest
//! service answers 503 with `Retry-After`, writes nothing, and serves again
//! once the table is reachable.

mod support;

use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use shared::testing::faults::CutProxy;
use support::{Backend, dynamo_endpoint, dynamo_store_via};
use tower::ServiceExt;

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::builder().method(method).uri(uri).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("x-guest-token", token);
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    let response = app.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, retry_after, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_unreachable_table_is_a_503_and_changes_nothing() {
    let endpoint = dynamo_endpoint();
    let proxy = CutProxy::start(endpoint.trim_start_matches("http://").trim_end_matches('/')).await;
    let Some((store, _)) = dynamo_store_via("faults", &format!("http://127.0.0.1:{}", proxy.port())).await else {
        return;
    };
    let app = Backend { name: "dynamodb", store }.app();
    let (status, _, session) = send(&app, Method::POST, "/api/guest-customer/", None, None).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let (id, token) = (session["id"].as_str().unwrap(), session["token"].as_str().unwrap());
    let (session_path, history) = (format!("/api/guest-customer/{id}/"), format!("/api/guest-customer/{id}/history"));
    let viewed = json!({ "kind": "viewed_item", "item_type": "book", "item_id": "book_01KE226VD8K7WF2X7HM5T2628T" });

    proxy.cut();
    for (method, uri, token, body) in [
        (Method::POST, "/api/guest-customer/", None, None),
        (Method::GET, session_path.as_str(), Some(token), None),
        (Method::POST, history.as_str(), Some(token), Some(&viewed)),
    ] {
        let (status, retry_after, problem) = send(&app, method.clone(), uri, token, body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{method} {uri}: {problem}");
        assert_eq!(problem["status"], 503, "{problem}");
        assert!(retry_after.is_some_and(|s| s.parse::<u32>().is_ok_and(|n| n >= 1)), "{method} {uri}");
    }
    proxy.restore();

    let (status, _, view) = send(&app, Method::GET, &session_path, Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["history_count"], 0, "the refused entry was not written");
    let (status, _, entry) = send(&app, Method::POST, &history, Some(token), Some(&viewed)).await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
}
