//! A stateful, randomized test of the whole shop. Customers (fixture accounts,
//! a VIP, and customers who sign up on the way) and staff drive random
//! sequences of the shop's operations: cart changes, checkouts with and
//! without points, payments by every method and test card, cancels, refunds
//! through the order and through paying, shipment events, the expiry sweep on
//! the order service's clock, password changes, account closure and upgrades.
//! Some steps are sent two at a time. After every step the invariant checker
//! reads every store, and a small model of who may do what says what each
//! answer may be: a closed account or a revoked token moves no money, nobody
//! acts on another customer's order, two checkouts of one cart make one order,
//! and nothing answers 500.
//!
//! A failing case prints its seed and its steps, shrunk to the fewest steps
//! that still fail. CI runs a bounded number of cases on SQLite and on MariaDB
//! with PostgreSQL; `SHOP_MODEL_CASES`, `SHOP_MODEL_STEPS` and `SHOP_MODEL_SEED`
//! run more, or one case again (see the README).

mod support;

use std::fmt;

use http::{Method, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use support::{Answer, Shop, card, staff};

/// Shrinking replays a failing case on a fresh shop up to this many times.
const SHRINK_RUNS: usize = 120;
const CUSTOMER_PASSWORD: &str = fixtures::customers::DEMO_CUSTOMER_PASSWORD;

/// How a payment is attempted.
#[derive(Debug, Clone, Copy)]
enum Pay {
    Card,
    Declined,
    InsufficientFunds,
    FirstAttemptFails,
    Wallet,
    WalletDeclined,
    Points,
}

const PAYS: [Pay; 7] = [
    Pay::Card,
    Pay::Declined,
    Pay::InsufficientFunds,
    Pay::FirstAttemptFails,
    Pay::Wallet,
    Pay::WalletDeclined,
    Pay::Points,
];
const SHIPMENT_EVENTS: [&str; 5] = ["in_transit", "out_for_delivery", "delivered", "failed_delivery", "returned"];

/// One operation. Customers, items and orders are numbers that pick among those
/// there are when the step runs (modulo), so a shrunk sequence still runs.
#[derive(Debug, Clone)]
enum Step {
    Add {
        who: usize,
        item: usize,
        quantity: i64,
        stale: bool,
    },
    SetQuantity {
        who: usize,
        item: usize,
        quantity: i64,
    },
    Remove {
        who: usize,
        item: usize,
    },
    Checkout {
        who: usize,
        redeem: i64,
        ship: bool,
        stale: bool,
    },
    /// Two checkouts of one cart at once, each with its own Idempotency-Key.
    DoubleCheckout {
        who: usize,
    },
    /// By the order's owner, or (`who`) by another customer.
    Pay {
        who: Option<usize>,
        order: usize,
        how: Pay,
        stale: bool,
    },
    Cancel {
        who: Option<usize>,
        order: usize,
    },
    /// Pay and cancel one order at once.
    PayAndCancel {
        order: usize,
    },
    Capture {
        order: usize,
    },
    RefundOrder {
        order: usize,
    },
    RefundPayment {
        order: usize,
        part: bool,
    },
    Ship {
        order: usize,
        event: usize,
    },
    /// The order service's clock moves on, and the sweep runs.
    Sweep {
        minutes: i64,
    },
    Restock {
        item: usize,
        stock: i64,
    },
    ChangePassword {
        who: usize,
    },
    Close {
        who: usize,
    },
    Upgrade {
        who: usize,
    },
    SignUp,
}

struct Customer {
    email: String,
    password: String,
    token: String,
    /// A token from before the last password change.
    revoked: Option<String>,
    closed: bool,
    vip: bool,
}

struct OrderRef {
    id: String,
    owner: usize,
}

/// What the test knows of the shop: the customers with their tokens, the
/// items, and every order made.
struct World {
    customers: Vec<Customer>,
    items: Vec<(&'static str, String)>,
    orders: Vec<OrderRef>,
    signups: usize,
    keys: usize,
    /// How each kind of step was answered, for the log: `(step, status) -> times`.
    answers: std::cell::RefCell<std::collections::BTreeMap<(String, u16), u32>>,
}

struct Failure {
    step: usize,
    why: String,
}

fn gen_step(rng: &mut StdRng) -> Step {
    // Mostly the first customers (so carts grow into orders), now and then one who signed up.
    let who = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 4][rng.random_range(0..11)];
    let order = rng.random_range(0..64);
    let stale = rng.random_bool(0.15);
    let other = rng.random_bool(0.15).then_some(who);
    match rng.random_range(0..100) {
        0..=19 => Step::Add { who, item: rng.random_range(0..4), quantity: rng.random_range(1..4), stale },
        20..=24 => Step::SetQuantity { who, item: rng.random_range(0..4), quantity: rng.random_range(0..5) },
        25..=27 => Step::Remove { who, item: rng.random_range(0..4) },
        28..=41 => Step::Checkout {
            who,
            redeem: [0, 0, 100, 5_000][rng.random_range(0..4)],
            ship: rng.random_bool(0.5),
            stale,
        },
        42..=45 => Step::DoubleCheckout { who },
        46..=57 => Step::Pay { who: other, order, how: PAYS[rng.random_range(0..PAYS.len())], stale },
        58..=62 => Step::Cancel { who: other, order },
        63..=66 => Step::PayAndCancel { order },
        67..=69 => Step::Capture { order },
        70..=72 => Step::RefundOrder { order },
        73..=75 => Step::RefundPayment { order, part: rng.random_bool(0.5) },
        76..=82 => Step::Ship { order, event: rng.random_range(0..SHIPMENT_EVENTS.len()) },
        83..=86 => Step::Sweep { minutes: [5, 20, 31, 45][rng.random_range(0..4)] },
        87..=88 => Step::Restock { item: rng.random_range(0..4), stock: rng.random_range(0..6) },
        89..=91 => Step::ChangePassword { who },
        92..=93 => Step::Close { who },
        94..=95 => Step::Upgrade { who },
        _ => Step::SignUp,
    }
}

fn steps_of(seed: u64, count: usize) -> Vec<Step> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count).map(|_| gen_step(&mut rng)).collect()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sequences_of_the_shops_operations_keep_every_invariant() {
    let cases = env_number("SHOP_MODEL_CASES", 3);
    let steps = env_number("SHOP_MODEL_STEPS", 40) as usize;
    let first_seed = std::env::var("SHOP_MODEL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u32>() as u64);
    for set in ["sqlite", "servers"] {
        for case in 0..cases {
            let seed = first_seed + case;
            eprintln!("shop model: {set}, case {}/{cases}, seed {seed}, {steps} steps", case + 1);
            let sequence = steps_of(seed, steps);
            let Some(shop) = fresh_shop(set, seed).await else { continue };
            match run(&shop, &sequence).await {
                Ok(world) => {
                    let tally: Vec<String> = world
                        .answers
                        .borrow()
                        .iter()
                        .map(|((step, status), n)| format!("{step} {status}: {n}"))
                        .collect();
                    eprintln!("  answers: {}; {} orders", tally.join(", "), world.orders.len());
                }
                Err(failure) => {
                    let (shrunk, failure) = shrink(set, seed, sequence, failure).await;
                    let listed: Vec<String> = shrunk.iter().enumerate().map(|(n, s)| format!("  {n}: {s}")).collect();
                    panic!(
                        "shop model on {set}: seed {seed} fails at step {} of {} (shrunk): {}\n{}\n\
                     run it again with SHOP_MODEL_SEED={seed} SHOP_MODEL_CASES=1 SHOP_MODEL_STEPS={steps}",
                        failure.step,
                        shrunk.len(),
                        failure.why,
                        listed.join("\n")
                    );
                }
            }
        }
    }
}

/// The shop on one store set, as `support::shops` makes it; `None` for the
/// servers when they are not there (a failure in CI, where they must be).
async fn fresh_shop(set: &str, seed: u64) -> Option<Shop> {
    support::shops_on(&format!("model_{seed}"), &[set]).await.pop()
}

/// Drops steps while the case still fails: halves, then quarters, down to one
/// step at a time, each try on a fresh shop.
async fn shrink(set: &str, seed: u64, mut steps: Vec<Step>, mut failure: Failure) -> (Vec<Step>, Failure) {
    steps.truncate(failure.step + 1);
    let mut runs = 0;
    let mut chunk = steps.len().div_ceil(2);
    while chunk >= 1 && runs < SHRINK_RUNS {
        let mut start = 0;
        while start < steps.len() && runs < SHRINK_RUNS {
            let mut fewer = steps.clone();
            fewer.drain(start..(start + chunk).min(steps.len()));
            runs += 1;
            let Some(shop) = fresh_shop(set, seed).await else { break };
            match run(&shop, &fewer).await {
                Err(smaller) => {
                    fewer.truncate(smaller.step + 1);
                    (steps, failure) = (fewer, smaller);
                }
                Ok(_) => start += chunk,
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    (steps, failure)
}

async fn run(shop: &Shop, steps: &[Step]) -> Result<World, Failure> {
    let mut world = World::new(shop).await;
    for (n, step) in steps.iter().enumerate() {
        let fail = |why: String| Failure { step: n, why: format!("{step}: {why}") };
        world.apply(shop, step).await.map_err(fail)?;
        let report = shop.check().await;
        if !report.is_clean() {
            return Err(fail(format!("after it the shop breaks its invariants:\n{report}")));
        }
    }
    Ok(world)
}

fn login_answer(answer: &Answer) -> Result<String, String> {
    answer.json["access_token"].as_str().map(str::to_string).ok_or_else(|| format!("no token: {}", answer.text))
}

/// Never a 500 (nor 501 to 599, but for 503 with `Retry-After`, the documented
/// answer of a step that can be sent again).
fn sound(answer: &Answer) -> Result<(), String> {
    if answer.status.is_server_error()
        && !(answer.status == StatusCode::SERVICE_UNAVAILABLE && answer.headers.contains_key("retry-after"))
    {
        return Err(format!("answered {}: {}", answer.status, answer.text));
    }
    Ok(())
}

fn one_of(answer: &Answer, allowed: &[StatusCode]) -> Result<(), String> {
    sound(answer)?;
    if answer.status == StatusCode::SERVICE_UNAVAILABLE || allowed.contains(&answer.status) {
        Ok(())
    } else {
        Err(format!("answered {} (expected one of {allowed:?}): {}", answer.status, answer.text))
    }
}

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;
const NO_CONTENT: StatusCode = StatusCode::NO_CONTENT;
const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;
const FORBIDDEN: StatusCode = StatusCode::FORBIDDEN;
const NOT_FOUND: StatusCode = StatusCode::NOT_FOUND;
const CONFLICT: StatusCode = StatusCode::CONFLICT;
const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
const PAYMENT_REQUIRED: StatusCode = StatusCode::PAYMENT_REQUIRED;

impl World {
    async fn new(shop: &Shop) -> Self {
        let mut customers = Vec::new();
        for (email, vip) in
            [("ada.lovelace@example.com", false), ("grace.hopper@example.com", false), ("vip456@example.com", true)]
        {
            let answer = login(shop, email, CUSTOMER_PASSWORD).await;
            let token = login_answer(&answer).unwrap();
            customers.push(Customer {
                email: email.to_string(),
                password: CUSTOMER_PASSWORD.to_string(),
                token,
                revoked: None,
                closed: false,
                vip,
            });
        }
        let items = vec![
            ("book", shop.item("book", 6, 2_000).await),
            ("clothes", shop.item("clothes", 4, 1_500).await),
            ("laptop", shop.item("laptop", 2, 50_000).await),
            ("mobile", shop.item("mobile", 3, 30_000).await),
        ];
        Self { customers, items, orders: Vec::new(), signups: 0, keys: 0, answers: Default::default() }
    }

    fn key(&mut self, what: &str) -> String {
        self.keys += 1;
        format!("model-{what}-{}", self.keys)
    }

    fn who(&self, n: usize) -> usize {
        n % self.customers.len()
    }

    /// The token a step sends, and whether the model says it is refused where money moves.
    fn token(&self, who: usize, stale: bool) -> (String, bool) {
        let customer = &self.customers[who];
        match (&customer.revoked, stale) {
            (Some(old), true) => (old.clone(), true),
            _ => (customer.token.clone(), customer.closed),
        }
    }

    /// Mostly one of the latest orders.
    fn order(&self, n: usize) -> Option<&OrderRef> {
        let latest = self.orders.len().checked_sub(1)?;
        let back = if n.is_multiple_of(4) { n % self.orders.len() } else { n % self.orders.len().min(3) };
        Some(&self.orders[latest - back])
    }

    fn tally(&self, step: &Step, answer: &Answer) {
        let kind = format!("{step:?}");
        let kind = kind.split([' ', '{']).next().unwrap_or_default().to_string();
        *self.answers.borrow_mut().entry((kind, answer.status.as_u16())).or_default() += 1;
    }

    async fn apply(&mut self, shop: &Shop, step: &Step) -> Result<(), String> {
        match *step {
            Step::Add { who, item, quantity, stale } => {
                let who = self.who(who);
                let (token, refused) = self.token(who, stale);
                let (item_type, item_id) = self.items[item % self.items.len()].clone();
                let answer = shop.add(&token, item_type, &item_id, quantity).await;
                self.tally(step, &answer);
                money_move(&answer, refused, &[CREATED, CONFLICT, UNPROCESSABLE])
            }
            Step::SetQuantity { who, item, quantity } => {
                let who = self.who(who);
                let (token, refused) = self.token(who, false);
                let path = format!("/api/cart/items/{}", self.items[item % self.items.len()].1);
                let answer =
                    shop.call(Method::PATCH, &path, Some(&token), None, Some(json!({ "quantity": quantity }))).await;
                self.tally(step, &answer);
                money_move(&answer, refused, &[OK, NOT_FOUND, CONFLICT, UNPROCESSABLE])
            }
            Step::Remove { who, item } => {
                let who = self.who(who);
                let (token, refused) = self.token(who, false);
                let path = format!("/api/cart/items/{}", self.items[item % self.items.len()].1);
                let answer = shop.call(Method::DELETE, &path, Some(&token), None, None).await;
                self.tally(step, &answer);
                money_move(&answer, refused, &[OK, NO_CONTENT, NOT_FOUND])
            }
            Step::Checkout { who, redeem, ship, stale } => {
                let who = self.who(who);
                let (token, refused) = self.token(who, stale);
                let redeem = if self.customers[who].vip { redeem } else { 0 };
                let key = self.key("checkout");
                let answer = shop.checkout(&token, &key, checkout_body(redeem, ship)).await;
                self.tally(step, &answer);
                money_move(&answer, refused, &[CREATED, CONFLICT, UNPROCESSABLE, StatusCode::TOO_MANY_REQUESTS])?;
                if answer.status == CREATED {
                    self.orders.push(OrderRef { id: answer.id(), owner: who });
                }
                Ok(())
            }
            Step::DoubleCheckout { who } => {
                let who = self.who(who);
                let (token, refused) = self.token(who, false);
                let (first, second) = (self.key("checkout"), self.key("checkout"));
                let (a, b) = tokio::join!(
                    shop.checkout(&token, &first, checkout_body(0, false)),
                    shop.checkout(&token, &second, checkout_body(0, false))
                );
                self.tally(step, &a);
                self.tally(step, &b);
                let mut made = Vec::new();
                for answer in [&a, &b] {
                    money_move(answer, refused, &[CREATED, CONFLICT, UNPROCESSABLE, StatusCode::TOO_MANY_REQUESTS])?;
                    if answer.status == CREATED {
                        made.push(answer.id());
                    }
                }
                made.dedup();
                if made.len() > 1 {
                    return Err(format!("one cart made two orders: {made:?}"));
                }
                self.orders.extend(made.into_iter().map(|id| OrderRef { id, owner: who }));
                Ok(())
            }
            Step::Pay { who, order, how, stale } => {
                let Some(order) = self.order(order) else { return Ok(()) };
                let (id, owner) = (order.id.clone(), order.owner);
                let who = who.map_or(owner, |w| self.who(w));
                let (token, refused) = self.token(who, stale);
                let key = self.key("pay");
                let answer = shop.pay(&token, &key, payment(&id, how)).await;
                self.tally(step, &answer);
                let allowed = [CREATED, OK, CONFLICT, PAYMENT_REQUIRED, UNPROCESSABLE];
                if refused {
                    return money_move(&answer, true, &allowed);
                }
                not_theirs(&answer, who != owner, &allowed)
            }
            Step::Cancel { who, order } => {
                let Some(order) = self.order(order) else { return Ok(()) };
                let (id, owner) = (order.id.clone(), order.owner);
                let who = who.map_or(owner, |w| self.who(w));
                let (token, refused) = self.token(who, false);
                let answer = shop.post(&format!("/api/orders/{id}/cancel"), &token, None).await;
                self.tally(step, &answer);
                if refused {
                    return money_move(&answer, true, &[OK, CONFLICT]);
                }
                not_theirs(&answer, who != owner, &[OK, CONFLICT])
            }
            Step::PayAndCancel { order } => {
                let Some(order) = self.order(order) else { return Ok(()) };
                let (id, owner) = (order.id.clone(), order.owner);
                let (token, refused) = self.token(owner, false);
                let key = self.key("pay");
                let cancel = format!("/api/orders/{id}/cancel");
                let (paid, cancelled) =
                    tokio::join!(shop.pay(&token, &key, card(&id)), shop.post(&cancel, &token, None));
                self.tally(step, &paid);
                self.tally(step, &cancelled);
                money_move(&paid, refused, &[CREATED, OK, CONFLICT, PAYMENT_REQUIRED, UNPROCESSABLE])?;
                money_move(&cancelled, refused, &[OK, CONFLICT])?;
                if paid.status == CREATED && cancelled.status == OK && paid.json["state"] != "voided" {
                    // Both may succeed only in that order: paid, then cancelled (which voids or refunds).
                    let now = shop.order(&id).await;
                    if now["status"] != "cancelled" {
                        return Err(format!("paid and cancelled, and the order says {}", now["status"]));
                    }
                }
                Ok(())
            }
            Step::Capture { order } => {
                let Some(payment) = self.payment_of(shop, order).await else { return Ok(()) };
                let key = self.key("capture");
                let path = format!("/api/payments/{payment}/capture");
                let answer = shop.call(Method::POST, &path, Some(&staff()), Some(&key), None).await;
                self.tally(step, &answer);
                one_of(&answer, &[OK, CONFLICT])
            }
            Step::RefundOrder { order } => {
                let Some(order) = self.order(order) else { return Ok(()) };
                let answer = shop.post(&format!("/api/orders/{}/refund", order.id), &staff(), None).await;
                self.tally(step, &answer);
                one_of(&answer, &[OK, CONFLICT])
            }
            Step::RefundPayment { order, part } => {
                let Some(payment) = self.payment_of(shop, order).await else { return Ok(()) };
                let key = self.key("refund");
                let body =
                    if part { json!({ "amount": 100, "reason": "model" }) } else { json!({ "reason": "model" }) };
                let path = format!("/api/payments/{payment}/refunds");
                let answer = shop.call(Method::POST, &path, Some(&staff()), Some(&key), Some(body)).await;
                self.tally(step, &answer);
                one_of(&answer, &[CREATED, OK, CONFLICT, UNPROCESSABLE])
            }
            Step::Ship { order, event } => {
                let Some(order) = self.order(order) else { return Ok(()) };
                let shipment = shop.shipment(&order.id).await;
                let Some(shipment) = shipment["id"].as_str() else { return Ok(()) };
                let answer = shop.event(shipment, SHIPMENT_EVENTS[event]).await;
                self.tally(step, &answer);
                one_of(&answer, &[CREATED, CONFLICT, UNPROCESSABLE])
            }
            Step::Sweep { minutes } => {
                shop.clock.advance(minutes * 60);
                shop.functions.order.sweep().await;
                Ok(())
            }
            Step::Restock { item, stock } => {
                let path = format!("/api/items/{}/", self.items[item % self.items.len()].1);
                let answer =
                    shop.call(Method::PATCH, &path, Some(&staff()), None, Some(json!({ "stock": stock }))).await;
                self.tally(step, &answer);
                one_of(&answer, &[OK, CONFLICT])
            }
            Step::ChangePassword { who } => {
                let who = self.who(who);
                let customer = &self.customers[who];
                let new_password = format!("{} again {}", customer.password, self.keys);
                let body = json!({ "current_password": customer.password, "new_password": new_password });
                let answer = shop.post("/api/customers/password", &customer.token, Some(body)).await;
                self.tally(step, &answer);
                if customer.closed {
                    return money_move(&answer, true, &[]);
                }
                one_of(&answer, &[OK, NO_CONTENT])?;
                self.keys += 1;
                let fresh = login_answer(&login(shop, &customer.email, &new_password).await)?;
                let customer = &mut self.customers[who];
                customer.revoked = Some(std::mem::replace(&mut customer.token, fresh));
                customer.password = new_password;
                Ok(())
            }
            Step::Close { who } => {
                let who = self.who(who);
                let customer = &self.customers[who];
                let body = json!({ "password": customer.password });
                let answer =
                    shop.call(Method::DELETE, "/api/customers/", Some(&customer.token), None, Some(body)).await;
                self.tally(step, &answer);
                if customer.closed {
                    // Closing again finishes what a first closure left (204), or finds nothing (401, 404).
                    return one_of(&answer, &[NO_CONTENT, UNAUTHORIZED, NOT_FOUND]);
                }
                one_of(&answer, &[NO_CONTENT])?;
                if answer.status == NO_CONTENT {
                    self.customers[who].closed = true;
                }
                Ok(())
            }
            Step::Upgrade { who } => {
                let who = self.who(who);
                let customer = &self.customers[who];
                let answer = shop.post("/api/customers/upgrade", &customer.token, None).await;
                self.tally(step, &answer);
                if customer.closed {
                    return money_move(&answer, true, &[]);
                }
                one_of(&answer, &[OK, CREATED, CONFLICT, FORBIDDEN])?;
                if answer.status.is_success() {
                    let token = login_answer(&answer)?;
                    let customer = &mut self.customers[who];
                    customer.token = token;
                    customer.vip = true;
                }
                Ok(())
            }
            Step::SignUp => {
                self.signups += 1;
                let email = format!("model{}-{}@example.com", self.signups, self.keys);
                let password = "a model password 1".to_string();
                let body = json!({ "email": email, "password": password, "name": "Model Customer" });
                let answer = shop.call(Method::POST, "/api/customers/signup", None, None, Some(body)).await;
                self.tally(step, &answer);
                one_of(&answer, &[StatusCode::ACCEPTED])?;
                let token = mail_token(shop, &email)?;
                let verified = shop
                    .call(Method::POST, "/api/customers/verify-email", None, None, Some(json!({ "token": token })))
                    .await;
                self.tally(step, &verified);
                one_of(&verified, &[OK, NO_CONTENT])?;
                let session = login(shop, &email, &password).await;
                let token = login_answer(&session)?;
                self.customers.push(Customer { email, password, token, revoked: None, closed: false, vip: false });
                Ok(())
            }
        }
    }

    /// The order's latest payment, as staff list them.
    async fn payment_of(&self, shop: &Shop, order: usize) -> Option<String> {
        let order = self.order(order)?;
        let page = shop.get(&format!("/api/payments/?order_id={}", order.id), &staff()).await;
        page.json["results"][0]["id"].as_str().map(str::to_string)
    }
}

/// A money move by a closed account or with a revoked token is refused with
/// 401 (a 404 for a cart line that went with the account is as good); others
/// answer one of `allowed`.
fn money_move(answer: &Answer, refused: bool, allowed: &[StatusCode]) -> Result<(), String> {
    sound(answer)?;
    if refused {
        return match answer.status {
            UNAUTHORIZED | NOT_FOUND => Ok(()),
            other => Err(format!("a closed account or revoked token got {other}: {}", answer.text)),
        };
    }
    let mut allowed = allowed.to_vec();
    allowed.push(StatusCode::PAYMENT_REQUIRED);
    one_of(answer, &allowed)
}

/// Acting on another customer's order is refused (403 or 404) and changes nothing.
fn not_theirs(answer: &Answer, theirs: bool, allowed: &[StatusCode]) -> Result<(), String> {
    if theirs {
        sound(answer)?;
        return match answer.status {
            FORBIDDEN | NOT_FOUND | UNPROCESSABLE => Ok(()),
            other => Err(format!("acted on another customer's order: {other}: {}", answer.text)),
        };
    }
    one_of(answer, allowed)
}

fn checkout_body(redeem: i64, ship: bool) -> Value {
    if ship {
        json!({ "delivery_option": "standard", "shipping_address": support::address(), "redeem_points": redeem })
    } else {
        json!({ "delivery_option": "pickup", "redeem_points": redeem })
    }
}

fn payment(order_id: &str, how: Pay) -> Value {
    let with_card = |number: &str| {
        json!({ "order_id": order_id, "method": "card",
            "card": { "number": number, "exp_month": 12, "exp_year": 2035, "cvc": "123" } })
    };
    match how {
        Pay::Card => card(order_id),
        Pay::Declined => with_card("4000000000000002"),
        Pay::InsufficientFunds => with_card("4000000000009995"),
        Pay::FirstAttemptFails => with_card("4000000000000259"),
        Pay::Wallet => json!({ "order_id": order_id, "method": "wallet", "wallet": { "email": "payer@example.com" } }),
        Pay::WalletDeclined => {
            json!({ "order_id": order_id, "method": "wallet", "wallet": { "email": "payer@decline.test" } })
        }
        Pay::Points => json!({ "order_id": order_id, "method": "points" }),
    }
}

async fn login(shop: &Shop, email: &str, password: &str) -> Answer {
    let body = json!({ "email": email, "password": password });
    shop.call(Method::POST, "/api/customers/login", None, None, Some(body)).await
}

/// The confirmation token mailed to `email` (the local server's file mailer).
fn mail_token(shop: &Shop, email: &str) -> Result<String, String> {
    let dir = shop.env.get("MAIL_DIR").ok_or("no MAIL_DIR")?;
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let text = std::fs::read_to_string(entry.map_err(|e| e.to_string())?.path()).map_err(|e| e.to_string())?;
        if text.contains(&format!("To: {email}")) {
            let start = text.find("token=").ok_or("no token in the mail")? + "token=".len();
            return Ok(text[start..].split_whitespace().next().unwrap_or_default().to_string());
        }
    }
    Err(format!("no mail to {email}"))
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}
