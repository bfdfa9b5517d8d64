//! `keel:infrastructure/sql` on Spin's PostgreSQL API (`spin:postgres`).
//!
//! The database address comes from the Spin variable `postgres_url`
//! (`postgres://user@host:5432/db?sslmode=require`; the host must be in the component's
//! `allowed_outbound_hosts`). The connection uses TLS unless the address
//! says `sslmode=disable` (`sslmode=require` refuses plain text); the
//! optional Spin variable `postgres_ca_root` holds a PEM CA certificate to
//! trust besides the public roots, for servers with a private CA (managed
//! databases, self-signed). Keel's `?N` placeholders become `$N`. Every
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
use spin_sdk::pg::{Certificate, OpenOptions};
use sql_adapter_common::Style;

/// The optional Spin variable with a PEM CA root certificate to trust.
const CA_ROOT_VARIABLE: &str = "postgres_ca_root";

spin_sdk::wit_bindgen::generate!({
    path: "../../wit/infrastructure",
    world: "keel:infrastructure/sql-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

/// Open a connection to `address`, trusting `postgres_ca_root` if it is set.
async fn open(address: String) -> Result<Connection, Error> {
    let ca_root = match spin_sdk::variables::get(CA_ROOT_VARIABLE).await {
        Ok(pem) => Some(pem).filter(|pem| !pem.trim().is_empty()),
        Err(spin_sdk::variables::Error::Undefined(_)) => None,
        Err(e) => return Err(Error::Unavailable(format!("cannot read the Spin variable `{CA_ROOT_VARIABLE}`: {e}"))),
    };
    let connection = match ca_root {
        Some(pem) => Connection::open_with_options(address, OpenOptions { ca_root: Some(Certificate::Text(pem)) }).await,
        None => Connection::open(address).await,
    };
    connection.map_err(convert::error)
}

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
