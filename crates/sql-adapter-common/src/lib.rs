//! Engine-independent plumbing shared by Keel's SQL adapters: rewriting
//! Keel's `?N` placeholders for each engine, telling what a statement does,
//! and the life of a transaction's connection ([`Session`]). Pure code, no
//! bindings, unit-tested natively.

#![deny(missing_docs)]

pub mod placeholders;
mod session;

pub use placeholders::{Style, rewrite};
pub use session::{Session, SessionError};

/// What a statement does, from its first keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// INSERT or REPLACE.
    Insert,
    /// UPDATE, DELETE, or a CTE (`WITH …`) that may be either.
    OtherDml,
    /// SELECT: reads only, and never waits for a writer.
    Select,
    /// Anything else (DDL, transaction control, pragmas).
    Other,
}

impl StatementKind {
    /// The kind of `statement`, from its first keyword.
    pub fn of(statement: &str) -> StatementKind {
        let keyword: String = statement
            .trim_start()
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_ascii_uppercase();
        match keyword.as_str() {
            "INSERT" | "REPLACE" => StatementKind::Insert,
            "UPDATE" | "DELETE" | "WITH" => StatementKind::OtherDml,
            "SELECT" => StatementKind::Select,
            _ => StatementKind::Other,
        }
    }

    /// Whether it may change rows (so a row count means something).
    pub fn modifies_rows(self) -> bool {
        matches!(self, StatementKind::Insert | StatementKind::OtherDml)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statements() {
        assert_eq!(StatementKind::of("  insert into t values (1)"), StatementKind::Insert);
        assert_eq!(StatementKind::of("REPLACE INTO t VALUES (1)"), StatementKind::Insert);
        assert_eq!(StatementKind::of("update t set a = 1"), StatementKind::OtherDml);
        assert_eq!(StatementKind::of("DELETE FROM t"), StatementKind::OtherDml);
        assert_eq!(StatementKind::of("CREATE TABLE t (a)"), StatementKind::Other);
        assert_eq!(StatementKind::of("\n select * from t"), StatementKind::Select);
        assert!(!StatementKind::of("SELECT 1").modifies_rows());
        assert!(!StatementKind::of("BEGIN").modifies_rows());
    }

    #[test]
    fn masks_passwords_in_addresses() {
        assert_eq!(
            redact_credentials("address mysql://root:pw@db:3306/app is not permitted"),
            "address mysql://root:***@db:3306/app is not permitted"
        );
        assert_eq!(redact_credentials("postgres://u:p@h/db and mysql://h/db"), "postgres://u:***@h/db and mysql://h/db");
        assert_eq!(redact_credentials("user@example.com: no scheme"), "user@example.com: no scheme");
        assert_eq!(redact_credentials("mysql://only-user@h"), "mysql://only-user@h");
    }
}

/// `text` with the password of every `scheme://user:password@host` in it
/// replaced by `***`: hosts quote the address in connection errors, and
/// that text ends up in logs.
pub fn redact_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (head, tail) = rest.split_at(start + 3);
        out.push_str(head);
        let authority_end = tail.find(['/', ' ', '"', '\'', '?', '#']).unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
                out.push_str(user);
                if userinfo.contains(':') {
                    out.push_str(":***");
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// The parameters an engine reads, in its order: `order[i]` is the index of
/// the Keel parameter that fills the engine's `i`-th placeholder (see
/// [`rewrite`]). Errs with a message when the statement uses a parameter
/// that was not given.
pub fn reorder<'v, V>(values: &'v [V], order: &[usize]) -> Result<Vec<&'v V>, String> {
    order
        .iter()
        .map(|&i| {
            values.get(i).ok_or_else(|| {
                format!("the statement uses ?{} but only {} parameters were given", i + 1, values.len())
            })
        })
        .collect()
}

/// How often an autocommit statement runs when the server rolls it back (a
/// deadlock victim, a serialization failure): nothing of a rolled-back
/// statement remains, so running it again is safe. Inside a transaction the
/// whole transaction is gone, and the caller sees `unavailable`.
pub const AUTOCOMMIT_ATTEMPTS: u32 = 3;

