//! Starting and stopping the processes the bench measures.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::Error;
use crate::workspace;

/// The secret every function under the bench signs and checks tokens with:
/// the development secret, so the local server's tokens work too.
pub const JWT_SECRET: &str = shared::auth::DEVELOPMENT_SECRET;

/// A command with nothing of the bench's own environment but `PATH`, so a
/// developer's `*_DATABASE_URL` or `RUST_LOG` cannot change what is measured.
pub fn clean_command(program: &Path) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.kill_on_drop(true);
    command
}

/// The function binary as Lambda starts it: the variables Lambda sets, the
/// template's settings, the embedded stores under `data`, and both Lambda APIs
/// at `lambda`.
pub fn lambda_command(
    binary: &Path,
    function: &str,
    memory_mb: u64,
    lambda: SocketAddr,
    data: &Path,
    log: &Path,
) -> Result<Command, Error> {
    let mut command = clean_command(binary);
    let log_file = std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
    let dir = binary.parent().unwrap_or(Path::new("/"));
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(log_err))
        .env("AWS_LAMBDA_RUNTIME_API", lambda.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string())
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/shop/{function}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_SESSION_TOKEN", "bench")
        .env("AWS_ENDPOINT_URL_LAMBDA", format!("http://{lambda}"))
        .env("LAMBDA_TASK_ROOT", dir)
        .env("_HANDLER", "bootstrap")
        .env("TZ", ":UTC")
        // The SDK reads ~/.aws when it finds one: not the developer's.
        .env("HOME", data)
        .env("JWT_SECRET", JWT_SECRET)
        .env("RUST_LOG", "info")
        .env("DATABASE_MAX_CONNECTIONS", "2")
        .env("LOCAL_DATA_DIR", data)
        .env("MAIL_DIR", data.join("mail"));
    for (name, value) in workspace::function_env(function) {
        command.env(name, value);
    }
    Ok(command)
}

pub fn spawn(mut command: Command, what: &str) -> Result<Child, Error> {
    command.spawn().map_err(|e| format!("cannot start {what}: {e}").into())
}

pub async fn kill(child: &mut Child) {
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
}

/// The end of a log file, for error messages.
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join(" / ")
}

/// Peak and current resident memory of a process, in KiB (`VmHWM`, `VmRSS`).
pub fn memory_kib(pid: u32) -> Result<(u64, u64), Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    Ok((status_kib(&status, "VmHWM")?, status_kib(&status, "VmRSS")?))
}

pub fn status_kib(status: &str, field: &str) -> Result<u64, Error> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc status").into())
}

/// Runs a command to completion, failing with its output's end.
pub async fn run(mut command: Command, what: &str, log: &Path) -> Result<(), Error> {
    let file = std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    command.stdout(Stdio::from(file)).stderr(Stdio::from(err)).stdin(Stdio::null());
    let status = command.status().await.map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{what} failed ({status}): {}", log_tail(log, 8)).into()) }
}

/// Loads the catalog and customer fixtures into the SQLite stores under `data`
/// with the workspace's own loader.
pub async fn load_fixtures(paths: &workspace::Paths, data: &Path, cwd: &Path) -> Result<(), Error> {
    let loader = paths.release_bin("load-fixtures");
    std::fs::create_dir_all(data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    let mut command = clean_command(&loader);
    command.current_dir(cwd).env("LOCAL_DATA_DIR", data).env("HOME", data);
    run(command, "load-fixtures", &data.join("load-fixtures.log")).await
}

pub fn require_file(path: &Path) -> Result<PathBuf, Error> {
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(format!("{} is missing: the release build did not produce it", path.display()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_memory_fields_of_proc_status() {
        let status = "Name:\tbook\nVmPeak:\t  100 kB\nVmHWM:\t   23456 kB\nVmRSS:\t   20000 kB\n";
        assert_eq!(status_kib(status, "VmHWM").unwrap(), 23_456);
        assert_eq!(status_kib(status, "VmRSS").unwrap(), 20_000);
        assert!(status_kib(status, "VmSwap").is_err());
    }

    #[test]
    fn this_process_has_a_peak_at_least_its_current_rss() {
        let (hwm, rss) = memory_kib(std::process::id()).unwrap();
        assert!(hwm >= rss && rss > 0);
    }
}
