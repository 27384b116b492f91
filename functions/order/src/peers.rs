//! Calls to the other functions, each under the invoke deadline. A peer that is
//! down, slow or failing is a 503 (retry later); one that answers what it
//! should never answer is a 502.

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::money::Currency;

use crate::OrderState;
use crate::error::{Error, Result};
use crate::model::{Benefits, DeliveryOption, OrderLine, OrderRecord, ShippingAddress};

/// Ids go into peers' paths: only the characters ids are made of.
pub fn valid_item_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 100 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

async fn invoke(state: &OrderState, function: &str, service: &str, request: http::Request<Bytes>) -> Result<Answer> {
    let timeout = state.invoke_timeout;
    let unavailable = |why: String| Error::unavailable(format!("the {service} service is unavailable: {why}"));
    match tokio::time::timeout(timeout, state.invoker.invoke(function, request)).await {
        Err(_) => Err(unavailable(format!("no answer within {} ms", timeout.as_millis()))),
        Ok(Err(e)) => Err(unavailable(e.to_string())),
        Ok(Ok(response)) if response.status().is_server_error() => {
            Err(unavailable(format!("it answered {}", response.status())))
        }
        Ok(Ok(response)) => Ok(Answer { service: service.to_string(), response }),
    }
}

fn request(
    method: Method,
    uri: &str,
    body: Option<Value>,
    authorization: Option<&HeaderValue>,
) -> Result<http::Request<Bytes>> {
    let mut builder = http::Request::builder().method(method).uri(uri);
    if let Some(value) = authorization {
        builder = builder.header(http::header::AUTHORIZATION, value.clone());
    }
    let bytes = match body {
        Some(body) => {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    builder.body(bytes).map_err(|e| Error::App(shared::AppError::internal(e)))
}

/// A peer's answer that is not a server error.
struct Answer {
    service: String,
    response: http::Response<Bytes>,
}

impl Answer {
    fn status(&self) -> StatusCode {
        self.response.status()
    }

    fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(self.response.body()).map_err(|e| {
            Error::BadGateway(format!(
                "the {} service answered {} with a body the order service cannot read: {e}",
                self.service,
                self.status()
            ))
        })
    }

    /// The `detail` of a problem answer, or the status.
    fn detail(&self) -> String {
        serde_json::from_slice::<Value>(self.response.body())
            .ok()
            .and_then(|p| p["detail"].as_str().map(str::to_string))
            .unwrap_or_else(|| format!("it answered {}", self.status()))
    }

    fn unexpected(&self) -> Error {
        Error::BadGateway(format!(
            "the {} service answered {} unexpectedly: {}",
            self.service,
            self.status(),
            self.detail()
        ))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct CartLine {
    pub item_type: String,
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
}

/// The customer's cart as stored: its lines, and the version they are of,
/// which changes with every change to the cart.
#[derive(Debug, Clone, Deserialize)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    pub version: String,
}

/// The customer's cart; `None` when they have none.
pub async fn cart(state: &OrderState, customer_id: &str) -> Result<Option<Cart>> {
    let uri = format!("/internal/cart/customer/{customer_id}");
    let answer = invoke(state, &state.functions.cart, "cart", request(Method::GET, &uri, None, None)?).await?;
    match answer.status() {
        StatusCode::OK => {
            let cart: Cart = answer.json()?;
            if cart.version.is_empty() || cart.version.len() > 80 {
                return Err(Error::BadGateway("the cart service answered a cart without a usable version".into()));
            }
            Ok(Some(cart))
        }
        StatusCode::NOT_FOUND => Ok(None),
        _ => Err(answer.unexpected()),
    }
}

/// Tells the cart that its `version` became an order of `lines`: a cart still at
/// that version is emptied; one changed since loses the ordered quantities
/// only. With no lines, only a cart still at that version is emptied.
pub async fn checked_out(state: &OrderState, customer_id: &str, version: &str, lines: &[OrderLine]) -> Result<()> {
    let uri = format!("/internal/cart/customer/{customer_id}/checked-out");
    let lines: Vec<Value> = lines.iter().map(|l| json!({ "item_id": l.item_id, "quantity": l.quantity })).collect();
    let body = json!({ "version": version, "lines": lines });
    let answer = invoke(state, &state.functions.cart, "cart", request(Method::POST, &uri, Some(body), None)?).await?;
    match answer.status() {
        StatusCode::NO_CONTENT | StatusCode::OK => Ok(()),
        _ => Err(answer.unexpected()),
    }
}

/// What the order needs of an item, as the items router answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    #[serde(rename = "type")]
    pub item_type: String,
    pub name: String,
    #[serde(default)]
    pub price: Option<i64>,
    #[serde(default)]
    pub currency: Currency,
}

pub enum Lookup {
    Found(Item),
    Missing,
    /// Another 4xx: the router refused to look the id up.
    Refused(String),
}

pub async fn item(state: &OrderState, item_id: &str) -> Result<Lookup> {
    if !valid_item_id(item_id) {
        return Ok(Lookup::Refused(format!("`{item_id}` is not an item id")));
    }
    let uri = format!("/api/items/{item_id}/");
    let answer = invoke(state, &state.functions.items_router, "items", request(Method::GET, &uri, None, None)?).await?;
    match answer.status() {
        StatusCode::OK => answer.json().map(Lookup::Found),
        StatusCode::NOT_FOUND => Ok(Lookup::Missing),
        status if status.is_client_error() => Ok(Lookup::Refused(answer.detail())),
        _ => Err(answer.unexpected()),
    }
}

pub enum Stock {
    Moved,
    /// Not enough stock (or the item is gone): the reason, for the customer.
    Refused(String),
}

/// Moves an item's stock by `delta` at most once per `key`.
pub async fn change_stock(state: &OrderState, item_id: &str, delta: i64, key: &str) -> Result<Stock> {
    if !valid_item_id(item_id) {
        return Ok(Stock::Refused(format!("`{item_id}` is not an item id")));
    }
    let uri = format!("/internal/items/{item_id}/stock");
    let body = json!({ "delta": delta, "key": key });
    let answer =
        invoke(state, &state.functions.items_router, "items", request(Method::POST, &uri, Some(body), None)?).await?;
    match answer.status() {
        StatusCode::OK => Ok(Stock::Moved),
        StatusCode::CONFLICT | StatusCode::NOT_FOUND => Ok(Stock::Refused(answer.detail())),
        _ => Err(answer.unexpected()),
    }
}

#[derive(Debug, Clone, Deserialize)]
struct VipBenefits {
    discount_percent: i64,
    free_shipping: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct VipMember {
    points_balance: i64,
    benefits: VipBenefits,
}

/// The caller's VIP benefits and balance, read with their own token; `None`
/// when they have no VIP record.
pub async fn vip_benefits(state: &OrderState, authorization: Option<&HeaderValue>) -> Result<Option<Benefits>> {
    let call = request(Method::GET, "/api/customers/", None, authorization)?;
    let answer = invoke(state, &state.functions.vip_customer, "VIP customer", call).await?;
    match answer.status() {
        StatusCode::OK => {
            let member: VipMember = answer.json()?;
            Ok(Some(Benefits {
                discount_percent: member.benefits.discount_percent,
                free_shipping: member.benefits.free_shipping,
                points_balance: member.points_balance,
            }))
        }
        StatusCode::NOT_FOUND => Ok(None),
        _ => Err(answer.unexpected()),
    }
}

/// Spends the caller's points once per `key`; `Err(reason)` inside when the
/// VIP service refuses (the balance went short since it was read).
pub async fn redeem_points(
    state: &OrderState,
    authorization: Option<&HeaderValue>,
    points: i64,
    reason: &str,
    key: &str,
) -> Result<std::result::Result<(), String>> {
    let body = json!({ "points": points, "reason": reason, "idempotency_key": key });
    let call = request(Method::POST, "/api/customers/vip/points/redeem", Some(body), authorization)?;
    let answer = invoke(state, &state.functions.vip_customer, "VIP customer", call).await?;
    match answer.status() {
        StatusCode::OK | StatusCode::CREATED => Ok(Ok(())),
        StatusCode::CONFLICT | StatusCode::NOT_FOUND => Ok(Err(answer.detail())),
        _ => Err(answer.unexpected()),
    }
}

/// Gives back the points redeemed under `redeem_key`, once per `key`: the
/// balance only, never lifetime points. `false` when there is nothing to give
/// back (no such redeem, or the customer is no VIP member any more).
pub async fn restore_points(
    state: &OrderState,
    customer_id: &str,
    redeem_key: &str,
    reason: &str,
    key: &str,
) -> Result<bool> {
    let body =
        json!({ "customer_id": customer_id, "redeem_key": redeem_key, "reason": reason, "idempotency_key": key });
    vip_undo(state, "/internal/vip/restore", body).await
}

/// Takes back the points earned under `earn_key`, once per `key`; an earn that
/// has not happened yet never will. `false` when the customer is no VIP member.
pub async fn revoke_points(
    state: &OrderState,
    customer_id: &str,
    earn_key: &str,
    reason: &str,
    key: &str,
) -> Result<bool> {
    let body = json!({ "customer_id": customer_id, "earn_key": earn_key, "reason": reason, "idempotency_key": key });
    vip_undo(state, "/internal/vip/revoke", body).await
}

async fn vip_undo(state: &OrderState, uri: &str, body: Value) -> Result<bool> {
    let call = request(Method::POST, uri, Some(body), None)?;
    let answer = invoke(state, &state.functions.vip_customer, "VIP customer", call).await?;
    match answer.status() {
        StatusCode::OK | StatusCode::CREATED => Ok(true),
        StatusCode::NOT_FOUND => Ok(false),
        _ => Err(answer.unexpected()),
    }
}

#[derive(Debug, Clone, Serialize)]
struct NewShipment<'a> {
    order_id: &'a str,
    customer_id: &'a str,
    customer_type: &'a str,
    delivery_option: DeliveryOption,
    shipping_address: &'a Option<ShippingAddress>,
    total: i64,
    currency: &'a str,
}

#[derive(Debug, Clone, Deserialize)]
struct Shipment {
    id: String,
}

/// Asks shipping for the order's one shipment (made once per order); its id.
pub async fn create_shipment(state: &OrderState, order: &OrderRecord) -> Result<String> {
    let body = serde_json::to_value(NewShipment {
        order_id: &order.id,
        customer_id: &order.customer_id,
        customer_type: &order.customer_type,
        delivery_option: order.delivery_option,
        shipping_address: &order.shipping_address,
        total: order.total,
        currency: &order.currency,
    })
    .map_err(|e| Error::App(shared::AppError::internal(e)))?;
    let call = request(Method::POST, "/internal/shipments", Some(body), None)?;
    let answer = invoke(state, &state.functions.shipping, "shipping", call).await?;
    match answer.status() {
        StatusCode::OK | StatusCode::CREATED => {
            let shipment: Shipment = answer.json()?;
            if shipment.id.is_empty() || shipment.id.len() > 100 {
                return Err(Error::BadGateway("the shipping service answered a shipment without a usable id".into()));
            }
            Ok(shipment.id)
        }
        _ => Err(answer.unexpected()),
    }
}

/// Stops the order's shipment: nothing moves it on any more but its return.
/// `false` when the order has no shipment (it was never paid).
pub async fn stop_shipment(state: &OrderState, order_id: &str) -> Result<bool> {
    let call = request(Method::POST, "/internal/shipments/stop", Some(json!({ "order_id": order_id })), None)?;
    let answer = invoke(state, &state.functions.shipping, "shipping", call).await?;
    match answer.status() {
        StatusCode::OK => Ok(true),
        StatusCode::NOT_FOUND => Ok(false),
        _ => Err(answer.unexpected()),
    }
}

/// What paying did when asked to undo an order's payment.
pub enum PaymentUndo {
    /// Voided or refunded (or nothing was left to give back).
    Done,
    /// The order has no payment.
    None,
    /// Another request is working on the payment right now (a payment being
    /// made, say): ask again in a moment.
    Busy(String),
}

/// Asks paying to undo the order's payment (void or refund).
pub async fn refund_payment(state: &OrderState, order_id: &str, reason: &str) -> Result<PaymentUndo> {
    let body = json!({ "order_id": order_id, "reason": reason });
    let call = request(Method::POST, "/internal/payments/refund-order", Some(body), None)?;
    let answer = invoke(state, &state.functions.paying, "paying", call).await?;
    match answer.status() {
        StatusCode::OK | StatusCode::CREATED => Ok(PaymentUndo::Done),
        StatusCode::NOT_FOUND => Ok(PaymentUndo::None),
        StatusCode::CONFLICT => Ok(PaymentUndo::Busy(answer.detail())),
        _ => Err(answer.unexpected()),
    }
}
