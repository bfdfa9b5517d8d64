//! The users schema, per SQL dialect.

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator =
    Migrator::new("user-repository", PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) });

const SQLITE: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        created_by TEXT NOT NULL
    )"],
}];

const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        created_by TEXT NOT NULL
    )"],
}];

const MYSQL: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE IF NOT EXISTS users (
        id VARCHAR(64) PRIMARY KEY,
        email VARCHAR(254) NOT NULL UNIQUE,
        display_name VARCHAR(320) NOT NULL,
        password_hash VARCHAR(255) NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        created_by VARCHAR(64) NOT NULL
    ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
}];
