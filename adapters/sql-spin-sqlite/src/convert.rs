//! Conversions between `keel:infrastructure/sql` and `spin:sqlite`.

use spin_sdk::sqlite::wit::sqlite;

use crate::{Error, Value};

pub fn to_sqlite(value: Value) -> sqlite::Value {
    match value {
        Value::Null => sqlite::Value::Null,
        Value::Integer(integer) => sqlite::Value::Integer(integer),
        Value::Real(real) => sqlite::Value::Real(real),
        Value::Text(text) => sqlite::Value::Text(text),
        Value::Blob(blob) => sqlite::Value::Blob(blob),
    }
}

pub fn from_sqlite(value: sqlite::Value) -> Value {
    match value {
        sqlite::Value::Null => Value::Null,
        sqlite::Value::Integer(integer) => Value::Integer(integer),
        sqlite::Value::Real(real) => Value::Real(real),
        sqlite::Value::Text(text) => Value::Text(text),
        sqlite::Value::Blob(blob) => Value::Blob(blob),
    }
}

/// Map a Spin SQLite error onto the keel error variants.
pub fn error(error: sqlite::Error) -> Error {
    match error {
        sqlite::Error::NoSuchDatabase => Error::Unavailable("no such database: default".into()),
        sqlite::Error::AccessDenied => Error::Unavailable("access to the database was denied".into()),
        sqlite::Error::InvalidConnection => Error::Unavailable("the database connection is not valid".into()),
        sqlite::Error::DatabaseFull => Error::Internal("the database is full".into()),
        sqlite::Error::Io(message) => classify_message(message),
    }
}

/// Engine messages: constraint violations are conflicts; a database still
/// locked by other writers after the host's wait (SQLite's `SQLITE_BUSY`)
/// is unavailable, which a retry may fix; syntax, schema and
/// parameter-binding errors are invalid queries; the rest is internal.
fn classify_message(message: String) -> Error {
    let lower = message.to_lowercase();
    if lower.contains("database is locked") || lower.contains("database is busy") {
        return Error::Unavailable(message);
    }
    const INVALID_QUERY: &[&str] = &[
        "syntax error",
        "incomplete input",
        "no such table",
        "no such column",
        "no such function",
        "already exists",
        "parameter",
        "bind",
        "column index out of range",
        "wrong number of arguments",
    ];
    if lower.contains("constraint failed") {
        Error::Conflict(message)
    } else if INVALID_QUERY.iter().any(|marker| lower.contains(marker)) {
        Error::InvalidQuery(message)
    } else {
        Error::Internal(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_engine_messages() {
        assert!(matches!(classify_message("UNIQUE constraint failed: users.email".into()), Error::Conflict(_)));
        assert!(matches!(classify_message("near \"SELEC\": syntax error".into()), Error::InvalidQuery(_)));
        assert!(matches!(classify_message("no such table: nope".into()), Error::InvalidQuery(_)));
        assert!(matches!(classify_message("disk I/O error".into()), Error::Internal(_)));
        assert!(matches!(classify_message("database is locked".into()), Error::Unavailable(_)));
    }
}
