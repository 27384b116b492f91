//! The cart's public routes in the API document. `/internal/cart/...` is left
//! out: API Gateway never routes it.

use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, PathItem};
use utoipa::openapi::{OpenApi, PathsBuilder};
use utoipa::{PartialSchema, ToSchema};

use shared::openapi::{
    document, empty_response, header_param, json_body, json_response, path_param, problem_response, schema_ref,
    secured, with_common_errors,
};

use crate::identity::{Owner, OwnerKind};
use crate::routes::{AddItem, CartLineView, CartView, SetQuantity, Unavailable};

fn guest_token() -> Parameter {
    header_param(
        "X-Guest-Token",
        "A guest session token (`<guest id>.<secret>`), for callers without a customer token. \
             With both, the customer token wins.",
        false,
    )
}

fn op(id: &str, summary: &str) -> OperationBuilder {
    with_common_errors(secured(OperationBuilder::new().tag("cart").operation_id(Some(id)).summary(Some(summary))))
        .parameter(guest_token())
        .response("401", problem_response("Neither a valid customer token nor a valid guest token"))
}

fn cart(description: &str) -> utoipa::openapi::Response {
    json_response(description, schema_ref("CartView"))
}

pub fn openapi() -> OpenApi {
    let invalid = || {
        problem_response("Invalid fields, listed per field; or an item that is unknown, unpriced or of another type")
    };
    let paths = PathsBuilder::new()
        .path(
            "/api/cart/",
            PathItem::new(
                HttpMethod::Get,
                op("get_cart", "Your cart, priced now; lines whose item cannot be priced are marked unavailable")
                    .response("200", cart("Your cart (empty, with a null id, before anything is added)")),
            ),
        )
        .path(
            "/api/cart/",
            PathItem::new(
                HttpMethod::Delete,
                op("clear_cart", "Empty your cart").response("204", empty_response("Emptied")),
            ),
        )
        .path(
            "/api/cart/items",
            PathItem::new(
                HttpMethod::Post,
                op("add_to_cart", "Add an item; adding one already there adds to its quantity and refreshes its price")
                    .request_body(Some(json_body(
                        schema_ref("AddItem"),
                        Some(json!({ "item_type": "book", "item_id": "book_01JDQ0000000000000000000000", "quantity": 1 })),
                    )))
                    .response("201", cart("Your cart with the item"))
                    .response("409", problem_response("Not enough stock, too many lines, or another currency"))
                    .response("415", problem_response("The body is not JSON"))
                    .response("422", invalid()),
            ),
        )
        .path(
            "/api/cart/items/{item_id}",
            PathItem::new(
                HttpMethod::Patch,
                op("set_cart_quantity", "Change a line's quantity (the stock is checked again)")
                    .parameter(path_param("item_id", "Item id"))
                    .request_body(Some(json_body(schema_ref("SetQuantity"), Some(json!({ "quantity": 2 })))))
                    .response("200", cart("Your cart"))
                    .response("404", problem_response("The item is not in your cart"))
                    .response("409", problem_response("Not enough stock"))
                    .response("422", invalid()),
            ),
        )
        .path(
            "/api/cart/items/{item_id}",
            PathItem::new(
                HttpMethod::Delete,
                op("remove_from_cart", "Remove a line")
                    .parameter(path_param("item_id", "Item id"))
                    .response("200", cart("Your cart"))
                    .response("404", problem_response("The item is not in your cart")),
            ),
        )
        .build();
    document(
        "Cart service",
        paths,
        vec![
            (CartView::name().to_string(), CartView::schema()),
            (CartLineView::name().to_string(), CartLineView::schema()),
            (Unavailable::name().to_string(), Unavailable::schema()),
            (Owner::name().to_string(), Owner::schema()),
            (OwnerKind::name().to_string(), OwnerKind::schema()),
            (AddItem::name().to_string(), AddItem::schema()),
            (SetQuantity::name().to_string(), SetQuantity::schema()),
        ],
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn documents_every_public_route_and_no_internal_one() {
        let doc = super::openapi();
        let json = serde_json::to_value(&doc).unwrap();
        let paths = json["paths"].as_object().unwrap();
        assert!(paths.keys().all(|p| p.starts_with("/api/cart")), "{:?}", paths.keys());
        assert!(paths["/api/cart/"].get("get").is_some() && paths["/api/cart/"].get("delete").is_some());
        assert!(paths["/api/cart/items/{item_id}"].get("patch").is_some());
        assert!(paths["/api/cart/items/{item_id}"].get("delete").is_some());
        assert!(json["components"]["schemas"].get("CartView").is_some());
    }
}
