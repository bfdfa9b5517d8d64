//! The `keel:infrastructure/sql` import and a small typed layer over it.
//!
//! Repositories reuse these bindings through wit-bindgen's `with:` option
//! (`"keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql`),
//! so every component links one copy and one async runtime.
//!
//! [`Executor`] runs statements either in autocommit mode ([`Autocommit`]) or
//! inside a [`Transaction`]; [`Rows`] decodes result rows by column name.

/// Generated bindings of the `keel:infrastructure/sql` import.
pub mod bindings {
    ::spin_sdk::wit_bindgen::generate!({
        inline: "package keel:guest; world sql-client { import keel:infrastructure/sql@0.1.0; }",
        path: "../../wit/infrastructure",
        runtime_path: "::spin_sdk::wit_bindgen::rt",
        generate_all,
    });
}

pub use bindings::keel::infrastructure::sql::{
    Error, ExecuteResult, QueryResult, Row, Transaction, Value,
};
use bindings::keel::infrastructure::sql as raw;
pub use raw::SqlDialect as Dialect;

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::Text(text)
    }
}

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Self {
        Value::Blob(bytes)
    }
}

impl From<i64> for Value {
    fn from(integer: i64) -> Self {
        Value::Integer(integer)
    }
}

/// `None` is SQL `NULL`.
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

/// The dialect of the SQL adapter this component is composed with.
pub fn dialect() -> Dialect {
    raw::dialect()
}

/// An `INSERT` that leaves a row with the same unique key alone (nothing
/// changes, no error, and a PostgreSQL transaction is not aborted): the
/// statement's start (`INSERT INTO` / `INSERT IGNORE INTO`) and its end
/// (` ON CONFLICT DO NOTHING` / nothing) in this dialect.
pub fn insert_unless_present() -> (&'static str, &'static str) {
    match dialect() {
        Dialect::Mysql => ("INSERT IGNORE INTO", ""),
        Dialect::Sqlite | Dialect::Postgres => ("INSERT INTO", " ON CONFLICT DO NOTHING"),
    }
}

/// Something that runs statements: autocommit or a transaction.
#[allow(async_fn_in_trait)]
pub trait Executor {
    /// Run a statement that returns rows.
    async fn fetch(&self, statement: &str, params: Vec<Value>) -> Result<Rows, Error>;
    /// Run a statement that changes data or schema.
    async fn exec(&self, statement: &str, params: Vec<Value>) -> Result<ExecuteResult, Error>;
}

/// Each statement on its own connection, committed at once.
pub struct Autocommit;

impl Executor for Autocommit {
    async fn fetch(&self, statement: &str, params: Vec<Value>) -> Result<Rows, Error> {
        raw::query(statement.to_owned(), params).await.map(Rows::from)
    }

    async fn exec(&self, statement: &str, params: Vec<Value>) -> Result<ExecuteResult, Error> {
        raw::execute(statement.to_owned(), params).await
    }
}

impl Executor for Transaction {
    async fn fetch(&self, statement: &str, params: Vec<Value>) -> Result<Rows, Error> {
        Transaction::query(self, statement.to_owned(), params).await.map(Rows::from)
    }

    async fn exec(&self, statement: &str, params: Vec<Value>) -> Result<ExecuteResult, Error> {
        Transaction::execute(self, statement.to_owned(), params).await
    }
}

/// Start a transaction.
pub async fn begin() -> Result<Transaction, Error> {
    raw::begin().await
}

/// A query result whose rows are read by column name.
#[derive(Debug, Clone)]
pub struct Rows {
    columns: Vec<String>,
    rows: Vec<Row>,
}

impl From<QueryResult> for Rows {
    fn from(result: QueryResult) -> Self {
        Rows { columns: result.columns, rows: result.rows }
    }
}

impl Rows {
    /// The rows, in result order.
    pub fn iter(&self) -> impl Iterator<Item = RowRef<'_>> {
        self.rows.iter().map(|row| RowRef { columns: &self.columns, values: &row.values })
    }

    /// The first row, if any.
    pub fn first(&self) -> Option<RowRef<'_>> {
        self.iter().next()
    }

    /// Decode every row with `decode`.
    pub fn decode<T>(&self, decode: impl Fn(RowRef<'_>) -> Result<T, Error>) -> Result<Vec<T>, Error> {
        self.iter().map(decode).collect()
    }
}

