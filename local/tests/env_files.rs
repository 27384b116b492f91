//! local/env.json, the `sam local start-api --env-vars local/env.json` file, covers
//! every function of the template: `{ "<LogicalId>": { VAR: value }, "Parameters": { VAR: value } }`.

use local::template::{self, Function};
use serde_json::{Value, json};
use shared::store::StoreUrl;

fn env_json() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/env.json")).unwrap();
    serde_json::from_str(&text).expect("local/env.json is valid JSON")
}

/// Every way `env_json` falls short of `functions`; empty when it covers them.
fn problems(functions: &[Function], env_json: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(entries) = env_json.as_object() else { return vec!["env.json is not an object".into()] };
    for (key, entry) in entries {
        if key != "Parameters" && !functions.iter().any(|f| f.logical_id == *key) {
            problems.push(format!("{key} is not a function of the template (SAM would ignore it)"));
        }
        match entry.as_object() {
            None => problems.push(format!("{key} is not an object of variables")),
            Some(vars) => {
                for (name, _) in vars.iter().filter(|(_, value)| !value.is_string()) {
                    problems.push(format!("{key}.{name} is not a string"));
                }
            }
        }
    }
    for function in functions {
        let Some(entry) = entries.get(&function.logical_id) else {
            problems.push(format!("{} has no entry", function.logical_id));
            continue;
        };
        for var in function.variables.iter().filter(|v| v.ends_with("_DATABASE_URL")) {
            let url = entry.get(var).and_then(Value::as_str).unwrap_or("");
            match StoreUrl::parse(url, "db") {
                _ if url.is_empty() => problems.push(format!("{} does not set {var}", function.logical_id)),
                Err(why) => problems.push(format!("{}.{var}: {why}", function.logical_id)),
                // A Lambda container's disk does not outlive the invocation.
                Ok(StoreUrl::Sqlite(_)) => problems.push(format!("{}.{var} is SQLite", function.logical_id)),
                Ok(_) => {}
            }
        }
    }
    problems
}

#[test]
fn env_json_sets_every_template_functions_database_urls() {
    let functions = template::functions(local::TEMPLATE).unwrap();
    assert!(functions.iter().any(|f| f.variables.iter().any(|v| v.ends_with("_DATABASE_URL"))));
    let problems = problems(&functions, &env_json());
    assert!(problems.is_empty(), "local/env.json:\n{}", problems.join("\n"));
}

#[test]
fn env_json_signs_with_the_development_secret_of_cargo_toml() {
    let cargo_toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&cargo_toml).unwrap();
    let secret = ["workspace", "metadata", "lambda", "env"]
        .iter()
        .try_fold(&manifest, |table, key| table.get(*key)?.as_table())
        .and_then(|env| env.get("JWT_SECRET")?.as_str())
        .expect("Cargo.toml has [workspace.metadata.lambda.env] JWT_SECRET");
    let env = env_json();
    assert_eq!(env["Parameters"]["JWT_SECRET"], secret);
    for (key, entry) in env.as_object().unwrap() {
        assert!(entry.get("JWT_SECRET").is_none_or(|s| s == secret), "{key} signs with another secret");
    }
}

#[test]
fn a_missing_function_or_database_url_fails() {
    let book = Function {
        logical_id: "BookFunction".into(),
        binary: "book".into(),
        variables: vec!["BOOK_DATABASE_URL".into(), "OTHER".into()],
    };
    let functions = [book];
    let good = json!({ "Parameters": {}, "BookFunction": { "BOOK_DATABASE_URL": "mongodb://h:27017" } });
    assert_eq!(problems(&functions, &good), Vec::<String>::new());

    for bad in [
        json!({ "Parameters": {} }),
        json!({ "BookFunction": {} }),
        json!({ "BookFunction": { "BOOK_DATABASE_URL": "sqlite://book.db" } }),
        json!({ "BookFunction": { "BOOK_DATABASE_URL": "http://h" } }),
        json!({ "BookFunction": { "BOOK_DATABASE_URL": "mongodb://h", "OTHER": 1 } }),
        json!({ "BookFunction": { "BOOK_DATABASE_URL": "mongodb://h" }, "BokFunction": {} }),
    ] {
        assert!(!problems(&functions, &bad).is_empty(), "{bad} passed");
    }
}
