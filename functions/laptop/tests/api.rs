use std::sync::Arc;

use http::{Method, StatusCode};
use laptop::Laptop;
use serde_json::json;
use shared::auth::TokenKeys;
use shared::catalog::{self, CatalogState, ServiceConfig};
use shared::store::StoreUrl;
use shared::testing::{catalog_contract, create_item, send};

shared::on_every_document_store! {
    catalog_contract_holds => contract,
    specs_are_validated_and_laptops_are_searchable => searches,
}

async fn contract(url: StoreUrl) {
    catalog_contract::<Laptop>(url).await;
}

async fn searches(url: StoreUrl) {
    let state = CatalogState::new::<Laptop>(
        &ServiceConfig { store: url, max_connections: 2 },
        Arc::new(TokenKeys::development()),
    );
    let app = catalog::router::<Laptop>(state.unwrap());
    let base = "/api/laptops/";

    for (body, field) in [
        (json!({ "name": "L", "brand": "Dell", "ram_gb": 0 }), "ram_gb"),
        (json!({ "name": "L", "brand": "Dell", "storage_gb": -256 }), "storage_gb"),
        (json!({ "name": "L", "brand": "Dell", "screen_size_inches": 40.0 }), "screen_size_inches"),
        (json!({ "name": "L", "brand": "Dell", "ram_gb": "lots" }), "ram_gb"),
        (json!({ "name": "L" }), "brand"),
    ] {
        let (status, problem) = create_item(&app, base, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(problem["errors"].get(field).is_some(), "{body} -> {problem}");
    }

    create_item(&app, base, json!({ "name": "XPS 13", "brand": "Dell", "cpu": "Intel Core i7-1360P", "ram_gb": 16, "storage_gb": 512, "price": 129900 })).await;
    create_item(&app, base, json!({ "name": "MacBook Pro", "brand": "Apple", "cpu": "Apple M3 Pro", "ram_gb": 36, "storage_gb": 1024, "price": 249900 })).await;
    create_item(&app, base, json!({ "name": "Chromebook", "brand": "Acer", "cpu": "Intel Celeron N4500", "ram_gb": 4, "storage_gb": 64, "price": 29900 })).await;

    for (query, expected) in [
        ("brand=dell", 1),
        ("cpu=intel", 2),
        ("min_ram=16", 2),
        ("min_storage=1000", 1),
        ("min_price=100000&max_price=200000", 1),
        ("max_price=300000", 3),
        ("brand=apple&min_ram=64", 0),
    ] {
        let (status, _, page) = send(&app, Method::GET, &format!("{base}?{query}"), None, None).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(page["count"], expected, "{query}");
    }
    let (status, _, _) = send(&app, Method::GET, &format!("{base}?min_ram=-1"), None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
