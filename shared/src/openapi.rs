//! Building blocks for each function's part of the OpenAPI 3.1 document.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AdditionalProperties, AnyOfBuilder, ComponentsBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required};
use utoipa::{PartialSchema, ToSchema};

use crate::error::{FieldErrors, PROBLEM_JSON, Problem};

pub const BEARER: &str = "bearer";
/// The security scheme of a guest session token, sent as `X-Guest-Token`.
pub const GUEST_TOKEN: &str = "guest_token";

pub fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// What [`crate::catalog::check_required_text`] accepts: some character that is
/// not white space, and no control characters but tab and newline.
pub const TEXT_PATTERN: &str =
    r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$";

/// Text with some character that is not white space, and no control characters
/// at all.
pub const PLAIN_TEXT_PATTERN: &str = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$";

/// Emails as the registered service takes them, in ASCII (its limits count
/// bytes): a name of at most 64 characters, `@`, and a domain of dot-separated
/// labels.
pub const EMAIL_PATTERN: &str = r"^[!-?A-~]{1,64}@[!-\-/-?A-~]+(?:\.[!-\-/-?A-~]+)+$";

/// Text of 1 to `MAX` characters as the shared text checks accept it (see [`TEXT_PATTERN`]).
pub fn text<const MAX: usize>() -> RefOr<Schema> {
    text_builder(MAX).into()
}

/// [`text`], or `null`: what `check_optional_text` accepts.
pub fn optional_text<const MAX: usize>() -> RefOr<Schema> {
    text_builder(MAX).schema_type(nullable(Type::String)).into()
}

fn text_builder(max: usize) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(max)).pattern(Some(TEXT_PATTERN))
}

/// `ty` or `null`.
pub fn nullable(ty: Type) -> utoipa::openapi::schema::SchemaType {
    utoipa::openapi::schema::SchemaType::from_iter([ty, Type::Null])
}

/// A string of `min` to `max` characters matching `pattern` (anchor it: JSON
/// Schema patterns match anywhere).
pub fn string(min: usize, max: usize, pattern: Option<&str>) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).min_length(Some(min)).max_length(Some(max)).pattern(pattern)
}

/// A whole number from `min` to `max`.
pub fn integer(min: i64, max: i64) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min as f64)).maximum(Some(max as f64))
}

/// An ISO 4217 code [`crate::money::Currency`] accepts (or `null`, when `nullable`).
pub fn currency(nullable_too: bool) -> ObjectBuilder {
    let codes = crate::money::Currency::codes().map(serde_json::Value::from);
    if nullable_too {
        ObjectBuilder::new()
            .schema_type(nullable(Type::String))
            .enum_values(Some(codes.chain([serde_json::Value::Null])))
    } else {
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(codes))
    }
}

/// One of these strings.
pub fn one_of_strings<const N: usize>(values: [&str; N]) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values))
}

/// An object that takes no properties but those it names: the services answer
/// 422 to unknown fields.
pub fn closed(object: ObjectBuilder) -> ObjectBuilder {
    object.additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
}

/// The `page` and `page_size` query parameters of a paged list. The `offset` and
/// `limit` window the lists also take is the items router's way of asking each
/// service for part of a merged list; it cannot be combined with `page`, which
/// OpenAPI parameters cannot say, so it stays out of the public document.
pub fn paged(mut operation: OperationBuilder) -> OperationBuilder {
    use crate::pagination::MAX_PAGE_SIZE;
    for (name, description, schema) in [
        ("page", "Page number, from 1", integer(1, 1_000_000)),
        ("page_size", "Entries per page, 1 to 100 (default 20)", integer(1, MAX_PAGE_SIZE as i64)),
    ] {
        operation = operation.parameter(query_param(name, description, schema.into()));
    }
    operation
}

/// A DRF page (`count`, `next`, `previous`, `results`) of the schema named `item`.
pub fn page_schema(item: &str) -> RefOr<Schema> {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder};
    ObjectBuilder::new()
        .property("count", u64::schema())
        .required("count")
        .property("next", <Option<String>>::schema())
        .required("next")
        .property("previous", <Option<String>>::schema())
        .required("previous")
        .property("results", ArrayBuilder::new().items(schema_ref(item)))
        .required("results")
        .into()
}

