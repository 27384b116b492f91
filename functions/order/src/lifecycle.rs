//! An order's way out: cancelled, expired unpaid, or refunded, and what each
//! owes other functions (stock back, points back or taken back, the payment
//! voided or refunded). Also the sweep that expires unpaid orders, finishes
//! what a failed peer left half done, and undoes checkouts their clients
//! abandoned.
//!
//! The order's status changes first, under its row lock, so a payment arriving
//! meanwhile is refused rather than shipped: of a payment and an expiry (or a
//! cancellation) exactly one wins. `undo_pending` then stays set until every
//! call has succeeded. Each call is keyed by the order id, so repeating them
//! (a repeated cancel, or the sweep) repeats nothing.

use std::time::{Duration, Instant};

use serde::Serialize;
use shared::error::AppError;
use shared::ids::new_id;
use shared::sql::now_secs;
use utoipa::ToSchema;

use crate::OrderState;
use crate::checkout::release;
use crate::error::{Error, Result};
use crate::model::OrderStatus;
use crate::peers::{self, PaymentUndo, Stock};
use crate::store::{CheckoutRow, Failure, Order, Phase};

/// How long an undo waits for a payment another request is working on (its
/// processor calls take seconds at most) before it answers 503.
const PAYMENT_WAIT: Duration = Duration::from_secs(10);
/// Orders (and checkouts) one sweep handles of each kind; the next run takes the rest.
const SWEEP_BATCH: i64 = 50;
/// An undo left pending is the sweep's once it is this old, so the request that
/// began it, and the client's retry of it, go first.
const UNDO_GRACE_SECS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undo {
    Cancel,
    Expire,
    Refund,
}

impl Undo {
    /// The undo an order closed with `status` owes.
    fn of(status: OrderStatus) -> Option<Self> {
        match status {
            OrderStatus::Cancelled => Some(Undo::Cancel),
            OrderStatus::Expired => Some(Undo::Expire),
            OrderStatus::Refunded => Some(Undo::Refund),
            _ => None,
        }
    }
}

/// `order` closed as `status` at `now`, its calls to other functions owed.
pub fn closing(order: &Order, status: OrderStatus, now: i64) -> Order {
    Order { status, undo_pending: true, updated_at: now, closed_at: Some(now), ..order.clone() }
}

/// Makes the calls a closed order owes. The shipment is stopped, then stock and
/// points go back: they depend on nothing else, so a payment still being worked
/// on cannot hold them up; the payment comes last. Every
/// call is tried even when one fails; the first failure is answered, and the
/// order stays `undo_pending` for a repeat (or the sweep) to finish.
pub async fn settle(state: &OrderState, order: Order, undo: Undo) -> Result<Order> {
    if !order.undo_pending {
        return Ok(order);
    }
    let reason = match undo {
        Undo::Cancel => format!("Order {} cancelled", order.id),
        Undo::Expire => format!("Order {} expired unpaid", order.id),
        Undo::Refund => format!("Order {} refunded", order.id),
    };
    let mut failures = Vec::new();
    // First, so no carrier event moves the parcel on from here. Asked even
    // without a recorded shipment: one may have been made before it was recorded.
    if let Err(e) = peers::stop_shipment(state, &order.id).await {
        failures.push(e);
    }
    if undo != Undo::Refund {
        for line in &order.lines {
            let key = format!("{}:release:{}", order.id, line.item_id);
            match peers::change_stock(state, &line.item_id, line.quantity, &key).await {
                Ok(Stock::Moved) => {}
                Ok(Stock::Refused(why)) => {
                    tracing::warn!(order_id = %order.id, item_id = %line.item_id, %why, "stock not given back");
                }
                Err(e) => failures.push(e),
            }
        }
    }
    if order.points_redeemed > 0 {
        let (redeem_key, key) = (format!("{}:redeem", order.id), format!("{}:points-back", order.id));
        match peers::restore_points(state, &order.customer_id, &redeem_key, &reason, &key).await {
            Ok(true) => {}
            Ok(false) => tracing::error!(order_id = %order.id, customer_id = %order.customer_id,
                points = order.points_redeemed, "redeemed points could not be given back: no such redeem or member"),
            Err(e) => failures.push(e),
        }
    }
    if undo == Undo::Refund && order.customer_type == "vip" {
        // Delivery earned these (shipping credits them under this key).
        let (earn_key, key) = (format!("{}:delivered", order.id), format!("{}:points-revoked", order.id));
        match peers::revoke_points(state, &order.customer_id, &earn_key, &reason, &key).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(order_id = %order.id, customer_id = %order.customer_id,
                "earned points not taken back: the customer is no VIP member any more"),
            Err(e) => failures.push(e),
        }
    }
    if let Err(e) = undo_payment(state, &order, &reason).await {
        failures.push(e);
    }
    if let Some(first) = failures.into_iter().next() {
        tracing::warn!(order_id = %order.id, error = %first, "an undo is left pending; a repeat or the sweep finishes it");
        return Err(first);
    }
    state.store.finish_undo(&order.id, state.now()).await?;
    Ok(state.store.order(&order.id).await?.unwrap_or(order))
}

