//! The transactional outbox: events recorded in the same transaction as the
//! change they report.
//!
//! A repository that changes something other components react to (a message
//! posted, a member added, a file shared) opens its transaction with
//! [`begin`] and calls [`EventTransaction::record`] before committing: the
//! change and its event commit together or not at all, so a crash between
//! the commit and the delivery of the event loses nothing. The event log
//! (`keel:repositories/events`) reads the same table for live streams, and
//! the dispatcher (`keel:domains/notification-orchestration`) picks up the
//! events not yet dispatched.
//!
//! This module owns the `events` table: its schema ([`MIGRATOR`]), the
//! names of the event kinds as stored ([`Kind`]) and the retention rule.

use std::ops::Deref;

pub use crate::event_kind::Kind;

use crate::clock;
use crate::migrations::{Migration, Migrator, PerDialect};
use crate::sql::{self, Error, Executor, Transaction, Value};

/// How long the log keeps a dispatched event.
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
/// How long an event waits for a dispatcher: a deployment that never runs
/// one (no cron trigger, no scheduler) does not grow its log forever.
pub const UNDISPATCHED_RETENTION_MS: i64 = 7 * RETENTION_MS;
/// One record in this many also drops the dispatched events past their
/// retention.
const PRUNE_EVERY: i64 = 256;

/// An event to record.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub workspace_id: &'a str,
    /// None for a workspace-wide event.
    pub channel_id: Option<&'a str>,
    pub kind: Kind,
    /// The message id for message and reaction events, the user id for
    /// member events, the file id for file events.
    pub subject_id: &'a str,
    /// Who did it.
    pub actor_id: &'a str,
}

/// A transaction whose changes may record events. Dereferences to the
/// [`Transaction`], so statements run on it as usual; commit with
/// [`EventTransaction::commit`].
pub struct EventTransaction(Transaction);

/// Start a transaction that may record events, bringing the `events` table
/// up to date first (outside the transaction: a migration never runs inside
/// someone else's change).
pub async fn begin() -> Result<EventTransaction, Error> {
    MIGRATOR.ensure().await?;
    Ok(EventTransaction(sql::begin().await?))
}

impl Deref for EventTransaction {
    type Target = Transaction;

    fn deref(&self) -> &Transaction {
        &self.0
    }
}

impl Executor for EventTransaction {
    async fn fetch(&self, statement: &str, params: Vec<Value>) -> Result<sql::Rows, Error> {
        self.0.fetch(statement, params).await
    }

    async fn exec(&self, statement: &str, params: Vec<Value>) -> Result<sql::ExecuteResult, Error> {
        self.0.exec(statement, params).await
    }
}

impl EventTransaction {
    /// Record `event`; it commits with the transaction, or not at all.
    pub async fn record(&self, event: NewEvent<'_>) -> Result<(), Error> {
        if event.workspace_id.is_empty() || event.subject_id.is_empty() || event.actor_id.is_empty() {
            return Err(Error::InvalidQuery("an event needs a workspace, a subject and an actor".into()));
        }
        let now = clock::now_ms();
        let params: Vec<Value> = vec![
            event.workspace_id.into(),
            event.channel_id.unwrap_or("").into(),
            event.kind.name().into(),
            event.subject_id.into(),
            event.actor_id.into(),
            now.into(),
        ];
        self.0
            .exec(
                "INSERT INTO events (workspace_id, channel_id, kind, subject_id, actor_id, created_at, dispatched) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
                params,
            )
            .await?;
        // A cheap, roughly periodic prune without a counter of its own.
        if now % PRUNE_EVERY == 0 {
            self.0
                .exec(
                    "DELETE FROM events WHERE (created_at < ?1 AND dispatched = 1) OR created_at < ?2",
                    vec![(now - RETENTION_MS).into(), (now - UNDISPATCHED_RETENTION_MS).into()],
                )
                .await?;
        }
        Ok(())
    }

    /// Commit the change and its events.
    pub async fn commit(self) -> Result<(), Error> {
        self.0.commit().await
    }
}

/// The `events` table. `channel_id` is `''` for a workspace-wide event (so
/// one index serves "this channel and the workspace's" reads);
/// `dispatched` is 0 until the dispatcher has handed the event on (events
/// recorded before version 2 count as dispatched: they are not sent).
pub static MIGRATOR: Migrator = Migrator::new(
    // The name the table's first owner recorded its versions under.
    "event-repository",
    PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) },
);

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        statements: &[
            "CREATE TABLE events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                workspace_id TEXT NOT NULL,
                channel_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                subject_id TEXT NOT NULL,
                actor_id TEXT NOT NULL,
                created_at INTEGER NOT NULL
            )",
            "CREATE INDEX events_by_workspace ON events (workspace_id, seq)",
            "CREATE INDEX events_by_age ON events (created_at)",
        ],
    },
    Migration {
        version: 2,
        statements: &[
            "ALTER TABLE events ADD COLUMN dispatched INTEGER NOT NULL DEFAULT 1",
            "CREATE INDEX events_to_dispatch ON events (dispatched, seq)",
        ],
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        statements: &[
            "CREATE TABLE events (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                workspace_id TEXT NOT NULL,
                channel_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                subject_id TEXT NOT NULL,
                actor_id TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )",
            "CREATE INDEX events_by_workspace ON events (workspace_id, seq)",
            "CREATE INDEX events_by_age ON events (created_at)",
        ],
    },
    Migration {
        version: 2,
        statements: &[
            "ALTER TABLE events ADD COLUMN dispatched SMALLINT NOT NULL DEFAULT 1",
            "CREATE INDEX events_to_dispatch ON events (dispatched, seq)",
        ],
    },
];

const MYSQL: &[Migration] = &[
    Migration {
        version: 1,
        statements: &["CREATE TABLE IF NOT EXISTS events (
                seq BIGINT AUTO_INCREMENT PRIMARY KEY,
                workspace_id VARCHAR(64) NOT NULL,
                channel_id VARCHAR(64) NOT NULL,
                kind VARCHAR(32) NOT NULL,
                subject_id VARCHAR(64) NOT NULL,
                actor_id VARCHAR(64) NOT NULL,
                created_at BIGINT NOT NULL,
                INDEX events_by_workspace (workspace_id, seq),
                INDEX events_by_age (created_at)
            ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
    },
    Migration {
        version: 2,
        statements: &["ALTER TABLE events ADD COLUMN dispatched SMALLINT NOT NULL DEFAULT 1, \
             ADD INDEX events_to_dispatch (dispatched, seq)"],
    },
];
