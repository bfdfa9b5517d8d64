//! Conversions between `keel:infrastructure/sql` and `spin:mysql`.

use spin_sdk::mysql::{self, DbValue, MysqlError};

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

/// Map a MySQL failure onto the Keel error variants by SQLSTATE.
pub fn error(error: mysql::Error) -> Error {
    match error {
        mysql::Error::Decode(message) => Error::Internal(message),
        mysql::Error::MysqlError(error) => match error {
            MysqlError::ConnectionFailed(message) => Error::Unavailable(message),
            MysqlError::BadParameter(message) | MysqlError::ValueConversionFailed(message) => {
                Error::InvalidQuery(message)
            }
            MysqlError::QueryFailed(message) => classify(message),
            MysqlError::Other(message) => Error::Internal(message),
        },
    }
}

/// The five-character SQLSTATE of a server error, as in
/// `ERROR 1062 (23000): Duplicate entry …` (either order of code and state).
fn sqlstate(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once("ERROR ")?;
    let head = rest.split(':').next()?;
    head.split([' ', '(', ')'])
        .find(|token| token.len() == 5 && token.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Class 23 is an integrity violation, 42 a syntax or schema error.
fn classify(message: String) -> Error {
    match sqlstate(&message).and_then(|s| s.get(..2)).unwrap_or_default() {
        "23" => Error::Conflict(message),
        "42" | "22" | "21" | "07" => Error::InvalidQuery(message),
        "08" => Error::Unavailable(message),
        _ => Error::Internal(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_sqlstate_in_either_order() {
        assert_eq!(sqlstate("ERROR 1062 (23000): Duplicate entry 'a' for key 'name'"), Some("23000"));
        assert_eq!(sqlstate("Server error: `ERROR 23000 (1062): Duplicate entry"), Some("23000"));
        assert_eq!(sqlstate("ERROR 1064 (42000): You have an error in your SQL syntax"), Some("42000"));
        assert_eq!(sqlstate("connection reset"), None);
    }

    #[test]
    fn maps_integrity_and_syntax_errors() {
        assert!(matches!(classify("ERROR 1048 (23000): Column 'name' cannot be null".into()), Error::Conflict(_)));
        assert!(matches!(classify("ERROR 1146 (42S02): Table 'x' doesn't exist".into()), Error::InvalidQuery(_)));
    }
}