/// A response whose body is JSON of `schema`.
pub fn json_response(description: &str, schema: RefOr<Schema>) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(schema)).build())
        .build()
}

pub fn problem_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(schema_ref("Problem"))).build())
        .build()
}

/// A problem that says, in `Retry-After`, how many seconds to wait.
pub fn problem_with_retry_after(description: &str) -> utoipa::openapi::Response {
    let seconds = utoipa::openapi::header::HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
        .description(Some("Seconds to wait before trying again"))
        .build();
    ResponseBuilder::new()
        .description(description)
        .header("Retry-After", seconds)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(schema_ref("Problem"))).build())
        .build()
}

pub fn empty_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new().description(description).build()
}

pub fn json_body(
    schema: RefOr<Schema>,
    example: Option<serde_json::Value>,
) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .content("application/json", ContentBuilder::new().schema(Some(schema)).example(example).build())
        .required(Some(Required::True))
        .build()
}

pub fn path_param(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(String::schema()))
        .build()
}

/// An optional query parameter. The services read these with
/// `QueryParams`, which takes an empty value as the parameter left out, so the
/// document says `allowEmptyValue` (a Parameter field utoipa has no builder
/// method for; OpenAPI 3.1 still defines it).
pub fn query_param(name: &str, description: &str, schema: RefOr<Schema>) -> utoipa::openapi::path::Parameter {
    let mut parameter = ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build();
    parameter.extensions = Some(utoipa::openapi::extensions::Extensions::from_iter([("allowEmptyValue", true)]));
    parameter
}

pub fn header_param(name: &str, description: impl Into<String>, required: bool) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(if required { Required::True } else { Required::False })
        .description(Some(description.into()))
        .schema(Some(String::schema()))
        .build()
}

/// A component schema entry for [`document`].
pub fn schema_of<T: ToSchema>() -> (String, RefOr<Schema>) {
    (T::name().to_string(), T::schema())
}

/// Marks an operation as needing a bearer token.
pub fn secured(operation: OperationBuilder) -> OperationBuilder {
    operation.security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
}

/// The errors any operation can answer with.
pub fn with_common_errors(operation: OperationBuilder) -> OperationBuilder {
    operation
        .response("400", problem_response("Malformed request or invalid query parameters"))
        .response("503", problem_with_retry_after("A dependency is unavailable; retry after `Retry-After` seconds"))
}

