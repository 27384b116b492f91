//! The paying service's public routes in the API document. `/internal/payments/...`
//! is left out: API Gateway never routes it.

use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{OpenApi, PathsBuilder, RefOr, Required, Schema};

use shared::openapi::{
    EMAIL_PATTERN, PLAIN_TEXT_PATTERN, closed, document, integer, json_body, json_response, nullable, one_of_strings,
    page_schema, paged, path_param, problem_response, query_param, schema_of, schema_ref, secured, string,
    with_common_errors,
};

use crate::domain::{
    CardSummary, MAX_EMAIL_CHARS, MAX_EXPIRY_YEARS, MAX_HOLDER_CHARS, MAX_KEY_CHARS, MAX_REASON_CHARS, Method,
    PaymentState, PaymentView, RefundKind, RefundRequest, RefundStatus, RefundView, current_year_month,
};
use crate::processor::TEST_CARDS;

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
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::True)
        .description(Some(format!(
            "Required (400 without it): 1 to 100 visible ASCII characters, unique per {what}. The same key with \
             the same body answers the first answer again (status and body); with another body, 409."
        )))
        .schema(Some(string(1, MAX_KEY_CHARS, Some("^[!-~]+$"))))
        .build()
}

/// What `PaymentRequest::parse` accepts: the method's own part and no other.
/// The card number's Luhn check digit and the expiry against today's month are
/// checked too; JSON Schema can say the first only as a pattern.
fn create_payment_input() -> RefOr<Schema> {
    let order_id = || string(1, 100, Some(ORDER_ID_PATTERN)).description(Some("The order's id (`order_<ULID>`)"));
    let absent = || ObjectBuilder::new().schema_type(Type::Null);
    let payment = |method: &str| {
        closed(ObjectBuilder::new())
            .property("order_id", order_id())
            .required("order_id")
            .property("method", one_of_strings([method]))
            .required("method")
            .property("card", absent())
            .property("wallet", absent())
    };
    OneOfBuilder::new()
        .item(payment("card").property("card", schema_ref("CardInput")).required("card"))
        .item(payment("wallet").property("wallet", schema_ref("WalletInput")).required("wallet"))
        .item(payment("cash_on_delivery"))
        .item(payment("points"))
        .into()
}

/// A card that has not expired today: this year from this month on, or a later year.
fn card_input() -> RefOr<Schema> {
    let (year, month) = current_year_month();
    let card = |years: ObjectBuilder, months: ObjectBuilder| {
        closed(ObjectBuilder::new())
            .property(
                "number",
                string(12, 40, Some(r"^[ -]*(?:[0-9][ -]*){12,19}$"))
                    .description(Some("12 to 19 digits with a valid check digit; spaces and dashes allowed")),
            )
            .required("number")
            .property("exp_month", months)
            .required("exp_month")
            .property("exp_year", years)
            .required("exp_year")
            .property("cvc", string(3, 4, Some("^[0-9]{3,4}$")))
            .required("cvc")
            .property(
                "holder",
                ObjectBuilder::new()
                    .schema_type(nullable(Type::String))
                    .max_length(Some(MAX_HOLDER_CHARS))
                    .pattern(Some(r"^[^\x00-\x1F\x7F-\x9F]*$")),
            )
    };
    let whole = |min: i64, max: i64| integer(min, max);
    OneOfBuilder::new()
        .item(card(whole(year.into(), year.into()), whole(month.into(), 12)))
        .item(card(whole(i64::from(year) + 1, i64::from(year + MAX_EXPIRY_YEARS)), whole(1, 12)))
        .into()
}

/// An order id: `order_` and a ULID.
const ORDER_ID_PATTERN: &str = "^order_[0-7][0-9A-HJKMNP-TV-Z]{25}$";

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
                    .response("413", problem_response("Body too large"))
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
                paged(op("list_payments", "Your payments (staff: everyone's), newest first"))
                    .parameter(query_param("order_id", "Only this order's payments", string(0, 100, None).into()))
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
                    .response(
                        "409",
                        problem_response(
                            "The payment is not an authorized card payment, or another request is changing it",
                        ),
                    )
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
                         authorized card (or pending cash on delivery) is voided, in full only. While the order \
                         is open (not cancelled, expired or refunded), giving back all that is left (a void, or a \
                         refund of the rest) is refused: cancel or refund the order instead, which also stops \
                         its shipment and gives back its stock or points.",
                    ))
                    .parameter(path_param("id", "Payment id"))
                    .parameter(idempotency_key("refund"))
                    .request_body(Some(json_body(
                        schema_ref("RefundInput"),
                        Some(json!({ "amount": 500, "reason": "one item arrived damaged" })),
                    )))
                    .response("201", payment("The payment, listing the refund"))
                    .response("403", problem_response("Not staff"))
                    .response("404", problem_response("No such payment"))
                    .response(
                        "409",
                        problem_response(
                            "Nothing to refund (declined, failed, voided, refunded); all that is left of an \
                             open order's payment (cancel or refund the order); key reused; or another request is \
                             changing the payment",
                        ),
                    )
                    .response("413", problem_response("Body too large"))
                    .response("415", problem_response("The body is not JSON"))
                    .response(
                        "422",
                        problem_response("Invalid fields; or more than is left to refund, or a partial void"),
                    )
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
            ("CreatePayment".into(), create_payment_input()),
            ("CardInput".into(), card_input()),
            (
                "WalletInput".into(),
                closed(ObjectBuilder::new())
                    .property("email", string(3, MAX_EMAIL_CHARS, Some(EMAIL_PATTERN)))
                    .required("email")
                    .into(),
            ),
            schema_of::<RefundRequest>(),
            (
                "RefundInput".into(),
                closed(ObjectBuilder::new())
                    .property(
                        "amount",
                        ObjectBuilder::new()
                            .schema_type(nullable(Type::Integer))
                            .minimum(Some(1))
                            .description(Some("Minor units; the rest of the captured amount when left out")),
                    )
                    .property("reason", string(1, MAX_REASON_CHARS, Some(PLAIN_TEXT_PATTERN)))
                    .required("reason")
                    .into(),
            ),
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
