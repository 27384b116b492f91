//! Where money moves (cart writes, checkout, payment, cancellation), a customer's
//! token must name a live account at the token version it was issued with:
//! a closed account, a subject that never had one, and a token from before the
//! last password change are refused with 401 at once, not when the token expires.
//!
//! The registered-customer function holds accounts, so the check is one Invoke of
//! it per money-moving request (`GET /internal/registered/accounts/{id}/token-version`,
//! a primary-key read), and nothing is cached: a cached "live" would let a closed
//! account keep paying for as long as the cache lasts. Reads are not checked
//! here; they are bounded by the access token's short lifetime. Staff tokens and
//! guests (whose sessions the guest function checks) pass unchanged.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;
use serde::Deserialize;

use crate::auth::{Caller, Claims, CustomerType, TokenKeys};
use crate::config::Env;
use crate::error::{AppError, AppResult};
use crate::invoke::Invoker;

/// The function that holds accounts, as `REGISTERED_CUSTOMER_FUNCTION` names it.
pub fn registered_function(env: &Env) -> String {
    env.get("REGISTERED_CUSTOMER_FUNCTION").unwrap_or("registered-customer").to_string()
}

/// The path that answers an account's token version (404 when there is no live account).
pub fn token_version_path(customer_id: &str) -> String {
    format!("/internal/registered/accounts/{customer_id}/token-version")
}

/// Account ids as every store keeps them: `cust_<ULID>` or a legacy id such as `456`.
fn is_account_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:@+".contains(&b))
}

#[derive(Deserialize)]
struct TokenVersion {
    token_version: i64,
}

/// Asks the registered-customer function whether a token's account is live.
pub struct AccountCheck {
    invoker: Arc<dyn Invoker>,
    function: String,
    timeout: Duration,
}

impl std::fmt::Debug for AccountCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountCheck").field("function", &self.function).finish_non_exhaustive()
    }
}

impl AccountCheck {
    pub fn new(invoker: Arc<dyn Invoker>, function: impl Into<String>, timeout: Duration) -> Self {
        Self { invoker, function: function.into(), timeout }
    }

    /// Ok for staff, guests, and customers whose account is live at the token's version.
    pub async fn require_live(&self, claims: &Claims) -> AppResult<()> {
        if claims.is_staff() || claims.typ == CustomerType::Guest {
            return Ok(());
        }
        let no_account =
            || AppError::Unauthorized("there is no account for this token: it was closed, or never existed".into());
        if !is_account_id(&claims.sub) {
            return Err(no_account());
        }
        let request =
            http::Request::get(token_version_path(&claims.sub)).body(Bytes::new()).map_err(AppError::internal)?;
        let unavailable = |why: String| AppError::Unavailable {
            detail: format!("the accounts service could not confirm your account ({why}); retry shortly"),
            retry_after_secs: 2,
        };
        let response = match tokio::time::timeout(self.timeout, self.invoker.invoke(&self.function, request)).await {
            Err(_) => return Err(unavailable(format!("no answer within {} ms", self.timeout.as_millis()))),
            Ok(Err(e)) => return Err(unavailable(e.to_string())),
            Ok(Ok(response)) => response,
        };
        match response.status() {
            StatusCode::OK => {
                let current: TokenVersion = serde_json::from_slice(response.body()).map_err(|e| {
                    AppError::internal(format!("the accounts service answered a version this cannot read: {e}"))
                })?;
                if current.token_version == claims.ver {
                    Ok(())
                } else {
                    Err(AppError::Unauthorized(
                        "this token was issued before the account's password changed; log in again".into(),
                    ))
                }
            }
            StatusCode::NOT_FOUND => Err(no_account()),
            other => Err(unavailable(format!("it answered {other}"))),
        }
    }
}

/// An extractor for the handlers where money moves: refuses (401) a customer
/// token whose account is not live at the token's version. Without a token it
/// lets the request through, so the handler's own identity extractor, placed
/// before this one, gives its usual answer.
#[derive(Debug, Clone, Copy)]
pub struct LiveAccount;

impl<S> FromRequestParts<S> for LiveAccount
where
    Arc<TokenKeys>: FromRef<S>,
    Arc<AccountCheck>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(claims) = Caller::from_request_parts(parts, state).await?.0 {
            Arc::<AccountCheck>::from_ref(state).require_live(&claims).await?;
        }
        Ok(LiveAccount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::invoke::InProcessInvoker;
    use axum::Router;
    use axum::extract::Path;
    use axum::routing::get;

    fn accounts() -> Router {
        Router::new().route(
            "/internal/registered/accounts/{id}/token-version",
            get(|Path(id): Path<String>| async move {
                match id.as_str() {
                    "live" => (StatusCode::OK, axum::Json(serde_json::json!({ "token_version": 2 }))),
                    "broken" => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({}))),
                    _ => (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({}))),
                }
            }),
        )
    }

    fn claims(sub: &str, typ: CustomerType, role: Role, ver: i64) -> Claims {
        Claims { sub: sub.into(), typ, role, exp: 0, iat: 0, ver }
    }

    #[tokio::test]
    async fn only_live_accounts_at_their_version_pass() {
        let check = AccountCheck::new(
            Arc::new(InProcessInvoker::new().with("accounts", accounts())),
            "accounts",
            Duration::from_secs(2),
        );
        let customer = |sub, ver| claims(sub, CustomerType::Registered, Role::Customer, ver);
        assert!(check.require_live(&customer("live", 2)).await.is_ok());
        assert!(matches!(check.require_live(&customer("live", 1)).await, Err(AppError::Unauthorized(_))));
        assert!(matches!(check.require_live(&customer("ghost", 0)).await, Err(AppError::Unauthorized(_))));
        assert!(matches!(check.require_live(&customer("../x", 0)).await, Err(AppError::Unauthorized(_))));
        assert!(matches!(check.require_live(&customer("broken", 0)).await, Err(AppError::Unavailable { .. })));
        assert!(check.require_live(&claims("ghost", CustomerType::Registered, Role::Staff, 0)).await.is_ok());
        assert!(check.require_live(&claims("ghost", CustomerType::Guest, Role::Customer, 0)).await.is_ok());
        let unknown = AccountCheck::new(Arc::new(InProcessInvoker::new()), "nowhere", Duration::from_secs(2));
        assert!(
            matches!(unknown.require_live(&customer("live", 2)).await, Err(AppError::Unavailable { .. })),
            "a check that cannot be made refuses: it never lets a customer through"
        );
    }
}
