//! The cart's public routes in the API document. `/internal/cart/...` is left
//! out: API Gateway never routes it.

use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{OpenApi, PathsBuilder};
use utoipa::{PartialSchema, ToSchema};

use shared::openapi::{
    GUEST_TOKEN, closed, document, empty_response, integer, json_body, json_response, path_param, problem_response,
    schema_ref, secured, string, with_common_errors,
};

use crate::identity::{Owner, OwnerKind};
use crate::routes::{AddItem, CartLineView, CartView, SetQuantity, Unavailable};

/// A customer's bearer token or a guest's session token (with both, the
/// customer token wins).
fn op(id: &str, summary: &str) -> OperationBuilder {
    with_common_errors(
        secured(OperationBuilder::new().tag("cart").operation_id(Some(id)).summary(Some(summary)))
            .security(SecurityRequirement::new(GUEST_TOKEN, Vec::<String>::new())),
    )
    .response(
        "401",
        problem_response(
            "Neither a valid customer token nor a valid guest token; for a change, also a customer token whose \
             account is closed, never existed, or changed its password since",
        ),
    )
}

/// Operations that read a JSON body.
fn with_body(operation: OperationBuilder) -> OperationBuilder {
    operation.response("413", problem_response("Body too large")).response("415", problem_response("Body is not JSON"))
}

/// `MAX_LINE_QUANTITY`'s default: the most of one item a line holds.
const MAX_LINE_QUANTITY: i64 = 99;

fn quantity(description: &str) -> ObjectBuilder {
    integer(1, MAX_LINE_QUANTITY).description(Some(description))
}

fn cart(description: &str) -> utoipa::openapi::Response {
    json_response(description, schema_ref("CartView"))
}

pub fn openapi() -> OpenApi {
    let invalid = || {
        problem_response(
            "Invalid fields, listed per field; an item that is unknown, unpriced or of another type; \
             or a line that would go over the most of one item",
        )
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
                with_body(op(
                    "add_to_cart",
                    "Add an item; adding one already there adds to its quantity and refreshes its price",
                ))
                .request_body(Some(json_body(
                    schema_ref("AddItemInput"),
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
                with_body(op("set_cart_quantity", "Change a line's quantity (the stock is checked again)"))
                    .parameter(path_param("item_id", "Item id"))
                    .request_body(Some(json_body(schema_ref("SetQuantityInput"), Some(json!({ "quantity": 2 })))))
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
            (
                "AddItemInput".into(),
                closed(ObjectBuilder::new())
                    .property(
                        "item_type",
                        string(1, 40, Some("^[a-z-]+$")).description(Some("`book`, `laptop`, `mobile` or `clothes`")),
                    )
                    .required("item_type")
                    .property("item_id", string(1, 100, Some("^[A-Za-z0-9_-]+$")))
                    .required("item_id")
                    .property("quantity", quantity("Added to what the line holds already"))
                    .required("quantity")
                    .into(),
            ),
            (
                "SetQuantityInput".into(),
                closed(ObjectBuilder::new())
                    .property("quantity", quantity("The line's new quantity"))
                    .required("quantity")
                    .into(),
            ),
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
