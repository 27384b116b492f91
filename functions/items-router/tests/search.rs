//! Paging, newest-first order and every search parameter of the README's table,
//! from one table of cases, answered the same on every document store: each
//! case through the item function itself and through the items router.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use http::{Method, StatusCode};
use items_router::{Config, DEFAULT_SERVICES, ItemTable, RouterState};
use serde_json::{Value, json};
use shared::auth::TokenKeys;
use shared::catalog::{self, CatalogState, ItemKind, SearchParam, ServiceConfig, common_search_params};
use shared::invoke::InProcessInvoker;
use shared::store::StoreUrl;
use shared::testing::{send, staff_token};

shared::on_every_document_store! {
    every_search_parameter_pages_and_sorts_alike => search_table,
}

/// The catalog every case searches, created in this order (so listed in the
/// reverse): `(type, body)`.
fn catalog() -> Vec<(&'static str, Value)> {
    vec![
        (
            "book",
            json!({ "name": "Dune", "author": "Frank Herbert", "genre": "Science Fiction", "publisher": "Chilton Books",
                         "publication_year": 1965, "isbn": "9780441172719", "price": 999, "stock": 0 }),
        ),
        (
            "book",
            json!({ "name": "Refactoring", "author": "Martin Fowler", "genre": "Programming", "publisher": "Addison-Wesley",
                         "publication_year": 2018, "isbn": "9780134757599", "price": 4999, "stock": 3 }),
        ),
        (
            "book",
            json!({ "name": "Clean Architecture", "author": "Robert C. Martin", "genre": "Programming",
                         "publisher": "Prentice Hall", "publication_year": 2017, "isbn": "9780134494166", "price": 3999, "stock": 10 }),
        ),
        (
            "book",
            json!({ "name": "Emma", "author": "Jane Austen", "genre": "Classic", "publisher": "John Murray",
                         "publication_year": 1815, "price": 799, "stock": 1 }),
        ),
        (
            "book",
            json!({ "name": "The C++ Programming Language", "author": "Bjarne Stroustrup", "genre": "programming",
                         "publisher": "Addison-Wesley", "publication_year": 2013, "price": 5999, "stock": 0 }),
        ),
        (
            "laptop",
            json!({ "name": "XPS 13", "brand": "Dell", "cpu": "Intel Core i7-1360P", "ram_gb": 16, "storage_gb": 512,
                           "os": "Windows 11", "price": 129900, "stock": 4 }),
        ),
        (
            "laptop",
            json!({ "name": "MacBook Pro 14", "brand": "Apple", "cpu": "Apple M3 Pro", "ram_gb": 36, "storage_gb": 1024,
                           "os": "macOS", "price": 249900, "stock": 0 }),
        ),
        (
            "laptop",
            json!({ "name": "Chromebook Spin", "brand": "Acer", "cpu": "Intel Celeron N4500", "ram_gb": 4, "storage_gb": 64,
                           "os": "ChromeOS", "price": 29900, "stock": 7 }),
        ),
        (
            "laptop",
            json!({ "name": "ThinkPad X1 Carbon", "brand": "lenovo", "cpu": "Intel Core i7-1365U", "ram_gb": 16,
                           "storage_gb": 1024, "os": "windows 11", "price": 189900, "stock": 2 }),
        ),
        (
            "mobile",
            json!({ "name": "Pixel 9", "brand": "Google", "os": "Android", "screen_size_inches": 6.3, "camera_mp": 50.0,
                           "storage_gb": 128, "price": 79900, "stock": 5 }),
        ),
        (
            "mobile",
            json!({ "name": "iPhone 15", "brand": "Apple", "os": "iOS", "screen_size_inches": 6.1, "camera_mp": 48.0,
                           "storage_gb": 256, "price": 99900, "stock": 0 }),
        ),
        (
            "mobile",
            json!({ "name": "Galaxy S24 Ultra", "brand": "Samsung", "os": "Android", "screen_size_inches": 6.8,
                           "camera_mp": 200.0, "storage_gb": 512, "price": 129900, "stock": 2 }),
        ),
        (
            "mobile",
            json!({ "name": "Fairphone 5", "brand": "Fairphone", "os": "android", "screen_size_inches": 6.46,
                           "camera_mp": 50.0, "storage_gb": 256, "price": 69900, "stock": 1 }),
        ),
        (
            "clothes",
            json!({ "name": "Linen Shirt", "size": "M", "color": "White", "material": "Linen", "style": "Casual",
                            "gender": "men", "price": 4500, "stock": 10 }),
        ),
        (
            "clothes",
            json!({ "name": "Wool Coat", "size": "L", "color": "Navy", "material": "Wool blend", "style": "Formal",
                            "gender": "women", "price": 19900, "stock": 0 }),
        ),
        (
            "clothes",
            json!({ "name": "Summer T-Shirt", "size": "l", "color": "Blue", "material": "Cotton", "style": "casual",
                            "gender": "unisex", "price": 1500, "stock": 25 }),
        ),
        (
            "clothes",
            json!({ "name": "Rain Jacket", "size": "XS", "color": "navy", "material": "Recycled polyester",
                            "style": "Outdoor", "gender": "kids", "price": 5900, "stock": 3 }),
        ),
    ]
}

