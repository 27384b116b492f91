//! The clothes function: tracing, configuration from the environment, the store, and
//! the catalog Router under the Lambda runtime (see `shared::catalog::run_lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::catalog::run_lambda::<clothes::Clothes>().await
}
