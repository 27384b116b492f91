//! The VIP customer service: tiers by lifetime points (Bronze, Silver, Gold,
//! Platinum), the benefits catalog, and loyalty points kept as a ledger.
//!
//! Data lives in MySQL when deployed and in an embedded SQLite file locally,
//! through one set of queries (`store`). Tier thresholds and benefits are data,
//! seeded by [`load_tiers`]; the rules that move members between tiers are in
//! `tiers` and `domain`. Records hold no personal data: a member's email and
//! name are their account's, which the customer router shows with the record.

mod docs;
pub mod domain;
mod fixtures;
mod routes;
pub mod store;
pub mod tiers;

use std::sync::Arc;

use shared::auth::TokenKeys;
use shared::config::{ConfigError, Env};
use shared::error::AppResult;
use shared::store::StoreUrl;

pub use docs::openapi;
pub use fixtures::{load_customers, load_tiers};
pub use routes::{PointsResult, PointsSummary, TierList, VipCaller, router};
pub use store::{Applied, Subjects, VipStore};

#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreUrl,
    pub max_connections: u32,
    /// Whether a member may drop a tier in the same calendar year they reached it
    /// (after a refund). Off by default: a tier, once reached, lasts the year.
    pub downgrade_mid_year: bool,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            store: StoreUrl::from_env(env, "VIP_CUSTOMER_DATABASE_URL", "vip-customer")?,
            max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 2)?,
            downgrade_mid_year: env.parse_or("VIP_DOWNGRADE_MID_YEAR", false)?,
        })
    }
}

#[derive(Clone)]
pub struct VipState {
    pub store: Arc<VipStore>,
    pub keys: Arc<TokenKeys>,
}

impl VipState {
    /// Nothing is connected until the first request.
    pub fn new(config: &Config, keys: Arc<TokenKeys>) -> AppResult<Self> {
        tracing::info!(store = %config.store.redacted(), "vip-customer store");
        let store = VipStore::connect_lazy(&config.store, config.max_connections, config.downgrade_mid_year)?;
        Ok(Self { store: Arc::new(store), keys })
    }
}
