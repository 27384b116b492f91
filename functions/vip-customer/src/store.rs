//! Every SQL statement of the service, portable between MySQL and SQLite.
//!
//! A ledger change runs in one transaction that first locks the member's row
//! (`FOR UPDATE` on MySQL; `BEGIN IMMEDIATE` on SQLite, which locks the whole
//! database for writing), so concurrent changes queue instead of losing updates,
//! and an idempotency key is checked while no one else can write it.

use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use shared::error::{AppError, AppResult};
use shared::sql::{Database, Engine, Migrations, is_unique_violation};
use shared::store::{StoreUrl, sqlx_error};

use crate::domain::{
    Change, Customer, EnrollInput, EntryKind, LedgerEntry, Undo, VipCustomer, apply_change, apply_undo, year_of,
};
use crate::tiers::{Benefits, Tier, TierCatalog, TierName};

static MYSQL: sqlx::migrate::Migrator = sqlx::migrate!("migrations/mysql");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
pub const MIGRATIONS: Migrations = Migrations { mysql: Some(&MYSQL), postgres: None, sqlite: &SQLITE };

const TIER_SELECT: &str = "SELECT name, tier_rank, min_lifetime_points, discount_percent, free_shipping, early_access, \
     priority_support, birthday_bonus_points, points_multiplier_percent FROM vip_tiers";
const CUSTOMER_SELECT: &str = "SELECT customer_id, tier, tier_year, lifetime_points, points_balance, \
     enrolled_at, updated_at FROM vip_customers";
/// Members whose account is open; a closed account's record is kept for
/// accounting only, and no longer read or changed through the API.
const OPEN: &str = "closed_at IS NULL";
const ENTRY_SELECT: &str = "SELECT id, customer_id, kind, points, requested_points, lifetime_change, reference_key, \
     reason, idempotency_key, balance_after, created_at FROM vip_points_ledger";

/// The name the fixture members are recorded under in `fixture_loads`.
const FIXTURE_SET: &str = "vip-customers";

/// How often a ledger change is retried after a deadlock or a lost race on its key.
const ATTEMPTS: u32 = 3;

/// Whose records the store holds. None of them holds personal data: the columns
/// are id, tier, points and times (see the migrations).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subjects {
    pub open: Vec<String>,
    /// With the time each was closed (Unix seconds).
    pub closed: Vec<(String, i64)>,
}

impl Subjects {
    pub fn is_empty(&self) -> bool {
        self.open.is_empty() && self.closed.is_empty()
    }
}

/// The outcome of a ledger change.
#[derive(Debug, Clone)]
pub struct Applied {
    pub entry: LedgerEntry,
    pub customer: VipCustomer,
    /// False when the idempotency key had been used for this same request: nothing changed.
    pub created: bool,
}

/// Keeps store failures apart from rule violations inside a transaction, so
/// only the former are retried.
enum Failure {
    Db(sqlx::Error),
    App(AppError),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Db(e)
    }
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        Failure::App(e)
    }
}

/// Deadlocks (MySQL) and a unique violation on the idempotency key (a request
/// racing its own retry) both resolve by running the change again.
fn is_retryable(error: &sqlx::Error) -> bool {
    let deadlock = matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("40001"));
    deadlock || is_unique_violation(error)
}

pub fn not_enrolled(customer_id: &str) -> AppError {
    AppError::NotFound(format!("customer `{customer_id}` is not a VIP member"))
}

fn decode_error(what: String) -> sqlx::Error {
    sqlx::Error::Decode(what.into())
}

fn tier_from_row(row: &AnyRow) -> Result<Tier, sqlx::Error> {
    let name: String = row.try_get("name")?;
    Ok(Tier {
        name: TierName::parse(&name).ok_or_else(|| decode_error(format!("unknown tier name `{name}`")))?,
        rank: row.try_get("tier_rank")?,
        min_lifetime_points: row.try_get("min_lifetime_points")?,
        benefits: Benefits {
            discount_percent: row.try_get("discount_percent")?,
            free_shipping: row.try_get::<i64, _>("free_shipping")? != 0,
            early_access: row.try_get::<i64, _>("early_access")? != 0,
            priority_support: row.try_get::<i64, _>("priority_support")? != 0,
            birthday_bonus_points: row.try_get("birthday_bonus_points")?,
            points_multiplier_percent: row.try_get("points_multiplier_percent")?,
        },
    })
}

