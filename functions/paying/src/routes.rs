//! HTTP: payments under `/api/payments` for customers (their own) and staff
//! (everyone's), and the internal capture and refund-order routes.

use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::request::Parts;
use http::{HeaderMap, header};
use serde::Deserialize;
use shared::accounts::LiveAccount;
use shared::auth::{Caller, Claims, Staff};
use shared::error::{AppError, AppResult, FieldErrors};
use shared::extract::{JsonObject, QueryPairs, from_known_fields};
use shared::http_app::{both_slashes, finish_documented};
use shared::ids::has_prefix;
use shared::pagination::{Page, PageRequest, RequestUrl};
use utoipa::ToSchema;

use crate::PayingState;
use crate::domain::{MAX_KEY_CHARS, PaymentRequest, PaymentView, RefundRequest, check_reason, current_year_month};
use crate::error::PayResult;
use crate::flows::{self, OrderEvent};
use crate::store::ListFilter;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub fn router(state: PayingState) -> Router {
    let mut router = Router::new();
    for path in both_slashes("/api/payments") {
        router = router.route(&path, get(list).post(create));
    }
    for path in both_slashes("/api/payments/{id}") {
        router = router.route(&path, get(read));
    }
    for path in both_slashes("/api/payments/{id}/capture") {
        router = router.route(&path, post(staff_capture));
    }
    for path in both_slashes("/api/payments/{id}/refunds") {
        router = router.route(&path, post(staff_refund));
    }
    router = router
        .route("/internal/payments/capture", post(internal_capture))
        .route("/internal/payments/refund-order", post(refund_order));
    finish_documented(router.with_state(state), &crate::openapi())
}

/// A caller with a valid token: a customer (their own payments) or staff (all).
pub struct Customer(pub Claims);

impl FromRequestParts<PayingState> for Customer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &PayingState) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await?.0 {
            Some(claims) => Ok(Customer(claims)),
            None => Err(AppError::Unauthorized("log in to pay or to see payments".into())),
        }
    }
}

/// The `Idempotency-Key` header, required before the body is even read.
pub struct IdempotencyKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let value = parts.headers.get(IDEMPOTENCY_KEY).ok_or_else(|| {
            AppError::BadRequest(
                "the Idempotency-Key header is required: a unique value per payment attempt (a UUID, say), \
                 sent again unchanged when retrying"
                    .into(),
            )
        })?;
        let key = value.to_str().map(str::trim).unwrap_or_default();
        if key.is_empty() || key.len() > MAX_KEY_CHARS || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::BadRequest(format!(
                "the Idempotency-Key header must be 1 to {MAX_KEY_CHARS} visible ASCII characters"
            )));
        }
        Ok(IdempotencyKey(key.to_string()))
    }
}

/// Ids that cannot be payments are answered like absent ones, without a query.
fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("there is no payment {}", shared::ids::mention(id)))
}

fn checked_id(id: &str) -> AppResult<&str> {
    if has_prefix(id, "payment") { Ok(id) } else { Err(not_found(id)) }
}

async fn create(
    State(state): State<PayingState>,
    Customer(caller): Customer,
    _: LiveAccount,
    IdempotencyKey(key): IdempotencyKey,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> PayResult<Response> {
    let request = PaymentRequest::parse(body, current_year_month())?;
    flows::create(&state, &caller, headers.get(header::AUTHORIZATION), &key, &request).await
}

async fn list(
    State(state): State<PayingState>,
    Customer(caller): Customer,
    url: RequestUrl,
    query: QueryPairs,
) -> AppResult<axum::Json<Page<PaymentView>>> {
    let mut params = query.into_params();
    let order_id = params.text("order_id", 100);
    let page = PageRequest::from_params(&mut params);
    params.finish()?;
    let page = page.ok_or_else(|| AppError::internal("page request missing without an error"))?;
    let filter = ListFilter { customer_id: (!caller.is_staff()).then(|| caller.sub.clone()), order_id };
    let (payments, count) = state.store.list(&filter, page.offset, page.limit).await?;
    Ok(axum::Json(Page::new(payments.iter().map(flows::view).collect(), count, &page, &url)))
}

async fn read(
    State(state): State<PayingState>,
    Customer(caller): Customer,
    Path(id): Path<String>,
) -> AppResult<axum::Json<PaymentView>> {
    let payment = state.store.payment(checked_id(&id)?).await?.ok_or_else(|| not_found(&id))?;
    // Another customer's payment is answered like a missing one: its existence is not theirs to learn.
    if !caller.is_staff() && payment.customer_id != caller.sub {
        return Err(not_found(&id));
    }
    Ok(axum::Json(flows::view(&payment)))
}

async fn staff_capture(
    State(state): State<PayingState>,
    _staff: Staff,
    Path(id): Path<String>,
) -> PayResult<axum::Json<PaymentView>> {
    Ok(axum::Json(flows::staff_capture(&state, checked_id(&id)?).await?))
}

async fn staff_refund(
    State(state): State<PayingState>,
    _staff: Staff,
    Path(id): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    JsonObject(body): JsonObject,
) -> PayResult<Response> {
    let request = RefundRequest::parse(body)?;
    flows::staff_refund(&state, checked_id(&id)?, &key, request.amount, &request.reason).await
}

/// `POST /internal/payments/capture`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CaptureForOrder {
    pub order_id: String,
    /// `shipped` or `delivered`.
    pub event: String,
}

async fn internal_capture(
    State(state): State<PayingState>,
    JsonObject(body): JsonObject,
) -> PayResult<axum::Json<PaymentView>> {
    let input: CaptureForOrder = from_known_fields(body, &["order_id", "event"])?;
    let mut errors = FieldErrors::new();
    check_order_id(&mut errors, &input.order_id);
    let event = match input.event.as_str() {
        "shipped" => Some(OrderEvent::Shipped),
        "delivered" => Some(OrderEvent::Delivered),
        _ => {
            errors.add("event", "must be shipped or delivered");
            None
        }
    };
    errors.into_result()?;
    let event = event.ok_or_else(|| AppError::internal("an event passed validation without a value"))?;
    Ok(axum::Json(flows::capture_for_order(&state, input.order_id.trim(), event).await?))
}

/// `POST /internal/payments/refund-order`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RefundOrder {
    pub order_id: String,
    pub reason: String,
}

async fn refund_order(
    State(state): State<PayingState>,
    JsonObject(body): JsonObject,
) -> PayResult<axum::Json<PaymentView>> {
    let input: RefundOrder = from_known_fields(body, &["order_id", "reason"])?;
    let mut errors = FieldErrors::new();
    check_order_id(&mut errors, &input.order_id);
    let reason = input.reason.trim();
    check_reason(&mut errors, "reason", reason);
    errors.into_result()?;
    Ok(axum::Json(flows::refund_order(&state, input.order_id.trim(), reason).await?))
}

fn check_order_id(errors: &mut FieldErrors, order_id: &str) {
    if !has_prefix(order_id.trim(), "order") {
        errors.add("order_id", "is not an order id (order_...)");
    }
}
