//! The order service's public routes in the API document. `/internal/orders/...`
//! is left out: API Gateway never routes it.

use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{OpenApi, PathsBuilder, RefOr, Required};

use shared::openapi::{
    PLAIN_TEXT_PATTERN, closed, document, integer, json_body, json_response, nullable, one_of_strings, page_schema,
    paged, path_param, problem_response, query_param, schema_of, schema_ref, secured, string, with_common_errors,
};

use crate::model::{
    COUNTRIES, CheckoutBody, DeliveryOption, DeliveryOptionView, DeliveryOptions, MAX_REDEEM_POINTS, OrderLine,
    OrderRecord, OrderStatus, ShippingAddress,
};

const TAG: &str = "orders";

/// The `Idempotency-Key` header: 1 to 100 visible ASCII characters.
pub fn idempotency_key_schema() -> RefOr<Schema> {
    string(1, 100, Some("^[!-~]+$")).into()
}

fn idempotency_key() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::True)
        .description(Some(
            "1 to 100 visible ASCII characters, new for each checkout. Repeating a checkout with the same key and \
             body answers the first answer again (header `Idempotent-Replayed: true`) and places no second order.",
        ))
        .schema(Some(idempotency_key_schema()))
        .build()
}

/// A shipping address as `model::address` checks it.
fn address_input() -> RefOr<Schema> {
    let text = |max: usize| string(1, max, Some(PLAIN_TEXT_PATTERN));
    // Blank optional text is as good as leaving it out.
    let optional = |max: usize, pattern: &str| {
        ObjectBuilder::new().schema_type(nullable(Type::String)).max_length(Some(max)).pattern(Some(pattern))
    };
    closed(ObjectBuilder::new())
        .property("name", text(100))
        .required("name")
        .property("line1", text(200))
        .required("line1")
        .property("line2", optional(200, r"^[^\x00-\x1F\x7F-\x9F]*$"))
        .property("city", text(100))
        .required("city")
        .property("postal_code", string(1, 16, Some("^[A-Za-z0-9 -]*[A-Za-z0-9-][A-Za-z0-9 -]*$")))
        .required("postal_code")
        .property(
            "country",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(COUNTRIES.split_whitespace()))
                .description(Some("ISO 3166-1 alpha-2")),
        )
        .required("country")
        .property(
            "phone",
            optional(30, r"^(?: *|[ +\-().]*(?:[0-9][ +\-().]*){5,})$")
                .description(Some("At least 5 digits; digits, spaces and + - ( ) .")),
        )
        .into()
}

/// A checkout: pickup without an address, the others with one.
fn checkout_input() -> RefOr<Schema> {
    let points = || {
        integer(0, MAX_REDEEM_POINTS)
            .schema_type(nullable(Type::Integer))
            .description(Some("VIP customers only: at most the balance and the amount due"))
    };
    let pickup = closed(ObjectBuilder::new())
        .property("delivery_option", one_of_strings(["pickup"]))
        .required("delivery_option")
        .property("shipping_address", ObjectBuilder::new().schema_type(Type::Null))
        .property("redeem_points", points());
    let delivered = closed(ObjectBuilder::new())
        .property("delivery_option", one_of_strings(["standard", "express"]))
        .required("delivery_option")
        .property("shipping_address", schema_ref("ShippingAddressInput"))
        .required("shipping_address")
        .property("redeem_points", points());
    OneOfBuilder::new().item(pickup).item(delivered).into()
}

/// An operation for customers: a registered or VIP token (or staff).
fn customer_op(id: &str, summary: &str) -> OperationBuilder {
    with_common_errors(secured(OperationBuilder::new().tag(TAG).operation_id(Some(id)).summary(Some(summary))))
        .response("401", problem_response("No valid registered or VIP customer token: sign up or log in"))
}

fn order(description: &str) -> utoipa::openapi::Response {
    json_response(description, schema_ref("OrderRecord"))
}

