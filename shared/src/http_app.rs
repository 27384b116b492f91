//! What every function's Router gets: problem responses for unknown routes and
//! methods, a body size limit, panics turned into a 500 problem, and paths that
//! work with and without a trailing slash.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::AppError;
use crate::extract::MAX_BODY_BYTES;

/// `path` and `path/`, since clients of the original API use both.
pub fn both_slashes(path: &str) -> [String; 2] {
    let bare = path.trim_end_matches('/').to_string();
    let slashed = format!("{bare}/");
    [bare, slashed]
}

pub fn finish(router: Router) -> Router {
    router
        .fallback(|| async { AppError::NotFound("there is nothing at this path".into()) })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| -> Response {
            AppError::internal("a handler panicked").into_response()
        }))
}

/// Runs a function's Router as a Lambda function (API Gateway HTTP API events).
pub async fn run_lambda(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(router).await
}

/// The client's address as API Gateway saw it (its request context; the local
/// server gives each function the same). Never a header: clients can forge those.
pub fn source_ip(extensions: &http::Extensions) -> Option<String> {
    match extensions.get::<lambda_http::request::RequestContext>()? {
        lambda_http::request::RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        // Other event sources, should a build enable them, carry no address we use.
        #[allow(unreachable_patterns)]
        _ => None,
    }
}
