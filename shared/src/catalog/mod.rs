//! The item catalog every item service runs: CRUD for staff, reads and
//! type-specific search for anyone. A service supplies an [`ItemKind`]: its
//! attributes, their validation and its search parameters.

mod docs;
mod search;
mod validate;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{PartialSchema, ToSchema};

pub use docs::{input_schema, list_parameters, openapi};
pub use search::filter_from_params;
pub use search::{ParamKind, SearchParam, common_search_params};
pub use validate::{check_optional_text, check_range, check_required_text};

use crate::auth::{Staff, TokenKeys};
use crate::config::{ConfigError, Env};
use crate::documents::{Collection, Document, DocumentStore};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::extract::{JsonObject, QueryPairs, from_json_value};
use crate::http_app::{both_slashes, finish_documented};
use crate::ids::{has_prefix, new_id};
use crate::money::{Currency, MAX_AMOUNT_MINOR};
use crate::pagination::{Page, PageRequest, RequestUrl};
use crate::store::StoreUrl;

pub const MAX_STOCK: i64 = 1_000_000;

/// What makes one item service different from another.
pub trait ItemKind: Send + Sync + 'static {
    /// The value of `type`, also the id prefix: `book`.
    const TYPE: &'static str;
    /// The route and collection name: `books` serves `/api/books/`.
    const PLURAL: &'static str;
    /// The schema name in the OpenAPI document: `Book`.
    const TITLE: &'static str;

    type Attributes: Serialize + DeserializeOwned + ToSchema + Send + Sync + 'static;

    /// Normalises the attributes (trims, canonical case) and adds a message per invalid one.
    fn validate(attributes: &mut Self::Attributes, errors: &mut FieldErrors);

    /// The type-specific search parameters (the common ones are added for every type).
    fn search_params() -> &'static [SearchParam];

    /// Text attributes no two items of this type may share (a book's ISBN): a
    /// create or change that would repeat one is a 409.
    const UNIQUE: &'static [&'static str] = &[];

    /// An example create body for the API document.
    fn example() -> Value;
}

/// The fields every item has, whatever its type. Prices are integer minor units.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemFields {
    /// Display name, 1 to 200 characters.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Price in minor units of `currency` (1999 is 19.99); absent while not yet priced.
    #[serde(default)]
    pub price: Option<i64>,
    #[serde(default)]
    #[schema(value_type = String, example = "USD")]
    pub currency: Currency,
    /// Units available to sell.
    #[serde(default)]
    pub stock: i64,
}

impl ItemFields {
    fn normalize(&mut self) {
        self.name = self.name.trim().to_string();
        if let Some(d) = &self.description {
            let d = d.trim();
            self.description = (!d.is_empty()).then(|| d.to_string());
        }
    }

    pub fn validate(&self, errors: &mut FieldErrors) {
        check_required_text(errors, "name", &self.name, 200);
        check_optional_text(errors, "description", self.description.as_deref(), 5_000);
        if let Some(price) = self.price {
            check_range(errors, "price", price, 0, MAX_AMOUNT_MINOR);
        }
        check_range(errors, "stock", self.stock, 0, MAX_STOCK);
    }
}

/// Fields a client may never set.
const SERVER_FIELDS: [&str; 4] = ["id", "type", "created_at", "updated_at"];

/// Validates a create body (or a record merged with a patch) and returns its
/// normalised client fields. Unknown fields, wrong types and invalid values are 422s.
pub fn parse_input<K: ItemKind>(body: Map<String, Value>) -> AppResult<Document> {
    parse_item::<K::Attributes>(body, K::TYPE, K::validate)
}

