//! Loading seed accounts: verified, with profiles and addresses, added only where
//! their id and email are not taken yet (loading twice changes nothing).

use serde::Deserialize;
use shared::error::{AppError, AppResult};

use crate::domain::{AddressInput, Email, Preferences, hash_password};
use crate::store::{NewAccount, Store};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountFixture {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default = "customer_role")]
    pub role: String,
    /// `vip` for accounts that have been upgraded (their VIP record lives in the VIP service).
    #[serde(default)]
    pub customer_type: Option<String>,
    #[serde(default)]
    pub preferences: Preferences,
    #[serde(default)]
    pub addresses: Vec<AddressInput>,
}

fn customer_role() -> String {
    "customer".into()
}

pub fn parse(json: &str) -> AppResult<Vec<AccountFixture>> {
    serde_json::from_str(json).map_err(|e| AppError::internal(format!("account fixtures are not valid: {e}")))
}

/// Adds the missing accounts; `password_for` names each one's password (fixture
/// files hold none). Returns how many were added.
pub async fn load_accounts(
    store: &Store,
    accounts: &[AccountFixture],
    password_for: impl Fn(&AccountFixture) -> String,
) -> AppResult<u64> {
    let mut added = 0;
    for fixture in accounts {
        let email = Email::parse(&fixture.email)
            .map_err(|why| AppError::internal(format!("fixture {}: email {why}", fixture.id)))?;
        if store.account(&fixture.id).await?.is_some() || store.account_by_email(email.as_str()).await?.is_some() {
            continue;
        }
        let password = password_for(fixture);
        let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
        let new = NewAccount {
            id: fixture.id.clone(),
            email: email.as_str().to_string(),
            password_hash,
            role: fixture.role.clone(),
            name: fixture.name.clone(),
            phone: fixture.phone.clone(),
            preferences: serde_json::to_string(&fixture.preferences).map_err(AppError::internal)?,
            guest_id: None,
            email_verified: true,
        };
        store.create_account(new, &[], None).await?;
        if let Some(customer_type) = &fixture.customer_type {
            store.set_customer_type(&fixture.id, customer_type).await?;
        }
        for address in &fixture.addresses {
            let mut address = address.clone();
            address.normalize_and_validate()?;
            store.save_address(&fixture.id, &shared::ids::new_id("addr"), &address, true).await?;
        }
        added += 1;
    }
    Ok(added)
}
