//! Payments as values: methods, states, the card and wallet details a request
//! carries, their validation, and the JSON a client sees.
//!
//! A card's full number and CVC live only in a [`CardDetails`] for the length of
//! one request: its `Debug` hides them, validation messages never quote them, and
//! nothing stores them (the store keeps brand and last four digits).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use shared::error::{AppError, AppResult, FieldErrors};
use shared::extract::from_json_value;
use shared::ids::has_prefix;
use utoipa::ToSchema;

/// Longest Idempotency-Key, refund reason and wallet email accepted.
pub const MAX_KEY_CHARS: usize = 100;
pub const MAX_REASON_CHARS: usize = 200;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_HOLDER_CHARS: usize = 100;
/// The most points one redeem may take (the VIP ledger's limit).
pub const MAX_POINTS: i64 = 1_000_000;
/// How far ahead a card's expiry may be.
pub const MAX_EXPIRY_YEARS: i32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Card,
    Wallet,
    CashOnDelivery,
    Points,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Card, Method::Wallet, Method::CashOnDelivery, Method::Points];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Card => "card",
            Method::Wallet => "wallet",
            Method::CashOnDelivery => "cash_on_delivery",
            Method::Points => "points",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

/// Where a payment is. `processing` is only seen while a request works on a new
/// payment (or after one was cut off before it could finish; retrying its
/// Idempotency-Key finishes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    Processing,
    /// Cash on delivery, collected when the order is delivered.
    Pending,
    /// A card authorization, captured when the order ships.
    Authorized,
    Captured,
    Declined,
    /// Every attempt failed for a passing reason; retry with the same Idempotency-Key.
    Failed,
    Voided,
    PartiallyRefunded,
    Refunded,
}

impl PaymentState {
    const ALL: [PaymentState; 9] = [
        PaymentState::Processing,
        PaymentState::Pending,
        PaymentState::Authorized,
        PaymentState::Captured,
        PaymentState::Declined,
        PaymentState::Failed,
        PaymentState::Voided,
        PaymentState::PartiallyRefunded,
        PaymentState::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Processing => "processing",
            PaymentState::Pending => "pending",
            PaymentState::Authorized => "authorized",
            PaymentState::Captured => "captured",
            PaymentState::Declined => "declined",
            PaymentState::Failed => "failed",
            PaymentState::Voided => "voided",
            PaymentState::PartiallyRefunded => "partially_refunded",
            PaymentState::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The payment took (or will take) the customer's money and still holds some of it.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            PaymentState::Pending | PaymentState::Authorized | PaymentState::Captured | PaymentState::PartiallyRefunded
        )
    }

    /// Nothing was taken: a new payment for the same order may follow.
    pub fn is_unsuccessful(self) -> bool {
        matches!(self, PaymentState::Declined | PaymentState::Failed)
    }
}

impl fmt::Display for PaymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundKind {
    /// Money given back after a capture.
    Refund,
    /// An authorization (or a cash-on-delivery promise) cancelled before anything was collected.
    Void,
}

impl RefundKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundKind::Refund => "refund",
            RefundKind::Void => "void",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [RefundKind::Refund, RefundKind::Void].into_iter().find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Asked of the processor, answer not yet recorded; its amount is reserved.
    Pending,
    Succeeded,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [RefundStatus::Pending, RefundStatus::Succeeded].into_iter().find(|s| s.as_str() == text)
    }
}

/// A card as a request gives it. Lives for one request only.
#[derive(Clone, PartialEq, Eq)]
pub struct CardDetails {
    /// Digits only.
    number: String,
    pub exp_month: u32,
    pub exp_year: i32,
    cvc: String,
    pub holder: Option<String>,
}

impl fmt::Debug for CardDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardDetails")
            .field("brand", &self.brand())
            .field("last4", &self.last4())
            .field("exp_month", &self.exp_month)
            .field("exp_year", &self.exp_year)
            .finish_non_exhaustive()
    }
}

impl CardDetails {
    /// For the processor adapter only: the one place the full number goes.
    pub fn number(&self) -> &str {
        &self.number
    }

    pub fn cvc(&self) -> &str {
        &self.cvc
    }

