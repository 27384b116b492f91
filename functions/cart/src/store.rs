//! The carts store: one set of SQL for PostgreSQL (schema `cart`) and SQLite,
//! with numbered `$N` placeholders both engines understand.
//!
//! Every change runs in a transaction that first touches the cart's row, so two
//! changes to one cart queue up (PostgreSQL locks the row, SQLite the database)
//! and each sees the other's lines before checking its limits.

use shared::error::{AppError, AppResult, FieldErrors};
use shared::ids::new_id;
use shared::sql::{Database, Migrations, now_secs};
use shared::store::{StoreUrl, sqlx_error};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::identity::{Owner, OwnerKind};

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
const MIGRATIONS: Migrations = Migrations { mysql: None, postgres: Some(&POSTGRES), sqlite: &SQLITE };

/// How big a cart may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_lines: usize,
    pub max_line_quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartRecord {
    pub id: String,
    pub owner: Owner,
    /// Counts every change to the cart.
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Oldest first.
    pub lines: Vec<LineRecord>,
}

impl CartRecord {
    /// Names these exact contents: it changes with every change to the cart, and
    /// a cart made after this one was deleted has another id, so it never repeats.
    pub fn version(&self) -> String {
        format!("{}.{}", self.id, self.revision)
    }
}

/// An ordered line, as the order service reports it once a checkout is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ordered {
    pub item_id: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRecord {
    pub item_type: String,
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
    pub snapshot_price: i64,
    pub currency: String,
    pub snapshot_at: i64,
    pub added_at: i64,
    pub updated_at: i64,
}

/// An item as it is when it goes into a cart.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub item_type: String,
    pub item_id: String,
    pub name: String,
    pub price: i64,
    pub currency: String,
    /// Units the item service has; the line's whole quantity must fit.
    pub stock: i64,
}

const LINE_COLUMNS: &str =
    "item_type, item_id, name, quantity, snapshot_price, currency, snapshot_at, added_at, updated_at";

