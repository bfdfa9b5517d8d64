//! The messages schema, per SQL dialect.

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator =
    Migrator::new("message-repository", PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) });

const SQLITE: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            workspace_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            author_id TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            created_by TEXT NOT NULL
        )",
        "CREATE INDEX messages_by_channel ON messages (workspace_id, channel_id, seq)",
    ],
}];

const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE messages (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            workspace_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            author_id TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            created_by TEXT NOT NULL
        )",
        "CREATE INDEX messages_by_channel ON messages (workspace_id, channel_id, seq)",
    ],
}];

const MYSQL: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE IF NOT EXISTS messages (
        seq BIGINT AUTO_INCREMENT PRIMARY KEY,
        workspace_id VARCHAR(64) NOT NULL,
        channel_id VARCHAR(64) NOT NULL,
        author_id VARCHAR(64) NOT NULL,
        text TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        created_by VARCHAR(64) NOT NULL,
        INDEX messages_by_channel (workspace_id, channel_id, seq)
    ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
}];
