//! The guest fixtures load once, on every store, and hold only valid entries.

mod support;

use http::{Method, StatusCode};
use shared::testing::staff_token;
use support::{TTL_SECS, backends, call, now};

const GUESTS: &str = include_str!("../../../fixtures/customers/guests.json");

#[tokio::test]
async fn fixtures_load_once_and_read_back() {
    let expected: serde_json::Value = serde_json::from_str(GUESTS).unwrap();
    let expected = expected.as_array().unwrap();
    assert_eq!(expected.len(), 5);
    for backend in backends("fixtures").await {
        let name = backend.name;
        let added = guest_customer::load_fixtures(backend.store.as_ref(), GUESTS, TTL_SECS).await.unwrap();
        assert_eq!(added, 5, "{name}");
        let again = guest_customer::load_fixtures(backend.store.as_ref(), GUESTS, TTL_SECS).await.unwrap();
        assert_eq!(again, 0, "{name}: loading twice adds nothing");

        let app = backend.app();
        for fixture in expected {
            let id = fixture["id"].as_str().unwrap();
            let (status, view) =
                call(&app, Method::GET, &format!("/api/guest-customer/{id}/"), None, Some(&staff_token()), None).await;
            assert_eq!(status, StatusCode::OK, "{name}: {view}");
            let history = fixture["history"].as_array().unwrap();
            assert_eq!(view["history_count"], history.len(), "{name}");
            assert_eq!(support::unix(&view["created_at"]), fixture["created_at"].as_i64().unwrap());
            assert!(support::unix(&view["expires_at"]) > now(), "{name}");
            let stored = backend.store.history(id).await.unwrap();
            let stored: Vec<i64> = stored.iter().map(|e| e.at).collect();
            let listed: Vec<i64> = history.iter().map(|e| e["at"].as_i64().unwrap()).collect();
            assert_eq!(stored, listed, "{name}: oldest first, as listed");
        }
    }
}

#[tokio::test]
async fn a_store_records_that_its_fixtures_were_loaded() {
    for backend in backends("fixture_marker").await {
        let name = backend.name;
        assert!(!backend.store.fixtures_loaded().await.unwrap(), "{name}: a new store has no record");
        for _ in 0..2 {
            backend.store.mark_fixtures_loaded().await.unwrap();
            assert!(backend.store.fixtures_loaded().await.unwrap(), "{name}: recorded, once or twice");
        }
        let app = backend.app();
        let (status, _) =
            call(&app, Method::GET, "/api/customers/", Some("fixture_loads:guest-sessions.x"), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: the record is no session");
    }
}

#[tokio::test]
async fn fixture_items_exist_and_invalid_fixtures_are_refused() {
    let mut known = Vec::new();
    for file in ["books", "laptops", "mobiles", "clothes"] {
        let text = std::fs::read_to_string(format!("{}/../../fixtures/items/{file}.json", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
        let items: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        known.extend(items.into_iter().map(|i| i["id"].as_str().unwrap().to_string()));
    }
    let guests: serde_json::Value = serde_json::from_str(GUESTS).unwrap();
    let mut viewed = 0;
    for entry in guests.as_array().unwrap().iter().flat_map(|g| g["history"].as_array().unwrap()) {
        if entry["kind"] == "viewed_item" {
            let id = entry["item_id"].as_str().unwrap();
            assert!(known.iter().any(|k| k == id), "{id} is not a fixture item");
            assert!(id.starts_with(&format!("{}_", entry["item_type"].as_str().unwrap())), "{id}");
            viewed += 1;
        }
    }
    assert!(viewed >= 10);

    let backend = backends("bad_fixtures").await.remove(0);
    for bad in [
        r#"[{"id": "book_01KE226VD8K7WF2X7HM5T2628T", "created_at": 1, "history": []}]"#,
        r#"[{"id": "guest_01KE226VD8K7WF2X7HM5T2628T", "created_at": 1, "history": [{"kind": "search"}]}]"#,
        r#"[{"id": "guest_01KE226VD8K7WF2X7HM5T2628T", "created_at": 1, "history": [{"kind": "search", "query": "x"}]}]"#,
        r#"[{"id": "guest_01KE226VD8K7WF2X7HM5T2628T", "created_at": 1, "extra": 1}]"#,
        "{",
    ] {
        assert!(guest_customer::load_fixtures(backend.store.as_ref(), bad, TTL_SECS).await.is_err(), "{bad}");
    }
    assert!(backend.store.get("guest_01KE226VD8K7WF2X7HM5T2628T").await.unwrap().is_none());
}