pub fn openapi() -> OpenApi {
    let not_yours = || problem_response("No such order, or not yours");
    let peer_nonsense = || problem_response("Another service answered something this service cannot use");
    let list = paged(
        customer_op(
            "list_orders",
            "Your orders, newest first (staff: everyone's); a page in the Django REST framework shape",
        )
        .parameter(query_param("status", "Only orders in this status", schema_ref("OrderStatus")))
        .parameter(query_param(
            "customer_id",
            "Staff only (403 for others): one customer's orders",
            string(0, 100, None).into(),
        )),
    )
    .response("200", json_response("One page of orders", page_schema("OrderRecord")))
    .response("403", problem_response("`customer_id` from someone who is not staff"));

    let checkout = customer_op(
        "checkout",
        "Turn your cart into an order: prices it now, reserves the stock, redeems VIP points and empties the cart",
    )
    .parameter(idempotency_key())
    .request_body(Some(json_body(
        schema_ref("CheckoutInput"),
        Some(json!({
            "delivery_option": "standard",
            "shipping_address": {
                "name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London",
                "postal_code": "SW1Y 4JH", "country": "GB", "phone": "+44 20 7946 0000"
            },
            "redeem_points": 0
        })),
    )))
    .response(
        "201",
        order(
            "The order, awaiting payment until `expires_at` (`UNPAID_ORDER_EXPIRY_MINS`, 30, after checkout), \
             after which it expires and its stock and points go back (also the answer replayed for the same key \
             and body)",
        ),
    )
    .response(
        "409",
        problem_response(
            "The cart is empty; this cart (its current version) was already checked out, or is being, under another \
             key; the customer has `MAX_UNPAID_ORDERS` (3) orders waiting for payment; an item is gone, unpriced, in \
             another currency or out of stock; the points could not be redeemed; or the key is in use by a \
             checkout in progress or was used for another body",
        ),
    )
    .response("413", problem_response("Body too large"))
    .response("415", problem_response("The body is not JSON"))
    .response(
        "422",
        problem_response(
            "Invalid fields, listed per field (`shipping_address.country`); points from a customer who is not VIP; \
             or more points than the balance or the amount due",
        ),
    )
    .response("502", peer_nonsense());

    let options = OperationBuilder::new()
        .tag(TAG)
        .operation_id(Some("list_delivery_options"))
        .summary(Some("The delivery options with their fees (minor units of the order's currency) and days"))
        .response("200", json_response("The options", schema_ref("DeliveryOptions")));

    let detail = customer_op("get_order", "One of your orders (staff: any order)")
        .parameter(path_param("id", "Order id"))
        .response("200", order("The order"))
        .response("404", not_yours());

    let cancel = customer_op(
        "cancel_order",
        "Cancel an order awaiting payment or paid: its shipment is stopped, the stock is released, redeemed points \
         come back and the payment is voided or refunded (a payment in progress is waited for). Repeating it \
         answers 200 and finishes anything a 503 left undone",
    )
    .parameter(path_param("id", "Order id"))
    .response("200", order("The cancelled order"))
    .response("404", not_yours())
    .response("409", problem_response("The order is shipped, delivered, refunded, or expired unpaid"))
    .response("502", peer_nonsense());

    let refund =
        with_common_errors(secured(OperationBuilder::new().tag(TAG).operation_id(Some("refund_order")).summary(Some(
            "Staff: refund a shipped or delivered order: its shipment is stopped, the payment is refunded (all \
                 a partial refund left), redeemed points come back and the points its delivery earned are taken \
                 back. The stock is not restocked automatically. Repeating it answers 200",
        ))))
        .parameter(path_param("id", "Order id"))
        .response("200", order("The refunded order"))
        .response("401", problem_response("No valid token"))
        .response("403", problem_response("Not staff"))
        .response("404", problem_response("No such order"))
        .response("409", problem_response("The order is not shipped or delivered"))
        .response("502", peer_nonsense());

    let paths = PathsBuilder::new()
        .path("/api/orders/", PathItem::new(HttpMethod::Get, list))
        .path("/api/orders/", PathItem::new(HttpMethod::Post, checkout))
        .path("/api/orders/delivery-options", PathItem::new(HttpMethod::Get, options))
        .path("/api/orders/{id}", PathItem::new(HttpMethod::Get, detail))
        .path("/api/orders/{id}/cancel", PathItem::new(HttpMethod::Post, cancel))
        .path("/api/orders/{id}/refund", PathItem::new(HttpMethod::Post, refund))
        .build();
    document(
        "Order service",
        paths,
        vec![
            schema_of::<OrderRecord>(),
            schema_of::<OrderLine>(),
            schema_of::<OrderStatus>(),
            schema_of::<DeliveryOption>(),
            schema_of::<ShippingAddress>(),
            schema_of::<CheckoutBody>(),
            ("CheckoutInput".into(), checkout_input()),
            ("ShippingAddressInput".into(), address_input()),
            schema_of::<DeliveryOptions>(),
            schema_of::<DeliveryOptionView>(),
        ],
    )
}

#[cfg(test)]
mod tests {

    #[test]
    fn documents_every_public_route_and_resolves_every_reference() {
        let doc = serde_json::to_value(super::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.keys().all(|p| p.starts_with("/api/orders")), "{:?}", paths.keys());
        for (path, method) in [
            ("/api/orders/", "get"),
            ("/api/orders/", "post"),
            ("/api/orders/delivery-options", "get"),
            ("/api/orders/{id}", "get"),
            ("/api/orders/{id}/cancel", "post"),
            ("/api/orders/{id}/refund", "post"),
        ] {
            assert!(paths[path].get(method).is_some(), "{method} {path}");
        }
        let checkout = &paths["/api/orders/"]["post"];
        assert!(checkout["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "Idempotency-Key"));
        for status in ["201", "400", "401", "409", "422", "503"] {
            assert!(checkout["responses"].get(status).is_some(), "checkout {status}");
        }

        let found = shared::testing::schema_refs(&doc);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for r in found {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(schemas.contains_key(name), "{r} does not resolve");
        }
    }
}
