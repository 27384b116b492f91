//! Forwarding a customer's request to the function that serves their type.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use serde_json::Value;
use shared::auth::{Caller, Claims, CustomerType};
use shared::error::{AppError, AppResult};
use shared::extract::MAX_BODY_BYTES;

use crate::CustomerRouterState;

const HOP_BY_HOP: [HeaderName; 3] = [header::CONNECTION, header::TRANSFER_ENCODING, header::CONTENT_LENGTH];

/// The seed's routing headers: accepted when they agree with the token, a 401
/// when they claim an account without one, a 403 when they disagree with it.
pub fn check_hints(headers: &HeaderMap, caller: Option<&Claims>) -> AppResult<()> {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().map(str::trim).map_err(|_| AppError::BadRequest(format!("{name} is not text"))))
    };
    let hinted_type = header("x-customer-type").transpose()?;
    let hinted_user = header("x-user-id").transpose()?;
    let hinted_type = match hinted_type {
        None => None,
        Some("guest") => Some(CustomerType::Guest),
        Some("registered") => Some(CustomerType::Registered),
        Some("vip") => Some(CustomerType::Vip),
        Some(other) => {
            return Err(AppError::BadRequest(format!("X-Customer-Type `{other}` is not guest, registered or vip")));
        }
    };
    match caller {
        None => {
            if hinted_user.is_some() || matches!(hinted_type, Some(CustomerType::Registered | CustomerType::Vip)) {
                return Err(AppError::Unauthorized(
                    "log in: the X-User-ID and X-Customer-Type headers are not proof of identity".into(),
                ));
            }
        }
        Some(claims) => {
            if hinted_type.is_some_and(|t| t != claims.typ) || hinted_user.is_some_and(|u| u != claims.sub) {
                return Err(AppError::Forbidden("X-User-ID or X-Customer-Type does not match your token".into()));
            }
        }
    }
    Ok(())
}

/// Which function serves this path for this caller.
fn target<'a>(
    state: &'a CustomerRouterState,
    method: &Method,
    path: &str,
    caller: Option<&Claims>,
) -> AppResult<&'a str> {
    let not_found = || AppError::NotFound("there is nothing at this path".into());
    let rest = path.strip_prefix("/api/customers").ok_or_else(not_found)?.trim_start_matches('/');
    if rest.contains("..") || rest.contains("//") {
        return Err(not_found());
    }
    let typ = caller.map(|c| c.typ).unwrap_or(CustomerType::Guest);
    let functions = &state.functions;
    let by_type = |typ| match typ {
        CustomerType::Guest => functions.guest.as_str(),
        CustomerType::Registered => functions.registered.as_str(),
        CustomerType::Vip => functions.vip.as_str(),
    };
    match rest.split('/').next().unwrap_or("") {
        // Served by a different function per customer type, so the router answers
        // for the path as a whole what no single function can.
        "" => match *method {
            Method::GET | Method::HEAD => Ok(by_type(typ)),
            Method::POST if typ == CustomerType::Guest => Ok(&functions.guest),
            Method::POST => Err(AppError::Conflict(
                "you are logged in already: guest sessions are for callers without an account".into(),
            )),
            // Closing an account is the account service's, whatever the customer's type.
            _ => Ok(&functions.registered),
        },
        // A VIP's history is their account's.
        "history" if rest.trim_end_matches('/') == "history" => match typ {
            CustomerType::Guest => Ok(&functions.guest),
            _ => Ok(&functions.registered),
        },
        "history" if typ == CustomerType::Guest => Ok(&functions.guest),
        "history" | "profile" | "addresses" | "password" | "verify-email" | "accounts" => Ok(&functions.registered),
        "vip" => Ok(&functions.vip),
        _ => Err(not_found()),
    }
}

