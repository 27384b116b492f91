//! A minimal Lambda service on 127.0.0.1: the Runtime API a function process
//! polls (`/2018-06-01/runtime/...`), and the Invoke API (`/2015-03-31/...`)
//! the routers call, answered by the functions' Routers in this process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tower::ServiceExt;

use crate::Error;

const MAX_BODY: usize = 8 * 1024 * 1024;

/// What the function posted for an invocation.
#[derive(Debug)]
pub enum Reply {
    Response(Bytes),
    Error(Bytes),
}

struct Invocation {
    id: String,
    event: Value,
    reply: oneshot::Sender<Reply>,
}

struct Inner {
    function_arn: String,
    next_calls: mpsc::UnboundedSender<Instant>,
    queue: Mutex<mpsc::Receiver<Invocation>>,
    waiting: StdMutex<HashMap<String, oneshot::Sender<Reply>>>,
    init_error: StdMutex<Option<String>>,
    shutdown: watch::Receiver<bool>,
    /// Routers answering the Invoke API, by function name.
    peers: Arc<HashMap<String, Router>>,
}

/// One Lambda service for one function process: a fresh one per process start,
/// so a killed process's pending poll can never take the next process's event.
pub struct MockLambda {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    queue: mpsc::Sender<Invocation>,
    next_calls: mpsc::UnboundedReceiver<Instant>,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    invocations: u64,
}

impl MockLambda {
    pub async fn start(function: &str, peers: Arc<HashMap<String, Router>>) -> Result<Self, Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("the mock Lambda service cannot listen: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (queue_tx, queue_rx) = mpsc::channel(1);
        let (next_tx, next_rx) = mpsc::unbounded_channel();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let inner = Arc::new(Inner {
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function}"),
            next_calls: next_tx,
            queue: Mutex::new(queue_rx),
            waiting: StdMutex::new(HashMap::new()),
            init_error: StdMutex::new(None),
            shutdown: shutdown_rx.clone(),
            peers,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(inner.clone());
        let mut stop = shutdown_rx;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        });
        Ok(Self { addr, inner, queue: queue_tx, next_calls: next_rx, shutdown: shutdown_tx, server, invocations: 0 })
    }

    /// The first `next` poll, or `None` after `timeout`.
    pub async fn first_poll(&mut self, timeout: Duration) -> Option<Instant> {
        tokio::time::timeout(timeout, self.next_calls.recv()).await.ok().flatten()
    }

    /// What the function reported through `/runtime/init/error`, if anything.
    pub fn init_error(&self) -> Option<String> {
        self.inner.init_error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Hands `event` to the function's next poll and waits for its reply.
    pub async fn invoke(&mut self, event: Value, timeout: Duration) -> Result<Reply, Error> {
        self.invocations += 1;
        let id = format!("bench-{:08}", self.invocations);
        let (reply_tx, reply_rx) = oneshot::channel();
        let work = async {
            self.queue
                .send(Invocation { id: id.clone(), event, reply: reply_tx })
                .await
                .map_err(|_| "the mock Lambda service stopped".to_string())?;
            reply_rx.await.map_err(|_| "the invocation was dropped".to_string())
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(result) => result.map_err(Error::from),
            Err(_) => Err(format!("invocation {id} had no reply within {} s", timeout.as_secs()).into()),
        }
    }

    /// Ends pending polls and stops serving.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(3), self.server).await;
    }
}

async fn next(State(inner): State<Arc<Inner>>) -> axum::response::Response {
    let _ = inner.next_calls.send(Instant::now());
    let mut shutdown = inner.shutdown.clone();
    let invocation = tokio::select! {
        invocation = async { inner.queue.lock().await.recv().await } => invocation,
        _ = shutdown.wait_for(|s| *s) => None,
    };
    let Some(invocation) = invocation else {
        return (StatusCode::GONE, "the bench is done with this function").into_response();
    };
    inner.waiting.lock().unwrap_or_else(PoisonError::into_inner).insert(invocation.id.clone(), invocation.reply);
    let deadline = time::OffsetDateTime::now_utc().unix_timestamp() * 1_000 + 900_000;
    let mut response = Response::new(Body::from(invocation.event.to_string()));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("content-type", "application/json".into());
    set("lambda-runtime-aws-request-id", invocation.id.clone());
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set("lambda-runtime-invoked-function-arn", inner.function_arn.clone());
    set("lambda-runtime-trace-id", format!("Root=1-00000000-{:0>24};Sampled=0", invocation.id.replace('-', "")));
    response
}

