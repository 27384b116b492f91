//! Step 7: the book page and the fan-out through `cargo lambda watch --release`,
//! where every function is a real Lambda process and the items router reaches
//! the item functions through the emulator's Invoke API. Reported, not budgeted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::builds::{ensure_cargo_lambda, path_env};
use crate::client::{Conn, wait_until_ok};
use crate::report::{Section, Table};
use crate::stats::{Summary, fmt_ms, ms};
use crate::svg::{self, Curve};
use crate::workspace::TempDir;
use crate::{Ctx, Error};

pub const TITLE: &str = "Through `cargo lambda watch` (real Invoke path)";
const WATCH_PORT: u16 = 9000;

/// `[workspace.metadata.lambda.env]` of the workspace manifest.
pub fn watch_env(manifest: &str) -> Result<BTreeMap<String, String>, Error> {
    let doc: toml::Table = toml::from_str(manifest).map_err(|e| format!("Cargo.toml: {e}"))?;
    let env = doc
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("lambda"))
        .and_then(|l| l.get("env"))
        .and_then(|e| e.as_table())
        .ok_or("Cargo.toml has no [workspace.metadata.lambda.env]")?;
    Ok(env.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
}

/// Stops watch and every function process it started: they share its process group.
async fn stop_group(child: &mut Child) {
    let Some(pid) = child.id() else { return };
    let group = format!("-{pid}");
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status().await;
    if tokio::time::timeout(Duration::from_secs(10), child.wait()).await.is_err() {
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    }
    // Function processes may outlive watch itself by a moment.
    let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status().await;
}

struct Measured {
    samples: Vec<f64>,
    non_2xx: usize,
}

async fn sequential(addr: SocketAddr, path: &str, n: usize, warm_up: usize) -> Result<Measured, Error> {
    let mut conn = Conn::connect(addr).await?;
    let mut samples = Vec::with_capacity(n);
    let mut non_2xx = 0;
    for i in 0..warm_up + n {
        let started = Instant::now();
        let (status, _) = conn.get(path, &[]).await?;
        let elapsed = ms(started.elapsed());
        if i >= warm_up {
            samples.push(elapsed);
            if !status.is_success() {
                non_2xx += 1;
            }
        }
    }
    Ok(Measured { samples, non_2xx })
}

pub async fn run(ctx: &Ctx, section: &mut Section) -> Result<(), Error> {
    ensure_cargo_lambda().await?;
    let root = &ctx.paths.root;
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let env = watch_env(&manifest)?;
    let data = root.join(env.get("LOCAL_DATA_DIR").map(String::as_str).unwrap_or("local/data/watch"));
    let logs = TempDir::new("watch")?;
    eprintln!("[bench] watch: loading the fixtures into {}", data.display());
    load_into(ctx, &data, logs.path()).await?;

    // The routers invoke through `AWS_ENDPOINT_URL_LAMBDA`, which the metadata pins
    // to :9000 and which `--env-var` does not override (the metadata wins), so
    // watch must listen there for the fan-out to reach the item functions.
    let port = WATCH_PORT;
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        return Err(format!(
            "port {port} is taken (another `cargo lambda watch`?): the routers' AWS_ENDPOINT_URL_LAMBDA in \
             [workspace.metadata.lambda.env] points there, so the bench's watch must listen on it"
        )
        .into());
    }
    let args = vec![
        "lambda".to_string(),
        "watch".into(),
        "--release".into(),
        "--invoke-address".into(),
        "127.0.0.1".into(),
        "--invoke-port".into(),
        port.to_string(),
    ];
    let line = format!("cargo {}", args.join(" "));
    section.commands.push(line.clone());
    eprintln!("[bench] {line}");
    let log = logs.path().join("watch.log");
    let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new("cargo");
    command
        .current_dir(root)
        .args(&args)
        .env("PATH", path_env())
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err))
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| format!("cannot start cargo lambda watch: {e}"))?;
    let result = measure(ctx, section, &mut child, port, &log).await;
    stop_group(&mut child).await;
    result
}

async fn load_into(ctx: &Ctx, data: &Path, logs: &Path) -> Result<(), Error> {
    let loader = ctx.paths.release_bin("load-fixtures");
    let mut command = crate::process::clean_command(&loader);
    command.current_dir(&ctx.paths.root).env("LOCAL_DATA_DIR", data).env("HOME", logs);
    crate::process::run(command, "load-fixtures", &logs.join("load-fixtures.log")).await
}

async fn measure(ctx: &Ctx, section: &mut Section, child: &mut Child, port: u16, log: &Path) -> Result<(), Error> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut alive = || match child.try_wait() {
        Ok(None) => Ok(()),
        Ok(Some(status)) => {
            Err(format!("cargo lambda watch exited ({status}): {}", crate::process::log_tail(log, 8)).into())
        }
        Err(e) => Err(Error::from(e.to_string())),
    };
    // The first request may compile the functions (already built by the release step).
    wait_until_ok(addr, "/api/books/", Duration::from_secs(900), &mut alive).await?;
    wait_until_ok(addr, "/api/items/", Duration::from_secs(300), &mut alive).await?;
    // The first fan-outs start the item functions (watch builds and starts each on
    // its first invocation, which can outlast the router's 3 s deadline).
    let mut conn = Conn::connect(addr).await?;
    let mut checked = crate::client::check_fan_out(&mut conn).await;
    for _ in 0..120 {
        if checked.is_ok() {
            break;
        }
        alive()?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        checked = crate::client::check_fan_out(&mut conn).await;
    }
    checked?;
    let n = ctx.effort.watch_requests;
    section.notes.push(format!(
        "Every function runs as a real Lambda process under the emulator, with the environment of \
         `[workspace.metadata.lambda.env]` (SQLite stores in `local/data/watch`, fixtures loaded first); the \
         items router invokes the item functions through the emulator's Lambda Invoke API. {n} sequential \
         requests on one connection per path, after 10 warm-up requests. Functional latency through the real \
         Invoke path: reported, not budgeted."
    ));
    let mut table = Table::new(&["request", "requests", "non-2xx", "p50 (ms)", "p99 (ms)", "budget"]);
    let mut series = Vec::new();
    for (path, label) in [("/api/books/", "book page `GET /api/books/`"), ("/api/items/", "fan-out `GET /api/items/`")]
    {
        eprintln!("[bench] watch: {n} × GET {path}");
        let measured = sequential(addr, path, n, 10).await?;
        let summary = Summary::of(&measured.samples).ok_or("no samples")?;
        table.row(vec![
            label.to_string(),
            measured.samples.len().to_string(),
            measured.non_2xx.to_string(),
            fmt_ms(summary.p50),
            fmt_ms(summary.p99),
            "— (reported)".into(),
        ]);
        series.push(Curve::from_samples(path, &measured.samples));
    }
    section.tables.push(table);
    let plot = svg::cdf("Through cargo lambda watch (1 connection)", &series);
    section.plots.push(ctx.write_plot("watch.svg", "watch latency CDF", &plot)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_watch_environment_from_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml")).unwrap();
        let env = watch_env(&manifest).unwrap();
        assert!(env.contains_key("JWT_SECRET"));
        assert!(env.contains_key("LOCAL_DATA_DIR"));
        assert!(watch_env("[workspace]\n").is_err());
    }
}