/// Voids or refunds the order's payment, waiting (a bounded while) for one
/// that another request is working on, such as a payment being made.
async fn undo_payment(state: &OrderState, order: &Order, reason: &str) -> Result<()> {
    let deadline = Instant::now() + PAYMENT_WAIT;
    let mut pause = Duration::from_millis(50);
    loop {
        // Asked even for an unpaid order: a payment may have been made while the
        // order was being closed, and paying answers 404 when there is none.
        match peers::refund_payment(state, &order.id, reason).await? {
            PaymentUndo::Done => return Ok(()),
            PaymentUndo::None => {
                if order.payment_id.is_some() {
                    tracing::error!(order_id = %order.id, "paying has no payment for an order that was paid");
                }
                return Ok(());
            }
            PaymentUndo::Busy(detail) if Instant::now() + pause > deadline => {
                return Err(Error::App(AppError::Unavailable {
                    detail: format!(
                        "order `{}` is {}, but its payment is still being processed ({detail}); the rest is done, \
                         and the payment is given back by itself within minutes, or when this request is sent again",
                        order.id, order.status
                    ),
                    retry_after_secs: 5,
                }));
            }
            PaymentUndo::Busy(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Expires the order if it is still unpaid after its time, then gives back what
/// it holds. The order as it is afterwards; `None` when there is no such order.
pub async fn expire_if_overdue(state: &OrderState, id: &str) -> Result<Option<Order>> {
    let now = state.now();
    let order = state
        .store
        .modify(id, |order| Ok::<_, Error>(order.is_overdue(now).then(|| closing(order, OrderStatus::Expired, now))))
        .await?;
    match order {
        Some(order) if order.status == OrderStatus::Expired && order.undo_pending => {
            tracing::info!(order_id = %id, "order expired unpaid");
            settle(state, order, Undo::Expire).await.map(Some)
        }
        other => Ok(other),
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct SweepReport {
    /// Unpaid orders expired.
    pub expired: u32,
    /// Cancellations, expiries and refunds whose owed calls were finished.
    pub finished: u32,
    /// Checkouts their clients never finished, undone.
    pub abandoned: u32,
    /// Steps that failed (a peer down): the next sweep tries them again.
    pub failed: u32,
}

/// Expires unpaid orders whose time is up, finishes undos left pending, and
/// undoes checkouts left unfinished for longer than an order may stay unpaid.
/// Running it again changes nothing more; each step is safe against the
/// requests it may meet (a payment, a client's retry).
pub async fn sweep(state: &OrderState) -> SweepReport {
    let mut report = SweepReport::default();
    let now = state.now();
    match state.store.overdue(now, SWEEP_BATCH).await {
        Ok(ids) => {
            for id in ids {
                match expire_if_overdue(state, &id).await {
                    Ok(Some(order)) if order.status == OrderStatus::Expired => report.expired += 1,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(order_id = %id, error = %e, "an unpaid order could not be expired yet");
                        report.failed += 1;
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "the sweep could not list unpaid orders");
            report.failed += 1;
        }
    }
    match state.store.pending_undos(now - UNDO_GRACE_SECS, SWEEP_BATCH).await {
        Ok(ids) => {
            for id in ids {
                match finish_pending(state, &id).await {
                    Ok(()) => report.finished += 1,
                    Err(e) => {
                        tracing::warn!(order_id = %id, error = %e, "a pending undo could not be finished yet");
                        report.failed += 1;
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "the sweep could not list pending undos");
            report.failed += 1;
        }
    }
    // Lease times are the wall clock's; how long a checkout may stay open is the
    // order service's own clock.
    match state.store.abandoned(now_secs(), now - state.unpaid_expiry_secs(), SWEEP_BATCH).await {
        Ok(rows) => {
            for row in rows {
                let order_id = row.order_id.clone();
                match abandon(state, row).await {
                    Ok(true) => report.abandoned += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(%order_id, error = %e, "an abandoned checkout could not be undone yet");
                        report.failed += 1;
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "the sweep could not list abandoned checkouts");
            report.failed += 1;
        }
    }
    if report != SweepReport::default() {
        tracing::info!(
            expired = report.expired,
            finished = report.finished,
            abandoned = report.abandoned,
            failed = report.failed,
            "sweep"
        );
    }
    report
}

async fn finish_pending(state: &OrderState, id: &str) -> Result<()> {
    let Some(order) = state.store.order(id).await? else { return Ok(()) };
    match Undo::of(order.status) {
        Some(undo) => settle(state, order, undo).await.map(|_| ()),
        None => Err(AppError::internal(format!("order {id} owes an undo but is {}", order.status)).into()),
    }
}

/// Undoes a checkout nobody finished: nothing is ordered, everything it took
/// goes back, and its answer (a 409) is stored for the client's key. False when
/// another attempt holds it by now.
async fn abandon(state: &OrderState, row: CheckoutRow) -> Result<bool> {
    let lease = i64::try_from(state.checkout_lease.as_secs()).unwrap_or(i64::MAX);
    let Some(mut row) = state.store.take_over(&row, &new_id("attempt"), now_secs(), lease).await? else {
        return Ok(false);
    };
    tracing::info!(order_id = %row.order_id, customer_id = %row.customer_id, phase = ?row.phase,
        "undoing an abandoned checkout");
    match row.phase {
        Phase::Started => state.store.drop_claim(&row).await?,
        Phase::Reserving => {
            let plan = row.plan.clone().ok_or_else(|| AppError::internal("a checkout in progress has no plan"))?;
            // Which lines hold stock is not recorded. Replaying the reservations in
            // order tells: each one made before is a replay, and the first one
            // missing is made now or refused, so afterwards exactly the lines up to
            // there hold stock, and all of those are given back.
            let mut held = 0;
            for line in &plan.lines {
                let key = format!("{}:reserve:{}", plan.id, line.item_id);
                match peers::change_stock(state, &line.item_id, -line.quantity, &key).await? {
                    Stock::Moved => held += 1,
                    Stock::Refused(_) => break,
                }
            }
            if plan.points_redeemed > 0 {
                let (redeem_key, key) = (format!("{}:redeem", plan.id), format!("{}:points-back", plan.id));
                let reason = format!("Checkout of order {} abandoned", plan.id);
                peers::restore_points(state, &plan.customer_id, &redeem_key, &reason, &key).await?;
            }
            let failure = Failure {
                reserved: held,
                detail: "this checkout was never finished, so nothing was ordered; check out again".into(),
            };
            if !state.store.start_releasing(&row, &failure, now_secs()).await? {
                return Ok(false);
            }
            row.failure = Some(failure);
            row.phase = Phase::Releasing;
            release(state, &row).await?;
        }
        Phase::Releasing => {
            release(state, &row).await?;
        }
        Phase::Done => return Ok(false),
    }
    Ok(true)
}
