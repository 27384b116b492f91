//! Asking other functions under a deadline: the order service for the order and
//! to mark it paid, the VIP service for points.
//!
//! A peer that fails, times out or answers 5xx is a 503 with a Retry-After; a
//! peer whose answer cannot be read is a 502. Neither is ever a 500.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::error::AppError;
use shared::money::Currency;

use crate::PayingState;
use crate::domain::Method;
use crate::error::{PayError, PayResult};

const RETRY_AFTER_SECS: u32 = 2;

async fn invoke(
    state: &PayingState,
    function: &str,
    service: &str,
    request: http::Request<Bytes>,
) -> PayResult<http::Response<Bytes>> {
    let unavailable = |why: String| {
        PayError::App(AppError::Unavailable {
            detail: format!("the {service} service is unavailable: {why}"),
            retry_after_secs: RETRY_AFTER_SECS,
        })
    };
    match tokio::time::timeout(state.invoke_timeout, state.invoker.invoke(function, request)).await {
        Err(_) => Err(unavailable(format!("no answer within {} ms", state.invoke_timeout.as_millis()))),
        Ok(Err(e)) => Err(unavailable(e.to_string())),
        Ok(Ok(response)) if response.status().is_server_error() => {
            Err(unavailable(format!("it answered {}", response.status())))
        }
        Ok(Ok(response)) => Ok(response),
    }
}

fn post_json(uri: &str, body: &Value) -> PayResult<http::Request<Bytes>> {
    Ok(http::Request::post(uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body.to_string()))
        .map_err(AppError::internal)?)
}

/// The `detail` of a problem answer, or what the status says.
fn detail(response: &http::Response<Bytes>) -> String {
    serde_json::from_slice::<Value>(response.body())
        .ok()
        .and_then(|p| p["detail"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("it answered {}", response.status()))
}

/// What this service needs of an order (`GET /internal/orders/{id}`).
#[derive(Debug, Clone, Deserialize)]
pub struct OrderInfo {
    pub id: String,
    pub customer_id: String,
    pub status: String,
    pub currency: Currency,
    pub total: i64,
    #[serde(default)]
    pub payment_id: Option<String>,
}

impl OrderInfo {
    pub fn is_pending_payment(&self) -> bool {
        self.status == "pending_payment"
    }

    /// Whether the order recorded `payment_id` as what paid it.
    pub fn paid_by(&self, payment_id: &str) -> bool {
        self.status != "pending_payment" && self.payment_id.as_deref() == Some(payment_id)
    }
}

/// The order, or `None` when the order service has no such order.
pub async fn order(state: &PayingState, order_id: &str) -> PayResult<Option<OrderInfo>> {
    let request =
        http::Request::get(format!("/internal/orders/{order_id}")).body(Bytes::new()).map_err(AppError::internal)?;
    let response = invoke(state, &state.order_function, "order", request).await?;
    match response.status() {
        StatusCode::OK => {
            let order: OrderInfo = serde_json::from_slice(response.body())
                .map_err(|e| PayError::BadGateway(format!("the order service answered an unreadable order: {e}")))?;
            if order.id != order_id || order.total < 0 {
                return Err(PayError::BadGateway(format!(
                    "the order service answered another order, or a negative total, for `{order_id}`"
                )));
            }
            Ok(Some(order))
        }
        StatusCode::NOT_FOUND => Ok(None),
        status => Err(PayError::BadGateway(format!("the order service answered {status} for order `{order_id}`"))),
    }
}

#[derive(Debug)]
pub enum Paid {
    /// The order is paid by this payment.
    Accepted,
    /// The order will not take this payment (cancelled, paid by another, gone).
    Refused(String),
}

/// `POST /internal/orders/{id}/paid`; the order answers the same again for the
/// same payment id, so this may be retried freely.
pub async fn mark_paid(state: &PayingState, order_id: &str, payment_id: &str, method: Method) -> PayResult<Paid> {
    let body = json!({ "payment_id": payment_id, "method": method.as_str() });
    let request = post_json(&format!("/internal/orders/{order_id}/paid"), &body)?;
    let response = invoke(state, &state.order_function, "order", request).await?;
    match response.status() {
        StatusCode::OK => Ok(Paid::Accepted),
        StatusCode::CONFLICT | StatusCode::NOT_FOUND => Ok(Paid::Refused(detail(&response))),
        status => Err(PayError::BadGateway(format!(
            "the order service answered {status} when told order `{order_id}` is paid: {}",
            detail(&response)
        ))),
    }
}

#[derive(Debug)]
pub enum Redeem {
    Redeemed,
    /// Declined, with a code and the VIP service's reason.
    Declined(&'static str, String),
}

/// Redeems `points` from the caller's own balance, with the caller's token.
pub async fn redeem_points(
    state: &PayingState,
    authorization: &HeaderValue,
    points: i64,
    reason: &str,
    key: &str,
) -> PayResult<Redeem> {
    let body = json!({ "points": points, "reason": reason, "idempotency_key": key });
    let mut request = post_json("/api/customers/vip/points/redeem", &body)?;
    request.headers_mut().insert(http::header::AUTHORIZATION, authorization.clone());
    let response = invoke(state, &state.vip_function, "VIP customer", request).await?;
    match response.status() {
        StatusCode::OK | StatusCode::CREATED => Ok(Redeem::Redeemed),
        StatusCode::CONFLICT => Ok(Redeem::Declined("insufficient_points", detail(&response))),
        status if status.is_client_error() => Ok(Redeem::Declined("points_unavailable", detail(&response))),
        status => Err(PayError::BadGateway(format!("the VIP customer service answered {status} to a redeem"))),
    }
}

/// Gives back `points` of the redeem made under `redeem_key`
/// (`POST /internal/vip/restore`): the balance only, never lifetime points, and
/// never more than the redeem took. The key makes a retry a replay.
pub async fn give_points_back(
    state: &PayingState,
    customer_id: &str,
    redeem_key: &str,
    points: i64,
    reason: &str,
    key: &str,
) -> PayResult<()> {
    let body = json!({ "customer_id": customer_id, "redeem_key": redeem_key, "points": points, "reason": reason,
        "idempotency_key": key });
    let request = post_json("/internal/vip/restore", &body)?;
    let response = invoke(state, &state.vip_function, "VIP customer", request).await?;
    match response.status() {
        StatusCode::OK | StatusCode::CREATED => Ok(()),
        status => Err(PayError::BadGateway(format!(
            "the VIP customer service answered {status} when points were given back: {}",
            detail(&response)
        ))),
    }
}
