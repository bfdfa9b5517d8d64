//! The templates table, per SQL dialect: one row per workspace and name.

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator = Migrator::new(
    "template-repository",
    PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) },
);

const SQLITE: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE templates (
            workspace_id TEXT NOT NULL,
            name TEXT NOT NULL,
            subject TEXT NOT NULL,
            text_body TEXT NOT NULL,
            html_body TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (workspace_id, name)
        )"],
}];

const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE templates (
            workspace_id TEXT NOT NULL,
            name TEXT NOT NULL,
            subject TEXT NOT NULL,
            text_body TEXT NOT NULL,
            html_body TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (workspace_id, name)
        )"],
}];

const MYSQL: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE IF NOT EXISTS templates (
            workspace_id VARCHAR(64) NOT NULL,
            name VARCHAR(64) NOT NULL,
            subject TEXT NOT NULL,
            text_body MEDIUMTEXT NOT NULL,
            html_body MEDIUMTEXT NOT NULL,
            updated_by VARCHAR(64) NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (workspace_id, name)
        ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
}];
