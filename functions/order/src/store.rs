//! The orders store: one set of SQL for PostgreSQL (schema `orders`) and SQLite,
//! with numbered `$N` placeholders both engines understand.
//!
//! Changes to an order run in a transaction that locks its row first (`FOR
//! UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), so a payment arriving
//! while a cancellation runs waits and then sees the cancellation.
//!
//! Checkouts keep their progress in `checkouts`, one row per (customer,
//! Idempotency-Key). Every write to that row names the attempt that holds it, so
//! an attempt that lost its lease to a retry cannot move the checkout on.

use serde::{Deserialize, Serialize};
use shared::error::{AppError, AppResult};
use shared::sql::{Database, Migrations};
use shared::store::{StoreUrl, sqlx_error};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, AssertSqlSafe, Row, Transaction};

use crate::model::{DeliveryOption, OrderLine, OrderRecord, OrderStatus, ShippingAddress};

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
const MIGRATIONS: Migrations = Migrations { mysql: None, postgres: Some(&POSTGRES), sqlite: &SQLITE };

const ORDER_COLUMNS: &str = "id, customer_id, customer_type, status, currency, subtotal, discount, shipping_fee, \
     points_redeemed, total, delivery_option, shipping_address, payment_id, payment_method, shipment_id, \
     undo_pending, created_at, updated_at, expires_at, closed_at, cart_version";
const LINE_COLUMNS: &str = "order_id, position, item_type, item_id, name, quantity, unit_price, line_total";
const CHECKOUT_COLUMNS: &str = "customer_id, idempotency_key, fingerprint, order_id, phase, attempt, lease_until, \
     plan, failure, response_status, response_body";

/// An order as stored; [`Order::record`] is what the API shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub customer_id: String,
    pub customer_type: String,
    pub status: OrderStatus,
    pub currency: String,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping_fee: i64,
    pub points_redeemed: i64,
    pub total: i64,
    pub delivery_option: DeliveryOption,
    pub shipping_address: Option<ShippingAddress>,
    pub lines: Vec<OrderLine>,
    pub payment_id: Option<String>,
    pub payment_method: Option<String>,
    pub shipment_id: Option<String>,
    /// A cancellation, expiry or refund whose calls to other functions are not all done.
    pub undo_pending: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the order expires if it is still unpaid.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// When it was cancelled, expired or refunded.
    #[serde(default)]
    pub closed_at: Option<i64>,
    /// The version of the cart it was made of.
    #[serde(default)]
    pub cart_version: Option<String>,
}

impl Order {
    /// Still waiting for its payment at `now`, though its time is up.
    pub fn is_overdue(&self, now: i64) -> bool {
        self.status == OrderStatus::PendingPayment && self.expires_at.is_some_and(|at| at <= now)
    }

    pub fn record(&self) -> OrderRecord {
        OrderRecord {
            id: self.id.clone(),
            customer_id: self.customer_id.clone(),
            customer_type: self.customer_type.clone(),
            status: self.status,
            currency: self.currency.clone(),
            subtotal: self.subtotal,
            discount: self.discount,
            shipping_fee: self.shipping_fee,
            points_redeemed: self.points_redeemed,
            total: self.total,
            delivery_option: self.delivery_option,
            shipping_address: self.shipping_address.clone(),
            lines: self.lines.clone(),
            payment_id: self.payment_id.clone(),
            shipment_id: self.shipment_id.clone(),
            expires_at: self
                .expires_at
                .filter(|_| self.status == OrderStatus::PendingPayment)
                .map(shared::sql::rfc3339),
            created_at: shared::sql::rfc3339(self.created_at),
            updated_at: shared::sql::rfc3339(self.updated_at),
        }
    }
}

/// How far a checkout got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Claimed; nothing done outside this store yet.
    Started,
    /// Priced (the plan is stored); stock and points are being taken.
    Reserving,
    /// Refused (the failure is stored); the stock taken is being given back.
    Releasing,
    /// Answered; the response is stored and replayed.
    Done,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Started => "started",
            Phase::Reserving => "reserving",
            Phase::Releasing => "releasing",
            Phase::Done => "done",
        }
    }

    fn parse(phase: &str) -> Option<Self> {
        [Phase::Started, Phase::Reserving, Phase::Releasing, Phase::Done].into_iter().find(|p| p.as_str() == phase)
    }
}

/// Why a checkout is being undone: the first `reserved` lines hold stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub reserved: usize,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRow {
    pub customer_id: String,
    pub key: String,
    pub fingerprint: String,
    pub order_id: String,
    pub phase: Phase,
    pub attempt: String,
    pub lease_until: i64,
    pub plan: Option<Order>,
    pub failure: Option<Failure>,
    pub response: Option<(u16, String)>,
}

