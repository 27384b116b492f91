//! Step 6: what the items router adds in process (no network): the book page
//! direct vs through the router, and a fan-out of four with one slow service.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use http::Request;
use shared::auth::TokenKeys;
use shared::config::Env;
use shared::invoke::InProcessInvoker;
use tower::ServiceExt;

use crate::process::JWT_SECRET;
use crate::report::{Miss, Section, Table, verdict};
use crate::stats::{Summary, fmt_ms, ms};
use crate::svg::{self, Curve};
use crate::workloads::ITEM_TYPES;
use crate::workspace::TempDir;
use crate::{Ctx, Error};

pub const TITLE: &str = "Router overhead in process";
const HOP_BUDGET_MS: f64 = 0.2;
const FANOUT_BUDGET: f64 = 1.3;
const DELAY: Duration = Duration::from_millis(20);
const WARM_UP: usize = 100;

/// Calls `path` once and times it; a non-2xx answer is an error, since a figure
/// measured on errors says nothing.
async fn timed(router: &Router, path: &str) -> Result<f64, Error> {
    let request = Request::builder().uri(path).body(Body::empty()).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let response = router.clone().oneshot(request).await.unwrap_or_else(|never| match never {});
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024).await.map_err(|e| e.to_string())?;
    let elapsed = ms(started.elapsed());
    if !status.is_success() {
        return Err(format!("GET {path} answered {status}: {}", String::from_utf8_lossy(&body)).into());
    }
    let named = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|page| page["unavailable"].as_array().map(Vec::len))
        .unwrap_or(0);
    if named > 0 {
        return Err(format!("GET {path} named unavailable services: {}", String::from_utf8_lossy(&body)).into());
    }
    Ok(elapsed)
}

/// Interleaved calls of each path (so drift hits all alike), after a warm-up.
async fn compare(calls: &[(&Router, &str)], n: usize, warm_up: usize) -> Result<Vec<Vec<f64>>, Error> {
    let mut samples = vec![Vec::with_capacity(n); calls.len()];
    for i in 0..warm_up + n {
        for (k, (router, path)) in calls.iter().enumerate() {
            let sample = timed(router, path).await?;
            if i >= warm_up {
                samples[k].push(sample);
            }
        }
    }
    Ok(samples)
}

