//! One function per invariant, each reading the snapshot and adding what it
//! finds broken. A rule whose stores were not read does nothing (the snapshot
//! notes it).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use order::OrderStatus;
use order::store::{Order, Phase};
use paying::domain::{RefundKind, RefundStatus};
use paying::store::PaymentRecord;
use paying::{Method, PaymentState};
use shipping::Status;
use shipping::store::ShipmentRecord;
use vip_customer::domain::{EntryKind, LedgerEntry, year_of};

use crate::{Invariant, Report, Snapshot, StockLine};

type Rule = fn(&Snapshot, &mut Report);

/// Every rule, in the order the report lists their findings.
pub const ALL: [Rule; 7] = [stock, money, shipments, points, one_order_per_cart, lifecycle, accounts];

/// How long past its time an unpaid order may wait for the sweep (which runs
/// every few minutes) before it counts as forgotten.
const SWEEP_SLACK_SECS: i64 = 15 * 60;

/// `{order}:reserve:{item}` and `{order}:release:{item}`: the order, and the
/// item the key names.
fn order_move(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.splitn(3, ':');
    let (order, what, item) = (parts.next()?, parts.next()?, parts.next()?);
    (order.starts_with("order_") && matches!(what, "reserve" | "release")).then_some((order, item))
}

/// What the order service says `order_id` should hold of an item: `Some(exact)`,
/// or `None` when any amount up to the line's is right (a checkout in progress).
fn expected_holding(snapshot: &Snapshot, orders: &HashMap<&str, &Order>, order_id: &str, item_id: &str) -> Option<i64> {
    if let Some(order) = orders.get(order_id) {
        let line = order.lines.iter().find(|l| l.item_id == item_id).map_or(0, |l| l.quantity);
        return Some(if order.status.holds_stock() { line } else { 0 });
    }
    let open = snapshot.open_checkouts.iter().flatten().find(|c| c.order_id == order_id);
    match open {
        // Reserving, or giving back what it reserved: any part of its lines.
        Some(checkout) if matches!(checkout.phase, Phase::Reserving | Phase::Releasing) => None,
        // Started (nothing reserved yet), refused and answered, or unknown: nothing.
        _ => Some(0),
    }
}

fn stock(snapshot: &Snapshot, report: &mut Report) {
    let (Some(items), Some(orders)) = (&snapshot.items, &snapshot.orders) else { return };
    let by_id: HashMap<&str, &Order> = orders.iter().map(|o| (o.id.as_str(), o)).collect();
    for item in items {
        if item.stock < 0 {
            report.violation(Invariant::Stock, &item.id, format!("stock is {}", item.stock));
        }
        // What the item's own records hold, per order.
        let mut held: BTreeMap<&str, i64> = BTreeMap::new();
        for (key, delta) in &item.moves.moves {
            if let Some((order_id, named)) = order_move(key) {
                if named != item.id {
                    report.violation(Invariant::Stock, &item.id, format!("holds a stock change for `{named}`: {key}"));
                }
                *held.entry(order_id).or_default() -= delta;
            }
        }
        // Orders holding the item that its records do not know of.
        let mut pairs: BTreeSet<&str> = held.keys().copied().collect();
        if item.moves.complete {
            pairs.extend(orders.iter().filter(|o| o.lines.iter().any(|l| l.item_id == item.id)).map(|o| o.id.as_str()));
        }
        for order_id in pairs {
            let recorded = held.get(order_id).copied().unwrap_or(0);
            if by_id.get(order_id).is_some_and(|o| o.undo_pending) {
                continue; // reported once, by the lifecycle rule
            }
            match expected_holding(snapshot, &by_id, order_id, &item.id) {
                Some(expected) if expected != recorded => report.violation(
                    Invariant::Stock,
                    &item.id,
                    format!(
                        "order `{order_id}` holds {expected} by the order service, {recorded} by the item's records"
                    ),
                ),
                None if recorded < 0 => report.violation(
                    Invariant::Stock,
                    &item.id,
                    format!("checkout of `{order_id}` gave back {} more than it reserved", -recorded),
                ),
                _ => {}
            }
        }
        let total: i64 = held.values().sum();
        report.stock.push(StockLine {
            item_id: item.id.clone(),
            staff_set: item.stock + total,
            stock: item.stock,
            held: total,
        });
    }
}

