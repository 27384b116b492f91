//! Request extractors whose rejections are problem responses with clear messages,
//! instead of axum's plain-text defaults.

use axum::extract::{FromRequest, FromRequestParts, Request};
use bytes::Bytes;
use http::header;
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{AppError, FieldErrors};

/// Largest JSON body any function accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body: 415 without a JSON content type, 413 when too large, 400 when
/// malformed, 422 with the offending field's path when a value has the wrong type.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body_bytes(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

/// A JSON body that must be an object; kept as a map so a service can check
/// unknown fields and merge partial updates before typing it.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<Value>::from_request(req, state).await?;
        match value {
            Value::Object(map) => Ok(JsonObject(map)),
            _ => Err(AppError::BadRequest("the request body must be a JSON object".into())),
        }
    }
}

async fn json_body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AppError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false);
    if !is_json {
        return Err(AppError::UnsupportedMediaType("expected a body with Content-Type: application/json".into()));
    }
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge(format!("the request body is larger than {MAX_BODY_BYTES} bytes"))
        } else {
            AppError::BadRequest(format!("could not read the request body: {rejection}"))
        }
    })
}

/// Parses JSON, naming the failing field in a 422 for values of the wrong type.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| AppError::BadRequest(format!("malformed JSON: {e}")))?;
    from_json_value(value)
}

/// JSON has one kind of number: `2.0` is the whole number 2 (JSON Schema says so
/// too), so whole numbers written with a fraction become integers before typing.
/// Other fractions stay as they are, and an integer field refuses them.
fn whole_numbers_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f >= i64::MIN as f64
                && f < i64::MAX as f64
            {
                *n = serde_json::Number::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// Types a JSON object after rejecting fields nobody asked for: a misspelt
/// optional field must be an error, not silently ignored.
pub fn from_known_fields<T: DeserializeOwned>(body: Map<String, Value>, known: &[&str]) -> Result<T, AppError> {
    let mut errors = FieldErrors::new();
    for name in body.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.add(name.clone(), format!("unknown field; known fields: {}", known.join(", ")));
    }
    errors.into_result()?;
    from_json_value(Value::Object(body))
}

/// Types an already parsed JSON value, with the same per-field 422 messages.
pub fn from_json_value<T: DeserializeOwned>(mut value: Value) -> Result<T, AppError> {
    whole_numbers_as_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = field_path(e.path());
        let mut message = describe(e.inner());
        // serde reports a missing field at its parent; name the field itself.
        if let Some(name) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
            path = if path == "body" { name.to_string() } else { format!("{path}.{name}") };
            message = "is required".into();
        }
        let mut errors = FieldErrors::new();
        errors.add(path, message);
        AppError::Validation(errors)
    })
}

fn field_path(path: &serde_path_to_error::Path) -> String {
    let path = path.to_string();
    if path == "." { "body".into() } else { path }
}

/// serde's message without the "at line 1 column 9" suffix, which means nothing to a client.
fn describe(error: &impl std::fmt::Display) -> String {
    let message = error.to_string();
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    }
}

/// The query string as ordered pairs, for handlers that validate parameters one by one.
#[derive(Debug, Clone, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        QueryPairs::parse(parts.uri.query().unwrap_or(""))
    }
}

impl QueryPairs {
    pub fn parse(query: &str) -> Result<Self, AppError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .map(QueryPairs)
            .map_err(|e| AppError::BadRequest(format!("the query string is not valid: {e}")))
    }

    pub fn into_params(self) -> QueryParams {
        QueryParams { pairs: self.0, errors: FieldErrors::new(), taken: Vec::new() }
    }
}

/// Typed access to query parameters that collects every problem before failing,
/// and rejects parameters nobody asked for (a misspelt filter must not silently
/// return everything).
#[derive(Debug)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
    errors: FieldErrors,
    taken: Vec<String>,
}

impl QueryParams {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        QueryPairs(pairs).into_params()
    }

    /// The value of `name`, if given once and not blank.
    pub fn text(&mut self, name: &str, max_len: usize) -> Option<String> {
        self.taken.push(name.to_string());
        let mut values = self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim());
        let first = values.next()?;
        if values.next().is_some() {
            self.errors.add(name, "give this parameter once");
            return None;
        }
        if first.is_empty() {
            return None;
        }
        if first.chars().count() > max_len {
            self.errors.add(name, format!("at most {max_len} characters"));
            return None;
        }
        Some(first.to_string())
    }

    pub fn integer(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        let raw = self.text(name, 32)?;
        match raw.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            Ok(_) => {
                self.errors.add(name, format!("must be between {min} and {max}"));
                None
            }
            Err(_) => {
                self.errors.add(name, "must be a whole number");
                None
            }
        }
    }

    pub fn number(&mut self, name: &str, min: f64, max: f64) -> Option<f64> {
        let raw = self.text(name, 32)?;
        match raw.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= min && n <= max => Some(n),
            Ok(_) => {
                self.errors.add(name, format!("must be between {min} and {max}"));
                None
            }
            Err(_) => {
                self.errors.add(name, "must be a number");
                None
            }
        }
    }

    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        let raw = self.text(name, 8)?;
        match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => {
                self.errors.add(name, "must be true or false");
                None
            }
        }
    }

    /// Marks `name` as known without reading it (a parameter handled elsewhere).
    pub fn allow(&mut self, name: &str) {
        self.taken.push(name.to_string());
    }

    pub fn add_error(&mut self, name: &str, message: impl Into<String>) {
        self.errors.add(name, message);
    }

    /// Fails with every collected problem, including parameters that were never read.
    pub fn finish(mut self) -> Result<(), AppError> {
        let unknown: Vec<String> =
            self.pairs.iter().map(|(k, _)| k.clone()).filter(|k| !self.taken.iter().any(|t| t == k)).collect();
        for name in unknown {
            if !self.errors.contains(&name) {
                let known = self.taken.join(", ");
                self.errors.add(name, format!("unknown parameter; known parameters: {known}"));
            }
        }
        if self.errors.is_empty() { Ok(()) } else { Err(AppError::InvalidParameters(self.errors)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Sample {
        price: i64,
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err = parse_json::<Sample>(br#"{"price": "ten"}"#).unwrap_err();
        match err {
            AppError::Validation(errors) => assert!(errors.contains("price")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn whole_numbers_with_a_fraction_are_integers() {
        assert_eq!(parse_json::<Sample>(br#"{"price": 12.0}"#).unwrap().price, 12);
        assert!(matches!(parse_json::<Sample>(br#"{"price": 12.5}"#), Err(AppError::Validation(_))));
        assert!(matches!(parse_json::<Sample>(br#"{"price": 1e30}"#), Err(AppError::Validation(_))));
        let value: Value = parse_json(br#"{"a": [2.0, 2.5]}"#).unwrap();
        assert_eq!(value, serde_json::json!({ "a": [2, 2.5] }));
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert!(matches!(parse_json::<Sample>(b"{\"price\": "), Err(AppError::BadRequest(_))));
        assert!(matches!(parse_json::<Sample>(b"{\"price\": 1} x"), Err(AppError::BadRequest(_))));
    }

    #[test]
    fn query_params_collect_errors_and_reject_unknown_names() {
        let q = QueryPairs::parse("min_ram=abc&page=2&colour=red").unwrap();
        let mut p = q.into_params();
        assert_eq!(p.integer("min_ram", 1, 1024), None);
        p.allow("page");
        match p.finish().unwrap_err() {
            AppError::InvalidParameters(e) => {
                assert!(e.contains("min_ram"));
                assert!(e.contains("colour"));
                assert!(!e.contains("page"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
