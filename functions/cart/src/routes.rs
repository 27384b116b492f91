//! HTTP: the caller's own cart under `/api/cart`, and the internal merge,
//! raw-cart and checked-out routes.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde::{Deserialize, Serialize};
use shared::accounts::LiveAccount;
use shared::error::{AppError, AppResult, FieldErrors};
use shared::extract::{JsonObject, from_known_fields};
use shared::http_app::{both_slashes, finish_documented};
use shared::ids::mention;
use shared::sql::rfc3339;
use tokio::task::JoinSet;
use utoipa::ToSchema;

use crate::CartState;
use crate::identity::{Owner, OwnerKind, plausible_owner_id};
use crate::items::{ItemInfo, Items, Lookup};
use crate::store::{CartRecord, LineRecord, Ordered, Snapshot};

pub fn router(state: CartState) -> Router {
    let mut router = Router::new();
    for path in both_slashes("/api/cart") {
        router = router.route(&path, get(read_cart).delete(clear_cart));
    }
    for path in both_slashes("/api/cart/items") {
        router = router.route(&path, post(add_item));
    }
    for path in both_slashes("/api/cart/items/{item_id}") {
        router = router.route(&path, patch(set_quantity).delete(remove_item));
    }
    router = router
        .route("/internal/cart/merge", post(merge))
        .route("/internal/cart/{owner_kind}/{owner_id}", get(raw_cart).delete(delete_raw_cart))
        .route("/internal/cart/{owner_kind}/{owner_id}/checked-out", post(checked_out));
    finish_documented(router.with_state(state), &crate::openapi())
}

/// A cart as its owner sees it, priced with the items' current prices.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CartView {
    /// Null until something is first added.
    pub id: Option<String>,
    pub owner: Owner,
    /// Oldest first.
    pub lines: Vec<CartLineView>,
    /// Units over all lines.
    pub item_count: i64,
    /// Sum of `line_total` over the available lines, in minor units of `currency`.
    pub subtotal: i64,
    /// Null for an empty cart.
    pub currency: Option<String>,
    /// Whether any line's price moved since it was added.
    pub price_changes: bool,
    /// Lines left out of the subtotal, and why.
    pub unavailable: Vec<Unavailable>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CartLineView {
    pub item_type: String,
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
    /// The price when the item was last added.
    pub snapshot_price: i64,
    /// Null when the item cannot be priced now.
    pub current_price: Option<i64>,
    pub price_changed: bool,
    pub currency: String,
    /// `quantity * current_price`; null when unavailable.
    pub line_total: Option<i64>,
    pub available: bool,
    /// Whether the item service has the whole quantity now.
    pub in_stock: bool,
}

/// A line left out of the subtotal, and why. (Named for the document apart from
/// the items router's `Unavailable`, a service that did not answer.)
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = CartUnavailable)]
pub struct Unavailable {
    pub item_id: String,
    pub item_type: String,
    pub reason: String,
}

/// What the current state of one line's item is.
enum Current {
    Item(ItemInfo),
    Unreadable(String),
}

/// Prices every line with the items router's answers, asked in parallel. A line
/// whose item is gone, unpriced or unreachable is shown but left out of the
/// total, so a stopped item service never hides the rest of the cart.
async fn view(state: &CartState, owner: Owner, cart: Option<CartRecord>) -> AppResult<CartView> {
    let Some(cart) = cart else {
        return Ok(CartView {
            id: None,
            owner,
            lines: Vec::new(),
            item_count: 0,
            subtotal: 0,
            currency: None,
            price_changes: false,
            unavailable: Vec::new(),
        });
    };
    let items = Items::new(state);
    let mut tasks = JoinSet::new();
    for (index, line) in cart.lines.iter().enumerate() {
        let (items, item_id) = (items.clone(), line.item_id.clone());
        tasks.spawn(async move { (index, items.lookup(&item_id).await) });
    }
    let mut current: Vec<Current> =
        cart.lines.iter().map(|_| Current::Unreadable("the item could not be looked up".into())).collect();
    while let Some(joined) = tasks.join_next().await {
        let (index, answer) = joined.map_err(AppError::internal)?;
        current[index] = match answer {
            Ok(Lookup::Found(item)) => Current::Item(item),
            Ok(Lookup::NotFound) => Current::Unreadable("the item no longer exists".into()),
            Ok(Lookup::Refused(detail)) => Current::Unreadable(detail),
            Err(e) => Current::Unreadable(e.problem().detail),
        };
    }
    price(cart, current)
}