/// `(type, query, how many match, the names on the page, newest first)`; type
/// `""` is the all-types list of the items router.
const CASES: &[(&str, &str, u64, &[&str])] = &[
    ("book", "", 5, &["The C++ Programming Language", "Emma", "Clean Architecture", "Refactoring", "Dune"]),
    ("book", "page_size=2", 5, &["The C++ Programming Language", "Emma"]),
    ("book", "page_size=2&page=2", 5, &["Clean Architecture", "Refactoring"]),
    ("book", "page_size=2&page=3", 5, &["Dune"]),
    ("book", "page_size=2&page=4", 5, &[]),
    ("book", "q=the", 1, &["The C++ Programming Language"]),
    ("book", "q=C%2B%2B", 1, &["The C++ Programming Language"]),
    ("book", "author=MARTIN", 2, &["Clean Architecture", "Refactoring"]),
    ("book", "genre=Programming", 3, &["The C++ Programming Language", "Clean Architecture", "Refactoring"]),
    ("book", "genre=program", 0, &[]),
    ("book", "publisher=wesley", 2, &["The C++ Programming Language", "Refactoring"]),
    ("book", "year=2017", 1, &["Clean Architecture"]),
    ("book", "isbn=0-441-17271-7", 1, &["Dune"]),
    ("book", "isbn=978-0-13-449416-6", 1, &["Clean Architecture"]),
    ("book", "min_price=1000", 3, &["The C++ Programming Language", "Clean Architecture", "Refactoring"]),
    ("book", "max_price=999", 2, &["Emma", "Dune"]),
    ("book", "min_price=999&max_price=4999", 3, &["Clean Architecture", "Refactoring", "Dune"]),
    ("book", "in_stock=true", 3, &["Emma", "Clean Architecture", "Refactoring"]),
    ("book", "in_stock=false", 2, &["The C++ Programming Language", "Dune"]),
    ("book", "genre=programming&in_stock=false", 1, &["The C++ Programming Language"]),
    ("book", "author=martin&max_price=4000&page_size=1", 1, &["Clean Architecture"]),
    ("laptop", "brand=DELL", 1, &["XPS 13"]),
    ("laptop", "brand=Lenovo", 1, &["ThinkPad X1 Carbon"]),
    ("laptop", "cpu=intel", 3, &["ThinkPad X1 Carbon", "Chromebook Spin", "XPS 13"]),
    ("laptop", "cpu=I7", 2, &["ThinkPad X1 Carbon", "XPS 13"]),
    ("laptop", "min_ram=16", 3, &["ThinkPad X1 Carbon", "MacBook Pro 14", "XPS 13"]),
    ("laptop", "min_ram=17", 1, &["MacBook Pro 14"]),
    ("laptop", "min_storage=1000", 2, &["ThinkPad X1 Carbon", "MacBook Pro 14"]),
    ("laptop", "os=Windows%2011", 2, &["ThinkPad X1 Carbon", "XPS 13"]),
    ("laptop", "os=windows", 0, &[]),
    ("laptop", "q=BOOK", 2, &["Chromebook Spin", "MacBook Pro 14"]),
    ("laptop", "min_price=150000", 2, &["ThinkPad X1 Carbon", "MacBook Pro 14"]),
    ("laptop", "max_price=129900", 2, &["Chromebook Spin", "XPS 13"]),
    ("laptop", "in_stock=false", 1, &["MacBook Pro 14"]),
    ("laptop", "in_stock=true&min_ram=16", 2, &["ThinkPad X1 Carbon", "XPS 13"]),
    ("laptop", "page_size=3&page=2", 4, &["XPS 13"]),
    ("mobile", "brand=apple", 1, &["iPhone 15"]),
    ("mobile", "os=ANDROID", 3, &["Fairphone 5", "Galaxy S24 Ultra", "Pixel 9"]),
    ("mobile", "min_screen=6.3", 3, &["Fairphone 5", "Galaxy S24 Ultra", "Pixel 9"]),
    ("mobile", "min_screen=6.4", 2, &["Fairphone 5", "Galaxy S24 Ultra"]),
    ("mobile", "min_camera=50", 3, &["Fairphone 5", "Galaxy S24 Ultra", "Pixel 9"]),
    ("mobile", "min_camera=100.5", 1, &["Galaxy S24 Ultra"]),
    ("mobile", "storage=256", 2, &["Fairphone 5", "iPhone 15"]),
    ("mobile", "min_storage=256", 3, &["Fairphone 5", "Galaxy S24 Ultra", "iPhone 15"]),
    ("mobile", "q=PHONE", 2, &["Fairphone 5", "iPhone 15"]),
    ("mobile", "min_price=70000&os=android", 2, &["Galaxy S24 Ultra", "Pixel 9"]),
    ("mobile", "max_price=79900", 2, &["Fairphone 5", "Pixel 9"]),
    ("mobile", "in_stock=true", 3, &["Fairphone 5", "Galaxy S24 Ultra", "Pixel 9"]),
    ("mobile", "in_stock=false", 1, &["iPhone 15"]),
    ("mobile", "os=android&page_size=2&page=2", 3, &["Pixel 9"]),
    ("clothes", "style=CASUAL", 2, &["Summer T-Shirt", "Linen Shirt"]),
    ("clothes", "size=l", 2, &["Summer T-Shirt", "Wool Coat"]),
    ("clothes", "size=XS", 1, &["Rain Jacket"]),
    ("clothes", "color=navy", 2, &["Rain Jacket", "Wool Coat"]),
    ("clothes", "colour=NAVY", 2, &["Rain Jacket", "Wool Coat"]),
    ("clothes", "material=WOOL", 1, &["Wool Coat"]),
    ("clothes", "material=poly", 1, &["Rain Jacket"]),
    ("clothes", "gender=kids", 1, &["Rain Jacket"]),
    ("clothes", "gender=Women", 1, &["Wool Coat"]),
    ("clothes", "q=t-shirt", 1, &["Summer T-Shirt"]),
    ("clothes", "min_price=5000", 2, &["Rain Jacket", "Wool Coat"]),
    ("clothes", "max_price=5000&in_stock=true", 2, &["Summer T-Shirt", "Linen Shirt"]),
    ("clothes", "in_stock=false", 1, &["Wool Coat"]),
    ("clothes", "page_size=1&page=4", 4, &["Linen Shirt"]),
    ("", "in_stock=false", 5, &["Wool Coat", "iPhone 15", "MacBook Pro 14", "The C++ Programming Language", "Dune"]),
    ("", "q=book", 2, &["Chromebook Spin", "MacBook Pro 14"]),
    ("", "max_price=1500", 3, &["Summer T-Shirt", "Emma", "Dune"]),
    ("", "page_size=3&page=2", 17, &["Linen Shirt", "Fairphone 5", "Galaxy S24 Ultra"]),
    ("", "page_size=5&page=4&in_stock=true", 12, &[]),
    ("", "page_size=5&page=3&in_stock=true", 12, &["Clean Architecture", "Refactoring"]),
];

