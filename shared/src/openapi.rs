//! Building blocks for each function's part of the OpenAPI 3.1 document.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, Schema};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required};
use utoipa::{PartialSchema, ToSchema};

use crate::error::{FieldErrors, PROBLEM_JSON, Problem};

pub const BEARER: &str = "bearer";

pub fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
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

pub fn query_param(name: &str, description: &str, schema: RefOr<Schema>) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
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
        .response("503", problem_response("A dependency is unavailable; retry after `Retry-After` seconds"))
}

/// A document holding `paths` and the shared components (problem schema, bearer scheme).
pub fn document(title: &str, paths: Paths, schemas: Vec<(String, RefOr<Schema>)>) -> OpenApi {
    let mut components = ComponentsBuilder::new()
        .schema(Problem::name(), Problem::schema())
        .schema(FieldErrors::name(), FieldErrors::schema())
        .security_scheme(BEARER, SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    for (name, schema) in schemas {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(InfoBuilder::new().title(title).version(env!("CARGO_PKG_VERSION")).build())
        .paths(paths)
        .components(Some(components.build()))
        .build()
}
