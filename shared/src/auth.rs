//! Identity: HS256 tokens with claims `sub`, `typ`, `role`, `exp` and `ver`,
//! verified by every function itself so the same code is safe behind any gateway.
//!
//! `ver` is the account's token version when the token was issued. A password
//! change moves the account's version on, so older tokens stop passing the
//! checks that compare it (the registered-customer function on every request,
//! and [`crate::accounts`] where money moves); everywhere else a token lasts
//! until it expires.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::{ConfigError, Env};
use crate::error::AppError;

/// Used only when no `JWT_SECRET` is set outside Lambda, so a fresh clone runs.
/// Never deployed: inside Lambda a missing secret stops the function at start.
pub const DEVELOPMENT_SECRET: &str = "development-only-secret-never-deploy-0123456789";
const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CustomerType {
    Guest,
    Registered,
    Vip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Staff,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub typ: CustomerType,
    pub role: Role,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
    /// The account's token version at issue; tokens from before versions existed count as 0.
    #[serde(default)]
    pub ver: i64,
}

impl Claims {
    pub fn is_staff(&self) -> bool {
        self.role == Role::Staff
    }
}

/// Signs and verifies tokens with the shared secret.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        crate::jwt_hmac::install();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        // A token whose `nbf` is still ahead is not valid yet (jsonwebtoken skips the check unless asked).
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    /// `JWT_SECRET` from the environment; the development secret outside Lambda only.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        match env.get("JWT_SECRET") {
            Some(secret) if secret.len() >= MIN_SECRET_BYTES => Ok(Self::new(secret.as_bytes())),
            Some(_) => Err(ConfigError::Invalid {
                name: "JWT_SECRET".into(),
                why: format!("use at least {MIN_SECRET_BYTES} random bytes"),
            }),
            None if env.in_lambda() => Err(ConfigError::Missing {
                name: "JWT_SECRET".into(),
                why: "functions need it to verify tokens".into(),
            }),
            None => {
                tracing::warn!("JWT_SECRET is not set: using the development secret (local use only)");
                Ok(Self::development())
            }
        }
    }

    pub fn development() -> Self {
        Self::new(DEVELOPMENT_SECRET.as_bytes())
    }

    /// A token for `sub` at token version 0 (an account whose password never changed),
    /// valid for `ttl_secs` from now.
    pub fn issue(&self, sub: &str, typ: CustomerType, role: Role, ttl_secs: i64) -> String {
        self.issue_at_version(sub, typ, role, 0, ttl_secs)
    }

    /// A token for `sub` carrying the account's token version `ver`.
    pub fn issue_at_version(&self, sub: &str, typ: CustomerType, role: Role, ver: i64, ttl_secs: i64) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims { sub: sub.to_string(), typ, role, exp: now + ttl_secs, iat: now, ver };
        // Signing with an HMAC key cannot fail for well-formed claims.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HS256 signing")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(|e| {
            let why = match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the token has expired",
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => "the token is not valid yet",
                _ => "the token is not valid",
            };
            AppError::Unauthorized(why.into())
        })
    }
}

/// The caller's verified claims, or `None` for an anonymous request.
/// A token that is present but invalid is a 401, never silently anonymous.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Claims>);

impl<S> FromRequestParts<S> for Caller
where
    Arc<TokenKeys>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(http::header::AUTHORIZATION) else {
            return Ok(Caller(None));
        };
        let value =
            value.to_str().map_err(|_| AppError::Unauthorized("the Authorization header is not valid".into()))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| AppError::Unauthorized("use `Authorization: Bearer <token>`".into()))?;
        let keys = Arc::<TokenKeys>::from_ref(state);
        keys.verify(token.trim()).map(|claims| Caller(Some(claims)))
    }
}

/// A caller with role `staff`: 401 without a token, 403 with anyone else's.
#[derive(Debug, Clone)]
pub struct Staff(pub Claims);

impl<S> FromRequestParts<S> for Staff
where
    Arc<TokenKeys>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await?.0 {
            None => Err(AppError::Unauthorized("this needs a staff token".into())),
            Some(claims) if claims.is_staff() => Ok(Staff(claims)),
            Some(_) => Err(AppError::Forbidden("only staff may do this".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_carry_claims() {
        let keys = TokenKeys::development();
        let token = keys.issue("cust_1", CustomerType::Vip, Role::Customer, 60);
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.sub, "cust_1");
        assert_eq!(claims.typ, CustomerType::Vip);
        assert!(!claims.is_staff());
        assert_eq!(claims.ver, 0);
        let later = keys.verify(&keys.issue_at_version("cust_1", CustomerType::Vip, Role::Customer, 3, 60)).unwrap();
        assert_eq!(later.ver, 3);
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_are_rejected() {
        let keys = TokenKeys::development();
        assert!(keys.verify(&keys.issue("a", CustomerType::Registered, Role::Staff, -60)).is_err());
        let other = TokenKeys::new(b"another-secret-of-at-least-32-bytes!!");
        assert!(keys.verify(&other.issue("a", CustomerType::Registered, Role::Staff, 60)).is_err());
        let token = keys.issue("a", CustomerType::Registered, Role::Customer, 60);
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"sub":"a","typ":"registered","role":"staff","exp":9999999999}"#,
        );
        parts[1] = &forged;
        assert!(keys.verify(&parts.join(".")).is_err());
    }

    #[test]
    fn tokens_not_valid_before_a_future_time_are_rejected() {
        let keys = TokenKeys::development();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let sign = |nbf: i64| {
            let claims = serde_json::json!({
                "sub": "a", "typ": "registered", "role": "customer", "iat": now, "exp": now + 7200, "nbf": nbf,
            });
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap()
        };
        match keys.verify(&sign(now + 3600)) {
            Err(AppError::Unauthorized(why)) => assert_eq!(why, "the token is not valid yet"),
            other => panic!("a token valid only in an hour was accepted: {other:?}"),
        }
        assert!(keys.verify(&sign(now - 60)).is_ok(), "a token valid since a minute ago");
    }

    #[test]
    fn short_secrets_and_missing_secrets_in_lambda_are_config_errors() {
        assert!(TokenKeys::from_env(&Env::from_pairs([("JWT_SECRET", "short")])).is_err());
        assert!(TokenKeys::from_env(&Env::from_pairs([("AWS_LAMBDA_FUNCTION_NAME", "book")])).is_err());
        assert!(TokenKeys::from_env(&Env::default()).is_ok());
    }
}