/// [`parse_input`] for a type known only at run time (the router's fallback types).
pub fn parse_item<A: Serialize + DeserializeOwned>(
    mut body: Map<String, Value>,
    item_type: &str,
    validate: impl FnOnce(&mut A, &mut FieldErrors),
) -> AppResult<Document> {
    let mut errors = FieldErrors::new();
    match body.remove("type") {
        None => {}
        Some(Value::String(t)) if t == item_type => {}
        Some(_) => errors.add("type", format!("must be \"{item_type}\" here")),
    }
    for field in ["id", "created_at", "updated_at"] {
        if body.remove(field).is_some() {
            errors.add(field, "is set by the server");
        }
    }
    // Common fields and attributes are typed separately (not flattened into one
    // struct) so a wrong type or a missing field is reported under its own name.
    let value = Value::Object(body.clone());
    let (fields, attributes) = match (from_json_value::<ItemFields>(value.clone()), from_json_value::<A>(value)) {
        (Ok(f), Ok(a)) => (f, a),
        (f, a) => {
            for failure in [f.err(), a.err()].into_iter().flatten() {
                match failure {
                    AppError::Validation(e) => errors.extend(e),
                    other => return Err(other),
                }
            }
            return Err(AppError::Validation(errors));
        }
    };
    let (mut fields, mut attributes) = (fields, attributes);
    fields.normalize();
    fields.validate(&mut errors);
    validate(&mut attributes, &mut errors);
    let mut normalized = to_object(&fields)?;
    normalized.extend(to_object(&attributes)?);
    for key in body.keys().filter(|k| !normalized.contains_key(*k)) {
        errors.add(key.clone(), "unknown field");
    }
    errors.into_result()?;
    Ok(normalized)
}

fn to_object(value: &impl Serialize) -> AppResult<Document> {
    match serde_json::to_value(value).map_err(AppError::internal)? {
        Value::Object(map) => Ok(map),
        _ => Err(AppError::internal("item part did not serialize to an object")),
    }
}

pub fn now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// A stored record with `patch` laid over its client fields, and its creation time.
pub fn merge_patch(existing: Document, patch: Map<String, Value>) -> AppResult<(String, Map<String, Value>)> {
    let mut read_only = FieldErrors::new();
    for field in SERVER_FIELDS.iter().filter(|f| **f != "type") {
        if patch.contains_key(*field) {
            read_only.add(*field, "is set by the server");
        }
    }
    read_only.into_result()?;
    let created_at = existing.get("created_at").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut merged: Map<String, Value> =
        existing.into_iter().filter(|(k, _)| !SERVER_FIELDS.contains(&k.as_str())).collect();
    merged.extend(patch);
    Ok((created_at, merged))
}

/// A stored record: server fields around validated client fields.
pub fn stamp(item_type: &str, id: String, created_at: String, fields: Document) -> Document {
    let mut doc = Map::new();
    doc.insert("id".into(), Value::from(id));
    doc.insert("type".into(), Value::from(item_type));
    doc.extend(fields);
    doc.insert("created_at".into(), Value::from(created_at));
    doc.insert("updated_at".into(), Value::from(now()));
    doc
}

/// A new stored record for a validated create body; also used by the fixtures loader.
pub fn new_record<K: ItemKind>(body: Map<String, Value>) -> AppResult<Document> {
    let fields = parse_input::<K>(body)?;
    Ok(stamp(K::TYPE, new_id(K::TYPE), now(), fields))
}

/// Where an item service keeps its items: `<TYPE>_DATABASE_URL` (MongoDB or SQLite).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub store: StoreUrl,
    pub max_connections: u32,
}

impl ServiceConfig {
    pub fn from_env<K: ItemKind>(env: &Env) -> Result<Self, ConfigError> {
        let var = format!("{}_DATABASE_URL", K::TYPE.to_ascii_uppercase().replace('-', "_"));
        let store = match env.get(&var) {
            Some(url) => {
                StoreUrl::parse(url, K::PLURAL).map_err(|why| ConfigError::Invalid { name: var.clone(), why })?
            }
            None => StoreUrl::from_env(env, &var, K::TYPE)?,
        };
        Ok(Self { store, max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 2)? })
    }
}

