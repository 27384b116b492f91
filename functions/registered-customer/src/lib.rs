//! The registered customer service: accounts with argon2id passwords, email
//! verification through a mailer port, profiles and preferences, addresses,
//! password changes (which revoke every token issued before) and account closure
//! (which keeps only the closed id), refresh tokens for the router's logins, and
//! the token version other functions check where money moves.
//!
//! Customers reach it only through the customer router, which forwards their
//! `/api/customers/...` requests unchanged; the function checks their token
//! itself. `/internal/...` routes are for the router's sign-up, login and
//! upgrade steps and are never routed by API Gateway.

pub mod domain;
pub mod fixtures;
pub mod login_limits;
pub mod mailer;
pub mod openapi;
pub mod routes;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::FromRef;
use shared::auth::TokenKeys;
use shared::config::{ConfigError, Env};
use shared::error::AppResult;
use shared::store::StoreUrl;

pub use routes::router;

use crate::login_limits::LoginLimits;
use crate::mailer::{FileMailer, Mailer};
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreUrl,
    pub max_connections: u32,
    /// Where the file mailer writes messages.
    pub mail_dir: PathBuf,
    pub verification_ttl_secs: i64,
    /// Base of the links in mails, e.g. `https://shop.example.com`.
    pub public_base_url: String,
    pub login_limits: LoginLimits,
    /// How long a refresh token lasts unused; each refresh starts a new one.
    pub refresh_token_ttl_secs: i64,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mail_dir = match env.get("MAIL_DIR") {
            Some(dir) => PathBuf::from(dir),
            // A Lambda may only write under /tmp.
            None if env.in_lambda() => PathBuf::from("/tmp/mail"),
            None => env.local_data_dir().join("mail"),
        };
        let hours: i64 = env.parse_or("EMAIL_VERIFICATION_TTL_HOURS", 48)?;
        if !(1..=24 * 30).contains(&hours) {
            return Err(ConfigError::Invalid {
                name: "EMAIL_VERIFICATION_TTL_HOURS".into(),
                why: "use 1 to 720".into(),
            });
        }
        let refresh_days: i64 = env.parse_or("REFRESH_TOKEN_TTL_DAYS", 30)?;
        if !(1..=365).contains(&refresh_days) {
            return Err(ConfigError::Invalid { name: "REFRESH_TOKEN_TTL_DAYS".into(), why: "use 1 to 365".into() });
        }
        Ok(Self {
            store: StoreUrl::from_env(env, "REGISTERED_CUSTOMER_DATABASE_URL", "registered-customer")?,
            max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 2)?,
            mail_dir,
            verification_ttl_secs: hours * 3600,
            public_base_url: env
                .get("PUBLIC_BASE_URL")
                .unwrap_or("http://localhost:8000")
                .trim_end_matches('/')
                .to_string(),
            login_limits: LoginLimits::from_env(env)?,
            refresh_token_ttl_secs: refresh_days * 86_400,
        })
    }
}

#[derive(Clone)]
pub struct RegisteredState {
    pub store: Arc<Store>,
    pub mailer: Arc<dyn Mailer>,
    pub keys: Arc<TokenKeys>,
    pub verification_ttl_secs: i64,
    pub public_base_url: String,
    pub login_limits: LoginLimits,
    pub refresh_token_ttl_secs: i64,
}

impl FromRef<RegisteredState> for Arc<TokenKeys> {
    fn from_ref(state: &RegisteredState) -> Self {
        state.keys.clone()
    }
}

impl RegisteredState {
    /// The state with the file mailer; nothing is connected until the first request.
    pub fn new(config: &Config, keys: Arc<TokenKeys>) -> AppResult<Self> {
        Self::with_mailer(config, keys, Arc::new(FileMailer::new(config.mail_dir.clone())))
    }

    pub fn with_mailer(config: &Config, keys: Arc<TokenKeys>, mailer: Arc<dyn Mailer>) -> AppResult<Self> {
        tracing::info!(store = %config.store.redacted(), "registered customer store");
        Ok(Self {
            store: Arc::new(Store::new(&config.store, config.max_connections)?),
            mailer,
            keys,
            verification_ttl_secs: config.verification_ttl_secs,
            public_base_url: config.public_base_url.clone(),
            login_limits: config.login_limits,
            refresh_token_ttl_secs: config.refresh_token_ttl_secs,
        })
    }
}
