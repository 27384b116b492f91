//! Orders, their lines, the checkout body and the arithmetic of totals. Nothing
//! here touches a store or another function, so the rules are tested alone.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use shared::error::{AppError, AppResult, FieldErrors};
use shared::extract::from_json_value;
use utoipa::ToSchema;

/// The most points one checkout may redeem (the VIP ledger's limit for one change).
pub const MAX_REDEEM_POINTS: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
    /// Not paid in time: its stock and points went back.
    Expired,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::PendingPayment,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
        OrderStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Expired => "expired",
        }
    }

    /// Whether the order still holds its stock: placed and not undone. A refunded
    /// order keeps it, since its goods left the shop (staff restock what comes back).
    pub fn holds_stock(self) -> bool {
        !matches!(self, OrderStatus::Cancelled | OrderStatus::Expired)
    }

    /// Whether the order is over: nothing more is paid, shipped or undone for it.
    pub fn is_closed(self) -> bool {
        matches!(self, OrderStatus::Cancelled | OrderStatus::Expired | OrderStatus::Refunded)
    }

    pub fn parse(status: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == status)
    }

    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an order reaches its customer. The options are data the order service owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryOption {
    Standard,
    Express,
    Pickup,
}

impl DeliveryOption {
    pub const ALL: [DeliveryOption; 3] = [DeliveryOption::Standard, DeliveryOption::Express, DeliveryOption::Pickup];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOption::Standard => "standard",
            DeliveryOption::Express => "express",
            DeliveryOption::Pickup => "pickup",
        }
    }

    pub fn parse(option: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == option)
    }

    /// In minor units of whatever currency the order is in.
    pub fn fee(self) -> i64 {
        match self {
            DeliveryOption::Standard => 499,
            DeliveryOption::Express => 1499,
            DeliveryOption::Pickup => 0,
        }
    }

    pub fn days(self) -> i64 {
        match self {
            DeliveryOption::Standard => 5,
            DeliveryOption::Express => 2,
            DeliveryOption::Pickup => 1,
        }
    }

    pub fn carrier(self) -> &'static str {
        match self {
            DeliveryOption::Standard => "ShopPost",
            DeliveryOption::Express => "ShopExpress",
            DeliveryOption::Pickup => "Store pickup",
        }
    }

    pub fn needs_address(self) -> bool {
        self != DeliveryOption::Pickup
    }

    /// Whether a VIP tier with free shipping pays nothing for it.
    pub fn free_for_vip(self) -> bool {
        matches!(self, DeliveryOption::Standard | DeliveryOption::Express)
    }
}

/// One delivery option as `GET /api/orders/delivery-options` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryOptionView {
    pub id: DeliveryOption,
    /// In minor units of the order's currency.
    pub fee: i64,
    /// Days from payment to the estimated delivery.
    pub days: i64,
    pub carrier: String,
    pub requires_shipping_address: bool,
    /// Whether VIP tiers with free shipping pay no fee for it.
    pub free_with_vip_free_shipping: bool,
}

