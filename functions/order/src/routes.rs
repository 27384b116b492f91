//! HTTP: the caller's orders under `/api/orders`, and the internal routes the
//! paying and shipping functions use to move an order through its lifecycle.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use shared::accounts::LiveAccount;
use shared::auth::Staff;
use shared::error::{AppError, FieldErrors};
use shared::extract::{JsonObject, QueryPairs};
use shared::http_app::{both_slashes, finish_documented};
use shared::ids::has_prefix;
use shared::pagination::{Page, PageRequest, RequestUrl};
use utoipa::ToSchema;

use crate::OrderState;
use crate::checkout::checkout;
use crate::error::{Error, Result};
use crate::identity::Customer;
use crate::lifecycle::{self, SweepReport, Undo, closing, expire_if_overdue, settle};
use crate::model::{DeliveryOption, DeliveryOptions, OrderRecord, OrderStatus, parse_body};
use crate::peers;
use crate::store::{ListFilter, Order};

pub fn router(state: OrderState) -> Router {
    let mut router = Router::new();
    for path in both_slashes("/api/orders") {
        router = router.route(&path, get(list).post(checkout));
    }
    for path in both_slashes("/api/orders/delivery-options") {
        router = router.route(&path, get(delivery_options));
    }
    for path in both_slashes("/api/orders/{id}") {
        router = router.route(&path, get(detail));
    }
    for path in both_slashes("/api/orders/{id}/cancel") {
        router = router.route(&path, post(cancel));
    }
    for path in both_slashes("/api/orders/{id}/refund") {
        router = router.route(&path, post(refund));
    }
    router = router
        .route("/internal/orders/{id}", get(internal_order))
        .route("/internal/orders/{id}/paid", post(paid))
        .route("/internal/orders/{id}/status", post(set_status))
        .route("/internal/orders/sweep", post(sweep));
    finish_documented(router.with_state(state), &crate::openapi())
}

fn no_order(id: &str) -> Error {
    Error::not_found(format!("there is no order {}", shared::ids::mention(id)))
}

/// An order the caller may see: anyone else's is answered like a missing one.
async fn visible(state: &OrderState, customer: &Customer, id: &str) -> Result<Order> {
    if id.is_empty() || id.len() > 100 {
        return Err(no_order(id));
    }
    match state.store.order(id).await? {
        Some(order) if customer.may_see(&order.customer_id) => current(state, order).await,
        _ => Err(no_order(id)),
    }
}

/// The order as it stands now: one whose time for payment ran out is expired
/// here and now rather than at the next sweep, so nobody sees (or pays) an
/// order that is no longer payable.
async fn current(state: &OrderState, order: Order) -> Result<Order> {
    if !order.is_overdue(state.now()) {
        return Ok(order);
    }
    match expire_if_overdue(state, &order.id).await {
        Ok(expired) => Ok(expired.unwrap_or(order)),
        // Expired, but not all given back yet: the sweep finishes that.
        Err(Error::App(AppError::Unavailable { .. })) => Ok(state.store.order(&order.id).await?.unwrap_or(order)),
        Err(other) => Err(other),
    }
}

/// The delivery options: data, the same for everyone, so no token is needed.
async fn delivery_options() -> Json<DeliveryOptions> {
    Json(DeliveryOptions { options: DeliveryOption::ALL.into_iter().map(Into::into).collect() })
}

async fn list(
    State(state): State<OrderState>,
    customer: Customer,
    url: RequestUrl,
    query: QueryPairs,
) -> Result<Json<Page<OrderRecord>>> {
    let mut params = query.into_params();
    let status = params.text("status", 20).and_then(|name| {
        let status = OrderStatus::parse(&name);
        if status.is_none() {
            params.add_error("status", format!("must be one of {}", OrderStatus::names()));
        }
        status
    });
    let customer_id = params.text("customer_id", 100);
    // A well-formed filter this caller may not use: refused as such, not as a bad request.
    if customer_id.is_some() && !customer.staff {
        return Err(AppError::Forbidden("only staff filter by customer; you see your own orders".into()).into());
    }
    let page = PageRequest::from_params(&mut params);
    params.finish()?;
    let page = page.ok_or_else(|| AppError::internal("page request missing without an error"))?;
    let filter =
        ListFilter { customer_id: if customer.staff { customer_id } else { Some(customer.id.clone()) }, status };
    let (orders, count) = state.store.list(&filter, page.offset, page.limit).await?;
    Ok(Json(Page::new(orders.iter().map(Order::record).collect(), count, &page, &url)))
}

