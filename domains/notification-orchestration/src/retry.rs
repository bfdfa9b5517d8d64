//! When a failed delivery is tried again: exponential backoff from the
//! deployment's settings.

use crate::keel::platform::configuration;
use crate::{Error, MAX_DELAY_MS};

/// The setting naming the first retry delay, in seconds.
const RETRY_SECONDS: &str = "webhook_retry_seconds";
const DEFAULT_RETRY_SECONDS: u64 = 30;
const RETRY_SECONDS_BOUNDS: configuration::Bounds = configuration::Bounds { min: 0, max: 3600 };
/// The setting naming how many attempts a delivery gets before it is dead.
const MAX_ATTEMPTS: &str = "webhook_max_attempts";
const DEFAULT_MAX_ATTEMPTS: u64 = 8;
const MAX_ATTEMPTS_BOUNDS: configuration::Bounds = configuration::Bounds { min: 1, max: 50 };

/// The retry policy of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The wait after the first failure; it doubles with each failure.
    pub first_delay_ms: i64,
    /// Attempts before a delivery is dead.
    pub max_attempts: u32,
}

impl Policy {
    /// The deployment's policy (`webhook_retry_seconds`, 30 by default;
    /// `webhook_max_attempts`, 8 by default).
    pub async fn load() -> Result<Policy, Error> {
        let first = setting(RETRY_SECONDS, RETRY_SECONDS_BOUNDS).await?.unwrap_or(DEFAULT_RETRY_SECONDS);
        let attempts = setting(MAX_ATTEMPTS, MAX_ATTEMPTS_BOUNDS).await?.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        Ok(Policy { first_delay_ms: first as i64 * 1000, max_attempts: attempts as u32 })
    }

    /// When to try again after attempt number `attempt` (1 for the first)
    /// failed at `now`; none once the attempts are used up.
    pub fn retry_at(&self, attempt: u32, now: i64) -> Option<i64> {
        if attempt >= self.max_attempts {
            return None;
        }
        let doublings = attempt.saturating_sub(1).min(30);
        let delay = self.first_delay_ms.saturating_mul(1 << doublings).min(MAX_DELAY_MS);
        Some(now + delay)
    }
}

async fn setting(name: &str, bounds: configuration::Bounds) -> Result<Option<u64>, Error> {
    configuration::number(name.to_owned(), bounds).await.map_err(|err| match err {
        configuration::Error::Invalid(message) => Error::Internal(message),
        configuration::Error::Unavailable(message) => Error::Unavailable(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_stop_at_the_last_attempt() {
        let policy = Policy { first_delay_ms: 30_000, max_attempts: 8 };
        let waits: Vec<i64> = (1..8).map(|attempt| policy.retry_at(attempt, 1_000).unwrap() - 1_000).collect();
        assert_eq!(waits, [30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000]);
        assert_eq!(policy.retry_at(8, 1_000), None);
        let long = Policy { first_delay_ms: 3_600_000, max_attempts: 50 };
        assert_eq!(long.retry_at(40, 0), Some(MAX_DELAY_MS));
        let once = Policy { first_delay_ms: 0, max_attempts: 1 };
        assert_eq!(once.retry_at(1, 5), None);
    }
}
