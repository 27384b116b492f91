//! The three places that route the API agree: template.yaml (what API Gateway
//! serves), `[workspace.metadata.lambda.watch.router]` in the workspace
//! Cargo.toml (what `cargo lambda watch` serves) and the local server.

use std::collections::{BTreeMap, BTreeSet};

use local::template;
use shared::config::Env;

/// Path → binary.
type Table = BTreeMap<String, String>;

/// What each place says, reduced to what the comparison needs.
struct Sources {
    /// (API Gateway path, binary) of every HttpApi event in the template.
    template_routes: Vec<(String, String)>,
    /// The binary of every function in the template, routed or not.
    template_binaries: BTreeSet<String>,
    /// The watch router table.
    watch: Table,
    /// The binaries `Functions::build` makes a Router for.
    local_binaries: BTreeSet<String>,
}

/// The watch entries a template route needs: `/api/x` and `/api/x/{proxy+}`
/// both ask for `/api/x`, `/api/x/` and `/api/x/{*proxy}`.
fn watch_entries(template_path: &str) -> [String; 3] {
    let base = template_path.strip_suffix("/{proxy+}").unwrap_or(template_path);
    [base.to_string(), format!("{base}/"), format!("{base}/{{*proxy}}")]
}

/// Every way the sources disagree; empty when they agree.
fn disagreements(sources: &Sources) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expected = Table::new();
    for (path, binary) in &sources.template_routes {
        for entry in watch_entries(path) {
            if let Some(other) = expected.insert(entry.clone(), binary.clone())
                && other != *binary
            {
                problems.push(format!("the template routes {entry} to both `{other}` and `{binary}`"));
            }
        }
    }
    compare(&mut problems, "the template", &expected, "the watch router", &sources.watch);

    for binary in sources.template_binaries.difference(&sources.local_binaries) {
        problems.push(format!("the local server does not run `{binary}`, a function of the template"));
    }
    for binary in sources.local_binaries.difference(&sources.template_binaries) {
        problems.push(format!("the local server runs `{binary}`, which the template has no function for"));
    }
    // What `Functions::app` mounts: each template route of a binary it runs, through `axum_paths`.
    let mut mounted = Table::new();
    for (path, binary) in &sources.template_routes {
        if sources.local_binaries.contains(binary) {
            for axum_path in template::axum_paths(path) {
                mounted.insert(axum_path, binary.clone());
            }
        }
    }
    compare(&mut problems, "the watch router", &sources.watch, "the local server", &mounted);
    problems
}

/// Each entry of `a` must be in `b` with the same binary, and `b` must have nothing more.
fn compare(problems: &mut Vec<String>, a_name: &str, a: &Table, b_name: &str, b: &Table) {
    for (path, binary) in a {
        match b.get(path) {
            None => problems.push(format!("{a_name} routes {path} to `{binary}`; {b_name} does not route it")),
            Some(other) if other != binary => {
                problems.push(format!("{a_name} routes {path} to `{binary}`, {b_name} to `{other}`"))
            }
            Some(_) => {}
        }
    }
    for (path, binary) in b.iter().filter(|(path, _)| !a.contains_key(*path)) {
        problems.push(format!("{b_name} routes {path} to `{binary}`; {a_name} does not route it"));
    }
}

/// The `[workspace.metadata.lambda.watch.router]` table of a Cargo.toml.
fn watch_router(cargo_toml: &str) -> Table {
    let manifest: toml::Table = toml::from_str(cargo_toml).expect("Cargo.toml is valid TOML");
    let router = ["workspace", "metadata", "lambda", "watch", "router"]
        .iter()
        .try_fold(&manifest, |table, key| table.get(*key)?.as_table())
        .expect("Cargo.toml has [workspace.metadata.lambda.watch.router]");
    router
        .iter()
        .map(|(path, binary)| {
            let binary = binary.as_str().unwrap_or_else(|| panic!("watch router {path}: the binary is not a string"));
            (path.clone(), binary.to_string())
        })
        .collect()
}

