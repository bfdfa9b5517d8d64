//! Issuer-side signing: RS256/ES256 tokens and the JWK that verifies them.
//!
//! Keel's adapters never sign; test issuers (the OIDC conformance suite's
//! local issuer, this crate's unit tests) do.

use p256::ecdsa::signature::{RandomizedSigner as _, Signer as _};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};

use crate::jws::{Algorithm, encode_part};

/// Why a key could not be generated.
#[derive(Debug, thiserror::Error)]
#[error("cannot generate a signing key: {0}")]
pub struct SignerError(String);

/// RSA modulus size of generated keys, in bits.
const RSA_BITS: usize = 2048;

#[derive(Clone)]
enum Secret {
    Rsa(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>),
    P256(p256::ecdsa::SigningKey),
}

/// A private signing key with its key id.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    secret: Secret,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("algorithm", &self.algorithm()).finish()
    }
}

impl SigningKey {
    /// A fresh random key for `algorithm`, published as `kid`.
    pub fn generate(algorithm: Algorithm, kid: impl Into<String>) -> Result<SigningKey, SignerError> {
        let mut rng = rsa::rand_core::OsRng;
        let secret = match algorithm {
            Algorithm::Rs256 => {
                let key = rsa::RsaPrivateKey::new(&mut rng, RSA_BITS).map_err(|err| SignerError(err.to_string()))?;
                Secret::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(key)))
            }
            Algorithm::Es256 => Secret::P256(p256::ecdsa::SigningKey::random(&mut rng)),
        };
        Ok(SigningKey { kid: kid.into(), secret })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.secret {
            Secret::Rsa(_) => Algorithm::Rs256,
            Secret::P256(_) => Algorithm::Es256,
        }
    }

    /// The public JWK, as an issuer publishes it in its JWKS.
    pub fn jwk(&self) -> Value {
        let alg = self.algorithm().name();
        match &self.secret {
            Secret::Rsa(key) => {
                let private: &rsa::RsaPrivateKey = (**key).as_ref();
                let public = private.to_public_key();
                json!({ "kty": "RSA", "use": "sig", "alg": alg, "kid": self.kid,
                        "n": encode_part(&public.n().to_bytes_be()), "e": encode_part(&public.e().to_bytes_be()) })
            }
            Secret::P256(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                let (x, y) = (point.x().map(|x| encode_part(x)), point.y().map(|y| encode_part(y)));
                json!({ "kty": "EC", "use": "sig", "alg": alg, "kid": self.kid, "crv": "P-256", "x": x, "y": y })
            }
        }
    }

    /// A compact JWS of `claims` with header `{"alg","kid","typ":"JWT"}`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({ "alg": self.algorithm().name(), "kid": self.kid, "typ": "JWT" });
        self.sign_with_header(&header, claims)
    }

    /// A compact JWS of `claims` under an arbitrary `header` (which should
    /// name this key's algorithm for the result to verify).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            encode_part(header.to_string().as_bytes()),
            encode_part(claims.to_string().as_bytes())
        );
        let signature = match &self.secret {
            Secret::Rsa(key) => {
                let signature: rsa::pkcs1v15::Signature =
                    key.sign_with_rng(&mut rsa::rand_core::OsRng, input.as_bytes());
                Box::<[u8]>::from(signature).into_vec()
            }
            Secret::P256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
                signature.to_bytes().to_vec()
            }
        };
        format!("{input}.{}", encode_part(&signature))
    }
}

/// An unsigned token (`alg: none`, empty signature) carrying `claims`.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    let header = json!({ "alg": "none", "kid": kid, "typ": "JWT" });
    format!("{}.{}.", encode_part(header.to_string().as_bytes()), encode_part(claims.to_string().as_bytes()))
}
