//! CORS as API Gateway answers it with the template's `CorsConfiguration`: it
//! answers preflights itself (whatever the routes) and adds the allow and expose
//! headers to every answer for an allowed origin, so a browser front end on
//! another port works against the local server as it will against the stack.

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::template::CorsConfiguration;

#[derive(Debug, Clone)]
pub struct Cors {
    config: Arc<CorsConfiguration>,
}

impl Cors {
    pub fn new(config: CorsConfiguration) -> Self {
        Self { config: Arc::new(config) }
    }

    /// The `Access-Control-Allow-Origin` for `origin`, if it may call the API.
    fn allowed_origin(&self, origin: &str) -> Option<HeaderValue> {
        let origins = &self.config.allow_origins;
        if origins.iter().any(|o| o == "*") && !self.config.allow_credentials {
            Some(HeaderValue::from_static("*"))
        } else if origins.iter().any(|o| o.eq_ignore_ascii_case(origin) || o == "*") {
            HeaderValue::from_str(origin).ok()
        } else {
            None
        }
    }

    fn add_origin_headers(&self, headers: &mut HeaderMap, allowed: HeaderValue) {
        if allowed != "*" {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        if self.config.allow_credentials {
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
    }

    pub async fn layer(self, request: Request, next: Next) -> Response {
        let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
        let Some(origin) = origin else { return next.run(request).await };
        let allowed = self.allowed_origin(&origin);
        let preflight = request.method() == Method::OPTIONS
            && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if preflight {
            let mut response = StatusCode::NO_CONTENT.into_response();
            if let Some(allowed) = allowed {
                let headers = response.headers_mut();
                self.add_origin_headers(headers, allowed);
                let join = |values: &[String]| HeaderValue::from_str(&values.join(",")).ok();
                if let Some(methods) = join(&self.config.allow_methods) {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
                }
                if let Some(allow) = join(&self.config.allow_headers) {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow);
                }
                if let Some(max_age) = self.config.max_age {
                    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(max_age));
                }
            }
            return response;
        }
        let mut response = next.run(request).await;
        if let Some(allowed) = allowed {
            let headers = response.headers_mut();
            self.add_origin_headers(headers, allowed);
            if !self.config.expose_headers.is_empty()
                && let Ok(expose) = HeaderValue::from_str(&self.config.expose_headers.join(","))
            {
                headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose);
            }
        }
        response
    }
}
