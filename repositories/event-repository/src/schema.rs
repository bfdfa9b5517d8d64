//! The event log's schema, per SQL dialect. `channel_id` is `''` for a
//! workspace-wide event (so one index serves "this channel and the
//! workspace's" reads).

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator = Migrator::new(
    "event-repository",
    PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) },
);

const SQLITE: &[Migration] = &[Migration {
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
}];

const POSTGRES: &[Migration] = &[Migration {
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
}];

const MYSQL: &[Migration] = &[Migration {
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
}];
