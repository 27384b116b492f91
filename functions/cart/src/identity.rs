//! Whose cart a request acts on: a customer by their token, or a guest whose
//! session token the guest function vouches for.

use std::fmt;

use axum::extract::FromRequestParts;
use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;
use serde::{Deserialize, Serialize};
use shared::auth::{Caller, CustomerType};
use shared::error::AppError;
use utoipa::ToSchema;

use crate::CartState;
use crate::items::invoke;

pub const GUEST_TOKEN_HEADER: &str = "x-guest-token";
const NO_IDENTITY: &str = "start a guest session or log in to use a cart";
const INVALID_GUEST_TOKEN: &str = "the guest token is not valid";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OwnerKind {
    Guest,
    Customer,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Guest => "guest",
            OwnerKind::Customer => "customer",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "guest" => Some(OwnerKind::Guest),
            "customer" => Some(OwnerKind::Customer),
            _ => None,
        }
    }
}

/// Who a cart belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Owner {
    pub kind: OwnerKind,
    pub id: String,
}

impl Owner {
    pub fn guest(id: impl Into<String>) -> Self {
        Self { kind: OwnerKind::Guest, id: id.into() }
    }

    pub fn customer(id: impl Into<String>) -> Self {
        Self { kind: OwnerKind::Customer, id: id.into() }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.id)
    }
}

/// Owner ids come from a verified token or the guest function; this only keeps
/// absurd ones out of the database.
pub fn plausible_owner_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 100 && !id.chars().any(char::is_control)
}

impl FromRequestParts<CartState> for Owner {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &CartState) -> Result<Self, Self::Rejection> {
        // A bearer token that is present but invalid is a 401 even next to a guest
        // token: silently falling back to the guest's cart would hide a lost login.
        if let Some(claims) = Caller::from_request_parts(parts, state).await?.0 {
            if !plausible_owner_id(&claims.sub) {
                return Err(AppError::Unauthorized("the token names no usable subject".into()));
            }
            // A guest-typed token is signed by us, so its subject is a guest session.
            return Ok(match claims.typ {
                CustomerType::Guest => Owner::guest(claims.sub),
                CustomerType::Registered | CustomerType::Vip => Owner::customer(claims.sub),
            });
        }
        match parts.headers.get(GUEST_TOKEN_HEADER) {
            Some(token) => guest_session(state, token.clone()).await,
            None => Err(AppError::Unauthorized(NO_IDENTITY.into())),
        }
    }
}

#[derive(Deserialize)]
struct GuestSession {
    guest_id: String,
}

/// Only the guest function can check a guest token's secret: a token whose id
/// part merely looks right must never open that guest's cart.
async fn guest_session(state: &CartState, token: http::HeaderValue) -> Result<Owner, AppError> {
    let request = http::Request::get("/internal/guest/session")
        .header(GUEST_TOKEN_HEADER, token)
        .body(Bytes::new())
        .map_err(AppError::internal)?;
    let response = invoke(state, &state.guest_function, "guest", request).await?;
    match response.status() {
        StatusCode::OK => {
            let session: GuestSession = serde_json::from_slice(response.body()).map_err(|e| {
                AppError::internal(format!("the guest function answered a session the cart cannot read: {e}"))
            })?;
            if !plausible_owner_id(&session.guest_id) {
                return Err(AppError::internal("the guest function answered an unusable guest id"));
            }
            Ok(Owner::guest(session.guest_id))
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            let detail = serde_json::from_slice::<serde_json::Value>(response.body())
                .ok()
                .and_then(|p| p["detail"].as_str().map(str::to_string))
                .unwrap_or_else(|| INVALID_GUEST_TOKEN.into());
            Err(AppError::Unauthorized(detail))
        }
        other => Err(AppError::Unavailable {
            detail: format!("the guest service could not check the guest token (it answered {other})"),
            retry_after_secs: 2,
        }),
    }
}