impl From<DeliveryOption> for DeliveryOptionView {
    fn from(option: DeliveryOption) -> Self {
        Self {
            id: option,
            fee: option.fee(),
            days: option.days(),
            carrier: option.carrier().to_string(),
            requires_shipping_address: option.needs_address(),
            free_with_vip_free_shipping: option.free_for_vip(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryOptions {
    pub options: Vec<DeliveryOptionView>,
}

/// Where a parcel goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShippingAddress {
    /// 1 to 100 characters.
    pub name: String,
    /// 1 to 200 characters.
    pub line1: String,
    pub line2: Option<String>,
    /// 1 to 100 characters.
    pub city: String,
    /// 1 to 16 letters, digits, spaces or dashes.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `US`.
    #[schema(example = "US")]
    pub country: String,
    /// 5 to 30 characters: digits, spaces and `+ - ( ) .`.
    pub phone: Option<String>,
}

/// One line of an order: the price is the item's price at checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub item_type: String,
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
    /// Minor units of the order's currency.
    pub unit_price: i64,
    /// `unit_price * quantity`.
    pub line_total: i64,
}

/// An order as the public API and the internal routes show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderRecord {
    #[schema(example = "order_01JDQ8Z3X4C5V6B7N8M9K0J1H2")]
    pub id: String,
    pub customer_id: String,
    /// `registered` or `vip`, from the token at checkout.
    pub customer_type: String,
    pub status: OrderStatus,
    /// ISO 4217, the currency of every amount of the order.
    pub currency: String,
    /// Sum of the lines' totals, in minor units.
    pub subtotal: i64,
    /// The VIP tier's discount on the subtotal, rounded down.
    pub discount: i64,
    pub shipping_fee: i64,
    /// VIP points spent on the order; one point is one minor unit.
    pub points_redeemed: i64,
    /// `subtotal - discount + shipping_fee - points_redeemed`: what is left to pay.
    pub total: i64,
    pub delivery_option: DeliveryOption,
    /// Null for pickup.
    pub shipping_address: Option<ShippingAddress>,
    pub lines: Vec<OrderLine>,
    pub payment_id: Option<String>,
    pub shipment_id: Option<String>,
    /// RFC 3339: while the order waits for payment, when it expires unpaid
    /// (`UNPAID_ORDER_EXPIRY_MINS` after checkout); null otherwise.
    pub expires_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// The body of `POST /api/orders/`, for the API document.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CheckoutBody {
    /// `standard`, `express` or `pickup`.
    pub delivery_option: DeliveryOption,
    /// Required unless `pickup`; left out (or null) for pickup.
    pub shipping_address: Option<ShippingAddress>,
    /// VIP customers only: points to spend, at most the balance and the amount due.
    pub redeem_points: Option<i64>,
}

/// A checkout request after validation, trimmed and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkout {
    pub delivery_option: DeliveryOption,
    pub shipping_address: Option<ShippingAddress>,
    pub redeem_points: i64,
}

impl Checkout {
    /// What identifies "the same request" for an idempotency key: the normalised
    /// body, so key order and surrounding spaces make no difference.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(canonical))
    }
}

const CHECKOUT_FIELDS: [&str; 3] = ["delivery_option", "shipping_address", "redeem_points"];
const ADDRESS_FIELDS: [&str; 7] = ["name", "line1", "line2", "city", "postal_code", "country", "phone"];

#[derive(Deserialize)]
struct RawCheckout {
    delivery_option: String,
    #[serde(default)]
    shipping_address: Option<RawAddress>,
    #[serde(default)]
    redeem_points: Option<i64>,
}

#[derive(Deserialize)]
struct RawAddress {
    name: String,
    line1: String,
    #[serde(default)]
    line2: Option<String>,
    city: String,
    postal_code: String,
    country: String,
    #[serde(default)]
    phone: Option<String>,
}

fn unknown_fields(errors: &mut FieldErrors, body: &Map<String, Value>, known: &[&str], prefix: &str) {
    for name in body.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.add(format!("{prefix}{name}"), format!("unknown field; known fields: {}", known.join(", ")));
    }
}

/// Types a JSON object after rejecting fields nobody asked for, reporting
/// unknown fields and type errors together.
pub fn parse_body<T: DeserializeOwned>(body: Map<String, Value>, known: &[&str]) -> AppResult<T> {
    let mut errors = FieldErrors::new();
    unknown_fields(&mut errors, &body, known, "");
    typed(body, errors)
}

/// Types a body, adding its type errors to those already found.
fn typed<T: DeserializeOwned>(body: Map<String, Value>, mut errors: FieldErrors) -> AppResult<T> {
    match from_json_value::<T>(Value::Object(body)) {
        Ok(value) if errors.is_empty() => Ok(value),
        Ok(_) => Err(AppError::Validation(errors)),
        Err(AppError::Validation(more)) => {
            errors.extend(more);
            Err(AppError::Validation(errors))
        }
        Err(other) => Err(other),
    }
}

