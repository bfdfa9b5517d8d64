//! Conversions between `keel:infrastructure/sql` and `spin:mysql`.

use spin_sdk::mysql::{self, DbValue, MysqlError};

use sql_adapter_common::redact_credentials;

use crate::{Error, Value};

/// A MySQL value as the closest Keel value.
pub fn value(value: &DbValue) -> Value {
    match value {
        DbValue::DbNull | DbValue::Unsupported => Value::Null,
        DbValue::Boolean(v) => Value::Integer(i64::from(*v)),
        DbValue::Int8(v) => Value::Integer(i64::from(*v)),
        DbValue::Int16(v) => Value::Integer(i64::from(*v)),
        DbValue::Int32(v) => Value::Integer(i64::from(*v)),
        DbValue::Int64(v) => Value::Integer(*v),
        DbValue::Uint8(v) => Value::Integer(i64::from(*v)),
        DbValue::Uint16(v) => Value::Integer(i64::from(*v)),
        DbValue::Uint32(v) => Value::Integer(i64::from(*v)),
        DbValue::Uint64(v) => i64::try_from(*v).map(Value::Integer).unwrap_or_else(|_| Value::Text(v.to_string())),
        DbValue::Floating32(v) => Value::Real(f64::from(*v)),
        DbValue::Floating64(v) => Value::Real(*v),
        DbValue::Str(v) => Value::Text(v.clone()),
        DbValue::Binary(v) => Value::Blob(v.clone()),
    }
}

/// Map a MySQL failure onto the Keel error variants by SQLSTATE. Spin's
/// host reports server errors as the driver's `Debug` text
/// (`Server(ServerError { code: 1062, message: "…", state: "23000" })`).
/// Connection failures can quote the address, so their credentials are
/// masked before the text goes anywhere.
pub fn error(error: mysql::Error) -> Error {
    match error {
        mysql::Error::Decode(message) => Error::Internal(message),
        mysql::Error::MysqlError(error) => match error {
            MysqlError::ConnectionFailed(message) => Error::Unavailable(redact_credentials(&message)),
            MysqlError::BadParameter(message) | MysqlError::ValueConversionFailed(message) => {
                Error::InvalidQuery(message)
            }
            MysqlError::QueryFailed(message) => classify(message),
            MysqlError::Other(message) => Error::Internal(redact_credentials(&message)),
        },
    }
}

/// The five-character SQLSTATE in `state: "23000"`.
fn sqlstate(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once("state: \"")?;
    let state = rest.get(..5)?;
    (state.chars().all(|c| c.is_ascii_alphanumeric()) && rest[5..].starts_with('"')).then_some(state)
}

/// Class 23 is an integrity violation, 42 a syntax or schema error, 40 a
/// transaction the server rolled back (InnoDB's deadlock victim, 1213):
/// nothing of it remains, and running it again may well succeed.
fn classify(message: String) -> Error {
    match sqlstate(&message).and_then(|s| s.get(..2)).unwrap_or_default() {
        "23" => Error::Conflict(message),
        "42" | "22" | "21" | "07" => Error::InvalidQuery(message),
        "08" | "40" => Error::Unavailable(message),
        _ => Error::Internal(message),
    }
}

/// Whether the server rolled the statement's transaction back (a deadlock
/// or serialization failure): an autocommit statement may run again.
pub fn rolled_back(error: &Error) -> bool {
    matches!(error, Error::Unavailable(message) if sqlstate(message).is_some_and(|state| state.starts_with("40")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUPLICATE: &str = r#"Server(ServerError { code: 1062, message: "Duplicate entry 'a' for key 'name'", state: "23000" })"#;

    #[test]
    fn finds_the_sqlstate_in_the_driver_error() {
        assert_eq!(sqlstate(DUPLICATE), Some("23000"));
        assert_eq!(sqlstate(r#"Server(ServerError { code: 1146, message: "Table 'x' doesn't exist", state: "42S02" })"#), Some("42S02"));
        assert_eq!(sqlstate("Io(Io(Os { code: 104, kind: ConnectionReset }))"), None);
    }

    #[test]
    fn a_deadlock_victim_is_retryable_and_nothing_else_is() {
        let deadlock = r#"Server(ServerError { code: 1213, message: "Deadlock found when trying to get lock; try restarting transaction", state: "40001" })"#;
        let error = classify(deadlock.to_owned());
        assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
        assert!(rolled_back(&error));
        assert!(!rolled_back(&classify(DUPLICATE.to_owned())));
        assert!(!rolled_back(&Error::Unavailable("connection refused".into())));
    }

    #[test]
    fn maps_integrity_and_syntax_errors() {
        assert!(matches!(classify(DUPLICATE.into()), Error::Conflict(_)));
        let missing = r#"Server(ServerError { code: 1146, message: "Table 'x' doesn't exist", state: "42S02" })"#;
        assert!(matches!(classify(missing.into()), Error::InvalidQuery(_)));
        assert!(matches!(classify("Io(ConnectionReset)".into()), Error::Internal(_)));
    }

    #[test]
    fn connection_failures_never_carry_the_password() {
        let refused = MysqlError::ConnectionFailed("address mysql://root:s3cret@db:3306/app is not permitted".into());
        let Error::Unavailable(message) = error(mysql::Error::MysqlError(refused)) else { panic!("not unavailable") };
        assert!(!message.contains("s3cret"), "{message}");
        assert!(message.contains("mysql://root:***@db:3306/app"), "{message}");
    }
}
