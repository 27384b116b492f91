//! The shipments store: one set of SQL for PostgreSQL (schema `shipping`) and
//! SQLite, with numbered `$N` placeholders both engines understand.
//!
//! A shipment's `event_count` is its version: an event is stored only if the
//! count is still the one its transition was checked against, so two staff
//! members recording events at once can never both move from the same status.

use serde_json::{Map, Value};
use shared::error::{AppError, AppResult};
use shared::ids::new_id;
use shared::sql::{Database, Migrations, is_unique_violation};
use shared::store::{StoreUrl, sqlx_error};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::domain::{CustomerKind, DeliveryOption, NewEvent, Status, estimated_delivery, new_tracking_number};

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
const MIGRATIONS: Migrations = Migrations { mysql: None, postgres: Some(&POSTGRES), sqlite: &SQLITE };

/// Attempts at a fresh tracking number should one already exist (odds: 2^-80).
const TRACKING_ATTEMPTS: usize = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct ShipmentRecord {
    pub id: String,
    pub order_id: String,
    pub customer_id: String,
    pub customer_type: CustomerKind,
    pub total: i64,
    pub currency: String,
    pub carrier: String,
    pub method: DeliveryOption,
    pub tracking_number: String,
    pub status: Status,
    pub estimated_delivery: String,
    pub shipping_address: Option<Map<String, Value>>,
    pub event_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the order was cancelled or refunded, which stops the shipment.
    pub stopped_at: Option<i64>,
    /// Oldest first.
    pub events: Vec<EventRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub seq: i64,
    pub status: Status,
    pub location: Option<String>,
    pub note: Option<String>,
    pub idempotency_key: Option<String>,
    pub at: i64,
}

impl EventRecord {
    /// Whether a retry with this event's key asks for the same event.
    pub fn same_as(&self, event: &NewEvent) -> bool {
        self.status == event.status && self.location == event.location && self.note == event.note
    }
}

/// What the order service asks for, validated.
#[derive(Debug, Clone)]
pub struct NewShipment {
    pub order_id: String,
    pub customer_id: String,
    pub customer_type: CustomerKind,
    pub method: DeliveryOption,
    pub shipping_address: Option<Map<String, Value>>,
    pub total: i64,
    pub currency: String,
}

/// Which shipments a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `None` for staff: everyone's.
    pub customer_id: Option<String>,
    pub status: Option<Status>,
    pub order_id: Option<String>,
}

pub enum Appended {
    Stored(Box<ShipmentRecord>),
    /// Another event was stored since the shipment was read: nothing was written.
    Stale,
}

const SHIPMENT_COLUMNS: &str = "id, order_id, customer_id, customer_type, total, currency, carrier, method, \
     tracking_number, status, estimated_delivery, shipping_address, event_count, created_at, updated_at, stopped_at";
const EVENT_COLUMNS: &str = "shipment_id, seq, status, location, note, idempotency_key, at";

fn corrupt(what: &str, value: &str) -> AppError {
    AppError::internal(format!("the shipments store holds an unknown {what} `{value}`"))
}

fn shipment(row: &AnyRow) -> AppResult<ShipmentRecord> {
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(sqlx_error);
    let get_int = |name: &str| row.try_get::<i64, _>(name).map_err(sqlx_error);
    let customer_type = get_text("customer_type")?;
    let method = get_text("method")?;
    let status = get_text("status")?;
    let address: Option<String> = row.try_get("shipping_address").map_err(sqlx_error)?;
    let shipping_address = match address {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Some(map),
            _ => return Err(corrupt("address", "(not a JSON object)")),
        },
    };
    Ok(ShipmentRecord {
        id: get_text("id")?,
        order_id: get_text("order_id")?,
        customer_id: get_text("customer_id")?,
        customer_type: CustomerKind::parse(&customer_type).ok_or_else(|| corrupt("customer type", &customer_type))?,
        total: get_int("total")?,
        currency: get_text("currency")?,
        carrier: get_text("carrier")?,
        method: DeliveryOption::parse(&method).ok_or_else(|| corrupt("delivery option", &method))?,
        tracking_number: get_text("tracking_number")?,
        status: Status::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        estimated_delivery: get_text("estimated_delivery")?,
        shipping_address,
        event_count: get_int("event_count")?,
        created_at: get_int("created_at")?,
        updated_at: get_int("updated_at")?,
        stopped_at: row.try_get("stopped_at").map_err(sqlx_error)?,
        events: Vec::new(),
    })
}

