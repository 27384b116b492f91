//! The OpenAPI description of an item service, generated from its kind so the
//! document and the code cannot disagree about paths, parameters or schemas.

use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{OpenApi, PathsBuilder, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::search::{ParamKind, common_search_params};
use super::{ItemFields, ItemKind};
use crate::openapi::{
    document, empty_response, json_body, json_response, path_param, problem_response, query_param, schema_ref, secured,
    with_common_errors,
};

fn param_schema(kind: ParamKind) -> RefOr<Schema> {
    match kind {
        ParamKind::Text => String::schema(),
        ParamKind::Integer { min, max } => {
            ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min as f64)).maximum(Some(max as f64)).into()
        }
        ParamKind::Number { min, max } => {
            ObjectBuilder::new().schema_type(Type::Number).minimum(Some(min)).maximum(Some(max)).into()
        }
        ParamKind::AtLeastOne => bool::schema(),
    }
}

/// Paths and schemas of the item service for `K`.
pub fn openapi<K: ItemKind>() -> OpenApi {
    let tag = K::PLURAL;
    let base = format!("/api/{}/", K::PLURAL);
    let item = format!("/api/{}/{{id}}/", K::PLURAL);
    let attributes = format!("{}Attributes", K::TITLE);
    let input = format!("{}Input", K::TITLE);
    let page = format!("{}Page", K::TITLE);

    let mut list = OperationBuilder::new()
        .tag(tag)
        .operation_id(Some(format!("list_{}", K::PLURAL)))
        .summary(Some(format!("List and search {}", K::PLURAL)))
        .response("200", json_response("One page of matching items, newest first", schema_ref(&page)));
    for (name, description, schema) in [
        ("page", "Page number, from 1", param_schema(ParamKind::Integer { min: 1, max: 1_000_000 })),
        ("page_size", "Items per page, 1 to 100 (default 20)", param_schema(ParamKind::Integer { min: 1, max: 100 })),
        ("offset", "Start of a window (instead of page)", param_schema(ParamKind::Integer { min: 0, max: 1000 })),
        ("limit", "Size of a window; offset + limit ≤ 1000", param_schema(ParamKind::Integer { min: 0, max: 1000 })),
    ] {
        list = list.parameter(query_param(name, description, schema));
    }
    for p in common_search_params().iter().chain(K::search_params()) {
        list = list.parameter(query_param(p.name, p.description, param_schema(p.kind)));
    }

    let create = secured(
        OperationBuilder::new()
            .tag(tag)
            .operation_id(Some(format!("create_{}", K::TYPE)))
            .summary(Some(format!("Create a {} (staff)", K::TYPE)))
            .request_body(Some(json_body(schema_ref(&input), Some(K::example()))))
            .response("201", json_response("Created", schema_ref(K::TITLE)))
            .response("401", problem_response("No valid token"))
            .response("403", problem_response("Not staff"))
            .response("413", problem_response("Body too large"))
            .response("415", problem_response("Body is not JSON"))
            .response("422", problem_response("Invalid fields, listed per field")),
    );
    let read = OperationBuilder::new()
        .tag(tag)
        .operation_id(Some(format!("get_{}", K::TYPE)))
        .parameter(path_param("id", "Item id"))
        .response("200", json_response("The item", schema_ref(K::TITLE)))
        .response("404", problem_response("No such item"));
    let update = secured(
        OperationBuilder::new()
            .tag(tag)
            .operation_id(Some(format!("update_{}", K::TYPE)))
            .summary(Some("Change some fields (staff); `null` clears an optional field".to_string()))
            .parameter(path_param("id", "Item id"))
            .request_body(Some(json_body(schema_ref(&input), Some(json!({ "stock": 12 })))))
            .response("200", json_response("The updated item", schema_ref(K::TITLE)))
            .response("401", problem_response("No valid token"))
            .response("403", problem_response("Not staff"))
            .response("404", problem_response("No such item"))
            .response("415", problem_response("Body is not JSON"))
            .response("422", problem_response("Invalid fields, listed per field")),
    );
    let delete = secured(
        OperationBuilder::new()
            .tag(tag)
            .operation_id(Some(format!("delete_{}", K::TYPE)))
            .parameter(path_param("id", "Item id"))
            .response("204", empty_response("Deleted"))
            .response("401", problem_response("No valid token"))
            .response("403", problem_response("Not staff"))
            .response("404", problem_response("No such item")),
    );

    let paths = PathsBuilder::new()
        .path(&base, PathItem::new(HttpMethod::Get, with_common_errors(list)))
        .path(&base, PathItem::new(HttpMethod::Post, with_common_errors(create)))
        .path(&item, PathItem::new(HttpMethod::Get, with_common_errors(read)))
        .path(&item, PathItem::new(HttpMethod::Patch, with_common_errors(update)))
        .path(&item, PathItem::new(HttpMethod::Delete, with_common_errors(delete)))
        .build();

    let server_fields: RefOr<Schema> = ObjectBuilder::new()
        .property("id", String::schema())
        .required("id")
        .property("type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some([K::TYPE])))
        .required("type")
        .property("created_at", String::schema())
        .required("created_at")
        .property("updated_at", String::schema())
        .required("updated_at")
        .into();
    let type_field: RefOr<Schema> = ObjectBuilder::new()
        .property("type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some([K::TYPE])))
        .into();
    let item_schema: RefOr<Schema> = AllOfBuilder::new()
        .item(server_fields)
        .item(schema_ref(ItemFields::name().as_ref()))
        .item(schema_ref(&attributes))
        .into();
    let input_schema: RefOr<Schema> = AllOfBuilder::new()
        .item(type_field)
        .item(schema_ref(ItemFields::name().as_ref()))
        .item(schema_ref(&attributes))
        .into();
    let page_schema = crate::openapi::page_schema(K::TITLE);

    document(
        &format!("{} service", K::TITLE),
        paths,
        vec![
            (ItemFields::name().to_string(), ItemFields::schema()),
            (attributes, K::Attributes::schema()),
            (input, input_schema),
            (K::TITLE.to_string(), item_schema),
            (page, page_schema),
        ],
    )
}
