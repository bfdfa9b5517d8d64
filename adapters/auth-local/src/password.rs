//! Argon2id password hashes in PHC string format, default parameters.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Why hashing or verifying failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordError {
    /// The stored hash is not a PHC string this provider understands.
    MalformedHash(String),
    /// No randomness for the salt, or the hasher failed.
    Failed(String),
}

/// Hash `password` with a fresh 16-byte salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let salt = keel_guest::ids::random_bytes::<16>().map_err(|err| PasswordError::Failed(err.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|err| PasswordError::Failed(err.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| PasswordError::Failed(err.to_string()))
}

/// Whether `password` matches `phc_hash`.
pub fn verify(password: &str, phc_hash: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc_hash).map_err(|err| PasswordError::MalformedHash(err.to_string()))?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(err) => Err(PasswordError::MalformedHash(err.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let first = hash("correct horse").unwrap();
        let second = hash("correct horse").unwrap();
        assert!(first.starts_with("$argon2id$"));
        assert_ne!(first, second);
        assert_eq!(verify("correct horse", &first), Ok(true));
        assert_eq!(verify("wrong horse", &first), Ok(false));
    }

    #[test]
    fn malformed_hashes_are_errors() {
        assert!(matches!(verify("x", "not a phc string"), Err(PasswordError::MalformedHash(_))));
    }
}
