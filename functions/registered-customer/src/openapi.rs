//! The registered customer service's public routes in the API document. They are
//! reached through the customer router at the same paths.

use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::{OpenApi, PathsBuilder};
use utoipa::{PartialSchema, ToSchema};

use shared::openapi::{
    document, empty_response, json_body, json_response, path_param, problem_response, schema_ref, secured,
    with_common_errors,
};

use crate::domain::{AddressInput, Preferences};
use crate::routes::{AccountView, HistoryView, Profile};

fn op(id: &str, summary: &str) -> OperationBuilder {
    OperationBuilder::new().tag("customers").operation_id(Some(id)).summary(Some(summary))
}

fn account_op(id: &str, summary: &str) -> OperationBuilder {
    with_common_errors(secured(op(id, summary)))
        .response("401", problem_response("No valid token"))
        .response("403", problem_response("A guest session has no account"))
        .response("404", problem_response("No such account or address"))
}

pub fn openapi() -> OpenApi {
    let address = schema_ref("Address");
    let invalid = || problem_response("Invalid fields, listed per field");
    let paths = PathsBuilder::new()
        .path(
            "/api/customers/profile",
            PathItem::new(
                HttpMethod::Get,
                account_op("get_profile", "Your profile")
                    .response("200", json_response("Profile", schema_ref("Profile"))),
            ),
        )
        .path(
            "/api/customers/profile",
            PathItem::new(
                HttpMethod::Patch,
                account_op("update_profile", "Change some profile fields; `null` clears one")
                    .request_body(Some(json_body(
                        schema_ref("Profile"),
                        Some(json!({ "name": "Ada Lovelace", "preferences": { "newsletter": true } })),
                    )))
                    .response("200", json_response("Profile", schema_ref("Profile")))
                    .response("422", invalid()),
            ),
        )
        .path(
            "/api/customers/addresses",
            PathItem::new(
                HttpMethod::Get,
                account_op("list_addresses", "Your addresses")
                    .response("200", json_response("All your addresses (at most 20)", ObjectBuilder::new().into())),
            ),
        )
        .path(
            "/api/customers/addresses",
            PathItem::new(
                HttpMethod::Post,
                account_op("create_address", "Add an address; your first is your default for shipping and billing")
                    .request_body(Some(json_body(schema_ref("AddressInput"), None)))
                    .response("201", json_response("Created", address.clone()))
                    .response("409", problem_response("Too many addresses"))
                    .response("422", invalid()),
            ),
        )
        .path(
            "/api/customers/addresses/{id}",
            PathItem::new(
                HttpMethod::Get,
                account_op("get_address", "One of your addresses")
                    .parameter(path_param("id", "Address id"))
                    .response("200", json_response("Address", address.clone())),
            ),
        )
        .path(
            "/api/customers/addresses/{id}",
            PathItem::new(
                HttpMethod::Patch,
                account_op("update_address", "Change some fields of an address")
                    .parameter(path_param("id", "Address id"))
                    .request_body(Some(json_body(schema_ref("AddressInput"), Some(json!({ "city": "Cambridge" })))))
                    .response("200", json_response("Address", address))
                    .response("422", invalid()),
            ),
        )
        .path(
            "/api/customers/addresses/{id}",
            PathItem::new(
                HttpMethod::Delete,
                account_op("delete_address", "Remove an address")
                    .parameter(path_param("id", "Address id"))
                    .response("204", empty_response("Removed")),
            ),
        )
        .path(
            "/api/customers/password",
            PathItem::new(
                HttpMethod::Post,
                account_op("change_password", "Change your password")
                    .request_body(Some(json_body(
                        ObjectBuilder::new()
                            .property("current_password", String::schema())
                            .property("new_password", String::schema())
                            .into(),
                        None,
                    )))
                    .response("204", empty_response("Changed"))
                    .response("422", invalid()),
            ),
        )
        .path(
            "/api/customers/history",
            PathItem::new(
                HttpMethod::Get,
                account_op("account_history", "Shopping history, including what you did as a guest")
                    .response("200", json_response("One page, newest first", ObjectBuilder::new().into())),
            ),
        )
        .path(
            "/api/customers/verify-email",
            PathItem::new(
                HttpMethod::Post,
                with_common_errors(op("verify_email", "Confirm an email address with the token from the mail"))
                    .request_body(Some(json_body(
                        ObjectBuilder::new().property("token", String::schema()).required("token").into(),
                        None,
                    )))
                    .response("200", json_response("Confirmed", ObjectBuilder::new().into())),
            ),
        )
        .path(
            "/api/customers/verify-email/resend",
            PathItem::new(
                HttpMethod::Post,
                with_common_errors(op("resend_verification", "Send the confirmation mail again (always 202)"))
                    .request_body(Some(json_body(
                        ObjectBuilder::new().property("email", String::schema()).required("email").into(),
                        None,
                    )))
                    .response("202", empty_response("Accepted")),
            ),
        )
        .path(
            "/api/customers/accounts/{id}",
            PathItem::new(
                HttpMethod::Get,
                account_op("staff_get_account", "Any account (staff)")
                    .parameter(path_param("id", "Account id"))
                    .response("200", json_response("Account", schema_ref("AccountView"))),
            ),
        )
        .build();
    document(
        "Registered customer service",
        paths,
        vec![
            (AccountView::name().to_string(), AccountView::schema()),
            (Profile::name().to_string(), Profile::schema()),
            (Preferences::name().to_string(), Preferences::schema()),
            (AddressInput::name().to_string(), AddressInput::schema()),
            (
                "Address".to_string(),
                ObjectBuilder::new()
                    .description(Some("An address: AddressInput plus id, created_at, updated_at"))
                    .into(),
            ),
            (HistoryView::name().to_string(), HistoryView::schema()),
        ],
    )
}
