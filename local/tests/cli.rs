//! The `local` command line: `--help` is an answer, not an error; a mistake
//! says what was wrong, with the usage, and exits 2.

use std::process::Command;

fn local(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_local")).args(args).output().expect("the local binary runs")
}

#[test]
fn help_prints_the_usage_and_exits_0() {
    for flag in ["--help", "-h", "help"] {
        let out = local(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("usage: local"), "{flag}: {text}");
        assert!(text.contains("token --role") && text.contains("openapi"), "{text}");
        assert!(!text.contains('"'), "plain text, not a debug string: {text}");
    }
}

#[test]
fn mistakes_say_what_was_wrong_and_exit_2() {
    for args in [&["serv"][..], &["token"], &["token", "--role", "admin"], &["token", "--role", "staff", "--ttl", "x"]]
    {
        let out = local(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.starts_with("local: ") && text.contains("usage: local"), "{args:?}: {text}");
        assert!(!text.contains("Error: \""), "{text}");
    }
}

#[test]
fn token_and_openapi_print_what_they_say() {
    let out = local(&["token", "--role", "staff"]);
    assert_eq!(out.status.code(), Some(0));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let claims = shared::auth::TokenKeys::development().verify(&token).expect("a development token");
    assert!(claims.is_staff());
    let out = local(&["openapi"]);
    let document: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the document as JSON");
    assert_eq!(document["info"]["title"], "Shop API");
}
