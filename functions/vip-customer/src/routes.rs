//! HTTP: who may call what, and the JSON in and out. The rules live in
//! `domain` and `tiers`, the SQL in `store`.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use http::request::Parts;
use serde::Serialize;
use shared::auth::{Caller, CustomerType, Staff, TokenKeys};
use shared::error::{AppError, AppResult};
use shared::extract::{JsonObject, QueryPairs, QueryParams};
use shared::http_app::{both_slashes, finish_documented};
use shared::pagination::{Page, PageRequest, RequestUrl};
use shared::sql::now_secs;
use utoipa::ToSchema;

use crate::VipState;
use crate::domain::{
    EnrollInput, InternalEarnInput, InternalRestoreInput, InternalRevokeInput, LedgerEntry, RedeemInput,
    StaffPointsInput, VipCustomer, is_valid_customer_id, parse_body,
};
use crate::store::{Applied, not_enrolled};
use crate::tiers::{Tier, TierName};

impl FromRef<VipState> for Arc<TokenKeys> {
    fn from_ref(state: &VipState) -> Self {
        state.keys.clone()
    }
}

/// A caller whose token says VIP: 401 without a token, 403 with any other kind.
/// Handlers act only on the token's `sub`, so one member can never reach another's points.
pub struct VipCaller(pub String);

impl<S> FromRequestParts<S> for VipCaller
where
    Arc<TokenKeys>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await?.0 {
            None => Err(AppError::Unauthorized("this needs a VIP customer token".into())),
            Some(claims) if claims.typ == CustomerType::Vip => Ok(VipCaller(claims.sub)),
            Some(_) => Err(AppError::Forbidden("only VIP customers have a VIP record and points".into())),
        }
    }
}

/// The benefits catalog.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TierList {
    /// Lowest rank first.
    pub tiers: Vec<Tier>,
}

/// A member's points with one page of their ledger.
#[derive(Debug, Clone, Serialize)]
pub struct PointsSummary {
    pub balance: i64,
    pub lifetime_points: i64,
    pub tier: TierName,
    pub history: Page<LedgerEntry>,
}

/// A ledger change made for a member by staff or another service.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PointsResult {
    pub entry: LedgerEntry,
    pub customer: VipCustomer,
}

pub fn router(state: VipState) -> Router {
    let mut router = Router::new();
    for path in both_slashes("/api/customers") {
        router = router.route(&path, get(me));
    }
    for path in both_slashes("/api/customers/vip/benefits") {
        router = router.route(&path, get(benefits));
    }
    for path in both_slashes("/api/customers/vip/points") {
        router = router.route(&path, get(points));
    }
    for path in both_slashes("/api/customers/vip/points/redeem") {
        router = router.route(&path, post(redeem));
    }
    for path in both_slashes("/api/customers/vip/customers") {
        router = router.route(&path, get(list_customers));
    }
    for path in both_slashes("/api/customers/vip/customers/{id}") {
        router = router.route(&path, get(customer));
    }
    for path in both_slashes("/api/customers/vip/customers/{id}/points") {
        router = router.route(&path, post(staff_points));
    }
    for path in both_slashes("/internal/vip/enroll") {
        router = router.route(&path, post(enroll));
    }
    for path in both_slashes("/internal/vip/close") {
        router = router.route(&path, post(close));
    }
    for path in both_slashes("/internal/vip/earn") {
        router = router.route(&path, post(internal_earn));
    }
    for path in both_slashes("/internal/vip/restore") {
        router = router.route(&path, post(internal_restore));
    }
    for path in both_slashes("/internal/vip/revoke") {
        router = router.route(&path, post(internal_revoke));
    }
    finish_documented(router.with_state(state), &crate::openapi())
}

/// 201 for a new record or entry, 200 when a retry found it already there.
fn created_or_ok(created: bool, body: impl Serialize) -> Response {
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(body)).into_response()
}

fn points_response(applied: Applied) -> Response {
    created_or_ok(applied.created, PointsResult { entry: applied.entry, customer: applied.customer })
}

/// Ids that cannot exist are answered like absent ones, without a query.
fn checked_id(id: &str) -> AppResult<&str> {
    if is_valid_customer_id(id) { Ok(id) } else { Err(not_enrolled(id)) }
}

fn page_request(params: &mut QueryParams) -> AppResult<PageRequest> {
    PageRequest::from_params(params).ok_or_else(|| AppError::internal("page request missing without an error"))
}

async fn me(State(state): State<VipState>, VipCaller(sub): VipCaller) -> AppResult<Json<VipCustomer>> {
    Ok(Json(state.store.view(checked_id(&sub)?).await?))
}

