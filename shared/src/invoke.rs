//! Calling another function: through the Lambda Invoke API when deployed (and
//! under `cargo lambda watch`), or by calling its Router directly in process.
//!
//! Either way the caller hands over an HTTP request and gets an HTTP response,
//! so routers forward status, headers and body unchanged.

use std::collections::HashMap;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;
use tower::ServiceExt;

/// Largest response body accepted back from an invoked function (Lambda's own limit is 6 MB).
const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("no function named `{0}` is configured")]
    UnknownFunction(String),
    #[error("the function failed: {0}")]
    FunctionFailed(String),
    #[error("the function could not be reached: {0}")]
    Transport(String),
    #[error("the function answered something that is not an HTTP response: {0}")]
    BadResponse(String),
}

#[async_trait]
pub trait Invoker: Send + Sync {
    async fn invoke(&self, function: &str, request: Request<Bytes>) -> Result<Response<Bytes>, InvokeError>;
}

/// Calls Routers in this process: the local server and tests.
#[derive(Clone, Default)]
pub struct InProcessInvoker {
    functions: HashMap<String, Router>,
}

impl InProcessInvoker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, function: &str, router: Router) -> Self {
        self.functions.insert(function.to_string(), router);
        self
    }
}

#[async_trait]
impl Invoker for InProcessInvoker {
    async fn invoke(&self, function: &str, request: Request<Bytes>) -> Result<Response<Bytes>, InvokeError> {
        let router = self.functions.get(function).ok_or_else(|| InvokeError::UnknownFunction(function.to_string()))?;
        let response = router.clone().oneshot(request.map(Body::from)).await.unwrap_or_else(|never| match never {});
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| InvokeError::BadResponse(e.to_string()))?;
        Ok(Response::from_parts(parts, bytes))
    }
}

/// An [`InProcessInvoker`] handed to callers before the Routers it calls exist,
/// for functions that call each other (order, paying and shipping do): the
/// local server builds every function with one of these, then binds the table.
/// The table's Routers hold this invoker, so it keeps the table weakly (the
/// local server owns it): a shop built and dropped, as tests do, frees its
/// stores and their connections instead of keeping them in a cycle.
#[derive(Clone, Default)]
pub struct LateBoundInvoker {
    functions: std::sync::Arc<std::sync::OnceLock<std::sync::Weak<InProcessInvoker>>>,
}

impl LateBoundInvoker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the functions once (false for a second table); the caller keeps
    /// `functions` alive for as long as they are to be reached.
    pub fn bind(&self, functions: &std::sync::Arc<InProcessInvoker>) -> bool {
        self.functions.set(std::sync::Arc::downgrade(functions)).is_ok()
    }
}

#[async_trait]
impl Invoker for LateBoundInvoker {
    async fn invoke(&self, function: &str, request: Request<Bytes>) -> Result<Response<Bytes>, InvokeError> {
        match self.functions.get().and_then(std::sync::Weak::upgrade) {
            Some(functions) => functions.invoke(function, request).await,
            None => Err(InvokeError::UnknownFunction(function.to_string())),
        }
    }
}

/// Calls functions through the Lambda Invoke API with API Gateway v2 events, so the
/// target runs exactly as it does behind API Gateway. The SDK client is built on
/// first use and reused: nothing of it runs during init.
#[derive(Default)]
pub struct LambdaInvoker {
    client: OnceCell<aws_sdk_lambda::Client>,
}

impl LambdaInvoker {
    pub fn new() -> Self {
        Self::default()
    }

    async fn client(&self) -> &aws_sdk_lambda::Client {
        self.client.get_or_init(|| async { lambda_client(|name| std::env::var(name).ok()) }).await
    }
}

