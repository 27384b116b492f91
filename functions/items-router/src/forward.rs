//! Forwarding one request to one item function, unchanged but for its path.

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, header};
use serde_json::Value;
use shared::AppError;
use shared::error::AppResult;
use shared::extract::MAX_BODY_BYTES;
use shared::pagination::RequestUrl;

use crate::{ItemService, RouterState};

const HOP_BY_HOP: [HeaderName; 3] = [header::CONNECTION, header::TRANSFER_ENCODING, header::CONTENT_LENGTH];

pub async fn read_body(body: Body) -> AppResult<Bytes> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge(format!("the request body is larger than {MAX_BODY_BYTES} bytes")))
}

/// Invokes the function for `service` with the caller's method, headers (the
/// `Authorization` header included: the function checks it) and body, at `path`.
/// A HEAD is asked as a GET: the router needs the body to answer (a merged or
/// relinked page), and its own answer to HEAD then has GET's headers.
pub async fn send(
    state: &RouterState,
    service: &ItemService,
    parts: &Parts,
    path: &str,
    query: Option<&str>,
    body: Bytes,
) -> AppResult<http::Response<Bytes>> {
    let uri = match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_string(),
    };
    let method = if parts.method == http::Method::HEAD { http::Method::GET } else { parts.method.clone() };
    let mut request = http::Request::builder().method(method).uri(uri);
    for (name, value) in parts.headers.iter().filter(|(n, _)| !HOP_BY_HOP.contains(n)) {
        request = request.header(name, value);
    }
    let request = request.body(body).map_err(|e| AppError::BadRequest(format!("cannot forward this request: {e}")))?;
    invoke(state, service, request).await
}

/// One invocation under the router's deadline; failures are 503s naming the service.
pub async fn invoke(
    state: &RouterState,
    service: &ItemService,
    request: http::Request<Bytes>,
) -> AppResult<http::Response<Bytes>> {
    let unavailable = |why: String| AppError::Unavailable {
        detail: format!("the {} service is unavailable: {why}", service.item_type),
        retry_after_secs: 2,
    };
    match tokio::time::timeout(state.invoke_timeout, state.invoker.invoke(&service.function, request)).await {
        Err(_) => Err(unavailable(format!("no answer within {} ms", state.invoke_timeout.as_millis()))),
        Ok(Err(e)) => Err(unavailable(e.to_string())),
        Ok(Ok(response)) if response.status().is_server_error() => {
            Err(unavailable(format!("it answered {}", response.status())))
        }
        Ok(Ok(response)) => Ok(response),
    }
}

/// A function's answer as the router's own; its framing headers are dropped,
/// since the router's server frames the body it sends (none, for a HEAD).
pub fn into_response(mut response: http::Response<Bytes>) -> Response {
    for name in &HOP_BY_HOP {
        response.headers_mut().remove(name);
    }
    response.map(Body::from).into_response()
}

/// A one-type list, forwarded; its page links are rewritten to point back at `/api/items`.
pub async fn list_one(state: &RouterState, service: &ItemService, request: Request, path: &str) -> AppResult<Response> {
    let (parts, _) = request.into_parts();
    let url = RequestUrl::from_parts(&parts);
    let query: Vec<(String, String)> = shared::extract::QueryPairs::parse(parts.uri.query().unwrap_or(""))?
        .0
        .into_iter()
        .filter(|(k, _)| k != "type")
        .collect();
    let query = serde_urlencoded::to_string(&query).unwrap_or_default();
    let response = send(state, service, &parts, path, Some(&query), Bytes::new()).await?;
    if response.status() != http::StatusCode::OK {
        return Ok(into_response(response));
    }
    let Ok(mut page) = serde_json::from_slice::<Value>(response.body()) else {
        return Ok(into_response(response));
    };
    for link in ["next", "previous"] {
        if let Some(target) = page[link].as_str() {
            page[link] = Value::from(relink(target, &url, &service.item_type));
        }
    }
    Ok(axum::Json(page).into_response())
}

/// The router's URL with the query of a service's page link, plus `type`.
fn relink(link: &str, url: &RequestUrl, item_type: &str) -> String {
    let query = link.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs.insert(0, ("type".into(), item_type.into()));
    url.with_query(&pairs)
}
