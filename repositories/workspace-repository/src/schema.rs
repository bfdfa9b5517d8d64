//! The workspaces schema, per SQL dialect.

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator =
    Migrator::new("workspace-repository", PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: None });

const SQLITE: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE workspaces (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            created_by TEXT NOT NULL
        )",
        "CREATE TABLE workspace_members (
            workspace_id TEXT NOT NULL REFERENCES workspaces (id),
            user_id TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            PRIMARY KEY (workspace_id, user_id)
        )",
        "CREATE INDEX workspace_members_by_user ON workspace_members (user_id)",
    ],
}];

const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE workspaces (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            created_by TEXT NOT NULL
        )",
        "CREATE TABLE workspace_members (
            workspace_id TEXT NOT NULL REFERENCES workspaces (id),
            user_id TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            created_by TEXT NOT NULL,
            PRIMARY KEY (workspace_id, user_id)
        )",
        "CREATE INDEX workspace_members_by_user ON workspace_members (user_id)",
    ],
}];
