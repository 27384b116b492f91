//! Checkout: the caller's cart becomes an order, with stock reserved and points
//! spent, exactly once per Idempotency-Key.
//!
//! The steps touch four functions and this store, and any of them can fail or
//! the Lambda can die between two of them. What makes a retry with the same key
//! converge:
//!
//! - The key is claimed first (`checkouts` row) with a fresh order id, which
//!   every later step reuses: stock is reserved under `{order}:reserve:{item}`,
//!   points redeemed under `{order}:redeem`, so repeating a step is a replay, not
//!   a second reservation.
//! - The priced order (the plan) is stored before the first reservation, so a
//!   retry reserves exactly the same lines even if the cart changed meanwhile.
//!   Storing it claims the version of the cart it was priced from: a second
//!   checkout of the same cart under another key (a second click on "Place
//!   order") is refused with a 409 before it reserves anything, and so is one
//!   beyond the customer's limit of orders waiting for payment.
//! - A refusal (out of stock, points short) is stored before anything is given
//!   back, and the release of the lines reserved so far (`{order}:release:{item}`)
//!   is repeated by retries until done; then the 409 is stored and replayed. A
//!   released order id is never reserved again.
//! - The order row and the checkout's answer are written in one transaction.
//! - A peer failure (503) frees the claim's lease at once, so the client's retry
//!   continues where this attempt stopped; an attempt that dies holds the key
//!   until its lease runs out (`CHECKOUT_LEASE_SECS`), then a retry takes over.
//!   Every write to the claim names the attempt holding it, so a slow attempt
//!   that lost its lease cannot move the checkout on behind the new one.
//!
//! Failures before the plan is stored changed nothing anywhere: the claim is
//! dropped, and the same key may be used again (for instance once the empty
//! cart has items). A checkout nobody finishes (its client gave up after a
//! 503) is undone by the sweep once it is as old as an unpaid order may get.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use shared::accounts::LiveAccount;
use shared::auth::CustomerType;
use shared::error::{AppError, FieldErrors, PROBLEM_JSON};
use shared::extract::JsonObject;
use shared::ids::new_id;
use shared::sql::{now_secs, rfc3339};
use tokio::task::JoinSet;

use crate::OrderState;
use crate::error::{Error, Result};
use crate::identity::Customer;
use crate::model::{Benefits, Checkout, OrderLine, OrderStatus, line_total, parse_checkout, totals};
use crate::peers::{self, Lookup, Stock};
use crate::store::{CheckoutRow, Claim, Failure, Order, Phase, Planned};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_KEY_BYTES: usize = 100;

fn busy() -> Error {
    Error::conflict("a checkout with this Idempotency-Key is still in progress; retry in a moment")
}

