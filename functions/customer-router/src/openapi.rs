//! The customer router's own routes in the API document: who you are, login,
//! sign-up and upgrade. The routes it forwards are described by the functions
//! that serve them.

use serde_json::json;
use utoipa::PartialSchema;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::{OpenApi, PathsBuilder, Required};

use shared::openapi::{document, json_body, json_response, problem_response, secured, with_common_errors};

fn header(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(String::schema()))
        .build()
}

fn op(id: &str, summary: &str) -> OperationBuilder {
    with_common_errors(OperationBuilder::new().tag("customers").operation_id(Some(id)).summary(Some(summary)))
}

pub fn openapi() -> OpenApi {
    let object = || ObjectBuilder::new().into();
    let token = ObjectBuilder::new()
        .property("access_token", String::schema())
        .property("token_type", String::schema())
        .property("expires_in", i64::schema())
        .property("customer_id", String::schema())
        .property("customer_type", String::schema())
        .property("role", String::schema());
    let paths = PathsBuilder::new()
        .path(
            "/api/customers/",
            PathItem::new(
                HttpMethod::Get,
                secured(op("who_am_i", "You, as the function for your customer type sees you (guest without a token)"))
                    .parameter(header("X-Customer-Type", "Routing hint (guest, registered, vip); must match the token"))
                    .parameter(header("X-User-ID", "Routing hint; must match the token's subject"))
                    .parameter(header("X-Guest-Token", "A guest session token"))
                    .response("200", json_response("Your guest session, account or VIP record; `customer_type` says which", object()))
                    .response("401", problem_response("A registered or VIP hint without a token, or an invalid token"))
                    .response("403", problem_response("The hints do not match the token")),
            ),
        )
        .path(
            "/api/customers/",
            PathItem::new(
                HttpMethod::Post,
                op("start_guest_session", "Start a guest session").response("201", json_response("The session and its token", object())),
            ),
        )
        .path(
            "/api/customers/login",
            PathItem::new(
                HttpMethod::Post,
                op("login", "Log in with email and password")
                    .request_body(Some(json_body(
                        ObjectBuilder::new().property("email", String::schema()).required("email").property("password", String::schema()).required("password").into(),
                        Some(json!({ "email": "customer123@example.com", "password": "shop-demo-password-1" })),
                    )))
                    .response("200", json_response("A bearer token whose type is registered or vip", token.into()))
                    .response("401", problem_response("Wrong email or password"))
                    .response("403", problem_response("Email not confirmed yet"))
                    .response("422", problem_response("Unknown or invalid fields")),
            ),
        )
        .path(
            "/api/customers/signup",
            PathItem::new(
                HttpMethod::Post,
                op("sign_up", "Create an account; with X-Guest-Token the guest's history moves into it")
                    .parameter(header("X-Guest-Token", "The guest session to turn into this account"))
                    .request_body(Some(json_body(
                        ObjectBuilder::new()
                            .property("email", String::schema())
                            .required("email")
                            .property("password", String::schema())
                            .required("password")
                            .property("name", String::schema())
                            .property("phone", String::schema())
                            .property("preferences", ObjectBuilder::new())
                            .into(),
                        Some(json!({ "email": "new@example.com", "password": "correct horse 9", "name": "New Customer" })),
                    )))
                    .response("201", json_response("The account; a confirmation mail is on its way", object()))
                    .response("200", json_response("The same sign-up again: the account it created", object()))
                    .response("409", problem_response("Email taken, or logged in already"))
                    .response("422", problem_response("Invalid fields, listed per field")),
            ),
        )
        .path(
            "/api/customers/upgrade",
            PathItem::new(
                HttpMethod::Post,
                secured(op("upgrade", "Become a VIP (staff: upgrade `customer_id`)"))
                    .request_body(Some(json_body(ObjectBuilder::new().property("customer_id", String::schema()).into(), None)))
                    .response("200", json_response("The VIP record, and a new vip token for the customer", object()))
                    .response("401", problem_response("No valid token"))
                    .response("403", problem_response("Guests cannot become VIPs")),
            ),
        )
        .build();
    document("Customer router", paths, vec![])
}
