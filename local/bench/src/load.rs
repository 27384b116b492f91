//! Step 5: latency and throughput of the local server (every function in one
//! process, SQLite stores) under `oha` and the bench's own client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::auth::{CustomerType, Role, TokenKeys};
use tokio::process::Command;

use crate::builds::find_tool;
use crate::client::{Conn, free_port, wait_until_ok};
use crate::process::{JWT_SECRET, clean_command, kill, log_tail, require_file, spawn};
use crate::report::{Miss, Section, Table, verdict};
use crate::stats::{Summary, fmt_ms, ms};
use crate::svg::{self, Curve};
use crate::workspace::TempDir;
use crate::{Ctx, Error};

pub const TITLE: &str = "Load on the local server (SQLite)";
const CONNECTIONS: [usize; 3] = [1, 16, 64];
const PAGE_BUDGET_RPS: f64 = 5_000.0;
const ADDRESS: &str = r#"{"name": "Bench Customer", "line1": "1 Market Street", "city": "Springfield", "postal_code": "12345", "country": "US"}"#;

/// One load run at one concurrency.
#[derive(Debug, Clone)]
pub struct Run {
    pub connections: usize,
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub non_2xx: u64,
    /// Requests that got no HTTP answer at all.
    pub errors: u64,
    pub curve: Curve,
}

/// Reads `oha --output-format json`: throughput, percentiles (seconds there),
/// status codes and errors; the CDF is drawn through its percentiles.
pub fn parse_oha(text: &str, connections: usize, label: &str) -> Result<Run, Error> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("oha's JSON: {e}"))?;
    let seconds = |v: &Value| v.as_f64().map(|s| s * 1_000.0);
    let percentiles = &doc["latencyPercentiles"];
    let p50 = seconds(&percentiles["p50"]).ok_or("oha's JSON has no p50 (no request answered?)")?;
    let p99 = seconds(&percentiles["p99"]).ok_or("oha's JSON has no p99")?;
    let rps = doc["summary"]["requestsPerSec"].as_f64().ok_or("oha's JSON has no requestsPerSec")?;
    let mut requests = 0;
    let mut non_2xx = 0;
    for (status, count) in doc["statusCodeDistribution"].as_object().into_iter().flatten() {
        let count = count.as_u64().unwrap_or(0);
        requests += count;
        if !status.starts_with('2') {
            non_2xx += count;
        }
    }
    let errors = doc["errorDistribution"].as_object().into_iter().flatten().filter_map(|(_, n)| n.as_u64()).sum();
    let mut points = Vec::new();
    if let Some(fastest) = seconds(&doc["summary"]["fastest"]) {
        points.push((fastest, 0.0));
    }
    for (key, q) in [
        ("p10", 0.10),
        ("p25", 0.25),
        ("p50", 0.50),
        ("p75", 0.75),
        ("p90", 0.90),
        ("p95", 0.95),
        ("p99", 0.99),
        ("p99.9", 0.999),
    ] {
        if let Some(v) = seconds(&percentiles[key]) {
            points.push((v, q));
        }
    }
    if let Some(slowest) = seconds(&doc["summary"]["slowest"]) {
        points.push((slowest, 1.0));
    }
    Ok(Run {
        connections,
        requests,
        rps,
        p50_ms: p50,
        p99_ms: p99,
        non_2xx,
        errors,
        curve: Curve { label: label.to_string(), points, count: requests as usize },
    })
}

/// `oha` from PATH or `~/.cargo/bin`, installed from crates.io when missing.
async fn ensure_oha() -> Result<PathBuf, Error> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin").join("oha"));
    if let Some(found) = find_tool("oha").or_else(|| cargo_bin.clone().filter(|p| p.is_file())) {
        return Ok(found);
    }
    eprintln!("[bench] cargo install oha --locked");
    let status = Command::new("cargo")
        .args(["install", "oha", "--locked"])
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .await
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if !status.success() {
        return Err(format!("cargo install oha failed ({status})").into());
    }
    find_tool("oha").or(cargo_bin.filter(|p| p.is_file())).ok_or_else(|| "oha was installed but is not found".into())
}

