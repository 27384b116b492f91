//! The accounts store: one set of SQL for MySQL and SQLite (see `shared::sql`).

use serde::{Deserialize, Serialize};
use shared::error::{AppError, AppResult};
use shared::ids::new_id;
use shared::sql::{Database, Migrations, is_unique_violation, now_secs};
use shared::store::{StoreUrl, sqlx_error};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::domain::AddressInput;

static MYSQL: sqlx::migrate::Migrator = sqlx::migrate!("migrations/mysql");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
const MIGRATIONS: Migrations = Migrations { mysql: Some(&MYSQL), postgres: None, sqlite: &SQLITE };

/// The name the fixture accounts are recorded under in `fixture_loads`.
const FIXTURE_SET: &str = "accounts";

/// How many addresses one account may keep.
pub const MAX_ADDRESSES: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub customer_type: String,
    pub email_verified_at: Option<i64>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub preferences: String,
    pub guest_id: Option<String>,
    /// Moves on at each password change; tokens carry the version they were issued at.
    pub token_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

fn account(row: &AnyRow) -> Result<Account, sqlx::Error> {
    Ok(Account {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
        customer_type: row.try_get("customer_type")?,
        email_verified_at: row.try_get("email_verified_at")?,
        name: row.try_get("name")?,
        phone: row.try_get("phone")?,
        preferences: row.try_get("preferences")?,
        guest_id: row.try_get("guest_id")?,
        token_version: row.try_get("token_version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const ACCOUNT_COLUMNS: &str = "id, email, password_hash, role, customer_type, email_verified_at, name, phone, \
                               preferences, guest_id, token_version, created_at, updated_at";

/// What a new account starts with.
pub struct NewAccount {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub preferences: String,
    pub guest_id: Option<String>,
    pub email_verified: bool,
}

/// A shopping history entry (carried over from a guest session).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub kind: String,
    #[serde(default)]
    pub item_type: Option<String>,
    #[serde(default)]
    pub item_id: Option<String>,
    #[serde(default)]
    pub query: Option<String>,
    /// Unix seconds in storage; RFC 3339 in responses.
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Address {
    pub id: String,
    #[serde(flatten)]
    pub fields: AddressInput,
    pub created_at: String,
    pub updated_at: String,
}

/// What a refresh token turned out to be.
#[derive(Debug)]
pub enum Refreshed {
    /// Unused and unexpired: it is used now, and its successor stored.
    Rotated(Box<Account>),
    /// Used before: someone holds a copy. Every refresh token of the account is revoked.
    Reused,
    /// Unknown, expired, or revoked.
    Invalid,
}

/// A customer's personal data as other functions show it (the VIP views).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub token_version: i64,
}

/// Whose accounts the store holds: the live ones, and the closed ones it keeps
/// only the id and closing time of.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subjects {
    pub live: Vec<String>,
    /// With the time each was closed (Unix seconds).
    pub closed: Vec<(String, i64)>,
}

pub enum Created {
    New(Account),
    /// The same sign-up again (same guest session and email): nothing was added.
    Existing(Account),
    /// Another account has the email: nothing was written.
    Taken,
}

pub struct Store {
    db: Database,
}

/// The unique columns an account is looked up by.
enum Key {
    Id,
    Email,
    GuestId,
}

impl Store {
    pub fn new(url: &StoreUrl, max_connections: u32) -> AppResult<Self> {
        Ok(Self { db: Database::connect_lazy(url, max_connections, &MIGRATIONS)? })
    }

    async fn pool(&self) -> AppResult<&AnyPool> {
        self.db.pool().await
    }

    /// Whether the fixture accounts were loaded into this store once already.
    pub async fn fixtures_loaded(&self) -> AppResult<bool> {
        self.db.fixtures_loaded(FIXTURE_SET).await
    }

    pub async fn mark_fixtures_loaded(&self) -> AppResult<()> {
        self.db.mark_fixtures_loaded(FIXTURE_SET).await
    }

    pub async fn count_accounts(&self) -> AppResult<u64> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM accounts")
            .fetch_one(self.pool().await?)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(sqlx_error)?;
        Ok(count as u64)
    }

    pub async fn account(&self, id: &str) -> AppResult<Option<Account>> {
        self.account_where(Key::Id, id).await
    }

    pub async fn account_by_email(&self, email: &str) -> AppResult<Option<Account>> {
        self.account_where(Key::Email, email).await
    }

    async fn account_by_guest(&self, guest_id: &str) -> AppResult<Option<Account>> {
        self.account_where(Key::GuestId, guest_id).await
    }

    async fn account_where(&self, key: Key, value: &str) -> AppResult<Option<Account>> {
        let column = match key {
            Key::Id => "id",
            Key::Email => "email",
            Key::GuestId => "guest_id",
        };
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {column} = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        row.as_ref().map(account).transpose().map_err(sqlx_error)
    }

    /// Creates the account, its carried-over history and its verification token in
    /// one transaction. Signing up again from the same guest session with the same
    /// email finds the first account, so the customer router can retry safely.
    pub async fn create_account(
        &self,
        new: NewAccount,
        history: &[HistoryEntry],
        verification: Option<(&str, i64)>,
    ) -> AppResult<Created> {
        if let Some(guest_id) = &new.guest_id
            && let Some(existing) = self.account_by_guest(guest_id).await?
        {
            return if existing.email == new.email {
                Ok(Created::Existing(existing))
            } else {
                Err(AppError::Conflict("this guest session was already turned into another account".into()))
            };
        }
        let now = now_secs();
        let mut tx = self.db.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO accounts (id, email, password_hash, role, customer_type, email_verified_at, name, phone, \
             preferences, guest_id, created_at, updated_at) VALUES (?, ?, ?, ?, 'registered', ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&new.id)
        .bind(&new.email)
        .bind(&new.password_hash)
        .bind(&new.role)
        .bind(new.email_verified.then_some(now))
        .bind(&new.name)
        .bind(&new.phone)
        .bind(&new.preferences)
        .bind(&new.guest_id)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Ok(Created::Taken),
            Err(e) => return Err(sqlx_error(e)),
        }
        for entry in history {
            sqlx::query("INSERT INTO customer_history (id, account_id, kind, item_type, item_id, query, at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(new_id("hist"))
                .bind(&new.id)
                .bind(&entry.kind)
                .bind(&entry.item_type)
                .bind(&entry.item_id)
                .bind(&entry.query)
                .bind(entry.at)
                .execute(&mut *tx)
                .await
                .map_err(sqlx_error)?;
        }
        if let Some((token_hash, expires_at)) = verification {
            insert_verification(&mut tx, &new.id, token_hash, expires_at).await?;
        }
        tx.commit().await.map_err(sqlx_error)?;
        let created =
            self.account(&new.id).await?.ok_or_else(|| AppError::internal("account vanished after insert"))?;
        Ok(Created::New(created))
    }

    pub async fn add_verification(&self, account_id: &str, token_hash: &str, expires_at: i64) -> AppResult<()> {
        let mut tx = self.db.begin_write().await?;
        insert_verification(&mut tx, account_id, token_hash, expires_at).await?;
        tx.commit().await.map_err(sqlx_error)
    }

    /// Uses a verification token once: the account it belongs to, if the token was
    /// unused and unexpired.
    pub async fn use_verification(&self, token_hash: &str) -> AppResult<Option<String>> {
        let now = now_secs();
        let mut tx = self.db.begin_write().await?;
        if !use_once(&mut tx, "verification_tokens", token_hash, now).await? {
            return Ok(None);
        }
        let account_id: String = sqlx::query("SELECT account_id FROM verification_tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_one(&mut *tx)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(sqlx_error)?;
        sqlx::query(
            "UPDATE accounts SET email_verified_at = ?, updated_at = ? WHERE id = ? AND email_verified_at IS NULL",
        )
        .bind(now)
        .bind(now)
        .bind(&account_id)
        .execute(&mut *tx)
        .await
        .map_err(sqlx_error)?;
        tx.commit().await.map_err(sqlx_error)?;
        Ok(Some(account_id))
    }

    pub async fn update_profile(
        &self,
        id: &str,
        name: Option<&str>,
        phone: Option<&str>,
        preferences: &str,
    ) -> AppResult<()> {
        sqlx::query("UPDATE accounts SET name = ?, phone = ?, preferences = ?, updated_at = ? WHERE id = ?")
            .bind(name)
            .bind(phone)
            .bind(preferences)
            .bind(now_secs())
            .bind(id)
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(())
    }

    /// Sets a new password and moves the token version on, revoking every token
    /// and refresh token issued before, in one transaction.
    pub async fn set_password(&self, id: &str, password_hash: &str) -> AppResult<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "UPDATE accounts SET password_hash = ?, token_version = token_version + 1, updated_at = ? WHERE id = ?",
        )
        .bind(password_hash)
        .bind(now_secs())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(sqlx_error)?;
        sqlx::query("DELETE FROM refresh_tokens WHERE account_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        tx.commit().await.map_err(sqlx_error)
    }

    /// The account's token version; none when there is no such live account.
    pub async fn token_version(&self, id: &str) -> AppResult<Option<i64>> {
        let row = sqlx::query("SELECT token_version FROM accounts WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        row.map(|row| row.try_get(0)).transpose().map_err(sqlx_error)
    }

    /// Whether `id` names an account that was closed.
    pub async fn is_closed(&self, id: &str) -> AppResult<bool> {
        let row = sqlx::query("SELECT id FROM closed_accounts WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(row.is_some())
    }

    /// Stores a refresh token for the account, and forgets its expired ones.
    pub async fn add_refresh_token(&self, account_id: &str, token_hash: &str, expires_at: i64) -> AppResult<()> {
        let now = now_secs();
        let mut tx = self.db.begin_write().await?;
        insert_refresh_token(&mut tx, account_id, token_hash, expires_at, now).await?;
        sqlx::query("DELETE FROM refresh_tokens WHERE account_id = ? AND expires_at <= ?")
            .bind(account_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        tx.commit().await.map_err(sqlx_error)
    }

    /// Uses the refresh token `token_hash` once, storing `next_hash` as its
    /// successor. Two requests with one token cannot both rotate it: the update
    /// that marks it used succeeds once, and the other sees a used token.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        next_hash: &str,
        next_expires_at: i64,
        now: i64,
    ) -> AppResult<Refreshed> {
        let mut tx = self.db.begin_write().await?;
        let used = use_once(&mut tx, "refresh_tokens", token_hash, now).await?;
        let row = sqlx::query("SELECT account_id, used_at FROM refresh_tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        let Some(row) = row else { return Ok(Refreshed::Invalid) };
        let account_id: String = row.try_get("account_id").map_err(sqlx_error)?;
        if used {
            insert_refresh_token(&mut tx, &account_id, next_hash, next_expires_at, now).await?;
            tx.commit().await.map_err(sqlx_error)?;
            return match self.account(&account_id).await? {
                Some(account) => Ok(Refreshed::Rotated(Box::new(account))),
                None => Ok(Refreshed::Invalid),
            };
        }
        let used_at: Option<i64> = row.try_get("used_at").map_err(sqlx_error)?;
        if used_at.is_none() {
            return Ok(Refreshed::Invalid);
        }
        sqlx::query("DELETE FROM refresh_tokens WHERE account_id = ?")
            .bind(&account_id)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        tx.commit().await.map_err(sqlx_error)?;
        tracing::warn!(account = %account_id, "a used refresh token came back: every refresh token of the account revoked");
        Ok(Refreshed::Reused)
    }

    /// Email and name of each of `ids` that has a live account (at most 100 ids).
    pub async fn contacts(&self, ids: &[String]) -> AppResult<Vec<Contact>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!("SELECT id, email, name, token_version FROM accounts WHERE id IN ({marks})");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(self.pool().await?).await.map_err(sqlx_error)?;
        rows.iter()
            .map(|row| {
                Ok(Contact {
                    id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    name: row.try_get("name")?,
                    token_version: row.try_get("token_version")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(sqlx_error)
    }

    /// Every live account's id and every closed one's, for checks across the shop.
    pub async fn subjects(&self) -> AppResult<Subjects> {
        let pool = self.pool().await?;
        let live = sqlx::query("SELECT id FROM accounts ORDER BY id").fetch_all(pool).await.map_err(sqlx_error)?;
        let closed = sqlx::query("SELECT id, closed_at FROM closed_accounts ORDER BY id")
            .fetch_all(pool)
            .await
            .map_err(sqlx_error)?;
        Ok(Subjects {
            live: live.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>().map_err(sqlx_error)?,
            closed: closed
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, sqlx::Error>>()
                .map_err(sqlx_error)?,
        })
    }

    /// How many rows of personal data the store holds for `id`: the account, its
    /// addresses, history, verification and refresh tokens. 0 for a closed account.
    pub async fn personal_data_rows(&self, id: &str) -> AppResult<u64> {
        let pool = self.pool().await?;
        let mut rows = 0;
        for (table, column) in PERSONAL_DATA {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?");
            let count: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_one(pool)
                .await
                .and_then(|r| r.try_get(0))
                .map_err(sqlx_error)?;
            rows += count as u64;
        }
        Ok(rows)
    }

    /// Records the account's customer type; setting the type it has is a no-op, so
    /// the router's upgrade can be retried.
    pub async fn set_customer_type(&self, id: &str, customer_type: &str) -> AppResult<bool> {
        let done = sqlx::query("UPDATE accounts SET customer_type = ?, updated_at = ? WHERE id = ?")
            .bind(customer_type)
            .bind(now_secs())
            .bind(id)
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(done.rows_affected() > 0 || self.account(id).await?.is_some())
    }

    /// Closes the account: deletes it with its addresses, history and tokens, and
    /// records only that `id` was closed and when, in one transaction.
    pub async fn close_account(&self, id: &str) -> AppResult<()> {
        let mut tx = self.db.begin_write().await?;
        for (table, column) in PERSONAL_DATA.iter().rev() {
            let sql = format!("DELETE FROM {table} WHERE {column} = ?");
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).execute(&mut *tx).await.map_err(sqlx_error)?;
        }
        let record = format!("{} INTO closed_accounts (id, closed_at) VALUES (?, ?)", self.db.engine().insert_ignore());
        sqlx::query(sqlx::AssertSqlSafe(record))
            .bind(id)
            .bind(now_secs())
            .execute(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        tx.commit().await.map_err(sqlx_error)
    }

    pub async fn history(&self, account_id: &str, offset: u64, limit: u64) -> AppResult<(u64, Vec<HistoryEntry>)> {
        let pool = self.pool().await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM customer_history WHERE account_id = ?")
            .bind(account_id)
            .fetch_one(pool)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(sqlx_error)?;
        let rows = sqlx::query(
            "SELECT kind, item_type, item_id, query, at FROM customer_history WHERE account_id = ? \
             ORDER BY at DESC, id DESC LIMIT ? OFFSET ?",
        )
        .bind(account_id)
        .bind(limit as i64)
        .bind(offset as i64)
        .fetch_all(pool)
        .await
        .map_err(sqlx_error)?;
        let entries = rows
            .iter()
            .map(|r| {
                Ok(HistoryEntry {
                    kind: r.try_get("kind")?,
                    item_type: r.try_get("item_type")?,
                    item_id: r.try_get("item_id")?,
                    query: r.try_get("query")?,
                    at: r.try_get("at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(sqlx_error)?;
        Ok((count as u64, entries))
    }

    /// Adds an entry to the account's history, keeping the newest `keep`.
    pub async fn add_history(&self, account_id: &str, entry: &HistoryEntry, keep: u64) -> AppResult<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO customer_history (id, account_id, kind, item_type, item_id, query, at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new_id("hist"))
        .bind(account_id)
        .bind(&entry.kind)
        .bind(&entry.item_type)
        .bind(&entry.item_id)
        .bind(&entry.query)
        .bind(entry.at)
        .execute(&mut *tx)
        .await
        .map_err(sqlx_error)?;
        // The derived table lets MySQL read the table it deletes from.
        sqlx::query(
            "DELETE FROM customer_history WHERE account_id = ? AND id NOT IN (SELECT id FROM (SELECT id FROM \
             customer_history WHERE account_id = ? ORDER BY at DESC, id DESC LIMIT ?) AS newest)",
        )
        .bind(account_id)
        .bind(account_id)
        .bind(keep as i64)
        .execute(&mut *tx)
        .await
        .map_err(sqlx_error)?;
        tx.commit().await.map_err(sqlx_error)
    }

    pub async fn addresses(&self, account_id: &str) -> AppResult<Vec<Address>> {
        let sql = format!("SELECT {ADDRESS_COLUMNS} FROM addresses WHERE account_id = ? ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .fetch_all(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        rows.iter().map(address).collect::<Result<_, _>>().map_err(sqlx_error)
    }

    pub async fn address(&self, account_id: &str, id: &str) -> AppResult<Option<Address>> {
        let sql = format!("SELECT {ADDRESS_COLUMNS} FROM addresses WHERE account_id = ? AND id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(id)
            .fetch_optional(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        row.as_ref().map(address).transpose().map_err(sqlx_error)
    }

    /// Inserts or replaces an address; a new default takes the flag from the old one,
    /// and an account's first address is its default for both uses. An account
    /// keeps at most [`MAX_ADDRESSES`].
    pub async fn save_address(
        &self,
        account_id: &str,
        id: &str,
        fields: &AddressInput,
        is_new: bool,
    ) -> AppResult<Address> {
        let now = now_secs();
        let mut tx = self.db.begin_write().await?;
        // The account's row is the lock that orders its address writes, so the
        // count and the default flags below are not raced (SQLite's write lock
        // already orders them).
        let lock = format!("SELECT id FROM accounts WHERE id = ?{}", self.db.engine().for_update());
        sqlx::query(sqlx::AssertSqlSafe(lock)).bind(account_id).fetch_optional(&mut *tx).await.map_err(sqlx_error)?;
        let existing: i64 = sqlx::query("SELECT COUNT(*) FROM addresses WHERE account_id = ?")
            .bind(account_id)
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(sqlx_error)?;
        if is_new && existing >= MAX_ADDRESSES as i64 {
            return Err(AppError::Conflict(format!("an account keeps at most {MAX_ADDRESSES} addresses")));
        }
        let first = is_new && existing == 0;
        let (shipping, billing) = (fields.is_default_shipping || first, fields.is_default_billing || first);
        for (flag, column) in [(shipping, "is_default_shipping"), (billing, "is_default_billing")] {
            if flag {
                let sql = format!("UPDATE addresses SET {column} = 0 WHERE account_id = ? AND id <> ?");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(account_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(sqlx_error)?;
            }
        }
        let sql = if is_new {
            "INSERT INTO addresses (label, recipient, line1, line2, city, region, postal_code, country, phone, \
             is_default_shipping, is_default_billing, updated_at, account_id, id, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        } else {
            "UPDATE addresses SET label = ?, recipient = ?, line1 = ?, line2 = ?, city = ?, region = ?, postal_code = ?, \
             country = ?, phone = ?, is_default_shipping = ?, is_default_billing = ?, updated_at = ? \
             WHERE account_id = ? AND id = ?"
        };
        let mut query = sqlx::query(sql)
            .bind(&fields.label)
            .bind(&fields.recipient)
            .bind(&fields.line1)
            .bind(&fields.line2)
            .bind(&fields.city)
            .bind(&fields.region)
            .bind(&fields.postal_code)
            .bind(&fields.country)
            .bind(&fields.phone)
            .bind(shipping as i64)
            .bind(billing as i64)
            .bind(now)
            .bind(account_id)
            .bind(id);
        if is_new {
            query = query.bind(now);
        }
        query.execute(&mut *tx).await.map_err(sqlx_error)?;
        tx.commit().await.map_err(sqlx_error)?;
        self.address(account_id, id).await?.ok_or_else(|| AppError::internal("address vanished after save"))
    }

    pub async fn delete_address(&self, account_id: &str, id: &str) -> AppResult<bool> {
        let done = sqlx::query("DELETE FROM addresses WHERE account_id = ? AND id = ?")
            .bind(account_id)
            .bind(id)
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(done.rows_affected() > 0)
    }

    /// When the failed logins counted against `subject` since `since` happened, oldest first.
    pub async fn login_failures(&self, subject: &str, since: i64) -> AppResult<Vec<i64>> {
        let rows =
            sqlx::query("SELECT failed_at FROM login_failures WHERE subject = ? AND failed_at > ? ORDER BY failed_at")
                .bind(subject)
                .bind(since)
                .fetch_all(self.pool().await?)
                .await
                .map_err(sqlx_error)?;
        rows.iter().map(|row| row.try_get::<i64, _>(0)).collect::<Result<_, _>>().map_err(sqlx_error)
    }

    /// Counts one failed login against each subject, and forgets theirs from before `forget_before`.
    pub async fn add_login_failure(&self, subjects: &[&str], at: i64, forget_before: i64) -> AppResult<()> {
        let mut tx = self.db.begin_write().await?;
        for subject in subjects {
            sqlx::query("INSERT INTO login_failures (subject, failed_at) VALUES (?, ?)")
                .bind(*subject)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(sqlx_error)?;
            sqlx::query("DELETE FROM login_failures WHERE subject = ? AND failed_at < ?")
                .bind(*subject)
                .bind(forget_before)
                .execute(&mut *tx)
                .await
                .map_err(sqlx_error)?;
        }
        tx.commit().await.map_err(sqlx_error)
    }

    pub async fn clear_login_failures(&self, subject: &str) -> AppResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE subject = ?")
            .bind(subject)
            .execute(self.pool().await?)
            .await
            .map_err(sqlx_error)?;
        Ok(())
    }
}

/// Where an account's personal data lives, the account itself first.
const PERSONAL_DATA: [(&str, &str); 5] = [
    ("accounts", "id"),
    ("addresses", "account_id"),
    ("customer_history", "account_id"),
    ("verification_tokens", "account_id"),
    ("refresh_tokens", "account_id"),
];

/// Marks the unused, unexpired token `token_hash` of `table` (verification or
/// refresh tokens) used at `now`; false when there is no such token. One of two
/// concurrent uses wins.
async fn use_once(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &'static str,
    token_hash: &str,
    now: i64,
) -> AppResult<bool> {
    let sql = format!("UPDATE {table} SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?");
    let used = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(token_hash)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    Ok(used.rows_affected() == 1)
}

async fn insert_refresh_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account_id: &str,
    token_hash: &str,
    expires_at: i64,
    now: i64,
) -> AppResult<()> {
    sqlx::query("INSERT INTO refresh_tokens (token_hash, account_id, expires_at, created_at) VALUES (?, ?, ?, ?)")
        .bind(token_hash)
        .bind(account_id)
        .bind(expires_at)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    Ok(())
}

async fn insert_verification(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account_id: &str,
    token_hash: &str,
    expires_at: i64,
) -> AppResult<()> {
    sqlx::query("INSERT INTO verification_tokens (token_hash, account_id, expires_at, created_at) VALUES (?, ?, ?, ?)")
        .bind(token_hash)
        .bind(account_id)
        .bind(expires_at)
        .bind(now_secs())
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    Ok(())
}

const ADDRESS_COLUMNS: &str = "id, label, recipient, line1, line2, city, region, postal_code, country, phone, \
                               is_default_shipping, is_default_billing, created_at, updated_at";

fn address(row: &AnyRow) -> Result<Address, sqlx::Error> {
    Ok(Address {
        id: row.try_get("id")?,
        fields: AddressInput {
            label: row.try_get("label")?,
            recipient: row.try_get("recipient")?,
            line1: row.try_get("line1")?,
            line2: row.try_get("line2")?,
            city: row.try_get("city")?,
            region: row.try_get("region")?,
            postal_code: row.try_get("postal_code")?,
            country: row.try_get("country")?,
            phone: row.try_get("phone")?,
            is_default_shipping: row.try_get::<i64, _>("is_default_shipping")? != 0,
            is_default_billing: row.try_get::<i64, _>("is_default_billing")? != 0,
        },
        created_at: shared::sql::rfc3339(row.try_get("created_at")?),
        updated_at: shared::sql::rfc3339(row.try_get("updated_at")?),
    })
}
