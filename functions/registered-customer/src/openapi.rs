//! The registered customer service's public routes in the API document. They are
//! reached through the customer router at the same paths; `/api/customers/` and
//! `/api/customers/history` are also served by the guest and VIP services for
//! their callers, and the local server merges the descriptions.

use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{OpenApi, PathsBuilder, RefOr, Required, Schema};
use utoipa::{PartialSchema, ToSchema};

use shared::openapi::{
    closed, document, empty_response, json_body, json_response, nullable, optional_text, page_schema, paged,
    path_param, problem_response, schema_ref, secured, string, text, with_common_errors,
};

use crate::domain::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Preferences};
use crate::routes::{AccountView, HistoryView, Profile};

fn op(id: &str, summary: &str) -> OperationBuilder {
    with_common_errors(OperationBuilder::new().tag("customers").operation_id(Some(id)).summary(Some(summary)))
}

fn account_op(id: &str, summary: &str) -> OperationBuilder {
    secured(op(id, summary))
        .response(
            "401",
            problem_response("No valid token, one from before the last password change, or a closed account's"),
        )
        .response("403", problem_response("A guest session has no account"))
        .response("404", problem_response("No account for this token, or no such address"))
}

/// An operation that reads a JSON body.
fn with_body_errors(operation: OperationBuilder) -> OperationBuilder {
    operation
        .response("413", problem_response("Body too large"))
        .response("415", problem_response("Body is not JSON"))
        .response("422", problem_response("Invalid fields, listed per field"))
}

/// What `check_phone` accepts: 6 to 15 digits, with spaces, `+ - ( ) .` between.
const PHONE_PATTERN: &str = r"^[ +\-().]*(?:[0-9][ +\-().]*){6,15}$";

fn phone() -> RefOr<Schema> {
    string(6, 40, Some(PHONE_PATTERN)).schema_type(nullable(Type::String)).into()
}

fn preferences() -> RefOr<Schema> {
    closed(ObjectBuilder::new())
        .property(
            "favourite_categories",
            ArrayBuilder::new().items(text::<50>()).max_items(Some(20)).description(Some("At most 20")),
        )
        .property("newsletter", bool::schema())
        .property("currency", shared::openapi::currency(true).description(Some("ISO 4217 code to show prices in")))
        .into()
}

/// An address, all fields (`required`) for a new one or any of them for a change.
fn address_input(required: bool) -> RefOr<Schema> {
    let mut object = closed(ObjectBuilder::new());
    for (name, schema, needed) in [
        ("label", optional_text::<50>(), false),
        ("recipient", text::<200>(), true),
        ("line1", text::<200>(), true),
        ("line2", optional_text::<200>(), false),
        ("city", text::<100>(), true),
        ("region", optional_text::<100>(), false),
        ("postal_code", text::<20>(), true),
        ("country", string(2, 2, Some("^[A-Za-z]{2}$")).description(Some("ISO 3166-1 alpha-2, e.g. US")).into(), true),
        ("phone", phone(), false),
        ("is_default_shipping", bool::schema(), false),
        ("is_default_billing", bool::schema(), false),
    ] {
        object = object.property(name, schema);
        if required && needed {
            object = object.required(name);
        }
    }
    object.into()
}

fn address() -> RefOr<Schema> {
    let text = || String::schema();
    let optional = || <Option<String>>::schema();
    ObjectBuilder::new()
        .property("id", text())
        .required("id")
        .property("label", optional())
        .property("recipient", text())
        .required("recipient")
        .property("line1", text())
        .required("line1")
        .property("line2", optional())
        .property("city", text())
        .required("city")
        .property("region", optional())
        .property("postal_code", text())
        .required("postal_code")
        .property("country", text())
        .required("country")
        .property("phone", optional())
        .property("is_default_shipping", bool::schema())
        .required("is_default_shipping")
        .property("is_default_billing", bool::schema())
        .required("is_default_billing")
        .property("created_at", text())
        .required("created_at")
        .property("updated_at", text())
        .required("updated_at")
        .into()
}