/// The `keel:infrastructure/sql` export of an adapter over a client-server
/// engine (PostgreSQL, MySQL) reached through a spin-sdk module (`pg`,
/// `mysql`, whose parameter and row types have the same shape): `connect`
/// (address from a Spin variable), `run_query`, parameter conversion, the
/// `Guest` impl, the transaction resource on a [`Session`], and `export!`.
///
/// Expects in scope the world's generated types (`Guest`,
/// `GuestTransaction`, `Transaction`, `Error`, `Value`, `Row`, `QueryResult`,
/// `ExecuteResult`, `SqlDialect`), and from the adapter: `async fn
/// open(address: String) -> Result<Connection, Error>`, `run_execute(&Connection,
/// &str, Vec<Value>)` plus `convert::value(&DbValue) -> Value`,
/// `convert::error(sdk::Error) -> Error` and `convert::rolled_back(&Error) ->
/// bool` (the server rolled the statement back: an autocommit one runs again,
/// up to [`AUTOCOMMIT_ATTEMPTS`] times).
#[macro_export]
macro_rules! client_server_sql_adapter {
    (
        $adapter:ident,
        sdk = $($sdk:ident)::+,
        variable = $variable:literal,
        style = $style:expr,
        dialect = $dialect:expr,
        begin = $begin:literal $(,)?
    ) => {
        use $($sdk)::+::{Connection, ParameterValue};

        async fn connect() -> Result<Connection, Error> {
            let address = ::spin_sdk::variables::get($variable).await.map_err(|e| {
                Error::Unavailable(format!(concat!("the Spin variable `", $variable, "` is not set: {}"), e))
            })?;
            open(address).await
        }

        /// Keel parameters in the order the rewritten statement reads them.
        fn params(values: Vec<Value>, order: &[usize]) -> Result<Vec<ParameterValue>, Error> {
            Ok($crate::reorder(&values, order)
                .map_err(Error::InvalidQuery)?
                .into_iter()
                .map(|value| match value {
                    Value::Null => ParameterValue::DbNull,
                    Value::Integer(v) => ParameterValue::Int64(*v),
                    Value::Real(v) => ParameterValue::Floating64(*v),
                    Value::Text(v) => ParameterValue::Str(v.clone()),
                    Value::Blob(v) => ParameterValue::Binary(v.clone()),
                })
                .collect())
        }

        /// Rewrite the placeholders of `statement` and its parameters for the engine.
        fn prepare(statement: &str, values: Vec<Value>) -> Result<(String, Vec<ParameterValue>), Error> {
            let (sql, order) = $crate::rewrite(statement, $style);
            Ok((sql, params(values, &order)?))
        }

        async fn run_query(connection: &Connection, statement: &str, values: Vec<Value>) -> Result<QueryResult, Error> {
            let (sql, params) = prepare(statement, values)?;
            let result = connection.query(sql, params).await.map_err(convert::error)?;
            let columns: Vec<String> = result.columns().iter().map(|c| c.name.clone()).collect();
            let width = columns.len();
            let rows = result.collect().await.map_err(convert::error)?;
            Ok(QueryResult {
                columns,
                rows: rows.iter().map(|row| Row { values: (0..width).map(|i| convert::value(&row[i])).collect() }).collect(),
            })
        }

        struct $adapter;

        impl Guest for $adapter {
            type Transaction = Tx;

            fn dialect() -> SqlDialect {
                $dialect
            }

            async fn query(statement: String, params: Vec<Value>) -> Result<QueryResult, Error> {
                let mut attempts = 1;
                loop {
                    match run_query(&connect().await?, &statement, params.clone()).await {
                        Err(error) if attempts < $crate::AUTOCOMMIT_ATTEMPTS && convert::rolled_back(&error) => attempts += 1,
                        done => return done,
                    }
                }
            }

            async fn execute(statement: String, params: Vec<Value>) -> Result<ExecuteResult, Error> {
                let mut attempts = 1;
                loop {
                    match run_execute(&connect().await?, &statement, params.clone()).await {
                        Err(error) if attempts < $crate::AUTOCOMMIT_ATTEMPTS && convert::rolled_back(&error) => attempts += 1,
                        done => return done,
                    }
                }
            }

            async fn begin() -> Result<Transaction, Error> {
                let connection = connect().await?;
                run_execute(&connection, $begin, Vec::new()).await?;
                Ok(Transaction::new(Tx($crate::Session::new(connection))))
            }
        }

        /// A transaction resource: owns its connection while it is open.
        struct Tx($crate::Session<Connection>);

        fn session_error(error: $crate::SessionError) -> Error {
            match error {
                $crate::SessionError::Busy => Error::Internal("another call is running on this transaction".into()),
                $crate::SessionError::Finished => Error::TransactionClosed,
            }
        }

        impl Tx {
            async fn finish(&self, statement: &str) -> Result<(), Error> {
                let connection = self.0.finish().map_err(session_error)?;
                run_execute(&connection, statement, Vec::new()).await.map(drop)
            }
        }

        /// A transaction dropped while open is rolled back in the background
        /// before its connection goes back to the host's pool.
        impl Drop for Tx {
            fn drop(&mut self) {
                if let Some(connection) = self.0.abandon() {
                    ::spin_sdk::wit_bindgen::spawn(async move {
                        let _ = run_execute(&connection, "ROLLBACK", Vec::new()).await;
                    });
                }
            }
        }

        impl GuestTransaction for Tx {
            async fn query(&self, statement: String, params: Vec<Value>) -> Result<QueryResult, Error> {
                let connection = self.0.take().map_err(session_error)?;
                let result = run_query(&connection, &statement, params).await;
                self.0.put_back(connection);
                result
            }

            async fn execute(&self, statement: String, params: Vec<Value>) -> Result<ExecuteResult, Error> {
                let connection = self.0.take().map_err(session_error)?;
                let result = run_execute(&connection, &statement, params).await;
                self.0.put_back(connection);
                result
            }

            async fn commit(&self) -> Result<(), Error> {
                self.finish("COMMIT").await
            }

            async fn rollback(&self) -> Result<(), Error> {
                self.finish("ROLLBACK").await
            }
        }

        export!($adapter);
    };
}