/// What claiming an idempotency key found.
#[derive(Debug)]
pub enum Claim {
    /// This attempt holds the checkout now (fresh, or taken over from a dead one).
    Owned(Box<CheckoutRow>),
    /// Finished before: the stored answer.
    Replay { status: u16, body: String },
    /// Another attempt holds it and its lease has not run out.
    Busy,
    /// The key was used for a different request body.
    KeyReused,
}

/// Filters of the orders list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub customer_id: Option<String>,
    pub status: Option<OrderStatus>,
}

enum Bind {
    Text(String),
    Int(i64),
}

fn decode(what: String) -> sqlx::Error {
    sqlx::Error::Decode(what.into())
}

fn json_column<T: for<'de> Deserialize<'de>>(row: &AnyRow, column: &str) -> Result<Option<T>, sqlx::Error> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| decode(format!("{column}: {e}")))).transpose()
}

fn to_json<T: Serialize>(value: &T) -> AppResult<String> {
    serde_json::to_string(value).map_err(AppError::internal)
}

fn order_from_row(row: &AnyRow) -> Result<Order, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let option: String = row.try_get("delivery_option")?;
    Ok(Order {
        id: row.try_get("id")?,
        customer_id: row.try_get("customer_id")?,
        customer_type: row.try_get("customer_type")?,
        status: OrderStatus::parse(&status).ok_or_else(|| decode(format!("unknown status `{status}`")))?,
        currency: row.try_get("currency")?,
        subtotal: row.try_get("subtotal")?,
        discount: row.try_get("discount")?,
        shipping_fee: row.try_get("shipping_fee")?,
        points_redeemed: row.try_get("points_redeemed")?,
        total: row.try_get("total")?,
        delivery_option: DeliveryOption::parse(&option)
            .ok_or_else(|| decode(format!("unknown delivery option `{option}`")))?,
        shipping_address: json_column(row, "shipping_address")?,
        lines: Vec::new(),
        payment_id: row.try_get("payment_id")?,
        payment_method: row.try_get("payment_method")?,
        shipment_id: row.try_get("shipment_id")?,
        undo_pending: row.try_get::<i64, _>("undo_pending")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        expires_at: row.try_get("expires_at")?,
        closed_at: row.try_get("closed_at")?,
        cart_version: row.try_get("cart_version")?,
    })
}

fn line_from_row(row: &AnyRow) -> Result<(String, OrderLine), sqlx::Error> {
    Ok((
        row.try_get("order_id")?,
        OrderLine {
            item_type: row.try_get("item_type")?,
            item_id: row.try_get("item_id")?,
            name: row.try_get("name")?,
            quantity: row.try_get("quantity")?,
            unit_price: row.try_get("unit_price")?,
            line_total: row.try_get("line_total")?,
        },
    ))
}

fn checkout_from_row(row: &AnyRow) -> Result<CheckoutRow, sqlx::Error> {
    let phase: String = row.try_get("phase")?;
    let status: Option<i64> = row.try_get("response_status")?;
    let body: Option<String> = row.try_get("response_body")?;
    Ok(CheckoutRow {
        customer_id: row.try_get("customer_id")?,
        key: row.try_get("idempotency_key")?,
        fingerprint: row.try_get("fingerprint")?,
        order_id: row.try_get("order_id")?,
        phase: Phase::parse(&phase).ok_or_else(|| decode(format!("unknown checkout phase `{phase}`")))?,
        attempt: row.try_get("attempt")?,
        lease_until: row.try_get("lease_until")?,
        plan: json_column(row, "plan")?,
        failure: json_column(row, "failure")?,
        response: match (status, body) {
            (Some(status), Some(body)) => Some((u16::try_from(status).unwrap_or(500), body)),
            _ => None,
        },
    })
}

/// What storing a checkout's plan found.
#[derive(Debug, PartialEq, Eq)]
pub enum Planned {
    Saved,
    /// Another checkout claimed this cart version; `placed` once its order exists.
    CartTaken {
        order_id: String,
        placed: bool,
    },
    /// The customer has this many orders (or checkouts) waiting for payment.
    TooManyUnpaid(i64),
    /// Another attempt took this checkout over.
    Lost,
}

/// One fenced change of a checkout row: only while `attempt` holds it and it
/// is in `phase`. False when another attempt took it over.
async fn fenced<'e, E>(executor: E, row: &CheckoutRow, phase: Phase, set: &str, values: Vec<Bind>) -> AppResult<bool>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let n = values.len();
    let sql = format!(
        "UPDATE checkouts SET {set} WHERE customer_id = ${} AND idempotency_key = ${} AND attempt = ${} \
         AND phase = ${}",
        n + 1,
        n + 2,
        n + 3,
        n + 4
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for value in values {
        query = match value {
            Bind::Text(text) => query.bind(text),
            Bind::Int(n) => query.bind(n),
        };
    }
    let done = query
        .bind(&row.customer_id)
        .bind(&row.key)
        .bind(&row.attempt)
        .bind(phase.as_str())
        .execute(executor)
        .await
        .map_err(sqlx_error)?;
    Ok(done.rows_affected() == 1)
}

