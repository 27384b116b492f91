//! VIP records, ledger entries and the rules for changing them. Nothing here
//! touches the store, so the arithmetic is tested without a database.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use shared::auth::CustomerType;
use shared::error::{AppError, AppResult, FieldErrors};
use shared::extract::from_json_value;
use shared::ids::new_id;
use shared::sql::rfc3339;
use utoipa::ToSchema;

use crate::tiers::{Benefits, TierCatalog, TierName, TierStanding};

pub const MAX_CUSTOMER_ID_CHARS: usize = 64;
pub const MAX_REASON_CHARS: usize = 200;
pub const MAX_KEY_CHARS: usize = 100;
/// Largest single earn, redeem or adjustment.
pub const MAX_POINTS: i64 = 1_000_000;

const CUSTOMER_ID_RULE: &str = "1 to 64 characters: letters, digits and _ - . : @ +";

/// Account ids are `cust_<ULID>` or legacy ids such as `456`. The character set is
/// narrow so an id means the same on every engine (MySQL columns are ASCII,
/// binary-collated) and can sit in a URL path.
pub fn is_valid_customer_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CUSTOMER_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:@+".contains(&b))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// Points for a purchase, multiplied by the tier's multiplier.
    Earn,
    /// Points spent; the balance only.
    Redeem,
    /// A staff correction or bonus; balance and lifetime points.
    Adjust,
    /// Redeemed points given back (an order cancelled or expired, a points
    /// payment refunded); the balance only, never lifetime points.
    Restore,
    /// Earned points taken back (the order was refunded): lifetime points by the
    /// whole earn, the balance by as much of it as is left.
    Revoke,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earn => "earn",
            EntryKind::Redeem => "redeem",
            EntryKind::Adjust => "adjust",
            EntryKind::Restore => "restore",
            EntryKind::Revoke => "revoke",
        }
    }

    pub const ALL: [EntryKind; 5] =
        [EntryKind::Earn, EntryKind::Redeem, EntryKind::Adjust, EntryKind::Restore, EntryKind::Revoke];

    pub fn parse(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// The kinds that move lifetime points (and so the tier): earns, staff
    /// adjustments, and earns taken back. Spending points and getting them back
    /// never do.
    pub fn moves_lifetime(self) -> bool {
        matches!(self, EntryKind::Earn | EntryKind::Adjust | EntryKind::Revoke)
    }
}

fn as_rfc3339<S: Serializer>(secs: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(*secs))
}

/// A VIP member as stored: points and tier, nothing that names the person (their
/// email and name are the account's, in the registered service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub customer_id: String,
    pub tier: TierName,
    pub tier_year: i64,
    pub lifetime_points: i64,
    pub points_balance: i64,
    pub enrolled_at: i64,
    pub updated_at: i64,
}

impl Customer {
    pub fn standing(&self) -> TierStanding {
        TierStanding { tier: self.tier, tier_year: self.tier_year }
    }
}

/// One change of a member's points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LedgerEntry {
    #[schema(example = "pts_01JDQ8Z3X4C5V6B7N8M9K0J1H2")]
    pub id: String,
    pub customer_id: String,
    pub kind: EntryKind,
    /// The change to the balance as applied: multiplied for an earn, negative for a redeem.
    pub points: i64,
    /// The `points` the request asked for, before the multiplier or the sign. For
    /// a revoke, the points of the earn taken back; `requested_points + points`
    /// is what could not come out of the balance because it was spent.
    pub requested_points: i64,
    /// The change to lifetime points: earns, staff adjustments and revokes only.
    pub lifetime_change: i64,
    /// For a restore or revoke, the idempotency key of the redeem or earn it undoes.
    pub reference_key: Option<String>,
    pub reason: String,
    pub idempotency_key: String,
    pub balance_after: i64,
    #[serde(serialize_with = "as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// The tier above the member's and how far away it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NextTier {
    pub name: TierName,
    pub points_needed: i64,
}

