//! The order function: reaches the cart, items router, VIP, shipping and paying
//! functions through the Lambda Invoke API.

use std::sync::Arc;

use shared::auth::TokenKeys;
use shared::config::Env;
use shared::invoke::LambdaInvoker;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let env = Env::from_process();
    let config = order::Config::from_env(&env)?;
    let state = order::OrderState::new(&config, Arc::new(LambdaInvoker::new()), Arc::new(TokenKeys::from_env(&env)?))?;
    shared::http_app::run_lambda(order::router(state)).await
}
