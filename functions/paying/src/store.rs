//! The payments store: one set of SQL for PostgreSQL (schema `paying`) and
//! SQLite, with numbered `$N` placeholders both engines understand.
//!
//! Calls to the processor, the order or the VIP service cannot run inside a
//! database transaction, so a request that changes a payment first takes a short
//! lease on its row (`lease_until`, one atomic UPDATE); a second request for the
//! same payment meanwhile is told to retry instead of acting twice. A lease left
//! by a request that died runs out by itself.

use shared::error::{AppError, AppResult};
use shared::sql::{Database, Migrations};
use shared::store::{StoreUrl, sqlx_error};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row};

use crate::domain::{Method, PaymentState, RefundKind, RefundStatus};

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
const MIGRATIONS: Migrations = Migrations { mysql: None, postgres: Some(&POSTGRES), sqlite: &SQLITE };

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub id: String,
    pub order_id: String,
    pub customer_id: String,
    pub requested_by: String,
    pub idempotency_key: String,
    pub fingerprint: String,
    pub method: Method,
    pub state: PaymentState,
    pub amount: i64,
    pub currency: String,
    pub captured_amount: i64,
    pub refunded_amount: i64,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub wallet_email: Option<String>,
    pub decline_code: Option<String>,
    pub processor_ref: Option<String>,
    pub accepted_at: Option<i64>,
    pub response_status: Option<i64>,
    pub response_body: Option<String>,
    pub lease_until: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Oldest first.
    pub refunds: Vec<RefundRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    pub id: String,
    pub payment_id: String,
    pub kind: RefundKind,
    pub status: RefundStatus,
    pub amount: i64,
    pub requested_amount: Option<i64>,
    pub reason: String,
    pub idempotency_key: String,
    pub response_body: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl PaymentRecord {
    /// What pending refunds hold back from being refunded again.
    pub fn reserved(&self) -> i64 {
        self.refunds.iter().filter(|r| r.status == RefundStatus::Pending).map(|r| r.amount).sum()
    }
}

const PAYMENT_COLUMNS: &str = "id, order_id, customer_id, requested_by, idempotency_key, fingerprint, method, state, \
     amount, currency, captured_amount, refunded_amount, card_brand, card_last4, wallet_email, decline_code, \
     processor_ref, accepted_at, response_status, response_body, lease_until, created_at, updated_at";

const REFUND_COLUMNS: &str = "id, payment_id, kind, status, amount, requested_amount, reason, idempotency_key, \
     response_body, created_at, updated_at";

fn corrupt(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what} `{value}` in the payments store").into())
}

fn payment(row: &AnyRow) -> Result<PaymentRecord, sqlx::Error> {
    let method: String = row.try_get("method")?;
    let state: String = row.try_get("state")?;
    Ok(PaymentRecord {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        customer_id: row.try_get("customer_id")?,
        requested_by: row.try_get("requested_by")?,
        idempotency_key: row.try_get("idempotency_key")?,
        fingerprint: row.try_get("fingerprint")?,
        method: Method::parse(&method).ok_or_else(|| corrupt("method", &method))?,
        state: PaymentState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        amount: row.try_get("amount")?,
        currency: row.try_get("currency")?,
        captured_amount: row.try_get("captured_amount")?,
        refunded_amount: row.try_get("refunded_amount")?,
        card_brand: row.try_get("card_brand")?,
        card_last4: row.try_get("card_last4")?,
        wallet_email: row.try_get("wallet_email")?,
        decline_code: row.try_get("decline_code")?,
        processor_ref: row.try_get("processor_ref")?,
        accepted_at: row.try_get("accepted_at")?,
        response_status: row.try_get("response_status")?,
        response_body: row.try_get("response_body")?,
        lease_until: row.try_get("lease_until")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        refunds: Vec::new(),
    })
}