/// The Lambda client as a function's environment configures it. Invoking only
/// ever happens inside Lambda (or `cargo lambda watch` and `sam local`, which set
/// the same variables), where the execution role's credentials and the region
/// are environment variables; reading just those, rather than the SDK's whole
/// default chain (profiles, SSO, STS, IMDS), keeps that chain's code out of the
/// routers' zips. `AWS_ENDPOINT_URL_LAMBDA` (or `AWS_ENDPOINT_URL`) points the
/// client at a local Invoke endpoint.
fn lambda_client(var: impl Fn(&str) -> Option<String>) -> aws_sdk_lambda::Client {
    use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    let region = set("AWS_REGION").or_else(|| set("AWS_DEFAULT_REGION"));
    let mut config =
        aws_sdk_lambda::Config::builder().behavior_version(BehaviorVersion::latest()).region(region.map(Region::new));
    // Lambda sets these once per execution environment; without them the SDK
    // answers each call with a "no credentials" error.
    if let (Some(key), Some(secret)) = (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
        config =
            config.credentials_provider(Credentials::new(key, secret, set("AWS_SESSION_TOKEN"), None, "environment"));
    }
    // TCP_NODELAY on: see crate::aws.
    config = config.http_client(crate::aws::https_client());
    if let Some(endpoint) = set("AWS_ENDPOINT_URL_LAMBDA").or_else(|| set("AWS_ENDPOINT_URL")) {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_lambda::Client::from_conf(config.build())
}

#[async_trait]
impl Invoker for LambdaInvoker {
    async fn invoke(&self, function: &str, request: Request<Bytes>) -> Result<Response<Bytes>, InvokeError> {
        let event = serde_json::to_vec(&to_apigw_event(&request)).map_err(|e| InvokeError::Transport(e.to_string()))?;
        let output = self
            .client()
            .await
            .invoke()
            .function_name(function)
            .payload(aws_sdk_lambda::primitives::Blob::new(event))
            .send()
            .await
            .map_err(|e| InvokeError::Transport(aws_sdk_lambda::error::DisplayErrorContext(e).to_string()))?;
        let payload = output.payload().map(|p| p.as_ref()).unwrap_or_default();
        if let Some(kind) = output.function_error() {
            let message = serde_json::from_slice::<Value>(payload)
                .ok()
                .and_then(|v| v.get("errorMessage").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default();
            return Err(InvokeError::FunctionFailed(format!("{kind}: {message}")));
        }
        from_apigw_response(payload)
    }
}

/// The API Gateway HTTP API (payload 2.0) event for a request.
pub fn to_apigw_event(request: &Request<Bytes>) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for name in request.headers().keys() {
        let values: Vec<&str> = request.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        if name == http::header::COOKIE {
            cookies.extend(values.iter().flat_map(|v| v.split(';')).map(|c| Value::from(c.trim())));
        } else {
            headers.insert(name.as_str().to_string(), Value::from(values.join(",")));
        }
    }
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or("");
    let mut query_params = Map::new();
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default() {
        match query_params.get_mut(&k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                query_params.insert(k, Value::from(v));
            }
        }
    }
    let (body, is_base64) = match std::str::from_utf8(request.body()) {
        _ if request.body().is_empty() => (Value::Null, false),
        Ok(text) => (Value::from(text), false),
        Err(_) => (Value::from(BASE64.encode(request.body())), true),
    };
    let now = time::OffsetDateTime::now_utc();
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    // lambda_http builds the request URI from the host; without one the path is lost.
    let host = Some(header("host")).filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".to_string());
    headers.entry("host").or_insert_with(|| Value::from(host.clone()));
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "cookies": cookies,
        "headers": headers,
        "queryStringParameters": query_params,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "invoke",
            "domainName": host,
            "domainPrefix": "",
            "http": {
                "method": request.method().as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": header("x-forwarded-for").split(',').next().unwrap_or("").trim(),
                "userAgent": header("user-agent"),
            },
            "requestId": ulid::Ulid::new().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default(),
            "timeEpoch": now.unix_timestamp() * 1000,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// The HTTP response in an API Gateway HTTP API function's reply.
pub fn from_apigw_response(payload: &[u8]) -> Result<Response<Bytes>, InvokeError> {
    let bad = |why: &str| InvokeError::BadResponse(why.to_string());
    let reply: Value = serde_json::from_slice(payload).map_err(|e| InvokeError::BadResponse(e.to_string()))?;
    let status = reply.get("statusCode").and_then(Value::as_u64).ok_or_else(|| bad("no statusCode"))?;
    let status =
        u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).ok_or_else(|| bad("bad statusCode"))?;
    let mut headers = HeaderMap::new();
    if let Some(Value::Object(map)) = reply.get("headers") {
        for (name, value) in map {
            if let (Ok(name), Some(Ok(value))) =
                (HeaderName::try_from(name.as_str()), value.as_str().map(HeaderValue::from_str))
            {
                headers.append(name, value);
            }
        }
    }
    if let Some(Value::Object(map)) = reply.get("multiValueHeaders") {
        for (name, values) in map {
            let Ok(name) = HeaderName::try_from(name.as_str()) else { continue };
            if headers.contains_key(&name) {
                continue;
            }
            for value in values.as_array().into_iter().flatten().filter_map(Value::as_str) {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.append(name.clone(), value);
                }
            }
        }
    }
    for cookie in reply.get("cookies").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(http::header::SET_COOKIE, value);
        }
    }
    let body = match reply.get("body").and_then(Value::as_str) {
        None => Bytes::new(),
        Some(text) if reply.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) => {
            Bytes::from(BASE64.decode(text).map_err(|e| InvokeError::BadResponse(e.to_string()))?)
        }
        Some(text) => Bytes::from(text.to_string()),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client reads region, credentials and endpoint from the environment
    /// given, signs its calls, and reaches a local Invoke endpoint.
    #[tokio::test]
    async fn the_lambda_client_invokes_the_endpoint_its_environment_names() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let endpoint = Router::new().route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(
                move |axum::extract::Path(name): axum::extract::Path<String>, headers: HeaderMap, body: Bytes| {
                    let log = log.clone();
                    async move {
                        let event: Value = serde_json::from_slice(&body).unwrap();
                        let signed = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
                        log.lock().unwrap().push((name, event["rawPath"].clone(), signed.to_string()));
                        axum::Json(json!({ "statusCode": 200, "headers": {}, "body": "pong" }))
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, endpoint).await.unwrap() });

        let env = HashMap::from([
            ("AWS_REGION", "eu-west-1".to_string()),
            ("AWS_ACCESS_KEY_ID", "AKIDLOCAL".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "local-secret".to_string()),
            ("AWS_ENDPOINT_URL_LAMBDA", format!("http://{address}")),
        ]);
        let client = lambda_client(|name| env.get(name).cloned());
        assert_eq!(client.config().region().map(|r| r.as_ref()), Some("eu-west-1"));
        let invoker = LambdaInvoker { client: OnceCell::new_with(Some(client)) };
        let request = Request::builder().uri("/api/books/").body(Bytes::new()).unwrap();
        let response = invoker.invoke("book", request).await.unwrap();
        assert_eq!(response.body().as_ref(), b"pong");
        let seen = seen.lock().unwrap();
        assert_eq!((seen[0].0.as_str(), &seen[0].1), ("book", &json!("/api/books/")));
        assert!(seen[0].2.starts_with("AWS4-HMAC-SHA256 Credential=AKIDLOCAL/"), "{}", seen[0].2);
        assert!(seen[0].2.contains("/eu-west-1/lambda/"), "{}", seen[0].2);
    }

    #[tokio::test]
    async fn late_bound_invoker_reaches_functions_bound_after_it_was_handed_out() {
        let late = LateBoundInvoker::new();
        let request = || Request::builder().uri("/ping").body(Bytes::new()).unwrap();
        assert!(matches!(late.invoke("echo", request()).await, Err(InvokeError::UnknownFunction(_))));
        let echo = Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
        let table = std::sync::Arc::new(InProcessInvoker::new().with("echo", echo));
        assert!(late.bind(&table));
        assert!(!late.bind(&std::sync::Arc::new(InProcessInvoker::new())), "the table is set once");
        let response = late.clone().invoke("echo", request()).await.unwrap();
        assert_eq!(response.body().as_ref(), b"pong");
        drop(table);
        assert!(matches!(late.invoke("echo", request()).await, Err(InvokeError::UnknownFunction(_))), "held weakly");
    }

    #[test]
    fn events_carry_method_path_query_headers_and_body() {
        let request = Request::builder()
            .method("POST")
            .uri("/api/books/?author=Martin&author=Fowler")
            .header("authorization", "Bearer t")
            .header("cookie", "a=1; b=2")
            .body(Bytes::from_static(b"{\"name\":\"x\"}"))
            .unwrap();
        let event = to_apigw_event(&request);
        assert_eq!(event["rawPath"], "/api/books/");
        assert_eq!(event["rawQueryString"], "author=Martin&author=Fowler");
        assert_eq!(event["queryStringParameters"]["author"], "Martin,Fowler");
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
        assert_eq!(event["headers"]["authorization"], "Bearer t");
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(event["body"], "{\"name\":\"x\"}");
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(
            event["headers"]["host"], "localhost",
            "a host is always there for lambda_http to build the URI from"
        );
    }

    #[test]
    fn binary_bodies_are_base64_encoded() {
        let request = Request::builder().uri("/x").body(Bytes::from_static(&[0xff, 0x00])).unwrap();
        let event = to_apigw_event(&request);
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "/wA=");
    }

    #[test]
    fn replies_become_responses() {
        let reply = br#"{"statusCode":201,"headers":{"content-type":"application/json","location":"/api/books/b"},"body":"{\"id\":1}","isBase64Encoded":false,"cookies":["s=1"]}"#;
        let response = from_apigw_response(reply).unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["location"], "/api/books/b");
        assert_eq!(response.headers()["set-cookie"], "s=1");
        assert_eq!(response.body().as_ref(), b"{\"id\":1}");
        let encoded = br#"{"statusCode":200,"body":"/wA=","isBase64Encoded":true}"#;
        assert_eq!(from_apigw_response(encoded).unwrap().body().as_ref(), &[0xff, 0x00]);
        assert!(from_apigw_response(b"{\"errorMessage\":\"boom\"}").is_err());
    }

    #[tokio::test]
    async fn in_process_calls_the_router_and_reports_unknown_functions() {
        let router = Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
        let invoker = InProcessInvoker::new().with("ping", router);
        let request = || Request::builder().uri("/ping").body(Bytes::new()).unwrap();
        let response = invoker.invoke("ping", request()).await.unwrap();
        assert_eq!(response.body().as_ref(), b"pong");
        assert!(matches!(invoker.invoke("nope", request()).await, Err(InvokeError::UnknownFunction(_))));
    }
}
