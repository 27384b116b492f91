//! `cargo run -p local` serves the whole API on http://localhost:8000;
//! `cargo run -p local -- token --role staff` prints a development token;
//! `--help` says what else.

use std::path::PathBuf;

use fixtures::customers::{self, Passwords};
use shared::auth::{CustomerType, Role, TokenKeys};
use shared::config::Env;
use shared::store::StoreUrl;

const USAGE: &str = "\
usage: local [serve]        the whole API on http://127.0.0.1:$PORT (8000); the reference at /api/docs
       local token --role staff|customer [--sub ID] [--type registered|vip|guest] [--ttl SECONDS]
                            a token signed with $JWT_SECRET (or the development secret)
       local openapi        the API document (what /api/openapi.json serves)
       local --help";

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
        Some("token") => token(&env, &args[1..]).await,
        Some("openapi") => {
            println!("{}", local::openapi().to_pretty_json()?);
            Ok(())
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => usage_error(&format!("unknown command `{other}`")),
    }
}

/// A mistake in the command line: what was wrong and the usage, on stderr, exit 2.
fn usage_error(why: &str) -> ! {
    eprintln!("local: {why}\n{USAGE}");
    std::process::exit(2)
}

async fn serve(mut env: Env) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    shared::telemetry::init();
    let host = env.get("HOST").unwrap_or("127.0.0.1").to_string();
    let port: u16 = env.parse_or("PORT", 8000)?;
    env = local::with_public_base_url(env, &host, port);
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
    let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await?;
    println!("Shop API on http://{host}:{port}/api/items/  (reference: /api/docs, document: /api/openapi.json)");
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

/// Prints a development token. A customer token carries the token version the
/// account has in the registered store this environment names (as a login's
/// would), so it passes where money moves; for a subject with no account there
/// it carries version 0 and is refused there, as any token of a ghost is.
async fn token(env: &Env, args: &[String]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).map(String::as_str);
    let role = match value("--role") {
        Some("staff") => Role::Staff,
        Some("customer") => Role::Customer,
        _ => usage_error("token needs --role staff or --role customer"),
    };
    let typ = match value("--type").unwrap_or("registered") {
        "registered" => CustomerType::Registered,
        "vip" => CustomerType::Vip,
        "guest" => CustomerType::Guest,
        other => usage_error(&format!("--type `{other}` is not registered, vip or guest")),
    };
    let sub = value("--sub").unwrap_or(if role == Role::Staff { "staff_local" } else { "customer_local" });
    let ttl: i64 = match value("--ttl").unwrap_or("43200").parse() {
        Ok(ttl) => ttl,
        Err(_) => usage_error("--ttl takes a whole number of seconds"),
    };
    let keys = TokenKeys::from_env(env)?;
    let version = if role == Role::Customer && typ != CustomerType::Guest { token_version(env, sub).await? } else { 0 };
    println!("{}", keys.issue_at_version(sub, typ, role, version, ttl));
    Ok(())
}

/// The account's token version in the registered store, if it has the account.
/// An embedded store that does not exist yet is not created for the question.
async fn token_version(env: &Env, sub: &str) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
    let config = registered_customer::Config::from_env(env)?;
    if let StoreUrl::Sqlite(url) = &config.store {
        let file = url.trim_start_matches("sqlite://").split('?').next().unwrap_or_default();
        if !std::path::Path::new(file).exists() {
            eprintln!("note: no registered-customer store at {file} yet: the token carries version 0");
            return Ok(0);
        }
    }
    let store = registered_customer::store::Store::new(&config.store, 1)?;
    match store.token_version(sub).await? {
        Some(version) => Ok(version),
        None => {
            eprintln!(
                "note: `{sub}` has no account in {}: the token will be refused where money moves",
                config.store.redacted()
            );
            Ok(0)
        }
    }
}
