use std::sync::Arc;

use http::{Method, StatusCode};
use mobile::Mobile;
use serde_json::json;
use shared::auth::TokenKeys;
use shared::catalog::{self, CatalogState, ServiceConfig};
use shared::store::StoreUrl;
use shared::testing::{catalog_contract, create_item, send};

shared::on_every_document_store! {
    catalog_contract_holds => contract,
    screens_are_sane_and_mobiles_are_searchable => searches,
}

async fn contract(url: StoreUrl) {
    catalog_contract::<Mobile>(url).await;
}

async fn searches(url: StoreUrl) {
    let state = CatalogState::new::<Mobile>(
        &ServiceConfig { store: url, max_connections: 2 },
        Arc::new(TokenKeys::development()),
    );
    let app = catalog::router::<Mobile>(state.unwrap());
    let base = "/api/mobiles/";

    for (body, field) in [
        (json!({ "name": "M", "brand": "X", "screen_size_inches": 0.5 }), "screen_size_inches"),
        (json!({ "name": "M", "brand": "X", "screen_size_inches": 65 }), "screen_size_inches"),
        (json!({ "name": "M", "brand": "X", "storage_gb": 0 }), "storage_gb"),
        (json!({ "name": "M", "brand": "X", "camera_mp": -12 }), "camera_mp"),
    ] {
        let (status, problem) = create_item(&app, base, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(problem["errors"].get(field).is_some(), "{body} -> {problem}");
    }

    create_item(&app, base, json!({ "name": "iPhone 16", "brand": "Apple", "os": "iOS", "screen_size_inches": 6.1, "camera_mp": 48, "storage_gb": 128 })).await;
    create_item(&app, base, json!({ "name": "Galaxy S24 Ultra", "brand": "Samsung", "os": "Android", "screen_size_inches": 6.8, "camera_mp": 200, "storage_gb": 512 })).await;
    create_item(&app, base, json!({ "name": "Pixel 8a", "brand": "Google", "os": "Android", "screen_size_inches": 6.1, "camera_mp": 64, "storage_gb": 128 })).await;

    for (query, expected) in [
        ("brand=samsung", 1),
        ("os=android", 2),
        ("min_screen=6.5", 1),
        ("min_camera=60", 2),
        ("storage=128", 2),
        ("min_storage=256", 1),
        ("os=ios&min_camera=100", 0),
    ] {
        let (status, _, page) = send(&app, Method::GET, &format!("{base}?{query}"), None, None).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(page["count"], expected, "{query}");
    }
    let (status, _, _) = send(&app, Method::GET, &format!("{base}?min_screen=huge"), None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
