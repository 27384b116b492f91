//! The merged API document: every public route of every function is in it once,
//! with every outcome, and nothing internal is.

use std::collections::BTreeSet;

use serde_json::Value;
use shared::catalog;
use utoipa::openapi::OpenApi;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `METHOD path` for each operation of a document.
fn operations(doc: &OpenApi) -> BTreeSet<String> {
    let json = serde_json::to_value(doc).expect("document");
    let mut found = BTreeSet::new();
    for (path, item) in json["paths"].as_object().expect("paths") {
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            found.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    found
}

fn parts() -> Vec<(&'static str, OpenApi)> {
    vec![
        ("items-router", items_router::openapi::openapi()),
        ("book", catalog::openapi::<book::Book>()),
        ("laptop", catalog::openapi::<laptop::Laptop>()),
        ("mobile", catalog::openapi::<mobile::Mobile>()),
        ("clothes", catalog::openapi::<clothes::Clothes>()),
        ("customer-router", customer_router::openapi::openapi()),
        ("guest-customer", guest_customer::openapi::openapi()),
        ("registered-customer", registered_customer::openapi::openapi()),
        ("vip-customer", vip_customer::openapi()),
        ("cart", cart::openapi()),
        ("order", order::openapi()),
        ("paying", paying::openapi()),
        ("shipping", shipping::openapi()),
    ]
}

#[test]
fn every_public_route_of_every_function_is_in_the_merged_document() {
    let merged = operations(&local::openapi());
    for (function, doc) in parts() {
        let own = operations(&doc);
        assert!(!own.is_empty(), "{function} documents nothing");
        for operation in own {
            assert!(!operation.contains(" /internal"), "{function} documents the internal {operation}");
            assert!(merged.contains(&operation), "{function}'s {operation} is not in the merged document");
        }
    }
    assert!(merged.iter().all(|o| !o.contains(" /internal")), "internal routes are not public");
}

#[test]
fn a_path_served_per_customer_type_lists_every_types_answers_once() {
    let doc = serde_json::to_value(local::openapi()).unwrap();
    let me = &doc["paths"]["/api/customers/"]["get"];
    let answers: Vec<&str> = me["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
        .as_array()
        .expect("the three services' answers")
        .iter()
        .map(|s| s["$ref"].as_str().unwrap())
        .collect();
    for schema in ["CurrentGuest", "AccountView", "VipCustomer"] {
        assert!(answers.contains(&format!("#/components/schemas/{schema}").as_str()), "{schema}: {answers:?}");
    }
    // Anyone may ask: no token, a guest token or a bearer token.
    assert_eq!(me["security"].as_array().unwrap().len(), 3);
    let history = &doc["paths"]["/api/customers/history"]["get"]["responses"]["200"];
    assert_eq!(history["content"]["application/json"]["schema"]["anyOf"].as_array().unwrap().len(), 2);
    let close = &doc["paths"]["/api/customers/"]["delete"];
    assert!(close["requestBody"].is_object() && close["responses"].get("204").is_some());
    assert!(doc["paths"]["/api/customers/"]["post"]["responses"].get("409").is_some(), "logged in: 409");
    // The router's own checks are on every route it forwards.
    let profile = &doc["paths"]["/api/customers/profile"]["get"];
    let hints: Vec<&str> =
        profile["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(hints, ["X-Customer-Type", "X-User-ID"]);
}

#[test]
fn the_customer_router_forwards_exactly_the_documented_customer_routes() {
    let documented: BTreeSet<String> = operations(&local::openapi())
        .into_iter()
        .filter(|o| o.contains(" /api/customers/"))
        .filter(|o| !customer_router::openapi::OWN_PATHS.iter().any(|own| o.ends_with(&format!(" {own}"))))
        .collect();
    let forwarded: BTreeSet<String> = customer_router::FORWARDED_ROUTES
        .iter()
        .flat_map(|(path, methods)| methods.iter().map(move |m| format!("{m} {path}")))
        .collect();
    assert_eq!(documented, forwarded);
}

#[test]
fn operation_ids_are_unique_and_every_reference_resolves() {
    let doc = serde_json::to_value(local::openapi()).unwrap();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            let id = item[*method]["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no id"));
            assert!(ids.insert(id.to_string()), "operation id {id} twice");
        }
    }
    let found = shared::testing::schema_refs(&doc);
    for r in found {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
        assert!(doc["components"]["schemas"].get(name).is_some(), "{r} does not resolve");
    }
}

#[test]
fn a_schema_name_means_one_schema_in_every_function() {
    // Descriptions may differ (each function says it in its own words); the shapes may not.
    fn shape(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                map.iter().filter(|(k, _)| *k != "description").map(|(k, v)| (k.clone(), shape(v))).collect()
            }
            Value::Array(items) => items.iter().map(shape).collect(),
            other => other.clone(),
        }
    }
    let merged = serde_json::to_value(local::openapi()).unwrap();
    let schemas = merged["components"]["schemas"].as_object().unwrap();
    let mut clashes = Vec::new();
    for (function, doc) in parts() {
        let own = serde_json::to_value(&doc).unwrap();
        for (name, schema) in own["components"]["schemas"].as_object().unwrap() {
            if schemas.get(name).map(shape) != Some(shape(schema)) {
                clashes.push(format!("{function}'s {name}"));
            }
        }
    }
    assert!(clashes.is_empty(), "the merged document has another schema under these names: {clashes:?}");
}
