//! The order service: checkout from the caller's cart, totals with VIP benefits,
//! delivery options, and the order lifecycle (paid, shipped, delivered,
//! cancelled, refunded).
//!
//! The order owns no item, cart, points or payment data: a checkout reads the
//! cart and prices it with the items router, reserves stock item by item and
//! spends VIP points, each call under an idempotency key derived from the order
//! id, so a retried checkout repeats nothing. One cart version becomes at most
//! one order. An order left unpaid expires, and a sweep (scheduled when
//! deployed, a background task in the local server) expires it, finishes
//! cancellations a failed peer left half done and undoes abandoned checkouts.
//! `/internal/...` routes are for the paying and shipping functions and the
//! sweep's schedule; API Gateway never routes them.

mod checkout;
pub mod clock;
pub mod error;
mod identity;
mod lifecycle;
pub mod model;
pub mod openapi;
mod peers;
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

pub use clock::{Clock, ManualClock, SystemClock};
pub use identity::Customer;
pub use lifecycle::SweepReport;
pub use model::{DeliveryOption, OrderLine, OrderRecord, OrderStatus, ShippingAddress};
pub use openapi::openapi;
pub use routes::router;

use crate::store::Store;

/// The functions the order service calls, by their Lambda names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Functions {
    pub cart: String,
    pub items_router: String,
    pub vip_customer: String,
    pub shipping: String,
    pub paying: String,
    /// Asked whether the caller's account is live before a checkout or a cancellation.
    pub registered_customer: String,
}

impl Functions {
    pub fn from_env(env: &Env) -> Self {
        let name = |var: &str, default: &str| env.get(var).unwrap_or(default).to_string();
        Self {
            cart: name("CART_FUNCTION", "cart"),
            items_router: name("ITEMS_ROUTER_FUNCTION", "items-router"),
            vip_customer: name("VIP_CUSTOMER_FUNCTION", "vip-customer"),
            shipping: name("SHIPPING_FUNCTION", "shipping"),
            paying: name("PAYING_FUNCTION", "paying"),
            registered_customer: shared::accounts::registered_function(env),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreUrl,
    pub max_connections: u32,
    pub functions: Functions,
    /// How long one invoked function may take before it counts as failed.
    pub invoke_timeout: Duration,
    /// How long a checkout holds its idempotency key before a retry may take
    /// over (the attempt is presumed dead). Keep it above the function's timeout.
    pub checkout_lease: Duration,
    /// How long an order may wait for its payment before it expires (and how
    /// old an unfinished checkout gets before the sweep undoes it).
    pub unpaid_expiry: Duration,
    /// How many orders one customer may have waiting for payment at once.
    pub max_unpaid_orders: u32,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let timeout_ms: u64 = env.parse_or("INVOKE_TIMEOUT_MS", 3_000)?;
        if timeout_ms == 0 {
            return Err(ConfigError::Invalid { name: "INVOKE_TIMEOUT_MS".into(), why: "use at least 1".into() });
        }
        let lease_secs: u64 = env.parse_or("CHECKOUT_LEASE_SECS", 120)?;
        if !(5..=3_600).contains(&lease_secs) {
            return Err(ConfigError::Invalid { name: "CHECKOUT_LEASE_SECS".into(), why: "use 5 to 3600".into() });
        }
        let expiry_mins: u64 = env.parse_or("UNPAID_ORDER_EXPIRY_MINS", 30)?;
        if !(1..=10_080).contains(&expiry_mins) {
            return Err(ConfigError::Invalid {
                name: "UNPAID_ORDER_EXPIRY_MINS".into(),
                why: "use 1 to 10080 (a week)".into(),
            });
        }
        let max_unpaid_orders: u32 = env.parse_or("MAX_UNPAID_ORDERS", 3)?;
        if !(1..=100).contains(&max_unpaid_orders) {
            return Err(ConfigError::Invalid { name: "MAX_UNPAID_ORDERS".into(), why: "use 1 to 100".into() });
        }
        Ok(Self {
            store: StoreUrl::from_env(env, "ORDER_DATABASE_URL", "order")?,
            max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 2)?,
            functions: Functions::from_env(env),
            invoke_timeout: Duration::from_millis(timeout_ms),
            checkout_lease: Duration::from_secs(lease_secs),
            unpaid_expiry: Duration::from_secs(expiry_mins * 60),
            max_unpaid_orders,
        })
    }
}

