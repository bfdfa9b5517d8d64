//! The outbox table: one row per message, the message itself as JSON
//! (`keel:infrastructure/email.message` with its field names), `seq` giving
//! the storage order.

use keel_guest::migrations::{Migration, Migrator, PerDialect};

pub static MIGRATOR: Migrator =
    Migrator::new("email-outbox", PerDialect { sqlite: Some(SQLITE), postgres: Some(POSTGRES), mysql: Some(MYSQL) });

const SQLITE: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE email_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, \
                   stored_at INTEGER NOT NULL, message TEXT NOT NULL)"],
}];

const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE email_outbox (seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, \
                   stored_at BIGINT NOT NULL, message TEXT NOT NULL)"],
}];

const MYSQL: &[Migration] = &[Migration {
    version: 1,
    statements: &["CREATE TABLE email_outbox (seq BIGINT AUTO_INCREMENT PRIMARY KEY, id VARCHAR(64) NOT NULL UNIQUE, \
                   stored_at BIGINT NOT NULL, message LONGTEXT NOT NULL)"],
}];