fn deliver(inner: &Inner, id: &str, reply: Reply) -> StatusCode {
    match inner.waiting.lock().unwrap_or_else(PoisonError::into_inner).remove(id) {
        Some(waiting) => {
            let _ = waiting.send(reply);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn response(State(inner): State<Arc<Inner>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    deliver(&inner, &id, Reply::Response(body))
}

async fn error(State(inner): State<Arc<Inner>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    deliver(&inner, &id, Reply::Error(body))
}

async fn init_error(State(inner): State<Arc<Inner>>, body: Bytes) -> StatusCode {
    *inner.init_error.lock().unwrap_or_else(PoisonError::into_inner) =
        Some(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}

/// The Lambda Invoke API: the event goes to the named function's Router here,
/// and its response comes back as the function's API Gateway reply.
async fn invoke(State(inner): State<Arc<Inner>>, Path(name): Path<String>, body: Bytes) -> axum::response::Response {
    // Deployed names may be ARNs; here every function goes by its binary name.
    let name = name.rsplit(':').next().unwrap_or(&name).to_string();
    let Some(router) = inner.peers.get(&name).cloned() else {
        let mut response = (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "Type": "User", "Message": format!("Function not found: {name}") })),
        )
            .into_response();
        response.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static("ResourceNotFoundException"));
        return response;
    };
    let request = match serde_json::from_slice::<Value>(&body)
        .map_err(|e| e.to_string())
        .and_then(|event| request_from_event(&event).map_err(|e| e.to_string()))
    {
        Ok(request) => request,
        Err(why) => return (StatusCode::BAD_REQUEST, format!("not an API Gateway v2 event: {why}")).into_response(),
    };
    let response = router.oneshot(request.map(Body::from)).await.unwrap_or_else(|never| match never {});
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let reply = apigw_reply(&Response::from_parts(parts, bytes));
    let mut response = axum::Json(reply).into_response();
    response.headers_mut().insert("x-amz-executed-version", HeaderValue::from_static("$LATEST"));
    response
}

