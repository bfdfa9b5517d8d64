//! `keel:infrastructure/sql` on Spin's PostgreSQL API (`spin:postgres`).
//!
//! The database address comes from the Spin variable `postgres_url`
//! (`postgres://user@host:5432/db`; the host must be in the component's
//! `allowed_outbound_hosts`). Keel's `?N` placeholders become `$N`. Every
//! call opens a connection (the host pools them); a [`transaction`](Tx)
//! keeps one connection from `BEGIN` to `COMMIT`/`ROLLBACK`, and one dropped
//! unfinished is rolled back in the background before its connection goes.
//!
//! PostgreSQL reports no last-insert id: `execute` returns none; use
//! `INSERT … RETURNING` through `query` instead. Integer columns should be
//! `BIGINT` (Keel integers are 64-bit); numeric, date/time, uuid and JSON
//! results are returned as text.

mod convert;

use exports::keel::infrastructure::sql::{
    Error, ExecuteResult, Guest, GuestTransaction, QueryResult, Row, SqlDialect, Transaction, Value,
};
use sql_adapter_common::{Session, SessionError, Style};
use spin_sdk::pg::Connection;

spin_sdk::wit_bindgen::generate!({
    path: "../../wit/infrastructure",
    world: "keel:infrastructure/sql-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

struct SqlPostgres;

async fn connect() -> Result<Connection, Error> {
    let address = spin_sdk::variables::get("postgres_url")
        .await
        .map_err(|e| Error::Unavailable(format!("the Spin variable `postgres_url` is not set: {e}")))?;
    Connection::open(address).await.map_err(convert::error)
}

async fn run_query(connection: &Connection, statement: &str, params: Vec<Value>) -> Result<QueryResult, Error> {
    let (sql, order) = sql_adapter_common::rewrite(statement, Style::Dollar);
    let result = connection
        .query(sql, convert::params(params, &order)?)
        .await
        .map_err(convert::error)?;
    let columns: Vec<String> = result.columns().iter().map(|c| c.name.clone()).collect();
    let width = columns.len();
    let rows = result.collect().await.map_err(convert::error)?;
    Ok(QueryResult {
        columns,
        rows: rows
            .iter()
            .map(|row| Row { values: (0..width).map(|i| convert::value(&row[i])).collect() })
            .collect(),
    })
}

async fn run_execute(connection: &Connection, statement: &str, params: Vec<Value>) -> Result<ExecuteResult, Error> {
    let (sql, order) = sql_adapter_common::rewrite(statement, Style::Dollar);
    let rows_affected = connection
        .execute(sql, convert::params(params, &order)?)
        .await
        .map_err(convert::error)?;
    Ok(ExecuteResult { rows_affected, last_insert_id: None })
}

impl Guest for SqlPostgres {
    type Transaction = Tx;

    fn dialect() -> SqlDialect {
        SqlDialect::Postgres
    }

    async fn query(statement: String, params: Vec<Value>) -> Result<QueryResult, Error> {
        run_query(&connect().await?, &statement, params).await
    }

    async fn execute(statement: String, params: Vec<Value>) -> Result<ExecuteResult, Error> {
        run_execute(&connect().await?, &statement, params).await
    }

    async fn begin() -> Result<Transaction, Error> {
        let connection = connect().await?;
        run_execute(&connection, "BEGIN", Vec::new()).await?;
        Ok(Transaction::new(Tx(Session::new(connection))))
    }
}

/// A transaction resource: owns its connection while `BEGIN` is open.
struct Tx(Session<Connection>);

fn session_error(error: SessionError) -> Error {
    match error {
        SessionError::Busy => Error::Internal("another call is running on this transaction".into()),
        SessionError::Finished => Error::TransactionClosed,
    }
}

impl Tx {
    fn take(&self) -> Result<Connection, Error> {
        self.0.take().map_err(session_error)
    }

    fn put_back(&self, connection: Connection) {
        self.0.put_back(connection);
    }

    async fn finish(&self, statement: &str) -> Result<(), Error> {
        let connection = self.0.finish().map_err(session_error)?;
        run_execute(&connection, statement, Vec::new()).await.map(drop)
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
        let connection = self.take()?;
        let result = run_query(&connection, &statement, params).await;
        self.put_back(connection);
        result
    }

    async fn execute(&self, statement: String, params: Vec<Value>) -> Result<ExecuteResult, Error> {
        let connection = self.take()?;
        let result = run_execute(&connection, &statement, params).await;
        self.put_back(connection);
        result
    }

    async fn commit(&self) -> Result<(), Error> {
        self.finish("COMMIT").await
    }

    async fn rollback(&self) -> Result<(), Error> {
        self.finish("ROLLBACK").await
    }
}

export!(SqlPostgres);
