//! The conventions the README states, held on the whole local server: every
//! error is a problem, `Allow` has one format, page links never name the
//! client's `Host`, paging has one cap, and browsers get CORS answers as API
//! Gateway gives them.

use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode, header};
use serde_json::Value;
use shared::auth::{CustomerType, Role};
use shared::config::Env;
use shared::testing::staff_token;
use tower::ServiceExt;

async fn shop() -> Router {
    let dir = std::env::temp_dir().join(format!("shop-conventions-{}", shared::ids::new_id("t")));
    let functions =
        local::Functions::build(&Env::from_pairs([("LOCAL_DATA_DIR", dir.display().to_string())])).expect("functions");
    let app = functions.app().expect("app");
    functions.load_fixtures(&fixtures::customers::Passwords::demo()).await.expect("fixtures");
    app
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    json: Value,
}

async fn call(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    Answer { status, headers, json: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

fn get(uri: &str) -> http::request::Builder {
    Request::builder().method(Method::GET).uri(uri)
}

fn as_staff(builder: http::request::Builder) -> Request<Body> {
    builder.header("authorization", format!("Bearer {}", staff_token())).body(Body::empty()).unwrap()
}

fn is_problem(answer: &Answer) -> bool {
    answer.headers.get(header::CONTENT_TYPE).is_some_and(|v| v == shared::error::PROBLEM_JSON)
        && answer.json["status"] == answer.status.as_u16()
}

#[tokio::test]
async fn the_frameworks_own_rejections_are_problems_that_do_not_repeat_the_input() {
    let app = shop().await;
    for path in [
        "/api/orders/%FF",
        "/api/payments/%FF",
        "/api/shipping/%FF",
        "/api/items/%FF/",
        "/api/books/%FF/",
        "/api/cart/items/%FF",
        "/api/customers/addresses/%FF",
        "/api/guest-customer/%FF/",
    ] {
        let answer = call(&app, as_staff(get(path))).await;
        assert!(answer.status.is_client_error(), "{path}: {}", answer.status);
        assert!(is_problem(&answer), "{path}: {:?} {}", answer.headers, answer.json);
        assert!(!answer.json.to_string().contains("%FF"), "{path}: {}", answer.json);
    }
}

#[tokio::test]
async fn allow_headers_have_one_format() {
    let app = shop().await;
    // Functions' own routes (axum writes these) and the customer router's table.
    for path in ["/api/books/", "/api/orders/delivery-options", "/api/customers/profile", "/api/customers/login"] {
        let answer = call(&app, as_staff(Request::builder().method(Method::PUT).uri(path))).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        let allow = answer.headers[header::ALLOW].to_str().unwrap();
        let methods: Vec<&str> = allow.split(", ").collect();
        assert!(
            methods.iter().all(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase())),
            "{path}: `Allow: {allow}` is not `GET, HEAD, ...`"
        );
        assert!(is_problem(&answer), "{path}: {}", answer.json);
    }
}

#[tokio::test]
async fn page_links_never_name_the_clients_host() {
    let app = shop().await;
    for path in ["/api/books/?page_size=2", "/api/items/?page_size=2", "/api/items/?type=laptop&page_size=1"] {
        let answer = call(&app, get(path).header(header::HOST, "evil.example").body(Body::empty()).unwrap()).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        let next = answer.json["next"].as_str().expect("a next page");
        assert!(next.starts_with("/api/"), "{path}: next is {next}");
    }
}

/// Every documented list takes `page` and `page_size` (1 to 100) and nothing
/// else for paging: `limit` and `offset` are no way around the cap.
#[tokio::test]
async fn every_list_has_one_paging_cap() {
    let app = shop().await;
    let document = serde_json::to_value(local::openapi()).unwrap();
    let keys = shared::auth::TokenKeys::development();
    let vip = keys.issue("456", CustomerType::Vip, Role::Customer, 600);
    let mut lists = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        let Some(parameters) = item["get"]["parameters"].as_array() else { continue };
        if !parameters.iter().any(|p| p["name"] == "page_size") {
            continue;
        }
        // A guest's own list by id is held to the same by the guest function's tests.
        if path.contains('{') {
            continue;
        }
        lists += 1;
        for query in ["page_size=101", "page_size=0", "limit=1000", "limit=0", "offset=5"] {
            let uri = format!("{path}?{query}");
            // Some lists are one customer's own: whoever is let in must be refused.
            let mut refused = false;
            for token in [staff_token(), keys.issue("123", CustomerType::Registered, Role::Customer, 600), vip.clone()]
            {
                let request = get(&uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
                let answer = call(&app, request).await;
                assert!(!answer.status.is_success(), "{uri}: {}", answer.json);
                if answer.status == StatusCode::BAD_REQUEST {
                    assert!(is_problem(&answer), "{uri}");
                    refused = true;
                }
            }
            assert!(refused, "{uri} was refused by nobody with a 400");
        }
    }
    assert!(lists >= 10, "only {lists} lists in the document");
}

#[tokio::test]
async fn cors_is_answered_as_api_gateway_answers_it() {
    let app = shop().await;
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/cart/items")
        .header(header::ORIGIN, "http://localhost:3000")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "x-guest-token, content-type")
        .body(Body::empty())
        .unwrap();
    let answer = call(&app, preflight).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let header = |name: header::HeaderName| answer.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    assert!(header(header::ACCESS_CONTROL_ALLOW_METHODS).contains("PATCH"));
    assert!(header(header::ACCESS_CONTROL_ALLOW_HEADERS).contains("X-Guest-Token"));
    assert_eq!(header(header::ACCESS_CONTROL_MAX_AGE), "600");

    // A request from a page: the answer names the origin and what scripts may read.
    let answer =
        call(&app, get("/api/items/").header(header::ORIGIN, "http://localhost:3000").body(Body::empty()).unwrap())
            .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(answer.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS].to_str().unwrap().contains("Location"));

    // OPTIONS that is not a preflight reaches the routes, which take no OPTIONS.
    let answer =
        call(&app, Request::builder().method(Method::OPTIONS).uri("/api/items/").body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn cors_names_only_the_configured_origins() {
    let dir = std::env::temp_dir().join(format!("shop-cors-{}", shared::ids::new_id("t")));
    let env = Env::from_pairs([
        ("LOCAL_DATA_DIR", dir.display().to_string()),
        ("CORS_ALLOW_ORIGINS", "https://shop.example.com".to_string()),
    ]);
    let app = local::Functions::build(&env).unwrap().app().unwrap();
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/items/")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = call(&app, preflight("https://shop.example.com")).await;
    assert_eq!(allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://shop.example.com");
    assert_eq!(allowed.headers[header::VARY], "Origin");
    let other = call(&app, preflight("https://evil.example")).await;
    assert_eq!(other.status, StatusCode::NO_CONTENT);
    assert!(other.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn the_reference_page_and_its_files_are_served_from_the_binary() {
    let dir = std::env::temp_dir().join(format!("shop-docs-{}", shared::ids::new_id("t")));
    let app = local::Functions::build(&Env::from_pairs([("LOCAL_DATA_DIR", dir.display().to_string())]))
        .unwrap()
        .app()
        .unwrap();
    let response = app.clone().oneshot(get("/api/docs/").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("swagger-ui-bundle.js"), "{page}");
    assert!(!page.contains("https://"), "the page loads nothing from elsewhere: {page}");
    let response =
        app.clone().oneshot(get("/api/docs/swagger-initializer.js").body(Body::empty()).unwrap()).await.unwrap();
    let script = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let script = String::from_utf8_lossy(&script);
    assert!(script.contains("/api/openapi.json"), "{script}");
    assert!(script.contains(r#""validatorUrl": "none""#) || script.contains(r#""validatorUrl":"none""#), "{script}");
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css"] {
        let response =
            app.clone().oneshot(get(&format!("/api/docs/{asset}")).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
}

/// A history entry names an item that exists, by an id of its own type, for a
/// guest and for a customer with an account alike, through the real items router.
#[tokio::test]
async fn history_entries_name_real_items_of_their_type() {
    let app = shop().await;
    let book = serde_json::from_str::<Vec<Value>>(fixtures::BOOKS).unwrap()[0]["id"].as_str().unwrap().to_string();
    let missing = "book_01KAAAAAAAAAAAAAAAAAAAAAAA";
    let session = call(&app, Request::post("/api/customers/").body(Body::empty()).unwrap()).await;
    let guest = session.json["token"].as_str().unwrap().to_string();
    let customer = shared::auth::TokenKeys::development().issue("123", CustomerType::Registered, Role::Customer, 600);
    let entry = |item_type: &str, item_id: &str, header: (&str, String)| {
        Request::post("/api/customers/history")
            .header(header.0, header.1)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({ "kind": "viewed_item", "item_type": item_type, "item_id": item_id }).to_string(),
            ))
            .unwrap()
    };
    for who in [("x-guest-token", guest.clone()), ("authorization", format!("Bearer {customer}"))] {
        for (item_type, item_id, expected) in [
            ("laptop", book.as_str(), StatusCode::UNPROCESSABLE_ENTITY),
            ("book", missing, StatusCode::UNPROCESSABLE_ENTITY),
            ("book", "not-an-id", StatusCode::UNPROCESSABLE_ENTITY),
            ("book", book.as_str(), StatusCode::CREATED),
        ] {
            let answer = call(&app, entry(item_type, item_id, who.clone())).await;
            assert_eq!(answer.status, expected, "{} {item_type} {item_id}: {}", who.0, answer.json);
            if expected == StatusCode::UNPROCESSABLE_ENTITY {
                assert!(answer.json["errors"]["item_id"].is_array(), "{}", answer.json);
            }
        }
        let page =
            call(&app, get("/api/customers/history").header(who.0, who.1.clone()).body(Body::empty()).unwrap()).await;
        assert_eq!(page.json["results"][0]["item_id"], book.as_str(), "{}: {}", who.0, page.json);
    }
}

/// No answer repeats what a client wrote in a path: an id that is no id is
/// "not found" (or refused), never quoted back.
#[tokio::test]
async fn error_details_never_repeat_path_input() {
    let app = shop().await;
    let document = serde_json::to_value(local::openapi()).unwrap();
    let keys = shared::auth::TokenKeys::development();
    let tokens = [
        staff_token(),
        keys.issue("123", CustomerType::Registered, Role::Customer, 600),
        keys.issue("456", CustomerType::Vip, Role::Customer, 600),
    ];
    let planted = "order_x%2F..%2Finternal%2Fplanted%3Cb%3E";
    let mut echoed = Vec::new();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        for method in ["get", "post", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let uri = regex_free_substitute(path, planted);
            for token in &tokens {
                let request = Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(&uri)
                    .header("authorization", format!("Bearer {token}"))
                    .header("idempotency-key", shared::ids::new_id("key"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from("{}"))
                    .unwrap();
                let answer = call(&app, request).await;
                checked += 1;
                let text = answer.json.to_string();
                if text.contains("planted") || text.contains("<b>") || text.contains("..") {
                    echoed.push(format!("{} {uri}: {text}", method.to_uppercase()));
                }
            }
        }
    }
    assert!(checked > 60, "only {checked} calls");
    assert!(echoed.is_empty(), "answers that quote the path back:\n{}", echoed.join("\n"));
}

/// `path` with each `{parameter}` replaced by `value`.
fn regex_free_substitute(path: &str, value: &str) -> String {
    path.split('/').map(|segment| if segment.starts_with('{') { value } else { segment }).collect::<Vec<_>>().join("/")
}
