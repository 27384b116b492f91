//! `cargo run --release -p bench`: measures the functions against the budgets of
//! DESIGN.md section 9 and writes `local/BENCHMARKS.md` with SVG plots in
//! `local/benchmarks/`. See `--help` for a smoke run and a subset of steps.

mod accounts;
mod builds;
mod causes;
mod client;
mod init;
mod lambda;
mod load;
mod options;
mod process;
mod report;
mod router;
mod rss;
mod stats;
mod svg;
mod watch;
mod workloads;
mod workspace;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use options::{Effort, Options, Step};
use report::{Plot, Report, Section};
use workspace::Paths;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What every step needs: where things are, how much to measure, where plots go.
pub struct Ctx {
    pub paths: Paths,
    pub effort: Effort,
    pub memory: BTreeMap<String, u64>,
    /// Directory the plots are written to, and its path relative to the report.
    pub plots_dir: PathBuf,
    pub plots_link: String,
}

impl Ctx {
    pub fn target_display(&self) -> String {
        match self.paths.target.strip_prefix(&self.paths.root) {
            Ok(relative) => relative.display().to_string(),
            Err(_) => self.paths.target.display().to_string(),
        }
    }

    pub fn write_plot(&self, file: &str, title: &str, svg: &str) -> Result<Plot, Error> {
        std::fs::create_dir_all(&self.plots_dir).map_err(|e| format!("{}: {e}", self.plots_dir.display()))?;
        let path = self.plots_dir.join(file);
        std::fs::write(&path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Plot { title: title.to_string(), file: format!("{}/{file}", self.plots_link) })
    }
}

fn main() -> std::process::ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{}", options::USAGE);
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs the steps and writes the report; `false` when a step failed.
async fn run(options: Options) -> Result<bool, Error> {
    let paths = Paths::discover()?;
    let out = match (&options.out, options.quick) {
        (Some(out), _) => out.clone(),
        (None, false) => paths.root.join("local/BENCHMARKS.md"),
        (None, true) => std::env::temp_dir().join("shop-bench-quick/BENCHMARKS.md"),
    };
    let out_dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let template = std::fs::read_to_string(paths.root.join("template.yaml"))
        .map_err(|e| format!("cannot read template.yaml: {e}"))?;
    let ctx = Ctx {
        effort: options.effort(),
        memory: workspace::memory_sizes(&template)?,
        plots_dir: out_dir.join("benchmarks"),
        plots_link: "benchmarks".into(),
        paths,
    };
    let mut command = "cargo run --release -p bench".to_string();
    if options.quick {
        command.push_str(" -- --quick");
    }
    let mut report = Report { machine: workspace::machine(), command, ..Report::default() };
    if options.quick {
        report.mode = "**Smoke run (`--quick`)**: few starts, requests and short load runs; not the figures to \
                       judge the budgets by."
            .into();
    }
    eprintln!("[bench] report: {}", out.display());

    let mut ok = true;
    let mut build = Section::new(builds::BUILD_TITLE);
    if options.no_build {
        build.notes.push("Skipped (`--no-build`): the binaries of the last release build were measured.".into());
    } else if let Err(e) = builds::build(&ctx, &mut build).await {
        // Nothing else can run without the binaries.
        build.error = Some(e.to_string());
        report.sections.push(build);
        write_report(&report, &out)?;
        return Ok(false);
    }
    report.sections.push(build);

    for step in Step::ALL {
        let title = match step {
            Step::Init => init::TITLE,
            Step::Zip => builds::ZIP_TITLE,
            Step::Rss => rss::TITLE,
            Step::Load => load::TITLE,
            Step::Router => router::TITLE,
            Step::Watch => watch::TITLE,
        };
        if !options.runs(step) {
            report.sections.push(Section::skipped(title));
            continue;
        }
        eprintln!("[bench] step {}: {title}", step.name());
        let mut section = Section::new(title);
        let result = match step {
            Step::Init => init::run(&ctx, &mut section).await,
            Step::Zip => builds::zips(&ctx, &mut section).await,
            Step::Rss => rss::run(&ctx, &mut section).await,
            Step::Load => load::run(&ctx, &mut section).await,
            Step::Router => router::run(&ctx, &mut section).await,
            Step::Watch => watch::run(&ctx, &mut section).await,
        };
        if let Err(e) = result {
            eprintln!("[bench] step {} failed: {e}", step.name());
            section.error = Some(e.to_string());
            ok = false;
        }
        report.sections.push(section);
        // Written after every step, so a later failure keeps what was measured.
        write_report(&report, &out)?;
    }
    write_report(&report, &out)?;
    eprintln!("[bench] wrote {}", out.display());
    Ok(ok)
}

fn write_report(report: &Report, out: &Path) -> Result<(), Error> {
    std::fs::write(out, report::render(report)).map_err(|e| format!("cannot write {}: {e}", out.display()).into())
}
