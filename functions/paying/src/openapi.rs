//! The paying service's public routes in the API document. `/internal/payments/...`
//! is left out: API Gateway never routes it.

use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, PathItem};
use utoipa::openapi::{OpenApi, PathsBuilder};
use utoipa::{PartialSchema, ToSchema};

use shared::openapi::{
    document, header_param, json_body, json_response, page_schema, path_param, problem_response, query_param,
    schema_of, schema_ref, secured, with_common_errors,
};

use crate::domain::{
    CardSummary, Method, PaymentState, PaymentView, RefundKind, RefundRequest, RefundStatus, RefundView,
};
use crate::processor::TEST_CARDS;

// Documentation only: the handlers read these bodies field by field, so that no
// validation message can ever quote a card number.
#[allow(dead_code)]
#[derive(ToSchema)]
/// A payment for one order; `card` with method `card`, `wallet` with method `wallet`.
struct CreatePayment {
    /// The order to pay (`order_...`); the amount and currency are the order's.
    order_id: String,
    method: Method,
    card: Option<CardInput>,
    wallet: Option<WalletInput>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
/// A card. Only its brand and last four digits are kept.
struct CardInput {
    /// 12 to 19 digits passing the Luhn check; spaces and dashes are ignored.
    #[schema(example = "4242 4242 4242 4242")]
    number: String,
    /// 1 to 12.
    exp_month: u32,
    /// Four digits, not in the past and at most 20 years ahead.
    exp_year: i32,
    /// 3 or 4 digits, as a string.
    #[schema(example = "123")]
    cvc: String,
    holder: Option<String>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
/// A PayPal-style wallet, charged at once.
struct WalletInput {
    #[schema(example = "buyer@example.com")]
    email: String,
}

#[allow(dead_code)]
#[derive(ToSchema)]
/// A declined payment: a problem with the payment's id and the decline code.
struct DeclineProblem {
    #[schema(example = "about:blank")]
    r#type: String,
    #[schema(example = "Payment Required")]
    title: String,
    #[schema(example = 402)]
    status: u16,
    detail: String,
    /// The declined payment, kept in state `declined`.
    payment_id: String,
    /// `card_declined`, `insufficient_funds`, `card_not_supported`, `wallet_declined`,
    /// `insufficient_points` or `points_unavailable`.
    decline_code: String,
}

fn idempotency_key(what: &str) -> Parameter {
    header_param(
        "Idempotency-Key",
        format!(
            "Required (400 without it): 1 to 100 visible ASCII characters, unique per {what}. The same key with \
             the same body answers the first answer again (status and body); with another body, 409."
        ),
        true,
    )
}

fn op(id: &str, summary: &str) -> OperationBuilder {
    with_common_errors(secured(OperationBuilder::new().tag("payments").operation_id(Some(id)).summary(Some(summary))))
        .response("401", problem_response("No valid token"))
}

fn payment(description: &str) -> utoipa::openapi::Response {
    json_response(description, schema_ref("PaymentView"))
}

pub fn openapi() -> OpenApi {
    let create_description = format!(
        "Pays an order (yours; staff may pay any order except with points) with its total in its currency. A \
         card is authorized, and captured when the order ships (or at once with CAPTURE_IMMEDIATELY); a wallet \
         and points are captured at once; cash on delivery stays `pending` until delivery. Once the payment holds \
         the money, the order is marked paid. Transient processor failures are retried three times with the same \
         processor idempotency key; if all fail the answer is 503 with Retry-After and the payment is `failed`: \
         retry with the same Idempotency-Key. {TEST_CARDS}"
    );
    let paths = PathsBuilder::new()
        .path(
            "/api/payments/",
            PathItem::new(
                HttpMethod::Post,
                op("create_payment", "Pay an order")
                    .description(Some(create_description))
                    .parameter(idempotency_key("payment attempt"))
                    .request_body(Some(json_body(
                        schema_ref("CreatePayment"),
                        Some(json!({
                            "order_id": "order_01JDQ000000000000000000000",
                            "method": "card",
                            "card": { "number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030,
                                      "cvc": "123", "holder": "Ada Lovelace" }
                        })),
                    )))
                    .response("201", payment("The payment (`authorized`, `captured` or `pending`); the order is paid"))
                    .response(
                        "402",
                        json_response(
                            "Declined; the payment is stored as `declined` and a new key may try again",
                            schema_ref("DeclineProblem"),
                        ),
                    )
                    .response("404", problem_response("No such order of yours"))
                    .response(
                        "409",
                        problem_response(
                            "The order is not pending payment or is already paid; the key was used for another \
                             body; or a request with the key is still in progress",
                        ),
                    )
                    .response("415", problem_response("The body is not JSON"))
                    .response(
                        "422",
                        problem_response(
                            "Invalid fields, listed per field (`card.number`, `card.exp_year`, `card.cvc`, ...); \
                             points by anyone but the ordering VIP customer",
                        ),
                    )
                    .response("502", problem_response("The order service answered something unusable")),
            ),
        )
        .path(
            "/api/payments/",
            PathItem::new(
                HttpMethod::Get,
                op("list_payments", "Your payments (staff: everyone's), newest first")
                    .parameter(query_param("order_id", "Only this order's payments", String::schema()))
                    .parameter(query_param("page", "Page number, from 1", u64::schema()))
                    .parameter(query_param("page_size", "1 to 100 (default 20)", u64::schema()))
                    .response("200", json_response("A page of payments", page_schema("PaymentView"))),
            ),
        )
        .path(
            "/api/payments/{id}",
            PathItem::new(
                HttpMethod::Get,
                op("get_payment", "A payment of yours (staff: any)")
                    .parameter(path_param("id", "Payment id"))
                    .response("200", payment("The payment with its refunds"))
                    .response("404", problem_response("No such payment of yours")),
            ),
        )
        .path(
            "/api/payments/{id}/capture",
            PathItem::new(
                HttpMethod::Post,
                op("capture_payment", "Capture an authorized card payment (staff)")
                    .parameter(path_param("id", "Payment id"))
                    .response("200", payment("Captured (or already captured)"))
                    .response("403", problem_response("Not staff"))
                    .response("404", problem_response("No such payment"))
                    .response("409", problem_response("The payment is not an authorized card payment"))
                    .response("502", problem_response("The processor refused the capture")),
            ),
        )
        .path(
            "/api/payments/{id}/refunds",
            PathItem::new(
                HttpMethod::Post,
                op("refund_payment", "Refund a captured payment, or void an authorized one (staff)")
                    .description(Some(
                        "A captured payment is refunded by `amount` (default: all not yet refunded) and becomes \
                         `partially_refunded` or `refunded`; points go back to the customer's balance. An \
                         authorized card (or pending cash on delivery) is voided, in full only.",
                    ))
                    .parameter(path_param("id", "Payment id"))
                    .parameter(idempotency_key("refund"))
                    .request_body(Some(json_body(
                        schema_ref("RefundRequest"),
                        Some(json!({ "amount": 500, "reason": "one item arrived damaged" })),
                    )))
                    .response("201", payment("The payment, listing the refund"))
                    .response("403", problem_response("Not staff"))
                    .response("404", problem_response("No such payment"))
                    .response(
                        "409",
                        problem_response("Nothing to refund (declined, failed, voided, refunded); key reused"),
                    )
                    .response("422", problem_response("More than is left to refund, or a partial void"))
                    .response("502", problem_response("The processor or VIP service refused the refund")),
            ),
        )
        .build();
    document(
        "Paying service",
        paths,
        vec![
            schema_of::<PaymentView>(),
            schema_of::<RefundView>(),
            schema_of::<CardSummary>(),
            schema_of::<Method>(),
            schema_of::<PaymentState>(),
            schema_of::<RefundKind>(),
            schema_of::<RefundStatus>(),
            schema_of::<CreatePayment>(),
            schema_of::<CardInput>(),
            schema_of::<WalletInput>(),
            schema_of::<RefundRequest>(),
            schema_of::<DeclineProblem>(),
        ],
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn documents_every_public_route_and_no_internal_one() {
        let json = serde_json::to_value(super::openapi()).unwrap();
        let paths = json["paths"].as_object().unwrap();
        assert!(paths.keys().all(|p| p.starts_with("/api/payments")), "{:?}", paths.keys());
        let payments = &paths["/api/payments/"];
        assert!(payments.get("get").is_some() && payments.get("post").is_some());
        assert!(paths["/api/payments/{id}"].get("get").is_some());
        assert!(paths["/api/payments/{id}/capture"].get("post").is_some());
        assert!(paths["/api/payments/{id}/refunds"].get("post").is_some());
        let create = &payments["post"];
        assert!(create["description"].as_str().unwrap().contains("4000 0000 0000 0259"));
        assert!(create["responses"].get("402").is_some());
        let header = &create["parameters"][0];
        assert_eq!((header["name"].as_str(), header["required"].as_bool()), (Some("Idempotency-Key"), Some(true)));
        for schema in ["PaymentView", "CreatePayment", "CardInput", "RefundRequest", "DeclineProblem"] {
            assert!(json["components"]["schemas"].get(schema).is_some(), "{schema}");
        }
    }
}
