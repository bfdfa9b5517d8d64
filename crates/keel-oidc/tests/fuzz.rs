//! Token, key-set and discovery parsing never panic, whatever arrives over
//! the network or in an `Authorization` header.

use keel_oidc::Algorithm;
use keel_oidc::claims::{Validation, check};
use keel_oidc::discovery::Discovery;
use keel_oidc::jwk::Jwks;
use keel_oidc::jws::Unverified;

const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjoiYXBpIiwic3ViIjoidTEiLCJleHAiOjQxMDI0NDQ4MDAsImVtYWlsIjoiYUBleGFtcGxlLmNvbSJ9.c2lnbmF0dXJl";

#[test]
fn tokens() {
    keel_fuzz::run("JWS tokens", &[TOKEN, "a.b.c", "eyJhbGciOiJub25lIn0.e30."], |input| {
        let token = String::from_utf8_lossy(input);
        if let Ok(unverified) = Unverified::decode(&token, &Algorithm::ALL) {
            if let Ok(claims) = unverified.claims() {
                let _ = check(&claims, &Validation::new("https://issuer.example", "api"), 1_700_000_000);
            }
        }
    });
}

#[test]
fn key_sets() {
    let rsa = r#"{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"sXch","e":"AQAB"}]}"#;
    let ec = r#"{"keys":[{"kty":"EC","kid":"k2","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
    keel_fuzz::run("JWKS documents", &[rsa, ec, r#"{"keys":[]}"#], |input| {
        if let Ok(jwks) = Jwks::parse(input) {
            if let Ok(unverified) = Unverified::decode(TOKEN, &Algorithm::ALL) {
                if let Ok(key) = jwks.find(&unverified.kid, unverified.algorithm) {
                    let _ = key.verify(&unverified);
                }
            }
        }
    });
}

#[test]
fn discovery_documents() {
    let document = r#"{"issuer":"https://issuer.example","jwks_uri":"https://issuer.example/jwks","id_token_signing_alg_values_supported":["RS256"]}"#;
    keel_fuzz::run("discovery documents", &[document], |input| {
        let _ = Discovery::parse(input, "https://issuer.example");
        let text = String::from_utf8_lossy(input);
        let _ = keel_oidc::discovery::check_url(&text);
        let _ = keel_oidc::discovery::cache_secs(Some(&text));
    });
}
