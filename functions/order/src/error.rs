//! The order service's errors: every [`AppError`], plus 502 for a peer function
//! that answered something this service cannot make sense of (a bug between
//! services, which a retry will not fix, unlike a 503).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use shared::error::{AppError, PROBLEM_JSON, Problem};

#[derive(Debug)]
pub enum Error {
    App(AppError),
    BadGateway(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<AppError> for Error {
    fn from(error: AppError) -> Self {
        Error::App(error)
    }
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::App(e) => e.status(),
            Error::BadGateway(_) => StatusCode::BAD_GATEWAY,
        }
    }

    pub fn problem(&self) -> Problem {
        match self {
            Error::App(e) => e.problem(),
            Error::BadGateway(detail) => Problem {
                problem_type: "about:blank".into(),
                title: "Bad Gateway".into(),
                status: StatusCode::BAD_GATEWAY.as_u16(),
                detail: detail.clone(),
                errors: None,
            },
        }
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Error::App(AppError::Conflict(detail.into()))
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Error::App(AppError::NotFound(detail.into()))
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Error::App(AppError::Unavailable { detail: detail.into(), retry_after_secs: 2 })
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let problem = self.problem();
        write!(f, "{} {}: {}", problem.status, problem.title, problem.detail)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::App(e) => e.into_response(),
            Error::BadGateway(detail) => {
                tracing::error!(%detail, "a peer function answered nonsense");
                let mut response = (StatusCode::BAD_GATEWAY, Json(Error::BadGateway(detail).problem())).into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
                response
            }
        }
    }
}
