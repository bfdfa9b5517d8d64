//! The audit schema, per SQL dialect.

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator =
    Migrator::new("audit-repository", PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) });

const SQLITE: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE audit_entries (
        scope TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        request_id TEXT NOT NULL,
        client_address TEXT NOT NULL,
        at INTEGER NOT NULL,
        previous_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (scope, sequence)
    )"],
}];

const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE audit_entries (
        scope TEXT NOT NULL,
        sequence BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        request_id TEXT NOT NULL,
        client_address TEXT NOT NULL,
        at BIGINT NOT NULL,
        previous_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (scope, sequence)
    )"],
}];

const MYSQL: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE IF NOT EXISTS audit_entries (
        scope VARCHAR(64) NOT NULL,
        sequence BIGINT NOT NULL,
        actor VARCHAR(64) NOT NULL,
        action VARCHAR(64) NOT NULL,
        target VARCHAR(320) NOT NULL,
        outcome VARCHAR(16) NOT NULL,
        request_id VARCHAR(128) NOT NULL,
        client_address VARCHAR(64) NOT NULL,
        at BIGINT NOT NULL,
        previous_hash VARCHAR(64) NOT NULL,
        hash VARCHAR(64) NOT NULL,
        PRIMARY KEY (scope, sequence)
    ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
}];
