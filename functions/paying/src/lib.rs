//! The paying service: payments for orders by card, wallet, cash on delivery or
//! VIP points, with idempotency keys, declines, captures and refunds. A payment
//! first checks that the payer's account is live (`shared::accounts`).
//!
//! The order service owns orders: a payment reads the order (amount, currency,
//! owner) and, once it has the money or the promise of it, tells the order it is
//! paid. Card and wallet calls go through the [`processor::Processor`] port (a
//! simulated processor here); points go through the VIP customer service.
//! `/internal/payments/...` are for the order and shipping services: capture when
//! an order ships or is delivered, and undo an order's payment when it is
//! cancelled. API Gateway never routes them.
//!
//! Retries converge because every effect outside this service is keyed:
//! processor calls by `{payment_id}:authorize` (`:capture`, `:void`,
//! `:refund:{refund_id}`), points by `{payment_id}:points` and
//! `{payment_id}:points-back`, the order by the payment id it records. A client
//! retrying its Idempotency-Key resumes the same payment where it stopped.

pub mod domain;
mod error;
mod flows;
pub mod openapi;
mod peers;
pub mod processor;
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

pub use domain::{CardSummary, Method, PaymentState, PaymentView, RefundView};
pub use error::PayError;
pub use openapi::openapi;
pub use processor::{Processor, RetryPolicy, SimulatedProcessor};
pub use routes::router;

use crate::store::Store;

#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreUrl,
    pub max_connections: u32,
    /// The function that answers `/internal/orders/...`.
    pub order_function: String,
    /// The function that answers points redeems and `/internal/vip/restore`.
    pub vip_function: String,
    /// The function that holds accounts, asked before every payment (`shared::accounts`).
    pub registered_function: String,
    /// How long one invoked function may take before it counts as failed.
    pub invoke_timeout: Duration,
    /// Capture card payments when they are authorized, instead of when the order ships.
    pub capture_immediately: bool,
    pub retry: RetryPolicy,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let timeout_ms: u64 = env.parse_or("INVOKE_TIMEOUT_MS", 3_000)?;
        if timeout_ms == 0 {
            return Err(ConfigError::Invalid { name: "INVOKE_TIMEOUT_MS".into(), why: "use at least 1".into() });
        }
        let capture_immediately = match env.get("CAPTURE_IMMEDIATELY").map(|v| v.trim().to_ascii_lowercase()) {
            None => false,
            Some(v) if ["true", "1", "yes"].contains(&v.as_str()) => true,
            Some(v) if ["false", "0", "no"].contains(&v.as_str()) => false,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "CAPTURE_IMMEDIATELY".into(),
                    why: "use true or false".into(),
                });
            }
        };
        Ok(Self {
            store: StoreUrl::from_env(env, "PAYING_DATABASE_URL", "paying")?,
            max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 2)?,
            order_function: env.get("ORDER_FUNCTION").unwrap_or("order").to_string(),
            vip_function: env.get("VIP_CUSTOMER_FUNCTION").unwrap_or("vip-customer").to_string(),
            registered_function: shared::accounts::registered_function(env),
            invoke_timeout: Duration::from_millis(timeout_ms),
            capture_immediately,
            retry: RetryPolicy::default(),
        })
    }
}

#[derive(Clone)]
pub struct PayingState {
    pub store: Arc<Store>,
    pub invoker: Arc<dyn Invoker>,
    pub keys: Arc<TokenKeys>,
    pub processor: Arc<dyn Processor>,
    pub order_function: Arc<str>,
    pub vip_function: Arc<str>,
    pub accounts: Arc<AccountCheck>,
    pub invoke_timeout: Duration,
    pub capture_immediately: bool,
    pub retry: RetryPolicy,
}

impl FromRef<PayingState> for Arc<TokenKeys> {
    fn from_ref(state: &PayingState) -> Self {
        state.keys.clone()
    }
}

impl FromRef<PayingState> for Arc<AccountCheck> {
    fn from_ref(state: &PayingState) -> Self {
        state.accounts.clone()
    }
}

impl PayingState {
    /// The state with the simulated processor; nothing is connected until the first request.
    pub fn new(config: &Config, invoker: Arc<dyn Invoker>, keys: Arc<TokenKeys>) -> AppResult<Self> {
        Self::with_processor(config, invoker, keys, Arc::new(SimulatedProcessor::new()))
    }

    pub fn with_processor(
        config: &Config,
        invoker: Arc<dyn Invoker>,
        keys: Arc<TokenKeys>,
        processor: Arc<dyn Processor>,
    ) -> AppResult<Self> {
        tracing::info!(store = %config.store.redacted(), "paying store");
        let accounts = AccountCheck::new(invoker.clone(), config.registered_function.clone(), config.invoke_timeout);
        Ok(Self {
            accounts: Arc::new(accounts),
            store: Arc::new(Store::new(&config.store, config.max_connections)?),
            invoker,
            keys,
            processor,
            order_function: config.order_function.as_str().into(),
            vip_function: config.vip_function.as_str().into(),
            invoke_timeout: config.invoke_timeout,
            capture_immediately: config.capture_immediately,
            retry: config.retry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_checks() {
        let config = Config::from_env(&Env::from_pairs([("LOCAL_DATA_DIR", "/tmp/d")])).unwrap();
        assert_eq!(config.store, StoreUrl::Sqlite("sqlite:///tmp/d/paying.db".into()));
        assert_eq!(config.max_connections, 2);
        assert_eq!((config.order_function.as_str(), config.vip_function.as_str()), ("order", "vip-customer"));
        assert_eq!(config.invoke_timeout, Duration::from_millis(3_000));
        assert!(!config.capture_immediately);
        assert_eq!(config.retry.attempts, 3);
        let on =
            Config::from_env(&Env::from_pairs([("CAPTURE_IMMEDIATELY", "TRUE"), ("ORDER_FUNCTION", "o")])).unwrap();
        assert!(on.capture_immediately);
        assert_eq!(on.order_function, "o");
        for (name, value) in
            [("CAPTURE_IMMEDIATELY", "maybe"), ("INVOKE_TIMEOUT_MS", "0"), ("PAYING_DATABASE_URL", "x")]
        {
            assert!(Config::from_env(&Env::from_pairs([(name, value)])).is_err(), "{name}={value}");
        }
        let lambda = Env::from_pairs([("AWS_LAMBDA_FUNCTION_NAME", "paying")]);
        assert!(Config::from_env(&lambda).is_err(), "a Lambda needs a database URL");
    }
}