fn refund(row: &AnyRow) -> Result<RefundRecord, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    Ok(RefundRecord {
        id: row.try_get("id")?,
        payment_id: row.try_get("payment_id")?,
        kind: RefundKind::parse(&kind).ok_or_else(|| corrupt("refund kind", &kind))?,
        status: RefundStatus::parse(&status).ok_or_else(|| corrupt("refund status", &status))?,
        amount: row.try_get("amount")?,
        requested_amount: row.try_get("requested_amount")?,
        reason: row.try_get("reason")?,
        idempotency_key: row.try_get("idempotency_key")?,
        response_body: row.try_get("response_body")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Which payments a list shows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// `None` for staff: everyone's.
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
}

pub struct Store {
    db: Database,
}

impl Store {
    pub fn new(url: &StoreUrl, max_connections: u32) -> AppResult<Self> {
        Ok(Self { db: Database::connect_lazy_in_schema(url, max_connections, &MIGRATIONS, "paying")? })
    }

    async fn pool(&self) -> AppResult<&AnyPool> {
        self.db.pool().await
    }

    /// Adds a new payment; false when the caller already used its Idempotency-Key
    /// (a concurrent twin got there first).
    pub async fn insert(&self, p: &PaymentRecord) -> AppResult<bool> {
        let sql = format!(
            "INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) ON CONFLICT (requested_by, idempotency_key) DO NOTHING"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&p.id)
            .bind(&p.order_id)
            .bind(&p.customer_id)
            .bind(&p.requested_by)
            .bind(&p.idempotency_key)
            .bind(&p.fingerprint)
            .bind(p.method.as_str())
            .bind(p.state.as_str())
            .bind(p.amount)
            .bind(&p.currency)
            .bind(p.captured_amount)
            .bind(p.refunded_amount)
            .bind(&p.card_brand)
            .bind(&p.card_last4)
            .bind(&p.wallet_email)
            .bind(&p.decline_code)
            .bind(&p.processor_ref)
            .bind(p.accepted_at)
            .bind(p.response_status)
            .bind(&p.response_body)
            .bind(p.lease_until)
            .bind(p.created_at)
            .bind(p.updated_at)
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes what a request changed, lease included (0 lets it go).
    pub async fn save(&self, p: &PaymentRecord) -> AppResult<()> {
        save_payment(self.pool().await?, p).await
    }

    pub async fn payment(&self, id: &str) -> AppResult<Option<PaymentRecord>> {
        self.one("WHERE id = $1", &[id]).await
    }

    pub async fn by_key(&self, requested_by: &str, key: &str) -> AppResult<Option<PaymentRecord>> {
        self.one("WHERE requested_by = $1 AND idempotency_key = $2", &[requested_by, key]).await
    }

    /// The order's payment: the one the order accepted, else (when that answer
    /// was never recorded) the newest one holding the customer's money.
    pub async fn order_payment(&self, order_id: &str) -> AppResult<Option<PaymentRecord>> {
        self.one(
            "WHERE order_id = $1 AND (accepted_at IS NOT NULL OR state IN ('pending', 'authorized', 'captured', \
             'partially_refunded')) ORDER BY CASE WHEN accepted_at IS NULL THEN 1 ELSE 0 END, created_at DESC, id DESC",
            &[order_id],
        )
        .await
    }

    /// Another payment of the order that holds the customer's money, or is being
    /// attempted right now: a new payment must not start beside it.
    pub async fn blocking_for_order(&self, order_id: &str, now: i64) -> AppResult<Option<PaymentRecord>> {
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1 AND (state IN ('pending', 'authorized', \
             'captured', 'partially_refunded') OR (state = 'processing' AND lease_until >= $2)) \
             ORDER BY created_at DESC, id DESC"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(order_id)
            .bind(now)
            .fetch_optional(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        self.with_refunds(row.as_ref().map(payment).transpose().map_err(sqlx_error)?).await
    }

    async fn one(&self, condition: &str, args: &[&str]) -> AppResult<Option<PaymentRecord>> {
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments {condition}");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for arg in args {
            query = query.bind(arg.to_string());
        }
        let row = query.fetch_optional(self.pool().await?).await.map_err(sqlx_error)?;
        self.with_refunds(row.as_ref().map(payment).transpose().map_err(sqlx_error)?).await
    }

    async fn with_refunds(&self, p: Option<PaymentRecord>) -> AppResult<Option<PaymentRecord>> {
        let Some(mut p) = p else { return Ok(None) };
        p.refunds = self.refunds_of(std::slice::from_ref(&p.id)).await?;
        Ok(Some(p))
    }

    async fn refunds_of(&self, payment_ids: &[String]) -> AppResult<Vec<RefundRecord>> {
        if payment_ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=payment_ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id IN ({}) ORDER BY created_at, id",
            marks.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in payment_ids {
            query = query.bind(id.clone());
        }
        let rows = query.fetch_all(self.pool().await?).await.map_err(sqlx_error)?;
        rows.iter().map(refund).collect::<Result<_, _>>().map_err(sqlx_error)
    }

    /// Takes the payment's lease until `until`; false when another request holds it.
    pub async fn claim(&self, id: &str, now: i64, until: i64) -> AppResult<bool> {
        let done = sqlx::query("UPDATE payments SET lease_until = $1 WHERE id = $2 AND lease_until < $3")
            .bind(until)
            .bind(id)
            .bind(now)
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn release(&self, id: &str) -> AppResult<()> {
        sqlx::query("UPDATE payments SET lease_until = 0 WHERE id = $1")
            .bind(id)
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(())
    }

    /// One page of payments, newest first, and how many match in all.
    pub async fn list(&self, filter: &ListFilter, offset: u64, limit: u64) -> AppResult<(Vec<PaymentRecord>, u64)> {
        let mut conditions = Vec::new();
        let mut args = Vec::new();
        for (column, value) in [("customer_id", &filter.customer_id), ("order_id", &filter.order_id)] {
            if let Some(value) = value {
                args.push(value.clone());
                conditions.push(format!("{column} = ${}", args.len()));
            }
        }
        let condition =
            if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let pool = self.pool().await?;
        let mut count = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM payments {condition}")));
        for arg in &args {
            count = count.bind(arg.clone());
        }
        let total: i64 = count.fetch_one(pool).await.and_then(|r| r.try_get("n")).map_err(sqlx_error)?;
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments {condition} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for arg in &args {
            query = query.bind(arg.clone());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = query.bind(limit).bind(offset).fetch_all(pool).await.map_err(sqlx_error)?;
        let payments = self.with_all_refunds(&rows).await?;
        Ok((payments, u64::try_from(total).unwrap_or_default()))
    }

    /// The payments of `rows`, each with its refunds (one query for all).
    async fn with_all_refunds(&self, rows: &[AnyRow]) -> AppResult<Vec<PaymentRecord>> {
        let mut payments: Vec<PaymentRecord> =
            rows.iter().map(payment).collect::<Result<_, _>>().map_err(sqlx_error)?;
        let ids: Vec<String> = payments.iter().map(|p| p.id.clone()).collect();
        for r in self.refunds_of(&ids).await? {
            if let Some(p) = payments.iter_mut().find(|p| p.id == r.payment_id) {
                p.refunds.push(r);
            }
        }
        Ok(payments)
    }

    /// Up to `limit` payments with their refunds, by id, after `after` (a page
    /// of all, for audits).
    pub async fn payments_after(&self, after: &str, limit: i64) -> AppResult<Vec<PaymentRecord>> {
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        self.with_all_refunds(&rows).await
    }

    /// Records a refund before the processor is asked; false when the key was used already.
    pub async fn insert_refund(&self, r: &RefundRecord) -> AppResult<bool> {
        let sql = format!(
            "INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (payment_id, idempotency_key) DO NOTHING"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&r.id)
            .bind(&r.payment_id)
            .bind(r.kind.as_str())
            .bind(r.status.as_str())
            .bind(r.amount)
            .bind(r.requested_amount)
            .bind(&r.reason)
            .bind(&r.idempotency_key)
            .bind(&r.response_body)
            .bind(r.created_at)
            .bind(r.updated_at)
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets a refund the processor refused for good.
    pub async fn delete_refund(&self, id: &str) -> AppResult<()> {
        sqlx::query("DELETE FROM refunds WHERE id = $1 AND status = 'pending'")
            .bind(id)
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(())
    }

    /// Marks a refund done and writes the payment it changed, together.
    pub async fn complete_refund(&self, refund: &RefundRecord, p: &PaymentRecord) -> AppResult<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE refunds SET status = $1, response_body = $2, updated_at = $3 WHERE id = $4")
            .bind(refund.status.as_str())
            .bind(&refund.response_body)
            .bind(refund.updated_at)
            .bind(&refund.id)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        save_payment(&mut *tx, p).await?;
        tx.commit().await.map_err(sqlx_error)
    }
}

async fn save_payment<'e, E>(executor: E, p: &PaymentRecord) -> AppResult<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let done = sqlx::query(
        "UPDATE payments SET state = $1, captured_amount = $2, refunded_amount = $3, decline_code = $4, \
         processor_ref = $5, accepted_at = $6, response_status = $7, response_body = $8, lease_until = $9, \
         updated_at = $10 WHERE id = $11",
    )
    .bind(p.state.as_str())
    .bind(p.captured_amount)
    .bind(p.refunded_amount)
    .bind(&p.decline_code)
    .bind(&p.processor_ref)
    .bind(p.accepted_at)
    .bind(p.response_status)
    .bind(&p.response_body)
    .bind(p.lease_until)
    .bind(p.updated_at)
    .bind(&p.id)
    .execute(executor)
    .await
    .map_err(sqlx_error)?;
    if done.rows_affected() == 1 { Ok(()) } else { Err(AppError::internal(format!("payment {} vanished", p.id))) }
}