fn password(description: &str) -> RefOr<Schema> {
    string(MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS, None).description(Some(description)).into()
}

pub fn openapi() -> OpenApi {
    let address_id = || path_param("id", "Address id");
    let paths = PathsBuilder::new()
        .path(
            "/api/customers/",
            PathItem::new(
                HttpMethod::Get,
                account_op("get_account", "Your account (registered customers and staff)")
                    .response("200", json_response("Your account", schema_ref("AccountView"))),
            ),
        )
        .path(
            "/api/customers/",
            PathItem::new(
                HttpMethod::Delete,
                with_body_errors(account_op(
                    "close_account",
                    "Close your account, with its addresses and history; confirm with your password",
                ))
                .request_body(Some(json_body(
                    closed(ObjectBuilder::new()).property("password", String::schema()).required("password").into(),
                    None,
                )))
                .response(
                    "204",
                    empty_response(
                        "Closed (or closed already); your tokens and refresh tokens no longer reach an account",
                    ),
                ),
            ),
        )
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
                with_body_errors(account_op("update_profile", "Change some profile fields; `null` clears one"))
                    .request_body(Some(json_body(
                        schema_ref("ProfileInput"),
                        Some(json!({ "name": "Ada Lovelace", "preferences": { "newsletter": true } })),
                    )))
                    .response("200", json_response("Profile", schema_ref("Profile"))),
            ),
        )
        .path(
            "/api/customers/addresses",
            PathItem::new(
                HttpMethod::Get,
                account_op("list_addresses", "Your addresses")
                    .response("200", json_response("All your addresses (at most 20)", schema_ref("AddressPage"))),
            ),
        )
        .path(
            "/api/customers/addresses",
            PathItem::new(
                HttpMethod::Post,
                with_body_errors(account_op(
                    "create_address",
                    "Add an address; your first is your default for shipping and billing",
                ))
                .request_body(Some(json_body(
                    schema_ref("AddressInput"),
                    Some(json!({ "recipient": "Ada Lovelace", "line1": "12 St James's Square", "city": "London",
                                 "postal_code": "SW1Y 4JH", "country": "GB" })),
                )))
                .response("201", json_response("Created", schema_ref("Address")))
                .response("409", problem_response("Too many addresses")),
            ),
        )
        .path(
            "/api/customers/addresses/{id}",
            PathItem::new(
                HttpMethod::Get,
                account_op("get_address", "One of your addresses")
                    .parameter(address_id())
                    .response("200", json_response("Address", schema_ref("Address"))),
            ),
        )
        .path(
            "/api/customers/addresses/{id}",
            PathItem::new(
                HttpMethod::Patch,
                with_body_errors(account_op("update_address", "Change some fields of an address"))
                    .parameter(address_id())
                    .request_body(Some(json_body(schema_ref("AddressPatch"), Some(json!({ "city": "Cambridge" })))))
                    .response("200", json_response("Address", schema_ref("Address"))),
            ),
        )
        .path(
            "/api/customers/addresses/{id}",
            PathItem::new(
                HttpMethod::Delete,
                account_op("delete_address", "Remove an address")
                    .parameter(address_id())
                    .response("204", empty_response("Removed")),
            ),
        )
        .path(
            "/api/customers/password",
            PathItem::new(
                HttpMethod::Post,
                with_body_errors(account_op(
                    "change_password",
                    "Change your password to a new one; every token issued before is revoked",
                ))
                .request_body(Some(json_body(
                    closed(ObjectBuilder::new())
                        .property("current_password", String::schema())
                        .required("current_password")
                        .property(
                            "new_password",
                            password(
                                "10 to 128 characters, mixing letters with digits or symbols, \
                                     not containing your email's name",
                            ),
                        )
                        .required("new_password")
                        .into(),
                    None,
                )))
                .response("204", empty_response("Changed: log in again with the new password")),
            ),
        )
        .path(
            "/api/customers/history",
            PathItem::new(
                HttpMethod::Get,
                paged(account_op("account_history", "Shopping history, including what you did as a guest"))
                    .response("200", json_response("One page, newest first", schema_ref("AccountHistoryPage"))),
            ),
        )
        .path(
            "/api/customers/history",
            PathItem::new(
                HttpMethod::Post,
                with_body_errors(account_op("add_account_history", "Record an item viewed or a search made"))
                    .request_body(Some(json_body(
                        schema_ref("HistoryEntryInput"),
                        Some(json!({ "kind": "search", "query": "clean code" })),
                    )))
                    .response("201", json_response("The entry", schema_ref("HistoryView")))
                    .response("503", problem_response("The items service did not answer; nothing was recorded")),
            ),
        )
        .path(
            "/api/customers/verify-email",
            PathItem::new(
                HttpMethod::Get,
                op("verify_email_link", "The link in the confirmation mail")
                    .parameter(
                        ParameterBuilder::new()
                            .name("token")
                            .parameter_in(ParameterIn::Query)
                            .required(Required::True)
                            .description(Some("The token from the mail"))
                            .schema(Some(String::schema()))
                            .build(),
                    )
                    .response("200", json_response("Confirmed", schema_ref("EmailVerified"))),
            ),
        )
        .path(
            "/api/customers/verify-email",
            PathItem::new(
                HttpMethod::Post,
                with_body_errors(op("verify_email", "Confirm an email address with the token from the mail"))
                    .description(Some("A token that is not valid, was used or has expired is a 400"))
                    .request_body(Some(json_body(
                        closed(ObjectBuilder::new()).property("token", String::schema()).required("token").into(),
                        None,
                    )))
                    .response("200", json_response("Confirmed", schema_ref("EmailVerified"))),
            ),
        )
        .path(
            "/api/customers/verify-email/resend",
            PathItem::new(
                HttpMethod::Post,
                with_body_errors(op(
                    "resend_verification",
                    "Send the confirmation mail again (202 whether or not the address has an account)",
                ))
                .request_body(Some(json_body(
                    closed(ObjectBuilder::new())
                        .property("email", string(3, 254, Some(shared::openapi::EMAIL_PATTERN)))
                        .required("email")
                        .into(),
                    None,
                )))
                .response("202", empty_response("Accepted"))
                .response(
                    "429",
                    problem_response("The address had its mails for the hour (`MAILS_PER_ADDRESS`); see Retry-After"),
                ),
            ),
        )
        .path(
            "/api/customers/accounts/{id}",
            PathItem::new(
                HttpMethod::Get,
                secured(op("staff_get_account", "Any account (staff)"))
                    .parameter(path_param("id", "Account id"))
                    .response("200", json_response("Account", schema_ref("AccountView")))
                    .response("401", problem_response("No valid token"))
                    .response("403", problem_response("Not staff"))
                    .response("404", problem_response("No such account")),
            ),
        )
        .build();
    let verified: RefOr<Schema> = ObjectBuilder::new()
        .property("id", String::schema())
        .required("id")
        .property("email_verified", bool::schema())
        .required("email_verified")
        .into();
    let address_page = page_schema("Address");
    let profile_input = closed(ObjectBuilder::new())
        .property("name", optional_text::<200>())
        .property("phone", phone())
        .property("preferences", schema_ref("PreferencesInput"))
        .into();
    document(
        "Registered customer service",
        paths,
        vec![
            (AccountView::name().to_string(), AccountView::schema()),
            (Profile::name().to_string(), Profile::schema()),
            ("ProfileInput".into(), profile_input),
            (Preferences::name().to_string(), Preferences::schema()),
            ("PreferencesInput".into(), preferences()),
            ("Phone".into(), phone()),
            ("AddressInput".into(), address_input(true)),
            ("AddressPatch".into(), address_input(false)),
            ("Address".into(), address()),
            ("AddressPage".into(), address_page),
            (HistoryView::name().to_string(), HistoryView::schema()),
            ("AccountHistoryPage".into(), page_schema("HistoryView")),
            ("HistoryEntryInput".into(), shared::history::entry_input_schema()),
            ("EmailVerified".into(), verified),
        ],
    )
}
