//! The stored form of a value.
//!
//! Spin's key-value store has no expiry, so every value is wrapped:
//!
//! | bytes   | meaning                                               |
//! |---------|-------------------------------------------------------|
//! | 0       | format tag, [`FORMAT_V1`]                             |
//! | 1..9    | expiry, ms since the Unix epoch, u64 little-endian; 0 = never |
//! | 9..     | the caller's payload                                  |

/// Tag of the only envelope format so far.
pub const FORMAT_V1: u8 = 1;
const HEADER_LEN: usize = 9;

/// A decoded stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Expiry in ms since the epoch; 0 = never.
    pub expires_at_ms: u64,
    pub payload: Vec<u8>,
}

/// The stored bytes do not hold an envelope this adapter understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed;

impl Envelope {
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER_LEN + self.payload.len());
        bytes.push(FORMAT_V1);
        bytes.extend_from_slice(&self.expires_at_ms.to_le_bytes());
        bytes.extend_from_slice(&self.payload);
        bytes
    }

    pub fn decode(mut bytes: Vec<u8>) -> Result<Envelope, Malformed> {
        if bytes.len() < HEADER_LEN || bytes[0] != FORMAT_V1 {
            return Err(Malformed);
        }
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&bytes[1..HEADER_LEN]);
        let payload = bytes.split_off(HEADER_LEN);
        Ok(Envelope { expires_at_ms: u64::from_le_bytes(expiry), payload })
    }

    /// Whether the value has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms != 0 && self.expires_at_ms <= now_ms
    }
}

/// The expiry for a TTL of `ttl_seconds` starting at `now_ms`.
pub fn expiry(now_ms: u64, ttl_seconds: u32) -> u64 {
    now_ms.saturating_add(u64::from(ttl_seconds) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let envelope = Envelope { expires_at_ms: 1_700_000_000_123, payload: b"hello".to_vec() };
        let bytes = envelope.encode();
        assert_eq!(bytes[0], FORMAT_V1);
        assert_eq!(bytes.len(), 9 + 5);
        assert_eq!(Envelope::decode(bytes), Ok(envelope));
    }

    #[test]
    fn rejects_foreign_bytes() {
        assert_eq!(Envelope::decode(b"42".to_vec()), Err(Malformed));
        assert_eq!(Envelope::decode(vec![9; 12]), Err(Malformed));
    }

    #[test]
    fn expiry_zero_never_expires() {
        let forever = Envelope { expires_at_ms: 0, payload: vec![] };
        assert!(!forever.is_expired(u64::MAX));
        let soon = Envelope { expires_at_ms: expiry(1_000, 2), payload: vec![] };
        assert!(!soon.is_expired(2_999));
        assert!(soon.is_expired(3_000));
    }
}
