//! Command-line options.

use std::path::PathBuf;

pub const USAGE: &str =
    "usage: cargo run --release -p bench -- [--quick] [--out PATH] [--only init,zip,rss,load,router,watch]

  --quick   few starts, requests and short load runs: a smoke run; the report goes to a
            temporary directory unless --out is given
  --out     where to write the report (plots go to `benchmarks/` next to it);
            default local/BENCHMARKS.md
  --only    run these steps only
  --no-build  measure the binaries of the last release build (while iterating on the bench)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Init,
    Zip,
    Rss,
    Load,
    Router,
    Watch,
}

impl Step {
    pub const ALL: [Step; 6] = [Step::Init, Step::Zip, Step::Rss, Step::Load, Step::Router, Step::Watch];

    pub fn name(self) -> &'static str {
        match self {
            Step::Init => "init",
            Step::Zip => "zip",
            Step::Rss => "rss",
            Step::Load => "load",
            Step::Router => "router",
            Step::Watch => "watch",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name.trim())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub quick: bool,
    pub out: Option<PathBuf>,
    pub steps: Vec<Step>,
    pub no_build: bool,
}

/// How much each step measures: the full run, or a smoke run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effort {
    pub starts: usize,
    pub rss_requests: usize,
    pub load_secs: f64,
    pub router_calls: usize,
    pub fanout_calls: usize,
    pub watch_requests: usize,
}

impl Options {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Self>, String> {
        let mut options = Options { quick: false, out: None, steps: Step::ALL.to_vec(), no_build: false };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--no-build" => options.no_build = true,
                "--out" => options.out = Some(args.next().ok_or("--out needs a path")?.into()),
                "--only" => {
                    let list = args.next().ok_or("--only needs a list of steps")?;
                    let mut steps = Vec::new();
                    for name in list.split(',').filter(|n| !n.trim().is_empty()) {
                        steps.push(Step::parse(name).ok_or_else(|| format!("unknown step `{name}`\n{USAGE}"))?);
                    }
                    if steps.is_empty() {
                        return Err(format!("--only needs at least one step\n{USAGE}"));
                    }
                    steps.sort();
                    steps.dedup();
                    options.steps = steps;
                }
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
            }
        }
        Ok(Some(options))
    }

    pub fn runs(&self, step: Step) -> bool {
        self.steps.contains(&step)
    }

    pub fn effort(&self) -> Effort {
        if self.quick {
            Effort {
                starts: 5,
                rss_requests: 100,
                load_secs: 2.0,
                router_calls: 200,
                fanout_calls: 20,
                watch_requests: 20,
            }
        } else {
            Effort {
                starts: 30,
                rss_requests: 1_000,
                load_secs: 10.0,
                router_calls: 2_000,
                fanout_calls: 200,
                watch_requests: 200,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, String> {
        Options::parse(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn defaults_run_every_step_in_full() {
        let options = parse(&[]).unwrap().unwrap();
        assert_eq!(options.steps, Step::ALL.to_vec());
        assert_eq!(options.effort().starts, 30);
        assert_eq!(options.effort().rss_requests, 1_000);
        assert!(options.out.is_none());
        assert!(!options.no_build);
    }

    #[test]
    fn quick_only_and_out() {
        let options = parse(&["--quick", "--only", "watch,init,init", "--out", "/tmp/r.md"]).unwrap().unwrap();
        assert!(options.quick);
        assert_eq!(options.steps, vec![Step::Init, Step::Watch]);
        assert_eq!(options.out, Some(PathBuf::from("/tmp/r.md")));
        assert_eq!(options.effort().starts, 5);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse(&["--only", "nope"]).is_err());
        assert!(parse(&["--only", ""]).is_err());
        assert!(parse(&["--out"]).is_err());
        assert!(parse(&["--fast"]).is_err());
        assert_eq!(parse(&["--help"]).unwrap(), None);
    }
}