fn payments_by_order(snapshot: &Snapshot) -> HashMap<&str, Vec<&PaymentRecord>> {
    let mut by_order: HashMap<&str, Vec<&PaymentRecord>> = HashMap::new();
    for p in snapshot.payments.iter().flatten() {
        by_order.entry(p.order_id.as_str()).or_default().push(p);
    }
    by_order
}

fn money(snapshot: &Snapshot, report: &mut Report) {
    let Some(payments) = &snapshot.payments else { return };
    for p in payments {
        let succeeded = |kind| -> i64 {
            p.refunds.iter().filter(|r| r.kind == kind && r.status == RefundStatus::Succeeded).map(|r| r.amount).sum()
        };
        if p.captured_amount > p.amount || p.refunded_amount > p.captured_amount || p.refunded_amount < 0 {
            report.violation(
                Invariant::Money,
                &p.id,
                format!("amount {}, captured {}, refunded {}", p.amount, p.captured_amount, p.refunded_amount),
            );
        }
        if succeeded(RefundKind::Refund) != p.refunded_amount {
            report.violation(
                Invariant::Money,
                &p.id,
                format!(
                    "its refunds add up to {}, its refunded amount is {}",
                    succeeded(RefundKind::Refund),
                    p.refunded_amount
                ),
            );
        }
        if p.state == PaymentState::Voided && p.captured_amount > 0 {
            report.violation(Invariant::Money, &p.id, "voided after money was captured");
        }
    }
    let Some(orders) = &snapshot.orders else { return };
    let by_order = payments_by_order(snapshot);
    let known: BTreeSet<&str> = orders.iter().map(|o| o.id.as_str()).collect();
    for p in payments.iter().filter(|p| !known.contains(p.order_id.as_str())) {
        report.violation(Invariant::Money, &p.id, format!("pays for order `{}`, which does not exist", p.order_id));
    }
    for order in orders {
        let paid_with = by_order.get(order.id.as_str()).cloned().unwrap_or_default();
        // A payment whose request is at work right now may be live but not yet accepted.
        let working = |p: &&PaymentRecord| p.lease_until >= snapshot.now && p.accepted_at.is_none();
        let live: Vec<&PaymentRecord> = paid_with.iter().copied().filter(|p| p.state.is_live()).collect();
        let accepted: Vec<&PaymentRecord> = paid_with.iter().copied().filter(|p| p.accepted_at.is_some()).collect();
        let mut problem = |detail: String| report.violation(Invariant::Money, &order.id, detail);
        if live.len() > 1 {
            problem(format!("{} live payments: {}", live.len(), ids(&live)));
        }
        if accepted.len() > 1 {
            problem(format!("{} accepted payments: {}", accepted.len(), ids(&accepted)));
        }
        match order.status {
            OrderStatus::PendingPayment => {
                let taken: Vec<&PaymentRecord> = live.iter().copied().filter(|p| !working(p)).collect();
                if !accepted.is_empty() || !taken.is_empty() {
                    problem(format!("waits for payment, yet holds {}", ids(&[accepted, taken].concat())));
                }
            }
            OrderStatus::Paid | OrderStatus::Shipped | OrderStatus::Delivered => {
                let Some(p) = accepted.first() else {
                    problem(format!("is {} without an accepted payment", order.status));
                    continue;
                };
                if order.payment_id.as_deref() != Some(p.id.as_str()) {
                    problem(format!("records payment {:?}, paying accepted `{}`", order.payment_id, p.id));
                }
                if !p.state.is_live() {
                    problem(format!("is {}, its payment `{}` is {}", order.status, p.id, p.state));
                }
                if p.amount != order.total {
                    problem(format!("totals {}, its payment `{}` is for {}", order.total, p.id, p.amount));
                }
                let collected = matches!(p.state, PaymentState::Captured | PaymentState::PartiallyRefunded);
                let due = match (order.status, p.method) {
                    (OrderStatus::Shipped, Method::CashOnDelivery) => false,
                    (OrderStatus::Shipped | OrderStatus::Delivered, _) => true,
                    _ => false,
                };
                if due && !collected {
                    problem(format!(
                        "is {}, but its payment `{}` was never captured ({})",
                        order.status, p.id, p.state
                    ));
                }
            }
            OrderStatus::Cancelled | OrderStatus::Expired | OrderStatus::Refunded => {
                if !live.is_empty() && !order.undo_pending {
                    problem(format!("is {}, yet its payment still holds money: {}", order.status, ids(&live)));
                }
            }
        }
    }
}

