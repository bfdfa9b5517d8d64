//! `keel:platform/rate-limiting`: fixed-window limits over
//! `keel:infrastructure/kv`.
//!
//! Each policy allows `limit` attempts per `window` seconds for one
//! subject. An attempt is one atomic `increment-with-ttl` of the counter
//! `rl:<policy>:<window index>:<SHA-256 of the subject>` (subjects such as
//! email addresses never reach the store in clear), which starts expiring
//! with its window. Concurrent attempts are exact: of N at once against a
//! limit of L, exactly L are allowed. A fixed window lets a client spend
//! its limit at the end of one window and again at the start of the next.
//!
//! Policies and their defaults are [`POLICIES`]; the Spin variable
//! `rate_limit_<policy>` overrides one as `"<attempts>/<seconds>"` (e.g.
//! `"10/60"`), turns it off with `"off"`, or keeps it with `"default"`
//! (what the manifests declare, so that the numbers live here only).
//!
//! A key-value store that cannot be reached does not lock everyone out:
//! the attempt is allowed and the failure logged (fail open).
//!
//! A counter never goes down within its window, so once an instance sees
//! one over its limit it refuses later attempts on it until the window
//! ends without touching the store ([`EXHAUSTED`]): a flood is shed without
//! a write per attempt (and without compare-and-swap races on one hot
//! key), and the decisions are the ones counting would give.

use exports::keel::platform::rate_limiting::{Decision, Error, Guest};
use keel::platform::configuration;
use keel_guest::kv;
use std::cell::RefCell;
use std::collections::HashMap;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform"],
    world: "keel:platform/rate-limiting-service",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/kv@0.1.0": keel_guest::kv::bindings::keel::infrastructure::kv },
});

/// A limit: `limit` attempts per `window` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Policy {
    limit: u32,
    window: u32,
}

/// Every policy and its default.
const POLICIES: &[(&str, Policy)] = &[
    ("signup_per_address", Policy { limit: 20, window: 3600 }),
    ("login_per_address", Policy { limit: 30, window: 60 }),
    ("login_per_email", Policy { limit: 10, window: 300 }),
    ("account_mail_per_address", Policy { limit: 10, window: 3600 }),
    ("account_mail_per_recipient", Policy { limit: 5, window: 3600 }),
    ("writes_per_user", Policy { limit: 600, window: 60 }),
    // Argon2 runs started per second by everyone: about half of two cores.
    ("password_hashes", Policy { limit: 20, window: 1 }),
];

thread_local! {
    /// Window counters this instance has seen over their limit, with the
    /// second their window ends.
    static EXHAUSTED: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
    /// Policies as configured, read once per instance (Spin variables do
    /// not change while an app runs); `None` when turned off.
    static CONFIGURED: RefCell<HashMap<String, Option<Policy>>> = RefCell::new(HashMap::new());
}

struct RateLimiting;

impl Guest for RateLimiting {
    async fn hit(policy: String, subject: String) -> Result<Decision, Error> {
        let Some(configured) = configured(&policy).await? else {
            return Ok(Decision {
                allowed: true,
                limit: u32::MAX,
                remaining: u32::MAX,
                reset_seconds: 0,
                first_refusal: false,
            });
        };
        let now = keel_guest::clock::now_secs().max(0) as u64;
        let window = u64::from(configured.window);
        let reset_seconds = (window - now % window) as u32;
        let key = format!("rl:{policy}:{}:{}", now / window, keel_guest::ids::digest(&subject));
        if known_exhausted(&key, now) {
            return Ok(Decision {
                allowed: false,
                limit: configured.limit,
                remaining: 0,
                reset_seconds,
                first_refusal: false,
            });
        }
        // The counter outlives its window by a second so that a late
        // attempt never finds it gone and starts over.
        let count = match kv::increment_with_ttl(key.clone(), 1, configured.window + 1).await {
            Ok(count) => count,
            Err(err) => {
                eprintln!("rate-limiting: {policy} not enforced: {}", kv::describe(&err));
                return Ok(Decision {
                    allowed: true,
                    limit: configured.limit,
                    remaining: configured.limit,
                    reset_seconds,
                    first_refusal: false,
                });
            }
        };
        let decision = decide(configured, count, reset_seconds);
        if !decision.allowed {
            remember_exhausted(key, now + u64::from(reset_seconds), now);
        }
        Ok(decision)
    }
}

/// Whether this instance has seen the counter `key` over its limit in a
/// window that has not ended at `now`.
fn known_exhausted(key: &str, now: u64) -> bool {
    EXHAUSTED.with_borrow(|exhausted| exhausted.get(key).is_some_and(|ends| *ends > now))
}

