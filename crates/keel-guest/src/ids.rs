//! Random identifiers and random bytes.
//!
//! Ids are a short type prefix, `_`, and 16 random bytes as 32 lower-case hex
//! digits, e.g. `usr_3f9c…`.

use std::fmt::Write;

/// Prefix of user ids.
pub const USER: &str = "usr";
/// Prefix of workspace ids.
pub const WORKSPACE: &str = "wsp";
/// Prefix of channel ids.
pub const CHANNEL: &str = "chn";
/// Prefix of session ids.
pub const SESSION: &str = "ses";
/// Prefix of invitation ids.
pub const INVITATION: &str = "inv";
/// Prefix of webhook endpoint ids.
pub const WEBHOOK: &str = "whk";
/// Prefix of webhook delivery ids.
pub const DELIVERY: &str = "dlv";
/// Prefix of in-app notification ids.
pub const NOTIFICATION: &str = "ntf";
/// A dispatcher's claim on people's mail.
pub const MAIL_CLAIM: &str = "mcl";

/// The system random source failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomError(pub String);

impl std::fmt::Display for RandomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "random source failed: {}", self.0)
    }
}

impl std::error::Error for RandomError {}

/// `N` bytes from the system's secure random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| RandomError(err.to_string()))?;
    Ok(bytes)
}

/// A fresh id with `prefix`, from 16 random bytes.
pub fn new_id(prefix: &str) -> Result<String, RandomError> {
    Ok(format_id(prefix, &random_bytes::<16>()?))
}

/// A fresh secret with `prefix` (e.g. for a link sent by email), from 32
/// random bytes; store only its [`digest`].
pub fn new_secret(prefix: &str) -> Result<String, RandomError> {
    Ok(format_id(prefix, &random_bytes::<32>()?))
}

/// The SHA-256 digest of `secret` as lower-case hex: what is stored in
/// place of a secret, so a leaked table does not leak usable links.
pub fn digest(secret: &str) -> String {
    use sha2::Digest;
    format_id("sha256", &sha2::Sha256::digest(secret.as_bytes()))
}

/// `prefix` + `_` + the bytes as lower-case hex.
pub fn format_id(prefix: &str, bytes: &[u8]) -> String {
    let mut id = String::with_capacity(prefix.len() + 1 + bytes.len() * 2);
    id.push_str(prefix);
    id.push('_');
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(id, "{byte:02x}");
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_and_digests_stable() {
        let secret = new_secret("vfy").unwrap();
        assert_eq!(secret.len(), 4 + 64);
        assert_ne!(secret, new_secret("vfy").unwrap());
        assert_eq!(digest("abc"), "sha256_ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn formats_prefix_and_hex() {
        assert_eq!(format_id(USER, &[0x00, 0xab, 0x7f]), "usr_00ab7f");
    }

    #[test]
    fn new_ids_are_unique_and_well_formed() {
        let a = new_id(WORKSPACE).unwrap();
        let b = new_id(WORKSPACE).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 32);
        assert!(a.starts_with("wsp_"));
        assert!(a[4..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
