use std::sync::Arc;

use clothes::Clothes;
use http::{Method, StatusCode};
use serde_json::json;
use shared::auth::TokenKeys;
use shared::catalog::{self, CatalogState, ServiceConfig};
use shared::store::StoreUrl;
use shared::testing::{catalog_contract, create_item, send};

shared::on_every_document_store! {
    catalog_contract_holds => contract,
    sizes_come_from_a_fixed_set_and_clothes_are_searchable => searches,
}

async fn contract(url: StoreUrl) {
    catalog_contract::<Clothes>(url).await;
}

async fn searches(url: StoreUrl) {
    let state = CatalogState::new::<Clothes>(
        &ServiceConfig { store: url, max_connections: 2 },
        Arc::new(TokenKeys::development()),
    );
    let app = catalog::router::<Clothes>(state.unwrap());
    let base = "/api/clothes/";

    for (body, field) in [
        (json!({ "name": "C", "size": "HUGE" }), "size"),
        (json!({ "name": "C" }), "size"),
        (json!({ "name": "C", "size": "M", "gender": "robot" }), "gender"),
        (json!({ "name": "C", "size": 42 }), "size"),
    ] {
        let (status, problem) = create_item(&app, base, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(problem["errors"].get(field).is_some(), "{body} -> {problem}");
    }

    let (status, shirt) =
        create_item(&app, base, json!({ "name": "Oxford Shirt", "size": "m", "color": "White", "material": "Cotton", "style": "formal", "gender": "Men" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(shirt["size"], "M", "sizes are stored upper case");
    assert_eq!(shirt["gender"], "men");
    create_item(&app, base, json!({ "name": "Running Tights", "size": "S", "color": "Black", "material": "Polyester blend", "style": "sport", "gender": "women" })).await;
    create_item(&app, base, json!({ "name": "Wool Scarf", "size": "M", "color": "Grey", "material": "Merino wool", "style": "casual", "gender": "unisex" })).await;

    for (query, expected) in [
        ("size=M", 2),
        ("size=m", 2),
        ("style=FORMAL", 1),
        ("color=black", 1),
        ("colour=grey", 1),
        ("material=wool", 1),
        ("gender=women", 1),
        ("size=XL", 0),
    ] {
        let (status, _, page) = send(&app, Method::GET, &format!("{base}?{query}"), None, None).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(page["count"], expected, "{query}");
    }
}