/// The HTTP request an API Gateway HTTP API (payload 2.0) event stands for.
pub fn request_from_event(event: &Value) -> Result<Request<Bytes>, Error> {
    let method = event["requestContext"]["http"]["method"].as_str().ok_or("the event has no method")?;
    let path = event["rawPath"].as_str().ok_or("the event has no rawPath")?;
    let uri = match event["rawQueryString"].as_str().filter(|q| !q.is_empty()) {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in event["headers"].as_object().into_iter().flatten() {
        if let Some(value) = value.as_str() {
            builder = builder.header(name.as_str(), value);
        }
    }
    let cookies: Vec<&str> = event["cookies"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if !cookies.is_empty() {
        builder = builder.header("cookie", cookies.join("; "));
    }
    let body = match event["body"].as_str() {
        None => Bytes::new(),
        Some(text) if event["isBase64Encoded"].as_bool() == Some(true) => {
            Bytes::from(BASE64.decode(text).map_err(|e| format!("the event body is not base64: {e}"))?)
        }
        Some(text) => Bytes::from(text.to_string()),
    };
    builder.body(body).map_err(|e| format!("the event is not an HTTP request: {e}").into())
}

/// A function's API Gateway HTTP API reply for `response`, as lambda_http writes it.
pub fn apigw_reply(response: &Response<Bytes>) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for name in response.headers().keys() {
        let values: Vec<&str> = response.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        if name == http::header::SET_COOKIE {
            cookies.extend(values.into_iter().map(Value::from));
        } else {
            headers.insert(name.as_str().to_string(), Value::from(values.join(",")));
        }
    }
    let (body, encoded) = match std::str::from_utf8(response.body()) {
        Ok(text) => (Value::from(text), false),
        Err(_) => (Value::from(BASE64.encode(response.body())), true),
    };
    json!({
        "statusCode": response.status().as_u16(),
        "headers": headers,
        "cookies": cookies,
        "body": body,
        "isBase64Encoded": encoded,
    })
}

/// The API Gateway v2 event the mock runtime hands out for `request`: the same
/// event the functions' own Invoke path builds.
pub fn event_for(request: &Request<Bytes>) -> Value {
    shared::invoke::to_apigw_event(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request<Bytes> {
        Request::builder()
            .method("POST")
            .uri("/api/cart/items?x=1&x=2")
            .header("authorization", "Bearer t")
            .header("content-type", "application/json")
            .header("cookie", "a=1; b=2")
            .body(Bytes::from_static(br#"{"quantity":1}"#))
            .unwrap()
    }

    #[test]
    fn events_are_what_lambda_http_reads_as_api_gateway_v2_requests() {
        let event = event_for(&request());
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["rawPath"], "/api/cart/items");
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
        let parsed: lambda_http::request::LambdaRequest = serde_json::from_value(event).unwrap();
        assert!(matches!(parsed, lambda_http::request::LambdaRequest::ApiGatewayV2(_)));
        let http_request: lambda_http::Request = parsed.into();
        assert_eq!(http_request.method(), "POST");
        assert_eq!(http_request.uri().path(), "/api/cart/items");
        assert_eq!(http_request.uri().query(), Some("x=1&x=2"));
        assert_eq!(http_request.headers()["authorization"], "Bearer t");
        assert_eq!(http_request.body().as_ref(), br#"{"quantity":1}"#);
    }

    #[test]
    fn events_turn_back_into_the_same_request() {
        let back = request_from_event(&event_for(&request())).unwrap();
        assert_eq!(back.method(), "POST");
        assert_eq!(back.uri(), "/api/cart/items?x=1&x=2");
        assert_eq!(back.headers()["authorization"], "Bearer t");
        assert_eq!(back.headers()["cookie"], "a=1; b=2");
        assert_eq!(back.body().as_ref(), br#"{"quantity":1}"#);
        let binary = Request::builder().uri("/x").body(Bytes::from_static(&[0xff, 0])).unwrap();
        assert_eq!(request_from_event(&event_for(&binary)).unwrap().body().as_ref(), &[0xff, 0]);
        assert!(request_from_event(&json!({"rawPath": "/x"})).is_err());
    }

    #[test]
    fn replies_are_read_back_by_the_functions_invoke_client() {
        let response = Response::builder()
            .status(201)
            .header("content-type", "application/json")
            .header("set-cookie", "s=1")
            .body(Bytes::from_static(br#"{"id":"x"}"#))
            .unwrap();
        let reply = apigw_reply(&response);
        let back = shared::invoke::from_apigw_response(reply.to_string().as_bytes()).unwrap();
        assert_eq!(back.status(), 201);
        assert_eq!(back.headers()["content-type"], "application/json");
        assert_eq!(back.headers()["set-cookie"], "s=1");
        assert_eq!(back.body().as_ref(), br#"{"id":"x"}"#);
    }

    #[tokio::test]
    async fn the_runtime_api_hands_out_events_and_collects_responses() {
        let mut lambda = MockLambda::start("echo", Arc::new(HashMap::new())).await.unwrap();
        let base = format!("http://{}/2018-06-01/runtime/invocation", lambda.addr);
        let poller = tokio::spawn(async move {
            let mut conn = crate::client::Conn::connect(lambda_addr(&base)).await.unwrap();
            let (status, headers, body) =
                conn.send(http::Method::GET, "/2018-06-01/runtime/invocation/next", &[], None).await.unwrap();
            assert_eq!(status, 200);
            let id = headers["lambda-runtime-aws-request-id"].to_str().unwrap().to_string();
            assert!(headers.contains_key("lambda-runtime-deadline-ms"));
            let event: Value = serde_json::from_slice(&body).unwrap();
            let reply = json!({ "statusCode": 200, "body": event["rawPath"] });
            let path = format!("/2018-06-01/runtime/invocation/{id}/response");
            let (status, _) = conn.post_json(&path, &reply.to_string(), &[]).await.unwrap();
            assert_eq!(status, 202);
        });
        assert!(lambda.first_poll(Duration::from_secs(5)).await.is_some());
        let event = event_for(&Request::builder().uri("/api/books/").body(Bytes::new()).unwrap());
        let reply = lambda.invoke(event, Duration::from_secs(5)).await.unwrap();
        let Reply::Response(body) = reply else { panic!("{reply:?}") };
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["body"], "/api/books/");
        poller.await.unwrap();
        lambda.stop().await;
    }

    fn lambda_addr(base: &str) -> SocketAddr {
        base.trim_start_matches("http://").split('/').next().unwrap().parse().unwrap()
    }
}