    pub fn last4(&self) -> &str {
        &self.number[self.number.len().saturating_sub(4)..]
    }

    pub fn brand(&self) -> &'static str {
        card_brand(&self.number)
    }

    #[cfg(test)]
    pub fn test_card(number: &str) -> Self {
        Self { number: number.into(), exp_month: 12, exp_year: 2099, cvc: "123".into(), holder: None }
    }
}

/// The card network, from the number's leading digits.
pub fn card_brand(digits: &str) -> &'static str {
    let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    match () {
        _ if digits.starts_with('4') => "visa",
        _ if (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)) => "mastercard",
        _ if matches!(prefix(2), 34 | 37) => "amex",
        _ if prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)) => "discover",
        _ if (3528..=3589).contains(&prefix(4)) => "jcb",
        _ => "unknown",
    }
}

pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The current UTC year and month, which card expiry is checked against.
pub fn current_year_month() -> (i32, u32) {
    let now = time::OffsetDateTime::now_utc();
    (now.year(), u32::from(u8::from(now.month())))
}

/// A validated `POST /api/payments/` body.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub order_id: String,
    pub method: Method,
    pub card: Option<CardDetails>,
    pub wallet_email: Option<String>,
}

pub const PAYMENT_FIELDS: [&str; 4] = ["order_id", "method", "card", "wallet"];
const CARD_FIELDS: [&str; 5] = ["number", "exp_month", "exp_year", "cvc", "holder"];
const WALLET_FIELDS: [&str; 1] = ["email"];

impl PaymentRequest {
    /// Checks every field, naming each bad one. No message quotes a value: a card
    /// number sent as a JSON number must not come back in a response or a log.
    pub fn parse(mut body: Map<String, Value>, today: (i32, u32)) -> AppResult<Self> {
        let mut errors = FieldErrors::new();
        unknown_fields(&mut errors, &body, &PAYMENT_FIELDS, "");
        let card = body.remove("card").filter(|v| !v.is_null());
        let wallet = body.remove("wallet").filter(|v| !v.is_null());
        let order_id = match body.remove("order_id") {
            None | Some(Value::Null) => {
                errors.add("order_id", "is required");
                None
            }
            Some(Value::String(id)) if has_prefix(id.trim(), "order") => Some(id.trim().to_string()),
            Some(_) => {
                errors.add("order_id", "is not an order id (order_...)");
                None
            }
        };
        let choices = Method::ALL.map(Method::as_str).join(", ");
        let method = match body.remove("method") {
            None | Some(Value::Null) => {
                errors.add("method", format!("is required: one of {choices}"));
                None
            }
            Some(Value::String(m)) => {
                let method = Method::parse(&m);
                if method.is_none() {
                    errors.add("method", format!("must be one of {choices}"));
                }
                method
            }
            Some(_) => {
                errors.add("method", format!("must be a string: one of {choices}"));
                None
            }
        };
        let card = match (method, card) {
            (Some(Method::Card), None) => {
                errors.add("card", "is required for card payments");
                None
            }
            (Some(Method::Card), Some(card)) => parse_card(&mut errors, card, today),
            (_, Some(_)) => {
                errors.add("card", "is only for card payments");
                None
            }
            (_, None) => None,
        };
        let wallet_email = match (method, wallet) {
            (Some(Method::Wallet), None) => {
                errors.add("wallet", "is required for wallet payments");
                None
            }
            (Some(Method::Wallet), Some(wallet)) => parse_wallet(&mut errors, wallet),
            (_, Some(_)) => {
                errors.add("wallet", "is only for wallet payments");
                None
            }
            (_, None) => None,
        };
        errors.into_result()?;
        match (order_id, method) {
            (Some(order_id), Some(method)) => Ok(Self { order_id, method, card, wallet_email }),
            _ => Err(AppError::internal("a payment request passed validation without its fields")),
        }
    }

