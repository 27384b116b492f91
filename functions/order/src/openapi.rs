//! The order service's public routes in the API document. `/internal/orders/...`
//! is left out: API Gateway never routes it.

use serde_json::json;
use utoipa::PartialSchema;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{OpenApi, PathsBuilder, RefOr};

use shared::openapi::{
    document, header_param, json_body, json_response, page_schema, path_param, problem_response, query_param,
    schema_of, schema_ref, secured, with_common_errors,
};

use crate::model::{
    CheckoutBody, DeliveryOption, DeliveryOptionView, DeliveryOptions, OrderLine, OrderRecord, OrderStatus,
    ShippingAddress,
};

const TAG: &str = "orders";

fn integer(min: i64, max: i64) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min as f64)).maximum(Some(max as f64)).into()
}

fn idempotency_key() -> Parameter {
    header_param(
        "Idempotency-Key",
        "1 to 100 visible ASCII characters, new for each checkout. Repeating a checkout with the same key and \
             body answers the first answer again (header `Idempotent-Replayed: true`) and places no second order.",
        true,
    )
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
    let mut list = customer_op(
        "list_orders",
        "Your orders, newest first (staff: everyone's); a page in the Django REST framework shape",
    )
    .parameter(query_param("status", "Only orders in this status", schema_ref("OrderStatus")))
    .parameter(query_param("customer_id", "Staff only: one customer's orders", String::schema()));
    for (name, description, schema) in [
        ("page", "Page number, from 1", integer(1, 1_000_000)),
        ("page_size", "Orders per page, 1 to 100 (default 20)", integer(1, 100)),
        ("offset", "Start of a window (instead of page)", integer(0, 1000)),
        ("limit", "Size of a window; offset + limit ≤ 1000", integer(0, 1000)),
    ] {
        list = list.parameter(query_param(name, description, schema));
    }
    let list = list.response("200", json_response("One page of orders", page_schema("OrderRecord")));

    let checkout = customer_op(
        "checkout",
        "Turn your cart into an order: prices it now, reserves the stock, redeems VIP points and empties the cart",
    )
    .parameter(idempotency_key())
    .request_body(Some(json_body(
        schema_ref("CheckoutBody"),
        Some(json!({
            "delivery_option": "standard",
            "shipping_address": {
                "name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London",
                "postal_code": "SW1Y 4JH", "country": "GB", "phone": "+44 20 7946 0000"
            },
            "redeem_points": 0
        })),
    )))
    .response("201", order("The order, awaiting payment (also the answer replayed for the same key and body)"))
    .response(
        "409",
        problem_response(
            "The cart is empty; an item is gone, unpriced, in another currency or out of stock; the points could not \
             be redeemed; or the key is in use by a checkout in progress or was used for another body",
        ),
    )
    .response("415", problem_response("The body is not JSON"))
    .response(
        "422",
        problem_response(
            "Invalid fields, listed per field (`shipping_address.country`); or more points than the balance or the \
             amount due",
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
        "Cancel an order awaiting payment or paid: the stock is released, redeemed points come back and the \
         payment is voided or refunded. Repeating it answers 200 and finishes anything left undone",
    )
    .parameter(path_param("id", "Order id"))
    .response("200", order("The cancelled order"))
    .response("404", not_yours())
    .response("409", problem_response("The order is shipped, delivered or refunded"))
    .response("502", peer_nonsense());

    let refund =
        with_common_errors(secured(OperationBuilder::new().tag(TAG).operation_id(Some("refund_order")).summary(Some(
            "Staff: refund a shipped or delivered order: the payment is refunded and redeemed points come \
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
            schema_of::<DeliveryOptions>(),
            schema_of::<DeliveryOptionView>(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

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

        fn refs(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r.clone());
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        refs(&doc, &mut found);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for r in found {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(schemas.contains_key(name), "{r} does not resolve");
        }
    }
}
