//! `cargo run -p local` serves the whole API on http://localhost:8000;
//! `cargo run -p local -- token --role staff` prints a development token.

use std::path::PathBuf;

use fixtures::customers::{self, Passwords};
use shared::auth::{CustomerType, Role, TokenKeys};
use shared::config::Env;

const USAGE: &str =
    "usage: local [serve] | local token --role staff|customer [--sub ID] [--type registered|vip|guest] [--ttl SECONDS]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut env = Env::from_process();
    if env.get("LOCAL_DATA_DIR").is_none() {
        // local/data of this checkout, whatever directory the server is started from.
        let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
        env = env.with("LOCAL_DATA_DIR", data.display().to_string());
    }
    match args.first().map(String::as_str) {
        None | Some("serve") => serve(env).await,
        Some("token") => token(&env, &args[1..]),
        _ => Err(USAGE.into()),
    }
}

async fn serve(env: Env) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    shared::telemetry::init();
    let functions = local::Functions::build(&env)?;
    let app = functions.app()?;
    let added = functions.load_fixtures(&Passwords::demo()).await?;
    if added > 0 {
        tracing::info!(added, "fixtures loaded into empty stores");
    }
    // What the deployed shop's schedule does: unpaid orders expire on time.
    let interval = std::time::Duration::from_secs(env.parse_or("SWEEP_INTERVAL_SECS", 60)?.max(1));
    let sweeper = std::sync::Arc::new(functions);
    tokio::spawn({
        let sweeper = sweeper.clone();
        async move { sweeper.sweep_every(interval).await }
    });
    let host = env.get("HOST").unwrap_or("127.0.0.1");
    let port: u16 = env.parse_or("PORT", 8000)?;
    let listener = tokio::net::TcpListener::bind((host, port)).await?;
    println!("Shop API on http://{host}:{port}/api/items/  (document: /api/openapi.json)");
    println!("Data in {} (mails in mail/)", env.local_data_dir().display());
    println!(
        "Log in as staff: {} / {}; fixture customers (e.g. customer123@example.com) use {}",
        customers::STAFF_EMAIL,
        customers::DEMO_STAFF_PASSWORD,
        customers::DEMO_CUSTOMER_PASSWORD
    );
    // Functions see each client's address, as API Gateway gives it them.
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

fn token(env: &Env, args: &[String]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).map(String::as_str);
    let role = match value("--role") {
        Some("staff") => Role::Staff,
        Some("customer") => Role::Customer,
        _ => return Err(USAGE.into()),
    };
    let typ = match value("--type").unwrap_or("registered") {
        "registered" => CustomerType::Registered,
        "vip" => CustomerType::Vip,
        "guest" => CustomerType::Guest,
        _ => return Err(USAGE.into()),
    };
    let sub = value("--sub").unwrap_or(if role == Role::Staff { "staff_local" } else { "customer_local" });
    let ttl: i64 = value("--ttl").unwrap_or("43200").parse()?;
    let keys = TokenKeys::from_env(env)?;
    println!("{}", keys.issue(sub, typ, role, ttl));
    Ok(())
}