/// A VIP member as the API shows it. The customer router adds `email` and `name`
/// from the member's account (see `docs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct VipCustomer {
    /// Always `vip`, so clients of the customer router can tell the record kinds apart.
    #[schema(value_type = String, example = "vip")]
    pub customer_type: CustomerType,
    pub id: String,
    pub tier: TierName,
    /// The calendar year in which the tier was last reached or kept.
    pub tier_year: i64,
    pub lifetime_points: i64,
    pub points_balance: i64,
    pub benefits: Benefits,
    pub next_tier: Option<NextTier>,
    #[serde(serialize_with = "as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub enrolled_at: i64,
    #[serde(serialize_with = "as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

impl VipCustomer {
    pub fn new(customer: Customer, catalog: &TierCatalog) -> AppResult<Self> {
        let tier = catalog.get(customer.tier).ok_or_else(|| {
            AppError::internal(format!(
                "customer {} is in tier {} which is not in the catalog",
                customer.customer_id, customer.tier
            ))
        })?;
        let next_tier = catalog.next_above(customer.tier).map(|next| NextTier {
            name: next.name,
            points_needed: (next.min_lifetime_points - customer.lifetime_points).max(0),
        });
        Ok(Self {
            customer_type: CustomerType::Vip,
            id: customer.customer_id,
            tier: customer.tier,
            tier_year: customer.tier_year,
            lifetime_points: customer.lifetime_points,
            points_balance: customer.points_balance,
            benefits: tier.benefits.clone(),
            next_tier,
            enrolled_at: customer.enrolled_at,
            updated_at: customer.updated_at,
        })
    }
}

/// Types a JSON object after rejecting fields nobody asked for, reporting unknown
/// fields and type errors together under each field's name.
pub fn parse_body<T: DeserializeOwned>(body: Map<String, Value>, known: &[&str]) -> AppResult<T> {
    let mut errors = FieldErrors::new();
    for key in body.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.add(key.clone(), format!("unknown field; known fields: {}", known.join(", ")));
    }
    match from_json_value::<T>(Value::Object(body)) {
        Ok(value) if errors.is_empty() => Ok(value),
        Ok(_) => Err(AppError::Validation(errors)),
        Err(AppError::Validation(typed)) => {
            errors.extend(typed);
            Err(AppError::Validation(errors))
        }
        Err(other) => Err(other),
    }
}

fn required_text(errors: &mut FieldErrors, field: &str, value: &str, max_chars: usize) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, "must not be blank");
    } else if value.chars().count() > max_chars {
        errors.add(field, format!("at most {max_chars} characters"));
    } else if value.chars().any(char::is_control) {
        errors.add(field, "must not contain control characters");
    }
    value.to_string()
}

/// `POST /internal/vip/enroll` and `/internal/vip/close`: the account, by id only.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EnrollInput {
    pub customer_id: String,
}

impl EnrollInput {
    pub const FIELDS: [&'static str; 1] = ["customer_id"];

    /// The id trimmed; a 422 when it cannot be an account id.
    pub fn validate(self) -> AppResult<Self> {
        let customer_id = self.customer_id.trim().to_string();
        if !is_valid_customer_id(&customer_id) {
            let mut errors = FieldErrors::new();
            errors.add("customer_id", CUSTOMER_ID_RULE);
            return Err(AppError::Validation(errors));
        }
        Ok(Self { customer_id })
    }
}

/// A validated request to change a member's points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: EntryKind,
    /// As requested: positive for earn and redeem, signed for adjust.
    pub points: i64,
    pub reason: String,
    pub idempotency_key: String,
}

impl Change {
    /// Trims the texts and checks every field, naming each invalid one.
    pub fn new(kind: EntryKind, points: i64, reason: &str, idempotency_key: &str) -> AppResult<Self> {
        let mut errors = FieldErrors::new();
        match kind {
            EntryKind::Earn | EntryKind::Redeem if !(1..=MAX_POINTS).contains(&points) => {
                errors.add("points", format!("must be between 1 and {MAX_POINTS}"));
            }
            EntryKind::Adjust if points == 0 || points.abs() > MAX_POINTS => {
                errors.add("points", format!("must be between -{MAX_POINTS} and {MAX_POINTS}, and not 0"));
            }
            _ => {}
        }
        let reason = required_text(&mut errors, "reason", reason, MAX_REASON_CHARS);
        // Trimmed so a key means the same on MySQL, whose collations ignore trailing spaces.
        let idempotency_key = required_text(&mut errors, "idempotency_key", idempotency_key, MAX_KEY_CHARS);
        errors.into_result()?;
        Ok(Self { kind, points, reason, idempotency_key })
    }

