//! Failed logins are limited per account and per source address, in a sliding
//! window kept in the accounts store (so every function instance sees the same
//! counts). A subject with `max` failures in the last `window` is refused until
//! the oldest of them leaves the window: the lockout expires by itself.
//!
//! The account is counted by the email as typed (normalised), whether or not an
//! account has it, so the answers do not tell which emails exist. Subjects are
//! stored hashed: people type passwords into email fields.

use sha2::{Digest, Sha256};
use shared::config::{ConfigError, Env};
use shared::error::{AppError, AppResult};
use shared::sql::now_secs;

use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_account: u32,
    pub per_source: u32,
    pub window_secs: i64,
    /// Mails about an address (confirmation links, "you have an account" notes)
    /// in `mail_window_secs`: the sign-up's and resends, however they were asked.
    pub mails_per_address: u32,
    pub mail_window_secs: i64,
}

impl Default for LoginLimits {
    /// Five wrong passwords per account and fifty per address in fifteen minutes:
    /// a customer who mistypes is not stopped, a guesser gets twenty tries an hour.
    /// Three mails an hour per address: the sign-up's and two resends.
    fn default() -> Self {
        Self { per_account: 5, per_source: 50, window_secs: 15 * 60, mails_per_address: 3, mail_window_secs: 3600 }
    }
}

impl LoginLimits {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let limits = Self {
            per_account: env.parse_or("LOGIN_FAILURES_PER_ACCOUNT", defaults.per_account)?,
            per_source: env.parse_or("LOGIN_FAILURES_PER_SOURCE", defaults.per_source)?,
            window_secs: env.parse_or("LOGIN_FAILURE_WINDOW_SECS", defaults.window_secs)?,
            mails_per_address: env.parse_or("MAILS_PER_ADDRESS", defaults.mails_per_address)?,
            mail_window_secs: env.parse_or("MAIL_WINDOW_SECS", defaults.mail_window_secs)?,
        };
        let invalid = |name: &str, why: &str| ConfigError::Invalid { name: name.into(), why: why.into() };
        if limits.per_account == 0 {
            return Err(invalid("LOGIN_FAILURES_PER_ACCOUNT", "use 1 or more"));
        }
        if limits.per_source == 0 {
            return Err(invalid("LOGIN_FAILURES_PER_SOURCE", "use 1 or more"));
        }
        if !(1..=24 * 3600).contains(&limits.window_secs) {
            return Err(invalid("LOGIN_FAILURE_WINDOW_SECS", "use 1 to 86400"));
        }
        if limits.mails_per_address == 0 {
            return Err(invalid("MAILS_PER_ADDRESS", "use 1 or more"));
        }
        if !(1..=24 * 3600).contains(&limits.mail_window_secs) {
            return Err(invalid("MAIL_WINDOW_SECS", "use 1 to 86400"));
        }
        Ok(limits)
    }
}

/// What one login attempt is counted against.
pub struct Attempt {
    account: String,
    source: Option<String>,
}

impl Attempt {
    pub fn new(email: &str, source: Option<&str>) -> Self {
        let subject = |kind: &str, value: &str| hex::encode(Sha256::digest(format!("{kind}:{value}").as_bytes()));
        Self {
            account: subject("account", &email.trim().to_lowercase()),
            source: source.map(str::trim).filter(|s| !s.is_empty()).map(|s| subject("source", s)),
        }
    }

    /// 429 while the account or the source is locked out; checked before the
    /// password, so a locked account costs no hashing and a right guess is not told.
    pub async fn check(&self, store: &Store, limits: &LoginLimits) -> AppResult<()> {
        let now = now_secs();
        if let Some(wait) = locked_for(store, &self.account, limits.per_account, limits.window_secs, now).await? {
            return Err(too_many("too many failed logins for this email", wait));
        }
        if let Some(source) = &self.source
            && let Some(wait) = locked_for(store, source, limits.per_source, limits.window_secs, now).await?
        {
            return Err(too_many("too many failed logins from your address", wait));
        }
        Ok(())
    }

