//! Guest tokens: `<session id>.<secret>`, where the secret is 32 random bytes in
//! base64url. Only the SHA-256 of the secret is stored, so a leaked table cannot
//! be replayed as tokens, and the id part lets a request find its session with
//! one key lookup instead of searching by hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shared::ids::has_prefix;

/// The prefix of guest session ids.
pub const ID_PREFIX: &str = "guest";
const SECRET_BYTES: usize = 32;

/// A freshly issued token: the text given to the client once, and what is stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub secret_hash: String,
}

/// A token that is well formed; whether it is valid is for the store to say.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedToken {
    pub session_id: String,
    secret: Vec<u8>,
}

// Written by hand so a token that ends up in a log line shows no secret.
impl std::fmt::Debug for ParsedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedToken").field("session_id", &self.session_id).finish_non_exhaustive()
    }
}

impl ParsedToken {
    pub fn secret_hash(&self) -> String {
        hash_secret(&self.secret)
    }

    /// Whether this token's secret hashes to `stored_hash`, in time that does not
    /// depend on where the two differ.
    pub fn matches(&self, stored_hash: &str) -> bool {
        constant_time_eq(self.secret_hash().as_bytes(), stored_hash.as_bytes())
    }
}

pub fn issue(session_id: &str) -> IssuedToken {
    let secret = random_secret();
    IssuedToken { token: format!("{session_id}.{}", URL_SAFE_NO_PAD.encode(secret)), secret_hash: hash_secret(&secret) }
}

/// `None` for anything that is not `<guest id>.<32 bytes in base64url>`.
pub fn parse(token: &str) -> Option<ParsedToken> {
    let (session_id, secret) = token.trim().split_once('.')?;
    if !has_prefix(session_id, ID_PREFIX) {
        return None;
    }
    let secret = URL_SAFE_NO_PAD.decode(secret).ok()?;
    (secret.len() == SECRET_BYTES).then(|| ParsedToken { session_id: session_id.to_string(), secret })
}

/// A hash no presented token can match: for sessions nobody may log in to
/// (fixtures), so they need no special case when a token is checked.
pub fn unusable_hash() -> String {
    hash_secret(&random_secret())
}

fn random_secret() -> [u8; SECRET_BYTES] {
    let mut secret = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    secret
}

fn hash_secret(secret: &[u8]) -> String {
    hex::encode(Sha256::digest(secret))
}

/// Compares every byte whatever the earlier ones were, so the time taken does not
/// tell an attacker how much of a guessed hash was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ids::new_id;

    #[test]
    fn issued_tokens_parse_and_match_only_their_own_hash() {
        let id = new_id(ID_PREFIX);
        let issued = issue(&id);
        let parsed = parse(&issued.token).unwrap();
        assert_eq!(parsed.session_id, id);
        assert!(parsed.matches(&issued.secret_hash));
        assert_eq!(parsed.secret_hash(), issued.secret_hash);
        assert_eq!(issued.secret_hash.len(), 64);
        let other = issue(&id);
        assert!(!parsed.matches(&other.secret_hash));
        assert!(!parsed.matches(&unusable_hash()));
        assert!(!parsed.matches(""));
        assert_ne!(issued.token, other.token, "secrets are random");
    }

    #[test]
    fn the_stored_hash_is_not_the_secret() {
        let issued = issue(&new_id(ID_PREFIX));
        let secret = issued.token.split_once('.').unwrap().1;
        assert!(!issued.secret_hash.contains(secret));
        assert_eq!(URL_SAFE_NO_PAD.decode(secret).unwrap().len(), 32);
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let id = new_id(ID_PREFIX);
        let good_secret = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let short_secret = URL_SAFE_NO_PAD.encode([7u8; 31]);
        let padded = base64::engine::general_purpose::URL_SAFE.encode([7u8; 31]);
        let book = new_id("book");
        for token in [
            String::new(),
            id.clone(),
            format!("{id}."),
            format!("{id}.{short_secret}"),
            format!("{id}.{padded}"),
            format!("{id}.{good_secret}!"),
            format!("{book}.{good_secret}"),
            format!("guest_nope.{good_secret}"),
            format!(".{good_secret}"),
            format!("{id}.{good_secret}.x"),
        ] {
            assert!(parse(&token).is_none(), "{token}");
        }
        let parsed = parse(&format!("{id}.{good_secret}")).unwrap();
        assert!(!format!("{parsed:?}").contains("7, 7"), "{parsed:?}");
    }

    #[test]
    fn constant_time_comparison_is_still_a_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