fn price(cart: CartRecord, current: Vec<Current>) -> AppResult<CartView> {
    // The cart's currency is that of its oldest line still priced; a line whose
    // item moved to another currency cannot be added to the same subtotal.
    let currency = cart
        .lines
        .iter()
        .zip(&current)
        .find_map(|(_, c)| match c {
            Current::Item(item) if item.price.is_some() => Some(item.currency.to_string()),
            _ => None,
        })
        .or_else(|| cart.lines.first().map(|l| l.currency.clone()));
    let too_large = || {
        let mut errors = FieldErrors::new();
        errors.add("quantity", "the cart's total is too large to compute");
        AppError::Validation(errors)
    };
    let (mut lines, mut unavailable) = (Vec::new(), Vec::new());
    let (mut subtotal, mut item_count, mut price_changes) = (0_i64, 0_i64, false);
    for (line, now) in cart.lines.into_iter().zip(current) {
        item_count = item_count.checked_add(line.quantity).ok_or_else(too_large)?;
        let priced = match now {
            Current::Item(item) if item.item_type != line.item_type => {
                Err(format!("the item is now a {}, not a {}", item.item_type, line.item_type))
            }
            Current::Item(ItemInfo { price: None, .. }) => Err("the item is not for sale now".into()),
            Current::Item(item) if Some(item.currency.as_str()) != currency.as_deref() => Err(format!(
                "the item is now priced in {}, not in the cart's {}",
                item.currency,
                currency.as_deref().unwrap_or_default()
            )),
            Current::Item(item) => Ok(item),
            Current::Unreadable(reason) => Err(reason),
        };
        match priced {
            Ok(item) => {
                let price = item.price.unwrap_or_default();
                let line_total = line.quantity.checked_mul(price).ok_or_else(too_large)?;
                subtotal = subtotal.checked_add(line_total).ok_or_else(too_large)?;
                let price_changed = price != line.snapshot_price || item.currency.as_str() != line.currency;
                price_changes |= price_changed;
                lines.push(CartLineView {
                    item_type: line.item_type,
                    item_id: line.item_id,
                    name: item.name,
                    quantity: line.quantity,
                    snapshot_price: line.snapshot_price,
                    current_price: Some(price),
                    price_changed,
                    currency: item.currency.to_string(),
                    line_total: Some(line_total),
                    available: true,
                    in_stock: item.stock >= line.quantity,
                });
            }
            Err(reason) => {
                unavailable.push(Unavailable {
                    item_id: line.item_id.clone(),
                    item_type: line.item_type.clone(),
                    reason,
                });
                lines.push(unpriced(line));
            }
        }
    }
    Ok(CartView {
        id: Some(cart.id),
        owner: cart.owner,
        lines,
        item_count,
        subtotal,
        currency,
        price_changes,
        unavailable,
    })
}

fn unpriced(line: LineRecord) -> CartLineView {
    CartLineView {
        item_type: line.item_type,
        item_id: line.item_id,
        name: line.name,
        quantity: line.quantity,
        snapshot_price: line.snapshot_price,
        current_price: None,
        price_changed: false,
        currency: line.currency,
        line_total: None,
        available: false,
        in_stock: false,
    }
}

async fn current_view(state: &CartState, owner: Owner) -> AppResult<CartView> {
    let cart = state.store.cart(&owner).await?;
    view(state, owner, cart).await
}

async fn read_cart(State(state): State<CartState>, owner: Owner) -> AppResult<axum::Json<CartView>> {
    current_view(&state, owner).await.map(axum::Json)
}

