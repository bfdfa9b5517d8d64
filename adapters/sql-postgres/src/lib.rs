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
use sql_adapter_common::Style;
use spin_sdk::pg::Connection;

spin_sdk::wit_bindgen::generate!({
    path: "../../wit/infrastructure",
    world: "keel:infrastructure/sql-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

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

sql_adapter_common::client_server_sql_adapter!(SqlPostgres, Connection, SqlDialect::Postgres, begin = "BEGIN");