async fn detail(
    State(state): State<OrderState>,
    customer: Customer,
    Path(id): Path<String>,
) -> Result<Json<OrderRecord>> {
    Ok(Json(visible(&state, &customer, &id).await?.record()))
}

async fn cancel(
    State(state): State<OrderState>,
    customer: Customer,
    _: LiveAccount,
    Path(id): Path<String>,
) -> Result<Json<OrderRecord>> {
    visible(&state, &customer, &id).await?;
    let now = state.now();
    let order = state
        .store
        .modify(&id, |order| match order.status {
            OrderStatus::Cancelled => Ok(None),
            OrderStatus::PendingPayment | OrderStatus::Paid => Ok(Some(closing(order, OrderStatus::Cancelled, now))),
            OrderStatus::Shipped | OrderStatus::Delivered => Err(Error::conflict(format!(
                "order `{id}` is {} and can no longer be cancelled; staff can refund it",
                order.status
            ))),
            OrderStatus::Refunded => Err(Error::conflict(format!("order `{id}` is refunded"))),
            OrderStatus::Expired => Err(Error::conflict(format!(
                "order `{id}` expired unpaid; its stock and points were given back already"
            ))),
        })
        .await?
        .ok_or_else(|| no_order(&id))?;
    if order.undo_pending {
        tracing::info!(order_id = %id, by = %customer.id, "order cancelled");
    }
    Ok(Json(settle(&state, order, Undo::Cancel).await?.record()))
}

/// Staff only. The goods went out, so the stock is not restocked automatically:
/// staff restock what comes back through the catalog. The payment is refunded in
/// full (whatever a partial refund left) and the points the delivery earned are
/// taken back.
async fn refund(
    State(state): State<OrderState>,
    Staff(staff): Staff,
    Path(id): Path<String>,
) -> Result<Json<OrderRecord>> {
    let now = state.now();
    let order = state
        .store
        .modify(&id, |order| match order.status {
            OrderStatus::Refunded => Ok(None),
            OrderStatus::Shipped | OrderStatus::Delivered => Ok(Some(closing(order, OrderStatus::Refunded, now))),
            other => Err(Error::conflict(format!(
                "order `{id}` is {other}: only shipped or delivered orders are refunded (cancel a pending or paid one)"
            ))),
        })
        .await?
        .ok_or_else(|| no_order(&id))?;
    if order.undo_pending {
        tracing::info!(order_id = %id, by = %staff.sub, "order refunded");
    }
    Ok(Json(settle(&state, order, Undo::Refund).await?.record()))
}

async fn internal_order(State(state): State<OrderState>, Path(id): Path<String>) -> Result<Json<OrderRecord>> {
    let order = state.store.order(&id).await?.ok_or_else(|| no_order(&id))?;
    Ok(Json(current(&state, order).await?.record()))
}

/// Run by the schedule (deployed), the local server's background task, or by
/// hand: see [`lifecycle::sweep`].
async fn sweep(State(state): State<OrderState>) -> Json<SweepReport> {
    Json(lifecycle::sweep(&state).await)
}

/// `POST /internal/orders/{id}/paid`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PaidBody {
    pub payment_id: String,
    /// `card`, `wallet`, `cash_on_delivery` or `points`.
    pub method: String,
}

const PAYMENT_METHODS: [&str; 4] = ["card", "wallet", "cash_on_delivery", "points"];

