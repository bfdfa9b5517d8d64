//! Compact JWS tokens: `base64url(header).base64url(payload).base64url(signature)`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::TokenError;

/// Longest token accepted, in bytes: far above any real access or ID token.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The signature algorithms this crate verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl Algorithm {
    /// Every algorithm this crate can verify, the default allowed set.
    pub const ALL: [Algorithm; 2] = [Algorithm::Rs256, Algorithm::Es256];

    /// The JOSE name (`RS256`, `ES256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
        }
    }

    /// The algorithm named `name`, if this crate verifies it (`none`, HS*
    /// and everything else are not).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|alg| alg.name() == name)
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// A token whose structure and header were checked but whose signature and
/// claims were not yet.
#[derive(Debug, Clone)]
pub struct Unverified<'t> {
    /// The header's algorithm, one of the allowed set.
    pub algorithm: Algorithm,
    /// The key id the header names.
    pub kid: String,
    signing_input: &'t str,
    payload: &'t str,
    signature: Vec<u8>,
}

impl<'t> Unverified<'t> {
    /// Split `token` and check its header: `alg` must be in `allowed` and a
    /// `kid` must be present; `crit` extensions are refused.
    pub fn decode(token: &'t str, allowed: &[Algorithm]) -> Result<Unverified<'t>, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("token is too long"));
        }
        let malformed = TokenError::Malformed("expected three dot-separated parts");
        let (signing_input, signature) = token.rsplit_once('.').ok_or(malformed.clone())?;
        let (header, payload) = signing_input.split_once('.').ok_or(malformed.clone())?;
        if payload.contains('.') {
            return Err(malformed);
        }
        let header: Header = serde_json::from_slice(&decode_part(header, "header is not base64url")?)
            .map_err(|_| TokenError::Malformed("header is not a JSON object with `alg`"))?;
        let algorithm = Algorithm::from_name(&header.alg)
            .filter(|alg| allowed.contains(alg))
            .ok_or(TokenError::DisallowedAlgorithm(header.alg))?;
        if header.crit.is_some() {
            return Err(TokenError::CriticalHeader);
        }
        let kid = header.kid.filter(|kid| !kid.is_empty()).ok_or(TokenError::MissingKeyId)?;
        let signature = decode_part(signature, "signature is not base64url")?;
        Ok(Unverified { algorithm, kid, signing_input, payload, signature })
    }

    /// The bytes the signature covers.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The raw signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The payload's claims. Only trust them once the signature verified.
    pub fn claims(&self) -> Result<Map<String, Value>, TokenError> {
        serde_json::from_slice(&decode_part(self.payload, "payload is not base64url")?)
            .map_err(|_| TokenError::Malformed("payload is not a JSON object"))
    }
}

/// base64url without padding, as JWS uses it.
pub fn encode_part(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_part(part: &str, what: &'static str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed(what))
}

/// Decode a base64url (unpadded) JWK parameter.
pub(crate) fn decode_param(value: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", encode_part(header.as_bytes()), encode_part(payload.as_bytes()), encode_part(b"sig"))
    }

    #[test]
    fn decodes_an_allowed_header() {
        let token = token(r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#, r#"{"sub":"a"}"#);
        let unverified = Unverified::decode(&token, &Algorithm::ALL).unwrap();
        assert_eq!(unverified.algorithm, Algorithm::Es256);
        assert_eq!(unverified.kid, "k1");
        assert_eq!(unverified.signature(), b"sig");
        assert_eq!(unverified.claims().unwrap()["sub"], "a");
    }

    #[test]
    fn refuses_none_symmetric_and_unlisted_algorithms() {
        for alg in ["none", "HS256", "HS512", "RS384", "PS256", "ES256K"] {
            let token = token(&format!(r#"{{"alg":"{alg}","kid":"k1"}}"#), "{}");
            assert_eq!(
                Unverified::decode(&token, &Algorithm::ALL).unwrap_err(),
                TokenError::DisallowedAlgorithm(alg.into())
            );
        }
        let es = token(r#"{"alg":"ES256","kid":"k1"}"#, "{}");
        assert!(matches!(
            Unverified::decode(&es, &[Algorithm::Rs256]),
            Err(TokenError::DisallowedAlgorithm(_))
        ));
    }

    #[test]
    fn requires_a_kid_and_refuses_crit() {
        let no_kid = token(r#"{"alg":"RS256"}"#, "{}");
        assert_eq!(Unverified::decode(&no_kid, &Algorithm::ALL).unwrap_err(), TokenError::MissingKeyId);
        let crit = token(r#"{"alg":"RS256","kid":"k","crit":["exp"]}"#, "{}");
        assert_eq!(Unverified::decode(&crit, &Algorithm::ALL).unwrap_err(), TokenError::CriticalHeader);
    }

    #[test]
    fn garbage_is_malformed() {
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        for bad in ["", "abc", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.!!", long.as_str()] {
            assert!(matches!(Unverified::decode(bad, &Algorithm::ALL), Err(TokenError::Malformed(_))), "{bad}");
        }
        let not_object = token(r#"{"alg":"RS256","kid":"k"}"#, "[1]");
        let unverified = Unverified::decode(&not_object, &Algorithm::ALL).unwrap();
        assert!(matches!(unverified.claims(), Err(TokenError::Malformed(_))));
    }
}