fn line(row: &AnyRow) -> Result<LineRecord, sqlx::Error> {
    Ok(LineRecord {
        item_type: row.try_get("item_type")?,
        item_id: row.try_get("item_id")?,
        name: row.try_get("name")?,
        quantity: row.try_get("quantity")?,
        snapshot_price: row.try_get("snapshot_price")?,
        currency: row.try_get("currency")?,
        snapshot_at: row.try_get("snapshot_at")?,
        added_at: row.try_get("added_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn quantity_error(message: String) -> AppError {
    let mut errors = FieldErrors::new();
    errors.add("quantity", message);
    AppError::Validation(errors)
}

fn stock_error(item_id: &str, stock: i64) -> AppError {
    if stock <= 0 {
        AppError::Conflict(format!("item `{item_id}` is out of stock"))
    } else {
        AppError::Conflict(format!("only {stock} of item `{item_id}` in stock"))
    }
}

pub struct Store {
    db: Database,
}

impl Store {
    pub fn new(url: &StoreUrl, max_connections: u32) -> AppResult<Self> {
        Ok(Self { db: Database::connect_lazy_in_schema(url, max_connections, &MIGRATIONS, "cart")? })
    }

    async fn begin(&self) -> AppResult<Transaction<'static, Any>> {
        self.db.begin().await
    }

    /// The owner's cart with its lines, if it has one.
    pub async fn cart(&self, owner: &Owner) -> AppResult<Option<CartRecord>> {
        let mut tx = self.begin().await?;
        let cart = read_cart(&mut tx, owner).await?;
        tx.commit().await.map_err(sqlx_error)?;
        Ok(cart)
    }

    /// Up to `limit` carts with their lines, by id, after `after` (a page of
    /// all, for audits).
    pub async fn carts_after(&self, after: &str, limit: i64) -> AppResult<Vec<CartRecord>> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query("SELECT owner_kind, owner_id FROM carts WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        let mut carts = Vec::with_capacity(rows.len());
        for row in &rows {
            let kind: String = row.try_get("owner_kind").map_err(sqlx_error)?;
            let kind =
                OwnerKind::parse(&kind).ok_or_else(|| AppError::internal(format!("unknown owner kind `{kind}`")))?;
            let owner = Owner { kind, id: row.try_get("owner_id").map_err(sqlx_error)? };
            carts.extend(read_cart(&mut tx, &owner).await?);
        }
        tx.commit().await.map_err(sqlx_error)?;
        Ok(carts)
    }

    /// The line of `item_id` in the owner's cart, if it is there.
    pub async fn line(&self, owner: &Owner, item_id: &str) -> AppResult<Option<LineRecord>> {
        Ok(self.cart(owner).await?.and_then(|cart| cart.lines.into_iter().find(|l| l.item_id == item_id)))
    }

    /// Adds `quantity` of an item (to what is there already), taking a fresh
    /// price snapshot. The whole line must fit the stock and the limits.
    pub async fn add(&self, owner: &Owner, item: &Snapshot, quantity: i64, limits: Limits) -> AppResult<()> {
        let now = now_secs();
        let mut tx = self.db.begin_write().await?;
        let cart_id = lock_cart(&mut tx, owner, true, now).await?.ok_or_else(|| AppError::internal("cart not made"))?;
        let lines = lines_of(&mut tx, &cart_id).await?;
        let existing = lines.iter().find(|l| l.item_id == item.item_id);
        let total = existing.map_or(0, |l| l.quantity).checked_add(quantity).unwrap_or(i64::MAX);
        if total > limits.max_line_quantity {
            let have = existing.map_or(String::new(), |l| format!(" (your cart has {} already)", l.quantity));
            return Err(quantity_error(format!("a line holds at most {}{have}", limits.max_line_quantity)));
        }
        if total > item.stock {
            return Err(stock_error(&item.item_id, item.stock));
        }
        if let Some(other) = lines.iter().find(|l| l.item_id != item.item_id && l.currency != item.currency) {
            return Err(AppError::Conflict(format!(
                "this cart holds prices in {}; item `{}` is priced in {}",
                other.currency, item.item_id, item.currency
            )));
        }
        if existing.is_some() {
            sqlx::query(
                "UPDATE cart_lines SET quantity = $1, snapshot_price = $2, currency = $3, name = $4, item_type = $5, \
                 snapshot_at = $6, updated_at = $7 WHERE cart_id = $8 AND item_id = $9",
            )
            .bind(total)
            .bind(item.price)
            .bind(&item.currency)
            .bind(&item.name)
            .bind(&item.item_type)
            .bind(now)
            .bind(now)
            .bind(&cart_id)
            .bind(&item.item_id)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        } else {
            if lines.len() >= limits.max_lines {
                return Err(AppError::Conflict(format!(
                    "a cart holds at most {} different items; remove one first",
                    limits.max_lines
                )));
            }
            let fresh = LineRecord {
                item_type: item.item_type.clone(),
                item_id: item.item_id.clone(),
                name: item.name.clone(),
                quantity: total,
                snapshot_price: item.price,
                currency: item.currency.clone(),
                snapshot_at: now,
                added_at: now,
                updated_at: now,
            };
            insert_line(&mut tx, &cart_id, &fresh).await?;
        }
        tx.commit().await.map_err(sqlx_error)
    }

    /// Sets a line's quantity, keeping its price snapshot. 404 when the line is not there.
    pub async fn set_quantity(
        &self,
        owner: &Owner,
        item_id: &str,
        quantity: i64,
        stock: i64,
        limits: Limits,
    ) -> AppResult<()> {
        if quantity > limits.max_line_quantity {
            return Err(quantity_error(format!("a line holds at most {}", limits.max_line_quantity)));
        }
        if quantity > stock {
            return Err(stock_error(item_id, stock));
        }
        let now = now_secs();
        let mut tx = self.db.begin_write().await?;
        let not_in_cart = || AppError::NotFound(format!("item {} is not in your cart", shared::ids::mention(item_id)));
        let cart_id = lock_cart(&mut tx, owner, false, now).await?.ok_or_else(not_in_cart)?;
        let done =
            sqlx::query("UPDATE cart_lines SET quantity = $1, updated_at = $2 WHERE cart_id = $3 AND item_id = $4")
                .bind(quantity)
                .bind(now)
                .bind(&cart_id)
                .bind(item_id)
                .execute(&mut *tx)
                .await
                .map_err(sqlx_error)?;
        if done.rows_affected() == 0 {
            return Err(not_in_cart());
        }
        tx.commit().await.map_err(sqlx_error)
    }

    /// Removes a line; false when it was not there.
    pub async fn remove(&self, owner: &Owner, item_id: &str) -> AppResult<bool> {
        let now = now_secs();
        let mut tx = self.db.begin_write().await?;
        let Some(cart_id) = lock_cart(&mut tx, owner, false, now).await? else { return Ok(false) };
        let done = sqlx::query("DELETE FROM cart_lines WHERE cart_id = $1 AND item_id = $2")
            .bind(&cart_id)
            .bind(item_id)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        tx.commit().await.map_err(sqlx_error)?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes the owner's cart and its lines; nothing to delete is fine.
    pub async fn clear(&self, owner: &Owner) -> AppResult<()> {
        let mut tx = self.db.begin_write().await?;
        delete_cart(&mut tx, owner).await?;
        tx.commit().await.map_err(sqlx_error)
    }

    /// The owner's account is closed: its cart goes, and every later write is
    /// refused. The cart row is locked first, so a write that passed its account
    /// check just before the closure either finishes before this deletes its
    /// lines or waits and then finds the owner closed. Closing again is fine.
    pub async fn close_owner(&self, owner: &Owner) -> AppResult<()> {
        let now = now_secs();
        let mut tx = self.db.begin_write().await?;
        lock_cart_row(&mut tx, owner, true, now).await?;
        sqlx::query(
            "INSERT INTO closed_owners (owner_kind, owner_id, closed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (owner_kind, owner_id) DO NOTHING",
        )
        .bind(owner.kind.as_str())
        .bind(&owner.id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(sqlx_error)?;
        delete_cart(&mut tx, owner).await?;
        tx.commit().await.map_err(sqlx_error)
    }

    /// A checkout made `version` of the owner's cart into an order of `ordered`:
    /// a cart still at that version is deleted; one changed since (the customer
    /// added something while the checkout ran) keeps what was not ordered.
    /// Nothing to do for a cart already gone.
    pub async fn checked_out(&self, owner: &Owner, version: &str, ordered: &[Ordered]) -> AppResult<()> {
        let now = now_secs();
        let mut tx = self.db.begin_write().await?;
        // Held without a new revision, so the version read next is the cart's.
        let lock =
            format!("SELECT id FROM carts WHERE owner_kind = $1 AND owner_id = $2{}", self.db.engine().for_update());
        let held = sqlx::query(sqlx::AssertSqlSafe(lock))
            .bind(owner.kind.as_str())
            .bind(&owner.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        if held.is_none() {
            return Ok(());
        }
        let Some(cart) = read_cart(&mut tx, owner).await? else { return Ok(()) };
        if cart.version() == version {
            delete_cart(&mut tx, owner).await?;
            return tx.commit().await.map_err(sqlx_error);
        }
        if ordered.is_empty() {
            return Ok(());
        }
        lock_cart(&mut tx, owner, false, now).await?;
        for line in ordered {
            let Some(kept) = cart.lines.iter().find(|l| l.item_id == line.item_id) else { continue };
            if kept.quantity <= line.quantity {
                sqlx::query("DELETE FROM cart_lines WHERE cart_id = $1 AND item_id = $2")
                    .bind(&cart.id)
                    .bind(&line.item_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(sqlx_error)?;
            } else {
                sqlx::query("UPDATE cart_lines SET quantity = $1, updated_at = $2 WHERE cart_id = $3 AND item_id = $4")
                    .bind(kept.quantity - line.quantity)
                    .bind(now)
                    .bind(&cart.id)
                    .bind(&line.item_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(sqlx_error)?;
            }
        }
        tx.commit().await.map_err(sqlx_error)
    }

    /// Moves a guest's lines into a customer's cart and deletes the guest's cart.
    /// Quantities add up to the line limit; of two snapshots of one item the newer
    /// stays. Lines beyond the customer's line limit are dropped (and logged)
    /// rather than failing a login. Without a guest cart nothing changes, so the
    /// customer router may retry. Returns how many guest lines were moved.
    pub async fn merge(&self, guest_id: &str, customer_id: &str, limits: Limits) -> AppResult<usize> {
        let now = now_secs();
        let guest = Owner::guest(guest_id);
        let customer = Owner::customer(customer_id);
        let mut tx = self.db.begin_write().await?;
        let Some(guest_cart) = lock_cart(&mut tx, &guest, false, now).await? else {
            return Ok(0);
        };
        let guest_lines = lines_of(&mut tx, &guest_cart).await?;
        let cart_id =
            lock_cart(&mut tx, &customer, true, now).await?.ok_or_else(|| AppError::internal("cart not made"))?;
        let mut lines = lines_of(&mut tx, &cart_id).await?;
        let mut moved = 0;
        for incoming in &guest_lines {
            if let Some(line) = lines.iter_mut().find(|l| l.item_id == incoming.item_id) {
                line.quantity = line.quantity.saturating_add(incoming.quantity).min(limits.max_line_quantity);
                if incoming.snapshot_at > line.snapshot_at {
                    line.item_type.clone_from(&incoming.item_type);
                    line.name.clone_from(&incoming.name);
                    line.snapshot_price = incoming.snapshot_price;
                    line.currency.clone_from(&incoming.currency);
                    line.snapshot_at = incoming.snapshot_at;
                }
                line.updated_at = now;
                sqlx::query(
                    "UPDATE cart_lines SET quantity = $1, snapshot_price = $2, currency = $3, name = $4, \
                     item_type = $5, snapshot_at = $6, updated_at = $7 WHERE cart_id = $8 AND item_id = $9",
                )
                .bind(line.quantity)
                .bind(line.snapshot_price)
                .bind(&line.currency)
                .bind(&line.name)
                .bind(&line.item_type)
                .bind(line.snapshot_at)
                .bind(line.updated_at)
                .bind(&cart_id)
                .bind(&line.item_id)
                .execute(&mut *tx)
                .await
                .map_err(sqlx_error)?;
            } else if lines.len() < limits.max_lines {
                let mut fresh = incoming.clone();
                fresh.quantity = fresh.quantity.min(limits.max_line_quantity);
                fresh.updated_at = now;
                insert_line(&mut tx, &cart_id, &fresh).await?;
                lines.push(fresh);
            } else {
                tracing::warn!(%guest_id, %customer_id, item_id = %incoming.item_id, "cart full: guest line not merged");
                continue;
            }
            moved += 1;
        }
        delete_cart(&mut tx, &guest).await?;
        tx.commit().await.map_err(sqlx_error)?;
        Ok(moved)
    }
}

/// The owner's cart id, its row touched so this transaction holds the cart
/// until it ends; with `create`, a missing cart is made first. An owner whose
/// account was closed is refused (401), after the lock: a closure that ran
/// while this waited is seen, and the refusal rolls back what was made here.
async fn lock_cart(tx: &mut Transaction<'_, Any>, owner: &Owner, create: bool, now: i64) -> AppResult<Option<String>> {
    let cart = lock_cart_row(tx, owner, create, now).await?;
    let closed = sqlx::query("SELECT closed_at FROM closed_owners WHERE owner_kind = $1 AND owner_id = $2")
        .bind(owner.kind.as_str())
        .bind(&owner.id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    if closed.is_some() {
        return Err(AppError::Unauthorized("this account is closed".into()));
    }
    Ok(cart)
}

async fn lock_cart_row(
    tx: &mut Transaction<'_, Any>,
    owner: &Owner,
    create: bool,
    now: i64,
) -> AppResult<Option<String>> {
    // Twice at most: a cart deleted while this waited for its row (a checkout
    // or a closure) is made again on the second round.
    for _ in 0..2 {
        if create {
            // ON CONFLICT, unlike a failed INSERT, leaves a PostgreSQL transaction usable.
            sqlx::query(
                "INSERT INTO carts (id, owner_kind, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (owner_kind, owner_id) DO NOTHING",
            )
            .bind(new_id("cart"))
            .bind(owner.kind.as_str())
            .bind(&owner.id)
            .bind(now)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(sqlx_error)?;
        }
        let touched = sqlx::query(
            "UPDATE carts SET updated_at = $1, revision = revision + 1 WHERE owner_kind = $2 AND owner_id = $3",
        )
        .bind(now)
        .bind(owner.kind.as_str())
        .bind(&owner.id)
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
        if touched.rows_affected() > 0 || !create {
            break;
        }
    }
    let row = sqlx::query("SELECT id FROM carts WHERE owner_kind = $1 AND owner_id = $2")
        .bind(owner.kind.as_str())
        .bind(&owner.id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    row.map(|r| r.try_get::<String, _>("id")).transpose().map_err(sqlx_error)
}

async fn read_cart(tx: &mut Transaction<'_, Any>, owner: &Owner) -> AppResult<Option<CartRecord>> {
    let row =
        sqlx::query("SELECT id, revision, created_at, updated_at FROM carts WHERE owner_kind = $1 AND owner_id = $2")
            .bind(owner.kind.as_str())
            .bind(&owner.id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(sqlx_error)?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get("id").map_err(sqlx_error)?;
    let lines = lines_of(tx, &id).await?;
    Ok(Some(CartRecord {
        id,
        owner: owner.clone(),
        revision: row.try_get("revision").map_err(sqlx_error)?,
        created_at: row.try_get("created_at").map_err(sqlx_error)?,
        updated_at: row.try_get("updated_at").map_err(sqlx_error)?,
        lines,
    }))
}

async fn lines_of(tx: &mut Transaction<'_, Any>, cart_id: &str) -> AppResult<Vec<LineRecord>> {
    let sql = format!("SELECT {LINE_COLUMNS} FROM cart_lines WHERE cart_id = $1 ORDER BY added_at, item_id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(cart_id).fetch_all(&mut **tx).await.map_err(sqlx_error)?;
    rows.iter().map(line).collect::<Result<_, _>>().map_err(sqlx_error)
}

async fn insert_line(tx: &mut Transaction<'_, Any>, cart_id: &str, line: &LineRecord) -> AppResult<()> {
    let sql =
        format!("INSERT INTO cart_lines (cart_id, {LINE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(cart_id)
        .bind(&line.item_type)
        .bind(&line.item_id)
        .bind(&line.name)
        .bind(line.quantity)
        .bind(line.snapshot_price)
        .bind(&line.currency)
        .bind(line.snapshot_at)
        .bind(line.added_at)
        .bind(line.updated_at)
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    Ok(())
}

/// Lines first: cascades are not relied on, since SQLite enforces foreign keys
/// only when the connection asks it to.
async fn delete_cart(tx: &mut Transaction<'_, Any>, owner: &Owner) -> AppResult<()> {
    let kind = owner.kind.as_str();
    sqlx::query(
        "DELETE FROM cart_lines WHERE cart_id IN (SELECT id FROM carts WHERE owner_kind = $1 AND owner_id = $2)",
    )
    .bind(kind)
    .bind(&owner.id)
    .execute(&mut **tx)
    .await
    .map_err(sqlx_error)?;
    sqlx::query("DELETE FROM carts WHERE owner_kind = $1 AND owner_id = $2")
        .bind(kind)
        .bind(&owner.id)
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    Ok(())
}

impl OwnerKind {
    /// The raw cart route takes the kind from its path.
    pub fn from_path(kind: &str) -> AppResult<Self> {
        OwnerKind::parse(kind).ok_or_else(|| AppError::NotFound(format!("there are no carts of `{kind}` owners")))
    }
}
