//! The guest service's part of the OpenAPI document: the public routes only
//! (`/internal` is for the customer router and never reaches API Gateway).

use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{OpenApi, PathsBuilder, Required};
use utoipa::{PartialSchema, ToSchema};

use shared::openapi::{
    BEARER, closed, document, empty_response, json_body, json_response, paged, path_param, problem_response,
    schema_ref, with_common_errors,
};

use shared::auth::CustomerType;

use crate::history::{Activity, HistoryEntryView};
use crate::{CreatedSession, CurrentGuest, SessionView};

pub use shared::openapi::GUEST_TOKEN;

fn guest(operation: OperationBuilder) -> OperationBuilder {
    operation.security(SecurityRequirement::new(GUEST_TOKEN, Vec::<String>::new()))
}

/// The session's own guest token, or a staff bearer token.
fn guest_or_staff(operation: OperationBuilder) -> OperationBuilder {
    guest(operation).security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
}

pub fn openapi() -> OpenApi {
    let tag = "guest-customer";
    let op = |id: &str, summary: &str| {
        OperationBuilder::new().tag(tag).operation_id(Some(id.to_string())).summary(Some(summary.to_string()))
    };
    let session_op = |id: &str, summary: &str| {
        op(id, summary)
            .parameter(path_param("id", "Guest session id (`guest_<ULID>`)"))
            .response("401", problem_response("No valid guest token, or the session expired or was converted"))
            .response("403", problem_response("The token belongs to another session"))
            .response("404", problem_response("No such session"))
    };
    let with_body = |operation: OperationBuilder| {
        operation
            .request_body(Some(json_body(
                schema_ref("HistoryEntryInput"),
                Some(
                    json!({ "kind": "viewed_item", "item_type": "book", "item_id": "book_01KE226VD8K7WF2X7HM5T2628T" }),
                ),
            )))
            .response("201", json_response("The entry", schema_ref("HistoryEntry")))
            .response("413", problem_response("Body too large"))
            .response("415", problem_response("Body is not JSON"))
            .response("422", problem_response("Invalid fields, listed per field"))
    };
    let created = |id: &str| {
        let mut no_fields = json_body(closed(ObjectBuilder::new()).into(), None);
        no_fields.required = Some(Required::False);
        op(id, "Start a guest session; the token is shown only in this answer")
            .request_body(Some(no_fields))
            .response("201", json_response("The new session and its token", schema_ref("CreatedSession")))
            .response("413", problem_response("Body too large"))
            .response("415", problem_response("A body that is not JSON"))
            .response("422", problem_response("A body with fields: a session takes none"))
    };

    let read = guest_or_staff(session_op("get_guest_session", "Read a session (extends it for its guest)"))
        .response("200", json_response("The session", schema_ref("SessionView")));
    let expire = guest_or_staff(session_op("end_guest_session", "End a session now"))
        .description(Some("The session's token stops working; staff can still read the ended session"))
        .response("204", empty_response("Ended; its token no longer works"));
    let touch = guest(session_op("touch_guest_session", "Extend a session to now + its lifetime"))
        .response("200", json_response("The session", schema_ref("SessionView")));
    let list = guest_or_staff(paged(session_op("list_guest_history", "A session's history, newest first")))
        .response("200", json_response("One page of entries", schema_ref("GuestHistoryPage")));
    let add = with_body(guest(session_op("add_guest_history", "Record an item viewed or a search made")));
    let current = op("get_current_guest", "Who an anonymous caller is: the session of `X-Guest-Token`, if any")
        .security(SecurityRequirement::default())
        .security(SecurityRequirement::new(GUEST_TOKEN, Vec::<String>::new()))
        .response("200", json_response("`session` is null without a token", schema_ref("CurrentGuest")))
        .response("401", problem_response("The guest token is invalid, expired or converted"));
    let current_list = guest(paged(op("list_current_guest_history", "The caller's history, newest first")))
        .response("200", json_response("One page of entries", schema_ref("GuestHistoryPage")))
        .response("401", problem_response("No valid guest token"));
    let current_add = with_body(guest(op("add_current_guest_history", "Record an item viewed or a search made")))
        .response("401", problem_response("No valid guest token"));

    let session = "/api/guest-customer/{id}/";
    let paths = PathsBuilder::new()
        .path(
            "/api/guest-customer/",
            PathItem::new(HttpMethod::Post, with_common_errors(created("create_guest_session"))),
        )
        .path(session, PathItem::new(HttpMethod::Get, with_common_errors(read)))
        .path(session, PathItem::new(HttpMethod::Delete, with_common_errors(expire)))
        .path("/api/guest-customer/{id}/touch", PathItem::new(HttpMethod::Post, with_common_errors(touch)))
        .path("/api/guest-customer/{id}/history", PathItem::new(HttpMethod::Get, with_common_errors(list)))
        .path("/api/guest-customer/{id}/history", PathItem::new(HttpMethod::Post, with_common_errors(add)))
        .path("/api/customers/", PathItem::new(HttpMethod::Get, with_common_errors(current)))
        .path("/api/customers/", PathItem::new(HttpMethod::Post, with_common_errors(created("create_guest"))))
        .path("/api/customers/history", PathItem::new(HttpMethod::Get, with_common_errors(current_list)))
        .path("/api/customers/history", PathItem::new(HttpMethod::Post, with_common_errors(current_add)))
        .build();

    let entry_input = shared::history::entry_input_schema();
    let page = shared::openapi::page_schema("HistoryEntry");
    document(
        "Guest customer service",
        paths,
        vec![
            (SessionView::name().to_string(), SessionView::schema()),
            (CustomerType::name().to_string(), CustomerType::schema()),
            (CreatedSession::name().to_string(), CreatedSession::schema()),
            (CurrentGuest::name().to_string(), CurrentGuest::schema()),
            (Activity::name().to_string(), Activity::schema()),
            ("HistoryEntry".into(), HistoryEntryView::schema()),
            ("HistoryEntryInput".into(), entry_input),
            ("GuestHistoryPage".into(), page),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn refs(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    found.push(r.clone());
                }
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }

    #[test]
    fn the_document_describes_the_public_routes_and_resolves_every_reference() {
        let doc = serde_json::to_value(openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/guest-customer/",
            "/api/guest-customer/{id}/",
            "/api/guest-customer/{id}/touch",
            "/api/guest-customer/{id}/history",
            "/api/customers/",
            "/api/customers/history",
        ] {
            assert!(paths.contains_key(path), "{path}");
        }
        assert!(paths.keys().all(|p| !p.starts_with("/internal")));
        assert_eq!(paths["/api/guest-customer/{id}/"]["get"]["security"].as_array().unwrap().len(), 2);
        assert!(paths["/api/customers/history"]["post"]["requestBody"].is_object());
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(
            schemes[GUEST_TOKEN],
            serde_json::json!({ "type": "apiKey", "in": "header", "name": "X-Guest-Token" })
        );
        assert_eq!(schemes[BEARER]["scheme"], "bearer");
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 10);
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
            assert!(doc["components"]["schemas"].get(name).is_some(), "{r} is not in the components");
        }
    }
}