/// One row of [`Rows`].
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl RowRef<'_> {
    fn value(&self, column: &str) -> Result<&Value, Error> {
        self.columns
            .iter()
            .position(|name| name == column)
            .and_then(|index| self.values.get(index))
            .ok_or_else(|| Error::Internal(format!("result has no column `{column}`")))
    }

    /// A TEXT column. Bytes that are valid UTF-8 read as text too: hosts
    /// type a column by its collation, and Spin's MySQL host reports text
    /// with a binary collation (`utf8mb4_bin`) as `binary`.
    pub fn text(&self, column: &str) -> Result<String, Error> {
        match self.value(column)? {
            Value::Text(text) => Ok(text.clone()),
            Value::Blob(bytes) => String::from_utf8(bytes.clone()).map_err(|_| {
                Error::Internal(format!("column `{column}` holds bytes that are not UTF-8 text"))
            }),
            other => Err(type_error(column, "text", other)),
        }
    }

    /// Whether the column is NULL (e.g. the missing side of an outer join).
    pub fn is_null(&self, column: &str) -> Result<bool, Error> {
        Ok(matches!(self.value(column)?, Value::Null))
    }

    /// A BLOB column (`bytea` on PostgreSQL).
    pub fn bytes(&self, column: &str) -> Result<&[u8], Error> {
        match self.value(column)? {
            Value::Blob(bytes) => Ok(bytes),
            other => Err(type_error(column, "blob", other)),
        }
    }

    /// An INTEGER column.
    pub fn integer(&self, column: &str) -> Result<i64, Error> {
        match self.value(column)? {
            Value::Integer(integer) => Ok(*integer),
            other => Err(type_error(column, "integer", other)),
        }
    }
}

fn type_error(column: &str, expected: &str, found: &Value) -> Error {
    let found = match found {
        Value::Null => "null",
        Value::Integer(_) => "integer",
        Value::Real(_) => "real",
        Value::Text(_) => "text",
        Value::Blob(_) => "blob",
    };
    Error::Internal(format!("column `{column}` is {found}, expected {expected}"))
}

/// A one-line description of an SQL error, for logs and error messages.
pub fn describe(error: &Error) -> String {
    match error {
        Error::Conflict(message) => format!("conflict: {message}"),
        Error::InvalidQuery(message) => format!("invalid query: {message}"),
        Error::Unavailable(message) => format!("database unavailable: {message}"),
        Error::TransactionClosed => "transaction already finished".to_owned(),
        Error::Internal(message) => format!("database error: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository error type as wit-bindgen generates it.
    #[derive(Debug, PartialEq)]
    enum RepositoryError {
        Conflict(String),
        Unavailable(String),
        Internal(String),
    }
    crate::impl_from_sql_error!(RepositoryError);

    #[test]
    fn only_an_unreachable_database_is_retryable() {
        assert!(matches!(RepositoryError::from(Error::Unavailable("refused".into())), RepositoryError::Unavailable(_)));
        for err in [Error::InvalidQuery("no such column: x".into()), Error::Internal("bad row".into()), Error::TransactionClosed] {
            assert!(matches!(RepositoryError::from(err), RepositoryError::Internal(_)));
        }
        assert_eq!(
            RepositoryError::from(Error::Conflict("UNIQUE constraint failed: users.email".into())),
            RepositoryError::Conflict("the change conflicts with existing data".into())
        );
    }

    fn rows(values: Vec<Value>) -> Rows {
        Rows { columns: vec!["id".into()], rows: vec![Row { values }] }
    }

    #[test]
    fn text_reads_utf8_bytes_as_spin_mysql_returns_binary_collations() {
        let result = rows(vec![Value::Blob(b"u-1".to_vec())]);
        assert_eq!(result.first().unwrap().text("id").unwrap(), "u-1");
        let result = rows(vec![Value::Blob(vec![0xff, 0xfe])]);
        assert!(matches!(result.first().unwrap().text("id"), Err(Error::Internal(m)) if m.contains("not UTF-8")));
        let result = rows(vec![Value::Integer(7)]);
        assert!(matches!(result.first().unwrap().text("id"), Err(Error::Internal(m)) if m.contains("is integer")));
    }
}
