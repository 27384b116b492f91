//! Money is an integer count of the currency's minor units (cents), never a float.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most any single price may be: 100 million in major units.
pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000;

/// An ISO 4217 alphabetic code such as `USD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(code: &str) -> Result<Self, String> {
        let bytes = code.as_bytes();
        if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_uppercase) {
            Ok(Currency([bytes[0], bytes[1], bytes[2]]))
        } else {
            Err(format!("`{code}` is not a currency code such as USD or EUR"))
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII uppercase letters ever get in.
        std::str::from_utf8(&self.0).unwrap_or("USD")
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self::USD
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// Formats minor units for people: `1999` USD is `19.99 USD`.
pub fn format_minor(amount: i64, currency: Currency) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_uppercase_letters() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        for bad in ["usd", "US", "USDX", "U$D", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_minor_units_exactly() {
        assert_eq!(format_minor(1999, Currency::USD), "19.99 USD");
        assert_eq!(format_minor(-5, Currency::USD), "-0.05 USD");
    }
}