/// Paying reports a successful (or, for cash on delivery, accepted) payment.
/// Idempotent per payment id; the shipment is created next, and a retry creates
/// it if an earlier call could not.
async fn paid(
    State(state): State<OrderState>,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<OrderRecord>> {
    let input: PaidBody = parse_body(body, &["payment_id", "method"])?;
    let (payment_id, method) = (input.payment_id.trim().to_string(), input.method.trim().to_string());
    let mut errors = FieldErrors::new();
    if !has_prefix(&payment_id, "payment") {
        errors.add("payment_id", "is not a payment id (payment_...)");
    }
    if !PAYMENT_METHODS.contains(&method.as_str()) {
        errors.add("method", format!("must be one of {}", PAYMENT_METHODS.join(", ")));
    }
    errors.into_result()?;
    let now = state.now();
    // The order's row lock decides between a payment and the expiry: whichever
    // changes the order first wins, and the other is refused.
    let order = state
        .store
        .modify(&id, |order| match order.status {
            OrderStatus::PendingPayment if order.is_overdue(now) => Ok(Some(closing(order, OrderStatus::Expired, now))),
            OrderStatus::PendingPayment => Ok(Some(Order {
                status: OrderStatus::Paid,
                payment_id: Some(payment_id.clone()),
                payment_method: Some(method.clone()),
                updated_at: now,
                ..order.clone()
            })),
            OrderStatus::Cancelled | OrderStatus::Expired => Err(Error::conflict(format!(
                "order `{id}` is {}: its payment is to be voided or refunded",
                order.status
            ))),
            _ if order.payment_id.as_deref() == Some(payment_id.as_str()) => Ok(None),
            _ => Err(Error::conflict(format!("order `{id}` is {} with another payment", order.status))),
        })
        .await?
        .ok_or_else(|| no_order(&id))?;
    if order.status == OrderStatus::Expired {
        tracing::info!(order_id = %id, %payment_id, "a payment came after the order expired; it is refused");
        if let Err(e) = settle(&state, order, Undo::Expire).await {
            tracing::warn!(order_id = %id, error = %e, "an expired order's stock and points go back at the next sweep");
        }
        return Err(Error::conflict(format!("order `{id}` expired unpaid: its payment is to be voided or refunded")));
    }
    if order.status != OrderStatus::Paid || order.shipment_id.is_some() {
        return Ok(Json(order.record()));
    }
    let shipment_id = peers::create_shipment(&state, &order.record()).await.map_err(|error| match error {
        Error::App(AppError::Unavailable { detail, .. }) => Error::unavailable(format!(
            "order `{id}` is paid, but its shipment could not be created yet ({detail}); repeat this call to create it"
        )),
        other => other,
    })?;
    state.store.set_shipment(&id, &shipment_id, state.now()).await?;
    let order = state.store.order(&id).await?.unwrap_or(order);
    // Cancelled while its shipment was being made: the cancellation may have
    // asked to stop it before it existed, so it is stopped here too.
    if order.status.is_closed() {
        peers::stop_shipment(&state, &id).await?;
    }
    Ok(Json(order.record()))
}

/// `POST /internal/orders/{id}/status`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct StatusBody {
    /// `shipped` or `delivered`.
    pub status: String,
}

/// Shipping reports progress: paid → shipped → delivered (paid → delivered for
/// a pickup, or a parcel whose shipping was never reported).
async fn set_status(
    State(state): State<OrderState>,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<OrderRecord>> {
    let input: StatusBody = parse_body(body, &["status"])?;
    let target = match OrderStatus::parse(input.status.trim()) {
        Some(status @ (OrderStatus::Shipped | OrderStatus::Delivered)) => status,
        _ => {
            let mut errors = FieldErrors::new();
            errors.add("status", "must be shipped or delivered");
            return Err(AppError::Validation(errors).into());
        }
    };
    let now = state.now();
    let order = state
        .store
        .modify(&id, |order| match (order.status, target) {
            (current, target) if current == target => Ok(None),
            (OrderStatus::Paid, _) | (OrderStatus::Shipped, OrderStatus::Delivered) => {
                Ok(Some(Order { status: target, updated_at: now, ..order.clone() }))
            }
            (current, target) => Err(Error::conflict(format!("order `{id}` is {current}; it cannot become {target}"))),
        })
        .await?
        .ok_or_else(|| no_order(&id))?;
    Ok(Json(order.record()))
}
