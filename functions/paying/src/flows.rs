//! What a payment goes through: created and charged, accepted by its order,
//! captured, refunded or voided.
//!
//! Every step that talks to the outside world runs under the payment's lease and
//! is keyed, so it can be cut off at any point and resumed: a client retries its
//! Idempotency-Key, the order service retries its internal call, and each lands
//! on the same payment and the same processor or VIP keys.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use shared::auth::{Claims, CustomerType};
use shared::error::{AppError, FieldErrors};
use shared::ids::new_id;
use shared::sql::{now_secs, rfc3339};

use crate::PayingState;
use crate::domain::{
    CardSummary, MAX_POINTS, Method, PaymentRequest, PaymentState, PaymentView, RefundKind, RefundStatus, RefundView,
};
use crate::error::{PayError, PayResult};
use crate::peers::{self, OrderInfo, Paid, Redeem};
use crate::processor::ProcessorError;
use crate::store::{PaymentRecord, RefundRecord};

/// How long one request may hold a payment: three processor attempts and a few
/// peer calls, each under its own deadline, fit well inside it.
const LEASE_SECS: i64 = 30;
const RETRY_AFTER_SECS: u32 = 2;
/// The one refund that undoes an order's payment entirely (order cancelled, or
/// the order refused the payment); internal callers retry into it.
pub const REFUND_ORDER_KEY: &str = "refund-order";

pub fn view(p: &PaymentRecord) -> PaymentView {
    let card = match (&p.card_brand, &p.card_last4) {
        (Some(brand), Some(last4)) => Some(CardSummary { brand: brand.clone(), last4: last4.clone() }),
        _ => None,
    };
    PaymentView {
        id: p.id.clone(),
        order_id: p.order_id.clone(),
        customer_id: p.customer_id.clone(),
        method: p.method,
        state: p.state,
        amount: p.amount,
        currency: p.currency.clone(),
        captured_amount: p.captured_amount,
        refunded_amount: p.refunded_amount,
        card,
        wallet_email: p.wallet_email.clone(),
        decline_code: p.decline_code.clone(),
        refunds: p
            .refunds
            .iter()
            .map(|r| RefundView {
                id: r.id.clone(),
                kind: r.kind,
                status: r.status,
                amount: r.amount,
                reason: r.reason.clone(),
                created_at: rfc3339(r.created_at),
            })
            .collect(),
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(p.updated_at),
    }
}

fn view_json(p: &PaymentRecord) -> String {
    serde_json::to_string(&view(p)).unwrap_or_default()
}

/// A stored answer, exactly as it was first given.
fn render(status: i64, body: &str) -> Response {
    let status = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK);
    let content_type = if status.is_success() { "application/json" } else { shared::error::PROBLEM_JSON };
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn replay(p: &PaymentRecord) -> Option<Response> {
    match (p.response_status, &p.response_body) {
        (Some(status), Some(body)) => Some(render(status, body)),
        _ => None,
    }
}

/// Another request holds the payment's lease: a conflict with work in progress
/// (like a key still being processed), not an outage of this service.
fn busy() -> PayError {
    PayError::App(AppError::Conflict("another request is changing this payment; retry shortly".into()))
}

fn processor_unavailable(what: &str, attempts: u32) -> PayError {
    PayError::App(AppError::Unavailable {
        detail: format!("the payment processor did not {what} after {attempts} attempts; retry shortly"),
        retry_after_secs: RETRY_AFTER_SECS,
    })
}

fn amount_error(message: String) -> PayError {
    let mut errors = FieldErrors::new();
    errors.add("amount", message);
    PayError::App(AppError::Validation(errors))
}

/// Runs `work` on a payment this request holds, letting the lease go if it fails
/// (a finished step saves with the lease already let go).
async fn guarded<T>(state: &PayingState, id: &str, work: impl Future<Output = PayResult<T>>) -> PayResult<T> {
    let result = work.await;
    if result.is_err()
        && let Err(e) = state.store.release(id).await
    {
        tracing::warn!(payment_id = %id, error = %e, "could not let a payment's lease go; it runs out by itself");
    }
    result
}

