//! Step 4: peak memory (VmHWM) of each function process after serving its
//! requests through the mock Runtime API, one at a time as Lambda sends them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{Method, Request};
use serde_json::Value;
use shared::auth::TokenKeys;
use shared::config::Env;
use tower::ServiceExt;

use crate::lambda::{MockLambda, Reply, event_for};
use crate::process::{self, JWT_SECRET, kill, lambda_command, log_tail, require_file, spawn};
use crate::report::{Miss, Section, Table, verdict};
use crate::workloads;
use crate::workspace::{FUNCTIONS, TempDir};
use crate::{Ctx, Error};

pub const TITLE: &str = "Peak memory serving requests";
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer of the function under test.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn text(&self, field: &str) -> String {
        self.body[field].as_str().unwrap_or_default().to_string()
    }
}

/// Sends requests to the function process as Lambda invocations and counts
/// what comes back; stops sending at the request limit.
pub struct Driver {
    lambda: MockLambda,
    pub sent: usize,
    pub limit: usize,
    pub statuses: BTreeMap<u16, usize>,
    pub failures: Vec<String>,
}

impl Driver {
    /// Sends a request unless the limit is reached (`None`).
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Option<Answer>, Error> {
        if self.sent >= self.limit {
            return Ok(None);
        }
        self.sent += 1;
        let request = build_request(method.clone(), path, headers, body)?;
        let reply = self.lambda.invoke(event_for(&request), INVOKE_TIMEOUT).await?;
        let answer = match reply {
            Reply::Response(payload) => {
                let response = shared::invoke::from_apigw_response(&payload)
                    .map_err(|e| format!("{method} {path}: the function's reply is no API Gateway response: {e}"))?;
                let body = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
                Answer { status: response.status().as_u16(), body }
            }
            Reply::Error(payload) => {
                Answer { status: 0, body: serde_json::from_slice(&payload).unwrap_or(Value::Null) }
            }
        };
        *self.statuses.entry(answer.status).or_default() += 1;
        if !(200..300).contains(&answer.status) && self.failures.len() < 5 {
            let body = answer.body.to_string();
            self.failures.push(format!("{method} {path} → {}: {}", answer.status, truncate(&body, 300)));
        }
        Ok(Some(answer))
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

pub fn build_request(
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&Value>,
) -> Result<Request<Bytes>, Error> {
    let mut builder = Request::builder().method(method).uri(path).header("host", "api.shop.test");
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    let bytes = match body {
        Some(body) => {
            builder = builder.header("content-type", "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    builder.body(bytes).map_err(|e| format!("bad request {path}: {e}").into())
}

/// The whole shop in this process: the functions the measured one invokes, and
/// the API the workloads prepare their data through (not counted).
#[derive(Clone)]
pub struct Shop {
    pub app: Router,
    pub keys: Arc<TokenKeys>,
    /// Where the workloads' customers get their accounts.
    pub accounts: crate::accounts::Accounts,
}

impl Shop {
    /// Calls the in-process API and fails on anything but 2xx: preparation must work.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let request = build_request(method.clone(), path, headers, body)?.map(Body::from);
        let response = self.app.clone().oneshot(request).await.unwrap_or_else(|never| match never {});
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 8 * 1024 * 1024).await.map_err(|e| e.to_string())?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!("preparing: {method} {path} answered {status}: {value}").into());
        }
        Ok(value)
    }
}

pub struct Measured {
    pub memory_mb: u64,
    pub peak_kib: u64,
    pub rss_kib: u64,
    pub sent: usize,
    pub non_2xx: usize,
    pub statuses: BTreeMap<u16, usize>,
    pub failures: Vec<String>,
    pub seconds: f64,
}

pub async fn run(ctx: &Ctx, section: &mut Section) -> Result<(), Error> {
    let requests = ctx.effort.rss_requests;
    section.commands.push(format!("LOCAL_DATA_DIR=<tmp> {}/release/load-fixtures", ctx.target_display()));
    section.commands.push(format!(
        "AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port> AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:<port> LOCAL_DATA_DIR=<tmp> ... {}/release/<function>",
        ctx.target_display()
    ));
    section.notes.push(format!(
        "Each function process serves {requests} API Gateway v2 events, one at a time as Lambda sends them, through \
         the bench's Runtime API; peak RSS is `VmHWM` from `/proc/<pid>/status` after the last response. The stores \
         are SQLite files holding the catalog and customer fixtures. The requests are each function's own reads \
         and writes (lists, details, searches, creates and updates; sessions and history; accounts, addresses and \
         logins with argon2; VIP points; cart lines; checkouts, payments with captures, shipment events). Calls to \
         other functions go to the bench's Lambda Invoke endpoint (`AWS_ENDPOINT_URL_LAMBDA`), which answers with \
         the real functions' Routers running in the bench, so every call succeeds as it would deployed; data the \
         requests need (a filled cart before a checkout, an order before a payment) is prepared there too and not \
         counted. The budget is the function's `MemorySize` in template.yaml."
    ));
    let data = TempDir::new("rss")?;
    let store = data.path().join("data");
    eprintln!("[bench] rss: loading the fixtures");
    process::load_fixtures(&ctx.paths, &store, &ctx.paths.root).await?;
    let env = Env::from_pairs([
        ("LOCAL_DATA_DIR", store.display().to_string()),
        ("JWT_SECRET", JWT_SECRET.to_string()),
        ("MAIL_DIR", store.join("mail").display().to_string()),
    ]);
    let functions = local::Functions::build(&env).map_err(|e| format!("building the in-process functions: {e}"))?;
    let shop = Shop {
        app: functions.app().map_err(|e| e.to_string())?,
        keys: Arc::new(TokenKeys::new(JWT_SECRET.as_bytes())),
        accounts: crate::accounts::Accounts::new(functions.registered.store.clone())?,
    };
    let peers: Arc<HashMap<String, Router>> = Arc::new(functions.routers.clone());
    let fixtures = workloads::Fixtures::read(&ctx.paths.root)?;

    let mut table = Table::new(&[
        "function",
        "requests",
        "non-2xx",
        "peak RSS (MiB)",
        "RSS after (MiB)",
        "MemorySize (MB)",
        "peak / memory",
        "",
    ]);
    for function in FUNCTIONS {
        let measured = measure(ctx, function, requests, &store, &peers, &shop, &fixtures).await?;
        let peak_mib = measured.peak_kib as f64 / 1024.0;
        let pass = peak_mib < measured.memory_mb as f64 && measured.non_2xx == 0;
        eprintln!(
            "[bench] rss {function}: peak {peak_mib:.1} MiB after {} requests ({} non-2xx) in {:.1} s",
            measured.sent, measured.non_2xx, measured.seconds
        );
        table.row(vec![
            function.to_string(),
            measured.sent.to_string(),
            measured.non_2xx.to_string(),
            format!("{peak_mib:.1}"),
            format!("{:.1}", measured.rss_kib as f64 / 1024.0),
            measured.memory_mb.to_string(),
            format!("{:.0} %", peak_mib / measured.memory_mb as f64 * 100.0),
            verdict(pass),
        ]);
        if measured.non_2xx > 0 {
            section.notes.push(format!(
                "{function}: {} of {} answers were not 2xx ({:?}), e.g. {}",
                measured.non_2xx,
                measured.sent,
                measured.statuses,
                measured.failures.join("; ")
            ));
            section.misses.push(Miss {
                figure: format!("{function} requests"),
                measured: format!("{} non-2xx of {}", measured.non_2xx, measured.sent),
                budget: "none".into(),
                cause: "a figure measured on errors is worthless: the workload or the function needs fixing".into(),
            });
        }
        if peak_mib >= measured.memory_mb as f64 {
            section.misses.push(Miss {
                figure: format!("{function} peak RSS"),
                measured: format!("{peak_mib:.1} MiB"),
                budget: format!("{} MB", measured.memory_mb),
                cause: String::new(),
            });
        }
    }
    section.tables.push(table);
    Ok(())
}

async fn measure(
    ctx: &Ctx,
    function: &str,
    requests: usize,
    store: &std::path::Path,
    peers: &Arc<HashMap<String, Router>>,
    shop: &Shop,
    fixtures: &workloads::Fixtures,
) -> Result<Measured, Error> {
    let binary = require_file(&ctx.paths.release_bin(function))?;
    let memory_mb = ctx.memory.get(function).copied().unwrap_or(128);
    let mut lambda = MockLambda::start(function, peers.clone()).await?;
    let log = store.join(format!("{function}.rss.log"));
    let command = lambda_command(&binary, function, memory_mb, lambda.addr, store, &log)?;
    let mut child = spawn(command, function)?;
    let pid = child.id().ok_or("the function exited at once")?;
    if lambda.first_poll(Duration::from_secs(30)).await.is_none() {
        kill(&mut child).await;
        return Err(format!("{function} did not start: {}", log_tail(&log, 5)).into());
    }
    let mut driver = Driver { lambda, sent: 0, limit: requests, statuses: BTreeMap::new(), failures: Vec::new() };
    let started = Instant::now();
    let outcome = workloads::run(function, &mut driver, shop, fixtures).await;
    let seconds = started.elapsed().as_secs_f64();
    let memory = process::memory_kib(pid);
    kill(&mut child).await;
    let Driver { lambda, sent, statuses, failures, .. } = driver;
    lambda.stop().await;
    outcome.map_err(|e| format!("{function} workload: {e} (log: {})", log_tail(&log, 3)))?;
    let (peak_kib, rss_kib) = memory?;
    let non_2xx = statuses.iter().filter(|(s, _)| !(200..300).contains(*s)).map(|(_, n)| n).sum();
    Ok(Measured { memory_mb, peak_kib, rss_kib, sent, non_2xx, statuses, failures, seconds })
}