async fn oha(oha: &Path, url: &str, connections: usize, secs: f64, out: &Path) -> Result<String, Error> {
    let status = Command::new(oha)
        .args(["-z", &format!("{}ms", (secs * 1_000.0) as u64), "-c", &connections.to_string()])
        // In-flight requests at the deadline finish rather than count as aborted.
        .args(["-w", "--no-tui", "--output-format", "json", "-o"])
        .arg(out)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(|e| format!("cannot run oha: {e}"))?;
    if !status.status.success() {
        return Err(format!("oha {url} failed: {}", String::from_utf8_lossy(&status.stderr)).into());
    }
    std::fs::read_to_string(out).map_err(|e| format!("{}: {e}", out.display()).into())
}

/// The two scenarios `oha` cannot drive: each needs a token per customer, the
/// checkout a new `Idempotency-Key` per request.
#[derive(Debug, Clone, Copy)]
enum Own {
    CartAdd,
    Checkout,
}

struct Shared {
    addr: SocketAddr,
    keys: TokenKeys,
    /// The server's registered store, where each bench customer gets an account.
    accounts: crate::accounts::Accounts,
    book: String,
    run: String,
}

async fn own_worker(
    shared: Arc<Shared>,
    scenario: Own,
    connections: usize,
    worker: usize,
    until: Instant,
) -> Result<(Vec<f64>, u64), Error> {
    let mut conn = Conn::connect(shared.addr).await?;
    let mut samples = Vec::new();
    let mut non_2xx = 0;
    let line = json!({ "item_type": "book", "item_id": shared.book, "quantity": 1 }).to_string();
    let checkout =
        json!({ "delivery_option": "standard", "shipping_address": serde_json::from_str::<Value>(ADDRESS)? })
            .to_string();
    let mut token = String::new();
    let mut customer = usize::MAX;
    let mut i = 0usize;
    while Instant::now() < until {
        // Cart lines hold at most 99: a new customer every 90 adds keeps every add valid.
        let wanted = match scenario {
            Own::CartAdd => i / 90,
            Own::Checkout => 0,
        };
        if wanted != customer {
            customer = wanted;
            let sub = format!("bench-{}-{scenario:?}-{connections}-{worker}-{customer}", shared.run);
            shared.accounts.ensure(&sub).await?;
            token = shared.keys.issue(&sub, CustomerType::Registered, Role::Customer, 86_400);
        }
        let auth = ("authorization", format!("Bearer {token}"));
        match scenario {
            Own::CartAdd => {
                let started = Instant::now();
                let (status, _) = conn.post_json("/api/cart/items", &line, &[auth]).await?;
                samples.push(ms(started.elapsed()));
                non_2xx += u64::from(!status.is_success());
            }
            Own::Checkout => {
                let (status, body) = conn.post_json("/api/cart/items", &line, std::slice::from_ref(&auth)).await?;
                if !status.is_success() {
                    return Err(format!(
                        "filling a cart for the checkout: {status} {}",
                        String::from_utf8_lossy(&body)
                    )
                    .into());
                }
                let key = ("idempotency-key", format!("bench-{}-{connections}-{worker}-{i}", shared.run));
                let started = Instant::now();
                let (status, _) = conn.post_json("/api/orders/", &checkout, &[auth.clone(), key]).await?;
                samples.push(ms(started.elapsed()));
                if !status.is_success() {
                    non_2xx += 1;
                    // A failed checkout leaves the cart full; empty it so the next add fits.
                    conn.send(http::Method::DELETE, "/api/cart/", &[auth], None).await?;
                }
            }
        }
        i += 1;
    }
    Ok((samples, non_2xx))
}

