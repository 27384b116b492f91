//! The OpenAPI description of the public routes. The `/internal` routes are left
//! out: API Gateway never routes them, so they are not part of the public API.

use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{OpenApi, PathsBuilder, RefOr};
use utoipa::{PartialSchema, ToSchema};

use shared::openapi::{
    PLAIN_TEXT_PATTERN, closed, document, integer, json_body, json_response, nullable, one_of_strings, paged,
    path_param, problem_response, query_param, schema_ref, secured, string, with_common_errors,
};

use crate::domain::{EntryKind, LedgerEntry, MAX_KEY_CHARS, MAX_POINTS, MAX_REASON_CHARS, NextTier, VipCustomer};
use crate::routes::{PointsResult, TierList};
use crate::tiers::{Benefits, Tier, TierName};

const TAG: &str = "vip";

fn vip_only(operation: OperationBuilder) -> OperationBuilder {
    secured(operation)
        .response("401", problem_response("No valid token"))
        .response("403", problem_response("The token is not a VIP customer's"))
}

fn staff_only(operation: OperationBuilder) -> OperationBuilder {
    secured(operation)
        .response("401", problem_response("No valid token"))
        .response("403", problem_response("Not staff"))
}

fn schema_of<T: ToSchema>() -> (String, RefOr<Schema>) {
    (T::name().to_string(), T::schema())
}

/// Paths and schemas of the VIP service's public routes.
pub fn openapi() -> OpenApi {
    let me = vip_only(
        OperationBuilder::new()
            .tag(TAG)
            .operation_id(Some("get_own_vip_record"))
            .summary(Some("The caller's VIP record, with the benefits of their tier"))
            .response("200", json_response("The caller's record", schema_ref("VipCustomer")))
            .response("404", problem_response("The caller is not enrolled")),
    );
    let benefits = OperationBuilder::new()
        .tag(TAG)
        .operation_id(Some("list_vip_tiers"))
        .summary(Some("The tiers and their benefits, lowest first"))
        .response("200", json_response("The catalog", schema_ref("TierList")));
    let points = vip_only(paged(
        OperationBuilder::new()
            .tag(TAG)
            .operation_id(Some("get_own_vip_points"))
            .summary(Some("The caller's points and ledger, newest first"))
            .response("200", json_response("Balance and one page of the ledger", schema_ref("VipPoints")))
            .response("404", problem_response("The caller is not enrolled")),
    ));
    let redeem = vip_only(
        OperationBuilder::new()
            .tag(TAG)
            .operation_id(Some("redeem_vip_points"))
            .summary(Some("Spend some of the caller's points; retries with the same key are answered once"))
            .request_body(Some(json_body(
                schema_ref("RedeemInput"),
                Some(json!({ "points": 500, "reason": "Voucher for order ord_123", "idempotency_key": "redeem-ord_123" })),
            )))
            .response("201", json_response("Redeemed", schema_ref("LedgerEntry")))
            .response("200", json_response("A retry: the entry made the first time", schema_ref("LedgerEntry")))
            .response("404", problem_response("The caller is not enrolled"))
            .response("409", problem_response("Not enough points, or the key was used for another request"))
            .response("413", problem_response("Body too large"))
            .response("415", problem_response("Body is not JSON"))
            .response("422", problem_response("Invalid fields, listed per field")),
    );
    let list = staff_only(paged(
        OperationBuilder::new()
            .tag(TAG)
            .operation_id(Some("list_vip_customers"))
            .summary(Some("VIP members, newest first (staff)"))
            .parameter(query_param("tier", "Only members of this tier", TierName::schema()))
            .response("200", json_response("One page of members", schema_ref("VipCustomerPage"))),
    ));
    let read = staff_only(
        OperationBuilder::new()
            .tag(TAG)
            .operation_id(Some("get_vip_customer"))
            .summary(Some("One member's record (staff)"))
            .parameter(path_param("id", "Customer id"))
            .response("200", json_response("The record", schema_ref("VipCustomer")))
            .response("404", problem_response("Not a VIP member")),
    );
    let change = staff_only(
        OperationBuilder::new()
            .tag(TAG)
            .operation_id(Some("change_vip_points"))
            .summary(Some("Credit (earn) or correct (adjust) a member's points (staff)"))
            .parameter(path_param("id", "Customer id"))
            .request_body(Some(json_body(
                schema_ref("StaffPointsInput"),
                Some(json!({ "kind": "adjust", "points": -250, "reason": "Refund of ord_123", "idempotency_key": "refund-ord_123" })),
            )))
            .response("201", json_response("Applied", schema_ref("PointsResult")))
            .response("200", json_response("A retry: the entry made the first time", schema_ref("PointsResult")))
            .response("404", problem_response("Not a VIP member"))
            .response("409", problem_response("The key was used for another request"))
            .response("413", problem_response("Body too large"))
            .response("415", problem_response("Body is not JSON"))
            .response("422", problem_response("Invalid fields, listed per field")),
    );

    let paths = PathsBuilder::new()
        .path("/api/customers/", PathItem::new(HttpMethod::Get, with_common_errors(me)))
        .path("/api/customers/vip/benefits", PathItem::new(HttpMethod::Get, with_common_errors(benefits)))
        .path("/api/customers/vip/points", PathItem::new(HttpMethod::Get, with_common_errors(points)))
        .path("/api/customers/vip/points/redeem", PathItem::new(HttpMethod::Post, with_common_errors(redeem)))
        .path("/api/customers/vip/customers", PathItem::new(HttpMethod::Get, with_common_errors(list)))
        .path("/api/customers/vip/customers/{id}", PathItem::new(HttpMethod::Get, with_common_errors(read)))
        .path("/api/customers/vip/customers/{id}/points", PathItem::new(HttpMethod::Post, with_common_errors(change)))
        .build();

    let vip_points: RefOr<Schema> = ObjectBuilder::new()
        .property("balance", i64::schema())
        .required("balance")
        .property("lifetime_points", i64::schema())
        .required("lifetime_points")
        .property("tier", schema_ref("TierName"))
        .required("tier")
        .property("history", schema_ref("LedgerEntryPage"))
        .required("history")
        .into();

    document(
        "VIP customer service",
        paths,
        vec![
            schema_of::<TierName>(),
            schema_of::<Benefits>(),
            schema_of::<Tier>(),
            schema_of::<TierList>(),
            schema_of::<NextTier>(),
            ("VipCustomer".to_string(), vip_customer_schema()),
            schema_of::<EntryKind>(),
            schema_of::<LedgerEntry>(),
            ("RedeemInput".to_string(), change_input(None, integer(1, MAX_POINTS).into())),
            ("StaffPointsInput".to_string(), staff_points_input()),
            schema_of::<PointsResult>(),
            ("VipPoints".to_string(), vip_points),
            ("LedgerEntryPage".to_string(), shared::openapi::page_schema("LedgerEntry")),
            ("VipCustomerPage".to_string(), shared::openapi::page_schema("VipCustomer")),
        ],
    )
}

