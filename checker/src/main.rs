//! `cargo run -p checker`: reads every store of the shop the `*_DATABASE_URL`
//! variables name (the local server's SQLite files under `local/data/` when
//! unset) and prints each broken invariant; the exit code is 1 when any is.
//! `--json` prints the report as JSON instead.

use shared::config::Env;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let json = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--json") => true,
        Some(_) => return Err("usage: checker [--json]".into()),
    };
    let mut env = Env::from_process();
    if env.get("LOCAL_DATA_DIR").is_none() {
        // Where `cargo run -p local` keeps its stores, wherever this runs from.
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../local/data");
        env = env.with("LOCAL_DATA_DIR", data.display().to_string());
    }
    let shop = checker::Shop::from_env(&env)?;
    let report = checker::check(&shop.read().await?);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for source in &shop.sources {
            println!("{source}");
        }
        print!("{report}");
    }
    std::process::exit(i32::from(!report.is_clean()));
}
