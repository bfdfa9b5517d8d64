//! The workspaces schema, per SQL dialect.
//!
//! Invitations keep one pending row per workspace and address through
//! `UNIQUE (workspace_id, email, open_key)`: `open_key` is `'open'` while
//! the invitation is pending and its own id once closed, which works on
//! every dialect (MySQL has no partial indexes).

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator = Migrator::new(
    "workspace-repository",
    PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) },
);

const SQLITE: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2,
        statements: &[
            "CREATE TABLE workspace_invitations (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces (id),
                email TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
                invited_by TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
                closed_at INTEGER,
                open_key TEXT NOT NULL,
                UNIQUE (workspace_id, email, open_key)
            )",
            "CREATE INDEX workspace_invitations_by_email ON workspace_invitations (email, open_key)",
        ],
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2,
        statements: &[
            "CREATE TABLE workspace_invitations (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces (id),
                email TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
                invited_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
                closed_at BIGINT,
                open_key TEXT NOT NULL,
                UNIQUE (workspace_id, email, open_key)
            )",
            "CREATE INDEX workspace_invitations_by_email ON workspace_invitations (email, open_key)",
        ],
    },
];

const MYSQL: &[Migration] = &[
    Migration {
        version: 1,
        statements: &[
            "CREATE TABLE IF NOT EXISTS workspaces (
            id VARCHAR(64) PRIMARY KEY,
            name VARCHAR(400) NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            created_by VARCHAR(64) NOT NULL
        ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
            "CREATE TABLE IF NOT EXISTS workspace_members (
            workspace_id VARCHAR(64) NOT NULL,
            user_id VARCHAR(64) NOT NULL,
            role VARCHAR(16) NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            created_by VARCHAR(64) NOT NULL,
            PRIMARY KEY (workspace_id, user_id),
            INDEX workspace_members_by_user (user_id),
            FOREIGN KEY (workspace_id) REFERENCES workspaces (id)
        ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
        ],
    },
    Migration {
        version: 2,
        statements: &["CREATE TABLE IF NOT EXISTS workspace_invitations (
                id VARCHAR(64) PRIMARY KEY,
                workspace_id VARCHAR(64) NOT NULL,
                email VARCHAR(254) NOT NULL,
                role VARCHAR(16) NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
                invited_by VARCHAR(64) NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                status VARCHAR(16) NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
                closed_at BIGINT,
                open_key VARCHAR(64) NOT NULL,
                UNIQUE (workspace_id, email, open_key),
                INDEX workspace_invitations_by_email (email, open_key),
                FOREIGN KEY (workspace_id) REFERENCES workspaces (id)
            ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
    },
];