/// The record as the API shows it: the customer router adds the email and name
/// of the member's account, which the VIP service does not keep.
fn vip_customer_schema() -> RefOr<Schema> {
    let mut schema = VipCustomer::schema();
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        let from_account = |what: &str| -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(nullable(Type::String))
                .description(Some(format!(
                    "The {what} of the member's account, as it is now; null if the account is gone"
                )))
                .into()
        };
        object.properties.insert("email".into(), from_account("email"));
        object.properties.insert("name".into(), from_account("name"));
        object.required.extend(["email".to_string(), "name".to_string()]);
    }
    schema
}

/// A points change as `domain::Change::new` checks it; `kind` is none for a
/// redeem, whose kind the route gives.
fn change_input(kind: Option<&str>, points: RefOr<Schema>) -> RefOr<Schema> {
    let text = |max: usize| string(1, max, Some(PLAIN_TEXT_PATTERN));
    let mut object = closed(ObjectBuilder::new());
    if let Some(kind) = kind {
        object = object.property("kind", one_of_strings([kind])).required("kind");
    }
    object
        .property("points", points)
        .required("points")
        .property("reason", text(MAX_REASON_CHARS))
        .required("reason")
        .property(
            "idempotency_key",
            text(MAX_KEY_CHARS).description(Some("A retry with the same key and body returns the first entry")),
        )
        .required("idempotency_key")
        .into()
}

/// Staff earn 1 to 1,000,000 points, or adjust by any non-zero amount up to that.
fn staff_points_input() -> RefOr<Schema> {
    let adjustment = AnyOfBuilder::new().item(integer(-MAX_POINTS, -1)).item(integer(1, MAX_POINTS));
    OneOfBuilder::new()
        .item(change_input(Some("earn"), integer(1, MAX_POINTS).into()))
        .item(change_input(Some("adjust"), adjustment.into()))
        .into()
}
