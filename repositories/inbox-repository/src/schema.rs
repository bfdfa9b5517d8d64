//! The inbox table, per SQL dialect: one row per user, kind and message
//! (the unique key that makes adding idempotent); `read_at` is null while
//! unread.

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator = Migrator::new(
    "inbox-repository",
    PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) },
);

const SQLITE: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE inbox_notifications (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            workspace_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            read_at INTEGER,
            UNIQUE (user_id, kind, message_id)
        )",
        "CREATE INDEX inbox_by_user ON inbox_notifications (user_id, seq)",
    ],
}];

const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE inbox_notifications (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            workspace_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            read_at BIGINT,
            UNIQUE (user_id, kind, message_id)
        )",
        "CREATE INDEX inbox_by_user ON inbox_notifications (user_id, seq)",
    ],
}];

const MYSQL: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE IF NOT EXISTS inbox_notifications (
            seq BIGINT AUTO_INCREMENT PRIMARY KEY,
            id VARCHAR(64) NOT NULL UNIQUE,
            user_id VARCHAR(64) NOT NULL,
            kind VARCHAR(16) NOT NULL,
            workspace_id VARCHAR(64) NOT NULL,
            channel_id VARCHAR(64) NOT NULL,
            message_id VARCHAR(64) NOT NULL,
            actor_id VARCHAR(64) NOT NULL,
            created_at BIGINT NOT NULL,
            read_at BIGINT,
            UNIQUE KEY inbox_once (user_id, kind, message_id),
            INDEX inbox_by_user (user_id, seq)
        ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
}];
