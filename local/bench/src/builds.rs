//! Step 1 (the release build) and step 3 (arm64 release zips).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use tokio::process::Command;

use crate::report::{Miss, Section, Table, verdict};
use crate::workspace::{FUNCTIONS, is_router};
use crate::{Ctx, Error};

pub const BUILD_TITLE: &str = "Release build";
pub const ZIP_TITLE: &str = "Release zip size (arm64)";
const ARM64: &str = "aarch64-unknown-linux-gnu";
const MB: f64 = 1_000_000.0;
const MIB: f64 = 1_048_576.0;

pub fn zip_budget_bytes(function: &str) -> u64 {
    if is_router(function) { 4_000_000 } else { 10_000_000 }
}

/// Runs a command in the workspace with its output on the bench's stderr, so
/// a long build shows its progress.
async fn run_visible(mut command: Command, what: &str) -> Result<(), Error> {
    command.stdin(Stdio::null()).stdout(Stdio::inherit()).stderr(Stdio::inherit());
    let status = command.status().await.map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{what} failed ({status})").into()) }
}

pub async fn build(ctx: &Ctx, section: &mut Section) -> Result<(), Error> {
    let command_line = "cargo build --release --workspace --bins";
    section.commands.push(command_line.into());
    eprintln!("[bench] {command_line} (target dir {})", ctx.target_display());
    let started = Instant::now();
    let mut command = Command::new("cargo");
    command.current_dir(&ctx.paths.root).args(["build", "--release", "--workspace", "--bins"]);
    run_visible(command, command_line).await?;
    section.notes.push(format!(
        "Release profile of the workspace (`opt-level = \"s\"`, fat LTO, one codegen unit, stripped), \
         x86_64, target dir `{}`; {:.0} s this time (most of it only when sources changed).",
        ctx.target_display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// A program on `PATH`, or in the Python scripts directory where `pip install`
/// puts `cargo-lambda` (often not on `PATH`).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    search_path().into_iter().map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// `PATH` plus the Python scripts directory (cargo-lambda also needs the `zig`
/// that `pip install ziglang` put there).
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Some(scripts) = python_scripts_dir() {
        dirs.push(scripts);
    }
    dirs
}

fn python_scripts_dir() -> Option<PathBuf> {
    let output = std::process::Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        .output()
        .ok()?;
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `cargo-lambda`, installed with pip (with the `zig` it cross-links with) when
/// missing, as `.ci/run` does.
pub async fn ensure_cargo_lambda() -> Result<PathBuf, Error> {
    if let Some(found) = find_tool("cargo-lambda") {
        return Ok(found);
    }
    eprintln!("[bench] python3 -m pip install cargo-lambda ziglang");
    let mut command = Command::new("python3");
    command.args(["-m", "pip", "install", "--quiet", "cargo-lambda", "ziglang"]);
    run_visible(command, "pip install cargo-lambda ziglang").await?;
    find_tool("cargo-lambda").ok_or_else(|| "cargo-lambda was installed but is not found".into())
}

pub fn path_env() -> std::ffi::OsString {
    std::env::join_paths(search_path()).unwrap_or_default()
}

async fn ensure_arm64_target() -> Result<(), Error> {
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .await
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if String::from_utf8_lossy(&output.stdout).lines().any(|l| l.trim() == ARM64) {
        return Ok(());
    }
    eprintln!("[bench] rustup target add {ARM64}");
    let mut command = Command::new("rustup");
    command.args(["target", "add", ARM64]);
    run_visible(command, "rustup target add").await
}

fn file_size(path: &Path) -> Result<u64, Error> {
    Ok(std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?.len())
}

pub async fn zips(ctx: &Ctx, section: &mut Section) -> Result<(), Error> {
    let cargo_lambda = ensure_cargo_lambda().await?;
    ensure_arm64_target().await?;
    let mut args: Vec<String> =
        ["lambda", "build", "--release", "--arm64", "--output-format", "zip"].iter().map(|a| a.to_string()).collect();
    for function in FUNCTIONS {
        args.push("--bin".into());
        args.push(function.to_string());
    }
    let line = format!("cargo {}", args.join(" "));
    section.commands.push(line.clone());
    eprintln!("[bench] {line}");
    let mut command = Command::new("cargo");
    command.current_dir(&ctx.paths.root).args(&args).env("PATH", path_env());
    run_visible(command, "cargo lambda build").await?;
    let version = std::process::Command::new(&cargo_lambda)
        .args(["lambda", "--version"])
        .env("PATH", path_env())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    section.notes.push(format!(
        "{version}, cross-linked with zig. Sizes of `<target>/lambda/<function>/bootstrap.zip`; \
         MB = 10^6 bytes (the budget's unit), MiB = 2^20. The unzipped column is the stripped arm64 `bootstrap`."
    ));
    section.notes.push(
        "What keeps them small (workspace `Cargo.toml` and `.cargo/config.toml`): one crypto library, ring, for \
         TLS and the HS256 tokens (the AWS SDKs' default client and jsonwebtoken's providers would each bring \
         aws-lc or every JWT algorithm); SQLite built without the FTS3/FTS5, R*Tree, dbstat, STAT4 and soundex \
         extensions no store uses; `opt-level = \"z\"` for the MongoDB driver, the AWS SDK, TLS and DNS, which \
         run once per cold start or per call to another service; the Lambda client built from the environment \
         rather than aws-config's default chain; debug and trace events compiled out of release builds."
            .to_string(),
    );
    let mut table = Table::new(&["function", "zip (MB)", "zip (MiB)", "unzipped (MB)", "budget", ""]);
    for function in FUNCTIONS {
        let zip = file_size(&ctx.paths.target.join("lambda").join(function).join("bootstrap.zip"))?;
        let binary = file_size(&ctx.paths.target.join(ARM64).join("release").join(function)).ok();
        let budget = zip_budget_bytes(function);
        let pass = zip <= budget;
        table.row(vec![
            function.to_string(),
            format!("{:.2}", zip as f64 / MB),
            format!("{:.2}", zip as f64 / MIB),
            binary.map(|b| format!("{:.1}", b as f64 / MB)).unwrap_or_else(|| "?".into()),
            format!("≤ {} MB", budget / 1_000_000),
            verdict(pass),
        ]);
        if !pass {
            section.misses.push(Miss {
                figure: format!("{function} zip"),
                measured: format!("{:.2} MB", zip as f64 / MB),
                budget: format!("{} MB", budget / 1_000_000),
                cause: crate::causes::zip(function),
            });
        }
    }
    section.tables.push(table);
    Ok(())
}
