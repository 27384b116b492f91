//! HS256 for `jsonwebtoken` on ring's HMAC: the only algorithm the shop signs
//! or accepts. jsonwebtoken's own providers bring every JWT algorithm (RSA,
//! ECDSA, EdDSA) into each binary, and ring is already the TLS library, so
//! this keeps one small crypto library per function. Parsing and claim
//! validation stay jsonwebtoken's.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use ring::hmac;
use signature::{Signer, Verifier};

static PROVIDER: CryptoProvider =
    CryptoProvider { signer_factory: signer, verifier_factory: verifier, key_utils: KeyUtils::new_unimplemented() };

/// Makes HS256 on ring the process's JWT provider; later calls change nothing.
pub(crate) fn install() {
    // Err means a provider is installed already: this one, as nothing else installs one.
    let _ = PROVIDER.install_default();
}

struct Hs256(hmac::Key);

fn key(secret: &[u8]) -> Hs256 {
    Hs256(hmac::Key::new(hmac::HMAC_SHA256, secret))
}

fn signer(algorithm: &Algorithm, key_: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::HS256 || key_.family() != AlgorithmFamily::Hmac {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(key(key_.as_bytes())))
}

fn verifier(algorithm: &Algorithm, key_: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::HS256 || key_.family() != AlgorithmFamily::Hmac {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(key(key_.try_get_as_bytes()?)))
}

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(hmac::sign(&self.0, message).as_ref().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        // ring compares in constant time.
        hmac::verify(&self.0, message, tag).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7515 appendix A.1's HS256 example, signed and verified here.
    #[test]
    fn matches_the_rfc_7515_example() {
        let secret = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
        )
        .unwrap();
        let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.\
                     eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let expected = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        install();
        let signed =
            jsonwebtoken::crypto::sign(input.as_bytes(), &EncodingKey::from_secret(&secret), Algorithm::HS256).unwrap();
        assert_eq!(signed, expected);
        let decoding = DecodingKey::from_secret(&secret);
        assert!(jsonwebtoken::crypto::verify(expected, input.as_bytes(), &decoding, Algorithm::HS256).unwrap());
        let tampered = input.replacen("eyJpc3Mi", "eyJpc3Ni", 1);
        assert_ne!(tampered, input);
        assert!(!jsonwebtoken::crypto::verify(expected, tampered.as_bytes(), &decoding, Algorithm::HS256).unwrap());
        assert!(jsonwebtoken::crypto::verify(expected, input.as_bytes(), &decoding, Algorithm::HS384).is_err());
    }
}
