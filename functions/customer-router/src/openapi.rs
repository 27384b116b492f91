//! The customer router in the API document: its own routes (login, token
//! refresh, sign-up, upgrade), and what it adds to every route it forwards. The forwarded routes
//! themselves are described by the functions that serve them; where one path is
//! served by a different function per customer type, the local server merges
//! their descriptions (`shared::openapi::merge_alternatives`).

use serde_json::json;
use utoipa::PartialSchema;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{OpenApi, PathsBuilder, RefOr, Required, Response, Schema};

use shared::openapi::{
    closed, document, json_body, json_response, one_of_strings, problem_response, problem_with_retry_after, schema_ref,
    secured, string, with_common_errors,
};

/// Paths the router answers itself; every other `/api/customers` path is forwarded.
pub const OWN_PATHS: [&str; 4] =
    ["/api/customers/login", "/api/customers/token/refresh", "/api/customers/signup", "/api/customers/upgrade"];

fn hint_parameters() -> [Parameter; 2] {
    let header = |name: &str, description: &str, schema: RefOr<Schema>| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(description))
            .schema(Some(schema))
            .build()
    };
    [
        header(
            "X-Customer-Type",
            "Routing hint of the original API; must match the token (a registered or VIP hint without one is a 401)",
            one_of_strings(["guest", "registered", "vip"]).into(),
        ),
        header(
            "X-User-ID",
            "Routing hint of the original API; must be the token's subject (without a token: 401)",
            String::schema(),
        ),
    ]
}

fn op(id: &str, summary: &str) -> OperationBuilder {
    with_common_errors(OperationBuilder::new().tag("customers").operation_id(Some(id)).summary(Some(summary)))
}

fn described(ty: Type, description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(ty).description(Some(description))
}

fn token_schema() -> RefOr<Schema> {
    let text = || String::schema();
    ObjectBuilder::new()
        .property("access_token", text())
        .required("access_token")
        .property("token_type", text())
        .required("token_type")
        .property("expires_in", described(Type::Integer, "Seconds the access token lasts (TOKEN_TTL_SECS)"))
        .required("expires_in")
        .property(
            "refresh_token",
            described(
                Type::String,
                "Sent to /api/customers/token/refresh for the next access token; works once, and a password change \
                 or closing the account revokes it",
            ),
        )
        .required("refresh_token")
        .property(
            "refresh_expires_in",
            described(Type::Integer, "Seconds the refresh token lasts unused (REFRESH_TOKEN_TTL_DAYS)"),
        )
        .required("refresh_expires_in")
        .property("customer_id", text())
        .required("customer_id")
        .property("customer_type", one_of_strings(["registered", "vip"]))
        .required("customer_type")
        .property("role", one_of_strings(["customer", "staff"]))
        .required("role")
        .into()
}

fn upgraded_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .description(Some("The VIP record; a customer who upgraded themselves also gets a new `vip` token"))
        .property("customer", schema_ref("VipCustomer"))
        .required("customer")
        .property("access_token", String::schema())
        .property("token_type", String::schema())
        .property("expires_in", i64::schema())
        .into()
}

/// The sign-up body. The password policy also rejects passwords made only of
/// letters or only of digits, and ones containing the email's name: rules
/// across fields and Unicode letter classes that JSON Schema cannot state.
fn sign_up_schema() -> RefOr<Schema> {
    closed(ObjectBuilder::new())
        .property(
            "email",
            string(3, 254, Some(shared::openapi::EMAIL_PATTERN)).description(Some("Trimmed and lower-cased")),
        )
        .required("email")
        .property(
            "password",
            string(10, 128, None).description(Some(
                "10 to 128 characters, mixing letters with digits or symbols, not containing the email's name",
            )),
        )
        .required("password")
        .property("name", shared::openapi::optional_text::<200>())
        .property("phone", schema_ref("Phone"))
        .property(
            "preferences",
            AnyOfBuilder::new().item(schema_ref("PreferencesInput")).item(ObjectBuilder::new().schema_type(Type::Null)),
        )
        .into()
}