/// What `K`'s store holds: searched by the common and `K`'s parameters, with
/// `K`'s unique attributes, and the integer fields of the item and its attributes.
pub fn collection<K: ItemKind>() -> Collection {
    let mut indexed: Vec<&'static str> = Vec::new();
    for p in common_search_params().iter().chain(K::search_params()) {
        if !indexed.contains(&p.field) {
            indexed.push(p.field);
        }
    }
    let mut integers = integer_fields(&ItemFields::schema());
    integers.extend(integer_fields(&K::Attributes::schema()));
    Collection { name: K::PLURAL, indexed, unique: K::UNIQUE.to_vec(), integers, stock: true }
}

/// The properties an object schema types as integers (nullable or not).
pub fn integer_fields(schema: &utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>) -> Vec<String> {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    let RefOr::T(Schema::Object(object)) = schema else { return Vec::new() };
    object
        .properties
        .iter()
        .filter(|(_, property)| match property {
            RefOr::T(Schema::Object(p)) => match &p.schema_type {
                SchemaType::Type(t) => *t == Type::Integer,
                SchemaType::Array(types) => types.contains(&Type::Integer),
                SchemaType::AnyValue => false,
            },
            _ => false,
        })
        .map(|(name, _)| name.clone())
        .collect()
}

impl CatalogState {
    /// The state of `K`'s service; nothing is connected until the first request.
    pub fn new<K: ItemKind>(config: &ServiceConfig, keys: Arc<TokenKeys>) -> AppResult<Self> {
        tracing::info!(service = K::TYPE, store = %config.store.redacted(), "item store");
        Ok(Self { store: crate::documents::open(&config.store, collection::<K>(), config.max_connections)?, keys })
    }
}

#[derive(Clone)]
pub struct CatalogState {
    pub store: Arc<dyn DocumentStore>,
    pub keys: Arc<TokenKeys>,
}

impl FromRef<CatalogState> for Arc<TokenKeys> {
    fn from_ref(state: &CatalogState) -> Self {
        state.keys.clone()
    }
}

/// The Lambda entry point of `K`'s service: tracing, configuration, state, then
/// the Router under the Lambda runtime.
pub async fn run_lambda<K: ItemKind>() -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let env = Env::from_process();
    let config = ServiceConfig::from_env::<K>(&env)?;
    let state = CatalogState::new::<K>(&config, Arc::new(TokenKeys::from_env(&env)?))?;
    crate::http_app::run_lambda(router::<K>(state)).await
}

/// The service's Router: `/api/<plural>/` and `/api/<plural>/{id}/`, with and without the slash.
pub fn router<K: ItemKind>(state: CatalogState) -> Router {
    let base = format!("/api/{}", K::PLURAL);
    let mut router = Router::new();
    for path in both_slashes(&base) {
        router = router.route(&path, get(list::<K>).post(create::<K>));
    }
    for path in both_slashes(&format!("{base}/{{id}}")) {
        router = router.route(&path, get(read::<K>).patch(update::<K>).delete(remove::<K>));
    }
    // For the order service (through the items router); API Gateway routes no /internal path.
    router = router.route("/internal/stock/{id}", axum::routing::post(change_stock::<K>));
    // For the items router's merged list: the first items of a search, by `offset` and `limit`.
    router = router.route("/internal/list", get(window::<K>));
    finish_documented(router.with_state(state), &docs::openapi::<K>())
}

async fn list<K: ItemKind>(state: State<CatalogState>, url: RequestUrl, query: QueryPairs) -> AppResult<Response> {
    search_page::<K>(state, url, query, PageRequest::from_params).await
}

async fn window<K: ItemKind>(state: State<CatalogState>, url: RequestUrl, query: QueryPairs) -> AppResult<Response> {
    search_page::<K>(state, url, query, PageRequest::window_from_params).await
}