pub struct Store {
    db: Database,
}

impl Store {
    pub fn new(url: &StoreUrl, max_connections: u32) -> AppResult<Self> {
        Ok(Self { db: Database::connect_lazy_in_schema(url, max_connections, &MIGRATIONS, "orders")? })
    }

    async fn pool(&self) -> AppResult<&AnyPool> {
        self.db.pool().await
    }

    async fn begin_write(&self) -> AppResult<Transaction<'static, Any>> {
        self.db.begin_write().await
    }

    // ---- checkouts -------------------------------------------------------------

    pub async fn checkout(&self, customer_id: &str, key: &str) -> AppResult<Option<CheckoutRow>> {
        let sql = format!("SELECT {CHECKOUT_COLUMNS} FROM checkouts WHERE customer_id = $1 AND idempotency_key = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(customer_id)
            .bind(key)
            .fetch_optional(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        row.as_ref().map(checkout_from_row).transpose().map_err(sqlx_error)
    }

    /// Claims (customer, key) for `attempt` until `now + lease_secs`: a new claim
    /// gets `order_id`; a claim whose holder's lease ran out is taken over with
    /// its order id and progress, so the retry continues what the dead attempt began.
    #[allow(clippy::too_many_arguments)]
    pub async fn claim(
        &self,
        customer_id: &str,
        key: &str,
        fingerprint: &str,
        order_id: &str,
        attempt: &str,
        now: i64,
        lease_secs: i64,
    ) -> AppResult<Claim> {
        let pool = self.pool().await?;
        let lease_until = now.saturating_add(lease_secs);
        // A claim dropped between our insert and our read is claimed again.
        for _ in 0..3 {
            let inserted = sqlx::query(
                "INSERT INTO checkouts (customer_id, idempotency_key, fingerprint, order_id, phase, attempt, \
                 lease_until, created_at, updated_at) VALUES ($1, $2, $3, $4, 'started', $5, $6, $7, $8) \
                 ON CONFLICT (customer_id, idempotency_key) DO NOTHING",
            )
            .bind(customer_id)
            .bind(key)
            .bind(fingerprint)
            .bind(order_id)
            .bind(attempt)
            .bind(lease_until)
            .bind(now)
            .bind(now)
            .execute(pool)
            .await
            .map_err(sqlx_error)?;
            if inserted.rows_affected() == 1 {
                return Ok(Claim::Owned(Box::new(CheckoutRow {
                    customer_id: customer_id.to_string(),
                    key: key.to_string(),
                    fingerprint: fingerprint.to_string(),
                    order_id: order_id.to_string(),
                    phase: Phase::Started,
                    attempt: attempt.to_string(),
                    lease_until,
                    plan: None,
                    failure: None,
                    response: None,
                })));
            }
            let Some(existing) = self.checkout(customer_id, key).await? else { continue };
            if existing.fingerprint != fingerprint {
                return Ok(Claim::KeyReused);
            }
            if let (Phase::Done, Some((status, body))) = (existing.phase, existing.response.clone()) {
                return Ok(Claim::Replay { status, body });
            }
            if existing.lease_until > now {
                return Ok(Claim::Busy);
            }
            let taken = sqlx::query(
                "UPDATE checkouts SET attempt = $1, lease_until = $2, updated_at = $3 \
                 WHERE customer_id = $4 AND idempotency_key = $5 AND attempt = $6 AND phase <> 'done'",
            )
            .bind(attempt)
            .bind(lease_until)
            .bind(now)
            .bind(customer_id)
            .bind(key)
            .bind(&existing.attempt)
            .execute(pool)
            .await
            .map_err(sqlx_error)?;
            if taken.rows_affected() != 1 {
                return Ok(Claim::Busy);
            }
            tracing::info!(%customer_id, order_id = %existing.order_id, "checkout taken over from an expired attempt");
            return Ok(Claim::Owned(Box::new(CheckoutRow { attempt: attempt.to_string(), lease_until, ..existing })));
        }
        Ok(Claim::Busy)
    }

    /// One fenced change of a checkout row: only while `attempt` holds it and it
    /// is in `phase`. False when another attempt took it over.
    async fn fenced(&self, row: &CheckoutRow, phase: Phase, set: &str, values: Vec<Bind>) -> AppResult<bool> {
        fenced(self.pool().await?, row, phase, set, values).await
    }

    /// Stores the priced order before any stock is taken for it, claiming the
    /// cart version it was priced from, unless another checkout claimed that
    /// version or the customer has `max_unpaid` orders (and checkouts) waiting
    /// for payment already (unexpired at `now`, the order service's clock). One
    /// customer's claims are made one at a time.
    pub async fn save_plan(&self, row: &CheckoutRow, plan: &Order, now: i64, max_unpaid: i64) -> AppResult<Planned> {
        let version = plan.cart_version.clone().ok_or_else(|| AppError::internal("a plan without its cart version"))?;
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO checkout_customers (customer_id) VALUES ($1) ON CONFLICT (customer_id) DO NOTHING")
            .bind(&plan.customer_id)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        let lock = format!(
            "SELECT customer_id FROM checkout_customers WHERE customer_id = $1{}",
            self.db.engine().for_update()
        );
        sqlx::query(AssertSqlSafe(lock)).bind(&plan.customer_id).fetch_one(&mut *tx).await.map_err(sqlx_error)?;
        let taken = sqlx::query(
            "SELECT c.order_id, (SELECT COUNT(*) FROM orders o WHERE o.id = c.order_id) AS placed \
             FROM cart_checkouts c WHERE c.customer_id = $1 AND c.cart_version = $2",
        )
        .bind(&plan.customer_id)
        .bind(&version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(sqlx_error)?;
        if let Some(taken) = taken {
            let order_id: String = taken.try_get("order_id").map_err(sqlx_error)?;
            let placed = taken.try_get::<i64, _>("placed").map_err(sqlx_error)? > 0;
            return Ok(Planned::CartTaken { order_id, placed });
        }
        let waiting: i64 = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM orders WHERE customer_id = $1 AND status = 'pending_payment' \
             AND expires_at > $2) + (SELECT COUNT(*) FROM cart_checkouts c WHERE c.customer_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = c.order_id)) AS n",
        )
        .bind(&plan.customer_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .and_then(|r| r.try_get("n"))
        .map_err(sqlx_error)?;
        if waiting >= max_unpaid {
            return Ok(Planned::TooManyUnpaid(waiting));
        }
        sqlx::query(
            "INSERT INTO cart_checkouts (customer_id, cart_version, order_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&plan.customer_id)
        .bind(&version)
        .bind(&plan.id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(sqlx_error)?;
        let set = "phase = 'reserving', plan = $1, updated_at = $2";
        if !fenced(&mut *tx, row, Phase::Started, set, vec![Bind::Text(to_json(plan)?), Bind::Int(now)]).await? {
            return Ok(Planned::Lost);
        }
        tx.commit().await.map_err(sqlx_error)?;
        Ok(Planned::Saved)
    }

    /// Records that the checkout failed and must give back what it took.
    pub async fn start_releasing(&self, row: &CheckoutRow, failure: &Failure, now: i64) -> AppResult<bool> {
        let set = "phase = 'releasing', failure = $1, updated_at = $2";
        self.fenced(row, Phase::Reserving, set, vec![Bind::Text(to_json(failure)?), Bind::Int(now)]).await
    }

    /// Stores the final answer of a failed checkout, for replays, and gives its
    /// cart version back: the same cart may be checked out again.
    pub async fn finish_failed(&self, row: &CheckoutRow, status: u16, body: &str, now: i64) -> AppResult<bool> {
        let mut tx = self.begin_write().await?;
        let set = "phase = 'done', lease_until = 0, response_status = $1, response_body = $2, updated_at = $3";
        let values = vec![Bind::Int(i64::from(status)), Bind::Text(body.to_string()), Bind::Int(now)];
        if !fenced(&mut *tx, row, Phase::Releasing, set, values).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM cart_checkouts WHERE order_id = $1")
            .bind(&row.order_id)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        tx.commit().await.map_err(sqlx_error)?;
        Ok(true)
    }

    /// Takes over a checkout whose lease ran out (the sweep undoing an abandoned
    /// one); the row as this new attempt holds it, or `None` when someone else
    /// got it first.
    pub async fn take_over(
        &self,
        row: &CheckoutRow,
        attempt: &str,
        now: i64,
        lease_secs: i64,
    ) -> AppResult<Option<CheckoutRow>> {
        let lease_until = now.saturating_add(lease_secs);
        let taken = sqlx::query(
            "UPDATE checkouts SET attempt = $1, lease_until = $2, updated_at = $3 \
             WHERE customer_id = $4 AND idempotency_key = $5 AND attempt = $6 AND phase <> 'done' AND lease_until < $7",
        )
        .bind(attempt)
        .bind(lease_until)
        .bind(now)
        .bind(&row.customer_id)
        .bind(&row.key)
        .bind(&row.attempt)
        .bind(now)
        .execute(self.pool().await?)
        .await
        .map_err(sqlx_error)?;
        Ok((taken.rows_affected() == 1).then(|| CheckoutRow {
            attempt: attempt.to_string(),
            lease_until,
            ..row.clone()
        }))
    }

    /// Checkouts not finished, not held by anyone, and begun before `begun_before`.
    pub async fn abandoned(&self, now: i64, begun_before: i64, limit: i64) -> AppResult<Vec<CheckoutRow>> {
        let sql = format!(
            "SELECT {CHECKOUT_COLUMNS} FROM checkouts WHERE phase <> 'done' AND lease_until < $1 AND created_at < $2 \
             ORDER BY created_at LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .bind(begun_before)
            .bind(limit)
            .fetch_all(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        rows.iter().map(checkout_from_row).collect::<Result<_, _>>().map_err(sqlx_error)
    }

    /// Lets the next retry continue at once (after a peer failed) instead of
    /// waiting for the lease to run out.
    pub async fn release_lease(&self, row: &CheckoutRow) -> AppResult<()> {
        sqlx::query(
            "UPDATE checkouts SET lease_until = 0 \
             WHERE customer_id = $1 AND idempotency_key = $2 AND attempt = $3 AND phase <> 'done'",
        )
        .bind(&row.customer_id)
        .bind(&row.key)
        .bind(&row.attempt)
        .execute(self.pool().await?)
        .await
        .map_err(sqlx_error)?;
        Ok(())
    }

    /// Forgets a claim that changed nothing anywhere, so the key may be used again.
    pub async fn drop_claim(&self, row: &CheckoutRow) -> AppResult<()> {
        sqlx::query(
            "DELETE FROM checkouts WHERE customer_id = $1 AND idempotency_key = $2 AND attempt = $3 \
             AND phase = 'started'",
        )
        .bind(&row.customer_id)
        .bind(&row.key)
        .bind(&row.attempt)
        .execute(self.pool().await?)
        .await
        .map_err(sqlx_error)?;
        Ok(())
    }

    /// Inserts the order and stores the checkout's answer in one transaction, so
    /// an order exists exactly when its checkout is done. False (and nothing
    /// written) when another attempt holds the checkout.
    pub async fn place(&self, row: &CheckoutRow, order: &Order, body: &str, now: i64) -> AppResult<bool> {
        let mut tx = self.begin_write().await?;
        // The fenced update comes first: on PostgreSQL it locks the row until commit.
        let claimed = sqlx::query(
            "UPDATE checkouts SET phase = 'done', lease_until = 0, response_status = 201, response_body = $1, \
             updated_at = $2 WHERE customer_id = $3 AND idempotency_key = $4 AND attempt = $5 AND phase = 'reserving'",
        )
        .bind(body)
        .bind(now)
        .bind(&row.customer_id)
        .bind(&row.key)
        .bind(&row.attempt)
        .execute(&mut *tx)
        .await
        .map_err(sqlx_error)?;
        if claimed.rows_affected() != 1 {
            return Ok(false);
        }
        let sql = format!(
            "INSERT INTO orders ({ORDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17, $18, $19, $20, $21)"
        );
        let address = order.shipping_address.as_ref().map(to_json).transpose()?;
        sqlx::query(AssertSqlSafe(sql))
            .bind(&order.id)
            .bind(&order.customer_id)
            .bind(&order.customer_type)
            .bind(order.status.as_str())
            .bind(&order.currency)
            .bind(order.subtotal)
            .bind(order.discount)
            .bind(order.shipping_fee)
            .bind(order.points_redeemed)
            .bind(order.total)
            .bind(order.delivery_option.as_str())
            .bind(address)
            .bind(order.payment_id.clone())
            .bind(order.payment_method.clone())
            .bind(order.shipment_id.clone())
            .bind(i64::from(order.undo_pending))
            .bind(order.created_at)
            .bind(order.updated_at)
            .bind(order.expires_at)
            .bind(order.closed_at)
            .bind(order.cart_version.clone())
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        let sql = format!("INSERT INTO order_lines ({LINE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        for (position, line) in order.lines.iter().enumerate() {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(&order.id)
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .bind(&line.item_type)
                .bind(&line.item_id)
                .bind(&line.name)
                .bind(line.quantity)
                .bind(line.unit_price)
                .bind(line.line_total)
                .execute(&mut *tx)
                .await
                .map_err(sqlx_error)?;
        }
        tx.commit().await.map_err(sqlx_error)?;
        Ok(true)
    }

    // ---- orders ----------------------------------------------------------------

    pub async fn order(&self, id: &str) -> AppResult<Option<Order>> {
        let pool = self.pool().await?;
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await.map_err(sqlx_error)?;
        let Some(row) = row else { return Ok(None) };
        let mut order = order_from_row(&row).map_err(sqlx_error)?;
        let sql = format!("SELECT {LINE_COLUMNS} FROM order_lines WHERE order_id = $1 ORDER BY position");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_all(pool).await.map_err(sqlx_error)?;
        for row in &rows {
            order.lines.push(line_from_row(row).map_err(sqlx_error)?.1);
        }
        Ok(Some(order))
    }

    /// Orders newest first, and how many match in all.
    pub async fn list(&self, filter: &ListFilter, offset: u64, limit: u64) -> AppResult<(Vec<Order>, u64)> {
        let pool = self.pool().await?;
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        if let Some(customer_id) = &filter.customer_id {
            values.push(customer_id.clone());
            conditions.push(format!("customer_id = ${}", values.len()));
        }
        if let Some(status) = filter.status {
            values.push(status.as_str().to_string());
            conditions.push(format!("status = ${}", values.len()));
        }
        let filter_sql =
            if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
        let mut count = sqlx::query(AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM orders{filter_sql}")));
        for value in &values {
            count = count.bind(value.clone());
        }
        let count: i64 = count.fetch_one(pool).await.and_then(|row| row.try_get("n")).map_err(sqlx_error)?;
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders{filter_sql} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            values.len() + 1,
            values.len() + 2
        );
        let mut page = sqlx::query(AssertSqlSafe(sql));
        for value in &values {
            page = page.bind(value.clone());
        }
        let rows = page
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await
            .map_err(sqlx_error)?;
        let mut orders = rows.iter().map(order_from_row).collect::<Result<Vec<_>, _>>().map_err(sqlx_error)?;
        if !orders.is_empty() {
            let placeholders: Vec<String> = (1..=orders.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {LINE_COLUMNS} FROM order_lines WHERE order_id IN ({}) ORDER BY order_id, position",
                placeholders.join(", ")
            );
            let mut lines = sqlx::query(AssertSqlSafe(sql));
            for order in &orders {
                lines = lines.bind(order.id.clone());
            }
            for row in lines.fetch_all(pool).await.map_err(sqlx_error)? {
                let (order_id, line) = line_from_row(&row).map_err(sqlx_error)?;
                if let Some(order) = orders.iter_mut().find(|o| o.id == order_id) {
                    order.lines.push(line);
                }
            }
        }
        Ok((orders, u64::try_from(count).unwrap_or(0)))
    }

    /// Changes an order under its row lock: `decide` sees the current order and
    /// answers the changed one (`None`: leave it). `Ok(None)` when there is no such order.
    pub async fn modify<E: From<AppError>>(
        &self,
        id: &str,
        decide: impl FnOnce(&Order) -> Result<Option<Order>, E>,
    ) -> Result<Option<Order>, E> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1{}", self.db.engine().for_update());
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *tx).await.map_err(sqlx_error)?;
        let Some(row) = row else { return Ok(None) };
        let current = order_from_row(&row).map_err(sqlx_error)?;
        let Some(changed) = decide(&current)? else {
            tx.rollback().await.map_err(sqlx_error)?;
            return Ok(self.order(id).await?);
        };
        sqlx::query(
            "UPDATE orders SET status = $1, payment_id = $2, payment_method = $3, shipment_id = $4, \
             undo_pending = $5, updated_at = $6, closed_at = $7 WHERE id = $8",
        )
        .bind(changed.status.as_str())
        .bind(changed.payment_id.clone())
        .bind(changed.payment_method.clone())
        .bind(changed.shipment_id.clone())
        .bind(i64::from(changed.undo_pending))
        .bind(changed.updated_at)
        .bind(changed.closed_at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(sqlx_error)?;
        tx.commit().await.map_err(sqlx_error)?;
        Ok(self.order(id).await?)
    }

    /// Records the order's shipment, unless one is recorded already.
    pub async fn set_shipment(&self, id: &str, shipment_id: &str, now: i64) -> AppResult<()> {
        sqlx::query("UPDATE orders SET shipment_id = $1, updated_at = $2 WHERE id = $3 AND shipment_id IS NULL")
            .bind(shipment_id)
            .bind(now)
            .bind(id)
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(())
    }

    /// Marks a cancellation's or refund's calls as all done.
    pub async fn finish_undo(&self, id: &str, now: i64) -> AppResult<()> {
        sqlx::query("UPDATE orders SET undo_pending = 0, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(())
    }

    /// Ids of orders still waiting for payment whose time was up at `now`, the
    /// longest overdue first.
    pub async fn overdue(&self, now: i64, limit: i64) -> AppResult<Vec<String>> {
        self.ids(
            "SELECT id FROM orders WHERE status = 'pending_payment' AND expires_at <= $1 ORDER BY expires_at, id \
             LIMIT $2",
            now,
            limit,
        )
        .await
    }

    /// Ids of orders whose cancellation, expiry or refund still owes calls to
    /// other functions and was last tried before `before`.
    pub async fn pending_undos(&self, before: i64, limit: i64) -> AppResult<Vec<String>> {
        self.ids(
            "SELECT id FROM orders WHERE undo_pending = 1 AND updated_at < $1 ORDER BY updated_at, id LIMIT $2",
            before,
            limit,
        )
        .await
    }

    async fn ids(&self, sql: &'static str, bound: i64, limit: i64) -> AppResult<Vec<String>> {
        let rows = sqlx::query(sql).bind(bound).bind(limit).fetch_all(self.pool().await?).await.map_err(sqlx_error)?;
        rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>().map_err(sqlx_error)
    }

    // ---- for the invariant checker -------------------------------------------------

    /// Up to `limit` orders with their lines, by id, after `after` (a page of all).
    pub async fn orders_after(&self, after: &str, limit: i64) -> AppResult<Vec<Order>> {
        let pool = self.pool().await?;
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(after).bind(limit).fetch_all(pool).await.map_err(sqlx_error)?;
        let mut orders = rows.iter().map(order_from_row).collect::<Result<Vec<_>, _>>().map_err(sqlx_error)?;
        if let (Some(first), Some(last)) = (orders.first(), orders.last()) {
            let sql = format!(
                "SELECT {LINE_COLUMNS} FROM order_lines WHERE order_id >= $1 AND order_id <= $2 \
                 ORDER BY order_id, position"
            );
            let lines = sqlx::query(AssertSqlSafe(sql))
                .bind(first.id.clone())
                .bind(last.id.clone())
                .fetch_all(pool)
                .await
                .map_err(sqlx_error)?;
            for row in &lines {
                let (order_id, line) = line_from_row(row).map_err(sqlx_error)?;
                if let Some(order) = orders.iter_mut().find(|o| o.id == order_id) {
                    order.lines.push(line);
                }
            }
        }
        Ok(orders)
    }

    /// Every claimed cart version: (customer, version, order id).
    pub async fn cart_claims(&self) -> AppResult<Vec<(String, String, String)>> {
        let rows = sqlx::query("SELECT customer_id, cart_version, order_id FROM cart_checkouts ORDER BY order_id")
            .fetch_all(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        rows.iter()
            .map(|r| Ok((r.try_get("customer_id")?, r.try_get("cart_version")?, r.try_get("order_id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(sqlx_error)
    }

    /// Checkouts not answered yet (in progress, or waiting for a retry or the sweep).
    pub async fn open_checkouts(&self) -> AppResult<Vec<CheckoutRow>> {
        let sql = format!("SELECT {CHECKOUT_COLUMNS} FROM checkouts WHERE phase <> 'done' ORDER BY created_at");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(self.pool().await?).await.map_err(sqlx_error)?;
        rows.iter().map(checkout_from_row).collect::<Result<_, _>>().map_err(sqlx_error)
    }
}

#[cfg(test)]
mod tests {
    use shared::testing::temp_sqlite_url;

    use super::*;

    fn order(id: &str) -> Order {
        Order {
            id: id.into(),
            customer_id: "cust_1".into(),
            customer_type: "registered".into(),
            status: OrderStatus::PendingPayment,
            currency: "USD".into(),
            subtotal: 1998,
            discount: 0,
            shipping_fee: 0,
            points_redeemed: 0,
            total: 1998,
            delivery_option: DeliveryOption::Pickup,
            shipping_address: None,
            lines: vec![OrderLine {
                item_type: "book".into(),
                item_id: "book_1".into(),
                name: "Dune".into(),
                quantity: 2,
                unit_price: 999,
                line_total: 1998,
            }],
            payment_id: None,
            payment_method: None,
            shipment_id: None,
            undo_pending: false,
            created_at: 100,
            updated_at: 100,
            expires_at: Some(1_900),
            closed_at: None,
            cart_version: Some("cart_1.1".into()),
        }
    }

    async fn claim(store: &Store, fingerprint: &str, order_id: &str, attempt: &str, now: i64) -> Claim {
        store.claim("cust_1", "key-1", fingerprint, order_id, attempt, now, 60).await.unwrap()
    }

    #[tokio::test]
    async fn a_claim_is_held_until_its_lease_runs_out_then_taken_over_with_its_progress() {
        let store = Store::new(&temp_sqlite_url("order_claims"), 2).unwrap();
        let Claim::Owned(first) = claim(&store, "f", "order_A", "attempt_1", 1_000).await else { panic!() };
        assert_eq!((first.phase, first.order_id.as_str()), (Phase::Started, "order_A"));
        assert!(matches!(claim(&store, "f", "order_B", "attempt_2", 1_010).await, Claim::Busy));
        assert!(matches!(claim(&store, "other", "order_B", "attempt_2", 1_010).await, Claim::KeyReused));
        assert_eq!(store.save_plan(&first, &order("order_A"), 1_001, 3).await.unwrap(), Planned::Saved);

        // The first attempt died; after its lease a retry continues the same order.
        let Claim::Owned(second) = claim(&store, "f", "order_C", "attempt_3", 1_061).await else { panic!() };
        assert_eq!((second.order_id.as_str(), second.phase), ("order_A", Phase::Reserving));
        assert_eq!(second.plan.as_ref().map(|p| p.id.as_str()), Some("order_A"));
        // The dead attempt, if it wakes up, can no longer move the checkout on.
        let failure = Failure { reserved: 0, detail: "x".into() };
        assert!(!store.start_releasing(&first, &failure, 1_062).await.unwrap());
        assert!(!store.place(&first, &order("order_A"), "{}", 1_062).await.unwrap());
        assert!(store.order("order_A").await.unwrap().is_none());

        assert!(store.place(&second, &order("order_A"), "{\"id\":\"order_A\"}", 1_062).await.unwrap());
        let placed = store.order("order_A").await.unwrap().unwrap();
        assert_eq!(placed, order("order_A"));
        match claim(&store, "f", "order_D", "attempt_4", 1_063).await {
            Claim::Replay { status, body } => assert_eq!((status, body.as_str()), (201, "{\"id\":\"order_A\"}")),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_dropped_claim_frees_the_key_and_a_released_lease_lets_a_retry_in_at_once() {
        let store = Store::new(&temp_sqlite_url("order_claim_drop"), 2).unwrap();
        let Claim::Owned(first) = claim(&store, "f", "order_A", "attempt_1", 1_000).await else { panic!() };
        store.drop_claim(&first).await.unwrap();
        let Claim::Owned(second) = claim(&store, "g", "order_B", "attempt_2", 1_001).await else { panic!() };
        assert_eq!(second.order_id, "order_B", "a dropped claim leaves nothing behind");
        assert_eq!(store.save_plan(&second, &order("order_B"), 1_002, 3).await.unwrap(), Planned::Saved);
        store.release_lease(&second).await.unwrap();
        let Claim::Owned(third) = claim(&store, "g", "order_C", "attempt_3", 1_003).await else { panic!() };
        assert_eq!((third.order_id.as_str(), third.phase), ("order_B", Phase::Reserving));
        // A claim with progress is never dropped.
        store.drop_claim(&third).await.unwrap();
        assert!(store.checkout("cust_1", "key-1").await.unwrap().is_some());

        let failure = Failure { reserved: 1, detail: "only 0 in stock".into() };
        assert!(store.start_releasing(&third, &failure, 1_004).await.unwrap());
        let row = store.checkout("cust_1", "key-1").await.unwrap().unwrap();
        assert_eq!((row.phase, row.failure), (Phase::Releasing, Some(failure)));
        assert!(store.finish_failed(&third, 409, "{\"status\":409}", 1_005).await.unwrap());
        assert!(matches!(claim(&store, "g", "order_D", "attempt_4", 1_006).await, Claim::Replay { status: 409, .. }));
        assert!(store.cart_claims().await.unwrap().is_empty(), "a refused checkout gives its cart version back");
    }

    #[tokio::test]
    async fn a_cart_version_is_claimed_once_and_unpaid_orders_are_capped() {
        let store = Store::new(&temp_sqlite_url("order_cart_claims"), 2).unwrap();
        let key_claim = |key: &'static str, order_id: &'static str| {
            let store = &store;
            async move {
                match store.claim("cust_1", key, "f", order_id, &format!("attempt_{key}"), 1_000, 60).await.unwrap() {
                    Claim::Owned(row) => *row,
                    other => panic!("{other:?}"),
                }
            }
        };
        let first = key_claim("k1", "order_A").await;
        let second = key_claim("k2", "order_B").await;
        assert_eq!(store.save_plan(&first, &order("order_A"), 1_001, 2).await.unwrap(), Planned::Saved);
        let taken = store.save_plan(&second, &order("order_B"), 1_001, 2).await.unwrap();
        assert_eq!(taken, Planned::CartTaken { order_id: "order_A".into(), placed: false });
        assert!(store.place(&first, &order("order_A"), "{}", 1_002).await.unwrap());
        let taken = store.save_plan(&second, &order("order_B"), 1_003, 2).await.unwrap();
        assert_eq!(taken, Planned::CartTaken { order_id: "order_A".into(), placed: true });

        // Another cart version: one order waits for payment, one checkout runs, and that is the cap.
        let other_cart = |id: &str, version: &str| Order { cart_version: Some(version.into()), ..order(id) };
        assert_eq!(
            store.save_plan(&second, &other_cart("order_B", "cart_1.2"), 1_003, 2).await.unwrap(),
            Planned::Saved
        );
        let third = key_claim("k3", "order_C").await;
        let refused = store.save_plan(&third, &other_cart("order_C", "cart_1.3"), 1_003, 2).await.unwrap();
        assert_eq!(refused, Planned::TooManyUnpaid(2));
        // Once the first order's time is up it no longer counts.
        assert_eq!(
            store.save_plan(&third, &other_cart("order_C", "cart_1.3"), 1_900, 2).await.unwrap(),
            Planned::Saved
        );
        assert_eq!(store.overdue(1_900, 10).await.unwrap(), ["order_A"]);
        assert!(store.overdue(1_899, 10).await.unwrap().is_empty());
        assert_eq!(store.cart_claims().await.unwrap().len(), 3);
    }
}
