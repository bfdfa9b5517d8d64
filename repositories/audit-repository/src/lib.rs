//! `keel:repositories/audit-log`: audit entries over `keel:infrastructure/sql`.
//!
//! Entries are keyed by `(scope, sequence)`, so of two appends racing for
//! the same sequence one gets `conflict` and tries again on the new head.
//! Absent optional fields are stored as empty strings. Nothing here updates
//! or deletes an entry.

mod schema;

use exports::keel::repositories::audit_log::{Error, Guest, StoredEntry};
use keel_guest::sql::{self, Autocommit, Executor, RowRef};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/audit-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql },
});

const SELECT: &str = "SELECT scope, sequence, actor, action, target, outcome, request_id, client_address, at, \
     previous_hash, hash FROM audit_entries";
/// The most entries one read returns.
const MAX_LIMIT: u32 = 1000;

struct AuditRepository;

impl Guest for AuditRepository {
    async fn head(scope: String) -> Result<Option<StoredEntry>, Error> {
        schema::MIGRATOR.ensure().await?;
        Ok(Self::newest(scope, 1, None).await?.pop())
    }

    async fn insert(entry: StoredEntry) -> Result<(), Error> {
        schema::MIGRATOR.ensure().await?;
        if entry.scope.is_empty() || entry.action.is_empty() || entry.sequence == 0 {
            return Err(Error::InvalidInput("scope, action and a sequence from 1 are required".into()));
        }
        let sequence = sequence_value(entry.sequence)?;
        Autocommit
            .exec(
                "INSERT INTO audit_entries (scope, sequence, actor, action, target, outcome, request_id, \
                 client_address, at, previous_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                vec![
                    entry.scope.as_str().into(),
                    sequence.into(),
                    entry.actor.unwrap_or_default().into(),
                    entry.action.into(),
                    entry.target.unwrap_or_default().into(),
                    entry.outcome.into(),
                    entry.request_id.unwrap_or_default().into(),
                    entry.client_address.unwrap_or_default().into(),
                    entry.at.into(),
                    entry.previous_hash.into(),
                    entry.hash.into(),
                ],
            )
            .await
            .map_err(|err| match err {
                sql::Error::Conflict(_) => {
                    Error::Conflict(format!("sequence {} of `{}` is taken", entry.sequence, entry.scope))
                }
                other => other.into(),
            })?;
        Ok(())
    }

    async fn newest(scope: String, limit: u32, before: Option<u64>) -> Result<Vec<StoredEntry>, Error> {
        schema::MIGRATOR.ensure().await?;
        let before = before.map(sequence_value).transpose()?.unwrap_or(i64::MAX);
        let rows = Autocommit
            .fetch(&format!("{SELECT} WHERE scope = ?1 AND sequence < ?2 ORDER BY sequence DESC LIMIT ?3"), vec![
                scope.into(),
                before.into(),
                i64::from(limit.clamp(1, MAX_LIMIT)).into(),
            ])
            .await?;
        Ok(rows.decode(decode)?)
    }

    async fn oldest(scope: String, after: u64, limit: u32) -> Result<Vec<StoredEntry>, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(&format!("{SELECT} WHERE scope = ?1 AND sequence > ?2 ORDER BY sequence LIMIT ?3"), vec![
                scope.into(),
                sequence_value(after)?.into(),
                i64::from(limit.clamp(1, MAX_LIMIT)).into(),
            ])
            .await?;
        Ok(rows.decode(decode)?)
    }
}

fn sequence_value(sequence: u64) -> Result<i64, Error> {
    i64::try_from(sequence).map_err(|_| Error::InvalidInput(format!("sequence {sequence} is out of range")))
}

fn decode(row: RowRef<'_>) -> Result<StoredEntry, sql::Error> {
    let optional = |column: &str| row.text(column).map(|text| Some(text).filter(|text| !text.is_empty()));
    let sequence = row.integer("sequence")?;
    Ok(StoredEntry {
        scope: row.text("scope")?,
        sequence: u64::try_from(sequence)
            .map_err(|_| sql::Error::Internal(format!("negative audit sequence {sequence}")))?,
        actor: optional("actor")?,
        action: row.text("action")?,
        target: optional("target")?,
        outcome: row.text("outcome")?,
        request_id: optional("request_id")?,
        client_address: optional("client_address")?,
        at: row.integer("at")?,
        previous_hash: row.text("previous_hash")?,
        hash: row.text("hash")?,
    })
}

keel_guest::impl_from_sql_error!(Error);

export!(AuditRepository);
