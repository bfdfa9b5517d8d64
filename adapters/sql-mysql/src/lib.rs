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
use sql_adapter_common::{StatementKind, Style};

spin_sdk::wit_bindgen::generate!({
    path: "../../wit/infrastructure",
    world: "keel:infrastructure/sql-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

async fn open(address: String) -> Result<Connection, Error> {
    Connection::open(address).await.map_err(convert::error)
}

async fn run_execute(connection: &Connection, statement: &str, params: Vec<Value>) -> Result<ExecuteResult, Error> {
    let (sql, params) = prepare(statement, params)?;
    connection.execute(sql, params).await.map_err(convert::error)?;
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

sql_adapter_common::client_server_sql_adapter!(
    SqlMysql,
    sdk = spin_sdk::mysql,
    variable = "mysql_url",
    style = Style::Question,
    dialect = SqlDialect::Mysql,
    begin = "START TRANSACTION",
);
