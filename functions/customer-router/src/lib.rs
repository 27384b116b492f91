//! The customer router: `/api/customers` in front of the guest, registered and VIP
//! functions.
//!
//! The customer type comes from the verified token (no token: a guest), never
//! from the seed's `X-Customer-Type`/`X-User-ID` headers, which are accepted as
//! routing hints only when they agree with the token. The router also logs
//! customers in and runs the transitions guest → registered → VIP, each step of
//! which is idempotent so a failed transition can simply be retried, and
//! account closure. It signs short-lived access tokens at login and refresh, and
//! shows VIP records with the personal data of their accounts.

mod contacts;
mod forward;
pub use forward::FORWARDED_ROUTES;
pub mod openapi;
mod transitions;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{any, post};
use shared::accounts::AccountCheck;
use shared::auth::TokenKeys;
use shared::config::{ConfigError, Env};
use shared::http_app::{both_slashes, finish_documented};
use shared::invoke::Invoker;

#[derive(Debug, Clone)]
pub struct Functions {
    pub guest: String,
    pub registered: String,
    pub vip: String,
    /// Where a guest's cart moves when the guest signs up or logs in.
    pub cart: String,
    /// Asked whether an item a customer viewed exists, before it joins their history.
    pub items_router: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub functions: Functions,
    pub token_ttl_secs: i64,
    pub invoke_timeout: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        // Short, since outside the checks where money moves a token is only
        // refused when it expires; the refresh token keeps a customer logged in.
        let ttl: i64 = env.parse_or("TOKEN_TTL_SECS", 900)?;
        if !(60..=86_400).contains(&ttl) {
            return Err(ConfigError::Invalid { name: "TOKEN_TTL_SECS".into(), why: "use 60 to 86400 seconds".into() });
        }
        Ok(Self {
            functions: Functions {
                guest: env.get("GUEST_CUSTOMER_FUNCTION").unwrap_or("guest-customer").into(),
                registered: env.get("REGISTERED_CUSTOMER_FUNCTION").unwrap_or("registered-customer").into(),
                vip: env.get("VIP_CUSTOMER_FUNCTION").unwrap_or("vip-customer").into(),
                cart: env.get("CART_FUNCTION").unwrap_or("cart").into(),
                items_router: env.get("ITEMS_ROUTER_FUNCTION").unwrap_or("items-router").into(),
            },
            token_ttl_secs: ttl,
            invoke_timeout: Duration::from_millis(env.parse_or("INVOKE_TIMEOUT_MS", 5_000)?),
        })
    }
}

#[derive(Clone)]
pub struct CustomerRouterState {
    pub functions: Arc<Functions>,
    pub invoker: Arc<dyn Invoker>,
    /// Asked before a customer's change of their VIP record (spending points).
    pub accounts: Arc<AccountCheck>,
    pub keys: Arc<TokenKeys>,
    pub token_ttl_secs: i64,
    pub invoke_timeout: Duration,
}

impl FromRef<CustomerRouterState> for Arc<TokenKeys> {
    fn from_ref(state: &CustomerRouterState) -> Self {
        state.keys.clone()
    }
}

impl CustomerRouterState {
    pub fn new(config: &Config, invoker: Arc<dyn Invoker>, keys: Arc<TokenKeys>) -> Self {
        let accounts = AccountCheck::new(invoker.clone(), config.functions.registered.clone(), config.invoke_timeout);
        Self {
            functions: Arc::new(config.functions.clone()),
            accounts: Arc::new(accounts),
            invoker,
            keys,
            token_ttl_secs: config.token_ttl_secs,
            invoke_timeout: config.invoke_timeout,
        }
    }
}

pub fn router(state: CustomerRouterState) -> Router {
    let mut router = Router::new();
    for (path, handler) in [
        ("/api/customers/login", post(transitions::login)),
        ("/api/customers/signup", post(transitions::sign_up)),
        ("/api/customers/upgrade", post(transitions::upgrade)),
        ("/api/customers/token/refresh", post(transitions::refresh)),
    ] {
        for path in both_slashes(path) {
            router = router.route(&path, handler.clone());
        }
    }
    for path in both_slashes("/api/customers") {
        router = router.route(&path, any(forward::by_customer_type));
    }
    router = router.route("/api/customers/{*rest}", any(forward::by_customer_type));
    finish_documented(router.with_state(state), &openapi::openapi())
}