    /// Whether `entry` was written for this same request, so a retry may be answered with it.
    pub fn matches(&self, entry: &LedgerEntry) -> bool {
        entry.kind == self.kind && entry.requested_points == self.points && entry.reason == self.reason
    }

    pub fn key_reused(&self) -> AppError {
        AppError::Conflict(format!(
            "the idempotency key `{}` was already used for a different request",
            self.idempotency_key
        ))
    }
}

/// `POST /api/customers/vip/points/redeem`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RedeemInput {
    /// 1 to 1,000,000.
    pub points: i64,
    pub reason: String,
    /// 1 to 100 characters, unique per customer: a retry with the same key and body
    /// returns the original entry.
    pub idempotency_key: String,
}

impl RedeemInput {
    pub const FIELDS: [&'static str; 3] = ["points", "reason", "idempotency_key"];

    pub fn into_change(self) -> AppResult<Change> {
        Change::new(EntryKind::Redeem, self.points, &self.reason, &self.idempotency_key)
    }
}

/// `POST /api/customers/vip/customers/{id}/points` (staff).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct StaffPointsInput {
    /// `earn` or `adjust`.
    #[schema(example = "adjust")]
    pub kind: String,
    /// Earn: 1 to 1,000,000. Adjust: -1,000,000 to 1,000,000, not 0.
    pub points: i64,
    pub reason: String,
    pub idempotency_key: String,
}

impl StaffPointsInput {
    pub const FIELDS: [&'static str; 4] = ["kind", "points", "reason", "idempotency_key"];

    pub fn into_change(self) -> AppResult<Change> {
        let kind = match EntryKind::parse(self.kind.trim()) {
            Some(kind @ (EntryKind::Earn | EntryKind::Adjust)) => kind,
            // Staff do not spend a customer's points for them.
            _ => {
                let mut errors = FieldErrors::new();
                errors.add("kind", "must be \"earn\" or \"adjust\"");
                // Report the other fields too, so one round trip shows every problem.
                if let Err(AppError::Validation(more)) =
                    Change::new(EntryKind::Adjust, self.points, &self.reason, &self.idempotency_key)
                {
                    errors.extend(more);
                }
                return Err(AppError::Validation(errors));
            }
        };
        Change::new(kind, self.points, &self.reason, &self.idempotency_key)
    }
}

/// `POST /internal/vip/earn`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InternalEarnInput {
    pub customer_id: String,
    pub points: i64,
    pub reason: String,
    pub idempotency_key: String,
}

impl InternalEarnInput {
    pub const FIELDS: [&'static str; 4] = ["customer_id", "points", "reason", "idempotency_key"];

    pub fn into_parts(self) -> AppResult<(String, Change)> {
        customer_and_change(
            &self.customer_id,
            Change::new(EntryKind::Earn, self.points, &self.reason, &self.idempotency_key),
        )
    }
}

/// `POST /internal/vip/restore`: the order or paying service giving back points
/// a redeem took, because its order was cancelled or expired, or its points
/// payment refunded.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InternalRestoreInput {
    pub customer_id: String,
    /// The idempotency key of the redeem to give back.
    pub redeem_key: String,
    /// At most what is left of the redeem to give back; all of it when left out.
    #[serde(default)]
    pub points: Option<i64>,
    pub reason: String,
    pub idempotency_key: String,
}

impl InternalRestoreInput {
    pub const FIELDS: [&'static str; 5] = ["customer_id", "redeem_key", "points", "reason", "idempotency_key"];

    pub fn into_parts(self) -> AppResult<(String, Undo)> {
        let undo = Undo::new(EntryKind::Restore, &self.redeem_key, self.points, &self.reason, &self.idempotency_key);
        customer_and_change(&self.customer_id, undo)
    }
}

/// `POST /internal/vip/revoke`: the order service taking back the points an
/// order earned, because it was refunded.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InternalRevokeInput {
    pub customer_id: String,
    /// The idempotency key of the earn to take back.
    pub earn_key: String,
    pub reason: String,
    pub idempotency_key: String,
}

