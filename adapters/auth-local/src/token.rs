//! HS256 JSON Web Tokens.
//!
//! Tokens are `base64url(header).base64url(claims).base64url(signature)`
//! (no padding). Verification refuses any `alg` but `HS256` (including
//! `none`), compares the signature in constant time, and checks the issuer,
//! the expiry and, when present, `nbf`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The `iss` of every token this provider issues.
pub const ISSUER: &str = "keel-auth-local";

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Malformed(&'static str),
    UnsupportedAlgorithm(String),
    BadSignature,
    WrongIssuer,
    Expired,
    NotYetValid,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Malformed(what) => write!(f, "malformed token: {what}"),
            TokenError::UnsupportedAlgorithm(alg) => write!(f, "unsupported token algorithm `{alg}`"),
            TokenError::BadSignature => f.write_str("bad token signature"),
            TokenError::WrongIssuer => f.write_str("token was not issued by keel-auth-local"),
            TokenError::Expired => f.write_str("token has expired"),
            TokenError::NotYetValid => f.write_str("token is not valid yet"),
        }
    }
}

impl std::error::Error for TokenError {}

/// Sign `claims` with `key`.
pub fn sign(claims: &Claims, key: &[u8]) -> String {
    let header = Header { alg: "HS256".into(), typ: Some("JWT".into()) };
    // Serializing these plain structs cannot fail.
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
    let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{claims}");
    let signature = URL_SAFE_NO_PAD.encode(mac(key, &signing_input).finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Verify `token` with `key` at `now` (seconds since the epoch).
pub fn verify(token: &str, key: &[u8], now: i64) -> Result<Claims, TokenError> {
    let malformed = TokenError::Malformed("expected three dot-separated parts");
    let (signing_input, signature) = token.rsplit_once('.').ok_or(malformed.clone())?;
    let (header, claims) = signing_input.split_once('.').ok_or(malformed.clone())?;
    if claims.contains('.') {
        return Err(malformed);
    }
    let header: Header = decode_json(header, "header")?;
    if header.alg != "HS256" {
        return Err(TokenError::UnsupportedAlgorithm(header.alg));
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed("signature is not base64url"))?;
    // `verify_slice` compares in constant time.
    mac(key, signing_input).verify_slice(&signature).map_err(|_| TokenError::BadSignature)?;
    let claims: Claims = decode_json(claims, "claims")?;
    if claims.iss != ISSUER {
        return Err(TokenError::WrongIssuer);
    }
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| now < nbf) {
        return Err(TokenError::NotYetValid);
    }
    Ok(claims)
}

fn mac(key: &[u8], signing_input: &str) -> HmacSha256 {
    // HMAC accepts keys of any length.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(signing_input.as_bytes());
    mac
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str, what: &'static str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed(what))?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn claims(exp: i64) -> Claims {
        Claims { sub: "usr_1".into(), email: Some("a@b.co".into()), iat: 100, exp, iss: ISSUER.into(), nbf: None, jti: None }
    }

    #[test]
    fn signed_tokens_verify() {
        let token = sign(&claims(200), KEY);
        assert_eq!(verify(&token, KEY, 150), Ok(claims(200)));
    }

    #[test]
    fn expiry_and_nbf_are_enforced() {
        let token = sign(&claims(200), KEY);
        assert_eq!(verify(&token, KEY, 200), Err(TokenError::Expired));
        let early = Claims { nbf: Some(180), ..claims(200) };
        assert_eq!(verify(&sign(&early, KEY), KEY, 150), Err(TokenError::NotYetValid));
    }

    #[test]
    fn wrong_key_or_tampering_is_rejected() {
        let token = sign(&claims(200), KEY);
        assert_eq!(verify(&token, b"another key of thirty-two bytes!", 150), Err(TokenError::BadSignature));
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"usr_2","iat":100,"exp":200,"iss":"keel-auth-local"}"#);
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
        assert_eq!(verify(&forged, KEY, 150), Err(TokenError::BadSignature));
    }

    #[test]
    fn alg_none_and_others_are_refused() {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(200)).unwrap());
        for alg in ["none", "HS512", "RS256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}"}}"#));
            let token = format!("{header}.{body}.");
            assert_eq!(verify(&token, KEY, 150), Err(TokenError::UnsupportedAlgorithm(alg.into())));
        }
    }

    #[test]
    fn foreign_issuer_and_garbage_are_rejected() {
        let foreign = Claims { iss: "someone-else".into(), ..claims(200) };
        assert_eq!(verify(&sign(&foreign, KEY), KEY, 150), Err(TokenError::WrongIssuer));
        assert!(matches!(verify("abc", KEY, 150), Err(TokenError::Malformed(_))));
        assert!(matches!(verify("a.b.c.d", KEY, 150), Err(TokenError::Malformed(_))));
        assert!(matches!(verify("!!.!!.!!", KEY, 150), Err(TokenError::Malformed(_))));
    }
}
