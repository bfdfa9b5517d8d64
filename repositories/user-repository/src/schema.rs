//! The users schema, per SQL dialect.

use keel_guest::migrations::{Migration, Migrator};
use keel_guest::sql::Dialect;

pub static MIGRATOR: Migrator = Migrator::new("user-repository", migrations);

fn migrations(dialect: Dialect) -> Option<&'static [Migration]> {
    match dialect {
        Dialect::Sqlite => Some(SQLITE),
        Dialect::Postgres | Dialect::Mysql => None,
    }
}

const SQLITE: &[Migration] = &[Migration {
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
}];