fn service<K: ItemKind>(url: &StoreUrl) -> Router {
    let config = ServiceConfig { store: url.clone(), max_connections: 2 };
    catalog::router::<K>(CatalogState::new::<K>(&config, Arc::new(TokenKeys::development())).unwrap())
}

fn plural(item_type: &str) -> &'static str {
    match item_type {
        "book" => "books",
        "laptop" => "laptops",
        "mobile" => "mobiles",
        _ => "clothes",
    }
}

async fn search_table(url: StoreUrl) {
    let functions: HashMap<&str, Router> = HashMap::from([
        ("book", service::<book::Book>(&url)),
        ("laptop", service::<laptop::Laptop>(&url)),
        ("mobile", service::<mobile::Mobile>(&url)),
        ("clothes", service::<clothes::Clothes>(&url)),
    ]);
    let invoker =
        functions.iter().fold(InProcessInvoker::new(), |invoker, (name, app)| invoker.with(name, app.clone()));
    let config = Config {
        table: ItemTable::parse(DEFAULT_SERVICES, "").unwrap(),
        store: url.clone(),
        max_connections: 2,
        invoke_timeout: Duration::from_secs(5),
    };
    let router =
        items_router::router(RouterState::new(&config, Arc::new(invoker), Arc::new(TokenKeys::development())).unwrap());
    for (item_type, mut body) in catalog() {
        body["type"] = json!(item_type);
        let (status, _, created) = send(&router, Method::POST, "/api/items/", Some(&staff_token()), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }

    for (item_type, query, count, names) in CASES {
        let mut asked = vec![format!("/api/items/?{}", [format!("type={item_type}"), query.to_string()].join("&"))];
        if !item_type.is_empty() {
            asked.push(format!("/api/{}/?{query}", plural(item_type)));
        }
        for uri in asked {
            let app = if uri.starts_with("/api/items/") { &router } else { &functions[item_type] };
            let (status, _, page) = send(app, Method::GET, &uri, None, None).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {page}");
            let found: Vec<&str> =
                page["results"].as_array().unwrap().iter().map(|item| item["name"].as_str().unwrap()).collect();
            assert_eq!((page["count"].as_u64(), found.as_slice()), (Some(*count), *names), "{uri}");
            if !item_type.is_empty() {
                assert!(page["results"].as_array().unwrap().iter().all(|item| item["type"] == *item_type), "{uri}");
            }
            // Links: a next page while this one ends before the last match, a previous one after the first.
            let number = |name: &str, default: u64| {
                query.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))?.parse().ok()).unwrap_or(default)
            };
            let (page_number, page_size) = (number("page", 1), number("page_size", 20));
            assert_eq!(page["next"].is_string(), page_number * page_size < *count, "{uri}: {page}");
            assert_eq!(page["previous"].is_string(), page_number > 1, "{uri}: {page}");
        }
    }
}