    /// What tells a retry from another request under the same Idempotency-Key.
    /// Built without the full number or CVC, so a leaked database cannot be
    /// searched for card numbers through it; a retry is the same request anyway.
    pub fn fingerprint(&self) -> String {
        let card = self.card.as_ref().map(|c| {
            serde_json::json!({
                "brand": c.brand(), "last4": c.last4(), "exp_month": c.exp_month, "exp_year": c.exp_year,
                "holder": c.holder,
            })
        });
        let canonical = serde_json::json!({
            "order_id": self.order_id, "method": self.method.as_str(), "card": card, "wallet_email": self.wallet_email,
        });
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

fn unknown_fields(errors: &mut FieldErrors, body: &Map<String, Value>, known: &[&str], prefix: &str) {
    for name in body.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.add(format!("{prefix}{name}"), format!("unknown field; known fields: {}", known.join(", ")));
    }
}

fn parse_card(errors: &mut FieldErrors, card: Value, (year, month): (i32, u32)) -> Option<CardDetails> {
    let Value::Object(mut card) = card else {
        errors.add("card", "must be an object with number, exp_month, exp_year, cvc and optionally holder");
        return None;
    };
    let before = errors.clone();
    unknown_fields(errors, &card, &CARD_FIELDS, "card.");
    let number = match card.remove("number") {
        None | Some(Value::Null) => {
            errors.add("card.number", "is required");
            None
        }
        Some(Value::String(raw)) => {
            let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
            if !digits.bytes().all(|b| b.is_ascii_digit()) || !(12..=19).contains(&digits.len()) {
                errors.add("card.number", "must be 12 to 19 digits (spaces and dashes allowed)");
                None
            } else if !luhn_valid(&digits) {
                errors.add("card.number", "is not a valid card number (its check digit does not match)");
                None
            } else {
                Some(digits)
            }
        }
        Some(_) => {
            errors.add("card.number", "must be a string of digits");
            None
        }
    };
    let whole = |errors: &mut FieldErrors, field: &str, value: Option<Value>| match value {
        None | Some(Value::Null) => {
            errors.add(field, "is required");
            None
        }
        Some(Value::Number(n)) => match n.as_i64() {
            Some(n) => Some(n),
            None => {
                errors.add(field, "must be a whole number");
                None
            }
        },
        Some(_) => {
            errors.add(field, "must be a whole number");
            None
        }
    };
    let exp_month = whole(errors, "card.exp_month", card.remove("exp_month")).and_then(|m| {
        let month = u32::try_from(m).ok().filter(|m| (1..=12).contains(m));
        if month.is_none() {
            errors.add("card.exp_month", "must be a month from 1 to 12");
        }
        month
    });
    let exp_year = whole(errors, "card.exp_year", card.remove("exp_year")).and_then(|y| {
        let latest = year + MAX_EXPIRY_YEARS;
        match i32::try_from(y) {
            Ok(y) if y < year => {
                errors.add("card.exp_year", "the card has expired");
                None
            }
            Ok(y) if y > latest => {
                errors.add("card.exp_year", format!("must be a four-digit year from {year} to {latest}"));
                None
            }
            Ok(y) => Some(y),
            Err(_) => {
                errors.add("card.exp_year", format!("must be a four-digit year from {year} to {latest}"));
                None
            }
        }
    });
    if let (Some(m), Some(y)) = (exp_month, exp_year)
        && y == year
        && m < month
    {
        errors.add("card.exp_month", "the card has expired");
    }
    let cvc = match card.remove("cvc") {
        Some(Value::String(cvc)) if (3..=4).contains(&cvc.len()) && cvc.bytes().all(|b| b.is_ascii_digit()) => {
            Some(cvc)
        }
        None | Some(Value::Null) => {
            errors.add("card.cvc", "is required");
            None
        }
        Some(_) => {
            errors.add("card.cvc", "must be a string of 3 or 4 digits");
            None
        }
    };
    let holder = match card.remove("holder") {
        None | Some(Value::Null) => None,
        Some(Value::String(h)) if h.trim().is_empty() => None,
        Some(Value::String(h)) if h.trim().chars().count() <= MAX_HOLDER_CHARS && !h.chars().any(char::is_control) => {
            Some(h.trim().to_string())
        }
        Some(_) => {
            errors.add("card.holder", format!("must be a name of at most {MAX_HOLDER_CHARS} characters"));
            None
        }
    };
    if *errors != before {
        return None;
    }
    Some(CardDetails { number: number?, exp_month: exp_month?, exp_year: exp_year?, cvc: cvc?, holder })
}

fn parse_wallet(errors: &mut FieldErrors, wallet: Value) -> Option<String> {
    let Value::Object(mut wallet) = wallet else {
        errors.add("wallet", "must be an object with the wallet's email");
        return None;
    };
    unknown_fields(errors, &wallet, &WALLET_FIELDS, "wallet.");
    match wallet.remove("email") {
        Some(Value::String(email)) if plausible_email(email.trim()) => Some(email.trim().to_string()),
        None | Some(Value::Null) => {
            errors.add("wallet.email", "is required");
            None
        }
        Some(_) => {
            errors.add("wallet.email", format!("must be an email address of at most {MAX_EMAIL_CHARS} characters"));
            None
        }
    }
}

fn plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            email.chars().count() <= MAX_EMAIL_CHARS
                && !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// A `POST /api/payments/{id}/refunds` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Minor units; the rest of the captured amount when left out. An authorized
    /// card (or a pending cash-on-delivery payment) is voided, in full only.
    #[serde(default)]
    pub amount: Option<i64>,
    /// Why, for the records: 1 to 200 characters.
    pub reason: String,
}