async fn benefits(State(state): State<VipState>) -> AppResult<Json<TierList>> {
    Ok(Json(TierList { tiers: state.store.tiers().await?.tiers().to_vec() }))
}

async fn points(
    State(state): State<VipState>,
    VipCaller(sub): VipCaller,
    url: RequestUrl,
    query: QueryPairs,
) -> AppResult<Json<PointsSummary>> {
    let mut params = query.into_params();
    let page = page_request(&mut params);
    params.finish()?;
    let page = page?;
    let customer = state.store.view(checked_id(&sub)?).await?;
    let (entries, count) = state.store.history(&customer.id, page.offset, page.limit).await?;
    Ok(Json(PointsSummary {
        balance: customer.points_balance,
        lifetime_points: customer.lifetime_points,
        tier: customer.tier,
        history: Page::new(entries, count, &page, &url),
    }))
}

async fn redeem(
    State(state): State<VipState>,
    VipCaller(sub): VipCaller,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let change = parse_body::<RedeemInput>(body, &RedeemInput::FIELDS)?.into_change()?;
    let applied = state.store.apply(checked_id(&sub)?, &change, now_secs()).await?;
    Ok(created_or_ok(applied.created, applied.entry))
}

async fn list_customers(
    State(state): State<VipState>,
    _staff: Staff,
    url: RequestUrl,
    query: QueryPairs,
) -> AppResult<Json<Page<VipCustomer>>> {
    let mut params = query.into_params();
    let tier = params.text("tier", 20).and_then(|name| {
        let tier = TierName::parse(&name.to_ascii_lowercase());
        if tier.is_none() {
            params.add_error("tier", "must be one of bronze, silver, gold, platinum");
        }
        tier
    });
    let page = page_request(&mut params);
    params.finish()?;
    let page = page?;
    let (customers, count) = state.store.customers(tier, page.offset, page.limit).await?;
    Ok(Json(Page::new(customers, count, &page, &url)))
}

async fn customer(
    State(state): State<VipState>,
    _staff: Staff,
    Path(id): Path<String>,
) -> AppResult<Json<VipCustomer>> {
    Ok(Json(state.store.view(checked_id(&id)?).await?))
}

async fn staff_points(
    State(state): State<VipState>,
    _staff: Staff,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let change = parse_body::<StaffPointsInput>(body, &StaffPointsInput::FIELDS)?.into_change()?;
    Ok(points_response(state.store.apply(checked_id(&id)?, &change, now_secs()).await?))
}

/// Called by the customer router when a customer becomes VIP. Not behind API
/// Gateway: only functions allowed to invoke this one can reach it.
async fn enroll(State(state): State<VipState>, JsonObject(body): JsonObject) -> AppResult<Response> {
    let input = parse_body::<EnrollInput>(body, &EnrollInput::FIELDS)?.validate()?;
    let (created, customer) = state.store.enroll(&input, now_secs()).await?;
    Ok(created_or_ok(created, customer))
}

/// Called by the customer router when the member's account is closed: 204
/// whether or not there was an open record, so the router may retry.
async fn close(State(state): State<VipState>, JsonObject(body): JsonObject) -> AppResult<StatusCode> {
    let input = parse_body::<EnrollInput>(body, &EnrollInput::FIELDS)?.validate()?;
    if state.store.close(&input.customer_id, now_secs()).await? {
        tracing::info!(customer = %input.customer_id, "VIP record closed with its account");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Called by the shipping service for delivered orders; the order makes the key.
async fn internal_earn(State(state): State<VipState>, JsonObject(body): JsonObject) -> AppResult<Response> {
    let (customer_id, change) = parse_body::<InternalEarnInput>(body, &InternalEarnInput::FIELDS)?.into_parts()?;
    Ok(points_response(state.store.apply(&customer_id, &change, now_secs()).await?))
}

/// Called by the order service (an order cancelled or expired) and the paying
/// service (a points payment refunded) to give back redeemed points: the
/// balance only, never lifetime points, and never more than the redeem took.
async fn internal_restore(State(state): State<VipState>, JsonObject(body): JsonObject) -> AppResult<Response> {
    let (customer_id, undo) = parse_body::<InternalRestoreInput>(body, &InternalRestoreInput::FIELDS)?.into_parts()?;
    Ok(points_response(state.store.undo(&customer_id, &undo, now_secs()).await?))
}

/// Called by the order service when it refunds an order: the points its
/// delivery earned are taken back.
async fn internal_revoke(State(state): State<VipState>, JsonObject(body): JsonObject) -> AppResult<Response> {
    let (customer_id, undo) = parse_body::<InternalRevokeInput>(body, &InternalRevokeInput::FIELDS)?.into_parts()?;
    Ok(points_response(state.store.undo(&customer_id, &undo, now_secs()).await?))
}
