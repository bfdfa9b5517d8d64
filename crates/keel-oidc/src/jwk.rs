//! JSON Web Key Sets: the issuer's public signing keys.
//!
//! [`Jwks::parse`] keeps every key it can use for verification (RSA of at
//! least [`MIN_RSA_BITS`] bits, EC on P-256) and skips the rest (encryption
//! keys, other curves, algorithms this crate does not verify), so one
//! unusual key does not make the whole set unusable.

use p256::ecdsa::signature::Verifier as _;
use rsa::traits::PublicKeyParts as _;
use serde::Deserialize;

use crate::jws::{Algorithm, Unverified, decode_param};
use crate::TokenError;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Why a key set could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed JWKS: {0}")]
pub struct JwksError(String);

/// A public key that verifies signatures.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// An RSA key (RS256).
    Rsa(rsa::RsaPublicKey),
    /// A P-256 key (ES256).
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    fn supports(&self, algorithm: Algorithm) -> bool {
        matches!((self, algorithm), (PublicKey::Rsa(_), Algorithm::Rs256) | (PublicKey::P256(_), Algorithm::Es256))
    }
}

/// One usable key of a set.
#[derive(Debug, Clone)]
pub struct Jwk {
    /// `kid`, when the set gives one.
    pub kid: Option<String>,
    /// The `alg` the key is restricted to, if the set says.
    pub algorithm: Option<Algorithm>,
    /// The key itself.
    pub key: PublicKey,
}

impl Jwk {
    /// Verify `token`'s signature with this key.
    pub fn verify(&self, token: &Unverified<'_>) -> Result<(), TokenError> {
        let kid = || self.kid.clone().unwrap_or_default();
        if !self.key.supports(token.algorithm) || self.algorithm.is_some_and(|alg| alg != token.algorithm) {
            return Err(TokenError::KeyMismatch(kid()));
        }
        match &self.key {
            PublicKey::Rsa(key) => {
                let key = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.clone());
                let signature = rsa::pkcs1v15::Signature::try_from(token.signature())
                    .map_err(|_| TokenError::BadSignature)?;
                key.verify(token.signing_input(), &signature).map_err(|_| TokenError::BadSignature)
            }
            PublicKey::P256(key) => {
                // JWS carries ES256 signatures as the 64-byte `r || s`, not DER.
                let signature =
                    p256::ecdsa::Signature::from_slice(token.signature()).map_err(|_| TokenError::BadSignature)?;
                key.verify(token.signing_input(), &signature).map_err(|_| TokenError::BadSignature)
            }
        }
    }
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

/// The usable keys of a JSON Web Key Set.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    /// The keys this crate can use; others are skipped.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Read a JWKS document (`{"keys":[…]}`).
    pub fn parse(bytes: &[u8]) -> Result<Jwks, JwksError> {
        let set: RawSet = serde_json::from_slice(bytes).map_err(|err| JwksError(err.to_string()))?;
        let keys = set
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<RawKey>(value).ok())
            .filter_map(usable_key)
            .collect();
        Ok(Jwks { keys })
    }

    /// The key named `kid` that can verify `algorithm`.
    pub fn find(&self, kid: &str, algorithm: Algorithm) -> Result<&Jwk, TokenError> {
        let mut named = self.keys.iter().filter(|key| key.kid.as_deref() == Some(kid)).peekable();
        if named.peek().is_none() {
            return Err(TokenError::UnknownKeyId(kid.to_owned()));
        }
        named
            .find(|key| key.key.supports(algorithm) && key.algorithm.is_none_or(|alg| alg == algorithm))
            .ok_or_else(|| TokenError::KeyMismatch(kid.to_owned()))
    }
}

fn usable_key(raw: RawKey) -> Option<Jwk> {
    if raw.usage.as_deref().is_some_and(|usage| usage != "sig") {
        return None;
    }
    let algorithm = match raw.alg.as_deref() {
        None => None,
        Some(name) => Some(Algorithm::from_name(name)?),
    };
    let key = match raw.kty.as_str() {
        "RSA" => {
            let n = rsa::BigUint::from_bytes_be(&decode_param(raw.n.as_deref()?)?);
            let e = rsa::BigUint::from_bytes_be(&decode_param(raw.e.as_deref()?)?);
            let key = rsa::RsaPublicKey::new(n, e).ok()?;
            (key.n().bits() >= MIN_RSA_BITS).then_some(PublicKey::Rsa(key))?
        }
        "EC" if raw.crv.as_deref() == Some("P-256") => {
            let x: [u8; 32] = decode_param(raw.x.as_deref()?)?.try_into().ok()?;
            let y: [u8; 32] = decode_param(raw.y.as_deref()?)?.try_into().ok()?;
            let point = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
            PublicKey::P256(p256::ecdsa::VerifyingKey::from_encoded_point(&point).ok()?)
        }
        _ => return None,
    };
    Some(Jwk { kid: raw.kid, algorithm, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::SigningKey;
    use serde_json::json;

    fn set(keys: &[serde_json::Value]) -> Jwks {
        Jwks::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    }

    #[test]
    fn finds_keys_by_kid_and_algorithm() {
        let rsa = SigningKey::generate(Algorithm::Rs256, "r1").unwrap();
        let ec = SigningKey::generate(Algorithm::Es256, "e1").unwrap();
        let jwks = set(&[rsa.jwk(), ec.jwk()]);
        assert_eq!(jwks.keys.len(), 2);
        assert!(jwks.find("r1", Algorithm::Rs256).is_ok());
        assert!(jwks.find("e1", Algorithm::Es256).is_ok());
        assert_eq!(jwks.find("r1", Algorithm::Es256).unwrap_err(), TokenError::KeyMismatch("r1".into()));
        assert_eq!(jwks.find("zz", Algorithm::Rs256).unwrap_err(), TokenError::UnknownKeyId("zz".into()));
    }

    #[test]
    fn skips_keys_it_cannot_use() {
        let rsa = SigningKey::generate(Algorithm::Rs256, "r1").unwrap();
        let mut encryption = rsa.jwk();
        encryption["use"] = json!("enc");
        encryption["kid"] = json!("enc");
        let mut other_alg = rsa.jwk();
        other_alg["alg"] = json!("RS512");
        let jwks = set(&[
            encryption,
            other_alg,
            json!({ "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" }),
            json!({ "kty": "EC", "kid": "k1", "crv": "secp256k1", "x": "AA", "y": "AA" }),
            json!({ "kty": "EC", "kid": "bad", "crv": "P-256", "x": "AA", "y": "AA" }),
            // A 512-bit modulus is too weak.
            json!({ "kty": "RSA", "kid": "weak", "n": crate::jws::encode_part(&[0xff; 64]), "e": "AQAB" }),
            json!("not a key"),
        ]);
        assert!(jwks.keys.is_empty(), "{jwks:?}");
    }

    #[test]
    fn a_document_without_keys_is_an_error() {
        assert!(Jwks::parse(b"{}").is_err());
        assert!(Jwks::parse(b"not json").is_err());
    }
}
