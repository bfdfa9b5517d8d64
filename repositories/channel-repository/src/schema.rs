//! The channels schema, per SQL dialect.

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator =
    Migrator::new("channel-repository", PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) });

const SQLITE: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE channels (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        UNIQUE (workspace_id, name)
    )"],
}];

const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE channels (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        UNIQUE (workspace_id, name)
    )"],
}];

const MYSQL: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE IF NOT EXISTS channels (
        id VARCHAR(64) PRIMARY KEY,
        workspace_id VARCHAR(64) NOT NULL,
        name VARCHAR(80) NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        created_by VARCHAR(64) NOT NULL,
        UNIQUE (workspace_id, name)
    ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
}];