/// Trimmed text of 1 to `max` characters without control characters.
fn text(errors: &mut FieldErrors, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, "must not be blank");
    } else if value.chars().count() > max {
        errors.add(field, format!("at most {max} characters"));
    } else if value.chars().any(char::is_control) {
        errors.add(field, "must not contain control characters");
    }
    value.to_string()
}

fn optional_text(errors: &mut FieldErrors, field: &str, value: Option<&str>, max: usize) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    Some(text(errors, field, value, max))
}

/// Every officially assigned ISO 3166-1 alpha-2 code.
pub const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ \
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES \
    ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO \
    IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK \
    ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR \
    PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK \
    TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

pub fn is_country(code: &str) -> bool {
    code.len() == 2 && COUNTRIES.split_whitespace().any(|c| c == code)
}

fn address(errors: &mut FieldErrors, raw: RawAddress) -> ShippingAddress {
    let field = |name: &str| format!("shipping_address.{name}");
    let name = text(errors, &field("name"), &raw.name, 100);
    let line1 = text(errors, &field("line1"), &raw.line1, 200);
    let line2 = optional_text(errors, &field("line2"), raw.line2.as_deref(), 200);
    let city = text(errors, &field("city"), &raw.city, 100);
    let postal_code = text(errors, &field("postal_code"), &raw.postal_code, 16);
    if !errors.contains(&field("postal_code"))
        && !postal_code.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
    {
        errors.add(field("postal_code"), "only letters, digits, spaces and dashes");
    }
    let country = raw.country.trim().to_ascii_uppercase();
    if !is_country(&country) {
        errors.add(field("country"), "must be an ISO 3166-1 alpha-2 country code such as US or DE");
    }
    let phone = optional_text(errors, &field("phone"), raw.phone.as_deref(), 30);
    if let Some(phone) = &phone {
        let allowed = phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !allowed || phone.chars().filter(char::is_ascii_digit).count() < 5 {
            errors.add(field("phone"), "at least 5 digits; only digits, spaces and + - ( ) .");
        }
    }
    ShippingAddress { name, line1, line2, city, postal_code, country, phone }
}

/// Validates a checkout body, naming every invalid field (`shipping_address.city`).
pub fn parse_checkout(mut body: Map<String, Value>) -> AppResult<Checkout> {
    let mut errors = FieldErrors::new();
    unknown_fields(&mut errors, &body, &CHECKOUT_FIELDS, "");
    if let Some(Value::Object(address)) = body.get("shipping_address") {
        unknown_fields(&mut errors, address, &ADDRESS_FIELDS, "shipping_address.");
    }
    // Unknown names are reported above; keep them away from the typed parse.
    body.retain(|k, _| CHECKOUT_FIELDS.contains(&k.as_str()));
    if let Some(Value::Object(address)) = body.get_mut("shipping_address") {
        address.retain(|k, _| ADDRESS_FIELDS.contains(&k.as_str()));
    }
    // Every problem in one answer: unknown fields, wrong types, then bad values.
    let raw: RawCheckout = match typed(body, FieldErrors::new()) {
        Ok(raw) => raw,
        Err(AppError::Validation(more)) => {
            errors.extend(more);
            return Err(AppError::Validation(errors));
        }
        Err(other) => return Err(other),
    };
    let option = DeliveryOption::parse(raw.delivery_option.trim());
    if option.is_none() {
        errors.add("delivery_option", "must be one of standard, express, pickup");
    }
    let shipping_address = match (option, raw.shipping_address) {
        (Some(DeliveryOption::Pickup), Some(_)) => {
            errors.add("shipping_address", "pickup orders have no shipping address; leave it out");
            None
        }
        (Some(option), None) if option.needs_address() => {
            errors.add("shipping_address", format!("is required for {} delivery", option.as_str()));
            None
        }
        (_, Some(raw)) => Some(address(&mut errors, raw)),
        (_, None) => None,
    };
    let redeem_points = raw.redeem_points.unwrap_or(0);
    if !(0..=MAX_REDEEM_POINTS).contains(&redeem_points) {
        errors.add("redeem_points", format!("must be between 0 and {MAX_REDEEM_POINTS}"));
    }
    errors.into_result()?;
    Ok(Checkout { delivery_option: option.unwrap_or(DeliveryOption::Standard), shipping_address, redeem_points })
}