fn sign_up_accepted_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .property("email", ObjectBuilder::new().schema_type(Type::String).description(Some("The address, normalised")))
        .required("email")
        .property("detail", ObjectBuilder::new().schema_type(Type::String).description(Some("What happens next")))
        .required("detail")
        .into()
}

pub fn openapi() -> OpenApi {
    let credentials = closed(ObjectBuilder::new())
        .property("email", String::schema())
        .required("email")
        .property("password", String::schema())
        .required("password");
    let paths = PathsBuilder::new()
        .path(
            "/api/customers/login",
            PathItem::new(
                HttpMethod::Post,
                op("login", "Log in with email and password; with X-Guest-Token the guest's cart joins yours")
                    .parameter(guest_token_header("The guest session whose cart joins the customer's"))
                    .request_body(Some(json_body(
                        credentials.into(),
                        Some(json!({ "email": "customer123@example.com", "password": "shop-demo-password-1" })),
                    )))
                    .response("200", json_response("A bearer token whose type is registered or vip", token_schema()))
                    .response("401", problem_response("Wrong email or password"))
                    .response("403", problem_response("Email not confirmed yet"))
                    .response("413", problem_response("Body too large"))
                    .response("415", problem_response("Body is not JSON"))
                    .response("422", problem_response("Unknown or missing fields"))
                    .response(
                        "429",
                        problem_with_retry_after(
                            "Too many failed logins for this email or from this address (5 per email, 50 per address in \
                             15 minutes by default); the lockout ends after `Retry-After` seconds",
                        ),
                    ),
            ),
        )
        .path(
            "/api/customers/token/refresh",
            PathItem::new(
                HttpMethod::Post,
                op(
                    "refresh_token",
                    "A new access token (and the next refresh token) for a refresh token from a login or refresh",
                )
                .request_body(Some(json_body(
                    closed(ObjectBuilder::new()).property("refresh_token", string(1, 200, None)).required("refresh_token").into(),
                    Some(json!({ "refresh_token": "x2Vq…" })),
                )))
                .response("200", json_response("Tokens for the account as it is now", token_schema()))
                .response(
                    "401",
                    problem_response(
                        "Unknown, expired, used or revoked (a used one coming back revokes all of the account's)",
                    ),
                )
                .response("413", problem_response("Body too large"))
                .response("415", problem_response("Body is not JSON"))
                .response("422", problem_response("Unknown or missing fields")),
            ),
        )
        .path(
            "/api/customers/signup",
            PathItem::new(
                HttpMethod::Post,
                op("sign_up", "Create an account; with X-Guest-Token the guest's history and cart move into it")
                    .parameter(guest_token_header("The guest session to turn into this account"))
                    .parameters(Some(hint_parameters()))
                    .request_body(Some(json_body(
                        sign_up_schema(),
                        Some(json!({ "email": "new@example.com", "password": "correct horse 9", "name": "New Customer" })),
                    )))
                    .response(
                        "202",
                        json_response(
                            "The same answer for a new address and one with an account, so it tells nobody which \
                             emails are customers: the address gets a confirmation link (or, with an account, a note \
                             to log in). A guest's session and cart move only into a new account",
                            sign_up_accepted_schema(),
                        ),
                    )
                    .response("401", problem_response("An invalid bearer or guest token, or an account hint without a token"))
                    .response("409", problem_response("Logged in already, or the guest session cannot move"))
                    .response("413", problem_response("Body too large"))
                    .response("415", problem_response("Body is not JSON"))
                    .response("422", problem_response("Invalid fields, listed per field")),
            ),
        )
        .path(
            "/api/customers/upgrade",
            PathItem::new(
                HttpMethod::Post,
                secured(op("upgrade", "Become a VIP; staff upgrade `customer_id`, which only they send"))
                    .parameters(Some(hint_parameters()))
                    .request_body(Some(upgrade_body()))
                    .response("200", json_response("Upgraded (again: upgrading is idempotent)", upgraded_schema()))
                    .response("401", problem_response("No valid token"))
                    .response("403", problem_response("Guests cannot become VIPs, or the hints do not match the token"))
                    .response("404", problem_response("No account with this id"))
                    .response("413", problem_response("Body too large"))
                    .response("415", problem_response("Staff: the body is not JSON"))
                    .response("422", problem_response("Staff: `customer_id` missing, or unknown fields")),
            ),
        )
        .build();
    document("Customer router", paths, vec![])
}

