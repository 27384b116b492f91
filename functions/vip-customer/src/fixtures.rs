//! Seed data: the tier catalog and example members with their points history.
//!
//! Members are loaded by replaying their history through the same ledger code
//! the API uses (multipliers, tier changes, idempotency keys), so seeded data can
//! never disagree with what the API would have produced, and loading twice
//! changes nothing.

use serde::Deserialize;
use shared::error::{AppError, AppResult};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::{Change, Customer, EnrollInput, EntryKind, apply_change, year_of};
use crate::store::VipStore;
use crate::tiers::{Tier, TierCatalog, TierName, validate_catalog};

/// Adds the tiers of `json` (an array of tiers as `GET /api/customers/vip/benefits`
/// lists them) that the store does not have yet; returns how many were added.
pub async fn load_tiers(store: &VipStore, json: &str) -> AppResult<u64> {
    let tiers: Vec<Tier> = serde_json::from_str(json)
        .map_err(|e| AppError::internal(format!("the VIP tier fixtures are not valid: {e}")))?;
    validate_catalog(&tiers)
        .map_err(|why| AppError::internal(format!("the VIP tier fixtures are not valid: {why}")))?;
    store.insert_missing_tiers(&tiers).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerFixture {
    customer_id: String,
    /// The account's (the fixture loader makes one per member); the VIP record keeps neither.
    #[serde(rename = "email")]
    _email: String,
    #[serde(rename = "name")]
    _name: String,
    enrolled_at: String,
    /// What replaying the history must lead to; checked so the file cannot drift from the rules.
    tier: TierName,
    lifetime_points: i64,
    points_balance: i64,
    history: Vec<EntryFixture>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFixture {
    kind: EntryKind,
    /// As a request would give them: before the multiplier, positive for a redeem.
    points: i64,
    reason: String,
    idempotency_key: String,
    created_at: String,
}

struct Member {
    input: EnrollInput,
    enrolled_at: i64,
    history: Vec<(Change, i64)>,
    expected: (TierName, i64, i64),
}

fn parse_time(value: &str, what: &str) -> AppResult<i64> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|e| AppError::internal(format!("{what}: `{value}` is not an RFC 3339 time: {e}")))
}

/// Checks the whole file before anything is written, so a bad fixture loads nothing.
fn members(json: &str) -> AppResult<Vec<Member>> {
    let fixtures: Vec<CustomerFixture> = serde_json::from_str(json)
        .map_err(|e| AppError::internal(format!("the VIP customer fixtures are not valid: {e}")))?;
    let invalid = |id: &str, e: AppError| AppError::internal(format!("VIP customer fixture {id} is invalid: {e:?}"));
    let mut members: Vec<Member> = Vec::with_capacity(fixtures.len());
    for fixture in fixtures {
        let id = fixture.customer_id.clone();
        if members.iter().any(|m| m.input.customer_id == id) {
            return Err(AppError::internal(format!("VIP customer fixture {id} appears twice")));
        }
        let input = EnrollInput { customer_id: fixture.customer_id }.validate().map_err(|e| invalid(&id, e))?;
        let enrolled_at = parse_time(&fixture.enrolled_at, &id)?;
        let mut history: Vec<(Change, i64)> = Vec::with_capacity(fixture.history.len());
        let mut previous = enrolled_at;
        for entry in fixture.history {
            let change = Change::new(entry.kind, entry.points, &entry.reason, &entry.idempotency_key)
                .map_err(|e| invalid(&id, e))?;
            let at = parse_time(&entry.created_at, &id)?;
            if at < previous {
                return Err(AppError::internal(format!(
                    "VIP customer fixture {id}: entry {} is older than the one before it",
                    change.idempotency_key
                )));
            }
            if history.iter().any(|(c, _)| c.idempotency_key == change.idempotency_key) {
                return Err(AppError::internal(format!(
                    "VIP customer fixture {id}: key {} is used twice",
                    change.idempotency_key
                )));
            }
            previous = at;
            history.push((change, at));
        }
        let expected = (fixture.tier, fixture.lifetime_points, fixture.points_balance);
        members.push(Member { input, enrolled_at, history, expected });
    }
    Ok(members)
}

/// Replays each member's history in memory with the store's catalog and rules,
/// so a file that disagrees with them is refused before anything is written.
fn check_standings(members: &[Member], catalog: &TierCatalog, downgrade_mid_year: bool) -> AppResult<()> {
    let lowest = catalog.lowest().ok_or_else(|| AppError::Conflict("the tier catalog is empty".into()))?;
    for member in members {
        let id = &member.input.customer_id;
        let mut customer = Customer {
            customer_id: id.clone(),
            tier: lowest.name,
            tier_year: year_of(member.enrolled_at),
            lifetime_points: 0,
            points_balance: 0,
            enrolled_at: member.enrolled_at,
            updated_at: member.enrolled_at,
        };
        for (change, at) in &member.history {
            customer = apply_change(&customer, change, catalog, *at, downgrade_mid_year)
                .map_err(|e| {
                    AppError::internal(format!("VIP customer fixture {id}, entry {}: {e}", change.idempotency_key))
                })?
                .0;
        }
        let actual = (customer.tier, customer.lifetime_points, customer.points_balance);
        if actual != member.expected {
            return Err(AppError::internal(format!(
                "VIP customer fixture {id}: the history leads to {actual:?}, the fixture says {:?}",
                member.expected
            )));
        }
    }
    Ok(())
}

/// Enrols the members of `json` that are missing, with their ledger; returns how
/// many members were added. Needs the tiers loaded first.
pub async fn load_customers(store: &VipStore, json: &str) -> AppResult<u64> {
    let members = members(json)?;
    check_standings(&members, &store.tiers().await?, store.downgrade_mid_year())?;
    let mut added = 0;
    for member in &members {
        let id = &member.input.customer_id;
        let (created, _) = store.enroll(&member.input, member.enrolled_at).await?;
        // Entries already there are answered from the ledger by their keys, so a
        // member half loaded by an interrupted run is completed, not doubled.
        for (change, at) in &member.history {
            store.apply(id, change, *at).await.map_err(|e| {
                AppError::internal(format!("VIP customer fixture {id}, entry {}: {e}", change.idempotency_key))
            })?;
        }
        added += u64::from(created);
    }
    Ok(added)
}