fn customer_from_row(row: &AnyRow) -> Result<Customer, sqlx::Error> {
    let tier: String = row.try_get("tier")?;
    Ok(Customer {
        customer_id: row.try_get("customer_id")?,
        tier: TierName::parse(&tier).ok_or_else(|| decode_error(format!("unknown tier name `{tier}`")))?,
        tier_year: row.try_get("tier_year")?,
        lifetime_points: row.try_get("lifetime_points")?,
        points_balance: row.try_get("points_balance")?,
        enrolled_at: row.try_get("enrolled_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn entry_from_row(row: &AnyRow) -> Result<LedgerEntry, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    Ok(LedgerEntry {
        id: row.try_get("id")?,
        customer_id: row.try_get("customer_id")?,
        kind: EntryKind::parse(&kind).ok_or_else(|| decode_error(format!("unknown ledger kind `{kind}`")))?,
        points: row.try_get("points")?,
        requested_points: row.try_get("requested_points")?,
        lifetime_change: row.try_get("lifetime_change")?,
        reference_key: row.try_get("reference_key")?,
        reason: row.try_get("reason")?,
        idempotency_key: row.try_get("idempotency_key")?,
        balance_after: row.try_get("balance_after")?,
        created_at: row.try_get("created_at")?,
    })
}

pub struct VipStore {
    db: Database,
    downgrade_mid_year: bool,
}

impl VipStore {
    /// Connects on first use; migrations run then, never during a function's init.
    pub fn connect_lazy(url: &StoreUrl, max_connections: u32, downgrade_mid_year: bool) -> AppResult<Self> {
        Ok(Self { db: Database::connect_lazy(url, max_connections, &MIGRATIONS)?, downgrade_mid_year })
    }

    pub fn downgrade_mid_year(&self) -> bool {
        self.downgrade_mid_year
    }

    pub fn engine(&self) -> Engine {
        self.db.engine()
    }

    async fn begin(&self) -> AppResult<Transaction<'static, Any>> {
        self.db.begin_write().await
    }

    /// Whether the fixture members were loaded into this store once already.
    pub async fn fixtures_loaded(&self) -> AppResult<bool> {
        self.db.fixtures_loaded(FIXTURE_SET).await
    }

    pub async fn mark_fixtures_loaded(&self) -> AppResult<()> {
        self.db.mark_fixtures_loaded(FIXTURE_SET).await
    }

    /// The tier catalog, lowest rank first.
    pub async fn tiers(&self) -> AppResult<TierCatalog> {
        let pool = self.db.pool().await?;
        let sql = format!("{TIER_SELECT} ORDER BY tier_rank");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(pool).await.map_err(sqlx_error)?;
        let tiers = rows.iter().map(tier_from_row).collect::<Result<Vec<_>, _>>().map_err(sqlx_error)?;
        Ok(TierCatalog::new(tiers))
    }

    /// Adds the tiers whose names (or ranks) are not taken yet; returns how many were added.
    pub async fn insert_missing_tiers(&self, tiers: &[Tier]) -> AppResult<u64> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "{} INTO vip_tiers (name, tier_rank, min_lifetime_points, discount_percent, free_shipping, early_access, \
             priority_support, birthday_bonus_points, points_multiplier_percent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.db.engine().insert_ignore()
        );
        let mut added = 0;
        for tier in tiers {
            let b = &tier.benefits;
            let done = sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(tier.name.as_str())
                .bind(tier.rank)
                .bind(tier.min_lifetime_points)
                .bind(b.discount_percent)
                .bind(i64::from(b.free_shipping))
                .bind(i64::from(b.early_access))
                .bind(i64::from(b.priority_support))
                .bind(b.birthday_bonus_points)
                .bind(b.points_multiplier_percent)
                .execute(&mut *tx)
                .await
                .map_err(sqlx_error)?;
            added += done.rows_affected();
        }
        tx.commit().await.map_err(sqlx_error)?;
        Ok(added)
    }

    /// Enrols a member at the lowest tier with no points; an existing member is
    /// returned unchanged (`false`), so the call is safe to retry.
    pub async fn enroll(&self, input: &EnrollInput, now: i64) -> AppResult<(bool, VipCustomer)> {
        let catalog = self.tiers().await?;
        let lowest = catalog.lowest().ok_or_else(|| AppError::Conflict("the tier catalog is empty".into()))?;
        let pool = self.db.pool().await?;
        let sql = format!(
            "{} INTO vip_customers (customer_id, tier, tier_year, lifetime_points, points_balance, \
             enrolled_at, updated_at) VALUES (?, ?, ?, 0, 0, ?, ?)",
            self.db.engine().insert_ignore()
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(&input.customer_id)
            .bind(lowest.name.as_str())
            .bind(year_of(now))
            .bind(now)
            .bind(now)
            .execute(pool)
            .await
            .map_err(sqlx_error)?;
        let customer = self
            .customer(&input.customer_id)
            .await?
            .ok_or_else(|| AppError::internal(format!("enrolled {} but cannot read it back", input.customer_id)))?;
        Ok((done.rows_affected() > 0, VipCustomer::new(customer, &catalog)?))
    }

    pub async fn customer(&self, customer_id: &str) -> AppResult<Option<Customer>> {
        let pool = self.db.pool().await?;
        let sql = format!("{CUSTOMER_SELECT} WHERE customer_id = ? AND {OPEN}");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(customer_id).fetch_optional(pool).await.map_err(sqlx_error)?;
        row.as_ref().map(customer_from_row).transpose().map_err(sqlx_error)
    }

    /// The member as the API shows it, or a 404.
    pub async fn view(&self, customer_id: &str) -> AppResult<VipCustomer> {
        let customer = self.customer(customer_id).await?.ok_or_else(|| not_enrolled(customer_id))?;
        VipCustomer::new(customer, &self.tiers().await?)
    }

    /// Closes the member's record when their account is closed: it keeps the id,
    /// tier, points and ledger for accounting, and is no longer read or changed
    /// through the API. Closing a record that is closed or absent changes nothing.
    pub async fn close(&self, customer_id: &str, now: i64) -> AppResult<bool> {
        let pool = self.db.pool().await?;
        let sql = format!("UPDATE vip_customers SET closed_at = ?, updated_at = ? WHERE customer_id = ? AND {OPEN}");
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .bind(now)
            .bind(customer_id)
            .execute(pool)
            .await
            .map_err(sqlx_error)?;
        Ok(done.rows_affected() > 0)
    }

    /// Every member's id: the open records, and the closed ones kept for accounting.
    pub async fn subjects(&self) -> AppResult<Subjects> {
        let pool = self.db.pool().await?;
        let rows = sqlx::query("SELECT customer_id, closed_at FROM vip_customers ORDER BY customer_id")
            .fetch_all(pool)
            .await
            .map_err(sqlx_error)?;
        let mut subjects = Subjects::default();
        for row in &rows {
            let id: String = row.try_get("customer_id").map_err(sqlx_error)?;
            match row.try_get::<Option<i64>, _>("closed_at").map_err(sqlx_error)? {
                None => subjects.open.push(id),
                Some(at) => subjects.closed.push((id, at)),
            }
        }
        Ok(subjects)
    }

    /// Members newest first, optionally of one tier, and how many there are in all.
    pub async fn customers(
        &self,
        tier: Option<TierName>,
        offset: u64,
        limit: u64,
    ) -> AppResult<(Vec<VipCustomer>, u64)> {
        let pool = self.db.pool().await?;
        let filter = if tier.is_some() { format!(" WHERE {OPEN} AND tier = ?") } else { format!(" WHERE {OPEN}") };
        let count_sql = format!("SELECT COUNT(*) AS n FROM vip_customers{filter}");
        let mut count = sqlx::query(AssertSqlSafe(count_sql));
        if let Some(tier) = tier {
            count = count.bind(tier.as_str());
        }
        let count: i64 = count.fetch_one(pool).await.and_then(|row| row.try_get("n")).map_err(sqlx_error)?;

        let page_sql =
            format!("{CUSTOMER_SELECT}{filter} ORDER BY enrolled_at DESC, customer_id DESC LIMIT ? OFFSET ?");
        let mut page = sqlx::query(AssertSqlSafe(page_sql));
        if let Some(tier) = tier {
            page = page.bind(tier.as_str());
        }
        let rows = page.bind(as_i64(limit)).bind(as_i64(offset)).fetch_all(pool).await.map_err(sqlx_error)?;
        let catalog = self.tiers().await?;
        let customers = rows
            .iter()
            .map(|row| customer_from_row(row).map_err(sqlx_error).and_then(|c| VipCustomer::new(c, &catalog)))
            .collect::<AppResult<Vec<_>>>()?;
        Ok((customers, u64::try_from(count).unwrap_or(0)))
    }

    /// A member's ledger, newest first, and how many entries there are in all.
    pub async fn history(&self, customer_id: &str, offset: u64, limit: u64) -> AppResult<(Vec<LedgerEntry>, u64)> {
        let pool = self.db.pool().await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM vip_points_ledger WHERE customer_id = ?")
            .bind(customer_id)
            .fetch_one(pool)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(sqlx_error)?;
        let sql = format!("{ENTRY_SELECT} WHERE customer_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(customer_id)
            .bind(as_i64(limit))
            .bind(as_i64(offset))
            .fetch_all(pool)
            .await
            .map_err(sqlx_error)?;
        let entries = rows.iter().map(entry_from_row).collect::<Result<Vec<_>, _>>().map_err(sqlx_error)?;
        Ok((entries, u64::try_from(count).unwrap_or(0)))
    }

    /// Up to `limit` members, by id, after `after` (a page of all, for audits).
    pub async fn members_after(&self, after: &str, limit: i64) -> AppResult<Vec<Customer>> {
        let sql = format!("{CUSTOMER_SELECT} WHERE customer_id > ? ORDER BY customer_id LIMIT ?");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(after)
            .bind(limit)
            .fetch_all(self.db.pool().await?)
            .await
            .map_err(sqlx_error)?;
        rows.iter().map(customer_from_row).collect::<Result<_, _>>().map_err(sqlx_error)
    }

    /// A member's whole ledger, oldest first (for audits).
    pub async fn ledger(&self, customer_id: &str) -> AppResult<Vec<LedgerEntry>> {
        let sql = format!("{ENTRY_SELECT} WHERE customer_id = ? ORDER BY created_at, id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(customer_id)
            .fetch_all(self.db.pool().await?)
            .await
            .map_err(sqlx_error)?;
        rows.iter().map(entry_from_row).collect::<Result<_, _>>().map_err(sqlx_error)
    }

    /// Applies a ledger change at time `now`, or answers a retry of one already applied.
    pub async fn apply(&self, customer_id: &str, change: &Change, now: i64) -> AppResult<Applied> {
        self.retrying(customer_id, || self.try_apply(customer_id, change, now)).await
    }

    /// Gives back a redeem or takes back an earn (see [`apply_undo`]), or answers
    /// a retry of one already applied.
    pub async fn undo(&self, customer_id: &str, undo: &Undo, now: i64) -> AppResult<Applied> {
        self.retrying(customer_id, || self.try_undo(customer_id, undo, now)).await
    }

    async fn retrying<F, Fut>(&self, customer_id: &str, attempt_once: F) -> AppResult<Applied>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Applied, Failure>>,
    {
        let mut attempt = 1;
        loop {
            match attempt_once().await {
                Ok(applied) => return Ok(applied),
                Err(Failure::App(e)) => return Err(e),
                Err(Failure::Db(e)) if attempt < ATTEMPTS && is_retryable(&e) => {
                    tracing::info!(%customer_id, attempt, error = %e, "retrying a ledger change");
                    attempt += 1;
                }
                Err(Failure::Db(e)) => return Err(sqlx_error(e)),
            }
        }
    }

    /// The member's row, locked until `tx` ends, and the tier catalog.
    async fn lock_member(
        &self,
        tx: &mut Transaction<'static, Any>,
        customer_id: &str,
    ) -> Result<(Customer, TierCatalog), Failure> {
        let lock = format!("{CUSTOMER_SELECT} WHERE customer_id = ? AND {OPEN}{}", self.db.engine().for_update());
        let row = sqlx::query(AssertSqlSafe(lock)).bind(customer_id).fetch_optional(&mut **tx).await?;
        let customer = customer_from_row(&row.ok_or_else(|| not_enrolled(customer_id))?)?;
        let tier_rows =
            sqlx::query(AssertSqlSafe(format!("{TIER_SELECT} ORDER BY tier_rank"))).fetch_all(&mut **tx).await?;
        let catalog = TierCatalog::new(tier_rows.iter().map(tier_from_row).collect::<Result<Vec<_>, _>>()?);
        Ok((customer, catalog))
    }

    async fn try_apply(&self, customer_id: &str, change: &Change, now: i64) -> Result<Applied, Failure> {
        let mut tx = self.begin().await?;
        let (customer, catalog) = self.lock_member(&mut tx, customer_id).await?;
        if let Some(entry) = entry_by_key(&mut tx, customer_id, &change.idempotency_key).await? {
            if !change.matches(&entry) {
                return Err(change.key_reused().into());
            }
            return Ok(Applied { entry, customer: VipCustomer::new(customer, &catalog)?, created: false });
        }
        let (updated, entry) = apply_change(&customer, change, &catalog, now, self.downgrade_mid_year)?;
        write_entry(&mut tx, &updated, &entry).await?;
        tx.commit().await?;
        Ok(Applied { entry, customer: VipCustomer::new(updated, &catalog)?, created: true })
    }

    async fn try_undo(&self, customer_id: &str, undo: &Undo, now: i64) -> Result<Applied, Failure> {
        let mut tx = self.begin().await?;
        let (customer, catalog) = self.lock_member(&mut tx, customer_id).await?;
        let unchanged = |entry: LedgerEntry, customer: Customer| -> Result<Applied, Failure> {
            Ok(Applied { entry, customer: VipCustomer::new(customer, &catalog)?, created: false })
        };
        if let Some(entry) = entry_by_key(&mut tx, customer_id, &undo.idempotency_key).await? {
            if !undo.matches(&entry) {
                return Err(AppError::Conflict(format!(
                    "the idempotency key `{}` was already used for a different request",
                    undo.idempotency_key
                ))
                .into());
            }
            return unchanged(entry, customer);
        }
        let Some(original) = entry_by_key(&mut tx, customer_id, &undo.reference_key).await? else {
            if undo.kind != EntryKind::Revoke {
                return Err(
                    AppError::NotFound(format!("there is no redeem `{}` to give back", undo.reference_key)).into()
                );
            }
            // The earn has not been made yet (a delivery racing the refund): an
            // empty revoke under the earn's own key takes its place, so the earn,
            // when it comes, is refused as a reused key and never credits a
            // refunded order.
            let entry = LedgerEntry {
                id: shared::ids::new_id("pts"),
                customer_id: customer_id.to_string(),
                kind: EntryKind::Revoke,
                points: 0,
                requested_points: 0,
                lifetime_change: 0,
                reference_key: Some(undo.reference_key.clone()),
                reason: undo.reason.clone(),
                idempotency_key: undo.reference_key.clone(),
                balance_after: customer.points_balance,
                created_at: now,
            };
            write_entry(&mut tx, &customer, &entry).await?;
            tx.commit().await?;
            return Ok(Applied { entry, customer: VipCustomer::new(customer, &catalog)?, created: true });
        };
        if original.kind == EntryKind::Revoke && undo.kind == EntryKind::Revoke {
            // The empty revoke above, written before the earn: nothing to take back.
            return unchanged(original, customer);
        }
        let sql = format!("{ENTRY_SELECT} WHERE customer_id = ? AND reference_key = ? AND kind = ?");
        let earlier = sqlx::query(AssertSqlSafe(sql))
            .bind(customer_id)
            .bind(&undo.reference_key)
            .bind(undo.kind.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let mut undone = 0_i64;
        for row in &earlier {
            undone = undone.saturating_add(entry_from_row(row)?.requested_points);
        }
        let (updated, entry) = apply_undo(&customer, undo, &original, undone, &catalog, now, self.downgrade_mid_year)?;
        write_entry(&mut tx, &updated, &entry).await?;
        tx.commit().await?;
        Ok(Applied { entry, customer: VipCustomer::new(updated, &catalog)?, created: true })
    }
}

async fn entry_by_key(
    tx: &mut Transaction<'static, Any>,
    customer_id: &str,
    key: &str,
) -> Result<Option<LedgerEntry>, sqlx::Error> {
    let sql = format!("{ENTRY_SELECT} WHERE customer_id = ? AND idempotency_key = ?");
    let row = sqlx::query(AssertSqlSafe(sql)).bind(customer_id).bind(key).fetch_optional(&mut **tx).await?;
    row.as_ref().map(entry_from_row).transpose()
}

/// Writes the member as `updated` and adds `entry`, in the caller's transaction.
async fn write_entry(
    tx: &mut Transaction<'static, Any>,
    updated: &Customer,
    entry: &LedgerEntry,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE vip_customers SET tier = ?, tier_year = ?, lifetime_points = ?, points_balance = ?, updated_at = ? \
         WHERE customer_id = ?",
    )
    .bind(updated.tier.as_str())
    .bind(updated.tier_year)
    .bind(updated.lifetime_points)
    .bind(updated.points_balance)
    .bind(updated.updated_at)
    .bind(&updated.customer_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO vip_points_ledger (id, customer_id, kind, points, requested_points, lifetime_change, \
         reference_key, reason, idempotency_key, balance_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&entry.id)
    .bind(&entry.customer_id)
    .bind(entry.kind.as_str())
    .bind(entry.points)
    .bind(entry.requested_points)
    .bind(entry.lifetime_change)
    .bind(&entry.reference_key)
    .bind(&entry.reason)
    .bind(&entry.idempotency_key)
    .bind(entry.balance_after)
    .bind(entry.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Page bounds are small (see `shared::pagination`); saturate rather than fail on the impossible.
fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