/// Every public route the router forwards, as the API document writes it, with
/// its methods (HEAD goes with GET). The router answers 404 and 405 from this
/// table before it looks at who is asking, as any router does.
pub const FORWARDED_ROUTES: [(&str, &[&str]); 15] = [
    ("/api/customers/", &["GET", "POST", "DELETE"]),
    ("/api/customers/history", &["GET", "POST"]),
    ("/api/customers/profile", &["GET", "PATCH"]),
    ("/api/customers/addresses", &["GET", "POST"]),
    ("/api/customers/addresses/{id}", &["GET", "PATCH", "DELETE"]),
    ("/api/customers/password", &["POST"]),
    ("/api/customers/verify-email", &["GET", "POST"]),
    ("/api/customers/verify-email/resend", &["POST"]),
    ("/api/customers/accounts/{id}", &["GET"]),
    ("/api/customers/vip/benefits", &["GET"]),
    ("/api/customers/vip/points", &["GET"]),
    ("/api/customers/vip/points/redeem", &["POST"]),
    ("/api/customers/vip/customers", &["GET"]),
    ("/api/customers/vip/customers/{id}", &["GET"]),
    ("/api/customers/vip/customers/{id}/points", &["POST"]),
];

/// Why `method` on `path` (with or without its final slash) reaches no
/// forwarded route: 404 for no route, 405 with `Allow` for a method the route
/// does not take; none when it does reach one.
fn refusal(method: &Method, path: &str) -> Option<Response> {
    let segments = |p: &str| p.trim_end_matches('/').split('/').map(str::to_string).collect::<Vec<_>>();
    let wanted = segments(path);
    let matches = |route: &str| {
        let route = segments(route);
        route.len() == wanted.len()
            && route.iter().zip(&wanted).all(|(r, w)| (r.starts_with('{') && !w.is_empty()) || r == w)
    };
    let Some((_, methods)) = FORWARDED_ROUTES.iter().find(|(route, _)| matches(route)) else {
        return Some(AppError::NotFound("there is nothing at this path".into()).into_response());
    };
    let takes = |m: &str| methods.contains(&m) || (m == "HEAD" && methods.contains(&"GET"));
    if takes(method.as_str()) {
        return None;
    }
    let mut allow: Vec<&str> = methods.to_vec();
    if methods.contains(&"GET") {
        allow.insert(1, "HEAD");
    }
    let mut response = AppError::MethodNotAllowed.into_response();
    if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    Some(response)
}

pub async fn by_customer_type(State(state): State<CustomerRouterState>, request: Request) -> AppResult<Response> {
    let (mut parts, body) = request.into_parts();
    if let Some(response) = refusal(&parts.method, parts.uri.path()) {
        return Ok(response);
    }
    let Caller(caller) = Caller::from_request_parts(&mut parts, &state).await?;
    check_hints(&parts.headers, caller.as_ref())?;
    let function = target(&state, &parts.method, parts.uri.path(), caller.as_ref())?.to_string();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge(format!("the request body is larger than {MAX_BODY_BYTES} bytes")))?;
    let closing = parts.method == Method::DELETE && parts.uri.path().trim_end_matches('/') == "/api/customers";
    if let (true, Some(claims)) = (closing, caller.as_ref()) {
        return crate::transitions::close_account(&state, &parts, claims, body).await;
    }
    let writes = !matches!(parts.method, Method::GET | Method::HEAD);
    if let (true, true, Some(claims)) = (function == state.functions.vip, writes, caller.as_ref()) {
        // Spending points moves money: a token without a live account at its version is refused at once.
        state.accounts.require_live(claims).await?;
    }
    if parts.method == Method::POST && function == state.functions.registered && is_history(parts.uri.path()) {
        viewed_item_exists(&state, &body).await?;
    }
    let response = send(&state, &function, &parts, parts.method.clone(), parts.uri.to_string(), body).await?;
    if function == state.functions.vip && response.status().is_success() {
        return with_contacts(&state, caller.as_ref(), response).await;
    }
    Ok(into_response(response))
}

/// A VIP answer with the members' email and name from their accounts.
async fn with_contacts(
    state: &CustomerRouterState,
    caller: Option<&Claims>,
    response: http::Response<Bytes>,
) -> AppResult<Response> {
    let Ok(mut answer) = serde_json::from_slice::<Value>(response.body()) else {
        return Ok(into_response(response));
    };
    crate::contacts::add_to(state, caller, &mut answer).await?;
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = Bytes::from(serde_json::to_vec(&answer).map_err(AppError::internal)?);
    Ok(into_response(http::Response::from_parts(parts, body)))
}

