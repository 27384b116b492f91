//! The items router: `/api/items` in front of the item functions.
//!
//! `?type=` (or the body's `type` on POST) picks the function; a list with no
//! type asks every function in parallel and merges their answers into one page;
//! an id routes by its type prefix, or by the registry for ids without one.
//! Types with no function of their own live in the router's fallback catalog.

mod fallback;
pub mod fanout;
mod forward;
pub mod openapi;
mod table;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, Path, Request, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};
use shared::AppError;
use shared::auth::TokenKeys;
use shared::config::{ConfigError, Env};
use shared::documents::{self, Collection, DocumentStore};
use shared::error::AppResult;
use shared::http_app::{QueryContract, both_slashes, finish_with_contract};
use shared::ids::split_id;
use shared::invoke::Invoker;
use shared::store::StoreUrl;

pub use table::{DEFAULT_SERVICES, ItemService, ItemTable, Route};

#[derive(Debug, Clone)]
pub struct Config {
    pub table: ItemTable,
    pub store: StoreUrl,
    pub max_connections: u32,
    /// How long one invoked function may take before it counts as failed.
    pub invoke_timeout: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: ItemTable::parse(
                env.get("ITEM_SERVICES").unwrap_or(DEFAULT_SERVICES),
                env.get("FALLBACK_ITEM_TYPES").unwrap_or(""),
            )?,
            store: StoreUrl::from_env(env, "ITEMS_ROUTER_DATABASE_URL", "items-router")?,
            max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 2)?,
            invoke_timeout: Duration::from_millis(env.parse_or("INVOKE_TIMEOUT_MS", 3_000)?),
        })
    }
}

#[derive(Clone)]
pub struct RouterState {
    pub table: Arc<ItemTable>,
    pub invoker: Arc<dyn Invoker>,
    /// id → type for ids whose prefix does not name a configured type.
    pub registry: Arc<dyn DocumentStore>,
    /// Items of the fallback types.
    pub fallback: Arc<dyn DocumentStore>,
    pub keys: Arc<TokenKeys>,
    pub invoke_timeout: Duration,
}

impl FromRef<RouterState> for Arc<TokenKeys> {
    fn from_ref(state: &RouterState) -> Self {
        state.keys.clone()
    }
}

impl RouterState {
    pub fn new(config: &Config, invoker: Arc<dyn Invoker>, keys: Arc<TokenKeys>) -> AppResult<Self> {
        tracing::info!(store = %config.store.redacted(), "items router store");
        Ok(Self {
            table: Arc::new(config.table.clone()),
            invoker,
            // The registry is read by `_id` only, which every store keys on.
            registry: documents::open(&config.store, Collection::named("registry"), config.max_connections)?,
            fallback: documents::open(&config.store, fallback::collection(), config.max_connections)?,
            keys,
            invoke_timeout: config.invoke_timeout,
        })
    }

    fn unknown_type(&self, item_type: &str) -> AppError {
        AppError::BadRequest(format!("unknown item type `{item_type}`; supported types: {}", self.table.supported()))
    }

    fn route(&self, item_type: &str) -> AppResult<Route<'_>> {
        self.table.route(item_type).ok_or_else(|| self.unknown_type(item_type))
    }

    /// The type of an item id: its prefix when that is a configured type, else the registry's entry.
    async fn type_of(&self, id: &str) -> AppResult<String> {
        let not_found = || AppError::NotFound(format!("there is no item {}", shared::ids::mention(id)));
        if let Some((prefix, _)) = split_id(id)
            && self.table.route(prefix).is_some()
        {
            return Ok(prefix.to_string());
        }
        if id.is_empty() || id.len() > 100 {
            return Err(not_found());
        }
        let entry = self.registry.get(id).await?.ok_or_else(not_found)?;
        entry.get("type").and_then(Value::as_str).map(str::to_string).ok_or_else(not_found)
    }

    /// Remembers which type an id belongs to. A failure here is logged, not returned:
    /// the item exists, and ids with a type prefix route without the registry.
    async fn register(&self, id: &str, item_type: &str) {
        let mut entry = Map::new();
        entry.insert("id".into(), json!(id));
        entry.insert("type".into(), json!(item_type));
        if let Err(e) = self.registry.insert_missing(vec![entry]).await {
            tracing::warn!(%id, error = %e, "could not record the item in the registry");
        }
    }
}

