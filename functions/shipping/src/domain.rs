//! Shipments' rules: delivery options and their carriers, the status machine,
//! tracking numbers and what a request body may say.

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::error::{AppError, AppResult, FieldErrors};
use shared::money::Currency;
use utoipa::ToSchema;

pub const MAX_LOCATION_CHARS: usize = 100;
pub const MAX_NOTE_CHARS: usize = 500;
pub const MAX_KEY_CHARS: usize = 100;
pub const MAX_ORDER_ID_CHARS: usize = 100;
pub const MAX_CUSTOMER_ID_CHARS: usize = 64;
/// An address is the order's to validate; this only keeps absurd ones out.
pub const MAX_ADDRESS_BYTES: usize = 2_000;
/// The VIP ledger takes at most this many points in one entry.
pub const MAX_EARN_POINTS: i64 = 1_000_000;
/// Random characters in a tracking number after the carrier prefix: 32^16 = 2^80
/// numbers, so one cannot be found by guessing.
pub const TRACKING_RANDOM_CHARS: usize = 16;
/// Crockford's base32: no I, L, O or U, so a number read out loud is not misheard.
const TRACKING_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Where a shipment stands; always the status of its last event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    LabelCreated,
    InTransit,
    OutForDelivery,
    Delivered,
    FailedDelivery,
    Returned,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::LabelCreated,
        Status::InTransit,
        Status::OutForDelivery,
        Status::Delivered,
        Status::FailedDelivery,
        Status::Returned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::LabelCreated => "label_created",
            Status::InTransit => "in_transit",
            Status::OutForDelivery => "out_for_delivery",
            Status::Delivered => "delivered",
            Status::FailedDelivery => "failed_delivery",
            Status::Returned => "returned",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The statuses that may follow this one for a shipment sent by `method`.
    pub fn next(self, method: DeliveryOption) -> Vec<Status> {
        match self {
            Status::LabelCreated if method == DeliveryOption::Pickup => vec![Status::InTransit, Status::Delivered],
            Status::LabelCreated => vec![Status::InTransit],
            Status::InTransit => vec![Status::OutForDelivery, Status::Returned],
            Status::OutForDelivery => vec![Status::Delivered, Status::FailedDelivery],
            Status::FailedDelivery => vec![Status::OutForDelivery, Status::Returned],
            Status::Delivered | Status::Returned => Vec::new(),
        }
    }

    /// `Ok` when `to` may follow this status, else a 409 naming what may.
    pub fn check_transition(self, to: Status, method: DeliveryOption) -> AppResult<()> {
        let allowed = self.next(method);
        if allowed.contains(&to) {
            return Ok(());
        }
        let next = if allowed.is_empty() {
            "none: it is final".to_string()
        } else {
            allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        };
        Err(AppError::Conflict(format!(
            "a {} shipment cannot go from {} to {}; allowed next statuses: {next}",
            method.as_str(),
            self.as_str(),
            to.as_str()
        )))
    }
}

/// How an order travels; the order service owns the fees, shipping the carriers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOption {
    Standard,
    Express,
    Pickup,
}

impl DeliveryOption {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOption::Standard => "standard",
            DeliveryOption::Express => "express",
            DeliveryOption::Pickup => "pickup",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [DeliveryOption::Standard, DeliveryOption::Express, DeliveryOption::Pickup]
            .into_iter()
            .find(|o| o.as_str() == text)
    }

    pub fn carrier(self) -> &'static str {
        match self {
            DeliveryOption::Standard => "ShopPost",
            DeliveryOption::Express => "ShopExpress",
            DeliveryOption::Pickup => "Store pickup",
        }
    }

    /// Days from the label to the expected delivery.
    pub fn days(self) -> i64 {
        match self {
            DeliveryOption::Standard => 5,
            DeliveryOption::Express => 2,
            DeliveryOption::Pickup => 1,
        }
    }

    /// Tells the carrier at a glance, as real tracking numbers do.
    fn tracking_prefix(self) -> &'static str {
        match self {
            DeliveryOption::Standard => "SP",
            DeliveryOption::Express => "SX",
            DeliveryOption::Pickup => "PU",
        }
    }
}

/// Registered or VIP: only VIP customers earn loyalty points on delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CustomerKind {
    Registered,
    Vip,
}

impl CustomerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerKind::Registered => "registered",
            CustomerKind::Vip => "vip",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "registered" => Some(CustomerKind::Registered),
            "vip" => Some(CustomerKind::Vip),
            _ => None,
        }
    }
}

