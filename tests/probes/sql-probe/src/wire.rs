//! The probe's JSON encoding of SQL values, dialects and error codes.

use keel_guest::sql::bindings::keel::infrastructure::sql::{Error, SqlDialect, Value};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value as `{"null":null}`, `{"integer":1}`, `{"real":1.5}`, `{"text":"x"}`
/// or `{"blob":"<lower-case hex>"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Param {
    Null(()),
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(#[serde(serialize_with = "to_hex", deserialize_with = "from_hex")] Vec<u8>),
}

impl Param {
    pub fn into_value(self) -> Value {
        match self {
            Param::Null(()) => Value::Null,
            Param::Integer(integer) => Value::Integer(integer),
            Param::Real(real) => Value::Real(real),
            Param::Text(text) => Value::Text(text),
            Param::Blob(blob) => Value::Blob(blob),
        }
    }
}

impl From<Value> for Param {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => Param::Null(()),
            Value::Integer(integer) => Param::Integer(integer),
            Value::Real(real) => Param::Real(real),
            Value::Text(text) => Param::Text(text),
            Value::Blob(blob) => Param::Blob(blob),
        }
    }
}

fn to_hex<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&bytes.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
}

fn from_hex<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let hex = String::deserialize(deserializer)?;
    if hex.len() % 2 != 0 {
        return Err(serde::de::Error::custom("blob hex must have an even number of digits"));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| serde::de::Error::custom("blob must be hex"))
        })
        .collect()
}

pub fn dialect_name(dialect: SqlDialect) -> &'static str {
    match dialect {
        SqlDialect::Sqlite => "sqlite",
        SqlDialect::Postgres => "postgres",
        SqlDialect::Mysql => "mysql",
    }
}

/// The error variant's name with `_` for `-`.
pub fn error_code(err: &Error) -> &'static str {
    match err {
        Error::Conflict(_) => "conflict",
        Error::InvalidQuery(_) => "invalid_query",
        Error::Unavailable(_) => "unavailable",
        Error::TransactionClosed => "transaction_closed",
        Error::Internal(_) => "internal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_use_the_probe_encoding() {
        let params: Vec<Param> =
            serde_json::from_str(r#"[{"null":null},{"integer":1},{"real":1.5},{"text":"x"},{"blob":"00ff"}]"#).unwrap();
        assert_eq!(params, vec![
            Param::Null(()),
            Param::Integer(1),
            Param::Real(1.5),
            Param::Text("x".into()),
            Param::Blob(vec![0, 255])
        ]);
        assert_eq!(
            serde_json::to_string(&params).unwrap(),
            r#"[{"null":null},{"integer":1},{"real":1.5},{"text":"x"},{"blob":"00ff"}]"#
        );
    }

    #[test]
    fn malformed_blobs_are_rejected() {
        assert!(serde_json::from_str::<Param>(r#"{"blob":"0"}"#).is_err());
        assert!(serde_json::from_str::<Param>(r#"{"blob":"zz"}"#).is_err());
    }
}
