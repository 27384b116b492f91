//! The shipping function: calls order, paying and vip-customer through the
//! Lambda Invoke API.

use std::sync::Arc;

use shared::auth::TokenKeys;
use shared::config::Env;
use shared::invoke::LambdaInvoker;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let env = Env::from_process();
    let config = shipping::Config::from_env(&env)?;
    let keys = Arc::new(TokenKeys::from_env(&env)?);
    let state = shipping::ShippingState::new(&config, Arc::new(LambdaInvoker::new()), keys)?;
    shared::http_app::run_lambda(shipping::router(state)).await
}