/// A document holding `paths` and the shared components (problem schema, bearer
/// and guest token schemes).
pub fn document(title: &str, paths: Paths, schemas: Vec<(String, RefOr<Schema>)>) -> OpenApi {
    let mut components = ComponentsBuilder::new()
        .schema(Problem::name(), Problem::schema())
        .schema(FieldErrors::name(), FieldErrors::schema())
        .security_scheme(BEARER, SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)))
        .security_scheme(GUEST_TOKEN, SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Guest-Token"))));
    for (name, schema) in schemas {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(InfoBuilder::new().title(title).version(env!("CARGO_PKG_VERSION")).build())
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

/// Adds `other`'s paths to `doc`. A path and method both describe is one route
/// whose answer comes from different functions for different callers (the
/// customer router forwards `/api/customers/` by customer type), so the two
/// operations become one that lists every outcome: answers of the same status
/// are any of the schemas, and any of the security requirements lets a caller
/// in. Components are added where `doc` lacks them.
pub fn merge_alternatives(doc: &mut OpenApi, mut other: OpenApi) {
    let paths = std::mem::take(&mut other.paths.paths);
    for (path, item) in paths {
        match doc.paths.paths.get_mut(&path) {
            Some(existing) => merge_path_item(existing, item),
            None => {
                doc.paths.paths.insert(path, item);
            }
        }
    }
    doc.merge(other);
}

fn merge_path_item(into: &mut PathItem, from: PathItem) {
    let pairs = [
        (&mut into.get, from.get),
        (&mut into.put, from.put),
        (&mut into.post, from.post),
        (&mut into.delete, from.delete),
        (&mut into.options, from.options),
        (&mut into.head, from.head),
        (&mut into.patch, from.patch),
        (&mut into.trace, from.trace),
    ];
    for (slot, operation) in pairs {
        match (slot.as_mut(), operation) {
            (Some(existing), Some(operation)) => merge_operation(existing, operation),
            (None, Some(operation)) => *slot = Some(operation),
            (_, None) => {}
        }
    }
}

fn merge_operation(into: &mut Operation, from: Operation) {
    for parameter in from.parameters.unwrap_or_default() {
        let parameters = into.parameters.get_or_insert_with(Vec::new);
        let same = |p: &&mut utoipa::openapi::path::Parameter| {
            p.name == parameter.name && p.parameter_in == parameter.parameter_in
        };
        match parameters.iter_mut().find(|p| same(p)) {
            // Required only if every function requires it.
            Some(existing) if parameter.required == Required::False => existing.required = Required::False,
            Some(_) => {}
            None => parameters.push(parameter),
        }
    }
    if into.request_body.is_none() {
        into.request_body = from.request_body;
    }
    for (status, response) in from.responses.responses {
        match into.responses.responses.get_mut(&status) {
            Some(RefOr::T(existing)) => {
                if let RefOr::T(response) = response {
                    merge_response(existing, response);
                }
            }
            Some(RefOr::Ref(_)) => {}
            None => {
                into.responses.responses.insert(status, response);
            }
        }
    }
    // Security requirements are alternatives: meeting any one of them lets a
    // caller in. An operation without any is open, which the empty requirement says.
    if into.security.is_some() || from.security.is_some() {
        let open = || vec![SecurityRequirement::default()];
        let mut requirements = into.security.take().unwrap_or_else(open);
        for requirement in from.security.unwrap_or_else(open) {
            if !requirements.contains(&requirement) {
                requirements.push(requirement);
            }
        }
        into.security = Some(requirements);
    }
}

fn merge_response(into: &mut utoipa::openapi::Response, from: utoipa::openapi::Response) {
    if into.description != from.description && !into.description.contains(&from.description) {
        into.description = format!("{}; or: {}", into.description, from.description);
    }
    for (media_type, content) in from.content {
        match into.content.get_mut(&media_type) {
            Some(existing) => {
                existing.schema = match (existing.schema.take(), content.schema) {
                    (Some(a), Some(b)) if a != b => Some(any_of(a, b)),
                    (a, b) => a.or(b),
                };
            }
            None => {
                into.content.insert(media_type, content);
            }
        }
    }
}

/// `a` or `b`, flattening an `anyOf` that `a` already is.
fn any_of(a: RefOr<Schema>, b: RefOr<Schema>) -> RefOr<Schema> {
    let mut items = match a {
        RefOr::T(Schema::AnyOf(any)) => any.items,
        other => vec![other],
    };
    if !items.contains(&b) {
        items.push(b);
    }
    let mut builder = AnyOfBuilder::new();
    for item in items {
        builder = builder.item(item);
    }
    builder.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::PathsBuilder;
    use utoipa::openapi::path::HttpMethod;

    fn one(path: &str, operation: OperationBuilder) -> OpenApi {
        document("t", PathsBuilder::new().path(path, PathItem::new(HttpMethod::Get, operation)).build(), vec![])
    }

    #[test]
    fn one_route_served_by_two_functions_lists_both_outcomes() {
        let mut doc = one(
            "/me",
            OperationBuilder::new()
                .operation_id(Some("guest"))
                .response("200", json_response("a guest", schema_ref("Guest")))
                .response("401", problem_response("bad guest token")),
        );
        let account = one(
            "/me",
            secured(OperationBuilder::new().operation_id(Some("account")))
                .response("200", json_response("an account", schema_ref("Account")))
                .response("404", problem_response("no account")),
        );
        merge_alternatives(&mut doc, account);
        let json = serde_json::to_value(&doc).unwrap();
        let me = &json["paths"]["/me"]["get"];
        assert_eq!(me["operationId"], "guest");
        assert_eq!(
            me["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"].as_array().unwrap().len(),
            2
        );
        assert_eq!(me["responses"]["200"]["description"], "a guest; or: an account");
        assert!(me["responses"].get("401").is_some() && me["responses"].get("404").is_some());
        // Open to anyone, or with a bearer token.
        assert_eq!(me["security"], serde_json::json!([{}, { "bearer": [] }]));
    }
}