async fn search_page<K: ItemKind>(
    State(state): State<CatalogState>,
    url: RequestUrl,
    query: QueryPairs,
    paging: fn(&mut crate::extract::QueryParams) -> Option<PageRequest>,
) -> AppResult<Response> {
    let mut params = query.into_params();
    // `?type=` is what the items router's callers send; here it can only name this type.
    if let Some(item_type) = params.text("type", 40)
        && item_type != K::TYPE
    {
        params.add_error("type", format!("this service lists only \"{}\"", K::TYPE));
    }
    let page = paging(&mut params);
    let filter = search::filter_from_params(&mut params, common_search_params().iter().chain(K::search_params()));
    params.finish()?;
    let page = page.ok_or_else(|| AppError::internal("page request missing without an error"))?;
    let found = state.store.find_json(&filter, page.offset, page.limit).await?;
    Ok(axum::Json(Page::new(found.documents, found.count, &page, &url)).into_response())
}

async fn create<K: ItemKind>(
    State(state): State<CatalogState>,
    _staff: Staff,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let doc = new_record::<K>(body)?;
    state.store.insert(doc.clone()).await?;
    let location = format!("/api/{}/{}/", K::PLURAL, doc["id"].as_str().unwrap_or_default());
    let mut response = (StatusCode::CREATED, axum::Json(doc)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn find_existing<K: ItemKind>(state: &CatalogState, id: &str) -> AppResult<Document> {
    let not_found = || AppError::NotFound(format!("there is no {} {}", K::TYPE, crate::ids::mention(id)));
    if !has_prefix(id, K::TYPE) {
        return Err(not_found());
    }
    state.store.get(id).await?.ok_or_else(not_found)
}

async fn read<K: ItemKind>(
    State(state): State<CatalogState>,
    Path(id): Path<String>,
) -> AppResult<axum::Json<Document>> {
    find_existing::<K>(&state, &id).await.map(axum::Json)
}

async fn update<K: ItemKind>(
    State(state): State<CatalogState>,
    _staff: Staff,
    Path(id): Path<String>,
    JsonObject(patch): JsonObject,
) -> AppResult<axum::Json<Document>> {
    let existing = find_existing::<K>(&state, &id).await?;
    let (created_at, merged) = merge_patch(existing, patch)?;
    let doc = stamp(K::TYPE, id.clone(), created_at, parse_input::<K>(merged)?);
    if !state.store.replace(doc.clone()).await? {
        return Err(AppError::NotFound(format!("there is no {} {}", K::TYPE, crate::ids::mention(&id))));
    }
    Ok(axum::Json(doc))
}

/// A reservation (negative `delta`) or a release (positive), at most once per `key`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockChangeRequest {
    pub delta: i64,
    /// Idempotency key, e.g. `order_01…:book_01…:reserve`.
    pub key: String,
}

async fn change_stock<K: ItemKind>(
    State(state): State<CatalogState>,
    Path(id): Path<String>,
    crate::extract::Json(change): crate::extract::Json<StockChangeRequest>,
) -> AppResult<axum::Json<Value>> {
    let mut errors = FieldErrors::new();
    if change.delta == 0 || change.delta.abs() > MAX_STOCK {
        errors.add("delta", format!("must be non-zero and between -{MAX_STOCK} and {MAX_STOCK}"));
    }
    check_required_text(&mut errors, "key", &change.key, 200);
    errors.into_result()?;
    let missing = || AppError::NotFound(format!("there is no {} {}", K::TYPE, crate::ids::mention(&id)));
    if !has_prefix(&id, K::TYPE) {
        return Err(missing());
    }
    match state.store.change_stock(&id, change.delta, change.key.trim()).await? {
        crate::documents::StockChange::Applied { stock, replayed } => {
            Ok(axum::Json(serde_json::json!({ "id": id, "stock": stock, "replayed": replayed })))
        }
        crate::documents::StockChange::Insufficient { stock } => {
            Err(AppError::Conflict(format!("only {stock} in stock; {} requested", -change.delta)))
        }
        crate::documents::StockChange::Missing => Err(missing()),
    }
}

async fn remove<K: ItemKind>(
    State(state): State<CatalogState>,
    _staff: Staff,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    if has_prefix(&id, K::TYPE) && state.store.delete(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(format!("there is no {} {}", K::TYPE, crate::ids::mention(&id))))
    }
}
