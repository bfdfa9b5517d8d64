//! Claim checks and the mapping of claims to an [`Identity`].

use serde_json::{Map, Value};

use crate::jwk::Jwks;
use crate::jws::{Algorithm, Unverified};
use crate::TokenError;

/// Default clock-skew allowance for `exp` and `nbf`, in seconds.
pub const DEFAULT_LEEWAY_SECS: i64 = 60;

/// What a token must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// Exact `iss` value expected.
    pub issuer: String,
    /// A value `aud` must be (string) or contain (array).
    pub audience: String,
    /// The claim that carries the e-mail address (`email`, or a namespaced
    /// claim such as `https://example.com/email`).
    pub email_claim: String,
    /// Algorithms accepted in the token header.
    pub algorithms: Vec<Algorithm>,
    /// Clock-skew allowance for `exp` and `nbf`, in seconds.
    pub leeway_secs: i64,
}

impl Validation {
    /// A validation with the default algorithms (RS256, ES256), leeway and
    /// e-mail claim (`email`).
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Validation {
        Validation {
            issuer: issuer.into(),
            audience: audience.into(),
            email_claim: "email".into(),
            algorithms: Algorithm::ALL.to_vec(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `sub`: the user's id at the issuer.
    pub subject: String,
    /// The configured email claim, when present.
    pub email: Option<String>,
    /// `exp`, seconds since the Unix epoch.
    pub expires_at: i64,
    /// `jti`, when the token carries one.
    pub token_id: Option<String>,
}

/// Verify `token` completely against `jwks` at `now` (seconds since the
/// epoch): header, key, signature, then claims.
pub fn verify(token: &str, jwks: &Jwks, validation: &Validation, now: i64) -> Result<Identity, TokenError> {
    let unverified = Unverified::decode(token, &validation.algorithms)?;
    jwks.find(&unverified.kid, unverified.algorithm)?.verify(&unverified)?;
    check(&unverified.claims()?, validation, now)
}

/// Check the claims of a token whose signature was verified.
pub fn check(claims: &Map<String, Value>, validation: &Validation, now: i64) -> Result<Identity, TokenError> {
    let issuer = claims.get("iss").and_then(Value::as_str).ok_or(TokenError::MissingClaim("iss"))?;
    if issuer != validation.issuer {
        return Err(TokenError::WrongIssuer(issuer.to_owned()));
    }
    let audience_matches = match claims.get("aud") {
        Some(Value::String(audience)) => *audience == validation.audience,
        Some(Value::Array(audiences)) => audiences.iter().any(|aud| aud.as_str() == Some(&validation.audience)),
        _ => return Err(TokenError::MissingClaim("aud")),
    };
    if !audience_matches {
        return Err(TokenError::WrongAudience);
    }
    let expires_at = numeric_date(claims, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
    if now >= expires_at.saturating_add(validation.leeway_secs) {
        return Err(TokenError::Expired);
    }
    if numeric_date(claims, "nbf")?.is_some_and(|nbf| now.saturating_add(validation.leeway_secs) < nbf) {
        return Err(TokenError::NotYetValid);
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.is_empty())
        .ok_or(TokenError::MissingClaim("sub"))?;
    let email = claims.get(&validation.email_claim).and_then(Value::as_str).map(str::to_owned);
    let token_id = claims.get("jti").and_then(Value::as_str).map(str::to_owned);
    Ok(Identity { subject: subject.to_owned(), email, expires_at, token_id })
}

/// A NumericDate claim (seconds, possibly fractional), if present.
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => number
            .as_i64()
            // Fractional dates round down; out-of-range ones are refused.
            .or_else(|| number.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f.floor() as i64))
            .map(Some)
            .ok_or(TokenError::MissingClaim(name)),
        Some(_) => Err(TokenError::MissingClaim(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::encode_part;
    use crate::signer::SigningKey;
    use serde_json::json;
    use std::sync::OnceLock;

    const NOW: i64 = 1_800_000_000;
    const ISSUER: &str = "https://id.example.com/oauth2/default";

    fn keys() -> &'static (SigningKey, SigningKey, Jwks) {
        static KEYS: OnceLock<(SigningKey, SigningKey, Jwks)> = OnceLock::new();
        KEYS.get_or_init(|| {
            let rsa = SigningKey::generate(Algorithm::Rs256, "rsa-1").unwrap();
            let ec = SigningKey::generate(Algorithm::Es256, "ec-1").unwrap();
            let jwks = Jwks::parse(json!({ "keys": [rsa.jwk(), ec.jwk()] }).to_string().as_bytes()).unwrap();
            (rsa, ec, jwks)
        })
    }

    fn validation() -> Validation {
        Validation::new(ISSUER, "api://default")
    }

    fn claims() -> Value {
        json!({ "iss": ISSUER, "aud": "api://default", "sub": "00u1", "email": "ada@example.com",
                "iat": NOW - 10, "exp": NOW + 600 })
    }

    fn with(changes: Value) -> Value {
        let mut claims = claims();
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        claims
    }

    fn rs256(claims: &Value) -> String {
        keys().0.sign(claims)
    }

    #[test]
    fn valid_rs256_and_es256_tokens_verify() {
        let (rsa, ec, jwks) = keys();
        let expected = Identity { subject: "00u1".into(), email: Some("ada@example.com".into()), expires_at: NOW + 600, token_id: None };
        assert_eq!(verify(&rsa.sign(&claims()), jwks, &validation(), NOW), Ok(expected.clone()));
        assert_eq!(verify(&ec.sign(&claims()), jwks, &validation(), NOW), Ok(expected));
    }

    #[test]
    fn audience_may_be_a_list() {
        let token = rs256(&with(json!({ "aud": ["other", "api://default"] })));
        assert!(verify(&token, &keys().2, &validation(), NOW).is_ok());
        let token = rs256(&with(json!({ "aud": ["other"] })));
        assert_eq!(verify(&token, &keys().2, &validation(), NOW), Err(TokenError::WrongAudience));
    }

    #[test]
    fn claim_checks_refuse_bad_tokens() {
        let jwks = &keys().2;
        let cases = [
            (json!({ "exp": NOW - 61 }), TokenError::Expired),
            (json!({ "nbf": NOW + 61 }), TokenError::NotYetValid),
            (json!({ "aud": "api://other" }), TokenError::WrongAudience),
            (json!({ "iss": "https://evil.example.com" }), TokenError::WrongIssuer("https://evil.example.com".into())),
            (json!({ "sub": "" }), TokenError::MissingClaim("sub")),
            (json!({ "exp": "soon" }), TokenError::MissingClaim("exp")),
            (json!({ "aud": 7 }), TokenError::MissingClaim("aud")),
        ];
        for (changes, error) in cases {
            assert_eq!(verify(&rs256(&with(changes.clone())), jwks, &validation(), NOW), Err(error), "{changes}");
        }
    }

    #[test]
    fn leeway_tolerates_small_clock_skew() {
        let jwks = &keys().2;
        let token = rs256(&with(json!({ "exp": NOW - 30, "nbf": NOW + 30 })));
        assert!(verify(&token, jwks, &validation(), NOW).is_ok());
        let strict = Validation { leeway_secs: 0, ..validation() };
        assert_eq!(verify(&token, jwks, &strict, NOW), Err(TokenError::Expired));
    }

    #[test]
    fn email_claim_is_configurable() {
        let token = rs256(&with(json!({ "https://keel.dev/email": "bob@example.com", "email": null })));
        let identity = verify(&token, &keys().2, &validation(), NOW).unwrap();
        assert_eq!(identity.email, None);
        let namespaced = Validation { email_claim: "https://keel.dev/email".into(), ..validation() };
        let identity = verify(&token, &keys().2, &namespaced, NOW).unwrap();
        assert_eq!(identity.email.as_deref(), Some("bob@example.com"));
    }

    #[test]
    fn tampering_and_foreign_keys_break_the_signature() {
        let (rsa, ec, jwks) = keys();
        for token in [rsa.sign(&claims()), ec.sign(&claims())] {
            let parts: Vec<&str> = token.split('.').collect();
            let forged = encode_part(with(json!({ "sub": "admin" })).to_string().as_bytes());
            let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
            assert_eq!(verify(&tampered, jwks, &validation(), NOW), Err(TokenError::BadSignature));
            let signature = crate::jws::decode_param(parts[2]).unwrap();
            let truncated = format!("{}.{}.{}", parts[0], parts[1], encode_part(&signature[..signature.len() - 3]));
            assert_eq!(verify(&truncated, jwks, &validation(), NOW), Err(TokenError::BadSignature));
        }
        let stranger = SigningKey::generate(Algorithm::Es256, "ec-1").unwrap();
        assert_eq!(verify(&stranger.sign(&claims()), jwks, &validation(), NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn unknown_kid_none_and_hmac_are_refused() {
        let jwks = &keys().2;
        let unknown = SigningKey::generate(Algorithm::Es256, "ec-2").unwrap().sign(&claims());
        assert_eq!(verify(&unknown, jwks, &validation(), NOW), Err(TokenError::UnknownKeyId("ec-2".into())));
        let body = encode_part(claims().to_string().as_bytes());
        for alg in ["none", "HS256"] {
            let header = encode_part(format!(r#"{{"alg":"{alg}","kid":"rsa-1"}}"#).as_bytes());
            let token = format!("{header}.{body}.{}", encode_part(b"x"));
            assert_eq!(verify(&token, jwks, &validation(), NOW), Err(TokenError::DisallowedAlgorithm(alg.into())));
        }
        // An RS256 header on an EC key id is a mismatch, not a verification.
        let header = encode_part(br#"{"alg":"RS256","kid":"ec-1"}"#);
        let token = format!("{header}.{body}.{}", encode_part(&[0; 256]));
        assert_eq!(verify(&token, jwks, &validation(), NOW), Err(TokenError::KeyMismatch("ec-1".into())));
    }
}
