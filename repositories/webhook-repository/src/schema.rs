//! The webhook tables, per SQL dialect. `events` is the endpoint's event
//! kinds joined by commas; a delivery's `status` is `pending`, `delivered`
//! or `dead`, and a pending delivery's `next_attempt_at` is when it is due
//! (pushed ahead while an attempt holds it).

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator = Migrator::new(
    "webhook-repository",
    PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) },
);

const SQLITE: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE webhook_endpoints (
            id TEXT PRIMARY KEY,
            workspace_id TEXT NOT NULL,
            url TEXT NOT NULL,
            events TEXT NOT NULL,
            secret TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL
        )",
        "CREATE INDEX webhook_endpoints_by_workspace ON webhook_endpoints (workspace_id, created_at)",
        "CREATE TABLE webhook_deliveries (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            endpoint_id TEXT NOT NULL,
            workspace_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            last_error TEXT,
            last_status INTEGER,
            created_at INTEGER NOT NULL,
            delivered_at INTEGER,
            UNIQUE (endpoint_id, event_id)
        )",
        "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
        "CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, seq)",
    ],
}];

const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE webhook_endpoints (
            id TEXT PRIMARY KEY,
            workspace_id TEXT NOT NULL,
            url TEXT NOT NULL,
            events TEXT NOT NULL,
            secret TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )",
        "CREATE INDEX webhook_endpoints_by_workspace ON webhook_endpoints (workspace_id, created_at)",
        "CREATE TABLE webhook_deliveries (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            endpoint_id TEXT NOT NULL,
            workspace_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            next_attempt_at BIGINT NOT NULL,
            last_error TEXT,
            last_status BIGINT,
            created_at BIGINT NOT NULL,
            delivered_at BIGINT,
            UNIQUE (endpoint_id, event_id)
        )",
        "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
        "CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, seq)",
    ],
}];

const MYSQL: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE IF NOT EXISTS webhook_endpoints (
            id VARCHAR(64) PRIMARY KEY,
            workspace_id VARCHAR(64) NOT NULL,
            url TEXT NOT NULL,
            events TEXT NOT NULL,
            secret VARCHAR(128) NOT NULL,
            created_by VARCHAR(64) NOT NULL,
            created_at BIGINT NOT NULL,
            INDEX webhook_endpoints_by_workspace (workspace_id, created_at)
        ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
        "CREATE TABLE IF NOT EXISTS webhook_deliveries (
            seq BIGINT AUTO_INCREMENT PRIMARY KEY,
            id VARCHAR(64) NOT NULL UNIQUE,
            endpoint_id VARCHAR(64) NOT NULL,
            workspace_id VARCHAR(64) NOT NULL,
            event_id VARCHAR(64) NOT NULL,
            kind VARCHAR(32) NOT NULL,
            payload MEDIUMTEXT NOT NULL,
            status VARCHAR(16) NOT NULL,
            attempts BIGINT NOT NULL,
            next_attempt_at BIGINT NOT NULL,
            last_error TEXT,
            last_status BIGINT,
            created_at BIGINT NOT NULL,
            delivered_at BIGINT,
            UNIQUE KEY webhook_deliveries_once (endpoint_id, event_id),
            INDEX webhook_deliveries_due (status, next_attempt_at),
            INDEX webhook_deliveries_by_endpoint (endpoint_id, seq)
        ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
    ],
}];