/// A fresh tracking number: the carrier's prefix and random base32 from the
/// thread's CSPRNG, since the number alone opens the public tracking page.
pub fn new_tracking_number(option: DeliveryOption) -> String {
    let mut rng = rand::rng();
    let mut number = String::with_capacity(2 + TRACKING_RANDOM_CHARS);
    number.push_str(option.tracking_prefix());
    for _ in 0..TRACKING_RANDOM_CHARS {
        number.push(char::from(TRACKING_ALPHABET[rng.random_range(0..TRACKING_ALPHABET.len())]));
    }
    number
}

/// The stored form of what a client typed: upper case, and `None` for anything
/// that cannot be a tracking number (answered as 404 without a query).
pub fn normalize_tracking_number(text: &str) -> Option<String> {
    let upper = text.trim().to_ascii_uppercase();
    let valid = upper.len() == 2 + TRACKING_RANDOM_CHARS && upper.bytes().all(|b| b.is_ascii_alphanumeric());
    valid.then_some(upper)
}

/// `YYYY-MM-DD`, `days` after the UTC day of `now_secs`.
pub fn estimated_delivery(now_secs: i64, days: i64) -> String {
    let today = time::OffsetDateTime::from_unix_timestamp(now_secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH).date();
    let day = today.checked_add(time::Duration::days(days)).unwrap_or(today);
    day.format(time::macros::format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

/// Points a VIP earns for a delivered order: one per whole currency unit (before
/// the tier's multiplier, which the VIP service applies), capped at what one
/// ledger entry may hold.
pub fn earned_points(total: i64) -> i64 {
    (total / 100).clamp(0, MAX_EARN_POINTS)
}

/// Ids that go into other functions' paths: only the characters ids are made of.
pub fn valid_order_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ORDER_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The VIP service's rule for customer ids, so an earn is never refused for its id.
pub fn valid_customer_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CUSTOMER_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:@+".contains(&b))
}

/// `POST /internal/shipments`: what the order service knows when it is paid.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CreateShipment {
    pub order_id: String,
    pub customer_id: String,
    pub customer_type: CustomerKind,
    pub delivery_option: DeliveryOption,
    /// A JSON object; null (or left out) only for pickup.
    #[serde(default)]
    pub shipping_address: Option<Map<String, Value>>,
    /// The order's total in minor units of `currency`: VIP points are earned on it.
    pub total: i64,
    pub currency: Currency,
}

impl CreateShipment {
    pub const FIELDS: [&'static str; 7] =
        ["order_id", "customer_id", "customer_type", "delivery_option", "shipping_address", "total", "currency"];

    pub fn validate(&self) -> AppResult<()> {
        let mut errors = FieldErrors::new();
        if !valid_order_id(&self.order_id) {
            errors.add("order_id", "1 to 100 characters: letters, digits, _ and -");
        }
        if !valid_customer_id(&self.customer_id) {
            errors.add("customer_id", "1 to 64 characters: letters, digits and _ - . : @ +");
        }
        if self.total < 0 {
            errors.add("total", "must be 0 or more (minor units)");
        }
        match &self.shipping_address {
            None if self.delivery_option != DeliveryOption::Pickup => {
                errors.add("shipping_address", format!("a {} delivery needs an address", self.delivery_option.as_str()))
            }
            Some(address) if address.is_empty() => errors.add("shipping_address", "must not be an empty object"),
            Some(address) if Value::Object(address.clone()).to_string().len() > MAX_ADDRESS_BYTES => {
                errors.add("shipping_address", format!("must be at most {MAX_ADDRESS_BYTES} bytes of JSON"))
            }
            _ => {}
        }
        errors.into_result()
    }
}

/// `POST /api/shipping/{id}/events`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct EventInput {
    /// The new status; it must be allowed to follow the current one.
    pub status: Status,
    /// Where it happened, at most 100 characters.
    #[serde(default)]
    pub location: Option<String>,
    /// At most 500 characters.
    #[serde(default)]
    pub note: Option<String>,
    /// Sending the same key again (after a timeout, say) records the event once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// An event as it will be stored: texts trimmed, blanks refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub status: Status,
    pub location: Option<String>,
    pub note: Option<String>,
    pub idempotency_key: Option<String>,
}

