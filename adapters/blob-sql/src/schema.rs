//! The blob store's tables, per SQL dialect.
//!
//! * `blob_objects`: one row per readable blob, naming its content.
//! * `blob_chunks`: the content, [`crate::CHUNK`] bytes per row (the last
//!   one shorter), numbered from 0.
//! * `blob_uploads`: contents being written; what an abandoned upload left
//!   is reclaimed after a day.

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator =
    Migrator::new("blob-sql", PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) });

const SQLITE: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE blob_objects (
            blob_key TEXT PRIMARY KEY,
            content_id TEXT NOT NULL,
            size INTEGER NOT NULL,
            stored_at INTEGER NOT NULL
        )",
        "CREATE TABLE blob_chunks (
            content_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (content_id, idx)
        )",
        "CREATE TABLE blob_uploads (content_id TEXT PRIMARY KEY, started_at INTEGER NOT NULL)",
        "CREATE INDEX blob_uploads_by_age ON blob_uploads (started_at)",
    ],
}];

const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE blob_objects (
            blob_key TEXT PRIMARY KEY,
            content_id TEXT NOT NULL,
            size BIGINT NOT NULL,
            stored_at BIGINT NOT NULL
        )",
        "CREATE TABLE blob_chunks (
            content_id TEXT NOT NULL,
            idx BIGINT NOT NULL,
            data BYTEA NOT NULL,
            PRIMARY KEY (content_id, idx)
        )",
        "CREATE TABLE blob_uploads (content_id TEXT PRIMARY KEY, started_at BIGINT NOT NULL)",
        "CREATE INDEX blob_uploads_by_age ON blob_uploads (started_at)",
    ],
}];

const MYSQL: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE IF NOT EXISTS blob_objects (
            blob_key VARCHAR(512) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
            content_id VARCHAR(64) NOT NULL,
            size BIGINT NOT NULL,
            stored_at BIGINT NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS blob_chunks (
            content_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
            idx BIGINT NOT NULL,
            data MEDIUMBLOB NOT NULL,
            PRIMARY KEY (content_id, idx)
        )",
        "CREATE TABLE IF NOT EXISTS blob_uploads (
            content_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
            started_at BIGINT NOT NULL,
            INDEX blob_uploads_by_age (started_at)
        )",
    ],
}];
