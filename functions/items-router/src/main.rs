//! The items router function: routes `/api/items` to the item functions through
//! the Lambda Invoke API.

use std::sync::Arc;

use shared::auth::TokenKeys;
use shared::config::Env;
use shared::invoke::LambdaInvoker;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let env = Env::from_process();
    let config = items_router::Config::from_env(&env)?;
    let state =
        items_router::RouterState::new(&config, Arc::new(LambdaInvoker::new()), Arc::new(TokenKeys::from_env(&env)?))?;
    shared::http_app::run_lambda(items_router::router(state)).await
}
