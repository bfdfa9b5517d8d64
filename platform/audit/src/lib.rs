//! `keel:platform/audit`: hash-chained audit entries over
//! `keel:repositories/audit-log`.
//!
//! An entry's hash is the SHA-256 of the canonical JSON array
//! `[previous hash, scope, sequence, at, actor, action, target, outcome,
//! request id, client address]` (absent fields as `null`); the first entry
//! of a scope links to [`GENESIS`]. Appending reads the scope's head and
//! inserts the next sequence; when another append took it, it reads the new
//! head and tries again (up to [`MAX_ATTEMPTS`] times).

use exports::keel::platform::audit::{Entry, Error, Event, Guest, Outcome, Page, Verification};
use keel::repositories::audit_log::{self, StoredEntry};
use sha2::{Digest, Sha256};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform"],
    world: "keel:platform/audit-service",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

/// What the first entry of a scope links to.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Appends racing for the same sequence before one gives up.
const MAX_ATTEMPTS: usize = 16;
/// Entries read per step while verifying.
const VERIFY_BATCH: u32 = 500;

struct Audit;

impl Guest for Audit {
    async fn append(event: Event) -> Result<Entry, Error> {
        if event.scope.is_empty() || event.action.is_empty() {
            return Err(Error::InvalidInput("scope and action are required".into()));
        }
        for _ in 0..MAX_ATTEMPTS {
            let head = audit_log::head(event.scope.clone()).await.map_err(repository_error)?;
            let (sequence, previous_hash) = match head {
                Some(head) => (head.sequence + 1, head.hash),
                None => (1, GENESIS.to_owned()),
            };
            let mut stored = StoredEntry {
                scope: event.scope.clone(),
                sequence,
                actor: event.actor.clone(),
                action: event.action.clone(),
                target: event.target.clone(),
                outcome: outcome_name(event.outcome).to_owned(),
                request_id: event.request_id.clone(),
                client_address: event.client_address.clone(),
                at: keel_guest::clock::now_ms(),
                previous_hash,
                hash: String::new(),
            };
            stored.hash = hash(&stored);
            match audit_log::insert(stored.clone()).await {
                Ok(()) => return entry(stored),
                Err(audit_log::Error::Conflict(_)) => continue,
                Err(err) => return Err(repository_error(err)),
            }
        }
        Err(Error::Unavailable(format!("audit append to `{}` lost {MAX_ATTEMPTS} races in a row", event.scope)))
    }

    async fn list_entries(scope: String, limit: u32, before: Option<u64>) -> Result<Page, Error> {
        let stored = audit_log::newest(scope, limit, before).await.map_err(repository_error)?;
        let next_before = (stored.len() == limit as usize).then(|| stored.last().map(|last| last.sequence)).flatten();
        let entries = stored.into_iter().map(entry).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { entries, next_before })
    }

    async fn verify(scope: String) -> Result<Verification, Error> {
        let mut previous = GENESIS.to_owned();
        let mut checked = 0u64;
        loop {
            let batch = audit_log::oldest(scope.clone(), checked, VERIFY_BATCH).await.map_err(repository_error)?;
            for stored in &batch {
                checked += 1;
                if stored.sequence != checked || stored.previous_hash != previous || stored.hash != hash(stored) {
                    return Ok(Verification { entries: checked, first_broken: Some(checked) });
                }
                previous.clone_from(&stored.hash);
            }
            if batch.len() < VERIFY_BATCH as usize {
                return Ok(Verification { entries: checked, first_broken: None });
            }
        }
    }
}

/// The hash of `entry` (its `hash` field aside).
fn hash(entry: &StoredEntry) -> String {
    let canonical = serde_json::json!([
        entry.previous_hash,
        entry.scope,
        entry.sequence,
        entry.at,
        entry.actor,
        entry.action,
        entry.target,
        entry.outcome,
        entry.request_id,
        entry.client_address,
    ]);
    Sha256::digest(canonical.to_string().as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::Refused => "refused",
        Outcome::Failed => "failed",
    }
}

fn entry(stored: StoredEntry) -> Result<Entry, Error> {
    let outcome = match stored.outcome.as_str() {
        "success" => Outcome::Success,
        "refused" => Outcome::Refused,
        "failed" => Outcome::Failed,
        other => return Err(Error::Internal(format!("unknown audit outcome `{other}`"))),
    };
    Ok(Entry {
        scope: stored.scope,
        sequence: stored.sequence,
        actor: stored.actor,
        action: stored.action,
        target: stored.target,
        outcome,
        request_id: stored.request_id,
        client_address: stored.client_address,
        at: stored.at,
        hash: stored.hash,
    })
}

fn repository_error(err: audit_log::Error) -> Error {
    match err {
        audit_log::Error::NotFound => Error::Internal("audit entry not found".into()),
        audit_log::Error::Conflict(message) | audit_log::Error::Internal(message) => Error::Internal(message),
        audit_log::Error::InvalidInput(message) => Error::InvalidInput(message),
        audit_log::Error::Unavailable(message) => Error::Unavailable(message),
    }
}

export!(Audit);

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(sequence: u64, previous_hash: &str) -> StoredEntry {
        let mut entry = StoredEntry {
            scope: "wsp_1".into(),
            sequence,
            actor: Some("usr_1".into()),
            action: "member.invite".into(),
            target: Some("bob@example.com".into()),
            outcome: "success".into(),
            request_id: None,
            client_address: Some("203.0.113.7".into()),
            at: 1_800_000_000_000,
            previous_hash: previous_hash.into(),
            hash: String::new(),
        };
        entry.hash = hash(&entry);
        entry
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let original = stored(1, GENESIS);
        assert_eq!(original.hash.len(), 64);
        let changes: [fn(&mut StoredEntry); 9] = [
            |e| e.sequence = 2,
            |e| e.actor = None,
            |e| e.action = "member.remove".into(),
            |e| e.target = Some("eve@example.com".into()),
            |e| e.outcome = "refused".into(),
            |e| e.request_id = Some("req_1".into()),
            |e| e.client_address = None,
            |e| e.at += 1,
            |e| e.previous_hash = "1".repeat(64),
        ];
        for change in changes {
            let mut edited = original.clone();
            change(&mut edited);
            assert_ne!(hash(&edited), original.hash, "{edited:?}");
        }
    }

    #[test]
    fn an_absent_field_differs_from_an_empty_one() {
        let mut absent = stored(1, GENESIS);
        absent.request_id = None;
        let mut empty = absent.clone();
        empty.request_id = Some(String::new());
        assert_ne!(hash(&absent), hash(&empty));
    }
}