async fn clear_cart(State(state): State<CartState>, owner: Owner, _: LiveAccount) -> AppResult<StatusCode> {
    state.store.clear(&owner).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn check_quantity(errors: &mut FieldErrors, quantity: i64, max: i64) {
    if !(1..=max).contains(&quantity) {
        errors.add("quantity", format!("must be between 1 and {max}"));
    }
}

/// Ids go into the items router's path: only the characters ids are made of.
fn valid_item_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 100 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn valid_item_type(item_type: &str) -> bool {
    !item_type.is_empty() && item_type.len() <= 40 && item_type.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddItem {
    /// `book`, `laptop`, `mobile` or `clothes`: must match the item.
    pub item_type: String,
    pub item_id: String,
    /// Added to what the cart holds already.
    pub quantity: i64,
}

async fn add_item(
    State(state): State<CartState>,
    owner: Owner,
    _: LiveAccount,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let input: AddItem = from_known_fields(body, &["item_type", "item_id", "quantity"])?;
    let mut errors = FieldErrors::new();
    if !valid_item_type(&input.item_type) {
        errors.add("item_type", "is not an item type such as book, laptop, mobile or clothes");
    }
    if !valid_item_id(&input.item_id) {
        errors.add("item_id", "is not an item id");
    }
    check_quantity(&mut errors, input.quantity, state.limits.max_line_quantity);
    errors.into_result()?;
    let item = Items::new(&state).sellable(&input.item_id, &input.item_type).await?;
    let snapshot = Snapshot {
        item_type: item.item_type,
        item_id: input.item_id,
        name: item.name,
        price: item.price.unwrap_or_default(),
        currency: item.currency.to_string(),
        stock: item.stock,
    };
    state.store.add(&owner, &snapshot, input.quantity, state.limits).await?;
    let view = current_view(&state, owner).await?;
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SetQuantity {
    /// The line's new quantity.
    pub quantity: i64,
}

async fn set_quantity(
    State(state): State<CartState>,
    owner: Owner,
    _: LiveAccount,
    Path(item_id): Path<String>,
    JsonObject(body): JsonObject,
) -> AppResult<axum::Json<CartView>> {
    let input: SetQuantity = from_known_fields(body, &["quantity"])?;
    let mut errors = FieldErrors::new();
    check_quantity(&mut errors, input.quantity, state.limits.max_line_quantity);
    errors.into_result()?;
    let line = state
        .store
        .line(&owner, &item_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("item {} is not in your cart", mention(&item_id))))?;
    let item = Items::new(&state).sellable(&line.item_id, &line.item_type).await?;
    state.store.set_quantity(&owner, &item_id, input.quantity, item.stock, state.limits).await?;
    current_view(&state, owner).await.map(axum::Json)
}

async fn remove_item(
    State(state): State<CartState>,
    owner: Owner,
    _: LiveAccount,
    Path(item_id): Path<String>,
) -> AppResult<axum::Json<CartView>> {
    if !state.store.remove(&owner, &item_id).await? {
        return Err(AppError::NotFound(format!("item {} is not in your cart", mention(&item_id))));
    }
    current_view(&state, owner).await.map(axum::Json)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MergeRequest {
    pub guest_id: String,
    pub customer_id: String,
}

async fn merge(State(state): State<CartState>, JsonObject(body): JsonObject) -> AppResult<axum::Json<CartView>> {
    let input: MergeRequest = from_known_fields(body, &["guest_id", "customer_id"])?;
    let mut errors = FieldErrors::new();
    for (field, id) in [("guest_id", &input.guest_id), ("customer_id", &input.customer_id)] {
        if !plausible_owner_id(id) {
            errors.add(field, "is not an id");
        }
    }
    errors.into_result()?;
    let moved = state.store.merge(&input.guest_id, &input.customer_id, state.limits).await?;
    if moved > 0 {
        tracing::info!(guest_id = %input.guest_id, customer_id = %input.customer_id, moved, "guest cart merged");
    }
    current_view(&state, Owner::customer(input.customer_id)).await.map(axum::Json)
}

/// A cart as stored, without asking for current prices: for the order service.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RawCart {
    pub id: String,
    pub owner: Owner,
    /// Changes with every change to the cart: what a checkout claims, so one
    /// version becomes at most one order.
    pub version: String,
    pub lines: Vec<RawLine>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RawLine {
    pub item_type: String,
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
    pub snapshot_price: i64,
    pub currency: String,
    pub added_at: String,
    pub updated_at: String,
}

async fn raw_cart(
    State(state): State<CartState>,
    Path((owner_kind, owner_id)): Path<(String, String)>,
) -> AppResult<axum::Json<RawCart>> {
    let owner = Owner { kind: OwnerKind::from_path(&owner_kind)?, id: owner_id };
    let cart = state.store.cart(&owner).await?.ok_or_else(|| AppError::NotFound(format!("{owner} has no cart")))?;
    Ok(axum::Json(RawCart {
        version: cart.version(),
        id: cart.id,
        owner: cart.owner,
        lines: cart
            .lines
            .into_iter()
            .map(|l| RawLine {
                item_type: l.item_type,
                item_id: l.item_id,
                name: l.name,
                quantity: l.quantity,
                snapshot_price: l.snapshot_price,
                currency: l.currency,
                added_at: rfc3339(l.added_at),
                updated_at: rfc3339(l.updated_at),
            })
            .collect(),
        created_at: rfc3339(cart.created_at),
        updated_at: rfc3339(cart.updated_at),
    }))
}

/// `POST /internal/cart/{owner_kind}/{owner_id}/checked-out`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CheckedOut {
    /// The cart version the order was made of.
    pub version: String,
    /// What the order took; empty to only empty a cart still at `version`.
    pub lines: Vec<OrderedLine>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct OrderedLine {
    pub item_id: String,
    pub quantity: i64,
}

/// The order service reports a checkout done: the cart it was made of is
/// emptied, or, when it changed meanwhile, loses what was ordered. A cart
/// already gone is fine too, so the call may be repeated.
async fn checked_out(
    State(state): State<CartState>,
    Path((owner_kind, owner_id)): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> AppResult<StatusCode> {
    let owner = Owner { kind: OwnerKind::from_path(&owner_kind)?, id: owner_id };
    let input: CheckedOut = from_known_fields(body, &["version", "lines"])?;
    let mut errors = FieldErrors::new();
    if input.version.is_empty() || input.version.len() > 80 {
        errors.add("version", "is not a cart version");
    }
    if input.lines.iter().any(|l| l.quantity <= 0 || l.item_id.is_empty() || l.item_id.len() > 100) {
        errors.add("lines", "each line needs an item id and a positive quantity");
    }
    errors.into_result()?;
    let ordered: Vec<Ordered> =
        input.lines.into_iter().map(|l| Ordered { item_id: l.item_id, quantity: l.quantity }).collect();
    state.store.checked_out(&owner, &input.version, &ordered).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /internal/cart/{owner_kind}/{owner_id}`: the owner's account was
/// closed. Its cart goes with it, and the cart refuses the owner from now on.
async fn delete_raw_cart(
    State(state): State<CartState>,
    Path((owner_kind, owner_id)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    let owner = Owner { kind: OwnerKind::from_path(&owner_kind)?, id: owner_id };
    state.store.close_owner(&owner).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(item_id: &str, quantity: i64, snapshot_price: i64) -> LineRecord {
        LineRecord {
            item_type: "book".into(),
            item_id: item_id.into(),
            name: "Dune".into(),
            quantity,
            snapshot_price,
            currency: "USD".into(),
            snapshot_at: 1,
            added_at: 1,
            updated_at: 1,
        }
    }

    fn item(price: Option<i64>) -> Current {
        Current::Item(ItemInfo {
            item_type: "book".into(),
            name: "Dune".into(),
            price,
            currency: shared::money::Currency::USD,
            stock: 10,
        })
    }

    fn cart(lines: Vec<LineRecord>) -> CartRecord {
        CartRecord {
            id: "cart_1".into(),
            owner: Owner::guest("guest_1"),
            revision: 1,
            created_at: 1,
            updated_at: 1,
            lines,
        }
    }

    #[test]
    fn totals_count_only_priced_lines_and_flag_price_changes() {
        let view = price(
            cart(vec![line("a", 2, 1000), line("b", 1, 500), line("c", 3, 700)]),
            vec![item(Some(1200)), item(None), Current::Unreadable("down".into())],
        )
        .unwrap();
        assert_eq!(view.subtotal, 2400);
        assert_eq!(view.item_count, 6);
        assert!(view.price_changes);
        assert!(view.lines[0].price_changed);
        assert_eq!(view.lines[0].line_total, Some(2400));
        assert_eq!(view.unavailable.len(), 2);
        assert!(!view.lines[1].available && !view.lines[2].available);
        assert_eq!(view.currency.as_deref(), Some("USD"));
    }

    #[test]
    fn absurd_totals_are_rejected_not_wrapped() {
        let result = price(
            cart(vec![line("a", 99, 1), line("b", 99, 1)]),
            vec![item(Some(i64::MAX / 2)), item(Some(i64::MAX / 2))],
        );
        assert!(matches!(result, Err(AppError::Validation(_))));
    }

    #[test]
    fn item_ids_and_types_are_checked_before_they_reach_a_path() {
        assert!(valid_item_id("book_01JDQ0000000000000000000000"));
        for bad in ["", "../x", "a/b", "a?b", "a b", &"x".repeat(101)] {
            assert!(!valid_item_id(bad), "{bad}");
        }
        assert!(valid_item_type("gift-card"));
        assert!(!valid_item_type("Book") && !valid_item_type(""));
    }
}
