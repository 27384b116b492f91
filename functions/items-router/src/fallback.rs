//! The fallback catalog: item types with no function of their own are kept in
//! the router's store, with the common item fields and free-form `attributes`.

use axum::extract::{FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::auth::Staff;
use shared::catalog::{ItemFields, common_search_params, filter_from_params, merge_patch, now, parse_item, stamp};
use shared::documents::{Collection, FilterValue, Op};
use shared::error::{AppError, AppResult, FieldErrors};
use shared::extract::QueryPairs;
use shared::ids::new_id;
use shared::pagination::{Page, PageRequest, RequestUrl};

use crate::{RouterState, forward};

const MAX_ATTRIBUTES: usize = 50;

/// The fallback items: searched by type and the common parameters.
pub fn collection() -> Collection {
    let mut indexed = vec!["type"];
    indexed.extend(common_search_params().iter().map(|p| p.field).filter(|f| *f != "type"));
    indexed.dedup();
    let integers = shared::catalog::integer_fields(&<ItemFields as utoipa::PartialSchema>::schema());
    Collection { name: "fallback_items", indexed, unique: Vec::new(), integers, stock: false }
}

#[derive(Serialize, Deserialize)]
struct FallbackAttributes {
    #[serde(default)]
    attributes: Map<String, Value>,
}

fn validate(attrs: &mut FallbackAttributes, errors: &mut FieldErrors) {
    if attrs.attributes.len() > MAX_ATTRIBUTES {
        errors.add("attributes", format!("at most {MAX_ATTRIBUTES} attributes"));
    }
    for (key, value) in &attrs.attributes {
        let field = format!("attributes.{key}");
        if key.is_empty() || key.len() > 50 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            errors.add(field, "attribute names are 1 to 50 letters, digits or underscores");
            continue;
        }
        match value {
            Value::String(s) if s.chars().count() > 500 => errors.add(field, "at most 500 characters"),
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {}
            _ => errors.add(field, "must be a string, number, true/false or null"),
        }
    }
}

pub async fn list(state: &RouterState, item_type: &str, request: Request) -> AppResult<Response> {
    let (parts, _) = request.into_parts();
    let url = RequestUrl::from_parts(&parts);
    let mut params = QueryPairs::parse(parts.uri.query().unwrap_or(""))?.into_params();
    params.allow("type");
    let page = PageRequest::from_params(&mut params);
    let mut filter = filter_from_params(&mut params, common_search_params().iter());
    params.finish()?;
    let page = page.ok_or_else(|| AppError::internal("page request missing without an error"))?;
    filter.push("type", Op::Eq, FilterValue::Text(item_type.to_string()));
    let found = state.fallback.find_json(&filter, page.offset, page.limit).await?;
    Ok(axum::Json(Page::new(found.documents, found.count, &page, &url)).into_response())
}

async fn require_staff(state: &RouterState, parts: &Parts) -> AppResult<()> {
    let mut parts = parts.clone();
    Staff::from_request_parts(&mut parts, state).await.map(|_| ())
}

pub async fn create(
    state: &RouterState,
    parts: &Parts,
    item_type: &str,
    body: Map<String, Value>,
) -> AppResult<Response> {
    require_staff(state, parts).await?;
    let fields = parse_item::<FallbackAttributes>(body, item_type, validate)?;
    let doc = stamp(item_type, new_id(item_type), now(), fields);
    state.fallback.insert(doc.clone()).await?;
    Ok((StatusCode::CREATED, axum::Json(doc)).into_response())
}

pub async fn by_id(state: &RouterState, item_type: &str, id: &str, request: Request) -> AppResult<Response> {
    let (parts, body) = request.into_parts();
    let not_found = || AppError::NotFound(format!("there is no item {}", shared::ids::mention(id)));
    let existing = state.fallback.get(id).await?.ok_or_else(not_found)?;
    match parts.method {
        // axum answers HEAD with the GET answer's headers and no body.
        http::Method::GET | http::Method::HEAD => Ok(axum::Json(existing).into_response()),
        http::Method::PATCH => {
            require_staff(state, &parts).await?;
            let patch = match shared::extract::parse_json::<Value>(&forward::read_body(body).await?)? {
                Value::Object(map) => map,
                _ => return Err(AppError::BadRequest("the request body must be a JSON object".into())),
            };
            let (created_at, merged) = merge_patch(existing, patch)?;
            let doc = stamp(
                item_type,
                id.to_string(),
                created_at,
                parse_item::<FallbackAttributes>(merged, item_type, validate)?,
            );
            if !state.fallback.replace(doc.clone()).await? {
                return Err(not_found());
            }
            Ok(axum::Json(doc).into_response())
        }
        http::Method::DELETE => {
            require_staff(state, &parts).await?;
            state.fallback.delete(id).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(AppError::MethodNotAllowed),
    }
}