impl EventInput {
    pub const FIELDS: [&'static str; 4] = ["status", "location", "note", "idempotency_key"];

    pub fn validate(self) -> AppResult<NewEvent> {
        let mut errors = FieldErrors::new();
        let location = optional_text(&mut errors, "location", self.location, MAX_LOCATION_CHARS);
        let note = optional_text(&mut errors, "note", self.note, MAX_NOTE_CHARS);
        let idempotency_key = optional_text(&mut errors, "idempotency_key", self.idempotency_key, MAX_KEY_CHARS);
        errors.into_result()?;
        Ok(NewEvent { status: self.status, location, note, idempotency_key })
    }
}

/// Trimmed text of at most `max` characters without control characters (a
/// note may hold line breaks); null stays null, blank text is an error.
fn optional_text(errors: &mut FieldErrors, field: &str, value: Option<String>, max: usize) -> Option<String> {
    let text = value?.trim().to_string();
    if text.is_empty() {
        errors.add(field, "must not be blank; leave it out instead");
    } else if text.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
    } else if text.chars().any(|c| c.is_control() && !(field == "note" && (c == '\n' || c == '\t'))) {
        errors.add(field, "must not contain control characters");
    } else {
        return Some(text);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_carrier_lifecycle() {
        use Status::*;
        let standard = DeliveryOption::Standard;
        assert_eq!(LabelCreated.next(standard), vec![InTransit]);
        assert_eq!(LabelCreated.next(DeliveryOption::Pickup), vec![InTransit, Delivered]);
        assert_eq!(InTransit.next(standard), vec![OutForDelivery, Returned]);
        assert_eq!(OutForDelivery.next(standard), vec![Delivered, FailedDelivery]);
        assert_eq!(FailedDelivery.next(standard), vec![OutForDelivery, Returned]);
        assert!(Delivered.next(standard).is_empty() && Returned.next(DeliveryOption::Pickup).is_empty());
        let refused = LabelCreated.check_transition(Delivered, standard).unwrap_err();
        assert!(refused.problem().detail.contains("allowed next statuses: in_transit"), "{refused}");
        assert!(Delivered.check_transition(Returned, standard).unwrap_err().problem().detail.contains("final"));
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }

    #[test]
    fn tracking_numbers_are_prefixed_random_and_normalized() {
        let a = new_tracking_number(DeliveryOption::Express);
        let b = new_tracking_number(DeliveryOption::Express);
        assert_ne!(a, b);
        assert!(a.starts_with("SX") && a.len() == 18, "{a}");
        assert!(new_tracking_number(DeliveryOption::Pickup).starts_with("PU"));
        assert!(a[2..].bytes().all(|c| TRACKING_ALPHABET.contains(&c)), "{a}");
        assert_eq!(normalize_tracking_number(&format!(" {} ", a.to_lowercase())), Some(a));
        for bad in ["", "SP123", "SP0123456789ABCDEF/", "../../etc/passwd00", "SP0123456789ABCDEFG"] {
            assert_eq!(normalize_tracking_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn estimated_delivery_counts_days_from_the_utc_day() {
        // 2024-12-30T23:59:59Z plus five days crosses the year.
        assert_eq!(estimated_delivery(1_735_603_199, 5), "2025-01-04");
        assert_eq!(estimated_delivery(0, 2), "1970-01-03");
    }

    #[test]
    fn points_are_whole_currency_units_capped_per_entry() {
        assert_eq!(earned_points(12_345), 123);
        assert_eq!(earned_points(99), 0);
        assert_eq!(earned_points(i64::MAX), MAX_EARN_POINTS);
    }

    #[test]
    fn event_texts_are_trimmed_and_bounded() {
        let input = |location: &str, note: &str| EventInput {
            status: Status::InTransit,
            location: Some(location.into()),
            note: Some(note.into()),
            idempotency_key: None,
        };
        let ok = input(" Leeds hub ", "line one\nline two").validate().unwrap();
        assert_eq!(ok.location.as_deref(), Some("Leeds hub"));
        let Err(AppError::Validation(errors)) = input(" ", &"n".repeat(501)).validate() else { panic!() };
        assert!(errors.contains("location") && errors.contains("note"));
        let Err(AppError::Validation(errors)) = input("a\u{7}b", "fine").validate() else { panic!() };
        assert!(errors.contains("location"));
        assert!(input(&"l".repeat(100), &"é".repeat(500)).validate().is_ok(), "characters, not bytes");
    }
}