async fn own_load(
    shared: &Arc<Shared>,
    scenario: Own,
    connections: usize,
    secs: f64,
    label: &str,
) -> Result<Run, Error> {
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(secs);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..connections {
        tasks.spawn(own_worker(shared.clone(), scenario, connections, worker, until));
    }
    let mut samples = Vec::new();
    let mut non_2xx = 0;
    while let Some(joined) = tasks.join_next().await {
        let (worker_samples, worker_non_2xx) = joined.map_err(|e| e.to_string())??;
        samples.extend(worker_samples);
        non_2xx += worker_non_2xx;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let summary = Summary::of(&samples).ok_or("no request was answered")?;
    Ok(Run {
        connections,
        requests: samples.len() as u64,
        rps: samples.len() as f64 / elapsed,
        p50_ms: summary.p50,
        p99_ms: summary.p99,
        non_2xx,
        errors: 0,
        curve: Curve::from_samples(label, &samples),
    })
}

struct Scenario {
    name: String,
    tool: &'static str,
    runs: Vec<Run>,
    budget: Option<f64>,
}

pub async fn run(ctx: &Ctx, section: &mut Section) -> Result<(), Error> {
    let oha_path = ensure_oha().await?;
    let oha_version = std::process::Command::new(&oha_path)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let secs = ctx.effort.load_secs;
    let data = TempDir::new("load")?;
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let binary = require_file(&ctx.paths.release_bin("local"))?;
    let log = data.path().join("local.log");
    let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut command = clean_command(&binary);
    command
        .current_dir(&ctx.paths.root)
        .env("LOCAL_DATA_DIR", data.path().join("data"))
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("HOME", data.path())
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err));
    section
        .commands
        .push(format!("LOCAL_DATA_DIR=<fresh tmp> PORT=<free port> {}/release/local", ctx.target_display()));
    section.commands.push(format!("oha -z {secs}s -c <1|16|64> -w --no-tui --output-format json <url>"));
    eprintln!("[bench] load: starting the local server on {addr} (loads the fixtures first)");
    let mut server = spawn(command, "the local server")?;
    let result = load(ctx, section, &oha_path, &oha_version, addr, &data.path().join("data"), &mut server, &log).await;
    kill(&mut server).await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn load(
    ctx: &Ctx,
    section: &mut Section,
    oha_path: &Path,
    oha_version: &str,
    addr: SocketAddr,
    data_dir: &Path,
    server: &mut tokio::process::Child,
    log: &Path,
) -> Result<(), Error> {
    let secs = ctx.effort.load_secs;
    let mut alive = || match server.try_wait() {
        Ok(None) => Ok(()),
        Ok(Some(status)) => Err(format!("the local server exited ({status}): {}", log_tail(log, 8)).into()),
        Err(e) => Err(Error::from(e.to_string())),
    };
    let started = Instant::now();
    wait_until_ok(addr, "/api/items/", Duration::from_secs(600), &mut alive).await?;
    eprintln!("[bench] load: the server answers after {:.1} s", started.elapsed().as_secs_f64());

    let keys = TokenKeys::new(JWT_SECRET.as_bytes());
    let staff = keys.issue("staff_bench", CustomerType::Registered, Role::Staff, 86_400);
    let mut conn = Conn::connect(addr).await?;
    let book_body = json!({
        "name": "The Benchmark Handbook", "price": 1999, "stock": shared::catalog::MAX_STOCK,
        "author": "Bench Mark", "isbn": "9780132350884",
    });
    let (status, created) =
        conn.post_json("/api/books/", &book_body.to_string(), &[("authorization", format!("Bearer {staff}"))]).await?;
    let created: Value = serde_json::from_slice(&created).unwrap_or(Value::Null);
    let book = created["id"]
        .as_str()
        .filter(|_| status.is_success())
        .ok_or(format!("creating the bench book: {status} {created}"))?;
    let fixtures = crate::workloads::Fixtures::read(&ctx.paths.root)?;
    let detail = fixtures.items("book")[0]["id"].as_str().ok_or("the first book fixture has no id")?.to_string();
    let (status, _) = conn.get(&format!("/api/books/{detail}/"), &[]).await?;
    if !status.is_success() {
        return Err(format!("GET /api/books/{detail}/ answered {status}").into());
    }
    crate::client::check_fan_out(&mut conn).await?;

    section.notes.push(format!(
        "The release `local` binary (every function's Router in one process, routers invoking in process, SQLite \
         stores in a fresh temporary `LOCAL_DATA_DIR`, fixtures loaded on first start) run as the README runs it: \
         `RUST_LOG` unset, so the default `info` filter, its output to a file. GETs are driven by {oha_version} \
         ({secs} s per run, `-w` so requests in flight at the deadline finish; one unmeasured {secs} s warm-up at \
         16 connections per URL). `oha` shares the machine's 2 cores with the server. The cart and checkout \
         need a token per customer and a new `Idempotency-Key` per checkout, which oha cannot vary, so the bench's \
         own client (tokio + hyper, one kept-alive connection per worker) drives them for the same time: adds \
         go to a new customer every 90 adds (a line holds at most 99), each with an account made in the \
         server's store beforehand (not timed: cart writes and checkouts need a live account); each checkout \
         worker is one customer who adds a line (not timed) then checks out (timed), on a book created with \
         stock {} so stock never runs out. \
         Latencies are per request, p99 nearest-rank; non-2xx is the share of answers that were not 2xx.",
        shared::catalog::MAX_STOCK
    ));

    let base = format!("http://{addr}");
    let mut scenarios = Vec::new();
    let tmp = TempDir::new("oha")?;
    for (name, path, budget) in [
        ("`GET /api/books/` (one item type page)", "/api/books/".to_string(), Some(PAGE_BUDGET_RPS)),
        ("`GET /api/books/{id}/`", format!("/api/books/{detail}/"), None),
        ("`GET /api/items/` (fan-out to four services)", "/api/items/".to_string(), None),
    ] {
        let url = format!("{base}{path}");
        eprintln!("[bench] load: warm-up {path}");
        oha(oha_path, &url, 16, secs, &tmp.path().join("warm.json")).await?;
        let mut runs = Vec::new();
        for c in CONNECTIONS {
            eprintln!("[bench] load: oha {path} at {c} connections");
            let text = oha(oha_path, &url, c, secs, &tmp.path().join(format!("run-{c}.json"))).await?;
            let run = parse_oha(&text, c, &format!("{c} connections"))?;
            progress(&run);
            runs.push(run);
        }
        scenarios.push(Scenario { name: name.to_string(), tool: "oha", runs, budget });
    }
    let accounts = crate::accounts::Accounts::in_data_dir(data_dir)?;
    let shared = Arc::new(Shared { addr, keys, accounts, book: book.to_string(), run: ulid_free_run_id() });
    for (name, scenario) in
        [("`POST /api/cart/items` (add to cart)", Own::CartAdd), ("`POST /api/orders/` (checkout)", Own::Checkout)]
    {
        let mut runs = Vec::new();
        for c in CONNECTIONS {
            eprintln!("[bench] load: {name} at {c} connections");
            let run = own_load(&shared, scenario, c, secs, &format!("{c} connections")).await?;
            progress(&run);
            runs.push(run);
        }
        scenarios.push(Scenario { name: name.to_string(), tool: "bench client", runs, budget: None });
    }
    alive()?;

    let mut table = Table::new(&[
        "request",
        "tool",
        "connections",
        "requests",
        "requests/s",
        "p50 (ms)",
        "p99 (ms)",
        "non-2xx",
        "budget",
        "",
    ]);
    for (index, scenario) in scenarios.iter().enumerate() {
        for run in &scenario.runs {
            let failed = run.non_2xx + run.errors;
            let share =
                if run.requests + run.errors > 0 { failed as f64 / (run.requests + run.errors) as f64 } else { 0.0 };
            let budgeted = scenario.budget.filter(|_| run.connections == 64);
            let (budget, pass) = match budgeted {
                Some(min) => (format!("≥ {min:.0} requests/s"), verdict(run.rps >= min && failed == 0)),
                None => ("—".into(), String::new()),
            };
            table.row(vec![
                scenario.name.clone(),
                scenario.tool.to_string(),
                run.connections.to_string(),
                run.requests.to_string(),
                format!("{:.0}", run.rps),
                fmt_ms(run.p50_ms),
                fmt_ms(run.p99_ms),
                format!("{:.2} %", share * 100.0)
                    + &if run.errors > 0 { format!(" ({} errors)", run.errors) } else { String::new() },
                budget,
                pass,
            ]);
            if let Some(min) = budgeted
                && (run.rps < min || failed > 0)
            {
                section.misses.push(Miss {
                    figure: format!("{} at 64 connections", scenario.name),
                    measured: format!("{:.0} requests/s ({failed} failed)", run.rps),
                    budget: format!("{min:.0} requests/s"),
                    cause: crate::causes::load(&scenario.name),
                });
            }
            if failed > 0 && budgeted.is_none() {
                section.misses.push(Miss {
                    figure: format!("{} at {} connections", scenario.name, run.connections),
                    measured: format!("{failed} of {} requests failed", run.requests + run.errors),
                    budget: "no failures".into(),
                    cause: String::new(),
                });
            }
        }
        let curves: Vec<Curve> = scenario.runs.iter().map(|r| r.curve.clone()).collect();
        let plot = svg::cdf(&strip_markdown(&scenario.name), &curves);
        section.plots.push(ctx.write_plot(
            &format!("load-{}.svg", index + 1),
            &strip_markdown(&scenario.name),
            &plot,
        )?);
    }
    section.tables.push(table);
    Ok(())
}

