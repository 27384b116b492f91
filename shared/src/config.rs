//! Typed configuration from the environment.
//!
//! Functions read an [`Env`] snapshot rather than the process environment, so the
//! local server can give each function its own settings in one process and tests
//! can configure a function without touching global state.

use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set: {why}")]
    Missing { name: String, why: String },
    #[error("{name} is invalid: {why}")]
    Invalid { name: String, why: String },
}

#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self { vars: std::env::vars().collect() }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// A copy with `name` set, for giving one function a setting of its own.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.insert(name.to_string(), value.into());
        self
    }

    /// The value of `name`; an empty value counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    pub fn require(&self, name: &str, why: &str) -> Result<&str, ConfigError> {
        self.get(name).ok_or_else(|| ConfigError::Missing { name: name.into(), why: why.into() })
    }

    pub fn parse_or<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => {
                raw.trim().parse().map_err(|e: T::Err| ConfigError::Invalid { name: name.into(), why: e.to_string() })
            }
        }
    }

    /// True inside a Lambda execution environment (deployed, `sam local` or `cargo lambda watch`).
    pub fn in_lambda(&self) -> bool {
        self.get("AWS_LAMBDA_FUNCTION_NAME").is_some() || self.get("AWS_LAMBDA_RUNTIME_API").is_some()
    }

    /// Where embedded SQLite stores live when no URL is given: `LOCAL_DATA_DIR`, else `local/data`.
    pub fn local_data_dir(&self) -> PathBuf {
        self.get("LOCAL_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("local/data"))
    }
}
