//! The all-types list: every item function is asked in parallel for the window
//! the requested page needs, and the answers are merged newest first (ids carry
//! a ULID, so they sort by creation time across services). A function that fails
//! or misses the deadline is named in `unavailable`; the others still answer.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::future::join_all;
use serde::Serialize;
use serde_json::Value;
use shared::AppError;
use shared::catalog::common_search_params;
use shared::documents::Document;
use shared::error::AppResult;
use shared::extract::QueryPairs;
use shared::ids::split_id;
use shared::pagination::{MAX_WINDOW, Page, PageRequest, RequestUrl};
use utoipa::ToSchema;

use crate::{RouterState, forward};

/// A service that did not answer the fan-out.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unavailable {
    #[serde(rename = "type")]
    pub item_type: String,
    pub detail: String,
}

#[derive(Serialize)]
struct MergedPage {
    #[serde(flatten)]
    page: Page<Document>,
    unavailable: Vec<Unavailable>,
}

pub async fn list_all(state: &RouterState, request: Request) -> AppResult<Response> {
    let (parts, _) = request.into_parts();
    let url = RequestUrl::from_parts(&parts);
    let pairs = QueryPairs::parse(parts.uri.query().unwrap_or(""))?.0;
    let mut params = QueryPairs(pairs.clone()).into_params();
    // Only a blank `type` reaches here: the same as none.
    params.allow("type");
    let page = PageRequest::from_params(&mut params);
    let filter = shared::catalog::filter_from_params(&mut params, common_search_params().iter());
    params.finish().map_err(|e| match e {
        AppError::InvalidParameters(mut errors) => {
            for name in errors.fields().map(str::to_string).collect::<Vec<_>>() {
                if !common_search_params().iter().any(|p| p.name == name)
                    && !["page", "page_size", "offset", "limit"].contains(&name.as_str())
                {
                    errors.add(name, "type-specific filters need `?type=`");
                }
            }
            AppError::InvalidParameters(errors)
        }
        other => other,
    })?;
    let page = page.ok_or_else(|| AppError::internal("page request missing without an error"))?;
    let window = page.offset + page.limit;
    // A valid page that the merge cannot reach: like a page past the end of a
    // DRF list, it is not found (a 400 would call a well-formed request wrong).
    if window > MAX_WINDOW {
        return Err(AppError::NotFound(format!(
            "the all-types list reaches the first {MAX_WINDOW} items; add `?type=` to page further"
        )));
    }

    let mut query: Vec<(String, String)> =
        pairs.into_iter().filter(|(k, _)| common_search_params().iter().any(|p| p.name == k)).collect();
    query.push(("offset".into(), "0".into()));
    query.push(("limit".into(), window.to_string()));
    let query = serde_urlencoded::to_string(&query).unwrap_or_default();

    // The window is asked on each function's internal list: public lists page by `page_size` (at most 100).
    let calls = state.table.services().iter().map(|service| {
        let (parts, query) = (&parts, &query);
        async move { (service, forward::send(state, service, parts, "/internal/list", Some(query), Bytes::new()).await) }
    });
    let fallback = async {
        if state.table.fallback_types().is_empty() {
            Ok(Default::default())
        } else {
            state.fallback.find(&filter, 0, window).await
        }
    };
    let (answers, fallback) = tokio::join!(join_all(calls), fallback);

    let mut count = 0;
    let mut results: Vec<Document> = Vec::new();
    let mut unavailable = Vec::new();
    for (service, answer) in answers {
        let response = match answer {
            Ok(response) => response,
            Err(e) => {
                let detail = e.problem().detail;
                tracing::warn!(item_type = %service.item_type, %detail, "item service unavailable in fan-out");
                unavailable.push(Unavailable { item_type: service.item_type.clone(), detail });
                continue;
            }
        };
        if response.status().is_client_error() {
            return Ok(forward::into_response(response));
        }
        match serde_json::from_slice::<Page<Document>>(response.body()) {
            Ok(page) => {
                count += page.count;
                results.extend(page.results);
            }
            Err(e) => unavailable.push(Unavailable {
                item_type: service.item_type.clone(),
                detail: format!("answered an unreadable page: {e}"),
            }),
        }
    }
    match fallback {
        Ok(found) => {
            count += found.count;
            results.extend(found.documents);
        }
        Err(e) => unavailable
            .push(Unavailable { item_type: state.table.fallback_types().join(","), detail: e.problem().detail }),
    }

    results.sort_by_key(|doc| {
        std::cmp::Reverse(doc.get("id").and_then(Value::as_str).and_then(split_id).map(|(_, ulid)| ulid))
    });
    let results: Vec<Document> = results.into_iter().skip(page.offset as usize).take(page.limit as usize).collect();
    let merged = MergedPage { page: Page::new(results, count, &page, &url), unavailable };
    Ok(axum::Json(merged).into_response())
}
