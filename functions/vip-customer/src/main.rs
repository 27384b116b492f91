//! The VIP customer function: the VIP record, benefits catalog and points ledger,
//! plus the internal enroll and earn routes other functions invoke.

use std::sync::Arc;

use shared::auth::TokenKeys;
use shared::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let env = Env::from_process();
    let config = vip_customer::Config::from_env(&env)?;
    let state = vip_customer::VipState::new(&config, Arc::new(TokenKeys::from_env(&env)?))?;
    shared::http_app::run_lambda(vip_customer::router(state)).await
}
