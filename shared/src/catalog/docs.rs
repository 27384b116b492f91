//! The OpenAPI description of an item service, generated from its kind so the
//! document and the code cannot disagree about paths, parameters or schemas.

use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{OpenApi, PathsBuilder, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::search::{ParamKind, SearchParam, common_search_params};
use super::{ItemFields, ItemKind};
use crate::money::MAX_AMOUNT_MINOR;
use crate::openapi::{
    closed, currency, document, empty_response, integer, json_body, json_response, paged, path_param, problem_response,
    query_param, schema_ref, secured, text, with_common_errors,
};

fn param_schema(p: &SearchParam) -> RefOr<Schema> {
    match p.kind {
        ParamKind::Text => {
            ObjectBuilder::new().schema_type(Type::String).max_length(Some(super::search::TEXT_MAX)).into()
        }
        ParamKind::Normalized(_) => ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(super::search::TEXT_MAX))
            .pattern(p.pattern)
            .into(),
        ParamKind::Integer { min, max } => integer(min, max).into(),
        ParamKind::Number { min, max } => {
            ObjectBuilder::new().schema_type(Type::Number).minimum(Some(min)).maximum(Some(max)).into()
        }
        ParamKind::AtLeastOne => bool::schema(),
    }
}

/// The query parameters of every item list: paging and the common filters.
pub fn list_parameters(operation: OperationBuilder, extra: &[SearchParam]) -> OperationBuilder {
    let mut operation = paged(operation);
    for p in common_search_params().iter().chain(extra) {
        operation = operation.parameter(query_param(p.name, p.description, param_schema(p)));
    }
    operation
}

/// The properties of an object schema (a derived one is always inline).
fn properties(schema: RefOr<Schema>) -> (Vec<(String, RefOr<Schema>)>, Vec<String>) {
    match schema {
        RefOr::T(Schema::Object(object)) => (object.properties.into_iter().collect(), object.required),
        _ => (Vec::new(), Vec::new()),
    }
}

/// What a client sends for a `K`: the common fields as `ItemFields::validate`
/// checks them and `K`'s attributes, nothing else (unknown fields are a 422).
/// `required` lists the fields a new item needs (`type` too, at the items
/// router); a change needs none, since it is laid over the stored item.
pub fn input_schema<K: ItemKind>(required: &[&str]) -> RefOr<Schema> {
    let description = ObjectBuilder::new()
        .schema_type(crate::openapi::nullable(Type::String))
        .max_length(Some(5_000))
        .pattern(Some(r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"))
        .description(Some("Blank clears it"));
    let common: [(&str, RefOr<Schema>); 6] = [
        ("type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some([K::TYPE])).into()),
        ("name", text::<200>()),
        ("description", description.into()),
        (
            "price",
            integer(0, MAX_AMOUNT_MINOR)
                .schema_type(crate::openapi::nullable(Type::Integer))
                .description(Some("Minor units of `currency` (1999 is 19.99); null while not for sale"))
                .into(),
        ),
        ("currency", currency(false).description(Some("Active ISO 4217 code, default USD")).into()),
        ("stock", integer(0, super::MAX_STOCK).description(Some("Units available to sell")).into()),
    ];
    let (attributes, _) = properties(K::Attributes::schema());
    let mut object = closed(ObjectBuilder::new());
    for (name, schema) in common.into_iter().map(|(n, s)| (n.to_string(), s)).chain(attributes) {
        if required.contains(&name.as_str()) {
            object = object.required(&name);
        }
        object = object.property(name, schema);
    }
    object.into()
}

/// The fields a new `K` must have.
fn required_fields<K: ItemKind>() -> Vec<String> {
    let (_, mut required) = properties(K::Attributes::schema());
    required.insert(0, "name".into());
    required
}

/// Paths and schemas of the item service for `K`.
pub fn openapi<K: ItemKind>() -> OpenApi {
    let tag = K::PLURAL;
    let base = format!("/api/{}/", K::PLURAL);
    let item = format!("/api/{}/{{id}}/", K::PLURAL);
    let attributes = format!("{}Attributes", K::TITLE);
    let input = format!("{}Input", K::TITLE);
    let patch = format!("{}Patch", K::TITLE);
    let create_at_router = format!("{}Create", K::TITLE);
    let page = format!("{}Page", K::TITLE);

    let list = list_parameters(
        OperationBuilder::new()
            .tag(tag)
            .operation_id(Some(format!("list_{}", K::PLURAL)))
            .summary(Some(format!("List and search {}", K::PLURAL)))
            .parameter(query_param(
                "type",
                "Only this service's type (what the items router's callers send)",
                ObjectBuilder::new().schema_type(Type::String).enum_values(Some([K::TYPE])).into(),
            ))
            .response("200", json_response("One page of matching items, newest first", schema_ref(&page))),
        K::search_params(),
    );
    // A kind with unique attributes refuses a second item with the same value.
    let unique = |operation: OperationBuilder| match K::UNIQUE {
        [] => operation,
        fields => operation
            .response("409", problem_response(&format!("Another {} has this {}", K::TYPE, fields.join(" or ")))),
    };
    let create = secured(unique(
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
    ));
    let read = OperationBuilder::new()
        .tag(tag)
        .operation_id(Some(format!("get_{}", K::TYPE)))
        .parameter(path_param("id", "Item id"))
        .response("200", json_response("The item", schema_ref(K::TITLE)))
        .response("404", problem_response("No such item"));
    let update = secured(unique(
        OperationBuilder::new()
            .tag(tag)
            .operation_id(Some(format!("update_{}", K::TYPE)))
            .summary(Some("Change some fields (staff); `null` clears an optional field".to_string()))
            .parameter(path_param("id", "Item id"))
            .request_body(Some(json_body(schema_ref(&patch), Some(json!({ "stock": 12 })))))
            .response("200", json_response("The updated item", schema_ref(K::TITLE)))
            .response("401", problem_response("No valid token"))
            .response("403", problem_response("Not staff"))
            .response("404", problem_response("No such item"))
            .response("413", problem_response("Body too large"))
            .response("415", problem_response("Body is not JSON"))
            .response("422", problem_response("Invalid fields, listed per field")),
    ));
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
    let item_schema: RefOr<Schema> = AllOfBuilder::new()
        .item(server_fields)
        .item(schema_ref(ItemFields::name().as_ref()))
        .item(schema_ref(&attributes))
        .into();
    let required = required_fields::<K>();
    let required: Vec<&str> = required.iter().map(String::as_str).collect();
    let with_type: Vec<&str> = required.iter().copied().chain(["type"]).collect();
    let page_schema = crate::openapi::page_schema(K::TITLE);

    document(
        &format!("{} service", K::TITLE),
        paths,
        vec![
            (ItemFields::name().to_string(), ItemFields::schema()),
            (attributes, K::Attributes::schema()),
            (input, input_schema::<K>(&required)),
            (patch, input_schema::<K>(&[])),
            (create_at_router, input_schema::<K>(&with_type)),
            (K::TITLE.to_string(), item_schema),
            (page, page_schema),
        ],
    )
}
