//! The customer router function: routes `/api/customers` to the customer
//! functions through the Lambda Invoke API.

use std::sync::Arc;

use customer_router::{Config, CustomerRouterState, router};
use shared::auth::TokenKeys;
use shared::config::Env;
use shared::invoke::LambdaInvoker;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let env = Env::from_process();
    let state = CustomerRouterState::new(
        &Config::from_env(&env)?,
        Arc::new(LambdaInvoker::new()),
        Arc::new(TokenKeys::from_env(&env)?),
    );
    shared::http_app::run_lambda(router(state)).await
}
