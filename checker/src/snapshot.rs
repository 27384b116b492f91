//! The stores of a shop and what they hold, read page by page.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use order::Clock;
use shared::config::Env;
use shared::documents::{DocumentStore, Filter, StockMoves};
use shared::error::AppResult;
use vip_customer::VipStore;
use vip_customer::domain::{Customer, LedgerEntry};
use vip_customer::tiers::TierCatalog;

/// Records read per query.
const PAGE: i64 = 500;

/// Every store of a shop the checker reads. A store left out (`None`, or an
/// item type not listed) leaves the rules that need it unchecked, with a note.
pub struct Shop {
    /// `(type, store)` for every item service.
    pub items: Vec<(&'static str, Arc<dyn DocumentStore>)>,
    pub cart: Option<Arc<cart::store::Store>>,
    pub order: Option<Arc<order::store::Store>>,
    pub paying: Option<Arc<paying::store::Store>>,
    pub shipping: Option<Arc<shipping::store::Store>>,
    pub vip: Option<Arc<VipStore>>,
    pub registered: Option<Arc<registered_customer::store::Store>>,
    /// The order service's clock: what "overdue" means.
    pub clock: Arc<dyn Clock>,
    /// `UNPAID_ORDER_EXPIRY_MINS`, in seconds.
    pub unpaid_expiry_secs: i64,
    /// Where each store is, for the report (URLs without passwords).
    pub sources: Vec<String>,
}

/// One item with its stock and the stock changes its service recorded.
#[derive(Debug, Clone)]
pub struct ItemFacts {
    pub id: String,
    pub item_type: String,
    pub stock: i64,
    pub moves: StockMoves,
}

/// A VIP member with their whole ledger, oldest first.
#[derive(Debug, Clone)]
pub struct Member {
    pub customer: Customer,
    pub ledger: Vec<LedgerEntry>,
}

/// The accounts the registered store knows: live ones, and closed ones with
/// their closing time and the rows of personal data still held for each.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    pub live: BTreeSet<String>,
    pub closed: BTreeMap<String, i64>,
    /// `(closed account, rows of its personal data still held)`, for those with any.
    pub personal_data_left: Vec<(String, u64)>,
}

/// What a shop's stores held when they were read. A `None` is a store the
/// checker was not given.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub now: i64,
    pub unpaid_expiry_secs: i64,
    pub items: Option<Vec<ItemFacts>>,
    pub carts: Option<Vec<cart::store::CartRecord>>,
    pub orders: Option<Vec<order::store::Order>>,
    /// `(customer, cart version, order id)`.
    pub cart_claims: Option<Vec<(String, String, String)>>,
    pub open_checkouts: Option<Vec<order::store::CheckoutRow>>,
    pub payments: Option<Vec<paying::store::PaymentRecord>>,
    pub shipments: Option<Vec<shipping::store::ShipmentRecord>>,
    pub members: Option<Vec<Member>>,
    /// The VIP records closed with their accounts (kept for accounting).
    pub closed_members: Option<BTreeSet<String>>,
    pub accounts: Option<Accounts>,
    pub tiers: TierCatalog,
    pub downgrade_mid_year: bool,
    pub notes: Vec<String>,
}

