//! The cart service: one cart per owner (a guest session or a customer) holding
//! items of every type, each line with the price seen when it was added.
//!
//! Every write first checks that a customer's account is live
//! (`shared::accounts`): a closed account cannot fill a cart.
//!
//! The cart owns no item data: every add, change and read asks the items router
//! for the item, so a cart never sells what is gone, unpriced or out of stock,
//! and a reader sees when a price moved since the item went in. Guest tokens are
//! checked by the guest function, which alone holds their secrets.
//! `/internal/...` routes are for the customer router (merging a guest's cart at
//! sign-up and login) and the order service; API Gateway never routes them.

mod identity;
mod items;
pub mod openapi;
mod routes;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use shared::accounts::AccountCheck;
use shared::auth::TokenKeys;
use shared::config::{ConfigError, Env};
use shared::error::AppResult;
use shared::invoke::Invoker;
use shared::store::StoreUrl;

pub use identity::{Owner, OwnerKind};
pub use openapi::openapi;
pub use routes::{CartLineView, CartView, MergeRequest, RawCart, RawLine, Unavailable, router};
pub use store::Limits;

use crate::store::Store;

#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreUrl,
    pub max_connections: u32,
    /// The function that answers `GET /api/items/{id}/`.
    pub items_router_function: String,
    /// The function that answers `GET /internal/guest/session`.
    pub guest_function: String,
    /// The function that holds accounts, asked before every cart write (`shared::accounts`).
    pub registered_function: String,
    /// How long one invoked function may take before it counts as failed.
    pub invoke_timeout: Duration,
    pub limits: Limits,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let max_lines: usize = env.parse_or("MAX_CART_LINES", 50)?;
        if !(1..=1_000).contains(&max_lines) {
            return Err(ConfigError::Invalid { name: "MAX_CART_LINES".into(), why: "use 1 to 1000".into() });
        }
        let max_line_quantity: i64 = env.parse_or("MAX_LINE_QUANTITY", 99)?;
        if !(1..=100_000).contains(&max_line_quantity) {
            return Err(ConfigError::Invalid { name: "MAX_LINE_QUANTITY".into(), why: "use 1 to 100000".into() });
        }
        let timeout_ms: u64 = env.parse_or("INVOKE_TIMEOUT_MS", 3_000)?;
        if timeout_ms == 0 {
            return Err(ConfigError::Invalid { name: "INVOKE_TIMEOUT_MS".into(), why: "use at least 1".into() });
        }
        Ok(Self {
            store: StoreUrl::from_env(env, "CART_DATABASE_URL", "cart")?,
            max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 2)?,
            items_router_function: env.get("ITEMS_ROUTER_FUNCTION").unwrap_or("items-router").to_string(),
            guest_function: env.get("GUEST_CUSTOMER_FUNCTION").unwrap_or("guest-customer").to_string(),
            registered_function: shared::accounts::registered_function(env),
            invoke_timeout: Duration::from_millis(timeout_ms),
            limits: Limits { max_lines, max_line_quantity },
        })
    }
}

#[derive(Clone)]
pub struct CartState {
    pub store: Arc<Store>,
    pub invoker: Arc<dyn Invoker>,
    pub keys: Arc<TokenKeys>,
    pub items_router_function: Arc<str>,
    pub guest_function: Arc<str>,
    pub accounts: Arc<AccountCheck>,
    pub invoke_timeout: Duration,
    pub limits: Limits,
}

impl FromRef<CartState> for Arc<TokenKeys> {
    fn from_ref(state: &CartState) -> Self {
        state.keys.clone()
    }
}

impl FromRef<CartState> for Arc<AccountCheck> {
    fn from_ref(state: &CartState) -> Self {
        state.accounts.clone()
    }
}

impl CartState {
    /// The state; nothing is connected until the first request.
    pub fn new(config: &Config, invoker: Arc<dyn Invoker>, keys: Arc<TokenKeys>) -> AppResult<Self> {
        tracing::info!(store = %config.store.redacted(), "cart store");
        let accounts = AccountCheck::new(invoker.clone(), config.registered_function.clone(), config.invoke_timeout);
        Ok(Self {
            store: Arc::new(Store::new(&config.store, config.max_connections)?),
            accounts: Arc::new(accounts),
            invoker,
            keys,
            items_router_function: config.items_router_function.as_str().into(),
            guest_function: config.guest_function.as_str().into(),
            invoke_timeout: config.invoke_timeout,
            limits: config.limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_limits() {
        let config = Config::from_env(&Env::from_pairs([("LOCAL_DATA_DIR", "/tmp/d")])).unwrap();
        assert_eq!(config.store, StoreUrl::Sqlite("sqlite:///tmp/d/cart.db".into()));
        assert_eq!(config.max_connections, 2);
        assert_eq!(config.items_router_function, "items-router");
        assert_eq!(config.guest_function, "guest-customer");
        assert_eq!(config.invoke_timeout, Duration::from_millis(3_000));
        assert_eq!(config.limits, Limits { max_lines: 50, max_line_quantity: 99 });
        for (name, value) in [("MAX_CART_LINES", "0"), ("MAX_LINE_QUANTITY", "-1"), ("INVOKE_TIMEOUT_MS", "soon")] {
            assert!(Config::from_env(&Env::from_pairs([(name, value)])).is_err(), "{name}={value}");
        }
        let lambda = Env::from_pairs([("AWS_LAMBDA_FUNCTION_NAME", "cart")]);
        assert!(Config::from_env(&lambda).is_err(), "a Lambda needs a database URL");
    }
}