#[derive(Clone)]
pub struct OrderState {
    pub store: Arc<Store>,
    pub invoker: Arc<dyn Invoker>,
    pub keys: Arc<TokenKeys>,
    pub functions: Arc<Functions>,
    pub accounts: Arc<AccountCheck>,
    pub invoke_timeout: Duration,
    pub checkout_lease: Duration,
    pub unpaid_expiry: Duration,
    pub max_unpaid_orders: u32,
    pub clock: Arc<dyn Clock>,
}

impl FromRef<OrderState> for Arc<TokenKeys> {
    fn from_ref(state: &OrderState) -> Self {
        state.keys.clone()
    }
}

impl FromRef<OrderState> for Arc<AccountCheck> {
    fn from_ref(state: &OrderState) -> Self {
        state.accounts.clone()
    }
}

impl OrderState {
    /// The state on the wall clock; nothing is connected until the first request.
    pub fn new(config: &Config, invoker: Arc<dyn Invoker>, keys: Arc<TokenKeys>) -> AppResult<Self> {
        Self::with_clock(config, invoker, keys, Arc::new(SystemClock))
    }

    pub fn with_clock(
        config: &Config,
        invoker: Arc<dyn Invoker>,
        keys: Arc<TokenKeys>,
        clock: Arc<dyn Clock>,
    ) -> AppResult<Self> {
        tracing::info!(store = %config.store.redacted(), "order store");
        let accounts =
            AccountCheck::new(invoker.clone(), config.functions.registered_customer.clone(), config.invoke_timeout);
        Ok(Self {
            store: Arc::new(Store::new(&config.store, config.max_connections)?),
            invoker,
            keys,
            functions: Arc::new(config.functions.clone()),
            accounts: Arc::new(accounts),
            invoke_timeout: config.invoke_timeout,
            checkout_lease: config.checkout_lease,
            unpaid_expiry: config.unpaid_expiry,
            max_unpaid_orders: config.max_unpaid_orders,
            clock,
        })
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn unpaid_expiry_secs(&self) -> i64 {
        i64::try_from(self.unpaid_expiry.as_secs()).unwrap_or(i64::MAX)
    }

    /// Runs the sweep once (what its schedule and the local server's background
    /// task do through `POST /internal/orders/sweep`).
    pub async fn sweep(&self) -> SweepReport {
        lifecycle::sweep(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_limits() {
        let config = Config::from_env(&Env::from_pairs([("LOCAL_DATA_DIR", "/tmp/d")])).unwrap();
        assert_eq!(config.store, StoreUrl::Sqlite("sqlite:///tmp/d/order.db".into()));
        assert_eq!(config.max_connections, 2);
        assert_eq!(
            config.functions,
            Functions {
                cart: "cart".into(),
                items_router: "items-router".into(),
                vip_customer: "vip-customer".into(),
                shipping: "shipping".into(),
                paying: "paying".into(),
                registered_customer: "registered-customer".into(),
            }
        );
        assert_eq!(config.invoke_timeout, Duration::from_millis(3_000));
        assert_eq!(config.checkout_lease, Duration::from_secs(120));
        assert_eq!((config.unpaid_expiry, config.max_unpaid_orders), (Duration::from_secs(1_800), 3));
        let named = Config::from_env(&Env::from_pairs([
            ("ORDER_DATABASE_URL", "postgres://postgres@db:5432/shop"),
            ("PAYING_FUNCTION", "shop-PayingFunction-X"),
            ("INVOKE_TIMEOUT_MS", "250"),
            ("UNPAID_ORDER_EXPIRY_MINS", "15"),
            ("MAX_UNPAID_ORDERS", "1"),
        ]))
        .unwrap();
        assert_eq!((named.unpaid_expiry, named.max_unpaid_orders), (Duration::from_secs(900), 1));
        assert_eq!(named.store, StoreUrl::Postgres("postgres://postgres@db:5432/shop".into()));
        assert_eq!(named.functions.paying, "shop-PayingFunction-X");
        assert_eq!(named.invoke_timeout, Duration::from_millis(250));
        for (name, value) in [
            ("INVOKE_TIMEOUT_MS", "0"),
            ("CHECKOUT_LEASE_SECS", "1"),
            ("DATABASE_MAX_CONNECTIONS", "x"),
            ("UNPAID_ORDER_EXPIRY_MINS", "0"),
            ("MAX_UNPAID_ORDERS", "0"),
        ] {
            assert!(Config::from_env(&Env::from_pairs([(name, value)])).is_err(), "{name}={value}");
        }
        let lambda = Env::from_pairs([("AWS_LAMBDA_FUNCTION_NAME", "order")]);
        assert!(Config::from_env(&lambda).is_err(), "a Lambda needs a database URL");
    }
}
