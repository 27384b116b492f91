//! Asking other functions: items through the items router, under a deadline.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use shared::error::{AppError, AppResult, FieldErrors};
use shared::invoke::Invoker;
use shared::money::Currency;

use crate::CartState;

/// What the cart needs of an item, as the items router answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct ItemInfo {
    #[serde(rename = "type")]
    pub item_type: String,
    pub name: String,
    #[serde(default)]
    pub price: Option<i64>,
    #[serde(default)]
    pub currency: Currency,
    #[serde(default)]
    pub stock: i64,
}

#[derive(Debug)]
pub enum Lookup {
    Found(ItemInfo),
    NotFound,
    /// Any other 4xx: the router refused to look the id up.
    Refused(String),
}

/// Everything a lookup needs, cheap to clone into a task.
#[derive(Clone)]
pub struct Items {
    invoker: Arc<dyn Invoker>,
    function: Arc<str>,
    timeout: Duration,
}

impl Items {
    pub fn new(state: &CartState) -> Self {
        Self {
            invoker: state.invoker.clone(),
            function: state.items_router_function.clone(),
            timeout: state.invoke_timeout,
        }
    }

    /// `GET /api/items/{id}/` on the items router. `Err` is a 503 (or a 500 for an
    /// answer that is not an item): the caller decides whether that fails the request.
    pub async fn lookup(&self, item_id: &str) -> AppResult<Lookup> {
        let request =
            http::Request::get(format!("/api/items/{item_id}/")).body(Bytes::new()).map_err(AppError::internal)?;
        let response = invoke_with(&*self.invoker, &self.function, "items", self.timeout, request).await?;
        match response.status() {
            StatusCode::OK => serde_json::from_slice(response.body()).map(Lookup::Found).map_err(|e| {
                AppError::internal(format!("the items router answered an item the cart cannot read: {e}"))
            }),
            StatusCode::NOT_FOUND => Ok(Lookup::NotFound),
            status if status.is_client_error() => {
                let detail = serde_json::from_slice::<serde_json::Value>(response.body())
                    .ok()
                    .and_then(|p| p["detail"].as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("the items router answered {status}"));
                Ok(Lookup::Refused(detail))
            }
            status => Err(AppError::Unavailable {
                detail: format!("the items service answered {status}"),
                retry_after_secs: 2,
            }),
        }
    }

    /// The item for an add or a quantity change: it must exist, be priced and be
    /// of the type the client named; anything else is a 422 naming the field.
    pub async fn sellable(&self, item_id: &str, item_type: &str) -> AppResult<ItemInfo> {
        let reject = |field: &str, message: String| {
            let mut errors = FieldErrors::new();
            errors.add(field, message);
            AppError::Validation(errors)
        };
        let item = match self.lookup(item_id).await? {
            Lookup::Found(item) => item,
            Lookup::NotFound => return Err(reject("item_id", format!("there is no item `{item_id}`"))),
            Lookup::Refused(detail) => return Err(reject("item_id", detail)),
        };
        if item.item_type != item_type {
            return Err(reject("item_type", format!("item `{item_id}` is a {}, not a {item_type}", item.item_type)));
        }
        if item.price.is_none() {
            return Err(reject("item_id", format!("item `{item_id}` is not for sale yet: it has no price")));
        }
        Ok(item)
    }
}

/// One invocation under the deadline, like the items router's: failures and
/// server errors are 503s naming the service, with a Retry-After.
pub async fn invoke(
    state: &CartState,
    function: &str,
    service: &str,
    request: http::Request<Bytes>,
) -> AppResult<http::Response<Bytes>> {
    invoke_with(&*state.invoker, function, service, state.invoke_timeout, request).await
}

async fn invoke_with(
    invoker: &dyn Invoker,
    function: &str,
    service: &str,
    timeout: Duration,
    request: http::Request<Bytes>,
) -> AppResult<http::Response<Bytes>> {
    let unavailable = |why: String| AppError::Unavailable {
        detail: format!("the {service} service is unavailable: {why}"),
        retry_after_secs: 2,
    };
    match tokio::time::timeout(timeout, invoker.invoke(function, request)).await {
        Err(_) => Err(unavailable(format!("no answer within {} ms", timeout.as_millis()))),
        Ok(Err(e)) => Err(unavailable(e.to_string())),
        Ok(Ok(response)) if response.status().is_server_error() => {
            Err(unavailable(format!("it answered {}", response.status())))
        }
        Ok(Ok(response)) => Ok(response),
    }
}