/// Note that the counter `key` is over its limit until `ends`, forgetting
/// counters whose windows have ended.
fn remember_exhausted(key: String, ends: u64, now: u64) {
    EXHAUSTED.with_borrow_mut(|exhausted| {
        exhausted.retain(|_, ends| *ends > now);
        exhausted.insert(key, ends);
    });
}

/// The decision for the `count`-th attempt in a window.
fn decide(policy: Policy, count: i64, reset_seconds: u32) -> Decision {
    let used = u32::try_from(count.max(0)).unwrap_or(u32::MAX);
    Decision {
        allowed: used <= policy.limit,
        limit: policy.limit,
        remaining: policy.limit.saturating_sub(used),
        first_refusal: u64::from(used) == u64::from(policy.limit) + 1,
        reset_seconds,
    }
}

/// The policy `name` as configured; `None` when turned off.
async fn configured(name: &str) -> Result<Option<Policy>, Error> {
    if let Some(known) = CONFIGURED.with_borrow(|configured| configured.get(name).copied()) {
        return Ok(known);
    }
    let Some((_, default)) = POLICIES.iter().find(|(known, _)| *known == name) else {
        return Err(Error::Misconfigured(format!("unknown rate-limit policy `{name}`")));
    };
    let variable = format!("rate_limit_{name}");
    let policy = match configuration::get(variable.clone(), configuration::Kind::Text).await {
        Ok(None) => Some(*default),
        Ok(Some(raw)) if raw == "default" => Some(*default),
        Ok(Some(raw)) => {
            parse(&raw).map_err(|why| Error::Misconfigured(format!("variable `{variable}` = `{raw}`: {why}")))?
        }
        Err(configuration::Error::Invalid(message) | configuration::Error::Unavailable(message)) => {
            return Err(Error::Misconfigured(message));
        }
    };
    CONFIGURED.with_borrow_mut(|configured| configured.insert(name.to_owned(), policy));
    Ok(policy)
}

/// `"<attempts>/<seconds>"`, or `"off"` (`"default"` is handled by the caller).
fn parse(raw: &str) -> Result<Option<Policy>, String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (limit, window) = raw.split_once('/').ok_or("expected `<attempts>/<seconds>` (e.g. `10/60`) or `off`")?;
    let limit = limit.trim().parse::<u32>().map_err(|_| format!("`{limit}` is not a number of attempts"))?;
    let window = window.trim().parse::<u32>().ok().filter(|window| *window > 0);
    let window = window.ok_or("the window must be a positive number of seconds")?;
    Ok(Some(Policy { limit, window }))
}

export!(RateLimiting);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exhausted_window_is_refused_here_until_it_ends() {
        assert!(!known_exhausted("rl:login:10:a", 100));
        remember_exhausted("rl:login:10:a".into(), 120, 100);
        assert!(known_exhausted("rl:login:10:a", 119));
        assert!(!known_exhausted("rl:login:10:b", 119), "another subject");
        assert!(!known_exhausted("rl:login:10:a", 120), "the window has ended");
        remember_exhausted("rl:login:12:a".into(), 140, 125);
        assert_eq!(EXHAUSTED.with_borrow(HashMap::len), 1, "ended windows are forgotten");
    }

    #[test]
    fn parses_policies() {
        assert_eq!(parse("10/60"), Ok(Some(Policy { limit: 10, window: 60 })));
        assert_eq!(parse(" 3 / 3600 "), Ok(Some(Policy { limit: 3, window: 3600 })));
        assert_eq!(parse("OFF"), Ok(None));
        for bad in ["", "10", "ten/60", "10/0", "10/-1", "-1/60", "10/60s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_attempt_past_the_limit_is_refused() {
        let policy = Policy { limit: 3, window: 60 };
        let decisions: Vec<_> = (1..=5).map(|count| decide(policy, count, 30)).collect();
        assert_eq!(decisions.iter().map(|d| d.allowed).collect::<Vec<_>>(), [true, true, true, false, false]);
        assert_eq!(decisions.iter().map(|d| d.first_refusal).collect::<Vec<_>>(), [false, false, false, true, false]);
        assert_eq!(decisions.iter().map(|d| d.remaining).collect::<Vec<_>>(), [2, 1, 0, 0, 0]);
        assert!(decisions.iter().all(|d| d.limit == 3 && d.reset_seconds == 30));
    }

    #[test]
    fn every_policy_has_a_sane_default() {
        for (name, policy) in POLICIES {
            assert!(policy.limit > 0 && policy.window > 0, "{name}");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name} must be a Spin variable suffix");
        }
    }
}
