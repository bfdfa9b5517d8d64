//! Conversions between `keel:infrastructure/sql` and `spin:postgres`.

use spin_sdk::pg::{self, DbValue, PgError, QueryError};
use sql_adapter_common::redact_credentials;

use crate::{Error, Value};

/// A PostgreSQL value as the closest Keel value.
pub fn value(value: &DbValue) -> Value {
    match value {
        DbValue::DbNull => Value::Null,
        DbValue::Boolean(v) => Value::Integer(i64::from(*v)),
        DbValue::Int8(v) => Value::Integer(i64::from(*v)),
        DbValue::Int16(v) => Value::Integer(i64::from(*v)),
        DbValue::Int32(v) => Value::Integer(i64::from(*v)),
        DbValue::Int64(v) => Value::Integer(*v),
        DbValue::Floating32(v) => Value::Real(f64::from(*v)),
        DbValue::Floating64(v) => Value::Real(*v),
        DbValue::Str(v) | DbValue::Decimal(v) | DbValue::Uuid(v) => Value::Text(v.clone()),
        DbValue::Binary(v) | DbValue::Unsupported(v) => Value::Blob(v.clone()),
        DbValue::Jsonb(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
        DbValue::Timestamp(v) => Value::Integer(*v),
        DbValue::Date((y, m, d)) => Value::Text(format!("{y:04}-{m:02}-{d:02}")),
        DbValue::Time((h, m, s, ns)) => Value::Text(format!("{h:02}:{m:02}:{s:02}.{ns:09}")),
        DbValue::Datetime((y, mo, d, h, mi, s, ns)) => {
            Value::Text(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ns:09}"))
        }
        other => Value::Text(format!("{other:?}")),
    }
}

/// Map a PostgreSQL failure onto the Keel error variants by SQLSTATE class.
pub fn error(error: pg::Error) -> Error {
    match error {
        pg::Error::Decode(message) => Error::Internal(message),
        pg::Error::PgError(error) => match error {
            PgError::ConnectionFailed(message) => Error::Unavailable(redact_credentials(&message)),
            PgError::BadParameter(message) | PgError::ValueConversionFailed(message) => Error::InvalidQuery(message),
            PgError::QueryFailed(QueryError::Text(message)) => Error::Internal(message),
            PgError::QueryFailed(QueryError::DbError(db)) => {
                let message = format!("{} (SQLSTATE {})", db.message, db.code);
                match db.code.get(..2).unwrap_or_default() {
                    "23" => Error::Conflict(message),
                    "42" | "22" | "0A" => Error::InvalidQuery(message),
                    // 40: the server rolled the transaction back (deadlock,
                    // serialization failure); running it again may succeed.
                    "08" | "53" | "57" | "40" => Error::Unavailable(message),
                    _ => Error::Internal(message),
                }
            }
            PgError::Other(message) => Error::Internal(redact_credentials(&message)),
        },
    }
}

/// Whether the server rolled the statement's transaction back (a deadlock
/// or serialization failure): an autocommit statement may run again.
pub fn rolled_back(error: &Error) -> bool {
    let Error::Unavailable(message) = error else { return false };
    // The code `error` appended: `… (SQLSTATE 40P01)`.
    let code = message.strip_suffix(')').and_then(|rest| rest.rsplit_once(" (SQLSTATE ")).map(|(_, code)| code);
    code.is_some_and(|code| code.len() == 5 && code.starts_with("40"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_rolled_back_statement_runs_again() {
        assert!(rolled_back(&Error::Unavailable("deadlock detected (SQLSTATE 40P01)".into())));
        assert!(rolled_back(&Error::Unavailable("could not serialize access (SQLSTATE 40001)".into())));
        assert!(!rolled_back(&Error::Unavailable("too many connections (SQLSTATE 53300)".into())));
        assert!(!rolled_back(&Error::Unavailable("connection refused: (SQLSTATE 40 is in the text)".into())));
        assert!(!rolled_back(&Error::Conflict("duplicate key (SQLSTATE 23505)".into())));
    }
}
