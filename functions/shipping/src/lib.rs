//! The shipping service: one shipment per paid order, with a carrier, a
//! tracking number, an estimated delivery date and a history of status events.
//!
//! The order service asks for the shipment when the order is paid
//! (`POST /internal/shipments`, idempotent per order). Staff then record what
//! the carrier reports; the events that matter downstream (first `in_transit`,
//! `delivered`) first capture the payment, move the order on and credit VIP
//! points, each through an idempotent call, and only then is the event stored:
//! a failed peer leaves nothing recorded and the same request, sent again,
//! converges. Anyone holding a tracking number may follow the parcel, without
//! seeing who it is for or where it goes.

mod domain;
pub mod openapi;
mod peers;
mod routes;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use shared::auth::TokenKeys;
use shared::config::{ConfigError, Env};
use shared::error::AppResult;
use shared::invoke::Invoker;
use shared::store::StoreUrl;

pub use domain::{CreateShipment, CustomerKind, DeliveryOption, EventInput, Status};
pub use openapi::openapi;
pub use routes::{Shipment, ShipmentEvent, Tracking, router};

use crate::store::Store;

#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreUrl,
    pub max_connections: u32,
    /// The function that answers `POST /internal/orders/{id}/status`.
    pub order_function: String,
    /// The function that answers `POST /internal/payments/capture`.
    pub paying_function: String,
    /// The function that answers `POST /internal/vip/earn`.
    pub vip_customer_function: String,
    /// How long one invoked function may take before it counts as failed.
    pub invoke_timeout: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let timeout_ms: u64 = env.parse_or("INVOKE_TIMEOUT_MS", 3_000)?;
        if timeout_ms == 0 {
            return Err(ConfigError::Invalid { name: "INVOKE_TIMEOUT_MS".into(), why: "use at least 1".into() });
        }
        let max_connections: u32 = env.parse_or("DATABASE_MAX_CONNECTIONS", 2)?;
        if !(1..=50).contains(&max_connections) {
            return Err(ConfigError::Invalid { name: "DATABASE_MAX_CONNECTIONS".into(), why: "use 1 to 50".into() });
        }
        Ok(Self {
            store: StoreUrl::from_env(env, "SHIPPING_DATABASE_URL", "shipping")?,
            max_connections,
            order_function: env.get("ORDER_FUNCTION").unwrap_or("order").to_string(),
            paying_function: env.get("PAYING_FUNCTION").unwrap_or("paying").to_string(),
            vip_customer_function: env.get("VIP_CUSTOMER_FUNCTION").unwrap_or("vip-customer").to_string(),
            invoke_timeout: Duration::from_millis(timeout_ms),
        })
    }
}

#[derive(Clone)]
pub struct ShippingState {
    pub store: Arc<Store>,
    pub invoker: Arc<dyn Invoker>,
    pub keys: Arc<TokenKeys>,
    pub order_function: Arc<str>,
    pub paying_function: Arc<str>,
    pub vip_customer_function: Arc<str>,
    pub invoke_timeout: Duration,
}

impl FromRef<ShippingState> for Arc<TokenKeys> {
    fn from_ref(state: &ShippingState) -> Self {
        state.keys.clone()
    }
}

impl ShippingState {
    /// The state; nothing is connected until the first request.
    pub fn new(config: &Config, invoker: Arc<dyn Invoker>, keys: Arc<TokenKeys>) -> AppResult<Self> {
        tracing::info!(store = %config.store.redacted(), "shipping store");
        Ok(Self {
            store: Arc::new(Store::new(&config.store, config.max_connections)?),
            invoker,
            keys,
            order_function: config.order_function.as_str().into(),
            paying_function: config.paying_function.as_str().into(),
            vip_customer_function: config.vip_customer_function.as_str().into(),
            invoke_timeout: config.invoke_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_limits() {
        let config = Config::from_env(&Env::from_pairs([("LOCAL_DATA_DIR", "/tmp/d")])).unwrap();
        assert_eq!(config.store, StoreUrl::Sqlite("sqlite:///tmp/d/shipping.db".into()));
        assert_eq!(config.max_connections, 2);
        assert_eq!(
            (config.order_function.as_str(), config.paying_function.as_str(), config.vip_customer_function.as_str()),
            ("order", "paying", "vip-customer")
        );
        assert_eq!(config.invoke_timeout, Duration::from_millis(3_000));
        let named = Env::from_pairs([
            ("SHIPPING_DATABASE_URL", "postgres://postgres@db/shop"),
            ("ORDER_FUNCTION", "shop-order"),
            ("PAYING_FUNCTION", "shop-paying"),
            ("VIP_CUSTOMER_FUNCTION", "shop-vip"),
            ("INVOKE_TIMEOUT_MS", "250"),
        ]);
        let config = Config::from_env(&named).unwrap();
        assert_eq!(config.store, StoreUrl::Postgres("postgres://postgres@db/shop".into()));
        assert_eq!(
            (config.order_function.as_str(), config.paying_function.as_str(), config.vip_customer_function.as_str()),
            ("shop-order", "shop-paying", "shop-vip")
        );
        assert_eq!(config.invoke_timeout, Duration::from_millis(250));
        for (name, value) in
            [("INVOKE_TIMEOUT_MS", "0"), ("INVOKE_TIMEOUT_MS", "soon"), ("DATABASE_MAX_CONNECTIONS", "0")]
        {
            assert!(Config::from_env(&Env::from_pairs([(name, value)])).is_err(), "{name}={value}");
        }
        let lambda = Env::from_pairs([("AWS_LAMBDA_FUNCTION_NAME", "shipping")]);
        assert!(Config::from_env(&lambda).is_err(), "a Lambda needs a database URL");
    }
}
