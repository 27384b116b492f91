//! The shipping service's public routes in the API document.
//! `/internal/shipments` is left out: API Gateway never routes it.

use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{OpenApi, PathsBuilder, RefOr, Schema};

use shared::openapi::{
    PLAIN_TEXT_PATTERN, TEXT_PATTERN, closed, document, json_body, json_response, nullable, page_schema, paged,
    path_param, problem_response, query_param, schema_of, schema_ref, secured, string, with_common_errors,
};

use crate::domain::{DeliveryOption, EventInput, MAX_KEY_CHARS, MAX_LOCATION_CHARS, MAX_NOTE_CHARS, Status};
use crate::routes::{Shipment, ShipmentEvent, Tracking};

fn op(id: &str, summary: &str) -> OperationBuilder {
    with_common_errors(OperationBuilder::new().tag("shipping").operation_id(Some(id)).summary(Some(summary)))
}

fn signed_in(id: &str, summary: &str) -> OperationBuilder {
    secured(op(id, summary)).response("401", problem_response("No token, or a token that is not valid"))
}

/// What `EventInput::validate` accepts: texts are trimmed, may not be blank, and
/// hold no control characters (a note may hold tabs and line breaks).
fn event_input() -> RefOr<Schema> {
    let text = |max: usize, pattern: &str| string(1, max, Some(pattern)).schema_type(nullable(Type::String));
    closed(ObjectBuilder::new())
        .property("status", schema_ref("Status"))
        .required("status")
        .property("location", text(MAX_LOCATION_CHARS, PLAIN_TEXT_PATTERN))
        .property("note", text(MAX_NOTE_CHARS, TEXT_PATTERN))
        .property(
            "idempotency_key",
            text(MAX_KEY_CHARS, PLAIN_TEXT_PATTERN).description(Some("The same key again records the event once")),
        )
        .into()
}

pub fn openapi() -> OpenApi {
    let paths = PathsBuilder::new()
        .path(
            "/api/shipping/",
            PathItem::new(
                HttpMethod::Get,
                paged(signed_in("list_shipments", "Your shipments, newest first (staff: everyone's)"))
                    .parameter(query_param("status", "Only shipments in this status", schema_ref("Status")))
                    .parameter(query_param("order_id", "Only the shipment of this order", string(0, 100, None).into()))
                    .response("200", json_response("A page of shipments", page_schema("Shipment"))),
            ),
        )
        .path(
            "/api/shipping/track/{tracking_number}",
            PathItem::new(
                HttpMethod::Get,
                op("track_shipment", "Follow a parcel by its tracking number; no token needed")
                    .parameter(path_param("tracking_number", "The tracking number (any letter case)"))
                    .response(
                        "200",
                        json_response(
                            "Carrier, status, estimated delivery and events; never the address, customer or order",
                            schema_ref("Tracking"),
                        ),
                    )
                    .response("404", problem_response("No shipment has this tracking number")),
            ),
        )
        .path(
            "/api/shipping/{id}",
            PathItem::new(
                HttpMethod::Get,
                signed_in("get_shipment", "One shipment with its address and events (its customer or staff)")
                    .parameter(path_param("id", "Shipment id"))
                    .response("200", json_response("The shipment", schema_ref("Shipment")))
                    .response("404", problem_response("No such shipment, or another customer's")),
            ),
        )
        .path(
            "/api/shipping/{id}/events",
            PathItem::new(
                HttpMethod::Post,
                secured(op(
                    "add_shipment_event",
                    "Record a carrier event (staff). The first in_transit captures a card payment and marks the \
                     order shipped; delivered captures what is still due, marks the order delivered and credits \
                     a VIP customer one point per whole currency unit. Those calls come first: if one fails \
                     nothing is recorded, and sending the same request again is safe.",
                ))
                .parameter(path_param("id", "Shipment id"))
                .request_body(Some(json_body(
                    schema_ref("EventInputBody"),
                    Some(json!({
                        "status": "in_transit",
                        "location": "Leeds sorting hub",
                        "note": "Left the depot",
                        "idempotency_key": "carrier-scan-7781"
                    })),
                )))
                .response("201", json_response("The event is recorded; the shipment with it", schema_ref("Shipment")))
                .response(
                    "200",
                    json_response(
                        "The idempotency key was already used for this event: the shipment, unchanged",
                        schema_ref("Shipment"),
                    ),
                )
                .response("401", problem_response("No token, or a token that is not valid"))
                .response("403", problem_response("Not a staff token"))
                .response("404", problem_response("No such shipment"))
                .response(
                    "409",
                    problem_response(
                        "The status may not follow the current one (the allowed next statuses are named), the \
                         idempotency key recorded another event, or the order or paying service refused",
                    ),
                )
                .response("413", problem_response("Body too large"))
                .response("415", problem_response("The body is not JSON"))
                .response("422", problem_response("Invalid or unknown fields, listed per field"))
                .response("502", problem_response("Another service answered something this one cannot use")),
            ),
        )
        .build();
    document(
        "Shipping service",
        paths,
        vec![
            schema_of::<Shipment>(),
            schema_of::<ShipmentEvent>(),
            schema_of::<Tracking>(),
            schema_of::<Status>(),
            schema_of::<DeliveryOption>(),
            schema_of::<EventInput>(),
            ("EventInputBody".into(), event_input()),
        ],
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn documents_every_public_route_and_no_internal_one() {
        let json = serde_json::to_value(super::openapi()).unwrap();
        let paths = json["paths"].as_object().unwrap();
        assert!(paths.keys().all(|p| p.starts_with("/api/shipping")), "{:?}", paths.keys());
        assert!(paths["/api/shipping/"].get("get").is_some());
        assert!(paths["/api/shipping/track/{tracking_number}"].get("get").is_some());
        assert!(paths["/api/shipping/{id}"].get("get").is_some());
        let events = &paths["/api/shipping/{id}/events"]["post"];
        for status in ["200", "201", "401", "403", "404", "409", "422", "502", "503"] {
            assert!(events["responses"].get(status).is_some(), "events lacks {status}");
        }
        assert!(paths["/api/shipping/track/{tracking_number}"]["get"].get("security").is_none(), "tracking is open");
        let schemas = &json["components"]["schemas"];
        for name in ["Shipment", "ShipmentEvent", "Tracking", "Status", "DeliveryOption", "EventInput", "Problem"] {
            assert!(schemas.get(name).is_some(), "{name}");
        }
        let tracking = schemas["Tracking"]["properties"].as_object().unwrap();
        for private in ["shipping_address", "customer_id", "order_id", "id"] {
            assert!(!tracking.contains_key(private), "{private}");
        }
    }
}
