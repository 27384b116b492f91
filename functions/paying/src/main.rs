//! The paying function: reads and updates orders and redeems VIP points through
//! the Lambda Invoke API; cards go to the simulated processor.

use std::sync::Arc;

use shared::auth::TokenKeys;
use shared::config::Env;
use shared::invoke::LambdaInvoker;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let env = Env::from_process();
    let config = paying::Config::from_env(&env)?;
    let keys = Arc::new(TokenKeys::from_env(&env)?);
    let state = paying::PayingState::new(&config, Arc::new(LambdaInvoker::new()), keys)?;
    shared::http_app::run_lambda(paying::router(state)).await
}