pub async fn run(ctx: &Ctx, section: &mut Section) -> Result<(), Error> {
    let n = ctx.effort.router_calls;
    let fanout_n = ctx.effort.fanout_calls;
    section.commands.push("(in the bench process) local::Functions::build + tower::ServiceExt::oneshot".into());
    section.notes.push(format!(
        "The functions' Routers are built as the local server builds them (`local::Functions::build`, items \
         router invoking in process), on SQLite stores holding the fixtures. {n} sequential `oneshot` calls of \
         each path, interleaved, after {WARM_UP} warm-up calls; the body is read in full. For the fan-out, the \
         laptop Router is wrapped with a {} ms delay in the items router's invoker table, and {fanout_n} calls of \
         `/api/items/` (four services in parallel) are compared with the slowest single call, \
         `/api/items/?type=laptop`.",
        DELAY.as_millis()
    ));
    let data = TempDir::new("router")?;
    let store = data.path().join("data");
    crate::process::load_fixtures(&ctx.paths, &store, &ctx.paths.root).await?;
    let env = Env::from_pairs([
        ("LOCAL_DATA_DIR", store.display().to_string()),
        ("JWT_SECRET", JWT_SECRET.to_string()),
        ("MAIL_DIR", store.join("mail").display().to_string()),
    ]);
    let functions = local::Functions::build(&env).map_err(|e| format!("building the functions: {e}"))?;
    let router = |name: &str| functions.routers.get(name).cloned().ok_or(format!("no `{name}` Router"));
    let (book, items) = (router("book")?, router("items-router")?);

    eprintln!("[bench] router: {n} calls direct and through the items router");
    let hop = compare(&[(&book, "/api/books/"), (&items, "/api/items/?type=book")], n, WARM_UP).await?;
    let direct = Summary::of(&hop[0]).ok_or("no samples")?;
    let routed = Summary::of(&hop[1]).ok_or("no samples")?;
    let added = routed.p50 - direct.p50;
    let mut table = Table::new(&["figure", "p50 (ms)", "p99 (ms)", "budget", ""]);
    table.row(vec![
        "`GET /api/books/` on the book Router".into(),
        fmt_ms(direct.p50),
        fmt_ms(direct.p99),
        "—".into(),
        "".into(),
    ]);
    table.row(vec![
        "`GET /api/items/?type=book` through the items router".into(),
        fmt_ms(routed.p50),
        fmt_ms(routed.p99),
        "—".into(),
        "".into(),
    ]);
    let hop_pass = added <= HOP_BUDGET_MS;
    table.row(vec![
        "**added by the router hop (p50 difference)**".into(),
        fmt_ms(added),
        "".into(),
        format!("≤ {HOP_BUDGET_MS} ms"),
        verdict(hop_pass),
    ]);
    if !hop_pass {
        section.misses.push(Miss {
            figure: "router hop in process".into(),
            measured: format!("{} ms added at p50", fmt_ms(added)),
            budget: format!("{HOP_BUDGET_MS} ms"),
            cause: crate::causes::router_hop(),
        });
    }

    // The same items router, with the laptop function slowed down.
    let keys = Arc::new(TokenKeys::new(JWT_SECRET.as_bytes()));
    let mut table_of_services = InProcessInvoker::new();
    for (item_type, _) in ITEM_TYPES {
        let mut service = router(item_type)?;
        if item_type == "laptop" {
            service = service.layer(axum::middleware::from_fn(|request, next: axum::middleware::Next| async move {
                tokio::time::sleep(DELAY).await;
                next.run(request).await
            }));
        }
        table_of_services = table_of_services.with(item_type, service);
    }
    let config = items_router::Config::from_env(&env).map_err(|e| e.to_string())?;
    let state =
        items_router::RouterState::new(&config, Arc::new(table_of_services), keys).map_err(|e| e.to_string())?;
    let slowed = items_router::router(state);
    eprintln!("[bench] router: {fanout_n} fan-out calls with a {} ms delay on laptop", DELAY.as_millis());
    let mut paths = vec![("/api/items/".to_string(), "fan-out `GET /api/items/` (four services)".to_string())];
    for (item_type, _) in ITEM_TYPES {
        let note = if item_type == "laptop" { " (delayed: the slowest)" } else { "" };
        paths.push((format!("/api/items/?type={item_type}"), format!("`GET /api/items/?type={item_type}`{note}")));
    }
    let calls: Vec<(&Router, &str)> = paths.iter().map(|(p, _)| (&slowed, p.as_str())).collect();
    let fan = compare(&calls, fanout_n, 10).await?;
    let summaries: Vec<Summary> = fan.iter().map(|s| Summary::of(s).ok_or("no samples")).collect::<Result<_, _>>()?;
    for ((_, label), summary) in paths.iter().zip(&summaries) {
        table.row(vec![label.clone(), fmt_ms(summary.p50), fmt_ms(summary.p99), "—".into(), "".into()]);
    }
    let slowest = summaries[1..].iter().map(|s| s.p50).fold(0.0, f64::max);
    let sum: f64 = summaries[1..].iter().map(|s| s.p50).sum();
    let ratio = summaries[0].p50 / slowest;
    let fan_pass = ratio <= FANOUT_BUDGET;
    table.row(vec![
        format!("sum of the four single calls (what a sequential fan-out would take): {} ms", fmt_ms(sum)),
        "".into(),
        "".into(),
        "".into(),
        "".into(),
    ]);
    table.row(vec![
        "**fan-out p50 / slowest single call p50**".into(),
        format!("{ratio:.2} ×"),
        "".into(),
        format!("≤ {FANOUT_BUDGET} ×"),
        verdict(fan_pass),
    ]);
    if !fan_pass {
        section.misses.push(Miss {
            figure: "fan-out of four".into(),
            measured: format!("{ratio:.2} × the slowest single call"),
            budget: format!("{FANOUT_BUDGET} ×"),
            cause: String::new(),
        });
    }
    section.tables.push(table);
    let hop_plot = svg::cdf(
        "Book page in process: direct vs through the items router",
        &[Curve::from_samples("direct", &hop[0]), Curve::from_samples("via items router", &hop[1])],
    );
    section.plots.push(ctx.write_plot("router-hop.svg", "router hop CDF", &hop_plot)?);
    let fan_series: Vec<Curve> = paths
        .iter()
        .zip(&fan)
        .map(|((path, _), samples)| {
            let label = match path.split_once("?type=") {
                Some((_, item_type)) => item_type.to_string(),
                None => "fan-out (all four)".to_string(),
            };
            Curve::from_samples(&label, samples)
        })
        .collect();
    let fan_plot = svg::cdf(&format!("Items router with a {} ms delay on laptop", DELAY.as_millis()), &fan_series);
    section.plots.push(ctx.write_plot("router-fanout.svg", "fan-out CDF", &fan_plot)?);
    Ok(())
}
