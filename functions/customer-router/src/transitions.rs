//! Login and the transitions guest → registered → VIP. Each step the router takes
//! is idempotent in the function it calls, so a transition that fails half-way is
//! finished by retrying it, and nobody is left half-moved.

use axum::extract::{FromRequestParts, Request, State};
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use shared::auth::{Caller, CustomerType, Role};
use shared::error::{AppError, AppResult, FieldErrors};
use shared::extract::{MAX_BODY_BYTES, parse_json};

use crate::CustomerRouterState;
use crate::forward::{call_json, check_hints, into_response};

async fn json_object(body: axum::body::Body) -> AppResult<Map<String, Value>> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge(format!("the request body is larger than {MAX_BODY_BYTES} bytes")))?;
    match parse_json::<Value>(&bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(AppError::BadRequest("the request body must be a JSON object".into())),
    }
}

/// A body that may be left out: none, or a JSON object.
async fn optional_json_object(
    parts: &http::request::Parts,
    body: axum::body::Body,
) -> AppResult<Option<Map<String, Value>>> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge(format!("the request body is larger than {MAX_BODY_BYTES} bytes")))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    require_json(parts)?;
    match parse_json::<Value>(&bytes)? {
        Value::Object(map) => Ok(Some(map)),
        _ => Err(AppError::BadRequest("the request body must be a JSON object".into())),
    }
}

/// Account ids as every store keeps them: `cust_<ULID>` or a legacy id such as `456`.
fn is_customer_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:@+".contains(&b))
}

fn require_json(parts: &http::request::Parts) -> AppResult<()> {
    let is_json = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(AppError::UnsupportedMediaType("expected a body with Content-Type: application/json".into()))
    }
}

/// Only the fields a customer may send; the rest of what the registered service
/// accepts (the guest session and history) is the router's to fill in.
fn only_fields(body: &Map<String, Value>, allowed: &[&str]) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    for key in body.keys().filter(|k| !allowed.contains(&k.as_str())) {
        errors.add(key.clone(), "unknown field");
    }
    errors.into_result()
}

fn customer_type(name: &str) -> AppResult<CustomerType> {
    match name {
        "registered" => Ok(CustomerType::Registered),
        "vip" => Ok(CustomerType::Vip),
        other => Err(AppError::internal(format!("the registered service reported customer type `{other}`"))),
    }
}

/// Moves a guest's cart into the customer's. The cart service merges idempotently,
/// so a failure here is logged and left for the next login rather than failing
/// the sign-up or login that the customer asked for.
async fn merge_cart(state: &CustomerRouterState, guest_id: &str, customer_id: &str) {
    let body = json!({ "guest_id": guest_id, "customer_id": customer_id });
    match call_json(state, &state.functions.cart, Method::POST, "/internal/cart/merge", &[], Some(&body)).await {
        Ok((status, _, _)) if status.is_success() => {}
        Ok((status, problem, _)) => tracing::warn!(%guest_id, %customer_id, %status, %problem, "guest cart not merged"),
        Err(e) => tracing::warn!(%guest_id, %customer_id, error = %e, "guest cart not merged"),
    }
}

/// The guest session named by `X-Guest-Token`, if any: its id and history.
async fn guest_session(
    state: &CustomerRouterState,
    parts: &http::request::Parts,
) -> AppResult<Option<(String, Value, String)>> {
    let Some(token) = parts.headers.get("x-guest-token").and_then(|v| v.to_str().ok()).map(str::to_string) else {
        return Ok(None);
    };
    let (status, session, _) = call_json(
        state,
        &state.functions.guest,
        Method::GET,
        "/internal/guest/session",
        &[("x-guest-token", &token)],
        None,
    )
    .await?;
    if status != StatusCode::OK {
        return Err(AppError::Unauthorized("the guest session has expired or was already used".into()));
    }
    let guest_id = session["guest_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| AppError::internal("guest session without an id"))?;
    Ok(Some((guest_id, session["history"].clone(), token)))
}

/// `POST /api/customers/login`: email and password in, a signed token out, whose
/// type is what the account is now (`registered` or `vip`). With `X-Guest-Token`,
/// the guest's cart joins the customer's.
pub async fn login(State(state): State<CustomerRouterState>, request: Request) -> AppResult<Response> {
    let (parts, body) = request.into_parts();
    require_json(&parts)?;
    let mut credentials = json_object(body).await?;
    only_fields(&credentials, &["email", "password"])?;
    // Failed logins are limited per source address too.
    if let Some(source) = shared::http_app::source_ip(&parts.extensions) {
        credentials.insert("source".into(), Value::from(source));
    }
    let (status, who, response) = call_json(
        &state,
        &state.functions.registered,
        Method::POST,
        "/internal/registered/authenticate",
        &[],
        Some(&Value::Object(credentials)),
    )
    .await?;
    if status != StatusCode::OK {
        return Ok(into_response(response));
    }
    let id = who["customer_id"].as_str().ok_or_else(|| AppError::internal("authenticate answered without an id"))?;
    tracing::info!(customer = %id, "logged in");
    if let Ok(Some((guest_id, _, _))) = guest_session(&state, &parts).await {
        merge_cart(&state, &guest_id, id).await;
    }
    session(&state, &who)
}

/// The answer to a login or a refresh: an access token signed for the account
/// as it is now (its type, role and token version), and the refresh token the
/// registered service stored for it.
fn session(state: &CustomerRouterState, who: &Value) -> AppResult<Response> {
    let id = who["customer_id"].as_str().ok_or_else(|| AppError::internal("the session names no customer"))?;
    let typ = customer_type(who["customer_type"].as_str().unwrap_or(""))?;
    let role = if who["role"] == "staff" { Role::Staff } else { Role::Customer };
    let version =
        who["token_version"].as_i64().ok_or_else(|| AppError::internal("the session has no token version"))?;
    let token = state.keys.issue_at_version(id, typ, role, version, state.token_ttl_secs);
    Ok(axum::Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": state.token_ttl_secs,
        "refresh_token": who["refresh_token"],
        "refresh_expires_in": who["refresh_expires_in"],
        "customer_id": id,
        "customer_type": who["customer_type"],
        "role": who["role"],
    }))
    .into_response())
}