impl RefundRequest {
    pub const FIELDS: [&'static str; 2] = ["amount", "reason"];

    pub fn parse(body: Map<String, Value>) -> AppResult<Self> {
        let mut errors = FieldErrors::new();
        unknown_fields(&mut errors, &body, &Self::FIELDS, "");
        errors.into_result()?;
        let mut request: Self = from_json_value(Value::Object(body))?;
        request.reason = request.reason.trim().to_string();
        let mut errors = FieldErrors::new();
        if let Some(amount) = request.amount
            && amount <= 0
        {
            errors.add("amount", "must be a positive amount in minor units");
        }
        check_reason(&mut errors, "reason", &request.reason);
        errors.into_result()?;
        Ok(request)
    }
}

pub fn check_reason(errors: &mut FieldErrors, field: &str, reason: &str) {
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        errors.add(field, format!("must be 1 to {MAX_REASON_CHARS} characters of text"));
    }
}

/// A card as a payment shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CardSummary {
    /// `visa`, `mastercard`, `amex`, `discover`, `jcb` or `unknown`.
    pub brand: String,
    pub last4: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RefundView {
    #[schema(example = "refund_01JDQ8Z3X4C5V6B7N8M9K0J1H2")]
    pub id: String,
    pub kind: RefundKind,
    pub status: RefundStatus,
    /// Minor units of the payment's currency.
    pub amount: i64,
    pub reason: String,
    pub created_at: String,
}