impl InternalRevokeInput {
    pub const FIELDS: [&'static str; 4] = ["customer_id", "earn_key", "reason", "idempotency_key"];

    pub fn into_parts(self) -> AppResult<(String, Undo)> {
        let undo = Undo::new(EntryKind::Revoke, &self.earn_key, None, &self.reason, &self.idempotency_key);
        customer_and_change(&self.customer_id, undo)
    }
}

/// A validated request to give back a redeem or take back an earn, named by
/// the key it was made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    /// [`EntryKind::Restore`] or [`EntryKind::Revoke`].
    pub kind: EntryKind,
    pub reference_key: String,
    pub points: Option<i64>,
    pub reason: String,
    pub idempotency_key: String,
}

impl Undo {
    pub fn new(
        kind: EntryKind,
        reference_key: &str,
        points: Option<i64>,
        reason: &str,
        idempotency_key: &str,
    ) -> AppResult<Self> {
        let mut errors = FieldErrors::new();
        let field = if kind == EntryKind::Restore { "redeem_key" } else { "earn_key" };
        let reference_key = required_text(&mut errors, field, reference_key, MAX_KEY_CHARS);
        if points.is_some_and(|p| !(1..=MAX_POINTS).contains(&p)) {
            errors.add("points", format!("must be between 1 and {MAX_POINTS}"));
        }
        let reason = required_text(&mut errors, "reason", reason, MAX_REASON_CHARS);
        let idempotency_key = required_text(&mut errors, "idempotency_key", idempotency_key, MAX_KEY_CHARS);
        if !errors.contains("idempotency_key") && idempotency_key == reference_key {
            errors.add("idempotency_key", format!("must differ from {field}"));
        }
        errors.into_result()?;
        Ok(Self { kind, reference_key, points, reason, idempotency_key })
    }

    /// Whether `entry` was written for this same request.
    pub fn matches(&self, entry: &LedgerEntry) -> bool {
        entry.kind == self.kind
            && entry.reference_key.as_deref() == Some(self.reference_key.as_str())
            && entry.reason == self.reason
            && self.points.is_none_or(|p| p == entry.requested_points)
    }
}

/// Applies `undo` to `customer`. `original` is the entry made under the undo's
/// reference key, `undone` what earlier undoes of it gave back or took already.
///
/// A restore gives back at most what the redeem took and no later restore gave
/// back. A revoke takes the earn's points off lifetime points, and off the
/// balance as far as it goes: the balance never goes below zero, and the entry
/// records the shortfall (`requested_points + points`). A revoke of an earn that
/// has not happened is answered by the caller (see the store), never here.
pub fn apply_undo(
    customer: &Customer,
    undo: &Undo,
    original: &LedgerEntry,
    undone: i64,
    catalog: &TierCatalog,
    now: i64,
    downgrade_mid_year: bool,
) -> AppResult<(Customer, LedgerEntry)> {
    let (balance, lifetime) = (customer.points_balance, customer.lifetime_points);
    let expected = match undo.kind {
        EntryKind::Restore => EntryKind::Redeem,
        _ => EntryKind::Earn,
    };
    if original.kind != expected {
        return Err(AppError::Conflict(format!(
            "the key `{}` names a {} entry, not a {}",
            undo.reference_key,
            original.kind.as_str(),
            expected.as_str()
        )));
    }
    let left = original.points.abs() - undone;
    let requested = undo.points.unwrap_or(left);
    if left <= 0 || requested > left {
        return Err(AppError::Conflict(format!(
            "{left} points of `{}` are left to {}; {requested} cannot be",
            undo.reference_key,
            if undo.kind == EntryKind::Restore { "give back" } else { "take back" },
        )));
    }
    let (new_balance, new_lifetime) = match undo.kind {
        EntryKind::Restore => (balance.saturating_add(requested), lifetime),
        _ => ((balance - requested).max(0), (lifetime - requested).max(0)),
    };
    let entry = EntryOf {
        kind: undo.kind,
        requested_points: requested,
        reference_key: Some(&undo.reference_key),
        reason: &undo.reason,
        idempotency_key: &undo.idempotency_key,
    };
    Ok(moved(customer, (new_balance, new_lifetime), entry, catalog, now, downgrade_mid_year))
}