/// What a VIP tier gives at checkout; all zero for registered customers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Benefits {
    pub discount_percent: i64,
    pub free_shipping: bool,
    pub points_balance: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: i64,
    pub discount: i64,
    pub shipping_fee: i64,
    pub points_redeemed: i64,
    pub total: i64,
}

fn too_large() -> AppError {
    AppError::Conflict("the order's total is too large to take; split it into smaller orders".into())
}

/// The line total, refusing overflow rather than wrapping.
pub fn line_total(unit_price: i64, quantity: i64) -> AppResult<i64> {
    unit_price.checked_mul(quantity).ok_or_else(too_large)
}

/// The totals of an order: discount rounded down, points capped by the balance
/// and by what is due (a 422 on `redeem_points` otherwise).
pub fn totals(lines: &[OrderLine], option: DeliveryOption, benefits: Benefits, redeem: i64) -> AppResult<Totals> {
    let subtotal = lines.iter().try_fold(0_i64, |sum, line| sum.checked_add(line.line_total)).ok_or_else(too_large)?;
    let percent = i128::from(benefits.discount_percent.clamp(0, 100));
    // Rounded down, in the customer's favour never by more than the tier promises.
    let discount = i64::try_from(i128::from(subtotal) * percent / 100).map_err(|_| too_large())?;
    let shipping_fee = if benefits.free_shipping && option.free_for_vip() { 0 } else { option.fee() };
    let due = (subtotal - discount).checked_add(shipping_fee).ok_or_else(too_large)?;
    let mut errors = FieldErrors::new();
    if redeem > benefits.points_balance {
        errors.add("redeem_points", format!("you have {} points", benefits.points_balance));
    } else if redeem > due {
        errors.add("redeem_points", format!("at most {due} points can be spent on this order"));
    }
    errors.into_result()?;
    Ok(Totals { subtotal, discount, shipping_fee, points_redeemed: redeem, total: due - redeem })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn line(unit_price: i64, quantity: i64) -> OrderLine {
        OrderLine {
            item_type: "book".into(),
            item_id: "book_1".into(),
            name: "Dune".into(),
            quantity,
            unit_price,
            line_total: unit_price * quantity,
        }
    }

    fn fields(result: AppResult<Checkout>) -> Vec<String> {
        match result {
            Err(AppError::Validation(errors)) => errors.fields().map(str::to_string).collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn address_json() -> Value {
        json!({ "name": " Ada ", "line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "us" })
    }

    #[test]
    fn totals_round_the_discount_down_and_cap_points() {
        let lines = [line(999, 3), line(1, 1)];
        let vip = Benefits { discount_percent: 15, free_shipping: true, points_balance: 500 };
        let t = totals(&lines, DeliveryOption::Express, vip, 200).unwrap();
        assert_eq!(t.subtotal, 2998);
        assert_eq!(t.discount, 449, "15% of 2998 is 449.7");
        assert_eq!(t.shipping_fee, 0);
        assert_eq!(t.total, 2998 - 449 - 200);
        let registered = totals(&lines, DeliveryOption::Express, Benefits::default(), 0).unwrap();
        assert_eq!((registered.discount, registered.shipping_fee, registered.total), (0, 1499, 2998 + 1499));
        let pickup = totals(&lines, DeliveryOption::Pickup, Benefits::default(), 0).unwrap();
        assert_eq!(pickup.shipping_fee, 0);
        let no_free = Benefits { discount_percent: 0, free_shipping: false, points_balance: 0 };
        assert_eq!(totals(&lines, DeliveryOption::Standard, no_free, 0).unwrap().shipping_fee, 499);

        // Points: never beyond the balance, never beyond what is due; all of it may go.
        let rich = Benefits { discount_percent: 0, free_shipping: false, points_balance: 1_000_000 };
        let all = totals(&[line(100, 1)], DeliveryOption::Standard, rich, 599).unwrap();
        assert_eq!(all.total, 0);
        for (benefits, redeem) in [(rich, 600), (vip, 501)] {
            match totals(&[line(100, 1)], DeliveryOption::Standard, benefits, redeem) {
                Err(AppError::Validation(e)) => assert!(e.contains("redeem_points")),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            totals(&[line(i64::MAX / 2, 1), line(i64::MAX / 2, 1), line(5, 1)], DeliveryOption::Pickup, rich, 0),
            Err(AppError::Conflict(_))
        ));
        assert!(line_total(i64::MAX, 2).is_err());
    }

    #[test]
    fn checkout_bodies_are_validated_per_field_and_normalised() {
        let ok =
            parse_checkout(body(json!({ "delivery_option": "standard", "shipping_address": address_json() }))).unwrap();
        let address = ok.shipping_address.clone().unwrap();
        assert_eq!((address.name.as_str(), address.country.as_str()), ("Ada", "US"));
        assert_eq!((address.line2, address.phone, ok.redeem_points), (None, None, 0));
        let pickup = parse_checkout(body(json!({ "delivery_option": "pickup", "redeem_points": 5 }))).unwrap();
        assert_eq!((pickup.shipping_address.clone(), pickup.redeem_points), (None, 5));

        // The same request however it is spelt.
        let spaced = json!({ "shipping_address": address_json(), "delivery_option": " standard " });
        assert_eq!(parse_checkout(body(spaced)).unwrap().fingerprint(), ok.fingerprint());
        assert_ne!(pickup.fingerprint(), ok.fingerprint());

        let mut bad_address = address_json();
        bad_address["country"] = json!("XX");
        bad_address["postal_code"] = json!("12/45");
        bad_address["phone"] = json!("call me");
        bad_address["floor"] = json!(3);
        bad_address["city"] = json!("");
        let found = fields(parse_checkout(body(json!({
            "delivery_option": "standard", "shipping_address": bad_address, "redeem_points": -1, "coupon": "X"
        }))));
        for field in [
            "coupon",
            "redeem_points",
            "shipping_address.city",
            "shipping_address.country",
            "shipping_address.floor",
            "shipping_address.phone",
            "shipping_address.postal_code",
        ] {
            assert!(found.iter().any(|f| f == field), "{field} in {found:?}");
        }
        assert_eq!(fields(parse_checkout(body(json!({ "delivery_option": "drone" })))), ["delivery_option"]);
        assert_eq!(fields(parse_checkout(body(json!({ "delivery_option": "express" })))), ["shipping_address"]);
        let pickup_with_address = json!({ "delivery_option": "pickup", "shipping_address": address_json() });
        assert_eq!(fields(parse_checkout(body(pickup_with_address))), ["shipping_address"]);
        assert_eq!(fields(parse_checkout(body(json!({})))), ["delivery_option"]);
        assert_eq!(
            fields(parse_checkout(body(json!({ "delivery_option": "pickup", "redeem_points": 1.5 })))),
            ["redeem_points"]
        );
        let mut no_city = address_json();
        no_city.as_object_mut().unwrap().remove("city");
        assert_eq!(
            fields(parse_checkout(body(json!({ "delivery_option": "standard", "shipping_address": no_city })))),
            ["shipping_address.city"]
        );
    }

    #[test]
    fn the_country_list_is_the_iso_one() {
        assert_eq!(COUNTRIES.split_whitespace().count(), 249);
        assert!(is_country("DE") && is_country("GB") && !is_country("UK") && !is_country("de"));
    }

    #[test]
    fn statuses_and_options_round_trip() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        for option in DeliveryOption::ALL {
            assert_eq!(DeliveryOption::parse(option.as_str()), Some(option));
        }
        assert_eq!(
            [DeliveryOption::Standard.fee(), DeliveryOption::Express.fee(), DeliveryOption::Pickup.fee()],
            [499, 1499, 0]
        );
    }
}
