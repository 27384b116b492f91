//! The guest customer function: anonymous sessions and their shopping history.

use std::sync::Arc;

use shared::auth::TokenKeys;
use shared::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let env = Env::from_process();
    // A bad setting stops the function here, at start, rather than on a request.
    let config = guest_customer::Config::from_env(&env)?;
    let invoker = Arc::new(shared::invoke::LambdaInvoker::new());
    let state = guest_customer::GuestState::new(&config, invoker, Arc::new(TokenKeys::from_env(&env)?))?;
    shared::http_app::run_lambda(guest_customer::router(state)).await
}
