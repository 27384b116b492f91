//! Accounts' rules: what an email, a password, a profile and an address must be.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use shared::FieldErrors;
use shared::catalog::{check_optional_text, check_required_text};
use utoipa::ToSchema;

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// An email address, trimmed and lower-cased so that one address is one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The address form mail is sent to: a dot-atom local part (RFC 5322: no
    /// leading, trailing or doubled dot; letters, digits and ``!#$%&'*+-/=?^_`{|}~``)
    /// and a host name of two or more labels of letters, digits and inner hyphens.
    /// Non-ASCII letters count as letters (internationalised addresses).
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        let Some((local, domain)) = email.split_once('@') else { return Err("is not an email address") };
        let atom = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.split('.').all(|part| !part.is_empty() && part.chars().all(atom));
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |label: &&str| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        let domain_ok = labels.len() >= 2
            && labels.iter().all(label_ok)
            && labels.last().is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
        if local_ok && domain_ok && email.len() <= 254 { Ok(Self(email)) } else { Err("is not an email address") }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The shortest local part ("ada" of ada@…) a password may not contain: a
/// shorter one is in too many words to refuse them all.
const MIN_LOCAL_PART_IN_PASSWORD: usize = 3;

/// Checks the password policy: long enough, letters mixed with digits or
/// symbols (a letter at least, and at least one character that is neither a
/// letter nor a space), not the email.
pub fn check_password(errors: &mut FieldErrors, field: &str, password: &str, email: Option<&Email>) {
    let chars = password.chars().count();
    let has_letter = password.chars().any(char::is_alphabetic);
    let has_other = password.chars().any(|c| !c.is_alphabetic() && !c.is_whitespace());
    let lowered = password.to_lowercase();
    let contains_email = email.is_some_and(|e| {
        let local = e.as_str().split('@').next().unwrap_or("");
        lowered.contains(e.as_str()) || (local.chars().count() >= MIN_LOCAL_PART_IN_PASSWORD && lowered.contains(local))
    });
    if chars < MIN_PASSWORD_CHARS {
        errors.add(field, format!("use at least {MIN_PASSWORD_CHARS} characters"));
    } else if chars > MAX_PASSWORD_CHARS {
        errors.add(field, format!("use at most {MAX_PASSWORD_CHARS} characters"));
    } else if !has_letter || !has_other {
        errors.add(field, "mix letters with digits or symbols");
    } else if contains_email {
        errors.add(field, "may not contain your email address");
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).unwrap_or_default())
}

/// An argon2id hash in PHC format. Hashing is slow on purpose: call it off the async threads.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| e.to_string())?;
    argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// A hash that no password matches, verified against for unknown emails so that
/// a login for a missing account takes as long as one with a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password that is never used 0").unwrap_or_default())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// Item types or genres the customer likes, e.g. `book`, `Science Fiction`.
    #[serde(default)]
    pub favourite_categories: Vec<String>,
    #[serde(default)]
    pub newsletter: bool,
    /// ISO 4217 code the customer prefers prices in.
    #[serde(default)]
    pub currency: Option<String>,
}

impl Preferences {
    pub fn validate(&mut self, errors: &mut FieldErrors) {
        if self.favourite_categories.len() > 20 {
            errors.add("preferences.favourite_categories", "at most 20 categories");
        }
        self.favourite_categories = self.favourite_categories.iter().map(|c| c.trim().to_string()).collect();
        for category in &self.favourite_categories {
            check_required_text(errors, "preferences.favourite_categories", category, 50);
        }
        if let Some(code) = &self.currency
            && shared::money::Currency::parse(code).is_err()
        {
            errors.add("preferences.currency", "must be a currency code such as USD");
        }
    }
}

pub fn check_phone(errors: &mut FieldErrors, field: &str, phone: Option<&str>) {
    if let Some(phone) = phone {
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let allowed = phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !allowed || !(6..=15).contains(&digits) || phone.len() > 40 {
            errors.add(field, "is not a phone number");
        }
    }
}

/// A postal address as the client sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    #[serde(default)]
    pub label: Option<String>,
    pub recipient: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default)]
    pub region: Option<String>,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `US`.
    pub country: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub is_default_shipping: bool,
    #[serde(default)]
    pub is_default_billing: bool,
}

impl AddressInput {
    pub fn normalize_and_validate(&mut self) -> Result<(), shared::AppError> {
        let mut errors = FieldErrors::new();
        for value in [&mut self.recipient, &mut self.line1, &mut self.city, &mut self.postal_code, &mut self.country] {
            *value = value.trim().to_string();
        }
        self.country = self.country.to_ascii_uppercase();
        check_optional_text(&mut errors, "label", self.label.as_deref(), 50);
        check_required_text(&mut errors, "recipient", &self.recipient, 200);
        check_required_text(&mut errors, "line1", &self.line1, 200);
        check_optional_text(&mut errors, "line2", self.line2.as_deref(), 200);
        check_required_text(&mut errors, "city", &self.city, 100);
        check_optional_text(&mut errors, "region", self.region.as_deref(), 100);
        check_required_text(&mut errors, "postal_code", &self.postal_code, 20);
        if self.country.len() != 2 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.add("country", "must be a two-letter country code such as US");
        }
        check_phone(&mut errors, "phone", self.phone.as_deref());
        errors.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@@example.com",
            "ada@.com",
            "ada@x..com",
            "x@exa/mple.com",
            ".x@example.com",
            "x.@example.com",
            "x..y@example.com",
            "x@ex_ample.com",
            "x@-example.com",
            "x@example-.com",
            "x@127.0.0.1",
            "x(y)@example.com",
            "x\"y@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        for good in ["o'brien+shop@mail.example.co.uk", "x@ex-ample.com", "jürgen@bücher.de", "a@b.io"] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn password_policy() {
        let email = Email::parse("ada@example.com").unwrap();
        let check = |p: &str| {
            let mut e = FieldErrors::new();
            check_password(&mut e, "password", p, Some(&email));
            e.is_empty()
        };
        assert!(check("correct horse 9"));
        assert!(!check("short1"));
        assert!(!check("onlyletterslong"));
        assert!(!check("12345678901"));
        assert!(!check("ada-secret-2024"));
        assert!(!check("x ada@example.com 1"));
        assert!(!check(&"x1".repeat(65)));
        // Letters mixed with something else: no letter at all is not a mix.
        for no_letter in ["!!!!!!!!!!", "          1", "١٢٣٤٥٦٧٨٩٠١", "1234567890!"] {
            assert!(!check(no_letter), "{no_letter:?}");
        }
        assert!(!check("letters and spaces only"), "spaces are no symbol");
        assert!(check("lettres accentuées 9"));

        // A one-letter local part does not rule out every password with that letter.
        let short = Email::parse("a@example.com").unwrap();
        let mut errors = FieldErrors::new();
        check_password(&mut errors, "password", "a password 1", Some(&short));
        assert!(errors.is_empty(), "{errors:?}");
        check_password(&mut errors, "password", "a@example.com 1", Some(&short));
        assert!(!errors.is_empty(), "the whole address is still refused");
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse 9").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse 9", &hash));
        assert!(!verify_password("wrong horse 9", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }
}
