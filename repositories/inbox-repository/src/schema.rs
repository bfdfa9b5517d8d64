//! The inbox table, per SQL dialect: one row per user, kind and message
//! (the unique key that makes adding idempotent); `read_at` is null while
//! unread. Version 2 adds mail: `mail_at` is when a row is due for mail
//! (null once mailed, or when no mail is wanted), `mail_claim` and
//! `mail_claimed_until` the lease of the dispatcher mailing it; `listed`
//! is 0 for rows kept for mail only. And people's notification preferences:
//! `settings` is `kind:channel:0|1` pairs joined by commas.

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator = Migrator::new(
    "inbox-repository",
    PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) },
);

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        statements: &[
            "CREATE TABLE inbox_notifications (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            workspace_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            read_at INTEGER,
            UNIQUE (user_id, kind, message_id)
        )",
            "CREATE INDEX inbox_by_user ON inbox_notifications (user_id, seq)",
        ],
    },
    Migration {
        version: 2,
        statements: &[
            "ALTER TABLE inbox_notifications ADD COLUMN listed INTEGER NOT NULL DEFAULT 1",
            "ALTER TABLE inbox_notifications ADD COLUMN mail_at INTEGER",
            "ALTER TABLE inbox_notifications ADD COLUMN mail_claim TEXT",
            "ALTER TABLE inbox_notifications ADD COLUMN mail_claimed_until INTEGER",
            "ALTER TABLE inbox_notifications ADD COLUMN mail_attempts INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX inbox_mail_due ON inbox_notifications (mail_at)",
            "CREATE INDEX inbox_mail_claim ON inbox_notifications (mail_claim)",
            "CREATE TABLE notification_preferences (
                user_id TEXT PRIMARY KEY,
                settings TEXT NOT NULL,
                quiet_start INTEGER,
                quiet_end INTEGER,
                utc_offset INTEGER,
                updated_at INTEGER NOT NULL
            )",
        ],
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        statements: &[
            "CREATE TABLE inbox_notifications (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            workspace_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            read_at BIGINT,
            UNIQUE (user_id, kind, message_id)
        )",
            "CREATE INDEX inbox_by_user ON inbox_notifications (user_id, seq)",
        ],
    },
    Migration {
        version: 2,
        statements: &[
            // BIGINT throughout: the driver binds every integer as int8.
            "ALTER TABLE inbox_notifications ADD COLUMN listed BIGINT NOT NULL DEFAULT 1, \
             ADD COLUMN mail_at BIGINT, ADD COLUMN mail_claim TEXT, ADD COLUMN mail_claimed_until BIGINT, \
             ADD COLUMN mail_attempts BIGINT NOT NULL DEFAULT 0",
            "CREATE INDEX inbox_mail_due ON inbox_notifications (mail_at)",
            "CREATE INDEX inbox_mail_claim ON inbox_notifications (mail_claim)",
            "CREATE TABLE notification_preferences (
                user_id TEXT PRIMARY KEY,
                settings TEXT NOT NULL,
                quiet_start BIGINT,
                quiet_end BIGINT,
                utc_offset BIGINT,
                updated_at BIGINT NOT NULL
            )",
        ],
    },
];

const MYSQL: &[Migration] = &[
    Migration {
        version: 1,
        statements: &["CREATE TABLE IF NOT EXISTS inbox_notifications (
            seq BIGINT AUTO_INCREMENT PRIMARY KEY,
            id VARCHAR(64) NOT NULL UNIQUE,
            user_id VARCHAR(64) NOT NULL,
            kind VARCHAR(16) NOT NULL,
            workspace_id VARCHAR(64) NOT NULL,
            channel_id VARCHAR(64) NOT NULL,
            message_id VARCHAR(64) NOT NULL,
            actor_id VARCHAR(64) NOT NULL,
            created_at BIGINT NOT NULL,
            read_at BIGINT,
            UNIQUE KEY inbox_once (user_id, kind, message_id),
            INDEX inbox_by_user (user_id, seq)
        ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
    },
    Migration {
        version: 2,
        statements: &[
            "ALTER TABLE inbox_notifications ADD COLUMN listed SMALLINT NOT NULL DEFAULT 1, \
             ADD COLUMN mail_at BIGINT, ADD COLUMN mail_claim VARCHAR(64), ADD COLUMN mail_claimed_until BIGINT, \
             ADD COLUMN mail_attempts INTEGER NOT NULL DEFAULT 0, ADD INDEX inbox_mail_due (mail_at), \
             ADD INDEX inbox_mail_claim (mail_claim)",
            "CREATE TABLE IF NOT EXISTS notification_preferences (
                user_id VARCHAR(64) PRIMARY KEY,
                settings VARCHAR(512) NOT NULL,
                quiet_start INTEGER,
                quiet_end INTEGER,
                utc_offset INTEGER,
                updated_at BIGINT NOT NULL
            ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
        ],
    },
];
