//! Who is asking: a registered or VIP customer (or staff) with a valid token.
//! Guests have no orders: they are told to sign up or log in.

use axum::extract::FromRequestParts;
use http::HeaderValue;
use http::request::Parts;
use shared::auth::{Caller, CustomerType};
use shared::error::AppError;

use crate::OrderState;

const SIGN_UP_OR_LOG_IN: &str = "sign up or log in to place and see orders";

/// A verified caller who may have orders.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub typ: CustomerType,
    pub staff: bool,
    /// The caller's own `Authorization` header, forwarded to the VIP service,
    /// which only acts for the token's subject.
    pub authorization: Option<HeaderValue>,
}

impl Customer {
    /// Whether this caller may see and act on `customer_id`'s orders.
    pub fn may_see(&self, customer_id: &str) -> bool {
        self.staff || self.id == customer_id
    }

    pub fn type_name(&self) -> &'static str {
        match self.typ {
            CustomerType::Vip => "vip",
            CustomerType::Registered | CustomerType::Guest => "registered",
        }
    }
}

/// Customer ids end up in other functions' paths: only the characters ids are made of.
pub fn valid_customer_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 100 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:@+".contains(&b))
}

impl FromRequestParts<OrderState> for Customer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &OrderState) -> Result<Self, Self::Rejection> {
        let Some(claims) = Caller::from_request_parts(parts, state).await?.0 else {
            return Err(AppError::Unauthorized(SIGN_UP_OR_LOG_IN.into()));
        };
        if claims.typ == CustomerType::Guest && !claims.is_staff() {
            return Err(AppError::Unauthorized(SIGN_UP_OR_LOG_IN.into()));
        }
        if !valid_customer_id(&claims.sub) {
            return Err(AppError::Unauthorized("the token names no usable subject".into()));
        }
        Ok(Customer {
            staff: claims.is_staff(),
            id: claims.sub,
            typ: claims.typ,
            authorization: parts.headers.get(http::header::AUTHORIZATION).cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_are_checked_before_they_reach_a_path() {
        for ok in ["cust_01JDQ8Z3X4C5V6B7N8M9K0J1H2", "456", "a.b@c+d:e-f"] {
            assert!(valid_customer_id(ok), "{ok}");
        }
        for bad in ["", "a/b", "../x", "a?b", "a b", "ü", &"x".repeat(101)] {
            assert!(!valid_customer_id(bad), "{bad}");
        }
    }
}
