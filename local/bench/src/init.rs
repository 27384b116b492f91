//! Step 2: init time, from just before the process is spawned to its first
//! `GET /2018-06-01/runtime/invocation/next`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::lambda::MockLambda;
use crate::process::{self, kill, lambda_command, log_tail, require_file, spawn};
use crate::report::{Miss, Section, Table, verdict};
use crate::stats::{Summary, fmt_ms, ms};
use crate::svg::{self, Series};
use crate::workspace::{FUNCTIONS, TempDir, is_router};
use crate::{Ctx, Error};

pub const TITLE: &str = "Init time";

pub fn budget_ms(function: &str) -> f64 {
    if is_router(function) { 20.0 } else { 40.0 }
}

pub async fn run(ctx: &Ctx, section: &mut Section) -> Result<(), Error> {
    let starts = ctx.effort.starts;
    section.commands.push(format!(
        "AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port> AWS_LAMBDA_FUNCTION_NAME=<function> ... {}/release/<function>",
        ctx.target_display()
    ));
    section.notes.push(format!(
        "Each release binary is started {starts} times (after one unmeasured start that warms the page cache) \
         against the bench's minimal Lambda Runtime API, with the variables Lambda sets, the template's settings, \
         `JWT_SECRET`, and `LOCAL_DATA_DIR` (embedded SQLite stores, opened lazily). Init is the time from just \
         before the spawn to the arrival of the first `GET /2018-06-01/runtime/invocation/next`; the process is \
         then killed. p99 is nearest-rank. **These are x86_64 binaries on this machine, not arm64 on Lambda**: \
         Lambda adds its own sandbox start and runs on a slower, throttled CPU share, so treat the figures as the \
         functions' own share of a cold start."
    ));
    let data = TempDir::new("init")?;
    let peers = Arc::new(HashMap::new());
    let mut table = Table::new(&["function", "kind", "starts", "p50 (ms)", "p99 (ms)", "max (ms)", "budget (p50)", ""]);
    let mut series = Vec::new();
    let mut budgets = Vec::new();
    for function in FUNCTIONS {
        let binary = require_file(&ctx.paths.release_bin(function))?;
        let memory = ctx.memory.get(function).copied().unwrap_or(128);
        let mut samples = Vec::with_capacity(starts);
        for i in 0..=starts {
            let sample = start_once(&binary, function, memory, data.path(), &peers).await?;
            if i > 0 {
                samples.push(sample);
            }
        }
        let summary = Summary::of(&samples).ok_or("no init samples")?;
        let budget = budget_ms(function);
        let pass = summary.p50 <= budget;
        eprintln!("[bench] init {function}: p50 {} ms, p99 {} ms", fmt_ms(summary.p50), fmt_ms(summary.p99));
        table.row(vec![
            function.to_string(),
            if is_router(function) { "router".into() } else { "service".into() },
            summary.count.to_string(),
            fmt_ms(summary.p50),
            fmt_ms(summary.p99),
            fmt_ms(summary.max),
            format!("≤ {budget} ms"),
            verdict(pass),
        ]);
        if !pass {
            section.misses.push(Miss {
                figure: format!("{function} init p50"),
                measured: format!("{} ms", fmt_ms(summary.p50)),
                budget: format!("{budget} ms"),
                cause: crate::causes::init(function),
            });
        }
        series.push(Series { label: function.to_string(), samples });
        budgets.push(Some(budget));
    }
    section.tables.push(table);
    let svg = svg::strip(
        "Init time per start (dots), median (black bar), budget (red dashes)",
        "ms from spawn to the first next-invocation poll",
        &series,
        &budgets,
    );
    section.plots.push(ctx.write_plot("init.svg", "init time per function", &svg)?);
    Ok(())
}

enum Outcome {
    Polled(Option<Instant>),
    Exited(String),
}

async fn start_once(
    binary: &Path,
    function: &str,
    memory: u64,
    data: &Path,
    peers: &Arc<HashMap<String, axum::Router>>,
) -> Result<f64, Error> {
    let mut lambda = MockLambda::start(function, peers.clone()).await?;
    let log = data.join(format!("{function}.init.log"));
    let command = lambda_command(binary, function, memory, lambda.addr, data, &log)?;
    let started = Instant::now();
    let mut child = spawn(command, function)?;
    let outcome = tokio::select! {
        polled = lambda.first_poll(Duration::from_secs(30)) => Outcome::Polled(polled),
        status = child.wait() => Outcome::Exited(status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string())),
    };
    kill(&mut child).await;
    let init_error = lambda.init_error();
    lambda.stop().await;
    match outcome {
        Outcome::Polled(Some(at)) => Ok(ms(at - started)),
        Outcome::Polled(None) => {
            Err(format!("{function} did not poll for an invocation within 30 s: {}", log_tail(&log, 5)).into())
        }
        Outcome::Exited(status) => Err(format!(
            "{function} exited ({status}) before polling for an invocation: {}{}",
            init_error.map(|e| format!("{e} ")).unwrap_or_default(),
            process::log_tail(&log, 5)
        )
        .into()),
    }
}