/// Takes the lease on payment `id` and reads it fresh.
async fn lease(state: &PayingState, id: &str) -> PayResult<PaymentRecord> {
    let now = now_secs();
    if !state.store.claim(id, now, now + LEASE_SECS).await? {
        return Err(busy());
    }
    state.store.payment(id).await?.ok_or_else(|| PayError::App(AppError::internal(format!("payment {id} vanished"))))
}

/// Saves the payment and lets its lease go.
async fn finish(state: &PayingState, p: &mut PaymentRecord) -> PayResult<()> {
    p.lease_until = 0;
    p.updated_at = now_secs();
    Ok(state.store.save(p).await?)
}

async fn finish_with(
    state: &PayingState,
    mut p: PaymentRecord,
    status: StatusCode,
    body: String,
) -> PayResult<Response> {
    p.response_status = Some(i64::from(status.as_u16()));
    p.response_body = Some(body);
    finish(state, &mut p).await?;
    Ok(replay(&p).unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

/// Ends the creating request with an error that is its final answer.
async fn finish_with_error(state: &PayingState, p: PaymentRecord, error: PayError) -> PayResult<Response> {
    let body = error.body().to_string();
    finish_with(state, p, error.status(), body).await
}

// ---------------------------------------------------------------------------
// Creating a payment

/// `POST /api/payments/`: the stored answer for a key already answered, the same
/// payment resumed for a key whose request was cut off, or a new payment.
pub async fn create(
    state: &PayingState,
    caller: &Claims,
    authorization: Option<&HeaderValue>,
    key: &str,
    request: &PaymentRequest,
) -> PayResult<Response> {
    let fingerprint = request.fingerprint();
    // Twice at most: a new payment that loses the insert to a twin with the same
    // key continues as that twin's retry.
    for _ in 0..2 {
        let now = now_secs();
        if let Some(existing) = state.store.by_key(&caller.sub, key).await? {
            if existing.fingerprint != fingerprint {
                return Err(AppError::Conflict(
                    "this Idempotency-Key was already used for a different payment request; use a new key".into(),
                )
                .into());
            }
            if let Some(answer) = replay(&existing) {
                return Ok(answer);
            }
            if !state.store.claim(&existing.id, now, now + LEASE_SECS).await? {
                return Err(AppError::Conflict(
                    "a request with this Idempotency-Key is still being processed; retry shortly".into(),
                )
                .into());
            }
            let id = existing.id.clone();
            return guarded(state, &id, async {
                let p = state.store.payment(&id).await?.ok_or_else(|| AppError::internal("payment vanished"))?;
                match replay(&p) {
                    Some(answer) => {
                        state.store.release(&id).await?;
                        Ok(answer)
                    }
                    None => proceed(state, authorization, p, request, None).await,
                }
            })
            .await;
        }

        let order = peers::order(state, &request.order_id)
            .await?
            .filter(|o| caller.is_staff() || o.customer_id == caller.sub)
            .ok_or_else(|| AppError::NotFound(format!("there is no order `{}`", request.order_id)))?;
        check_payable(&order)?;
        check_method(caller, request, &order)?;
        if let Some(other) = state.store.blocking_for_order(&order.id, now).await? {
            let detail = if other.state == PaymentState::Processing {
                format!("another payment for order `{}` is being processed", order.id)
            } else {
                format!("order `{}` is already paid by payment `{}`", order.id, other.id)
            };
            return Err(AppError::Conflict(detail).into());
        }
        let p = PaymentRecord {
            id: new_id("payment"),
            order_id: order.id.clone(),
            customer_id: order.customer_id.clone(),
            requested_by: caller.sub.clone(),
            idempotency_key: key.to_string(),
            fingerprint: fingerprint.clone(),
            method: request.method,
            state: PaymentState::Processing,
            amount: order.total,
            currency: order.currency.to_string(),
            captured_amount: 0,
            refunded_amount: 0,
            card_brand: request.card.as_ref().map(|c| c.brand().to_string()),
            card_last4: request.card.as_ref().map(|c| c.last4().to_string()),
            wallet_email: request.wallet_email.clone(),
            decline_code: None,
            processor_ref: None,
            accepted_at: None,
            response_status: None,
            response_body: None,
            lease_until: now + LEASE_SECS,
            created_at: now,
            updated_at: now,
            refunds: Vec::new(),
        };
        if state.store.insert(&p).await? {
            let id = p.id.clone();
            return guarded(state, &id, proceed(state, authorization, p, request, Some(order))).await;
        }
    }
    Err(AppError::Conflict("a request with this Idempotency-Key is still being processed; retry shortly".into()).into())
}

fn check_payable(order: &OrderInfo) -> PayResult<()> {
    match order.status.as_str() {
        "pending_payment" => Ok(()),
        "paid" | "shipped" | "delivered" => {
            Err(AppError::Conflict(format!("order `{}` is already paid", order.id)).into())
        }
        status => Err(AppError::Conflict(format!(
            "order `{}` is {status}; only an order pending payment can be paid",
            order.id
        ))
        .into()),
    }
}

/// Points come out of the caller's own VIP balance, with the caller's own token.
fn check_method(caller: &Claims, request: &PaymentRequest, order: &OrderInfo) -> PayResult<()> {
    if request.method != Method::Points {
        return Ok(());
    }
    let mut errors = FieldErrors::new();
    if caller.typ != CustomerType::Vip || caller.sub != order.customer_id {
        errors.add("method", "points can only be redeemed by the VIP customer who placed the order");
    } else if order.total > MAX_POINTS {
        errors.add("method", format!("at most {MAX_POINTS} points can be redeemed for one order"));
    }
    Ok(errors.into_result()?)
}

enum Charged {
    Done,
    Declined(String),
}

/// Takes the payment from where it stopped to its final answer. The lease is held.
async fn proceed(
    state: &PayingState,
    authorization: Option<&HeaderValue>,
    mut p: PaymentRecord,
    request: &PaymentRequest,
    order: Option<OrderInfo>,
) -> PayResult<Response> {
    let order = match order {
        Some(order) => Some(order),
        None => peers::order(state, &p.order_id).await?,
    };
    let pending = order.as_ref().is_some_and(OrderInfo::is_pending_payment);
    if matches!(p.state, PaymentState::Processing | PaymentState::Failed) {
        if !pending {
            // Nothing was taken, and the order no longer waits for money.
            let detail = format!("order `{}` can no longer be paid", p.order_id);
            return finish_with_error(state, p, AppError::Conflict(detail).into()).await;
        }
        if let Charged::Declined(detail) = charge(state, &mut p, authorization, request).await? {
            let decline_code = p.decline_code.clone().unwrap_or_default();
            let declined = PayError::Declined { payment_id: p.id.clone(), decline_code, detail };
            return finish_with_error(state, p, declined).await;
        }
        p.updated_at = now_secs();
        state.store.save(&p).await?;
    }
    if p.state == PaymentState::Declined {
        let decline_code = p.decline_code.clone().unwrap_or_default();
        let detail = format!("the payment was declined ({decline_code})");
        let declined = PayError::Declined { payment_id: p.id.clone(), decline_code, detail };
        return finish_with_error(state, p, declined).await;
    }
    if order.as_ref().is_some_and(|o| o.paid_by(&p.id)) {
        return accept(state, p).await;
    }
    if !p.state.is_live() {
        let detail = format!("order `{}` did not take this payment; it was {}", p.order_id, p.state);
        return finish_with_error(state, p, AppError::Conflict(detail).into()).await;
    }
    let refused = if pending {
        match peers::mark_paid(state, &p.order_id, &p.id, p.method).await? {
            Paid::Accepted => return accept(state, p).await,
            Paid::Refused(detail) => detail,
        }
    } else {
        format!("order `{}` can no longer be paid", p.order_id)
    };
    // Another payment won the order, or it was cancelled meanwhile: give the money back.
    undo(state, &mut p, "the order did not take this payment").await?;
    let detail = format!("{refused}; payment `{}` was {}", p.id, p.state);
    finish_with_error(state, p, AppError::Conflict(detail).into()).await
}

async fn accept(state: &PayingState, mut p: PaymentRecord) -> PayResult<Response> {
    p.accepted_at = Some(now_secs());
    p.updated_at = now_secs();
    let body = view_json(&p);
    finish_with(state, p, StatusCode::CREATED, body).await
}

/// Records a transient failure and lets the client retry the same key later.
async fn failed(state: &PayingState, p: &mut PaymentRecord, code: &str, error: PayError) -> PayResult<Charged> {
    p.state = PaymentState::Failed;
    p.decline_code = Some(code.to_string());
    finish(state, p).await?;
    Err(error)
}

async fn charge(
    state: &PayingState,
    p: &mut PaymentRecord,
    authorization: Option<&HeaderValue>,
    request: &PaymentRequest,
) -> PayResult<Charged> {
    p.decline_code = None;
    if p.amount == 0 {
        // Nothing to collect (points or discounts covered the order).
        p.state = PaymentState::Captured;
        return Ok(Charged::Done);
    }
    let attempts = state.retry.attempts;
    match p.method {
        Method::Card => {
            let card = request.card.as_ref().ok_or_else(|| AppError::internal("a card payment without a card"))?;
            let key = format!("{}:authorize", p.id);
            let (amount, currency) = (p.amount, p.currency.clone());
            let answer =
                state.retry.run("authorize", || state.processor.authorize(&key, card, amount, &currency)).await;
            match answer {
                Ok(reference) => {
                    p.processor_ref = Some(reference);
                    p.state = PaymentState::Authorized;
                    if state.capture_immediately
                        && let Err(e) = capture_card(state, p).await
                    {
                        // Still authorized: shipping captures it later.
                        tracing::warn!(payment_id = %p.id, error = ?e.status(), "immediate capture failed");
                    }
                    Ok(Charged::Done)
                }
                Err(ProcessorError::Declined(code)) => {
                    p.state = PaymentState::Declined;
                    let detail = format!("the card was declined ({code})");
                    p.decline_code = Some(code);
                    Ok(Charged::Declined(detail))
                }
                Err(ProcessorError::Transient(code)) => {
                    failed(state, p, &code, processor_unavailable("authorize the card", attempts)).await
                }
            }
        }
        Method::Wallet => {
            let email = request.wallet_email.clone().unwrap_or_default();
            let key = format!("{}:wallet", p.id);
            let (amount, currency) = (p.amount, p.currency.clone());
            let answer =
                state.retry.run("wallet", || state.processor.charge_wallet(&key, &email, amount, &currency)).await;
            match answer {
                Ok(reference) => {
                    p.processor_ref = Some(reference);
                    p.state = PaymentState::Captured;
                    p.captured_amount = p.amount;
                    Ok(Charged::Done)
                }
                Err(ProcessorError::Declined(code)) => {
                    p.state = PaymentState::Declined;
                    let detail = format!("the wallet declined the payment ({code})");
                    p.decline_code = Some(code);
                    Ok(Charged::Declined(detail))
                }
                Err(ProcessorError::Transient(code)) => {
                    failed(state, p, &code, processor_unavailable("charge the wallet", attempts)).await
                }
            }
        }
        Method::CashOnDelivery => {
            p.state = PaymentState::Pending;
            Ok(Charged::Done)
        }
        Method::Points => {
            let authorization = authorization
                .ok_or_else(|| AppError::Unauthorized("points are redeemed with your own VIP token".into()))?;
            let reason = format!("payment {} for order {}", p.id, p.order_id);
            let key = format!("{}:points", p.id);
            match peers::redeem_points(state, authorization, p.amount, &reason, &key).await {
                Ok(Redeem::Redeemed) => {
                    p.state = PaymentState::Captured;
                    p.captured_amount = p.amount;
                    Ok(Charged::Done)
                }
                Ok(Redeem::Declined(code, detail)) => {
                    p.state = PaymentState::Declined;
                    p.decline_code = Some(code.to_string());
                    Ok(Charged::Declined(detail))
                }
                Err(e) => failed(state, p, "points_unavailable", e).await,
            }
        }
    }
}

async fn capture_card(state: &PayingState, p: &mut PaymentRecord) -> PayResult<()> {
    let reference =
        p.processor_ref.clone().ok_or_else(|| AppError::internal("an authorization without a reference"))?;
    let key = format!("{}:capture", p.id);
    let amount = p.amount;
    match state.retry.run("capture", || state.processor.capture(&key, &reference, amount)).await {
        Ok(()) => {
            p.state = PaymentState::Captured;
            p.captured_amount = p.amount;
            Ok(())
        }
        Err(ProcessorError::Transient(_)) => Err(processor_unavailable("capture the payment", state.retry.attempts)),
        Err(ProcessorError::Declined(code)) => {
            Err(PayError::BadGateway(format!("the payment processor refused to capture payment `{}` ({code})", p.id)))
        }
    }
}

// ---------------------------------------------------------------------------
// Capturing

/// `POST /api/payments/{id}/capture` (staff): an authorized card is captured; a
/// captured one is answered as it is.
pub async fn staff_capture(state: &PayingState, id: &str) -> PayResult<PaymentView> {
    exists(state, id).await?;
    let mut p = lease(state, id).await?;
    guarded(state, id, async {
        match (p.method, p.state) {
            (Method::Card, PaymentState::Authorized) => capture_card(state, &mut p).await?,
            (_, PaymentState::Captured | PaymentState::PartiallyRefunded | PaymentState::Refunded)
                if p.captured_amount > 0 => {}
            (_, current) => {
                return Err(AppError::Conflict(format!(
                    "only an authorized card payment can be captured; this one is {current}"
                ))
                .into());
            }
        }
        finish(state, &mut p).await?;
        Ok(view(&p))
    })
    .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    Shipped,
    Delivered,
}

/// `POST /internal/payments/capture`: collects what is due when the order ships
/// (a card) or is delivered (a card never captured, or cash on delivery).
pub async fn capture_for_order(state: &PayingState, order_id: &str, event: OrderEvent) -> PayResult<PaymentView> {
    let found = order_payment(state, order_id).await?;
    let mut p = lease(state, &found.id).await?;
    guarded(state, &found.id, async {
        match (p.method, p.state, event) {
            (Method::Card, PaymentState::Authorized, _) => capture_card(state, &mut p).await?,
            (Method::CashOnDelivery, PaymentState::Pending, OrderEvent::Delivered) => {
                p.state = PaymentState::Captured;
                p.captured_amount = p.amount;
            }
            _ => {}
        }
        finish(state, &mut p).await?;
        Ok(view(&p))
    })
    .await
}

async fn exists(state: &PayingState, id: &str) -> PayResult<PaymentRecord> {
    Ok(state
        .store
        .payment(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no payment {}", shared::ids::mention(id))))?)
}

async fn order_payment(state: &PayingState, order_id: &str) -> PayResult<PaymentRecord> {
    Ok(state
        .store
        .order_payment(order_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("order `{order_id}` has no payment")))?)
}

// ---------------------------------------------------------------------------
// Refunds and voids

struct RefundPlan<'a> {
    key: &'a str,
    requested_amount: Option<i64>,
    reason: &'a str,
    /// Internal undo: any retry under the key is the same request whatever its reason.
    internal: bool,
}

/// `POST /api/payments/{id}/refunds` (staff): 201 with the payment, the same
/// answer again for a repeated key.
pub async fn staff_refund(
    state: &PayingState,
    id: &str,
    key: &str,
    amount: Option<i64>,
    reason: &str,
) -> PayResult<Response> {
    exists(state, id).await?;
    let mut p = lease(state, id).await?;
    guarded(state, id, async {
        if !p.refunds.iter().any(|r| r.idempotency_key == key) {
            agrees_with_order(state, &p, amount).await?;
        }
        let plan = RefundPlan { key, requested_amount: amount, reason, internal: false };
        let refund = refund(state, &mut p, &plan).await?;
        finish(state, &mut p).await?;
        let body = refund.response_body.unwrap_or_else(|| view_json(&p));
        Ok(render(i64::from(StatusCode::CREATED.as_u16()), &body))
    })
    .await
}

/// A refund through paying must leave the payment telling the order's story.
/// While the order is open (not cancelled, expired or refunded), giving back
/// everything the payment still holds (a void, or a refund of all that is
/// left) would leave a paid order with no money behind it, whose shipment goes
/// on: that is the order's to do, since cancelling or refunding it also stops
/// the shipment and gives stock or points back. Partial refunds (a goodwill
/// credit, a part returned) keep the payment live and are the payment's own.
async fn agrees_with_order(state: &PayingState, p: &PaymentRecord, amount: Option<i64>) -> PayResult<()> {
    let Some(order) = peers::order(state, &p.order_id).await? else { return Ok(()) };
    if matches!(order.status.as_str(), "cancelled" | "expired" | "refunded") {
        return Ok(());
    }
    // Amounts beyond what is left, and payments with nothing left, are refused
    // by the refund itself, as they would be whatever the order's status.
    let rest = p.captured_amount - p.refunded_amount - p.reserved();
    let everything = match p.state {
        PaymentState::Captured | PaymentState::PartiallyRefunded => rest > 0 && amount.is_none_or(|a| a == rest),
        PaymentState::Authorized | PaymentState::Pending => amount.is_none_or(|a| a == p.amount),
        _ => false,
    };
    if !everything {
        return Ok(());
    }
    let (id, status) = (&order.id, &order.status);
    let how = match status.as_str() {
        "pending_payment" | "paid" => format!("cancel the order (POST /api/orders/{id}/cancel)"),
        _ => format!("refund the order (POST /api/orders/{id}/refund)"),
    };
    let partial =
        if rest > 1 { format!("; a partial refund (an amount below {rest}) can be made here") } else { String::new() };
    Err(AppError::Conflict(format!(
        "order `{id}` is {status} and payment `{}` is all the money it has: to give it all back, {how}, which also \
         stops its shipment and gives back stock or points{partial}",
        p.id
    ))
    .into())
}

/// `POST /internal/payments/refund-order`: undoes the order's payment entirely.
pub async fn refund_order(state: &PayingState, order_id: &str, reason: &str) -> PayResult<PaymentView> {
    let found = order_payment(state, order_id).await?;
    let mut p = lease(state, &found.id).await?;
    guarded(state, &found.id, async {
        undo(state, &mut p, reason).await?;
        finish(state, &mut p).await?;
        Ok(view(&p))
    })
    .await
}

/// Gives back whatever the payment still holds; nothing for one already undone
/// or one that never took anything.
async fn undo(state: &PayingState, p: &mut PaymentRecord, reason: &str) -> PayResult<()> {
    settle_pending(state, p).await?;
    let captured = matches!(p.state, PaymentState::Captured | PaymentState::PartiallyRefunded);
    if captured && p.captured_amount <= p.refunded_amount {
        // A zero-amount payment: nothing to give back.
        p.state = PaymentState::Refunded;
    } else if p.state.is_live() {
        let plan = RefundPlan { key: REFUND_ORDER_KEY, requested_amount: None, reason, internal: true };
        refund(state, p, &plan).await?;
    }
    Ok(())
}

/// Refunds or voids under `plan.key`, once: a repeated key answers the first refund.
async fn refund(state: &PayingState, p: &mut PaymentRecord, plan: &RefundPlan<'_>) -> PayResult<RefundRecord> {
    settle_pending(state, p).await?;
    if let Some(existing) = p.refunds.iter().find(|r| r.idempotency_key == plan.key) {
        if !plan.internal && (existing.requested_amount != plan.requested_amount || existing.reason != plan.reason) {
            return Err(AppError::Conflict(
                "this Idempotency-Key was already used for a different refund; use a new key".into(),
            )
            .into());
        }
        return Ok(existing.clone());
    }
    let (kind, amount) = match (p.method, p.state) {
        (_, PaymentState::Authorized) | (Method::CashOnDelivery, PaymentState::Pending) => {
            if plan.requested_amount.is_some_and(|a| a != p.amount) {
                return Err(amount_error(format!(
                    "this payment is {}: it can only be voided in full ({}); capture it first to refund part of it",
                    p.state, p.amount
                )));
            }
            (RefundKind::Void, p.amount)
        }
        (_, PaymentState::Captured | PaymentState::PartiallyRefunded) => {
            let rest = p.captured_amount - p.refunded_amount - p.reserved();
            let amount = plan.requested_amount.unwrap_or(rest);
            if rest <= 0 {
                return Err(AppError::Conflict(format!("payment `{}` has nothing left to refund", p.id)).into());
            }
            if amount > rest {
                return Err(amount_error(format!("at most {rest} can be refunded (captured minus refunded)")));
            }
            (RefundKind::Refund, amount)
        }
        (_, current) => {
            return Err(
                AppError::Conflict(format!("this payment is {current}: it has nothing to refund or void")).into()
            );
        }
    };
    let now = now_secs();
    let record = RefundRecord {
        id: new_id("refund"),
        payment_id: p.id.clone(),
        kind,
        status: RefundStatus::Pending,
        amount,
        requested_amount: plan.requested_amount,
        reason: plan.reason.to_string(),
        idempotency_key: plan.key.to_string(),
        response_body: None,
        created_at: now,
        updated_at: now,
    };
    if !state.store.insert_refund(&record).await? {
        return Err(busy());
    }
    p.refunds.push(record.clone());
    execute_refund(state, p, record).await
}

/// Finishes refunds whose processor answer was lost, before anything else is
/// refunded: their amounts are reserved until then.
async fn settle_pending(state: &PayingState, p: &mut PaymentRecord) -> PayResult<()> {
    let pending: Vec<RefundRecord> = p.refunds.iter().filter(|r| r.status == RefundStatus::Pending).cloned().collect();
    for refund in pending {
        execute_refund(state, p, refund).await?;
    }
    Ok(())
}

/// Asks the processor (or the VIP service) for a recorded refund, then records
/// the answer; the key makes asking again after a lost answer safe.
async fn execute_refund(
    state: &PayingState,
    p: &mut PaymentRecord,
    mut refund: RefundRecord,
) -> PayResult<RefundRecord> {
    let reference = p.processor_ref.clone();
    let reference = || reference.clone().ok_or_else(|| PayError::App(AppError::internal("no processor reference")));
    let attempts = state.retry.attempts;
    let outcome = match (refund.kind, p.method) {
        (RefundKind::Void, Method::Card) => {
            let (key, reference) = (format!("{}:void", p.id), reference()?);
            Some(state.retry.run("void", || state.processor.void(&key, &reference)).await)
        }
        (RefundKind::Refund, Method::Card | Method::Wallet) => {
            let (key, reference) = (format!("{}:refund:{}", p.id, refund.id), reference()?);
            let amount = refund.amount;
            Some(state.retry.run("refund", || state.processor.refund(&key, &reference, amount)).await)
        }
        (RefundKind::Refund, Method::Points) => {
            let key = if refund.idempotency_key == REFUND_ORDER_KEY {
                format!("{}:points-back", p.id)
            } else {
                format!("{}:points-back:{}", p.id, refund.id)
            };
            let reason = format!("points back for payment {}", p.id);
            let redeem_key = format!("{}:points", p.id);
            peers::give_points_back(state, &p.customer_id, &redeem_key, refund.amount, &reason, &key).await?;
            None
        }
        // Cash not yet collected, or handed back at the counter: nothing to ask anyone.
        _ => None,
    };
    match outcome {
        None | Some(Ok(())) => {}
        Some(Err(ProcessorError::Transient(_))) => return Err(processor_unavailable("refund the payment", attempts)),
        Some(Err(ProcessorError::Declined(code))) => {
            // A final no: the refund never happened, so it must not keep its amount reserved.
            state.store.delete_refund(&refund.id).await?;
            p.refunds.retain(|r| r.id != refund.id);
            return Err(PayError::BadGateway(format!(
                "the payment processor refused the {} of payment `{}` ({code})",
                refund.kind.as_str(),
                p.id
            )));
        }
    }
    let now = now_secs();
    match refund.kind {
        RefundKind::Void => p.state = PaymentState::Voided,
        RefundKind::Refund => {
            p.refunded_amount += refund.amount;
            p.state = if p.refunded_amount >= p.captured_amount {
                PaymentState::Refunded
            } else {
                PaymentState::PartiallyRefunded
            };
        }
    }
    refund.status = RefundStatus::Succeeded;
    refund.updated_at = now;
    p.updated_at = now;
    if let Some(entry) = p.refunds.iter_mut().find(|r| r.id == refund.id) {
        *entry = refund.clone();
    }
    refund.response_body = Some(view_json(p));
    state.store.complete_refund(&refund, p).await?;
    if let Some(entry) = p.refunds.iter_mut().find(|r| r.id == refund.id) {
        *entry = refund.clone();
    }
    tracing::info!(payment_id = %p.id, refund_id = %refund.id, kind = refund.kind.as_str(), amount = refund.amount,
        "payment refunded");
    Ok(refund)
}
