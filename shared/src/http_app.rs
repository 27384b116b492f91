//! What every function's Router gets: problem responses for unknown routes and
//! methods and for the framework's own rejections, one `Allow` format, query
//! parameters held to the API document, a body size limit, panics turned into a
//! 500 problem, and paths that work with and without a trailing slash.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::ParameterIn;

use crate::error::{AppError, FieldErrors, PROBLEM_JSON, Problem};
use crate::extract::{MAX_BODY_BYTES, QueryPairs};

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
        .layer(axum::middleware::map_response(problems_only))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| -> Response {
            AppError::internal("a handler panicked").into_response()
        }))
}

/// [`finish`] for a function whose routes take only the query parameters its
/// API document names: any other is a 400 before the handler runs, on every
/// operation, detail routes included. Routes the document does not have (the
/// internal ones, a router's catch-all) are left to their handlers.
pub fn finish_documented(router: Router, document: &OpenApi) -> Router {
    finish_with_contract(router, QueryContract::from_document(document))
}

/// [`finish_documented`] with a contract the function has adjusted.
pub fn finish_with_contract(router: Router, contract: QueryContract) -> Router {
    let contract = Arc::new(contract);
    finish(router.route_layer(axum::middleware::from_fn(move |request: Request, next: Next| {
        let contract = contract.clone();
        async move {
            match contract.check(&request) {
                Ok(()) => next.run(request).await,
                Err(e) => e.into_response(),
            }
        }
    })))
}

/// The query parameters of each documented operation, keyed by method and path
/// shape (parameter names and the final slash left out).
#[derive(Debug, Default)]
pub struct QueryContract {
    operations: HashMap<(Method, String), Vec<String>>,
}

impl QueryContract {
    pub fn from_document(document: &OpenApi) -> Self {
        let mut operations = HashMap::new();
        for (path, item) in &document.paths.paths {
            let shared: Vec<String> = query_names(item.parameters.as_deref());
            let methods = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, operation) in methods {
                if let Some(operation) = operation {
                    let mut names = shared.clone();
                    names.extend(query_names(operation.parameters.as_deref()));
                    operations.insert((method, path_shape(path)), names);
                }
            }
        }
        Self { operations }
    }

    /// Leaves `method` on `path` to its handler: a router that forwards the
    /// query to a function which checks it against its own document.
    pub fn forwards(mut self, method: Method, path: &str) -> Self {
        self.operations.remove(&(method, path_shape(path)));
        self
    }

    /// The documented query parameters of `method` on the route `matched`, if the document has it.
    pub fn known(&self, method: &Method, matched: &str) -> Option<&[String]> {
        let method = if method == Method::HEAD { &Method::GET } else { method };
        self.operations.get(&(method.clone(), path_shape(matched))).map(Vec::as_slice)
    }

    fn check(&self, request: &Request) -> Result<(), AppError> {
        let Some(query) = request.uri().query().filter(|q| !q.is_empty()) else { return Ok(()) };
        let Some(matched) = request.extensions().get::<MatchedPath>() else { return Ok(()) };
        let Some(known) = self.known(request.method(), matched.as_str()) else { return Ok(()) };
        let mut errors = FieldErrors::new();
        for (name, _) in QueryPairs::parse(query)?.0 {
            if !known.contains(&name) && !errors.contains(&name) {
                let message = if known.is_empty() {
                    "unknown parameter; this operation takes no query parameters".to_string()
                } else {
                    format!("unknown parameter; known parameters: {}", known.join(", "))
                };
                errors.add(name, message);
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(AppError::InvalidParameters(errors)) }
    }
}

fn query_names(parameters: Option<&[utoipa::openapi::path::Parameter]>) -> Vec<String> {
    parameters
        .unwrap_or_default()
        .iter()
        .filter(|p| matches!(p.parameter_in, ParameterIn::Query))
        .map(|p| p.name.clone())
        .collect()
}

/// `/api/orders/{id}/` and `/api/orders/{order_id}` are the same route; a
/// catch-all (`{*rest}`) is none of the document's.
fn path_shape(path: &str) -> String {
    path.trim_end_matches('/')
        .split('/')
        .map(|segment| match segment.as_bytes() {
            [b'{', b'*', ..] => "{*}",
            [b'{', ..] => "{}",
            _ => segment,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every error answer as problem details, whoever wrote it: axum's own
/// rejections (a path that is not UTF-8, say) are plain text. Their text is
/// logged, not repeated, since it can quote what the client sent. `Allow`
/// takes one format everywhere: `GET, HEAD, POST`.
async fn problems_only(response: Response) -> Response {
    let mut response = response;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let (parts, body) = response.into_parts();
        let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        tracing::debug!(%status, rejection = %text, "framework rejection answered as a problem");
        let detail = rejection_detail(status, &text);
        let mut rewritten = (status, axum::Json(Problem::new(status, detail))).into_response();
        for (name, value) in &parts.headers {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                rewritten.headers_mut().append(name, value.clone());
            }
        }
        rewritten.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response = rewritten;
    }
    if let Some(allow) = response.headers().get(header::ALLOW).and_then(|v| v.to_str().ok()) {
        let methods: Vec<&str> = allow.split(',').map(str::trim).filter(|m| !m.is_empty()).collect();
        if let Ok(value) = HeaderValue::from_str(&methods.join(", ")) {
            response.headers_mut().insert(header::ALLOW, value);
        }
    }
    response
}

/// What went wrong, in words of our own, for a rejection's plain text.
fn rejection_detail(status: StatusCode, text: &str) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST if text.starts_with("Invalid URL") || text.contains("path argument") => {
            "the path is not valid: each part must be UTF-8 text of the expected form"
        }
        StatusCode::BAD_REQUEST if text.contains("query string") => "the query string is not valid",
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "the request could not be read",
        StatusCode::NOT_FOUND => "there is nothing at this path",
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this resource",
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "this content type is not accepted here",
        s if s.is_server_error() => "an internal error occurred; it has been logged",
        _ => "the request was refused",
    }
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