impl Shop {
    /// The stores the shop's functions use with this environment: the
    /// `*_DATABASE_URL` variables, or the SQLite files under `LOCAL_DATA_DIR`.
    pub fn from_env(env: &Env) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let catalog = fixtures::CatalogStores::from_env(env)?;
        let cart = cart::Config::from_env(env)?;
        let order = order::Config::from_env(env)?;
        let paying = paying::Config::from_env(env)?;
        let shipping = shipping::Config::from_env(env)?;
        let vip = vip_customer::Config::from_env(env)?;
        let registered = registered_customer::Config::from_env(env)?;
        let sources = vec![
            format!("cart: {}", cart.store.redacted()),
            format!("order: {}", order.store.redacted()),
            format!("paying: {}", paying.store.redacted()),
            format!("shipping: {}", shipping.store.redacted()),
            format!("vip-customer: {}", vip.store.redacted()),
            format!("registered-customer: {}", registered.store.redacted()),
        ];
        let expiry = i64::try_from(order.unpaid_expiry.as_secs()).unwrap_or(i64::MAX);
        Ok(Self {
            items: vec![
                ("book", catalog.book.items),
                ("laptop", catalog.laptop.items),
                ("mobile", catalog.mobile.items),
                ("clothes", catalog.clothes.items),
            ],
            cart: Some(Arc::new(cart::store::Store::new(&cart.store, 1)?)),
            order: Some(Arc::new(order::store::Store::new(&order.store, 1)?)),
            paying: Some(Arc::new(paying::store::Store::new(&paying.store, 1)?)),
            shipping: Some(Arc::new(shipping::store::Store::new(&shipping.store, 1)?)),
            vip: Some(Arc::new(VipStore::connect_lazy(&vip.store, 1, vip.downgrade_mid_year)?)),
            registered: Some(Arc::new(registered_customer::store::Store::new(&registered.store, 1)?)),
            clock: Arc::new(order::SystemClock),
            unpaid_expiry_secs: expiry,
            sources,
        })
    }

    /// Reads every store. The stores are read one after another, not in one
    /// transaction: run it when the shop is quiet (tests run it between steps),
    /// or expect what was moving at that moment to show up.
    pub async fn read(&self) -> AppResult<Snapshot> {
        let mut snapshot =
            Snapshot { now: self.clock.now(), unpaid_expiry_secs: self.unpaid_expiry_secs, ..Snapshot::default() };
        if !self.items.is_empty() {
            let mut items = Vec::new();
            for (item_type, store) in &self.items {
                items.extend(read_items(item_type, store.as_ref()).await?);
            }
            let cut: Vec<&str> = items.iter().filter(|i| !i.moves.complete).map(|i| i.id.as_str()).collect();
            if !cut.is_empty() {
                snapshot.notes.push(format!(
                    "the stock records of {} keep only their latest changes; older orders' holdings there are not \
                     checked",
                    cut.join(", ")
                ));
            }
            snapshot.items = Some(items);
        }
        if let Some(store) = &self.cart {
            snapshot.carts =
                Some(pages(|after| async move { store.carts_after(&after, PAGE).await }, |c| c.id.clone()).await?);
        }
        if let Some(store) = &self.order {
            snapshot.orders =
                Some(pages(|after| async move { store.orders_after(&after, PAGE).await }, |o| o.id.clone()).await?);
            snapshot.cart_claims = Some(store.cart_claims().await?);
            snapshot.open_checkouts = Some(store.open_checkouts().await?);
        }
        if let Some(store) = &self.paying {
            snapshot.payments =
                Some(pages(|after| async move { store.payments_after(&after, PAGE).await }, |p| p.id.clone()).await?);
        }
        if let Some(store) = &self.shipping {
            snapshot.shipments =
                Some(pages(|after| async move { store.shipments_after(&after, PAGE).await }, |s| s.id.clone()).await?);
        }
        if let Some(store) = &self.vip {
            let customers =
                pages(|after| async move { store.members_after(&after, PAGE).await }, |c| c.customer_id.clone())
                    .await?;
            let mut members = Vec::with_capacity(customers.len());
            for customer in customers {
                let ledger = store.ledger(&customer.customer_id).await?;
                members.push(Member { customer, ledger });
            }
            snapshot.members = Some(members);
            snapshot.closed_members = Some(store.subjects().await?.closed.into_iter().map(|(id, _)| id).collect());
            snapshot.tiers = store.tiers().await?;
            snapshot.downgrade_mid_year = store.downgrade_mid_year();
        }
        if let Some(store) = &self.registered {
            let subjects = store.subjects().await?;
            let mut accounts = Accounts {
                live: subjects.live.into_iter().collect(),
                closed: subjects.closed.into_iter().collect(),
                personal_data_left: Vec::new(),
            };
            for id in accounts.closed.keys() {
                let rows = store.personal_data_rows(id).await?;
                if rows > 0 {
                    accounts.personal_data_left.push((id.clone(), rows));
                }
            }
            snapshot.accounts = Some(accounts);
        }
        for (store, present) in [
            ("items", snapshot.items.is_some()),
            ("cart", snapshot.carts.is_some()),
            ("order", snapshot.orders.is_some()),
            ("paying", snapshot.payments.is_some()),
            ("shipping", snapshot.shipments.is_some()),
            ("vip-customer", snapshot.members.is_some()),
            ("registered-customer", snapshot.accounts.is_some()),
        ] {
            if !present {
                snapshot.notes.push(format!("the {store} store was not read: the rules that need it were skipped"));
            }
        }
        Ok(snapshot)
    }
}

/// Every record of a keyset-paged listing.
async fn pages<T, F, Fut>(mut page: F, key: impl Fn(&T) -> String) -> AppResult<Vec<T>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = AppResult<Vec<T>>>,
{
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let batch = page(after.clone()).await?;
        let Some(last) = batch.last() else { break };
        after = key(last);
        let full = i64::try_from(batch.len()).unwrap_or(0) >= PAGE;
        all.extend(batch);
        if !full {
            break;
        }
    }
    Ok(all)
}

async fn read_items(item_type: &str, store: &dyn DocumentStore) -> AppResult<Vec<ItemFacts>> {
    let mut items = Vec::new();
    let page = u64::try_from(PAGE).unwrap_or(500);
    let mut offset = 0;
    loop {
        let found = store.find(&Filter::new(), offset, page).await?;
        for doc in &found.documents {
            let Some(id) = doc.get("id").and_then(|v| v.as_str()) else { continue };
            let stock = doc.get("stock").and_then(serde_json::Value::as_i64).unwrap_or(0);
            let moves = store.stock_moves(id).await?;
            items.push(ItemFacts { id: id.to_string(), item_type: item_type.to_string(), stock, moves });
        }
        offset += page;
        if found.documents.len() < PAGE as usize || offset >= found.count {
            break;
        }
    }
    Ok(items)
}

impl Snapshot {
    /// How many records of each kind were read.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        [
            ("items", self.items.as_ref().map(Vec::len)),
            ("carts", self.carts.as_ref().map(Vec::len)),
            ("orders", self.orders.as_ref().map(Vec::len)),
            ("payments", self.payments.as_ref().map(Vec::len)),
            ("shipments", self.shipments.as_ref().map(Vec::len)),
            ("VIP members", self.members.as_ref().map(Vec::len)),
            ("accounts", self.accounts.as_ref().map(|a| a.live.len() + a.closed.len())),
        ]
        .into_iter()
        .filter_map(|(what, n)| n.map(|n| (what, n)))
        .collect()
    }

    /// Every customer id the transaction stores know of (orders, carts of
    /// customers, payments, VIP members): what account invariants check.
    pub fn subjects(&self) -> BTreeSet<String> {
        let mut subjects = BTreeSet::new();
        subjects.extend(self.orders.iter().flatten().map(|o| o.customer_id.clone()));
        subjects.extend(
            self.carts
                .iter()
                .flatten()
                .filter(|c| c.owner.kind == cart::OwnerKind::Customer)
                .map(|c| c.owner.id.clone()),
        );
        subjects.extend(self.payments.iter().flatten().map(|p| p.customer_id.clone()));
        subjects.extend(self.members.iter().flatten().map(|m| m.customer.customer_id.clone()));
        subjects
    }
}
