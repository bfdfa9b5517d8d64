//! The messages schema, per SQL dialect.
//!
//! Version 2 adds threads (`thread_seq`: the thread's first message, 0 for
//! a channel message), edits and deletions, and reactions (one row per
//! user and emoji; `reaction_count` on the message tells a page whether it
//! needs to read them at all). Version 3 adds mentions: one row per
//! mentioned user and message, keyed for "my mentions, newest first".
//! Version 4 adds `attachments`: the files attached to a message, as a
//! JSON array of `{document_id,name,content_type,size}` (NULL for none).

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator = Migrator::new(
    "message-repository",
    PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) },
);

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        statements: &[
            "CREATE TABLE messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            workspace_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            author_id TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            created_by TEXT NOT NULL
        )",
            "CREATE INDEX messages_by_channel ON messages (workspace_id, channel_id, seq)",
        ],
    },
    Migration {
        version: 2,
        statements: &[
            "ALTER TABLE messages ADD COLUMN thread_seq INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE messages ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE messages ADD COLUMN reaction_count INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE messages ADD COLUMN edited_at INTEGER",
            "ALTER TABLE messages ADD COLUMN deleted_at INTEGER",
            "DROP INDEX messages_by_channel",
            "CREATE INDEX messages_by_thread ON messages (workspace_id, channel_id, thread_seq, seq)",
            "CREATE TABLE message_reactions (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                workspace_id TEXT NOT NULL,
                message_seq INTEGER NOT NULL REFERENCES messages (seq),
                emoji TEXT NOT NULL,
                user_id TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                UNIQUE (message_seq, emoji, user_id)
            )",
        ],
    },
    Migration {
        version: 3,
        statements: &["CREATE TABLE message_mentions (
                workspace_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                message_seq INTEGER NOT NULL REFERENCES messages (seq),
                PRIMARY KEY (workspace_id, user_id, message_seq)
            )"],
    },
    Migration { version: 4, statements: &["ALTER TABLE messages ADD COLUMN attachments TEXT"] },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        statements: &[
            "CREATE TABLE messages (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            workspace_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            author_id TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            created_by TEXT NOT NULL
        )",
            "CREATE INDEX messages_by_channel ON messages (workspace_id, channel_id, seq)",
        ],
    },
    Migration {
        version: 2,
        statements: &[
            "ALTER TABLE messages ADD COLUMN thread_seq BIGINT NOT NULL DEFAULT 0,
                ADD COLUMN reply_count BIGINT NOT NULL DEFAULT 0,
                ADD COLUMN reaction_count BIGINT NOT NULL DEFAULT 0,
                ADD COLUMN edited_at BIGINT,
                ADD COLUMN deleted_at BIGINT",
            "DROP INDEX messages_by_channel",
            "CREATE INDEX messages_by_thread ON messages (workspace_id, channel_id, thread_seq, seq)",
            "CREATE TABLE message_reactions (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                workspace_id TEXT NOT NULL,
                message_seq BIGINT NOT NULL REFERENCES messages (seq),
                emoji TEXT NOT NULL,
                user_id TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                UNIQUE (message_seq, emoji, user_id)
            )",
        ],
    },
    Migration {
        version: 3,
        statements: &["CREATE TABLE message_mentions (
                workspace_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                message_seq BIGINT NOT NULL REFERENCES messages (seq),
                PRIMARY KEY (workspace_id, user_id, message_seq)
            )"],
    },
    Migration { version: 4, statements: &["ALTER TABLE messages ADD COLUMN attachments TEXT"] },
];

const MYSQL: &[Migration] = &[
    Migration {
        version: 1,
        statements: &["CREATE TABLE IF NOT EXISTS messages (
        seq BIGINT AUTO_INCREMENT PRIMARY KEY,
        workspace_id VARCHAR(64) NOT NULL,
        channel_id VARCHAR(64) NOT NULL,
        author_id VARCHAR(64) NOT NULL,
        text TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        created_by VARCHAR(64) NOT NULL,
        INDEX messages_by_channel (workspace_id, channel_id, seq)
    ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
    },
    // MySQL commits each DDL statement on its own, so each statement here
    // may run again after a crash between them: the table is created only
    // if missing, and one ALTER makes every change to `messages` or none.
    Migration {
        version: 2,
        statements: &[
            "CREATE TABLE IF NOT EXISTS message_reactions (
                seq BIGINT AUTO_INCREMENT PRIMARY KEY,
                workspace_id VARCHAR(64) NOT NULL,
                message_seq BIGINT NOT NULL,
                emoji VARCHAR(64) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                created_at BIGINT NOT NULL,
                UNIQUE KEY message_reactions_once (message_seq, emoji, user_id)
            ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
            "ALTER TABLE messages
                ADD COLUMN thread_seq BIGINT NOT NULL DEFAULT 0,
                ADD COLUMN reply_count BIGINT NOT NULL DEFAULT 0,
                ADD COLUMN reaction_count BIGINT NOT NULL DEFAULT 0,
                ADD COLUMN edited_at BIGINT,
                ADD COLUMN deleted_at BIGINT,
                DROP INDEX messages_by_channel,
                ADD INDEX messages_by_thread (workspace_id, channel_id, thread_seq, seq)",
        ],
    },
    Migration {
        version: 3,
        statements: &["CREATE TABLE IF NOT EXISTS message_mentions (
            workspace_id VARCHAR(64) NOT NULL,
            user_id VARCHAR(64) NOT NULL,
            message_seq BIGINT NOT NULL,
            PRIMARY KEY (workspace_id, user_id, message_seq)
        ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
    },
    Migration { version: 4, statements: &["ALTER TABLE messages ADD COLUMN attachments TEXT"] },
];