fn is_history(path: &str) -> bool {
    path.trim_end_matches('/') == "/api/customers/history"
}

/// An account's history is kept by a function that invokes nothing, so the
/// router looks a viewed item up before the entry reaches it (the guest
/// function looks up its own). A body that is no valid entry is left to the
/// account function to refuse, field by field.
async fn viewed_item_exists(state: &CustomerRouterState, body: &Bytes) -> AppResult<()> {
    let Ok(Value::Object(entry)) = serde_json::from_slice::<Value>(body) else { return Ok(()) };
    let Ok(activity) = shared::history::parse_activity(&entry) else { return Ok(()) };
    let items = &state.functions.items_router;
    shared::history::check_viewed_item(&*state.invoker, items, state.invoke_timeout, &activity).await
}

/// Invokes `function` with the caller's headers (its `Authorization` included:
/// the function verifies it again) under the router's deadline.
pub async fn send(
    state: &CustomerRouterState,
    function: &str,
    parts: &Parts,
    method: Method,
    uri: String,
    body: Bytes,
) -> AppResult<http::Response<Bytes>> {
    let mut request = http::Request::builder().method(method).uri(uri);
    for (name, value) in parts.headers.iter().filter(|(n, _)| !HOP_BY_HOP.contains(n)) {
        request = request.header(name, value);
    }
    let request = request.body(body).map_err(|e| AppError::BadRequest(format!("cannot forward this request: {e}")))?;
    invoke(state, function, request).await
}

pub async fn invoke(
    state: &CustomerRouterState,
    function: &str,
    request: http::Request<Bytes>,
) -> AppResult<http::Response<Bytes>> {
    let unavailable = |why: String| AppError::Unavailable {
        detail: format!("a customer service is unavailable: {why}"),
        retry_after_secs: 2,
    };
    match tokio::time::timeout(state.invoke_timeout, state.invoker.invoke(function, request)).await {
        Err(_) => Err(unavailable(format!("no answer within {} ms", state.invoke_timeout.as_millis()))),
        Ok(Err(e)) => Err(unavailable(e.to_string())),
        Ok(Ok(response)) if response.status().is_server_error() => {
            tracing::warn!(%function, status = %response.status(), "customer function failed");
            Err(unavailable(format!("it answered {}", response.status())))
        }
        Ok(Ok(response)) => Ok(response),
    }
}

/// A JSON call to another function's internal route, for the transitions.
pub async fn call_json(
    state: &CustomerRouterState,
    function: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> AppResult<(http::StatusCode, Value, http::Response<Bytes>)> {
    let mut request = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let bytes = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    let request = request.body(bytes).map_err(AppError::internal)?;
    let response = invoke(state, function, request).await?;
    let json = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    Ok((response.status(), json, response))
}

pub fn into_response(response: http::Response<Bytes>) -> Response {
    response.map(Body::from).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    fn claims(sub: &str, typ: CustomerType) -> Claims {
        Claims { sub: sub.into(), typ, role: shared::auth::Role::Customer, exp: 0, iat: 0, ver: 0 }
    }

    #[test]
    fn hints_must_agree_with_the_token() {
        let registered = headers(&[("x-user-id", "123"), ("x-customer-type", "registered")]);
        assert!(matches!(check_hints(&registered, None), Err(AppError::Unauthorized(_))));
        assert!(check_hints(&registered, Some(&claims("123", CustomerType::Registered))).is_ok());
        assert!(matches!(
            check_hints(&registered, Some(&claims("124", CustomerType::Registered))),
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            check_hints(&registered, Some(&claims("123", CustomerType::Vip))),
            Err(AppError::Forbidden(_))
        ));
        assert!(check_hints(&headers(&[("x-customer-type", "guest")]), None).is_ok());
        assert!(check_hints(&HeaderMap::new(), None).is_ok());
        assert!(matches!(check_hints(&headers(&[("x-customer-type", "admin")]), None), Err(AppError::BadRequest(_))));
    }
}