/// The trimmed customer id with the change, reporting a bad id and bad fields together.
fn customer_and_change<T>(customer_id: &str, change: AppResult<T>) -> AppResult<(String, T)> {
    let customer_id = customer_id.trim().to_string();
    if !is_valid_customer_id(&customer_id) {
        let mut errors = FieldErrors::new();
        errors.add("customer_id", CUSTOMER_ID_RULE);
        if let Err(AppError::Validation(more)) = change {
            errors.extend(more);
        }
        return Err(AppError::Validation(errors));
    }
    Ok((customer_id, change?))
}

/// The calendar year (UTC) of a time in seconds.
pub fn year_of(secs: i64) -> i64 {
    time::OffsetDateTime::from_unix_timestamp(secs).map(|t| i64::from(t.year())).unwrap_or(1970)
}

/// Applies `change` to `customer`: the new record and the entry that records it.
/// A redeem beyond the balance is a 409; an adjustment never takes the balance or
/// lifetime points below 0, and the entry records what was actually applied.
pub fn apply_change(
    customer: &Customer,
    change: &Change,
    catalog: &TierCatalog,
    now: i64,
    downgrade_mid_year: bool,
) -> AppResult<(Customer, LedgerEntry)> {
    let (balance, lifetime) = (customer.points_balance, customer.lifetime_points);
    let (new_balance, new_lifetime) = match change.kind {
        EntryKind::Earn => {
            // The multiplier of the tier held when the points were earned, not the one they lead to.
            let credited = change.points.saturating_mul(catalog.multiplier_percent(customer.tier)) / 100;
            (balance.saturating_add(credited), lifetime.saturating_add(credited))
        }
        EntryKind::Redeem => {
            if change.points > balance {
                return Err(AppError::Conflict(format!(
                    "the balance is {balance} points; {} cannot be redeemed",
                    change.points
                )));
            }
            (balance - change.points, lifetime)
        }
        EntryKind::Adjust => {
            ((balance.saturating_add(change.points)).max(0), (lifetime.saturating_add(change.points)).max(0))
        }
        EntryKind::Restore | EntryKind::Revoke => {
            return Err(AppError::internal("restores and revokes undo an entry: see apply_undo"));
        }
    };
    let entry = EntryOf {
        kind: change.kind,
        requested_points: change.points,
        reference_key: None,
        reason: &change.reason,
        idempotency_key: &change.idempotency_key,
    };
    Ok(moved(customer, (new_balance, new_lifetime), entry, catalog, now, downgrade_mid_year))
}

/// What an entry says besides the points it moved.
struct EntryOf<'a> {
    kind: EntryKind,
    requested_points: i64,
    reference_key: Option<&'a str>,
    reason: &'a str,
    idempotency_key: &'a str,
}