/// The cases use every parameter of the README's search table for its type, the
/// table names every parameter each service takes, and `in_stock` is searched
/// both ways for every type.
#[test]
fn the_cases_cover_the_readme_search_table_and_every_parameter() {
    let readme = include_str!("../../../README.md");
    let start = readme.find("| type | parameters").expect("the README's search table");
    let table: Vec<&str> = readme[start..].lines().take_while(|line| line.starts_with('|')).collect();
    let quoted =
        |line: &str| -> Vec<String> { line.split('`').skip(1).step_by(2).map(str::to_string).collect::<Vec<_>>() };
    let common = quoted(table[0]);
    let names = |params: &[SearchParam]| -> Vec<String> { params.iter().map(|p| p.name.to_string()).collect() };
    let sorted = |mut names: Vec<String>| {
        names.sort();
        names
    };
    assert_eq!(common, names(common_search_params()), "the README's parameters for all types");
    let kinds: [(&str, &[SearchParam]); 4] = [
        ("book", book::Book::search_params()),
        ("laptop", laptop::Laptop::search_params()),
        ("mobile", mobile::Mobile::search_params()),
        ("clothes", clothes::Clothes::search_params()),
    ];
    for (item_type, params) in kinds {
        let row = table.iter().find(|line| line.starts_with(&format!("| {item_type} |"))).expect("a row per type");
        assert_eq!(sorted(quoted(row)), sorted(names(params)), "the README's {item_type} parameters");
        let used: Vec<&str> =
            CASES.iter().filter(|(t, ..)| *t == item_type).flat_map(|(_, query, ..)| query.split('&')).collect();
        for name in names(params).iter().chain(&common).chain(&["page".to_string(), "page_size".to_string()]) {
            assert!(used.iter().any(|p| p.starts_with(&format!("{name}="))), "{item_type}: no case uses `{name}`");
        }
        for both in ["in_stock=true", "in_stock=false"] {
            assert!(used.contains(&both), "{item_type}: no case with {both}");
        }
    }
}