fn event(row: &AnyRow) -> AppResult<(String, EventRecord)> {
    let status: String = row.try_get("status").map_err(sqlx_error)?;
    Ok((
        row.try_get("shipment_id").map_err(sqlx_error)?,
        EventRecord {
            seq: row.try_get("seq").map_err(sqlx_error)?,
            status: Status::parse(&status).ok_or_else(|| corrupt("status", &status))?,
            location: row.try_get("location").map_err(sqlx_error)?,
            note: row.try_get("note").map_err(sqlx_error)?,
            idempotency_key: row.try_get("idempotency_key").map_err(sqlx_error)?,
            at: row.try_get("at").map_err(sqlx_error)?,
        },
    ))
}

pub struct Store {
    db: Database,
}

impl Store {
    pub fn new(url: &StoreUrl, max_connections: u32) -> AppResult<Self> {
        Ok(Self { db: Database::connect_lazy_in_schema(url, max_connections, &MIGRATIONS, "shipping")? })
    }

    async fn pool(&self) -> AppResult<&AnyPool> {
        self.db.pool().await
    }

    async fn begin(&self) -> AppResult<Transaction<'static, Any>> {
        self.db.begin().await
    }

    /// The order's shipment, made now (`true`) or found from an earlier call
    /// (`false`): an order has one shipment however often the order service asks.
    pub async fn create(&self, new: &NewShipment, now: i64) -> AppResult<(bool, ShipmentRecord)> {
        for _ in 0..TRACKING_ATTEMPTS {
            match self.try_create(new, now).await {
                Ok(made) => {
                    let record = self
                        .by_order(&new.order_id)
                        .await?
                        .ok_or_else(|| AppError::internal("a shipment just stored cannot be read back"))?;
                    return Ok((made, record));
                }
                // Only the tracking number can clash: the order id's clash is DO NOTHING.
                Err(CreateError::Clash) => continue,
                Err(CreateError::App(e)) => return Err(e),
            }
        }
        Err(AppError::internal("no unused tracking number after several attempts"))
    }

    async fn try_create(&self, new: &NewShipment, now: i64) -> Result<bool, CreateError> {
        let id = new_id("shipment");
        let address = new.shipping_address.as_ref().map(|a| Value::Object(a.clone()).to_string());
        let mut tx = self.begin().await?;
        let sql = format!(
            "INSERT INTO shipments ({SHIPMENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (order_id) DO NOTHING"
        );
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&id)
            .bind(&new.order_id)
            .bind(&new.customer_id)
            .bind(new.customer_type.as_str())
            .bind(new.total)
            .bind(&new.currency)
            .bind(new.method.carrier())
            .bind(new.method.as_str())
            .bind(new_tracking_number(new.method))
            .bind(Status::LabelCreated.as_str())
            .bind(estimated_delivery(now, new.method.days()))
            .bind(address)
            .bind(1_i64)
            .bind(now)
            .bind(now)
            .bind(None::<i64>)
            .execute(&mut *tx)
            .await
            .map_err(|e| if is_unique_violation(&e) { CreateError::Clash } else { CreateError::App(sqlx_error(e)) })?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await.map_err(sqlx_error)?;
            return Ok(false);
        }
        let label = NewEvent { status: Status::LabelCreated, location: None, note: None, idempotency_key: None };
        insert_event(&mut tx, &id, 1, &label, now).await?;
        tx.commit().await.map_err(sqlx_error)?;
        Ok(true)
    }

    pub async fn get(&self, id: &str) -> AppResult<Option<ShipmentRecord>> {
        self.one("id", id).await
    }

    pub async fn by_order(&self, order_id: &str) -> AppResult<Option<ShipmentRecord>> {
        self.one("order_id", order_id).await
    }

    pub async fn by_tracking_number(&self, tracking_number: &str) -> AppResult<Option<ShipmentRecord>> {
        self.one("tracking_number", tracking_number).await
    }

    /// `column` is one of this file's constants, never input.
    async fn one(&self, column: &'static str, value: &str) -> AppResult<Option<ShipmentRecord>> {
        let pool = self.pool().await?;
        let sql = format!("SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE {column} = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(pool).await.map_err(sqlx_error)?;
        let Some(row) = row else { return Ok(None) };
        let mut records = vec![shipment(&row)?];
        self.attach_events(&mut records).await?;
        Ok(records.pop())
    }

    /// A page of shipments, newest first, and how many match in all.
    pub async fn list(&self, filter: &Filter, offset: u64, limit: u64) -> AppResult<(Vec<ShipmentRecord>, u64)> {
        let pool = self.pool().await?;
        let mut conditions = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        for (column, value) in [
            ("customer_id", filter.customer_id.clone()),
            ("status", filter.status.map(|s| s.as_str().to_string())),
            ("order_id", filter.order_id.clone()),
        ] {
            if let Some(value) = value {
                binds.push(value);
                conditions.push(format!("{column} = ${}", binds.len()));
            }
        }
        let filter_sql =
            if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };

        let count_sql = format!("SELECT COUNT(*) AS n FROM shipments{filter_sql}");
        let mut count = sqlx::query(sqlx::AssertSqlSafe(count_sql));
        for value in &binds {
            count = count.bind(value.clone());
        }
        let total: i64 = count.fetch_one(pool).await.map_err(sqlx_error)?.try_get("n").map_err(sqlx_error)?;

        let page_sql = format!(
            "SELECT {SHIPMENT_COLUMNS} FROM shipments{filter_sql} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            binds.len() + 1,
            binds.len() + 2
        );
        let mut page = sqlx::query(sqlx::AssertSqlSafe(page_sql));
        for value in &binds {
            page = page.bind(value.clone());
        }
        let rows = page
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await
            .map_err(sqlx_error)?;
        let mut records = rows.iter().map(shipment).collect::<AppResult<Vec<_>>>()?;
        self.attach_events(&mut records).await?;
        Ok((records, u64::try_from(total).unwrap_or(0)))
    }

    /// Every record's events in one query.
    async fn attach_events(&self, records: &mut [ShipmentRecord]) -> AppResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let pool = self.pool().await?;
        let placeholders: Vec<String> = (1..=records.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM shipment_events WHERE shipment_id IN ({}) ORDER BY seq",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for record in records.iter() {
            query = query.bind(record.id.clone());
        }
        for row in query.fetch_all(pool).await.map_err(sqlx_error)? {
            let (shipment_id, event) = event(&row)?;
            if let Some(record) = records.iter_mut().find(|r| r.id == shipment_id) {
                record.events.push(event);
            }
        }
        Ok(())
    }

    /// Stops the order's shipment; the shipment (stopped now or before), or
    /// `None` when the order has none.
    pub async fn stop(&self, order_id: &str, now: i64) -> AppResult<Option<ShipmentRecord>> {
        sqlx::query("UPDATE shipments SET stopped_at = $1, updated_at = $2 WHERE order_id = $3 AND stopped_at IS NULL")
            .bind(now)
            .bind(now)
            .bind(order_id)
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        self.by_order(order_id).await
    }

    /// Up to `limit` shipments with their events, by id, after `after` (a page of all).
    pub async fn shipments_after(&self, after: &str, limit: i64) -> AppResult<Vec<ShipmentRecord>> {
        let sql = format!("SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        let mut records = rows.iter().map(shipment).collect::<AppResult<Vec<_>>>()?;
        self.attach_events(&mut records).await?;
        Ok(records)
    }

    /// Stores `event` as the shipment's next one if no other event came since
    /// the shipment had `expected_count` events, and (unless it is a return) the
    /// shipment was not stopped meanwhile.
    pub async fn append(&self, id: &str, expected_count: i64, event: &NewEvent, now: i64) -> AppResult<Appended> {
        let mut tx = self.begin().await?;
        let moved = sqlx::query(
            "UPDATE shipments SET status = $1, event_count = event_count + 1, updated_at = $2 \
             WHERE id = $3 AND event_count = $4 AND (stopped_at IS NULL OR $5 = 1)",
        )
        .bind(event.status.as_str())
        .bind(now)
        .bind(id)
        .bind(expected_count)
        .bind(i64::from(event.status == Status::Returned))
        .execute(&mut *tx)
        .await
        .map_err(sqlx_error)?;
        if moved.rows_affected() == 0 {
            tx.rollback().await.map_err(sqlx_error)?;
            return Ok(Appended::Stale);
        }
        match insert_event(&mut tx, id, expected_count + 1, event, now).await {
            Ok(()) => {}
            // A same-key event can only have come with another version, which the
            // update above would have missed; treat a clash like a stale read anyway.
            Err(CreateError::Clash) => return Ok(Appended::Stale),
            Err(CreateError::App(e)) => return Err(e),
        }
        tx.commit().await.map_err(sqlx_error)?;
        let record =
            self.get(id).await?.ok_or_else(|| AppError::internal("a shipment just changed cannot be read back"))?;
        Ok(Appended::Stored(Box::new(record)))
    }
}

enum CreateError {
    Clash,
    App(AppError),
}

impl From<AppError> for CreateError {
    fn from(e: AppError) -> Self {
        CreateError::App(e)
    }
}

async fn insert_event(
    tx: &mut Transaction<'_, Any>,
    shipment_id: &str,
    seq: i64,
    event: &NewEvent,
    now: i64,
) -> Result<(), CreateError> {
    let sql = format!("INSERT INTO shipment_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shipment_id)
        .bind(seq)
        .bind(event.status.as_str())
        .bind(event.location.clone())
        .bind(event.note.clone())
        .bind(event.idempotency_key.clone())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(|e| if is_unique_violation(&e) { CreateError::Clash } else { CreateError::App(sqlx_error(e)) })?;
    Ok(())
}