fn real_sources() -> Sources {
    let functions = template::functions(local::TEMPLATE).unwrap();
    let routes = template::api_routes(local::TEMPLATE).unwrap();
    let cargo_toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml")).unwrap();
    let dir = std::env::temp_dir().join(format!("shop-routes-{}", shared::ids::new_id("t")));
    let local = local::Functions::build(&Env::from_pairs([("LOCAL_DATA_DIR", dir.display().to_string())])).unwrap();
    Sources {
        template_routes: routes.into_iter().map(|r| (r.path, r.binary)).collect(),
        template_binaries: functions.into_iter().map(|f| f.binary).collect(),
        watch: watch_router(&cargo_toml),
        local_binaries: local.routers.keys().cloned().collect(),
    }
}

#[tokio::test]
async fn the_template_the_watch_router_and_the_local_server_agree() {
    let sources = real_sources();
    // Empty sources would agree vacuously.
    assert!(!sources.template_routes.is_empty() && !sources.watch.is_empty() && !sources.local_binaries.is_empty());
    let problems = disagreements(&sources);
    assert!(problems.is_empty(), "routes disagree:\n{}", problems.join("\n"));
}

// The comparison itself, on small hand-written sources.

fn strings<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.into_iter().map(String::from).collect()
}

fn table<const N: usize>(entries: [(&str, &str); N]) -> Table {
    entries.into_iter().map(|(path, binary)| (path.to_string(), binary.to_string())).collect()
}

/// Books routed in all three places; vip-customer a function without routes.
fn agreeing() -> Sources {
    Sources {
        template_routes: vec![("/api/books".into(), "book".into()), ("/api/books/{proxy+}".into(), "book".into())],
        template_binaries: strings(["book", "vip-customer"]),
        watch: table([("/api/books", "book"), ("/api/books/", "book"), ("/api/books/{*proxy}", "book")]),
        local_binaries: strings(["book", "vip-customer"]),
    }
}

fn assert_fails(sources: &Sources, mentioning: &str) {
    let problems = disagreements(sources);
    assert!(!problems.is_empty(), "the check passed");
    assert!(problems.iter().any(|p| p.contains(mentioning)), "{problems:#?}");
}

#[test]
fn agreeing_sources_pass() {
    assert_eq!(disagreements(&agreeing()), Vec::<String>::new());
}

#[test]
fn a_route_only_in_the_template_fails() {
    let mut sources = agreeing();
    sources.template_routes.push(("/api/authors".into(), "book".into()));
    assert_fails(&sources, "/api/authors");

    let mut sources = agreeing();
    sources.template_routes.push(("/api/toys".into(), "toy".into()));
    sources.template_routes.push(("/api/toys/{proxy+}".into(), "toy".into()));
    sources.template_binaries.insert("toy".into());
    assert_fails(&sources, "/api/toys");
    assert_fails(&sources, "does not run `toy`");
}

#[test]
fn a_route_only_in_the_watch_router_fails() {
    let mut sources = agreeing();
    sources.watch.insert("/api/toys".into(), "toy".into());
    assert_fails(&sources, "/api/toys");

    let mut sources = agreeing();
    sources.watch.insert("/api/books/".into(), "laptop".into());
    assert_fails(&sources, "`laptop`");
}

#[test]
fn a_router_only_in_the_local_server_fails() {
    let mut sources = agreeing();
    sources.local_binaries.insert("toy".into());
    assert_fails(&sources, "runs `toy`");

    let mut sources = agreeing();
    sources.local_binaries.remove("vip-customer");
    assert_fails(&sources, "does not run `vip-customer`");
}

#[test]
fn a_template_without_the_catch_all_route_fails() {
    // The watch router has all three entries, but API Gateway (and so the local
    // server) would serve /api/books alone.
    let mut sources = agreeing();
    sources.template_routes.retain(|(path, _)| path == "/api/books");
    assert_fails(&sources, "the local server does not route it");
}

#[test]
fn reads_the_watch_router_table() {
    let cargo_toml = r#"
        [workspace]
        members = []
        [workspace.metadata.lambda.watch.router]
        "/api/books" = "book"
        "/api/books/{*proxy}" = "book"
    "#;
    assert_eq!(watch_router(cargo_toml), table([("/api/books", "book"), ("/api/books/{*proxy}", "book")]));
}
