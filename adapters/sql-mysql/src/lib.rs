//! `keel:infrastructure/sql` on Spin's MySQL API (`spin:mysql`), for MySQL
//! and MariaDB.
//!
//! The database address comes from the Spin variable `mysql_url`
//! (`mysql://user:password@host:3306/db`; the host must be in the
//! component's `allowed_outbound_hosts`). Keel's `?N` placeholders become
//! positional `?` with the parameters reordered. Spin's `execute` reports
//! nothing, so rows-affected and last-insert-id are read from the same
//! session with `ROW_COUNT()` and `LAST_INSERT_ID()`. A
//! [`transaction`](Tx) keeps one session from `START TRANSACTION` to
//! `COMMIT`/`ROLLBACK`; one dropped unfinished is rolled back in the
//! background before its session goes.

mod convert;

use exports::keel::infrastructure::sql::{
    Error, ExecuteResult, Guest, GuestTransaction, QueryResult, Row, SqlDialect, Transaction, Value,
};
use spin_sdk::mysql::Connection;
use sql_adapter_common::{Session, SessionError, StatementKind, Style};

spin_sdk::wit_bindgen::generate!({
    path: "../../wit/infrastructure",
    world: "keel:infrastructure/sql-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

struct SqlMysql;

async fn connect() -> Result<Connection, Error> {
    let address = spin_sdk::variables::get("mysql_url")
        .await
        .map_err(|e| Error::Unavailable(format!("the Spin variable `mysql_url` is not set: {e}")))?;
    Connection::open(address).await.map_err(convert::error)
}

async fn run_query(connection: &Connection, statement: &str, params: Vec<Value>) -> Result<QueryResult, Error> {
    let (sql, order) = sql_adapter_common::rewrite(statement, Style::Question);
    let result = connection.query(sql, convert::params(params, &order)?).await.map_err(convert::error)?;
    let columns: Vec<String> = result.columns().iter().map(|c| c.name.clone()).collect();
    let width = columns.len();
    let rows = result.collect().await.map_err(convert::error)?;
    Ok(QueryResult {
        columns,
        rows: rows.iter().map(|row| Row { values: (0..width).map(|i| convert::value(&row[i])).collect() }).collect(),
    })
}

async fn run_execute(connection: &Connection, statement: &str, params: Vec<Value>) -> Result<ExecuteResult, Error> {
    let (sql, order) = sql_adapter_common::rewrite(statement, Style::Question);
    connection.execute(sql, convert::params(params, &order)?).await.map_err(convert::error)?;
    let kind = StatementKind::of(statement);
    if !kind.modifies_rows() {
        return Ok(ExecuteResult { rows_affected: 0, last_insert_id: None });
    }
    let counts = run_query(connection, "SELECT ROW_COUNT() AS affected, LAST_INSERT_ID() AS id", Vec::new()).await?;
    let integer = |i: usize| match counts.rows.first().and_then(|r| r.values.get(i)) {
        Some(Value::Integer(n)) => *n,
        _ => 0,
    };
    let rows_affected = u64::try_from(integer(0)).unwrap_or(0);
    let last_insert_id = (kind == StatementKind::Insert && rows_affected > 0 && integer(1) > 0).then(|| integer(1));
    Ok(ExecuteResult { rows_affected, last_insert_id })
}

impl Guest for SqlMysql {
    type Transaction = Tx;

    fn dialect() -> SqlDialect {
        SqlDialect::Mysql
    }

    async fn query(statement: String, params: Vec<Value>) -> Result<QueryResult, Error> {
        run_query(&connect().await?, &statement, params).await
    }

    async fn execute(statement: String, params: Vec<Value>) -> Result<ExecuteResult, Error> {
        run_execute(&connect().await?, &statement, params).await
    }

    async fn begin() -> Result<Transaction, Error> {
        let connection = connect().await?;
        run_execute(&connection, "START TRANSACTION", Vec::new()).await?;
        Ok(Transaction::new(Tx(Session::new(connection))))
    }
}

/// A transaction resource: owns its session while the transaction is open.
struct Tx(Session<Connection>);

fn session_error(error: SessionError) -> Error {
    match error {
        SessionError::Busy => Error::Internal("another call is running on this transaction".into()),
        SessionError::Finished => Error::TransactionClosed,
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let Some(connection) = self.0.abandon() {
            spin_sdk::wit_bindgen::spawn(async move {
                let _ = connection.execute("ROLLBACK", Vec::new()).await;
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
        let connection = self.0.finish().map_err(session_error)?;
        run_execute(&connection, "COMMIT", Vec::new()).await.map(drop)
    }

    async fn rollback(&self) -> Result<(), Error> {
        let connection = self.0.finish().map_err(session_error)?;
        run_execute(&connection, "ROLLBACK", Vec::new()).await.map(drop)
    }
}

export!(SqlMysql);