fn strip_markdown(text: &str) -> String {
    text.replace('`', "")
}

/// A run id unique enough to keep customers and keys of two runs apart.
fn ulid_free_run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("load{:x}", nanos % 0xffff_ffff)
}

fn progress(run: &Run) {
    eprintln!(
        "[bench] load:   {:.0} requests/s, p50 {} ms, p99 {} ms",
        run.rps,
        fmt_ms(run.p50_ms),
        fmt_ms(run.p99_ms)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const OHA: &str = r#"{
      "summary": {"successRate": 1.0, "total": 10.0, "slowest": 0.02, "fastest": 0.0001, "average": 0.003,
                  "requestsPerSec": 5234.5, "totalData": 100, "sizePerRequest": 1, "sizePerSec": 10},
      "latencyPercentiles": {"p10": 0.001, "p25": 0.002, "p50": 0.003, "p75": 0.004, "p90": 0.006,
                             "p95": 0.008, "p99": 0.012, "p99.9": 0.015, "p99.99": 0.019},
      "statusCodeDistribution": {"200": 52000, "503": 345},
      "errorDistribution": {"connection reset": 2}
    }"#;

    #[test]
    fn oha_json_gives_throughput_percentiles_statuses_and_a_cdf() {
        let run = parse_oha(OHA, 64, "64 connections").unwrap();
        assert_eq!(run.connections, 64);
        assert!((run.rps - 5234.5).abs() < 1e-9);
        assert!((run.p50_ms - 3.0).abs() < 1e-9);
        assert!((run.p99_ms - 12.0).abs() < 1e-9);
        assert_eq!((run.requests, run.non_2xx, run.errors), (52_345, 345, 2));
        assert_eq!(run.curve.points.first(), Some(&(0.1, 0.0)));
        assert_eq!(run.curve.points.last(), Some(&(20.0, 1.0)));
        assert!(run.curve.points.windows(2).all(|w| w[0].1 <= w[1].1), "shares only grow");
    }

    #[test]
    fn oha_json_without_answers_is_an_error() {
        assert!(parse_oha(r#"{"summary": {}, "latencyPercentiles": {}}"#, 1, "x").is_err());
        assert!(parse_oha("not json", 1, "x").is_err());
    }

    #[test]
    fn scenario_names_lose_their_markdown_for_plot_titles() {
        assert_eq!(strip_markdown("`GET /api/books/` (page)"), "GET /api/books/ (page)");
    }
}
