//! The bench's customers are accounts: cart writes, checkouts and payments
//! refuse a token whose subject has no live account. Each is added to the
//! registered store the functions use, with one password hash made once, so
//! adding one is a single insert (argon2 per account would cost more than the
//! requests it prepares).

use std::sync::Arc;

use registered_customer::store::{NewAccount, Store};

use crate::Error;

const PASSWORD: &str = "bench-password-1";

#[derive(Clone)]
pub struct Accounts {
    store: Arc<Store>,
    password_hash: String,
}

impl Accounts {
    pub fn new(store: Arc<Store>) -> Result<Self, Error> {
        Ok(Self { store, password_hash: registered_customer::domain::hash_password(PASSWORD)? })
    }

    /// The store of the SQLite data directory a local server (or the bench's
    /// functions) use.
    pub fn in_data_dir(dir: &std::path::Path) -> Result<Self, Error> {
        let url = shared::store::StoreUrl::Sqlite(format!("sqlite://{}/registered-customer.db", dir.display()));
        Self::new(Arc::new(Store::new(&url, 2)?))
    }

    /// Makes sure `id` has an account (fixture accounts have theirs already).
    pub async fn ensure(&self, id: &str) -> Result<(), Error> {
        if self.store.account(id).await?.is_some() {
            return Ok(());
        }
        let account = NewAccount {
            id: id.to_string(),
            email: format!("{}@bench.example.com", id.to_ascii_lowercase()),
            password_hash: self.password_hash.clone(),
            role: "customer".into(),
            name: None,
            phone: None,
            preferences: "{}".into(),
            guest_id: None,
            email_verified: true,
        };
        self.store.create_account(account, &[], None).await?;
        Ok(())
    }
}
