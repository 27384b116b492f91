//! The items router's part of the OpenAPI document.

use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{OpenApi, PathsBuilder, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use shared::catalog::list_parameters;
use shared::openapi::{
    document, empty_response, json_body, json_response, path_param, problem_response, query_param, schema_ref, secured,
    with_common_errors,
};

use crate::fanout::Unavailable;

/// A type's schemas by the names its service's document gives them (`Book` ...).
fn title(item_type: &str) -> String {
    let mut chars = item_type.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn create_schema(item_type: &str) -> String {
    format!("{}Create", title(item_type))
}

fn patch_schema(item_type: &str) -> String {
    format!("{}Patch", title(item_type))
}

pub fn openapi() -> OpenApi {
    let tag = "items";
    let any_item: RefOr<Schema> = ObjectBuilder::new()
        .property("id", String::schema())
        .property("type", String::schema())
        .description(Some("An item of any type: the fields of that type's schema (Book, Laptop, Mobile, Clothes)"))
        .into();
    // The four built-in types; a deployment may configure more (FALLBACK_ITEM_TYPES).
    let types = ["book", "laptop", "mobile", "clothes"];
    let list = list_parameters(
        OperationBuilder::new()
            .tag(tag)
            .operation_id(Some("list_items"))
            .summary(Some("List items of one type, or of all types merged newest first"))
            .parameter(query_param(
                "type",
                "Item type; without it every type, merged",
                ObjectBuilder::new().schema_type(Type::String).enum_values(Some(types)).into(),
            ))
            .response(
                "200",
                json_response(
                    "One page; with no type, `unavailable` names services that did not answer",
                    schema_ref("ItemsPage"),
                ),
            )
            .response(
                "404",
                problem_response("Without `type`: a page past the first 1000 items, which is all the merge reaches"),
            ),
        &[],
    );
    let create = secured(
        OperationBuilder::new()
            .tag(tag)
            .operation_id(Some("create_item"))
            .summary(Some("Create an item of the type named in the body (staff)"))
            .request_body(Some(json_body(
                types.iter().fold(OneOfBuilder::new(), |one_of, t| one_of.item(schema_ref(&create_schema(t)))).into(),
                Some(
                    json!({ "name": "Clean Code", "type": "book", "author": "Robert Martin", "isbn": "9780132350884" }),
                ),
            )))
            .response("201", json_response("Created by the type's service", any_item.clone()))
            .response("401", problem_response("No valid token"))
            .response("403", problem_response("Not staff"))
            .response("413", problem_response("Body too large"))
            .response("409", problem_response("Another item has this unique value (a book's ISBN)"))
            .response("415", problem_response("Body is not JSON"))
            .response("422", problem_response("Invalid fields, listed per field")),
    );
    let id_op = |method: &str| {
        OperationBuilder::new()
            .tag(tag)
            .operation_id(Some(format!("{method}_item")))
            .parameter(path_param("id", "Item id; its prefix names its type"))
            .response("404", problem_response("No such item"))
    };
    let read = id_op("get").response("200", json_response("The item", any_item.clone()));
    let update = secured(
        id_op("update")
            .description(Some("The body is the patch of the item's type, which the id's prefix names"))
            .request_body(Some(json_body(
                types.iter().fold(AnyOfBuilder::new(), |any_of, t| any_of.item(schema_ref(&patch_schema(t)))).into(),
                Some(json!({ "stock": 5 })),
            )))
            .response("200", json_response("The updated item", any_item.clone()))
            .response("401", problem_response("No valid token"))
            .response("403", problem_response("Not staff"))
            .response("409", problem_response("Another item has this unique value (a book's ISBN)"))
            .response("413", problem_response("Body too large"))
            .response("415", problem_response("Body is not JSON"))
            .response("422", problem_response("Invalid fields, listed per field")),
    );
    let delete = secured(
        id_op("delete")
            .response("204", empty_response("Deleted"))
            .response("401", problem_response("No valid token"))
            .response("403", problem_response("Not staff")),
    );
    let paths = PathsBuilder::new()
        .path("/api/items/", PathItem::new(HttpMethod::Get, with_common_errors(list)))
        .path("/api/items/", PathItem::new(HttpMethod::Post, with_common_errors(create)))
        .path("/api/items/{id}/", PathItem::new(HttpMethod::Get, with_common_errors(read)))
        .path("/api/items/{id}/", PathItem::new(HttpMethod::Patch, with_common_errors(update)))
        .path("/api/items/{id}/", PathItem::new(HttpMethod::Delete, with_common_errors(delete)))
        .build();
    let page: RefOr<Schema> = ObjectBuilder::new()
        .property("count", u64::schema())
        .required("count")
        .property("next", <Option<String>>::schema())
        .property("previous", <Option<String>>::schema())
        .property("results", ArrayBuilder::new().items(any_item))
        .required("results")
        .property("unavailable", ArrayBuilder::new().items(schema_ref("Unavailable")))
        .into();
    let unavailable: RefOr<Schema> = Unavailable::schema();
    document("Items router", paths, vec![("ItemsPage".into(), page), (Unavailable::name().to_string(), unavailable)])
}
