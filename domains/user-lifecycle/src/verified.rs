//! Bearer tokens the security context verified, remembered by the instance
//! until they expire (at most [`MAX_VERIFIED`]): a token's signature and
//! claims cannot change, so the same token is not sent to be verified again
//! on every request. Whether its session still exists is not remembered: it
//! is read on every request, so a logout is seen at once everywhere.

use std::cell::RefCell;
use std::collections::HashMap;

/// What a verified token says: its session id and user id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub session_id: String,
    pub user_id: String,
}

/// The most verified tokens an instance remembers.
const MAX_VERIFIED: usize = 256;

thread_local! {
    /// Verified tokens, with their claims and expiry (milliseconds since the
    /// Unix epoch).
    static VERIFIED: RefCell<HashMap<String, (Claims, i64)>> = RefCell::new(HashMap::new());
}

/// The claims of `token` if it was verified and has not expired at `now`.
pub fn recall(token: &str, now: i64) -> Option<Claims> {
    VERIFIED.with_borrow(|tokens| {
        tokens.get(token).filter(|(_, expires_at)| now < *expires_at).map(|(claims, _)| claims.clone())
    })
}

/// Remember a verified token until `expires_at`; when [`MAX_VERIFIED`] are
/// held, the expired ones go, or all of them if none has expired.
pub fn remember(token: String, claims: Claims, expires_at: i64, now: i64) {
    VERIFIED.with_borrow_mut(|tokens| {
        if tokens.len() >= MAX_VERIFIED {
            tokens.retain(|_, (_, expires)| now < *expires);
            if tokens.len() >= MAX_VERIFIED {
                tokens.clear();
            }
        }
        tokens.insert(token, (claims, expires_at));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(user_id: &str) -> Claims {
        Claims { session_id: format!("ses_{user_id}"), user_id: user_id.into() }
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        remember("token-a".into(), claims("usr_a"), 1_000, 500);
        assert_eq!(recall("token-a", 999), Some(claims("usr_a")));
        assert!(recall("token-a", 1_000).is_none(), "expired at its expiry");
        assert!(recall("token-b", 500).is_none(), "never verified");
    }

    #[test]
    fn remembered_tokens_are_bounded() {
        for n in 0..MAX_VERIFIED {
            remember(format!("old-{n}"), claims("usr_old"), 100, 50);
        }
        // Full, nothing expired at 60: all go, the new one stays.
        remember("new".into(), claims("usr_new"), 1_000, 60);
        assert_eq!(VERIFIED.with_borrow(HashMap::len), 1);
        for n in 0..MAX_VERIFIED - 1 {
            remember(format!("more-{n}"), claims("usr_more"), 2_000, 60);
        }
        // Full again at 1 500: the expired one goes, the live ones stay.
        remember("last".into(), claims("usr_last"), 2_000, 1_500);
        assert!(recall("new", 1_500).is_none());
        assert!(recall("more-0", 1_500).is_some());
        assert!(recall("last", 1_500).is_some());
    }
}