/// A customer's body is ignored (the token names whom to upgrade); staff name
/// the customer.
fn upgrade_body() -> utoipa::openapi::request_body::RequestBody {
    let mut body = json_body(
        closed(ObjectBuilder::new()).property("customer_id", string(1, 64, Some(r"^[A-Za-z0-9_\-.:@+]+$"))).into(),
        Some(json!({ "customer_id": "cust_01KGES92M03S433BX3SRZDZ1AC" })),
    );
    body.required = Some(Required::False);
    body
}

fn guest_token_header(description: &str) -> Parameter {
    shared::openapi::header_param("X-Guest-Token", description, false)
}

/// What the router adds to each route it forwards: the routing hints it checks,
/// the invalid token it refuses before forwarding, its own deadline, and the
/// answers it gives itself where a caller's type has no such route.
pub fn describe_forwarding(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/api/customers/") || OWN_PATHS.contains(&path.as_str()) {
            continue;
        }
        let operations = [
            ("get", item.get.as_mut()),
            ("post", item.post.as_mut()),
            ("put", item.put.as_mut()),
            ("patch", item.patch.as_mut()),
            ("delete", item.delete.as_mut()),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            forwarded(operation);
            match (path.as_str(), method) {
                ("/api/customers/", "get") => {
                    operation.operation_id = Some("who_am_i".into());
                    operation.summary = Some(
                        "You, as the service for your type sees you: your guest session (none without a token), \
                         account or VIP record"
                            .into(),
                    );
                }
                ("/api/customers/history", "get") => {
                    operation.operation_id = Some("your_history".into());
                    operation.summary =
                        Some("Your history: the guest session's, or your account's (what you did as a guest)".into());
                }
                ("/api/customers/", "post") => add_response(
                    operation,
                    "409",
                    problem_response("You are logged in: guest sessions are for callers without an account"),
                ),
                _ => {}
            }
        }
    }
}

fn forwarded(operation: &mut Operation) {
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    for hint in hint_parameters() {
        if !parameters.iter().any(|p| p.name == hint.name && p.parameter_in == hint.parameter_in) {
            parameters.push(hint);
        }
    }
    add_response(operation, "400", problem_response("Malformed request, or an X-Customer-Type that is no type"));
    add_response(operation, "401", problem_response("An invalid token, or an account hint without one"));
    add_response(operation, "403", problem_response("The hints do not match the token"));
    add_response(operation, "503", problem_response("The customer service did not answer in time; retry"));
}

/// Adds `response` unless the operation already describes that status.
fn add_response(operation: &mut Operation, status: &str, response: Response) {
    operation.responses.responses.entry(status.to_string()).or_insert_with(|| RefOr::T(response));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_routes_get_the_hints_and_the_routers_own_answers() {
        let mut doc = OpenApi::default();
        doc.paths.paths.insert(
            "/api/customers/profile".into(),
            PathItem::new(
                HttpMethod::Get,
                OperationBuilder::new().response("200", json_response("x", ObjectBuilder::new().into())),
            ),
        );
        doc.paths.paths.insert("/api/customers/login".into(), PathItem::new(HttpMethod::Post, OperationBuilder::new()));
        describe_forwarding(&mut doc);
        let json = serde_json::to_value(&doc).unwrap();
        let profile = &json["paths"]["/api/customers/profile"]["get"];
        for status in ["200", "400", "401", "403", "503"] {
            assert!(profile["responses"].get(status).is_some(), "{status}");
        }
        assert_eq!(profile["parameters"].as_array().unwrap().len(), 2);
        assert!(json["paths"]["/api/customers/login"]["post"].get("parameters").is_none());
    }
}
