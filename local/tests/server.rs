//! The local server as a user meets it: every template route mounted, fixtures in
//! empty stores, the seed's examples answering.

use http::{Method, StatusCode};
use serde_json::json;
use shared::config::Env;
use shared::testing::{send, staff_token};

fn env() -> Env {
    let dir = std::env::temp_dir().join(format!("shop-local-{}", shared::ids::new_id("t")));
    Env::from_pairs([("LOCAL_DATA_DIR", dir.display().to_string())])
}

#[tokio::test]
async fn a_fresh_start_serves_the_fixture_catalog() {
    let functions = local::Functions::build(&env()).unwrap();
    let app = functions.app().unwrap();
    functions.load_fixtures(&fixtures::customers::Passwords::demo()).await.unwrap();

    let (status, _, all) = send(&app, Method::GET, "/api/items/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["count"], fixtures::item_fixture_count());
    for (item_type, json) in [
        ("book", fixtures::BOOKS),
        ("laptop", fixtures::LAPTOPS),
        ("mobile", fixtures::MOBILES),
        ("clothes", fixtures::CLOTHES),
    ] {
        let expected = serde_json::from_str::<Vec<serde_json::Value>>(json).unwrap().len();
        let (status, _, page) = send(&app, Method::GET, &format!("/api/items/?type={item_type}"), None, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["count"], expected, "{item_type}");
    }

    // The seed's POST examples, with only their fields and a staff token.
    for body in [
        json!({ "name": "Clean Code", "type": "book", "author": "Robert Martin", "isbn": "9780132350884" }),
        json!({ "name": "Summer T-Shirt", "type": "clothes", "size": "L", "color": "Blue", "material": "Cotton" }),
    ] {
        let (status, _, created) = send(&app, Method::POST, "/api/items/", Some(&staff_token()), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap();
        let own = if created["type"] == "book" { "books" } else { "clothes" };
        for path in [format!("/api/items/{id}/"), format!("/api/{own}/{id}/"), format!("/api/{own}/{id}")] {
            let (status, _, read) = send(&app, Method::GET, &path, None, None).await;
            assert_eq!(status, StatusCode::OK, "{path} -> {read}");
            assert_eq!(read["id"], id);
        }
    }
}

#[tokio::test]
async fn every_template_route_reaches_its_function_with_and_without_a_slash() {
    let functions = local::Functions::build(&env()).unwrap();
    let app = functions.app().unwrap();
    for route in local::template::api_routes(local::TEMPLATE).unwrap() {
        let base = route.path.trim_end_matches("/{proxy+}");
        for path in [base.to_string(), format!("{base}/")] {
            // The function answers (a page, or its own 405 for a POST-only collection);
            // only the server's fallback would say 404 here.
            let (status, content_type, _) = send(&app, Method::GET, &path, None, None).await;
            assert_ne!(status, StatusCode::NOT_FOUND, "{path}");
            assert!(content_type.contains("json"), "{path}: {content_type}");
        }
    }
}

#[tokio::test]
async fn the_api_document_describes_every_route() {
    let functions = local::Functions::build(&env()).unwrap();
    let app = functions.app().unwrap();
    let (status, _, doc) = send(&app, Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/items/",
        "/api/items/{id}/",
        "/api/books/",
        "/api/books/{id}/",
        "/api/laptops/",
        "/api/mobiles/{id}/",
        "/api/clothes/",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the document");
    }
    for schema in ["Book", "BookAttributes", "Laptop", "Clothes", "Problem", "ItemsPage"] {
        assert!(doc["components"]["schemas"].get(schema).is_some(), "{schema} missing");
    }
    let (status, content_type, problem) = send(&app, Method::GET, "/api/nothing-here", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["status"], 404);
}

/// The mailed confirmation link names the server that sent it, on its own port.
#[tokio::test]
async fn mailed_links_name_the_port_the_server_listens_on() {
    let dir = std::env::temp_dir().join(format!("shop-local-{}", shared::ids::new_id("t")));
    let env = local::with_public_base_url(
        Env::from_pairs([("LOCAL_DATA_DIR", dir.display().to_string())]),
        "127.0.0.1",
        8767,
    );
    let app = local::Functions::build(&env).unwrap().app().unwrap();
    let body = json!({ "email": "ports@example.com", "password": "a long password 1" });
    let (status, _, account) = send(&app, Method::POST, "/api/customers/signup", None, Some(body)).await;
    assert!(status.is_success(), "{account}");
    let mail = std::fs::read_dir(dir.join("mail")).unwrap().next().expect("a mail").unwrap().path();
    let text = std::fs::read_to_string(mail).unwrap();
    assert!(text.contains("http://127.0.0.1:8767/api/customers/verify-email?token="), "{text}");

    let set = Env::from_pairs([("PUBLIC_BASE_URL", "https://shop.example.com")]);
    assert_eq!(
        local::with_public_base_url(set, "127.0.0.1", 8767).get("PUBLIC_BASE_URL"),
        Some("https://shop.example.com")
    );
}
