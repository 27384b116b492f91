//! HTTP: public tracking, customers' and staff's shipments, staff events, and
//! the internal route the order service creates shipments with.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::auth::{Caller, Claims, Staff};
use shared::error::{AppError, AppResult};
use shared::extract::{JsonObject, QueryPairs, from_known_fields};
use shared::http_app::{both_slashes, finish_documented};
use shared::ids::has_prefix;
use shared::pagination::{Page, PageRequest, RequestUrl};
use shared::sql::{now_secs, rfc3339};
use utoipa::ToSchema;

use crate::ShippingState;
use crate::domain::{
    CreateShipment, CustomerKind, DeliveryOption, EventInput, NewEvent, Status, earned_points,
    normalize_tracking_number,
};
use crate::peers::{CaptureEvent, Failure, Peers};
use crate::store::{Appended, EventRecord, Filter, NewShipment, ShipmentRecord};

pub fn router(state: ShippingState) -> Router {
    let mut router = Router::new();
    for path in both_slashes("/api/shipping") {
        router = router.route(&path, get(list));
    }
    for path in both_slashes("/api/shipping/track/{tracking_number}") {
        router = router.route(&path, get(track));
    }
    for path in both_slashes("/api/shipping/{id}") {
        router = router.route(&path, get(read));
    }
    for path in both_slashes("/api/shipping/{id}/events") {
        router = router.route(&path, post(add_event));
    }
    router = router.route("/internal/shipments", post(create)).route("/internal/shipments/stop", post(stop));
    finish_documented(router.with_state(state), &crate::openapi())
}

/// A shipment as its customer and staff see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Shipment {
    #[schema(example = "shipment_01JDQ0000000000000000000000")]
    pub id: String,
    pub order_id: String,
    pub customer_id: String,
    #[schema(example = "ShopPost")]
    pub carrier: String,
    /// The order's delivery option.
    pub method: DeliveryOption,
    /// The key of the public tracking page.
    #[schema(example = "SP7K3M9QX2HD4RT8WB")]
    pub tracking_number: String,
    /// The last event's status.
    pub status: Status,
    #[schema(example = "2025-01-04")]
    pub estimated_delivery: String,
    /// As the order gave it; null for pickup.
    #[schema(value_type = Option<Object>)]
    pub shipping_address: Option<Map<String, Value>>,
    /// Oldest first; the first is always `label_created`.
    pub events: Vec<ShipmentEvent>,
    /// Set when the order was cancelled or refunded: the shipment goes no
    /// further, and only a `returned` event may still be recorded.
    #[schema(format = DateTime)]
    pub stopped_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShipmentEvent {
    pub status: Status,
    pub location: Option<String>,
    pub note: Option<String>,
    #[schema(format = DateTime)]
    pub at: String,
}

/// What anyone with the tracking number sees: no address, customer or order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Tracking {
    pub tracking_number: String,
    pub carrier: String,
    pub method: DeliveryOption,
    pub status: Status,
    pub estimated_delivery: String,
    pub events: Vec<ShipmentEvent>,
    /// Set when the order was called off: the parcel goes no further.
    #[schema(format = DateTime)]
    pub stopped_at: Option<String>,
}

fn events(records: &[EventRecord]) -> Vec<ShipmentEvent> {
    records
        .iter()
        .map(|e| ShipmentEvent {
            status: e.status,
            location: e.location.clone(),
            note: e.note.clone(),
            at: rfc3339(e.at),
        })
        .collect()
}