/// A payment as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentView {
    #[schema(example = "payment_01JDQ8Z3X4C5V6B7N8M9K0J1H2")]
    pub id: String,
    pub order_id: String,
    pub customer_id: String,
    pub method: Method,
    pub state: PaymentState,
    /// The order's total, in minor units of `currency`.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    pub captured_amount: i64,
    pub refunded_amount: i64,
    /// Brand and last four digits; never the number.
    pub card: Option<CardSummary>,
    pub wallet_email: Option<String>,
    /// Why a payment was declined or failed: `card_declined`, `insufficient_funds`,
    /// `card_not_supported`, `processor_unavailable`, `wallet_declined`,
    /// `insufficient_points`, `points_unavailable`.
    pub decline_code: Option<String>,
    /// Oldest first.
    pub refunds: Vec<RefundView>,
    pub created_at: String,
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn card_errors(card: Value) -> FieldErrors {
        let request = body(json!({ "order_id": "order_01JDQ000000000000000000000", "method": "card", "card": card }));
        match PaymentRequest::parse(request, (2026, 6)) {
            Err(AppError::Validation(errors)) => errors,
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn luhn_and_brands() {
        for good in ["4242424242424242", "4000000000000002", "4000000000009995", "4000000000000119", "4000000000000259"]
        {
            assert!(luhn_valid(good), "{good}");
            assert_eq!(card_brand(good), "visa");
        }
        assert!(!luhn_valid("4242424242424241"));
        assert!(!luhn_valid(""));
        assert_eq!(card_brand("5555555555554444"), "mastercard");
        assert_eq!(card_brand("2223003122003222"), "mastercard");
        assert_eq!(card_brand("378282246310005"), "amex");
        assert_eq!(card_brand("6011111111111117"), "discover");
        assert_eq!(card_brand("3566002020360505"), "jcb");
        assert_eq!(card_brand("9999999999999995"), "unknown");
    }

    #[test]
    fn valid_cards_keep_their_digits_out_of_debug() {
        let card = json!({ "number": "4242 4242-4242 4242", "exp_month": 6, "exp_year": 2026, "cvc": "123" });
        let request = body(json!({ "order_id": "order_01JDQ000000000000000000000", "method": "card", "card": card }));
        let parsed = PaymentRequest::parse(request, (2026, 6)).unwrap();
        let card = parsed.card.as_ref().unwrap();
        assert_eq!((card.brand(), card.last4(), card.number()), ("visa", "4242", "4242424242424242"));
        let debug = format!("{parsed:?}");
        assert!(!debug.contains("4242424242424242") && !debug.contains("123"), "{debug}");
        assert_eq!(parsed.fingerprint().len(), 64);
    }

    #[test]
    fn bad_cards_name_each_field_without_quoting_it() {
        let errors =
            card_errors(json!({ "number": "4242424242424241", "exp_month": 13, "exp_year": 2026, "cvc": "12" }));
        assert!(errors.contains("card.number") && errors.contains("card.exp_month") && errors.contains("card.cvc"));
        let past = card_errors(json!({ "number": "4242424242424242", "exp_month": 5, "exp_year": 2026, "cvc": "123" }));
        assert!(past.contains("card.exp_month"), "{past:?}");
        let far = card_errors(json!({ "number": "4242424242424242", "exp_month": 5, "exp_year": 2047, "cvc": "123" }));
        assert!(far.contains("card.exp_year"));
        let typed =
            card_errors(json!({ "number": 4242424242424242_i64, "exp_month": "6", "exp_year": 2030, "cvc": 123 }));
        assert!(typed.contains("card.number") && typed.contains("card.exp_month") && typed.contains("card.cvc"));
        let text = format!("{typed:?}");
        assert!(!text.contains("4242424242424242"), "{text}");
        let extra = card_errors(json!({ "number": "4242424242424242", "exp_month": 6, "exp_year": 2030, "cvc": "123",
            "pin": "1234" }));
        assert!(extra.contains("card.pin"));
    }

    #[test]
    fn method_specific_parts_are_required_and_exclusive() {
        let parse = |v: Value| PaymentRequest::parse(body(v), (2026, 6));
        let order = "order_01JDQ000000000000000000000";
        for (value, field) in [
            (json!({ "order_id": order, "method": "card" }), "card"),
            (json!({ "order_id": order, "method": "wallet" }), "wallet"),
            (json!({ "order_id": order, "method": "wallet", "wallet": { "email": "nope" } }), "wallet.email"),
            (json!({ "order_id": order, "method": "points", "wallet": { "email": "a@b.co" } }), "wallet"),
            (json!({ "order_id": order, "method": "bitcoin" }), "method"),
            (json!({ "order_id": "book_01JDQ000000000000000000000", "method": "points" }), "order_id"),
            (json!({ "method": "points" }), "order_id"),
            (json!({ "order_id": order, "method": "points", "tip": 5 }), "tip"),
        ] {
            match parse(value.clone()) {
                Err(AppError::Validation(errors)) => assert!(errors.contains(field), "{value} -> {errors:?}"),
                other => panic!("{value} -> {other:?}"),
            }
        }
        let cod = parse(json!({ "order_id": order, "method": "cash_on_delivery", "card": null })).unwrap();
        assert_eq!(cod.method, Method::CashOnDelivery);
    }

    #[test]
    fn refund_requests() {
        assert!(RefundRequest::parse(body(json!({ "reason": "damaged" }))).unwrap().amount.is_none());
        for bad in [json!({ "amount": 0, "reason": "x" }), json!({ "reason": " " }), json!({ "amount": 5, "why": "x" })]
        {
            assert!(matches!(RefundRequest::parse(body(bad)), Err(AppError::Validation(_))));
        }
    }
}
