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

spin_sdk::wit_bindgen::generate!({
    path: "../../wit/infrastructure",
    world: "keel:infrastructure/sql-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

async fn run_execute(connection: &Connection, statement: &str, params: Vec<Value>) -> Result<ExecuteResult, Error> {
    let (sql, params) = prepare(statement, params)?;
    let rows_affected = connection.execute(sql, params).await.map_err(convert::error)?;
    Ok(ExecuteResult { rows_affected, last_insert_id: None })
}

sql_adapter_common::client_server_sql_adapter!(
    SqlPostgres,
    sdk = spin_sdk::pg,
    variable = "postgres_url",
    style = Style::Dollar,
    dialect = SqlDialect::Postgres,
    begin = "BEGIN",
);
