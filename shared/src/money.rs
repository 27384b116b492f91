//! Money is an integer count of the currency's minor units (cents), never a float.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most any single price may be: 100 million in major units.
pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000;

/// The active currencies of ISO 4217 (its List One, 2026), each with the number
/// of its minor-unit digits: what a price may be in. Funds codes (BOV, CLF, USN,
/// ...), precious metals, SDRs, and the test and no-currency codes (XTS, XXX)
/// are not money a shop sells in; withdrawn codes (HRK, SLL, ZWL, ANG, BGN) are out.
const ISO_4217: &str = "\
    AED2 AFN2 ALL2 AMD2 AOA2 ARS2 AUD2 AWG2 AZN2 BAM2 BBD2 BDT2 BHD3 BIF0 BMD2 BND2 BOB2 BRL2 BSD2 BTN2 \
    BWP2 BYN2 BZD2 CAD2 CDF2 CHF2 CLP0 CNY2 COP2 CRC2 CUP2 CVE2 CZK2 DJF0 DKK2 DOP2 DZD2 EGP2 ERN2 ETB2 \
    EUR2 FJD2 FKP2 GBP2 GEL2 GHS2 GIP2 GMD2 GNF0 GTQ2 GYD2 HKD2 HNL2 HTG2 HUF2 IDR2 ILS2 INR2 IQD3 IRR2 \
    ISK0 JMD2 JOD3 JPY0 KES2 KGS2 KHR2 KMF0 KPW2 KRW0 KWD3 KYD2 KZT2 LAK2 LBP2 LKR2 LRD2 LSL2 LYD3 MAD2 \
    MDL2 MGA2 MKD2 MMK2 MNT2 MOP2 MRU2 MUR2 MVR2 MWK2 MXN2 MYR2 MZN2 NAD2 NGN2 NIO2 NOK2 NPR2 NZD2 OMR3 \
    PAB2 PEN2 PGK2 PHP2 PKR2 PLN2 PYG0 QAR2 RON2 RSD2 RUB2 RWF0 SAR2 SBD2 SCR2 SDG2 SEK2 SGD2 SHP2 SLE2 \
    SOS2 SRD2 SSP2 STN2 SVC2 SYP2 SZL2 THB2 TJS2 TMT2 TND3 TOP2 TRY2 TTD2 TWD2 TZS2 UAH2 UGX0 USD2 UYU2 \
    UZS2 VED2 VES2 VND0 VUV0 WST2 XAF0 XCD2 XCG2 XOF0 XPF0 YER2 ZAR2 ZMW2 ZWG2";

/// An active ISO 4217 alphabetic code such as `USD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(code: &str) -> Result<Self, String> {
        match Self::entry(code) {
            Some(_) => {
                let b = code.as_bytes();
                Ok(Currency([b[0], b[1], b[2]]))
            }
            None => Err("is not an active ISO 4217 currency code such as USD or EUR".into()),
        }
    }

    /// Every code [`Currency::parse`] accepts, for API documents.
    pub fn codes() -> impl Iterator<Item = &'static str> {
        ISO_4217.split_ascii_whitespace().map(|entry| &entry[..3])
    }

    /// How many digits of minor units the currency has: 2 for USD (cents), 0 for JPY, 3 for KWD.
    pub fn minor_digits(&self) -> u32 {
        Self::entry(self.as_str()).and_then(|e| e[3..].parse().ok()).unwrap_or(2)
    }

    fn entry(code: &str) -> Option<&'static str> {
        let valid = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
        ISO_4217.split_ascii_whitespace().find(|entry| valid && &entry[..3] == code)
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

/// Formats minor units for people: `1999` USD is `19.99 USD`, `1999` JPY is `1999 JPY`.
pub fn format_minor(amount: i64, currency: Currency) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    match currency.minor_digits() {
        0 => format!("{sign}{abs} {currency}"),
        digits => {
            let unit = 10_u64.pow(digits);
            format!("{sign}{}.{:0width$} {currency}", abs / unit, abs % unit, width = digits as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_active_iso_4217_codes() {
        for good in ["EUR", "USD", "JPY", "GBP", "CHF", "XOF", "XCG", "KWD"] {
            assert_eq!(Currency::parse(good).unwrap().as_str(), good);
        }
        for bad in ["usd", "US", "USDX", "U$D", "", "BTC", "XXX", "XTS", "XAU", "USN", "HRK", "ABC", "ÜSD"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
        let codes: Vec<&str> = Currency::codes().collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "the list is sorted, without repeats");
        assert!(codes.len() > 140, "{}", codes.len());
    }

    #[test]
    fn formats_minor_units_exactly() {
        assert_eq!(format_minor(1999, Currency::USD), "19.99 USD");
        assert_eq!(format_minor(-5, Currency::USD), "-0.05 USD");
        assert_eq!(format_minor(1999, Currency::parse("JPY").unwrap()), "1999 JPY");
        assert_eq!(format_minor(1999, Currency::parse("KWD").unwrap()), "1.999 KWD");
    }
}
