//! The users schema, per SQL dialect.
//!
//! Version 2 adds what account security needs, in tables of their own (no
//! `ALTER TABLE`, which MySQL cannot make idempotent): proof of address
//! ownership, single-use tickets stored by digest, and server-side sessions.

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator =
    Migrator::new("user-repository", PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) });

const SQLITE: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2,
        statements: &[
            "CREATE TABLE user_email_verifications (
                user_id TEXT PRIMARY KEY REFERENCES users (id),
                verified_at INTEGER NOT NULL
            )",
            "CREATE TABLE user_tickets (
                digest TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id),
                purpose TEXT NOT NULL CHECK (purpose IN ('verify-email', 'reset-password')),
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL
            )",
            "CREATE INDEX user_tickets_by_user ON user_tickets (user_id, purpose)",
            "CREATE TABLE user_sessions (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id),
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL
            )",
            "CREATE INDEX user_sessions_by_user ON user_sessions (user_id)",
        ],
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2,
        statements: &[
            "CREATE TABLE user_email_verifications (
                user_id TEXT PRIMARY KEY REFERENCES users (id),
                verified_at BIGINT NOT NULL
            )",
            "CREATE TABLE user_tickets (
                digest TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id),
                purpose TEXT NOT NULL CHECK (purpose IN ('verify-email', 'reset-password')),
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )",
            "CREATE INDEX user_tickets_by_user ON user_tickets (user_id, purpose)",
            "CREATE TABLE user_sessions (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id),
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )",
            "CREATE INDEX user_sessions_by_user ON user_sessions (user_id)",
        ],
    },
];

const MYSQL: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2,
        statements: &[
            "CREATE TABLE IF NOT EXISTS user_email_verifications (
                user_id VARCHAR(64) PRIMARY KEY,
                verified_at BIGINT NOT NULL,
                FOREIGN KEY (user_id) REFERENCES users (id)
            ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
            "CREATE TABLE IF NOT EXISTS user_tickets (
                digest VARCHAR(80) PRIMARY KEY,
                user_id VARCHAR(64) NOT NULL,
                purpose VARCHAR(16) NOT NULL CHECK (purpose IN ('verify-email', 'reset-password')),
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                INDEX user_tickets_by_user (user_id, purpose),
                FOREIGN KEY (user_id) REFERENCES users (id)
            ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
            "CREATE TABLE IF NOT EXISTS user_sessions (
                id VARCHAR(64) PRIMARY KEY,
                user_id VARCHAR(64) NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                INDEX user_sessions_by_user (user_id),
                FOREIGN KEY (user_id) REFERENCES users (id)
            ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
        ],
    },
];
