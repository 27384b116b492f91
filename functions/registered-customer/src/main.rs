//! The registered customer function: tracing, configuration, state, and the Router
//! under the Lambda runtime.

use std::sync::Arc;

use registered_customer::{Config, RegisteredState, router};
use shared::auth::TokenKeys;
use shared::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let env = Env::from_process();
    let state = RegisteredState::new(&Config::from_env(&env)?, Arc::new(TokenKeys::from_env(&env)?))?;
    shared::http_app::run_lambda(router(state)).await
}