    pub async fn failed(&self, store: &Store, limits: &LoginLimits) -> AppResult<()> {
        let now = now_secs();
        let mut subjects = vec![self.account.as_str()];
        subjects.extend(self.source.as_deref());
        store.add_login_failure(&subjects, now, now - limits.window_secs).await
    }

    /// A right password forgets the account's failures (not the source's: one
    /// known account must not reset a guesser's count).
    pub async fn succeeded(&self, store: &Store) -> AppResult<()> {
        store.clear_login_failures(&self.account).await
    }
}

/// Counts one mail asked for `email` (normalised, with or without an account),
/// or the seconds until one may be asked again. Two requests at the very same
/// moment may both pass: the limit is against floods, not a ledger.
pub async fn take_mail_slot(store: &Store, limits: &LoginLimits, email: &str) -> AppResult<Result<(), i64>> {
    let subject = hex::encode(Sha256::digest(format!("mail:{}", email.trim().to_lowercase()).as_bytes()));
    let now = now_secs();
    if let Some(wait) = locked_for(store, &subject, limits.mails_per_address, limits.mail_window_secs, now).await? {
        return Ok(Err(wait));
    }
    // The failures table is the store's sliding-window counter; mails are one more subject.
    store.add_login_failure(&[subject.as_str()], now, now - limits.mail_window_secs).await?;
    Ok(Ok(()))
}

pub fn too_many_mails(wait_secs: i64) -> AppError {
    too_many("too many mails were asked for this address", wait_secs)
}

/// Seconds until `subject` may try again, if it has `max` failures in the window.
async fn locked_for(store: &Store, subject: &str, max: u32, window_secs: i64, now: i64) -> AppResult<Option<i64>> {
    let failures = store.login_failures(subject, now - window_secs).await?;
    let max = max as usize;
    if failures.len() < max {
        return Ok(None);
    }
    // Allowed again once only max - 1 of them remain in the window.
    let unlocks_at = failures[failures.len() - max] + window_secs;
    Ok(Some((unlocks_at - now).max(1)))
}

fn too_many(what: &str, wait_secs: i64) -> AppError {
    AppError::TooManyRequests {
        detail: format!("{what}; try again in {wait_secs} s"),
        retry_after_secs: u32::try_from(wait_secs).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_come_from_the_environment_and_are_checked() {
        assert_eq!(LoginLimits::from_env(&Env::from_pairs::<&str, &str>([])).unwrap(), LoginLimits::default());
        let set = Env::from_pairs([
            ("LOGIN_FAILURES_PER_ACCOUNT", "3"),
            ("LOGIN_FAILURES_PER_SOURCE", "7"),
            ("LOGIN_FAILURE_WINDOW_SECS", "60"),
        ]);
        assert_eq!(
            LoginLimits::from_env(&set).unwrap(),
            LoginLimits { per_account: 3, per_source: 7, window_secs: 60, ..LoginLimits::default() }
        );
        for (name, value) in [
            ("LOGIN_FAILURES_PER_ACCOUNT", "0"),
            ("LOGIN_FAILURE_WINDOW_SECS", "0"),
            ("LOGIN_FAILURES_PER_SOURCE", "x"),
        ] {
            assert!(LoginLimits::from_env(&Env::from_pairs([(name, value)])).is_err(), "{name}={value}");
        }
    }

    #[test]
    fn the_same_email_however_typed_is_one_subject_and_subjects_are_hashed() {
        let a = Attempt::new(" Grace@Example.com ", Some("203.0.113.9"));
        let b = Attempt::new("grace@example.com", None);
        assert_eq!(a.account, b.account);
        assert_ne!(a.account, Attempt::new("linus@example.com", None).account);
        assert!(!a.account.contains("grace") && a.account.len() == 64);
        assert!(b.source.is_none() && Attempt::new("x", Some(" ")).source.is_none());
        assert_ne!(a.source.as_deref(), Some(a.account.as_str()));
    }
}
