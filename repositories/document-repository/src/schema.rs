//! The documents' schema, per SQL dialect: `documents` (one row per
//! document, naming its latest version) and `document_versions`.

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator = Migrator::new(
    "document-repository",
    PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) },
);

const SQLITE: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE documents (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            workspace_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        )",
        "CREATE INDEX documents_by_channel ON documents (workspace_id, channel_id, seq)",
        "CREATE TABLE document_versions (
            document_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            content_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            blob_key TEXT NOT NULL,
            uploaded_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (document_id, number)
        )",
    ],
}];

const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE documents (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            workspace_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            name TEXT NOT NULL,
            version BIGINT NOT NULL,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at BIGINT NOT NULL
        )",
        "CREATE INDEX documents_by_channel ON documents (workspace_id, channel_id, seq)",
        "CREATE TABLE document_versions (
            document_id TEXT NOT NULL,
            number BIGINT NOT NULL,
            content_type TEXT NOT NULL,
            size BIGINT NOT NULL,
            sha256 TEXT NOT NULL,
            blob_key TEXT NOT NULL,
            uploaded_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (document_id, number)
        )",
    ],
}];

const MYSQL: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE IF NOT EXISTS documents (
            seq BIGINT AUTO_INCREMENT PRIMARY KEY,
            id VARCHAR(64) NOT NULL UNIQUE,
            workspace_id VARCHAR(64) NOT NULL,
            channel_id VARCHAR(64) NOT NULL,
            name VARCHAR(255) NOT NULL,
            version BIGINT NOT NULL,
            created_by VARCHAR(64) NOT NULL,
            created_at BIGINT NOT NULL,
            updated_by VARCHAR(64) NOT NULL,
            updated_at BIGINT NOT NULL,
            INDEX documents_by_channel (workspace_id, channel_id, seq)
        ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
        "CREATE TABLE IF NOT EXISTS document_versions (
            document_id VARCHAR(64) NOT NULL,
            number BIGINT NOT NULL,
            content_type VARCHAR(255) NOT NULL,
            size BIGINT NOT NULL,
            sha256 CHAR(64) NOT NULL,
            blob_key VARCHAR(512) NOT NULL,
            uploaded_by VARCHAR(64) NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (document_id, number)
        ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
    ],
}];