/// `POST /api/customers/token/refresh`: a refresh token in, a new access token
/// and the next refresh token out. Each refresh token works once; a password
/// change or the account's closure revokes them all.
pub async fn refresh(State(state): State<CustomerRouterState>, request: Request) -> AppResult<Response> {
    let (parts, body) = request.into_parts();
    require_json(&parts)?;
    let body = json_object(body).await?;
    only_fields(&body, &["refresh_token"])?;
    let (status, who, response) = call_json(
        &state,
        &state.functions.registered,
        Method::POST,
        "/internal/registered/refresh",
        &[],
        Some(&Value::Object(body)),
    )
    .await?;
    if status != StatusCode::OK {
        return Ok(into_response(response));
    }
    session(&state, &who)
}

/// `DELETE /api/customers/`: the registered service checks the password and
/// closes the account, keeping only its id; then the VIP record loses what
/// identified the member and the cart goes. The last two are retried by sending
/// the same request again, which the registered service answers 204 again.
pub async fn close_account(
    state: &CustomerRouterState,
    parts: &http::request::Parts,
    claims: &shared::auth::Claims,
    body: bytes::Bytes,
) -> AppResult<Response> {
    let forwarded =
        crate::forward::send(state, &state.functions.registered, parts, Method::DELETE, parts.uri.to_string(), body)
            .await?;
    if forwarded.status() != StatusCode::NO_CONTENT {
        return Ok(into_response(forwarded));
    }
    let id = &claims.sub;
    let unfinished = |what: &str| AppError::Unavailable {
        detail: format!("your account is closed, but {what} did not finish; send the same request again"),
        retry_after_secs: 2,
    };
    let close = json!({ "customer_id": id });
    match call_json(state, &state.functions.vip, Method::POST, "/internal/vip/close", &[], Some(&close)).await {
        Ok((status, _, _)) if status.is_success() => {}
        _ => return Err(unfinished("removing your VIP record")),
    }
    let cart = format!("/internal/cart/customer/{id}");
    match call_json(state, &state.functions.cart, Method::DELETE, &cart, &[], None).await {
        Ok((status, _, _)) if status.is_success() => {}
        _ => return Err(unfinished("emptying your cart")),
    }
    tracing::info!(customer = %id, "account closed");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/customers/signup`. With a guest's `X-Guest-Token`, the guest's history
/// moves into the new account and the guest session is closed: read the session,
/// create the account (which the registered service finds again on a retry), then
/// convert the session (which the guest service accepts again for the same account).
pub async fn sign_up(State(state): State<CustomerRouterState>, request: Request) -> AppResult<Response> {
    let (mut parts, body) = request.into_parts();
    if Caller::from_request_parts(&mut parts, &state).await?.0.is_some() {
        return Err(AppError::Conflict("you are logged in already".into()));
    }
    check_hints(&parts.headers, None)?;
    require_json(&parts)?;
    let mut account = json_object(body).await?;
    only_fields(&account, &["email", "password", "name", "phone", "preferences"])?;
    let guest = guest_session(&state, &parts).await?;
    if let Some((guest_id, history, _)) = &guest {
        account.insert("guest_id".into(), json!(guest_id));
        account.insert("guest_history".into(), history.clone());
    }
    let guest_token = guest.as_ref().map(|(_, _, token)| token.clone());

    let (status, created, response) = call_json(
        &state,
        &state.functions.registered,
        Method::POST,
        "/internal/registered/accounts",
        &[],
        Some(&Value::Object(account)),
    )
    .await?;
    // One answer whether the address was new or had an account (202 from the
    // account service, which mailed its owner): nobody learns which emails are
    // customers. A guest's session moves only into a new account; when the
    // address had one, the guest keeps the session and its cart, which logging
    // in with X-Guest-Token brings along.
    let accepted = || {
        let email = created["email"].clone();
        let detail = "check your inbox: a link to confirm the address is on its way (if it has an account \
                      already, a note to log in instead)";
        (StatusCode::ACCEPTED, axum::Json(json!({ "email": email, "detail": detail }))).into_response()
    };
    if status == StatusCode::ACCEPTED {
        return Ok(accepted());
    }
    if !(status == StatusCode::CREATED || status == StatusCode::OK) {
        return Ok(into_response(response));
    }

    if let Some(token) = &guest_token {
        let convert = json!({ "token": token, "customer_id": created["id"] });
        let (status, _, _) =
            call_json(&state, &state.functions.guest, Method::POST, "/internal/guest/convert", &[], Some(&convert))
                .await
                .map_err(|_| AppError::Unavailable {
                    detail:
                        "your account exists, but moving your guest session did not finish; send the same sign-up again"
                            .into(),
                    retry_after_secs: 2,
                })?;
        if status != StatusCode::OK {
            return Err(AppError::Conflict("this guest session cannot be moved into the account".into()));
        }
    }
    if let (Some((guest_id, _, _)), Some(customer_id)) = (&guest, created["id"].as_str()) {
        merge_cart(&state, guest_id, customer_id).await;
    }
    Ok(accepted())
}

/// `POST /api/customers/upgrade`: a registered customer becomes a VIP (staff may
/// upgrade anyone with `{"customer_id": ...}`). The VIP record is created first
/// and the account's type flipped last, so until the last step the customer is
/// simply still registered, and a retry completes the move.
pub async fn upgrade(State(state): State<CustomerRouterState>, request: Request) -> AppResult<Response> {
    let (mut parts, body) = request.into_parts();
    let claims = Caller::from_request_parts(&mut parts, &state)
        .await?
        .0
        .ok_or_else(|| AppError::Unauthorized("log in to upgrade".into()))?;
    check_hints(&parts.headers, Some(&claims))?;
    let body = optional_json_object(&parts, body).await?;
    if let Some(body) = &body {
        only_fields(body, &["customer_id"])?;
    }
    let named = match body.as_ref().and_then(|b| b.get("customer_id")) {
        None | Some(Value::Null) => None,
        // The id becomes part of an internal path: only an id's characters may reach it.
        Some(Value::String(id)) if is_customer_id(id) => Some(id.clone()),
        Some(_) => {
            let mut errors = FieldErrors::new();
            errors.add("customer_id", "must be a customer id: 1 to 64 letters, digits or _ - . : @ +");
            return Err(AppError::Validation(errors));
        }
    };
    let customer_id = if claims.is_staff() {
        named.ok_or_else(|| {
            let mut errors = FieldErrors::new();
            errors.add("customer_id", "is required: whom should staff upgrade?");
            AppError::Validation(errors)
        })?
    } else if claims.typ == CustomerType::Guest {
        return Err(AppError::Forbidden("sign up first: guests cannot become VIPs".into()));
    } else if named.as_ref().is_some_and(|id| *id != claims.sub) {
        return Err(AppError::Forbidden("customers upgrade themselves only; leave `customer_id` out".into()));
    } else {
        claims.sub.clone()
    };

    let account_path = format!("/internal/registered/accounts/{customer_id}");
    let (status, account, response) =
        call_json(&state, &state.functions.registered, Method::GET, &account_path, &[], None).await?;
    if status != StatusCode::OK {
        return Ok(into_response(response));
    }
    // An upgrade answers a new token: one revoked by a password change must not get one.
    if !claims.is_staff() && account["token_version"].as_i64() != Some(claims.ver) {
        return Err(AppError::Unauthorized(
            "this token was issued before the account's password changed; log in again".into(),
        ));
    }
    // The VIP record holds points and tier only: name and email stay the account's.
    let enroll = json!({ "customer_id": customer_id });
    let (status, vip, response) =
        call_json(&state, &state.functions.vip, Method::POST, "/internal/vip/enroll", &[], Some(&enroll)).await?;
    if !(status == StatusCode::CREATED || status == StatusCode::OK) {
        return Ok(into_response(response));
    }
    let (status, _, response) = call_json(
        &state,
        &state.functions.registered,
        Method::PUT,
        &format!("{account_path}/customer-type"),
        &[],
        Some(&json!({ "customer_type": "vip" })),
    )
    .await?;
    if status != StatusCode::OK {
        return Ok(into_response(response));
    }
    tracing::info!(customer = %customer_id, by_staff = claims.is_staff(), "upgraded to VIP");
    let mut vip = vip;
    crate::contacts::add_to(&state, None, &mut vip).await?;
    let mut answer = json!({ "customer": vip });
    if !claims.is_staff() {
        let version = account["token_version"].as_i64().unwrap_or_default();
        answer["access_token"] = json!(state.keys.issue_at_version(
            &customer_id,
            CustomerType::Vip,
            Role::Customer,
            version,
            state.token_ttl_secs
        ));
        answer["token_type"] = json!("Bearer");
        answer["expires_in"] = json!(state.token_ttl_secs);
    }
    Ok(axum::Json(answer).into_response())
}