pub fn router(state: RouterState) -> Router {
    let mut router = Router::new();
    for path in both_slashes("/api/items") {
        router = router.route(&path, get(list).post(create));
    }
    for path in both_slashes("/api/items/{id}") {
        router = router.route(&path, get(by_id).patch(by_id).delete(by_id));
    }
    // The order service reserves and releases stock here; API Gateway routes no /internal path.
    router = router.route("/internal/items/{id}/stock", axum::routing::post(change_stock));
    // A typed list takes that type's filters, which the type's function checks.
    let contract = QueryContract::from_document(&openapi::openapi()).forwards(http::Method::GET, "/api/items/");
    finish_with_contract(router.with_state(state), contract)
}

/// `?type=` forwards to that type's function; no type fans out to all of them.
async fn list(State(state): State<RouterState>, request: Request) -> AppResult<Response> {
    let pairs = shared::extract::QueryPairs::parse(request.uri().query().unwrap_or(""))?.0;
    // A blank value is the parameter left out, as for every list parameter.
    let types: Vec<&String> =
        pairs.iter().filter(|(k, v)| k == "type" && !v.trim().is_empty()).map(|(_, v)| v).collect();
    match types.as_slice() {
        [] => fanout::list_all(&state, request).await,
        [item_type] => match state.route(item_type)? {
            Route::Service(service) => {
                let path = format!("{}/", service.base_path);
                forward::list_one(&state, service, request, &path).await
            }
            Route::Fallback(item_type) => fallback::list(&state, item_type, request).await,
        },
        _ => Err(AppError::BadRequest("give `type` once".into())),
    }
}

/// The body's `type` (or `?type=`) picks the function that creates the item.
async fn create(State(state): State<RouterState>, request: Request) -> AppResult<Response> {
    let (parts, body) = request.into_parts();
    let bytes = forward::read_body(body).await?;
    let parsed: Value = shared::extract::parse_json(&bytes)?;
    let query_type = shared::extract::QueryPairs::parse(parts.uri.query().unwrap_or(""))?
        .0
        .into_iter()
        .find(|(k, _)| k == "type")
        .map(|(_, v)| v);
    let body_type = match parsed.get("type") {
        None => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => return Err(AppError::BadRequest("`type` must be a string".into())),
    };
    let item_type = match (query_type, body_type) {
        (Some(q), Some(b)) if q != b => {
            return Err(AppError::BadRequest("`type` in the query and the body disagree".into()));
        }
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => {
            return Err(AppError::BadRequest(format!(
                "say which type to create with `type`; supported types: {}",
                state.table.supported()
            )));
        }
    };
    match state.route(&item_type)? {
        Route::Service(service) => {
            let path = format!("{}/", service.base_path);
            let response = forward::send(&state, service, &parts, &path, None, bytes).await?;
            if response.status() == http::StatusCode::CREATED
                && let Some(id) = serde_json::from_slice::<Value>(response.body())
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_string))
            {
                state.register(&id, &service.item_type).await;
            }
            Ok(forward::into_response(response))
        }
        Route::Fallback(item_type) => {
            let Value::Object(body) = parsed else {
                return Err(AppError::BadRequest("the request body must be a JSON object".into()));
            };
            let item_type = item_type.to_string();
            fallback::create(&state, &parts, &item_type, body).await
        }
    }
}

/// Reads, changes or deletes an item in whichever function owns its type.
async fn by_id(State(state): State<RouterState>, Path(id): Path<String>, request: Request) -> AppResult<Response> {
    let item_type = state.type_of(&id).await?;
    match state.route(&item_type)? {
        Route::Service(service) => {
            let (parts, body) = request.into_parts();
            let bytes = forward::read_body(body).await?;
            let path = format!("{}/{id}/", service.base_path);
            let query = parts.uri.query().map(str::to_string);
            let response = forward::send(&state, service, &parts, &path, query.as_deref(), bytes).await?;
            if parts.method == http::Method::DELETE && response.status() == http::StatusCode::NO_CONTENT {
                let _ = state.registry.delete(&id).await;
            }
            Ok(forward::into_response(response))
        }
        Route::Fallback(item_type) => {
            let item_type = item_type.to_string();
            fallback::by_id(&state, &item_type, &id, request).await
        }
    }
}

/// Forwards a stock change to the function that owns the item's type.
async fn change_stock(
    State(state): State<RouterState>,
    Path(id): Path<String>,
    request: Request,
) -> AppResult<Response> {
    let item_type = state.type_of(&id).await?;
    let Route::Service(service) = state.route(&item_type)? else {
        return Err(AppError::Conflict(format!("items of type `{item_type}` have no stock to reserve")));
    };
    let (parts, body) = request.into_parts();
    let bytes = forward::read_body(body).await?;
    let response = forward::send(&state, service, &parts, &format!("/internal/stock/{id}"), None, bytes).await?;
    Ok(forward::into_response(response))
}