fn ids(payments: &[&PaymentRecord]) -> String {
    payments.iter().map(|p| format!("`{}` ({})", p.id, p.state)).collect::<Vec<_>>().join(", ")
}

/// A refunded or cancelled order is never shipped afterwards; a paid one has its
/// shipment, and the order's status and the shipment's agree.
fn shipments(snapshot: &Snapshot, report: &mut Report) {
    let (Some(orders), Some(shipments)) = (&snapshot.orders, &snapshot.shipments) else { return };
    let by_order: HashMap<&str, &ShipmentRecord> = shipments.iter().map(|s| (s.order_id.as_str(), s)).collect();
    let known: HashMap<&str, &Order> = orders.iter().map(|o| (o.id.as_str(), o)).collect();
    for s in shipments {
        match known.get(s.order_id.as_str()) {
            None => {
                report.violation(Invariant::Money, &s.id, format!("ships order `{}`, which does not exist", s.order_id))
            }
            Some(order) if order.payment_id.is_none() => {
                report.violation(Invariant::Money, &s.id, format!("ships order `{}`, which was never paid", order.id));
            }
            Some(_) => {}
        }
    }
    for order in orders {
        let shipment = by_order.get(order.id.as_str()).copied();
        let left =
            |s: &ShipmentRecord| s.events.iter().any(|e| matches!(e.status, Status::InTransit | Status::Delivered));
        let mut problem = |detail: String| report.violation(Invariant::Money, &order.id, detail);
        match (order.status, shipment) {
            (OrderStatus::Paid | OrderStatus::Shipped | OrderStatus::Delivered, None) => {
                problem(format!("is {} without a shipment", order.status));
            }
            (OrderStatus::Paid, Some(s)) if s.status != Status::LabelCreated => {
                problem(format!("is paid, its shipment `{}` is {}", s.id, s.status.as_str()));
            }
            (OrderStatus::Shipped, Some(s)) if !left(s) || s.status == Status::Delivered => {
                problem(format!("is shipped, its shipment `{}` is {}", s.id, s.status.as_str()));
            }
            (OrderStatus::Delivered, Some(s)) if s.status != Status::Delivered => {
                problem(format!("is delivered, its shipment `{}` is {}", s.id, s.status.as_str()));
            }
            (OrderStatus::Cancelled | OrderStatus::Expired, Some(s)) if left(s) => {
                problem(format!("is {}, yet its shipment `{}` left", order.status, s.id));
            }
            (OrderStatus::Cancelled | OrderStatus::Expired | OrderStatus::Refunded, Some(s)) if !order.undo_pending => {
                match s.stopped_at {
                    None => problem(format!("is {}, its shipment `{}` was not stopped", order.status, s.id)),
                    Some(stopped) => {
                        let after: Vec<&str> = s
                            .events
                            .iter()
                            .filter(|e| e.at > stopped && e.status != Status::Returned)
                            .map(|e| e.status.as_str())
                            .collect();
                        if !after.is_empty() {
                            problem(format!(
                                "is {}, yet its shipment moved on after it stopped: {after:?}",
                                order.status
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn entries<'a>(ledger: &'a [LedgerEntry], kind: EntryKind, reference: &str) -> impl Iterator<Item = &'a LedgerEntry> {
    ledger.iter().filter(move |e| e.kind == kind && e.reference_key.as_deref() == Some(reference))
}

fn by_key<'a>(ledger: &'a [LedgerEntry], key: &str) -> Option<&'a LedgerEntry> {
    ledger.iter().find(|e| e.idempotency_key == key)
}

fn points(snapshot: &Snapshot, report: &mut Report) {
    let Some(members) = &snapshot.members else { return };
    let year = year_of(snapshot.now);
    for member in members {
        let (c, ledger) = (&member.customer, &member.ledger);
        let subject = format!("VIP {}", c.customer_id);
        let mut problem = |detail: String| report.violation(Invariant::Points, &subject, detail);
        let sum: i64 = ledger.iter().map(|e| e.points).sum();
        if sum != c.points_balance {
            problem(format!("balance {}, its ledger adds up to {sum}", c.points_balance));
        }
        if c.points_balance < 0 {
            problem(format!("balance {} is negative", c.points_balance));
        }
        let lifetime: i64 = ledger.iter().map(|e| e.lifetime_change).sum();
        if lifetime != c.lifetime_points {
            problem(format!("lifetime points {}, its ledger adds up to {lifetime}", c.lifetime_points));
        }
        for e in ledger.iter().filter(|e| e.lifetime_change != 0 && !e.kind.moves_lifetime()) {
            problem(format!(
                "a {} entry (`{}`) moved lifetime points by {}",
                e.kind.as_str(),
                e.idempotency_key,
                e.lifetime_change
            ));
        }
        for e in ledger.iter().filter(|e| matches!(e.kind, EntryKind::Restore | EntryKind::Revoke)) {
            let reference = e.reference_key.as_deref().unwrap_or_default();
            let tombstone = e.kind == EntryKind::Revoke && e.idempotency_key == reference;
            let undone = by_key(ledger, reference).filter(|_| !tombstone);
            let expected = if e.kind == EntryKind::Restore { EntryKind::Redeem } else { EntryKind::Earn };
            match undone {
                None if tombstone => {}
                Some(original) if original.kind == expected => {}
                _ => problem(format!(
                    "{} `{}` undoes no {} (`{reference}`)",
                    e.kind.as_str(),
                    e.idempotency_key,
                    expected.as_str()
                )),
            }
        }
        for original in ledger.iter().filter(|e| matches!(e.kind, EntryKind::Redeem | EntryKind::Earn)) {
            let (kind, what) = if original.kind == EntryKind::Redeem {
                (EntryKind::Restore, "given back")
            } else {
                (EntryKind::Revoke, "taken back")
            };
            let undone: i64 = entries(ledger, kind, &original.idempotency_key).map(|e| e.requested_points).sum();
            if undone > original.points.abs() {
                problem(format!(
                    "{undone} points of `{}` were {what}, it was for {}",
                    original.idempotency_key,
                    original.points.abs()
                ));
            }
        }
        if let (Some(earned), Some(held)) = (snapshot.tiers.earned(c.lifetime_points), snapshot.tiers.get(c.tier)) {
            let kept = !snapshot.downgrade_mid_year && c.tier_year >= year;
            if held.rank < earned.rank || (held.rank > earned.rank && !kept) {
                problem(format!(
                    "is {} with {} lifetime points, which reach {}",
                    c.tier, c.lifetime_points, earned.name
                ));
            }
        }
    }
    order_points(snapshot, report);
    payment_points(snapshot, report);
}

/// An order's redeem stands while the order does and is given back once it is
/// cancelled, expired or refunded; a refunded order's earn is taken back.
fn order_points(snapshot: &Snapshot, report: &mut Report) {
    let (Some(orders), Some(members)) = (&snapshot.orders, &snapshot.members) else { return };
    let ledgers: HashMap<&str, &[LedgerEntry]> =
        members.iter().map(|m| (m.customer.customer_id.as_str(), m.ledger.as_slice())).collect();
    let closed_members = snapshot.closed_members.clone().unwrap_or_default();
    for order in orders.iter().filter(|o| !o.undo_pending) {
        let ledger = ledgers.get(order.customer_id.as_str()).copied().unwrap_or_default();
        // A closed account's points went with it: what closes after the closure
        // gives nothing back and takes nothing, so less than owed is right there.
        let forfeited = closed_members.contains(&order.customer_id);
        let mut problem = |detail: String| report.violation(Invariant::Points, &order.id, detail);
        if order.points_redeemed > 0 {
            let key = format!("{}:redeem", order.id);
            match by_key(ledger, &key) {
                Some(redeem) if redeem.kind == EntryKind::Redeem && -redeem.points == order.points_redeemed => {
                    let back: i64 = entries(ledger, EntryKind::Restore, &key).map(|e| e.points).sum();
                    let owed = if order.status.is_closed() { order.points_redeemed } else { 0 };
                    if back != owed && !(forfeited && (0..owed).contains(&back)) {
                        problem(format!(
                            "is {}: {owed} of its {} redeemed points should be back, {back} are",
                            order.status, order.points_redeemed
                        ));
                    }
                }
                _ => problem(format!("redeemed {} points, the ledger has no such redeem", order.points_redeemed)),
            }
        }
        if order.status == OrderStatus::Refunded && order.customer_type == "vip" {
            let key = format!("{}:delivered", order.id);
            if let Some(earn) = by_key(ledger, &key).filter(|e| e.kind == EntryKind::Earn) {
                let taken: i64 = entries(ledger, EntryKind::Revoke, &key).map(|e| e.requested_points).sum();
                if taken != earn.points && !(forfeited && (0..earn.points).contains(&taken)) {
                    problem(format!(
                        "is refunded, yet {} of the {} points its delivery earned are kept",
                        earn.points - taken,
                        earn.points
                    ));
                }
            }
        }
    }
}

/// A points payment redeemed its amount, and its restores are what it refunded.
fn payment_points(snapshot: &Snapshot, report: &mut Report) {
    let (Some(payments), Some(members)) = (&snapshot.payments, &snapshot.members) else { return };
    let ledgers: HashMap<&str, &[LedgerEntry]> =
        members.iter().map(|m| (m.customer.customer_id.as_str(), m.ledger.as_slice())).collect();
    for p in payments.iter().filter(|p| p.method == Method::Points && p.amount > 0 && p.captured_amount > 0) {
        let ledger = ledgers.get(p.customer_id.as_str()).copied().unwrap_or_default();
        let key = format!("{}:points", p.id);
        let redeemed = by_key(ledger, &key).filter(|e| e.kind == EntryKind::Redeem).map_or(0, |e| -e.points);
        let back: i64 = entries(ledger, EntryKind::Restore, &key).map(|e| e.points).sum();
        if redeemed != p.captured_amount || back != p.refunded_amount {
            report.violation(
                Invariant::Points,
                &p.id,
                format!(
                    "captured {} and refunded {} in points; the ledger redeemed {redeemed} and gave back {back}",
                    p.captured_amount, p.refunded_amount
                ),
            );
        }
    }
}

fn one_order_per_cart(snapshot: &Snapshot, report: &mut Report) {
    let (Some(orders), Some(claims)) = (&snapshot.orders, &snapshot.cart_claims) else { return };
    let claim_of: HashMap<&str, (&str, &str)> = claims
        .iter()
        .map(|(customer, version, order)| (order.as_str(), (customer.as_str(), version.as_str())))
        .collect();
    let mut made_of: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    let mut legacy = 0;
    for order in orders {
        let Some(version) = order.cart_version.as_deref() else {
            legacy += 1;
            continue;
        };
        made_of.entry((order.customer_id.as_str(), version)).or_default().push(&order.id);
        if claim_of.get(order.id.as_str()) != Some(&(order.customer_id.as_str(), version)) {
            report.violation(
                Invariant::OneOrderPerCart,
                &order.id,
                format!("made of cart version `{version}`, which it never claimed"),
            );
        }
    }
    if legacy > 0 {
        report.notes.push(format!(
            "{legacy} orders from before cart versions were recorded were not checked for one order per cart"
        ));
    }
    for ((customer, version), made) in made_of.iter().filter(|(_, made)| made.len() > 1) {
        report.violation(
            Invariant::OneOrderPerCart,
            format!("customer {customer}"),
            format!("cart version `{version}` became {} orders: {made:?}", made.len()),
        );
    }
    let placed: BTreeSet<&str> = orders.iter().map(|o| o.id.as_str()).collect();
    let open: BTreeSet<&str> = snapshot.open_checkouts.iter().flatten().map(|c| c.order_id.as_str()).collect();
    for (customer, version, order_id) in claims {
        if !placed.contains(order_id.as_str()) && !open.contains(order_id.as_str()) {
            report.violation(
                Invariant::OneOrderPerCart,
                format!("customer {customer}"),
                format!("cart version `{version}` is claimed by `{order_id}`, a checkout that ended without an order"),
            );
        }
    }
    let consumed: HashMap<(&str, &str), &str> = claims
        .iter()
        .filter(|(_, _, order)| placed.contains(order.as_str()))
        .map(|(customer, version, order)| ((customer.as_str(), version.as_str()), order.as_str()))
        .collect();
    for cart in snapshot.carts.iter().flatten().filter(|c| c.owner.kind == cart::OwnerKind::Customer) {
        let version = cart.version();
        if let Some(order) = consumed.get(&(cart.owner.id.as_str(), version.as_str())) {
            report.violation(
                Invariant::OneOrderPerCart,
                format!("customer {}", cart.owner.id),
                format!("the cart still holds what became order `{order}`"),
            );
        }
    }
}

/// Nothing is left for a retry nobody is bound to send.
fn lifecycle(snapshot: &Snapshot, report: &mut Report) {
    let Some(orders) = &snapshot.orders else { return };
    for order in orders {
        if order.undo_pending {
            report.violation(
                Invariant::Lifecycle,
                &order.id,
                format!("is {} but still owes other functions their part of it", order.status),
            );
        }
        if order.status == OrderStatus::PendingPayment
            && order.expires_at.is_some_and(|at| at + SWEEP_SLACK_SECS < snapshot.now)
        {
            report.violation(
                Invariant::Lifecycle,
                &order.id,
                "waits for payment long past its time: the sweep has not expired it",
            );
        }
    }
    let cutoff = snapshot.now - snapshot.unpaid_expiry_secs - SWEEP_SLACK_SECS;
    for checkout in snapshot.open_checkouts.iter().flatten() {
        let lease_over = checkout.lease_until < shared::sql::now_secs();
        if lease_over && checkout.plan.as_ref().is_some_and(|p| p.created_at < cutoff) {
            report.violation(
                Invariant::Lifecycle,
                &checkout.order_id,
                format!(
                    "a checkout of customer {} left unfinished ({:?}) past the payment window",
                    checkout.customer_id, checkout.phase
                ),
            );
        }
    }
}

/// Whose records the transaction stores hold, against the accounts there are.
fn accounts(snapshot: &Snapshot, report: &mut Report) {
    let Some(accounts) = &snapshot.accounts else { return };
    for subject in snapshot.subjects() {
        if !accounts.live.contains(&subject) && !accounts.closed.contains_key(&subject) {
            report.violation(
                Invariant::Accounts,
                &subject,
                "has carts, orders, payments or a VIP record but no account, live or closed",
            );
        }
    }
    for cart in snapshot.carts.iter().flatten() {
        if cart.owner.kind == cart::OwnerKind::Customer && accounts.closed.contains_key(&cart.owner.id) {
            report.violation(
                Invariant::Accounts,
                &cart.owner.id,
                format!("the account is closed but cart {} holds {} lines", cart.id, cart.lines.len()),
            );
        }
    }
    let closed_members = snapshot.closed_members.clone().unwrap_or_default();
    for member in snapshot.members.iter().flatten() {
        let id = &member.customer.customer_id;
        let closed = closed_members.contains(id);
        if accounts.closed.contains_key(id) && !closed {
            report.violation(Invariant::Accounts, id, "the account is closed but its VIP record is open");
        }
        if accounts.live.contains(id) && closed {
            report.violation(Invariant::Accounts, id, "the account is live but its VIP record is closed");
        }
    }
    for (id, rows) in &accounts.personal_data_left {
        report.violation(
            Invariant::Accounts,
            id,
            format!("the account is closed but {rows} rows of its personal data are left"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_keys_name_their_order_and_item() {
        assert_eq!(order_move("order_1:reserve:book_2"), Some(("order_1", "book_2")));
        assert_eq!(order_move("order_1:release:book_2"), Some(("order_1", "book_2")));
        assert_eq!(order_move("restock-7"), None);
        assert_eq!(order_move("order_1:redeem"), None);
    }
}
