//! What two or more functions use: problem responses, configuration, identity,
//! invoking other functions, live accounts where money moves, pagination, money,
//! ids, shopping history and store plumbing.

pub mod accounts;
pub mod auth;
pub mod aws;
pub mod catalog;
pub mod config;
pub mod documents;
pub mod error;
pub mod extract;
pub mod history;
pub mod http_app;
pub mod ids;
pub mod invoke;
mod jwt_hmac;
pub mod money;
pub mod openapi;
pub mod pagination;
pub mod sql;
pub mod store;
pub mod telemetry;

pub use error::{AppError, AppResult, FieldErrors, Problem};

#[cfg(any(test, feature = "testing"))]
pub mod testing;
