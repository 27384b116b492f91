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

/// Every item, as the items router lists it per type: `(id, stock, price)`, sorted.
async fn catalog_state(app: &axum::Router) -> Vec<(String, i64, Option<i64>)> {
    let mut items = Vec::new();
    for item_type in ["book", "laptop", "mobile", "clothes"] {
        let uri = format!("/api/items/?type={item_type}&page_size=100");
        let (status, _, page) = send(app, Method::GET, &uri, None, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {page}");
        assert!(page["next"].is_null(), "{uri}: one page holds them all");
        for item in page["results"].as_array().unwrap() {
            let stock = item["stock"].as_i64().expect("an integer stock");
            items.push((item["id"].as_str().unwrap().to_string(), stock, item["price"].as_i64()));
        }
    }
    items.sort();
    items
}

/// The shop with every item store and the items router on MongoDB, the database
/// names as a deployment's (one per service): the fixtures load (their orders
/// reserve stock there through the API), the catalog answers exactly as the
/// embedded shop's does, and a second start adds nothing.
#[tokio::test]
async fn the_shop_runs_with_its_catalog_on_mongodb() {
    let Some(url) = shared::testing::temp_mongo_url("local_shop") else { return };
    let shared::store::StoreUrl::MongoDb { database, .. } = &url else { unreachable!() };
    let mut pairs = vec![("LOCAL_DATA_DIR".to_string(), env().get("LOCAL_DATA_DIR").unwrap().to_string())];
    for (service, suffix) in [("BOOK", "b"), ("LAPTOP", "l"), ("MOBILE", "m"), ("CLOTHES", "c"), ("ITEMS_ROUTER", "r")]
    {
        let own = shared::store::StoreUrl::MongoDb {
            url: std::env::var("MONGODB_URL").unwrap(),
            database: format!("{database}_{suffix}"),
        };
        pairs.push((format!("{service}_DATABASE_URL"), shared::testing::database_url(&own)));
    }
    let on_mongodb = local::Functions::build(&Env::from_pairs(pairs.clone())).unwrap();
    let embedded = local::Functions::build(&env()).unwrap();
    let passwords = fixtures::customers::Passwords::demo();
    let (mongo_app, embedded_app) = (on_mongodb.app().unwrap(), embedded.app().unwrap());
    let added = on_mongodb.load_fixtures(&passwords).await.unwrap();
    assert_eq!(added, embedded.load_fixtures(&passwords).await.unwrap());

    let (status, _, all) = send(&mongo_app, Method::GET, "/api/items/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (all["count"].as_u64(), all["unavailable"].clone()),
        (Some(fixtures::item_fixture_count() as u64), json!([]))
    );
    let catalog = catalog_state(&mongo_app).await;
    assert_eq!(catalog, catalog_state(&embedded_app).await, "the same stock after the same orders");
    let (_, _, orders) = send(&mongo_app, Method::GET, "/api/orders/?page_size=1", Some(&staff_token()), None).await;
    assert!(orders["count"].as_u64().unwrap() > 0, "{orders}");

    let again = local::Functions::build(&Env::from_pairs(pairs)).unwrap();
    assert_eq!(again.load_fixtures(&passwords).await.unwrap(), 0, "a second start adds nothing");
    assert_eq!(catalog_state(&again.app().unwrap()).await, catalog);
}

/// The fixtures fill a new shop once: what staff deleted and accounts closed
/// stay gone when the server starts again on the same data.
#[tokio::test]
async fn a_restart_does_not_bring_back_what_was_removed_on_purpose() {
    let env = env();
    let functions = local::Functions::build(&env).unwrap();
    let app = functions.app().unwrap();
    assert!(functions.load_fixtures(&fixtures::customers::Passwords::demo()).await.unwrap() > 0);
    let (_, _, mobiles) = send(&app, Method::GET, "/api/mobiles/?page_size=100", None, None).await;
    let mobiles = mobiles["results"].as_array().unwrap().clone();
    assert!(mobiles.len() >= 15);
    for mobile in &mobiles {
        let path = format!("/api/mobiles/{}/", mobile["id"].as_str().unwrap());
        assert_eq!(send(&app, Method::DELETE, &path, Some(&staff_token()), None).await.0, StatusCode::NO_CONTENT);
    }
    let login = json!({ "email": "vip456@example.com", "password": fixtures::customers::DEMO_CUSTOMER_PASSWORD });
    let (_, _, session) = send(&app, Method::POST, "/api/customers/login", None, Some(login.clone())).await;
    let close = json!({ "password": fixtures::customers::DEMO_CUSTOMER_PASSWORD });
    let token = session["access_token"].as_str().unwrap();
    assert_eq!(send(&app, Method::DELETE, "/api/customers/", Some(token), Some(close)).await.0, StatusCode::NO_CONTENT);
    drop((app, functions));

    let functions = local::Functions::build(&env).unwrap();
    let app = functions.app().unwrap();
    assert_eq!(functions.load_fixtures(&fixtures::customers::Passwords::demo()).await.unwrap(), 0, "nothing added");
    let (_, _, page) = send(&app, Method::GET, "/api/mobiles/", None, None).await;
    assert_eq!(page["count"], 0, "the deleted mobiles stay deleted");
    let (status, _, _) = send(&app, Method::POST, "/api/customers/login", None, Some(login)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the closed account stays closed");
    let (status, _, _) = send(&app, Method::GET, "/api/customers/vip/customers/456", Some(&staff_token()), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "and its VIP record is not enrolled again");

    // Payments captured before the restart still refund: the simulated processor
    // of this run never saw them, and takes them as the paying store has them.
    let (_, _, delivered) = send(&app, Method::GET, "/api/orders/?status=delivered", Some(&staff_token()), None).await;
    let order = delivered["results"][0]["id"].as_str().expect("a delivered fixture order").to_string();
    let (status, _, refunded) =
        send(&app, Method::POST, &format!("/api/orders/{order}/refund"), Some(&staff_token()), None).await;
    assert_eq!((status, refunded["status"].as_str()), (StatusCode::OK, Some("refunded")), "{refunded}");
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