/// The member with their new balance and lifetime points (and the tier those
/// lead to), and the entry that records the change.
fn moved(
    customer: &Customer,
    (new_balance, new_lifetime): (i64, i64),
    entry: EntryOf<'_>,
    catalog: &TierCatalog,
    now: i64,
    downgrade_mid_year: bool,
) -> (Customer, LedgerEntry) {
    let standing = catalog.resolve(customer.standing(), new_lifetime, year_of(now), downgrade_mid_year);
    let updated = Customer {
        tier: standing.tier,
        tier_year: standing.tier_year,
        lifetime_points: new_lifetime,
        points_balance: new_balance,
        updated_at: now,
        ..customer.clone()
    };
    let entry = LedgerEntry {
        id: new_id("pts"),
        customer_id: customer.customer_id.clone(),
        kind: entry.kind,
        points: new_balance - customer.points_balance,
        requested_points: entry.requested_points,
        lifetime_change: new_lifetime - customer.lifetime_points,
        reference_key: entry.reference_key.map(str::to_string),
        reason: entry.reason.to_string(),
        idempotency_key: entry.idempotency_key.to_string(),
        balance_after: new_balance,
        created_at: now,
    };
    (updated, entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> TierCatalog {
        let tier = crate::tiers::test_tier;
        TierCatalog::new(vec![
            tier(TierName::Bronze, 1, 0, 100),
            tier(TierName::Silver, 2, 1000, 125),
            tier(TierName::Gold, 3, 5000, 150),
        ])
    }

    fn customer(tier: TierName, lifetime: i64, balance: i64) -> Customer {
        Customer {
            customer_id: "cust_1".into(),
            tier,
            tier_year: 2025,
            lifetime_points: lifetime,
            points_balance: balance,
            enrolled_at: 0,
            updated_at: 0,
        }
    }

    // 2025-06-01T00:00:00Z
    const JUNE_2025: i64 = 1_748_736_000;

    #[test]
    fn earn_uses_the_current_tiers_multiplier_rounded_down() {
        let change = Change::new(EntryKind::Earn, 333, "order", "k").unwrap();
        let (after, entry) =
            apply_change(&customer(TierName::Silver, 1000, 10), &change, &catalog(), JUNE_2025, false).unwrap();
        assert_eq!(entry.points, 416);
        assert_eq!(entry.requested_points, 333);
        assert_eq!(after.points_balance, 426);
        assert_eq!(after.lifetime_points, 1416);
        assert_eq!(entry.balance_after, 426);
    }

    #[test]
    fn redeem_beyond_the_balance_is_a_conflict() {
        let change = Change::new(EntryKind::Redeem, 11, "gift", "k").unwrap();
        let result = apply_change(&customer(TierName::Bronze, 50, 10), &change, &catalog(), JUNE_2025, false);
        assert!(matches!(result, Err(AppError::Conflict(_))));
    }

    #[test]
    fn adjustments_stop_at_zero_and_record_what_was_applied() {
        let change = Change::new(EntryKind::Adjust, -6000, "refund", "k").unwrap();
        let (after, entry) =
            apply_change(&customer(TierName::Gold, 5200, 300), &change, &catalog(), JUNE_2025, false).unwrap();
        assert_eq!(after.points_balance, 0);
        assert_eq!(after.lifetime_points, 0);
        assert_eq!(entry.points, -300);
        assert_eq!(after.tier, TierName::Gold, "no downgrade within the year");
        let (after, _) =
            apply_change(&customer(TierName::Gold, 5200, 300), &change, &catalog(), JUNE_2025, true).unwrap();
        assert_eq!(after.tier, TierName::Bronze);
    }

    fn entry(kind: EntryKind, points: i64, key: &str) -> LedgerEntry {
        LedgerEntry {
            id: "pts_1".into(),
            customer_id: "cust_1".into(),
            kind,
            points,
            requested_points: points.abs(),
            lifetime_change: if kind == EntryKind::Earn { points } else { 0 },
            reference_key: None,
            reason: "r".into(),
            idempotency_key: key.into(),
            balance_after: 0,
            created_at: 0,
        }
    }

    #[test]
    fn a_restore_gives_back_the_balance_only_and_never_more_than_was_redeemed() {
        let redeem = entry(EntryKind::Redeem, -400, "order_1:redeem");
        let all = Undo::new(EntryKind::Restore, "order_1:redeem", None, "cancelled", "order_1:points-back").unwrap();
        let member = customer(TierName::Bronze, 900, 500);
        let (after, restored) = apply_undo(&member, &all, &redeem, 0, &catalog(), JUNE_2025, false).unwrap();
        assert_eq!((after.points_balance, after.lifetime_points, after.tier), (900, 900, TierName::Bronze));
        assert_eq!((restored.points, restored.lifetime_change), (400, 0));
        assert_eq!(restored.reference_key.as_deref(), Some("order_1:redeem"));
        // A partial restore, then the rest; nothing beyond.
        let part = Undo::new(EntryKind::Restore, "order_1:redeem", Some(150), "partial", "r-1").unwrap();
        let (_, first) = apply_undo(&member, &part, &redeem, 0, &catalog(), JUNE_2025, false).unwrap();
        assert_eq!(first.points, 150);
        let (_, rest) = apply_undo(&member, &all, &redeem, 150, &catalog(), JUNE_2025, false).unwrap();
        assert_eq!(rest.points, 250);
        for (undo, undone) in [(&all, 400), (&part, 300)] {
            let refused = apply_undo(&member, undo, &redeem, undone, &catalog(), JUNE_2025, false);
            assert!(matches!(refused, Err(AppError::Conflict(_))), "{undone}");
        }
        let earn = entry(EntryKind::Earn, 400, "order_1:redeem");
        assert!(matches!(
            apply_undo(&member, &all, &earn, 0, &catalog(), JUNE_2025, false),
            Err(AppError::Conflict(_))
        ));
    }

    #[test]
    fn a_revoke_takes_the_earn_off_lifetime_and_what_is_left_off_the_balance() {
        let earn = entry(EntryKind::Earn, 600, "order_1:delivered");
        let revoke = Undo::new(EntryKind::Revoke, "order_1:delivered", None, "refunded", "order_1:revoke").unwrap();
        // Half of the earned points were spent: the balance stops at zero, the shortfall is recorded.
        let (after, taken) =
            apply_undo(&customer(TierName::Silver, 1_200, 250), &revoke, &earn, 0, &catalog(), JUNE_2025, true)
                .unwrap();
        assert_eq!((after.points_balance, after.lifetime_points), (0, 600));
        assert_eq!((taken.points, taken.requested_points, taken.lifetime_change), (-250, 600, -600));
        assert_eq!(taken.requested_points + taken.points, 350, "the shortfall");
        assert_eq!(after.tier, TierName::Bronze, "the tier follows lifetime points when downgrades may happen");
        let (kept, _) =
            apply_undo(&customer(TierName::Silver, 1_200, 250), &revoke, &earn, 0, &catalog(), JUNE_2025, false)
                .unwrap();
        assert_eq!(kept.tier, TierName::Silver, "otherwise the tier lasts the year");
        let twice = apply_undo(&customer(TierName::Silver, 600, 0), &revoke, &earn, 600, &catalog(), JUNE_2025, false);
        assert!(matches!(twice, Err(AppError::Conflict(_))));
        assert!(EntryKind::Revoke.moves_lifetime() && !EntryKind::Restore.moves_lifetime());
        match Undo::new(EntryKind::Revoke, " ", Some(0), "r", "k") {
            Err(AppError::Validation(e)) => assert!(e.contains("earn_key") && e.contains("points")),
            other => panic!("{other:?}"),
        }
        assert!(Undo::new(EntryKind::Restore, "k", None, "r", "k").is_err(), "its own key is another key");
    }

    #[test]
    fn input_validation_names_fields() {
        for (kind, points) in [(EntryKind::Earn, 0), (EntryKind::Redeem, MAX_POINTS + 1), (EntryKind::Adjust, 0)] {
            match Change::new(kind, points, "r", "k") {
                Err(AppError::Validation(e)) => assert!(e.contains("points")),
                other => panic!("{other:?}"),
            }
        }
        match Change::new(EntryKind::Earn, 5, " ", &"k".repeat(101)) {
            Err(AppError::Validation(e)) => assert!(e.contains("reason") && e.contains("idempotency_key")),
            other => panic!("{other:?}"),
        }
        assert!(Change::new(EntryKind::Adjust, -5, "refund", " key ").unwrap().idempotency_key == "key");
        for id in ["456", "cust_01JDQ8Z3X4C5V6B7N8M9K0J1H2"] {
            assert!(is_valid_customer_id(id), "{id}");
        }
        for id in ["", "a b", "a/b", "ü", &"x".repeat(65)] {
            assert!(!is_valid_customer_id(id), "{id}");
        }
        match (EnrollInput { customer_id: "a b".into() }).validate() {
            Err(AppError::Validation(e)) => assert!(e.contains("customer_id")),
            other => panic!("{other:?}"),
        }
    }
}
