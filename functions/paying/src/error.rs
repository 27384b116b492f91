//! The service's errors: the shared problems, plus the two this service adds —
//! 402 for a declined payment (with `payment_id` and `decline_code` members) and
//! 502 for a peer whose answer makes no sense.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use shared::error::{AppError, PROBLEM_JSON};

#[derive(Debug)]
pub enum PayError {
    App(AppError),
    Declined {
        payment_id: String,
        decline_code: String,
        detail: String,
    },
    /// A peer answered something this service cannot use.
    BadGateway(String),
}

impl From<AppError> for PayError {
    fn from(error: AppError) -> Self {
        PayError::App(error)
    }
}

pub type PayResult<T> = Result<T, PayError>;

impl PayError {
    pub fn status(&self) -> StatusCode {
        match self {
            PayError::App(e) => e.status(),
            PayError::Declined { .. } => StatusCode::PAYMENT_REQUIRED,
            PayError::BadGateway(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The problem document, as it is answered (and stored for replays).
    pub fn body(&self) -> Value {
        match self {
            PayError::App(e) => serde_json::to_value(e.problem()).unwrap_or(Value::Null),
            PayError::Declined { payment_id, decline_code, detail } => json!({
                "type": "about:blank",
                "title": "Payment Required",
                "status": 402,
                "detail": detail,
                "payment_id": payment_id,
                "decline_code": decline_code,
            }),
            PayError::BadGateway(detail) => json!({
                "type": "about:blank",
                "title": "Bad Gateway",
                "status": 502,
                "detail": detail,
            }),
        }
    }
}

impl IntoResponse for PayError {
    fn into_response(self) -> Response {
        match self {
            PayError::App(e) => e.into_response(),
            other => {
                match &other {
                    PayError::BadGateway(detail) => tracing::warn!(%detail, "a peer answered nonsense"),
                    _ => tracing::debug!(status = %other.status(), "payment declined"),
                }
                problem_response(other.status(), &other.body())
            }
        }
    }
}

/// A problem+json response from a stored or freshly built body.
pub fn problem_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}
