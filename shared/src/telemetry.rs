//! Tracing set-up: JSON lines in Lambda (CloudWatch parses them), readable text locally.
//!
//! `RUST_LOG` takes `level` or `target=level,...` (default `info`). It is read with
//! `Targets` rather than `EnvFilter`: the same directives for what the functions
//! need, without a regex engine in every function's zip.

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init() {
    let directives = std::env::var("RUST_LOG").ok();
    let filter = filter(directives.as_deref());
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (tests, local server) keeps the first subscriber.
    let _ = if in_lambda {
        registry.with(tracing_subscriber::fmt::layer().json().with_current_span(false).without_time()).try_init()
    } else {
        registry.with(tracing_subscriber::fmt::layer().compact()).try_init()
    };
}

/// The directives, or `info` for everything when they are missing or malformed.
fn filter(directives: Option<&str>) -> Targets {
    directives
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .and_then(|d| d.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::level_filters::LevelFilter;

    #[test]
    fn rust_log_directives_pick_levels_per_target() {
        let targets = filter(Some("warn,shared=debug,sqlx=off"));
        assert!(targets.would_enable("shared::store", &Level::DEBUG));
        assert!(!targets.would_enable("book", &Level::INFO));
        assert!(targets.would_enable("book", &Level::WARN));
        assert!(!targets.would_enable("sqlx::query", &Level::ERROR));
        for missing in [None, Some(""), Some("=nonsense=")] {
            assert_eq!(filter(missing).default_level(), Some(LevelFilter::INFO), "{missing:?}");
        }
    }
}