/// The `Idempotency-Key` header: 1 to 100 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<String> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Err(AppError::BadRequest(
            "an Idempotency-Key header is required: 1 to 100 visible ASCII characters, new for each checkout".into(),
        )
        .into());
    };
    if values.next().is_some() {
        return Err(AppError::BadRequest("give one Idempotency-Key header".into()).into());
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_BYTES || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(AppError::BadRequest(
            "the Idempotency-Key must be 1 to 100 visible ASCII characters (no spaces)".into(),
        )
        .into());
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// A response as stored on the checkout, byte for byte.
fn stored(status: u16, body: String, replayed: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = if status.is_success() { "application/json" } else { PROBLEM_JSON };
    let location = (status == StatusCode::CREATED)
        .then(|| serde_json::from_str::<serde_json::Value>(&body).ok())
        .flatten()
        .and_then(|order| order["id"].as_str().map(|id| format!("/api/orders/{id}")))
        .and_then(|location| HeaderValue::from_str(&location).ok());
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// `POST /api/orders/`.
pub async fn checkout(
    State(state): State<OrderState>,
    customer: Customer,
    _: LiveAccount,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response> {
    let key = idempotency_key(&headers)?;
    let input = parse_checkout(body)?;
    if input.redeem_points > 0 && customer.typ != CustomerType::Vip {
        let mut errors = FieldErrors::new();
        errors.add("redeem_points", "only VIP customers have points to redeem");
        return Err(AppError::Validation(errors).into());
    }
    let lease = i64::try_from(state.checkout_lease.as_secs()).unwrap_or(i64::MAX);
    let claim = state
        .store
        .claim(&customer.id, &key, &input.fingerprint(), &new_id("order"), &new_id("attempt"), now_secs(), lease)
        .await?;
    let mut row = match claim {
        Claim::Owned(row) => *row,
        Claim::Replay { status, body } => return Ok(stored(status, body, true)),
        Claim::Busy => return Err(busy()),
        Claim::KeyReused => {
            return Err(Error::conflict(
                "this Idempotency-Key was used for a different checkout request; use a new key for a new checkout",
            ));
        }
    };

    if row.phase == Phase::Started {
        let plan = match price(&state, &customer, &input, &row.order_id).await {
            Ok(plan) => plan,
            Err(error) => return Err(drop_claim(&state, &row, error).await),
        };
        let max_unpaid = i64::from(state.max_unpaid_orders);
        match state.store.save_plan(&row, &plan, state.now(), max_unpaid).await? {
            Planned::Saved => {}
            Planned::Lost => return Err(busy()),
            Planned::CartTaken { order_id, placed } => {
                let refusal = if placed {
                    // The cart should have been emptied then; a failed emptying is tidied now.
                    if let Some(version) = &plan.cart_version
                        && let Err(e) = peers::checked_out(&state, &customer.id, version, &[]).await
                    {
                        tracing::warn!(%order_id, error = %e, "a checked-out cart was not emptied");
                    }
                    format!(
                        "this cart was already checked out as order `{order_id}`; add items to your cart to place \
                         another order"
                    )
                } else {
                    format!(
                        "this cart is being checked out as order `{order_id}` by a request with another \
                         Idempotency-Key; its answer is the order, or retry that request"
                    )
                };
                return Err(drop_claim(&state, &row, Error::conflict(refusal)).await);
            }
            Planned::TooManyUnpaid(waiting) => {
                let refusal = Error::conflict(format!(
                    "you have {waiting} orders waiting for payment, the most a customer may have: pay or cancel one \
                     first (an unpaid order expires {} minutes after checkout)",
                    state.unpaid_expiry.as_secs() / 60
                ));
                return Err(drop_claim(&state, &row, refusal).await);
            }
        }
        row.plan = Some(plan);
        row.phase = Phase::Reserving;
    }
    match proceed(&state, &customer, &mut row).await {
        Ok(response) => Ok(response),
        Err(error) => {
            // Let the client's retry continue at once rather than wait out the lease.
            if let Err(e) = state.store.release_lease(&row).await {
                tracing::warn!(error = %e, "a checkout's lease was not released; it runs out by itself");
            }
            Err(error)
        }
    }
}

/// Forgets a claim that changed nothing anywhere, answering `error`.
async fn drop_claim(state: &OrderState, row: &CheckoutRow, error: Error) -> Error {
    if let Err(e) = state.store.drop_claim(row).await {
        tracing::warn!(error = %e, "a failed checkout's claim was not dropped; it expires with its lease");
    }
    error
}

/// Reads the cart, prices it with the items router and the caller's VIP
/// benefits, and answers the order to place. Changes nothing anywhere. Stock is
/// not judged here: only the reservation holds under concurrent checkouts.
async fn price(state: &OrderState, customer: &Customer, input: &Checkout, order_id: &str) -> Result<Order> {
    let Some(peers::Cart { lines: cart, version }) =
        peers::cart(state, &customer.id).await?.filter(|cart| !cart.lines.is_empty())
    else {
        return Err(Error::conflict("your cart is empty: add items to it before checking out"));
    };
    let mut tasks = JoinSet::new();
    for (index, line) in cart.iter().enumerate() {
        let (state, item_id) = (state.clone(), line.item_id.clone());
        tasks.spawn(async move { (index, peers::item(&state, &item_id).await) });
    }
    let mut items: Vec<Option<Lookup>> = cart.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (index, lookup) = joined.map_err(AppError::internal)?;
        items[index] = Some(lookup?);
    }

    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let mut currency: Option<String> = None;
    for (line, lookup) in cart.iter().zip(items) {
        let named = format!("`{}` ({})", line.name, line.item_id);
        let item = match lookup {
            Some(Lookup::Found(item)) => item,
            Some(Lookup::Missing) | None => {
                problems.push(format!("{named} is no longer sold"));
                continue;
            }
            Some(Lookup::Refused(why)) => {
                problems.push(format!("{named} cannot be looked up: {why}"));
                continue;
            }
        };
        let Some(unit_price) = item.price.filter(|p| *p >= 0) else {
            problems.push(format!("{named} has no price now"));
            continue;
        };
        if item.item_type != line.item_type {
            problems.push(format!("{named} is now a {}, not a {}", item.item_type, line.item_type));
            continue;
        }
        let item_currency = item.currency.to_string();
        match &currency {
            Some(first) if *first != item_currency => {
                problems.push(format!("{named} is priced in {item_currency}, the rest of your cart in {first}"));
                continue;
            }
            _ => currency = Some(item_currency),
        }
        lines.push(OrderLine {
            item_type: item.item_type,
            item_id: line.item_id.clone(),
            name: item.name,
            quantity: line.quantity,
            unit_price,
            line_total: line_total(unit_price, line.quantity)?,
        });
    }
    if !problems.is_empty() {
        return Err(Error::conflict(format!("your cart cannot be checked out: {}", problems.join("; "))));
    }

    let benefits = match customer.typ {
        CustomerType::Vip => match peers::vip_benefits(state, customer.authorization.as_ref()).await? {
            Some(benefits) => benefits,
            None => {
                tracing::warn!(customer_id = %customer.id, "a VIP token without a VIP record: no benefits applied");
                Benefits::default()
            }
        },
        CustomerType::Registered | CustomerType::Guest => Benefits::default(),
    };
    let totals = totals(&lines, input.delivery_option, benefits, input.redeem_points)?;
    let now = now_secs();
    Ok(Order {
        id: order_id.to_string(),
        customer_id: customer.id.clone(),
        customer_type: customer.type_name().to_string(),
        status: OrderStatus::PendingPayment,
        currency: currency.unwrap_or_else(|| "USD".into()),
        subtotal: totals.subtotal,
        discount: totals.discount,
        shipping_fee: totals.shipping_fee,
        points_redeemed: totals.points_redeemed,
        total: totals.total,
        delivery_option: input.delivery_option,
        shipping_address: input.shipping_address.clone(),
        lines,
        payment_id: None,
        payment_method: None,
        shipment_id: None,
        undo_pending: false,
        created_at: now,
        updated_at: now,
        expires_at: None,
        closed_at: None,
        cart_version: Some(version),
    })
}

/// From a stored plan: take stock and points, then place the order; or, once
/// refused, give back what was taken and answer the refusal.
async fn proceed(state: &OrderState, customer: &Customer, row: &mut CheckoutRow) -> Result<Response> {
    let plan = row.plan.clone().ok_or_else(|| AppError::internal("a checkout in progress has no plan"))?;
    if row.phase == Phase::Reserving {
        match take(state, customer, &plan).await? {
            None => return place(state, row, plan).await,
            Some(failure) => {
                if !state.store.start_releasing(row, &failure, now_secs()).await? {
                    return Err(busy());
                }
                row.failure = Some(failure);
                row.phase = Phase::Releasing;
            }
        }
    }
    if row.phase != Phase::Releasing {
        return Err(AppError::internal(format!("checkout of {} resumed in an unexpected phase", plan.id)).into());
    }
    release(state, row).await
}

/// Gives back the stock a refused checkout reserved, then stores and answers
/// its refusal (the same answer for every retry of its key).
pub(crate) async fn release(state: &OrderState, row: &CheckoutRow) -> Result<Response> {
    let plan = row.plan.clone().ok_or_else(|| AppError::internal("a checkout in progress has no plan"))?;
    let failure = row.failure.clone().ok_or_else(|| AppError::internal("a failed checkout has no failure"))?;
    for line in plan.lines.iter().take(failure.reserved) {
        let key = format!("{}:release:{}", plan.id, line.item_id);
        if let Stock::Refused(why) = peers::change_stock(state, &line.item_id, line.quantity, &key).await? {
            tracing::warn!(order_id = %plan.id, item_id = %line.item_id, %why, "reserved stock could not be given back");
        }
    }
    let refusal = Error::conflict(failure.detail);
    let body = serde_json::to_string(&refusal.problem()).map_err(AppError::internal)?;
    if !state.store.finish_failed(row, refusal.status().as_u16(), &body, now_secs()).await? {
        return lost(state, row).await;
    }
    Ok(stored(refusal.status().as_u16(), body, false))
}

/// Reserves every line's stock in order, then spends the points; `Some` when
/// refused, saying how many lines hold stock that must go back.
async fn take(state: &OrderState, customer: &Customer, plan: &Order) -> Result<Option<Failure>> {
    for (index, line) in plan.lines.iter().enumerate() {
        let key = format!("{}:reserve:{}", plan.id, line.item_id);
        if let Stock::Refused(why) = peers::change_stock(state, &line.item_id, -line.quantity, &key).await? {
            return Ok(Some(Failure {
                reserved: index,
                detail: format!("`{}` ({}) could not be reserved: {why}", line.name, line.item_id),
            }));
        }
    }
    if plan.points_redeemed > 0 {
        let (reason, key) = (format!("Order {}", plan.id), format!("{}:redeem", plan.id));
        let authorization = customer.authorization.as_ref();
        if let Err(why) = peers::redeem_points(state, authorization, plan.points_redeemed, &reason, &key).await? {
            return Ok(Some(Failure {
                reserved: plan.lines.len(),
                detail: format!("your points could not be redeemed: {why}"),
            }));
        }
    }
    Ok(None)
}

/// Writes the order and the checkout's answer together, then empties the cart.
async fn place(state: &OrderState, row: &CheckoutRow, plan: Order) -> Result<Response> {
    let now = state.now();
    let expires_at = now.saturating_add(state.unpaid_expiry_secs());
    let order = Order { created_at: now, updated_at: now, expires_at: Some(expires_at), ..plan };
    let body = serde_json::to_string(&order.record()).map_err(AppError::internal)?;
    if !state.store.place(row, &order, &body, now).await? {
        return lost(state, row).await;
    }
    tracing::info!(order_id = %order.id, customer_id = %order.customer_id, total = order.total,
        expires_at = %rfc3339(expires_at), "order placed");
    // The order stands whatever happens to the cart: its version is spent, so a
    // cart left full cannot be ordered twice, and the next checkout of it tidies it.
    if let Some(version) = &order.cart_version
        && let Err(e) = peers::checked_out(state, &order.customer_id, version, &order.lines).await
    {
        tracing::warn!(order_id = %order.id, error = %e, "the cart was not emptied after checkout");
    }
    Ok(stored(StatusCode::CREATED.as_u16(), body, false))
}

/// Another attempt took the checkout over: its answer if it has one.
async fn lost(state: &OrderState, row: &CheckoutRow) -> Result<Response> {
    match state.store.checkout(&row.customer_id, &row.key).await? {
        Some(CheckoutRow { phase: Phase::Done, response: Some((status, body)), .. }) => Ok(stored(status, body, true)),
        _ => Err(busy()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        let key = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_str(value).unwrap());
            idempotency_key(&headers)
        };
        assert_eq!(key("checkout-2024-06-01T10:00:00Z#1").unwrap(), "checkout-2024-06-01T10:00:00Z#1");
        assert!(key(&"k".repeat(100)).is_ok());
        for bad in ["", "has space", &"k".repeat(101), "tab\there"] {
            assert!(matches!(key(bad), Err(Error::App(AppError::BadRequest(_)))), "{bad:?}");
        }
        assert!(matches!(idempotency_key(&HeaderMap::new()), Err(Error::App(AppError::BadRequest(_)))));
    }

    #[test]
    fn stored_answers_keep_their_status_and_body() {
        let created = stored(201, "{\"id\":\"order_1\"}".into(), true);
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(created.headers()[header::LOCATION], "/api/orders/order_1");
        assert_eq!(created.headers()["idempotent-replayed"], "true");
        let refused = stored(409, "{}".into(), false);
        assert_eq!(refused.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert!(refused.headers().get("idempotent-replayed").is_none());
    }
}
