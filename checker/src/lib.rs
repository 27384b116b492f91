//! The shop's invariants as code. A [`Shop`] is every store of a shop (opened
//! from the `*_DATABASE_URL` variables by `cargo run -p checker`, or handed over
//! by a test); [`Shop::read`] takes a [`Snapshot`] of what they hold, and
//! [`check`] reports every invariant the snapshot breaks, one [`Violation`]
//! each. The rules are plain functions over the snapshot (see `rules`), so a
//! test can also break a snapshot on purpose and see the rule catch it.
//!
//! What is checked, per invariant:
//!
//! - **stock**: no item below zero; for every (order, item), the units the
//!   item's own stock records hold for the order (its `{order}:reserve:{item}`
//!   and `{order}:release:{item}` changes) are what the order holds: its line's
//!   quantity while it is pending, paid, shipped, delivered or refunded (goods
//!   that left are not restocked automatically), nothing once cancelled or
//!   expired or when its checkout was refused. "The stock staff set" is then
//!   current stock plus what the item's records hold, per item.
//! - **money**: per payment, captured minus refunded never beyond its amount;
//!   per order at most one live payment and one accepted one, and its status
//!   and its payment's state agree (pending: none taken; paid, shipped,
//!   delivered: the accepted payment is live for the order's total, captured
//!   once shipped; cancelled, expired, refunded: nothing left live); a paid
//!   order has its shipment, a cancelled or expired one never left, and a
//!   closed order's shipment is stopped with nothing moving it on afterwards.
//! - **points**: per VIP member, the balance is the ledger's sum and never
//!   negative; lifetime points are the sum of the entries that may move them
//!   (earns, staff adjustments, revokes of earns), never of redeems or of their
//!   restores; every restore and revoke undoes at most its redeem or earn; the
//!   tier is the one lifetime points reach (or, without mid-year downgrades, a
//!   higher one reached this year). Across services: an order's redeem stands
//!   while the order does and is given back once it is cancelled, expired or
//!   refunded; a refunded order's earned points are taken back; a points
//!   payment's restores are what it refunded. A closed account's points are
//!   forfeited: its orders closed later may give back or take back less.
//! - **one order per cart**: every order claims the cart version it was made
//!   of, no version has two orders, no claim is left without its order, and no
//!   cart still holds a version that became an order.
//! - **lifecycle**: nothing is left half done for a retry nobody is bound to
//!   send: no order still owes its cancellation's, expiry's or refund's calls,
//!   no unpaid order is overdue past the sweep, no checkout abandoned past the
//!   payment window.
//!
//! - **accounts**: every customer the carts, orders, payments and VIP records
//!   name has an account, live or closed (guests keep carts of their own
//!   sessions and place no orders); a closed account has no
//!   cart, no open VIP record and no personal data left in the registered
//!   store; a live account's VIP record is open. Orders, payments and the
//!   closed VIP record stay, as the shop's sales and points records.

mod rules;
mod snapshot;

use std::fmt;

use serde::Serialize;

pub use snapshot::{Accounts, ItemFacts, Member, Shop, Snapshot};

/// The invariant a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Invariant {
    Stock,
    Money,
    Points,
    OneOrderPerCart,
    Lifecycle,
    Accounts,
}

impl Invariant {
    pub fn as_str(self) -> &'static str {
        match self {
            Invariant::Stock => "stock",
            Invariant::Money => "money",
            Invariant::Points => "points",
            Invariant::OneOrderPerCart => "one order per cart",
            Invariant::Lifecycle => "lifecycle",
            Invariant::Accounts => "accounts",
        }
    }
}

/// One broken invariant: what it concerns (an order, an item, a member) and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub invariant: Invariant,
    pub subject: String,
    pub detail: String,
}

/// One item's stock, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockLine {
    pub item_id: String,
    /// Current stock plus what the item's records hold for orders.
    pub staff_set: i64,
    pub stock: i64,
    pub held: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub violations: Vec<Violation>,
    /// What was not checked, and why (a store left out, a record cut short).
    pub notes: Vec<String>,
    pub stock: Vec<StockLine>,
    /// How many records of each kind were read.
    pub counts: Vec<(&'static str, usize)>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// The violations of one invariant.
    pub fn of(&self, invariant: Invariant) -> Vec<&Violation> {
        self.violations.iter().filter(|v| v.invariant == invariant).collect()
    }

    /// For tests: panics listing every violation, with `context` (a seed, a step).
    pub fn assert_clean(&self, context: &str) {
        assert!(self.is_clean(), "{context}: the shop breaks its invariants:\n{self}");
    }

    pub(crate) fn violation(&mut self, invariant: Invariant, subject: impl Into<String>, detail: impl Into<String>) {
        self.violations.push(Violation { invariant, subject: subject.into(), detail: detail.into() });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let read: Vec<String> = self.counts.iter().map(|(what, n)| format!("{n} {what}")).collect();
        writeln!(f, "read {}", read.join(", "))?;
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        if self.violations.is_empty() {
            return writeln!(f, "every invariant holds");
        }
        writeln!(f, "{} violations:", self.violations.len())?;
        for v in &self.violations {
            writeln!(f, "- [{}] {}: {}", v.invariant.as_str(), v.subject, v.detail)?;
        }
        Ok(())
    }
}

/// Every invariant the snapshot breaks.
pub fn check(snapshot: &Snapshot) -> Report {
    let mut report = Report { notes: snapshot.notes.clone(), counts: snapshot.counts(), ..Report::default() };
    for rule in rules::ALL {
        rule(snapshot, &mut report);
    }
    report
}