impl From<ShipmentRecord> for Shipment {
    fn from(r: ShipmentRecord) -> Self {
        Shipment {
            events: events(&r.events),
            id: r.id,
            order_id: r.order_id,
            customer_id: r.customer_id,
            carrier: r.carrier,
            method: r.method,
            tracking_number: r.tracking_number,
            status: r.status,
            estimated_delivery: r.estimated_delivery,
            shipping_address: r.shipping_address,
            stopped_at: r.stopped_at.map(rfc3339),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

fn answer(status: StatusCode, record: ShipmentRecord) -> Response {
    (status, axum::Json(Shipment::from(record))).into_response()
}

fn signed_in(caller: Caller) -> AppResult<Claims> {
    caller.0.ok_or_else(|| AppError::Unauthorized("log in to see shipments".into()))
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("there is no shipment {}", shared::ids::mention(id)))
}

/// The shipment if the caller may see it: another customer's is answered
/// exactly like one that does not exist.
async fn visible(state: &ShippingState, claims: &Claims, id: &str) -> AppResult<ShipmentRecord> {
    if !has_prefix(id, "shipment") {
        return Err(not_found(id));
    }
    match state.store.get(id).await? {
        Some(record) if claims.is_staff() || record.customer_id == claims.sub => Ok(record),
        _ => Err(not_found(id)),
    }
}

async fn track(
    State(state): State<ShippingState>,
    Path(tracking_number): Path<String>,
) -> AppResult<axum::Json<Tracking>> {
    let unknown = || AppError::NotFound("no shipment has this tracking number".into());
    let number = normalize_tracking_number(&tracking_number).ok_or_else(unknown)?;
    let record = state.store.by_tracking_number(&number).await?.ok_or_else(unknown)?;
    Ok(axum::Json(Tracking {
        events: events(&record.events),
        tracking_number: record.tracking_number,
        carrier: record.carrier,
        method: record.method,
        status: record.status,
        estimated_delivery: record.estimated_delivery,
        stopped_at: record.stopped_at.map(rfc3339),
    }))
}

async fn list(
    State(state): State<ShippingState>,
    caller: Caller,
    url: RequestUrl,
    query: QueryPairs,
) -> AppResult<axum::Json<Page<Shipment>>> {
    let claims = signed_in(caller)?;
    let mut params = query.into_params();
    let status = params.text("status", 40).and_then(|text| {
        let status = Status::parse(&text);
        if status.is_none() {
            let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
            params.add_error("status", format!("must be one of {}", all.join(", ")));
        }
        status
    });
    let order_id = params.text("order_id", 100);
    let page = PageRequest::from_params(&mut params);
    params.finish()?;
    let page = page.ok_or_else(|| AppError::internal("page request missing without an error"))?;
    let filter = Filter { customer_id: (!claims.is_staff()).then(|| claims.sub.clone()), status, order_id };
    let (records, count) = state.store.list(&filter, page.offset, page.limit).await?;
    Ok(axum::Json(Page::new(records.into_iter().map(Shipment::from).collect(), count, &page, &url)))
}

async fn read(
    State(state): State<ShippingState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<axum::Json<Shipment>> {
    let claims = signed_in(caller)?;
    visible(&state, &claims, &id).await.map(|r| axum::Json(r.into()))
}

/// Records a carrier event. What it means downstream happens first, so a
/// failure leaves the shipment as it was; each of those calls is idempotent
/// (capture and order status by state, points by key), so the same request
/// sent again converges instead of doubling anything.
async fn add_event(
    State(state): State<ShippingState>,
    _staff: Staff,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response, Failure> {
    let event = from_known_fields::<EventInput>(body, &EventInput::FIELDS)?.validate()?;
    if !has_prefix(&id, "shipment") {
        return Err(not_found(&id).into());
    }
    let shipment = state.store.get(&id).await?.ok_or_else(|| not_found(&id))?;
    if let Some(response) = replay(&shipment, &event)? {
        return Ok(response);
    }
    shipment.status.check_transition(event.status, shipment.method)?;
    check_not_stopped(&shipment, &event)?;
    downstream(&state, &shipment, event.status).await?;
    match state.store.append(&shipment.id, shipment.event_count, &event, now_secs()).await? {
        Appended::Stored(record) => Ok(answer(StatusCode::CREATED, *record)),
        Appended::Stale => {
            // Someone else's event came first; if it was this one (a concurrent
            // retry with the same key), answer it, else say where things stand.
            let now = state.store.get(&id).await?.ok_or_else(|| not_found(&id))?;
            if let Some(response) = replay(&now, &event)? {
                return Ok(response);
            }
            now.status.check_transition(event.status, now.method)?;
            check_not_stopped(&now, &event)?;
            Err(AppError::Conflict(format!(
                "the shipment changed while this event was being recorded (it is now {}); send it again",
                now.status.as_str()
            ))
            .into())
        }
    }
}

/// A stopped shipment (its order cancelled or refunded) goes no further: only
/// the parcel's return may still be recorded.
fn check_not_stopped(shipment: &ShipmentRecord, event: &NewEvent) -> AppResult<()> {
    if shipment.stopped_at.is_none() || event.status == Status::Returned {
        return Ok(());
    }
    Err(AppError::Conflict(format!(
        "the shipment of order `{}` was stopped when the order was cancelled or refunded; only `returned` may \
         still be recorded",
        shipment.order_id
    )))
}

/// The shipment as it is when `event` carries a key already recorded for the
/// same event; a 409 when that key recorded another one.
fn replay(shipment: &ShipmentRecord, event: &NewEvent) -> AppResult<Option<Response>> {
    let Some(key) = &event.idempotency_key else { return Ok(None) };
    match shipment.events.iter().find(|e| e.idempotency_key.as_ref() == Some(key)) {
        None => Ok(None),
        Some(done) if done.same_as(event) => Ok(Some(answer(StatusCode::OK, shipment.clone()))),
        Some(done) => Err(AppError::Conflict(format!(
            "the idempotency key `{key}` already recorded a {} event with other details",
            done.status.as_str()
        ))),
    }
}

/// What an event means for the order, its payment and the customer's points.
async fn downstream(state: &ShippingState, shipment: &ShipmentRecord, to: Status) -> Result<(), Failure> {
    let peers = Peers::new(state);
    let order_id = shipment.order_id.as_str();
    match to {
        Status::InTransit if !shipment.events.iter().any(|e| e.status == Status::InTransit) => {
            peers.capture(order_id, CaptureEvent::Shipped).await?;
            peers.set_order_status(order_id, "shipped").await?;
        }
        Status::Delivered => {
            peers.capture(order_id, CaptureEvent::Delivered).await?;
            peers.set_order_status(order_id, "delivered").await?;
            let points = earned_points(shipment.total);
            if shipment.customer_type == CustomerKind::Vip && points > 0 {
                peers.earn(&shipment.customer_id, order_id, points).await?;
            }
        }
        // Nothing downstream for `returned`: whether a returned parcel is refunded
        // is a staff decision taken in the order service (cancel/refund there).
        Status::Returned => {}
        _ => {}
    }
    Ok(())
}

/// `POST /internal/shipments/stop`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct StopShipment {
    pub order_id: String,
}

/// Called by the order service when it cancels or refunds an order; 404 when
/// the order has no shipment (it was never paid). Stopping twice is fine.
async fn stop(State(state): State<ShippingState>, JsonObject(body): JsonObject) -> AppResult<Response> {
    let input: StopShipment = from_known_fields(body, &["order_id"])?;
    if !has_prefix(input.order_id.trim(), "order") {
        let mut errors = shared::error::FieldErrors::new();
        errors.add("order_id", "is not an order id (order_...)");
        return Err(AppError::Validation(errors));
    }
    let record = state
        .store
        .stop(input.order_id.trim(), now_secs())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("order `{}` has no shipment", input.order_id.trim())))?;
    tracing::info!(order_id = %record.order_id, shipment_id = %record.id, "shipment stopped");
    Ok(answer(StatusCode::OK, record))
}

/// Called by the order service once an order is paid; the same order again
/// answers the shipment already made (200), so its retries are safe.
async fn create(State(state): State<ShippingState>, JsonObject(body): JsonObject) -> AppResult<Response> {
    let input: CreateShipment = from_known_fields(body, &CreateShipment::FIELDS)?;
    input.validate()?;
    let new = NewShipment {
        order_id: input.order_id,
        customer_id: input.customer_id,
        customer_type: input.customer_type,
        method: input.delivery_option,
        shipping_address: input.shipping_address,
        total: input.total,
        currency: input.currency.to_string(),
    };
    let (made, record) = state.store.create(&new, now_secs()).await?;
    if made {
        tracing::info!(order_id = %record.order_id, shipment_id = %record.id, "shipment created");
        return Ok(answer(StatusCode::CREATED, record));
    }
    // A retry repeats the first request; another customer for the same order is a bug upstream.
    if record.customer_id != new.customer_id {
        return Err(AppError::Conflict(format!(
            "order `{}` already has a shipment for another customer",
            record.order_id
        )));
    }
    Ok(answer(StatusCode::OK, record))
}
