//! The calls an event makes on other functions: paying (capture), order
//! (status) and vip-customer (points). Each is idempotent on the peer's side,
//! so a request that failed half way is simply sent again and converges.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use shared::error::{AppError, PROBLEM_JSON, Problem};
use shared::invoke::Invoker;

use crate::ShippingState;

/// What a request that involves other functions can fail with: everything an
/// [`AppError`] says, plus 502 for a peer whose answer makes no sense.
#[derive(Debug)]
pub enum Failure {
    App(AppError),
    BadGateway(String),
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        Failure::App(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::App(e) => e.into_response(),
            Failure::BadGateway(detail) => {
                tracing::warn!(%detail, "a peer answered nonsense");
                let problem = Problem {
                    problem_type: "about:blank".into(),
                    title: "Bad Gateway".into(),
                    status: StatusCode::BAD_GATEWAY.as_u16(),
                    detail,
                    errors: None,
                };
                let mut response = (StatusCode::BAD_GATEWAY, Json(problem)).into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
                response
            }
        }
    }
}

/// Which capture a shipment event makes due.
#[derive(Debug, Clone, Copy)]
pub enum CaptureEvent {
    Shipped,
    Delivered,
}

impl CaptureEvent {
    fn as_str(self) -> &'static str {
        match self {
            CaptureEvent::Shipped => "shipped",
            CaptureEvent::Delivered => "delivered",
        }
    }
}

#[derive(Clone)]
pub struct Peers {
    invoker: Arc<dyn Invoker>,
    order: Arc<str>,
    paying: Arc<str>,
    vip: Arc<str>,
    timeout: Duration,
}

impl Peers {
    pub fn new(state: &ShippingState) -> Self {
        Self {
            invoker: state.invoker.clone(),
            order: state.order_function.clone(),
            paying: state.paying_function.clone(),
            vip: state.vip_customer_function.clone(),
            timeout: state.invoke_timeout,
        }
    }

    /// `POST /internal/payments/capture`. A 404 means the order has no payment to
    /// capture (nothing is due), which is fine for a shipment.
    pub async fn capture(&self, order_id: &str, event: CaptureEvent) -> Result<(), Failure> {
        let body = json!({ "order_id": order_id, "event": event.as_str() });
        let response = self.post(&self.paying, "paying", "/internal/payments/capture", &body).await?;
        match response.status() {
            StatusCode::OK => Ok(()),
            StatusCode::NOT_FOUND => {
                tracing::info!(%order_id, event = event.as_str(), "no payment to capture for the order");
                Ok(())
            }
            StatusCode::CONFLICT => Err(refused("paying", "capture the payment", &response)),
            other => Err(unexpected("paying", other)),
        }
    }

    /// `POST /internal/orders/{id}/status`; the same status again is a 200 there.
    pub async fn set_order_status(&self, order_id: &str, status: &str) -> Result<(), Failure> {
        let path = format!("/internal/orders/{order_id}/status");
        let response = self.post(&self.order, "order", &path, &json!({ "status": status })).await?;
        match response.status() {
            StatusCode::OK => {
                let record: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
                if record["status"].is_string() {
                    Ok(())
                } else {
                    Err(Failure::BadGateway("the order service answered 200 without an order record".into()))
                }
            }
            StatusCode::CONFLICT => Err(refused("order", &format!("mark the order {status}"), &response)),
            StatusCode::NOT_FOUND => {
                Err(Failure::BadGateway(format!("the order service does not know order `{order_id}`")))
            }
            other => Err(unexpected("order", other)),
        }
    }

    /// `POST /internal/vip/earn` under the key `{order_id}:delivered`, so retries
    /// credit the points once. A customer the VIP service does not know (404), or
    /// a key it holds for other points (409), is logged rather than blocking a
    /// delivery that has happened: the points are then for staff to adjust.
    pub async fn earn(&self, customer_id: &str, order_id: &str, points: i64) -> Result<(), Failure> {
        let body = json!({
            "customer_id": customer_id,
            "points": points,
            "reason": format!("order {order_id} delivered"),
            "idempotency_key": format!("{order_id}:delivered"),
        });
        let response = self.post(&self.vip, "VIP customer", "/internal/vip/earn", &body).await?;
        match response.status() {
            StatusCode::OK | StatusCode::CREATED => Ok(()),
            status @ (StatusCode::NOT_FOUND | StatusCode::CONFLICT) => {
                tracing::warn!(%customer_id, %order_id, points, %status, detail = %detail_of(&response),
                    "delivery points were not credited");
                Ok(())
            }
            other => Err(unexpected("VIP customer", other)),
        }
    }

    /// One call under the deadline: no answer, a transport failure or a 5xx is a
    /// 503 naming the service, with a Retry-After.
    async fn post(
        &self,
        function: &str,
        service: &str,
        path: &str,
        body: &Value,
    ) -> Result<http::Response<Bytes>, Failure> {
        let request = http::Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Bytes::from(body.to_string()))
            .map_err(AppError::internal)?;
        let unavailable = |why: String| {
            Failure::App(AppError::Unavailable {
                detail: format!("the {service} service is unavailable: {why}; nothing was recorded, retry"),
                retry_after_secs: 2,
            })
        };
        match tokio::time::timeout(self.timeout, self.invoker.invoke(function, request)).await {
            Err(_) => Err(unavailable(format!("no answer within {} ms", self.timeout.as_millis()))),
            Ok(Err(e)) => Err(unavailable(e.to_string())),
            Ok(Ok(response)) if response.status().is_server_error() => {
                Err(unavailable(format!("it answered {}", response.status())))
            }
            Ok(Ok(response)) => Ok(response),
        }
    }
}

fn detail_of(response: &http::Response<Bytes>) -> String {
    serde_json::from_slice::<Value>(response.body())
        .ok()
        .and_then(|p| p["detail"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("it answered {}", response.status()))
}

/// A peer's business refusal is the caller's conflict too: nothing was recorded.
fn refused(service: &str, what: &str, response: &http::Response<Bytes>) -> Failure {
    Failure::App(AppError::Conflict(format!(
        "the {service} service refused to {what}: {}; the event was not recorded",
        detail_of(response)
    )))
}

fn unexpected(service: &str, status: StatusCode) -> Failure {
    Failure::BadGateway(format!("the {service} service answered {status}, which this service does not expect"))
}
