//! `spin:mysql/mysql@3.0.0` on mysql_async: a connection pool per address
//! (sessions are reset when they return to it), the component's
//! `allowed_outbound_hosts` checked on every open. Each `connection`
//! resource is one session, so session state such as `LAST_INSERT_ID()`
//! and open transactions belongs to it alone.
//!
//! # Parity with Spin
//!
//! Follows `crates/factor-outbound-mysql/src/{client,host}.rs` of Spin 4.1,
//! so a guest sees the same values and errors on both hosts:
//!
//! - **Typing** (`convert_data_type`): `TINY`/`SHORT`/`INT24`/`LONG`/
//!   `LONGLONG` are `int8…int64`, or `uint8…uint64` with `UNSIGNED_FLAG`;
//!   `FLOAT`/`DOUBLE` are `floating32/64`; `STRING`, `VAR_STRING` and `BLOB`
//!   are `binary` when the column has `BINARY_FLAG` (`BINARY`, `VARBINARY`,
//!   `BLOB`, and text with a binary collation such as `utf8mb4_bin`) and
//!   `str` otherwise; every other type (`DECIMAL`, `YEAR`, dates and times,
//!   `JSON`, `ENUM`, `MEDIUM_BLOB`, …) is `other`, and a non-null value in
//!   an `other` column fails the query with `value-conversion-failed`
//!   (`Cannot convert value … in column … data type …`), as in Spin.
//!   Values are converted with mysql_async's `from_value_opt` (out of range
//!   or non-UTF-8 text is `value-conversion-failed`).
//! - **Errors**: `execute`/`query` failures are `query-failed` carrying the
//!   driver error's `Debug` text (`Server(ServerError { code: 1062, message:
//!   "…", state: "23000" })`); a failure while reading rows is `other`; a
//!   refused address is `connection-failed("address … is not permitted")`;
//!   a failed connect is `connection-failed` with the error's `Debug` text.
//! - **Limits**: a result set larger than [`MAX_RESULT_BYTES`] (Spin's
//!   `MAX_HOST_BUFFERED_BYTES`, 128 MiB, counted as Spin counts it) fails
//!   with `other("query result exceeds limit of N bytes")`.
//! - **Differences, on purpose**: Spin opens a new server connection per
//!   `open`; Keel reuses pooled sessions, reset (`COM_RESET_CONNECTION`) on
//!   return, so no session state leaks between opens. Keel also refuses a
//!   `socket=` address, which would bypass the allow list.
//! - **TLS** as in Spin's `build_opts`: an `ssl-mode` (or `sslmode`) query
//!   parameter with any value but `DISABLED` turns on TLS with the server's
//!   certificate and host name verified; the parameter itself is removed
//!   before the driver reads the address. Keel verifies against Mozilla's
//!   roots (Spin: the system's).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::prelude::Queryable;
use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

use super::bindings::spin::mysql::mysql::{
    self as wit, Column, DbDataType, DbValue, Error, HostConnection, HostConnectionWithStore, ParameterValue,
};
use super::{HostState, Spin};
use crate::config::outbound::OutboundPolicy;
use crate::telemetry::{Call, HostCall};

/// The MySQL capability (`spin:mysql`): each component
/// gets its own pools; every address is checked against its allow list.
pub(crate) struct Mysql;

impl super::Capability for Mysql {
    type App = ();
    type Grant = Arc<MysqlPools>;

    fn link(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
        super::bindings::spin::mysql::mysql::add_to_linker::<_, Spin>(linker, super::this)
    }

    fn grant(_: &(), _: &crate::config::manifest::Component) -> Self::Grant {
        Arc::default()
    }
}

/// A pool per connection address, shared by a component's instances.
#[derive(Default)]
pub struct MysqlPools {
    pools: Mutex<HashMap<String, mysql_async::Pool>>,
}

/// The `connection` resource: one session checked out of the pool.
pub struct MysqlConnection(Arc<tokio::sync::Mutex<mysql_async::Conn>>);

async fn connect(address: &str, policy: &OutboundPolicy, pools: &MysqlPools) -> Result<MysqlConnection, Error> {
    let failed = |e: mysql_async::Error| Error::ConnectionFailed(format!("{:?}", anyhow::Error::from(e)));
    let (url, tls) = without_ssl_mode(address);
    let opts = mysql_async::Opts::from_url(&url).map_err(|e| failed(e.into()))?;
    let opts: mysql_async::Opts = match tls {
        true => mysql_async::OptsBuilder::from_opts(opts).ssl_opts(mysql_async::SslOpts::default()).into(),
        false => opts,
    };
    let (host, port) = (opts.ip_or_hostname().to_string(), opts.tcp_port());
    // A `socket=` path would reach a server the allow list never saw.
    if opts.socket().is_some() || !policy.allows("mysql", &host, Some(port)) {
        return Err(Error::ConnectionFailed(format!("address {address} is not permitted")));
    }
    let pool = pools
        .pools
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(address.to_string())
        .or_insert_with(|| mysql_async::Pool::new(opts))
        .clone();
    let conn = pool.get_conn().await.map_err(failed)?;
    Ok(MysqlConnection(Arc::new(tokio::sync::Mutex::new(conn))))
}

/// The address without its `ssl-mode`/`sslmode` parameters (the driver
/// does not know them), and whether they ask for TLS (any value but
/// `DISABLED`), as Spin reads them.
fn without_ssl_mode(address: &str) -> (String, bool) {
    let Ok(mut url) = url::Url::parse(address) else { return (address.to_string(), false) };
    let is_ssl = |key: &str| key.eq_ignore_ascii_case("ssl-mode") || key.eq_ignore_ascii_case("sslmode");
    let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let tls = pairs.iter().any(|(k, v)| is_ssl(k) && !v.eq_ignore_ascii_case("disabled"));
    let kept: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| !is_ssl(k)).collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept.iter().map(|(k, v)| (k, v)));
    }
    (url.to_string(), tls)
}

fn param(value: ParameterValue) -> mysql_async::Value {
    use mysql_async::Value as V;
    match value {
        ParameterValue::Boolean(v) => V::Int(i64::from(v)),
        ParameterValue::Int8(v) => V::Int(v.into()),
        ParameterValue::Int16(v) => V::Int(v.into()),
        ParameterValue::Int32(v) => V::Int(v.into()),
        ParameterValue::Int64(v) => V::Int(v),
        ParameterValue::Uint8(v) => V::UInt(v.into()),
        ParameterValue::Uint16(v) => V::UInt(v.into()),
        ParameterValue::Uint32(v) => V::UInt(v.into()),
        ParameterValue::Uint64(v) => V::UInt(v),
        ParameterValue::Floating32(v) => V::Float(v),
        ParameterValue::Floating64(v) => V::Double(v),
        ParameterValue::Str(v) => V::Bytes(v.into_bytes()),
        ParameterValue::Binary(v) => V::Bytes(v),
        ParameterValue::DbNull => V::NULL,
    }
}

/// Column typing exactly as Spin's `convert_data_type`: numeric types by
/// signedness, the character types (`STRING`, `VAR_STRING`, `BLOB`) as
/// `binary` when the column carries `BINARY_FLAG` (binary collations such
/// as `utf8mb4_bin` set it), everything else `other`.
fn data_type(column: &mysql_async::Column) -> DbDataType {
    let ty = column.column_type();
    if ty.is_numeric_type() {
        let signed = !column.flags().contains(ColumnFlags::UNSIGNED_FLAG);
        match (ty, signed) {
            (ColumnType::MYSQL_TYPE_DOUBLE, _) => DbDataType::Floating64,
            (ColumnType::MYSQL_TYPE_FLOAT, _) => DbDataType::Floating32,
            (ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG, true) => DbDataType::Int32,
            (ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG, false) => DbDataType::Uint32,
            (ColumnType::MYSQL_TYPE_LONGLONG, true) => DbDataType::Int64,
            (ColumnType::MYSQL_TYPE_LONGLONG, false) => DbDataType::Uint64,
            (ColumnType::MYSQL_TYPE_SHORT, true) => DbDataType::Int16,
            (ColumnType::MYSQL_TYPE_SHORT, false) => DbDataType::Uint16,
            (ColumnType::MYSQL_TYPE_TINY, true) => DbDataType::Int8,
            (ColumnType::MYSQL_TYPE_TINY, false) => DbDataType::Uint8,
            _ => DbDataType::Other,
        }
    } else if ty.is_character_type() {
        let binary = column.flags().contains(ColumnFlags::BINARY_FLAG);
        match (ty, binary) {
            (ColumnType::MYSQL_TYPE_BLOB | ColumnType::MYSQL_TYPE_STRING | ColumnType::MYSQL_TYPE_VAR_STRING, true) => {
                DbDataType::Binary
            }
            (
                ColumnType::MYSQL_TYPE_BLOB | ColumnType::MYSQL_TYPE_STRING | ColumnType::MYSQL_TYPE_VAR_STRING,
                false,
            ) => DbDataType::Str,
            _ => DbDataType::Other,
        }
    } else {
        DbDataType::Other
    }
}

fn convert<T: mysql_async::prelude::FromValue>(value: mysql_async::Value) -> Result<T, Error> {
    mysql_async::from_value_opt::<T>(value).map_err(|e| Error::ValueConversionFailed(e.to_string()))
}

/// A non-null value converted to its column's type, failing as Spin does
/// when it does not fit (and always for `other` columns).
fn value(value: mysql_async::Value, column: &Column) -> Result<DbValue, Error> {
    if value == mysql_async::Value::NULL {
        return Ok(DbValue::DbNull);
    }
    Ok(match column.data_type {
        DbDataType::Binary => DbValue::Binary(convert(value)?),
        DbDataType::Boolean => DbValue::Boolean(convert(value)?),
        DbDataType::Floating32 => DbValue::Floating32(convert(value)?),
        DbDataType::Floating64 => DbValue::Floating64(convert(value)?),
        DbDataType::Int8 => DbValue::Int8(convert(value)?),
        DbDataType::Int16 => DbValue::Int16(convert(value)?),
        DbDataType::Int32 => DbValue::Int32(convert(value)?),
        DbDataType::Int64 => DbValue::Int64(convert(value)?),
        DbDataType::Str => DbValue::Str(convert(value)?),
        DbDataType::Uint8 => DbValue::Uint8(convert(value)?),
        DbDataType::Uint16 => DbValue::Uint16(convert(value)?),
        DbDataType::Uint32 => DbValue::Uint32(convert(value)?),
        DbDataType::Uint64 => DbValue::Uint64(convert(value)?),
        DbDataType::Other => {
            return Err(Error::ValueConversionFailed(format!(
                "Cannot convert value {value:?} in column {} data type {:?}",
                column.name, column.data_type
            )));
        }
    })
}

/// The bytes a value holds in host memory, as Spin counts them against
/// [`MAX_RESULT_BYTES`].
fn memory_size(value: &DbValue) -> usize {
    std::mem::size_of::<DbValue>()
        + match value {
            DbValue::Str(s) => s.len(),
            DbValue::Binary(b) => b.len(),
            _ => 0,
        }
}

/// Spin's `MAX_HOST_BUFFERED_BYTES`: a query result larger than this fails
/// with `other("query result exceeds limit of N bytes")`.
pub const MAX_RESULT_BYTES: usize = 128 << 20;

/// `execute` and `query` failures are `query-failed` with the driver
/// error's `Debug` text, as Spin reports them (e.g. `Server(ServerError {
/// code: 1062, message: "Duplicate entry …", state: "23000" })`).
fn query_failed(e: mysql_async::Error) -> Error {
    Error::QueryFailed(format!("{e:?}"))
}

type QueryOutput = (Vec<Column>, Vec<Vec<DbValue>>);

impl MysqlConnection {
    async fn query(&self, statement: &str, params: Vec<ParameterValue>) -> Result<QueryOutput, Error> {
        self.query_capped(statement, params, MAX_RESULT_BYTES).await
    }

    async fn query_capped(
        &self,
        statement: &str,
        params: Vec<ParameterValue>,
        max_result_bytes: usize,
    ) -> Result<QueryOutput, Error> {
        let mut conn = self.0.lock().await;
        let params = mysql_async::Params::Positional(params.into_iter().map(param).collect());
        let mut result = conn.exec_iter(statement, params).await.map_err(query_failed)?;
        let columns: Vec<Column> = result
            .columns_ref()
            .iter()
            .map(|c| Column { name: c.name_str().into_owned(), data_type: data_type(c) })
            .collect();
        let mut rows = Vec::new();
        let mut bytes = 0usize;
        let mut overflow = false;
        let mut failure = None;
        // Read the whole result set even after a failure so the session
        // stays usable.
        result
            .for_each(|row| {
                if overflow || failure.is_some() {
                    return;
                }
                let converted = row
                    .unwrap()
                    .into_iter()
                    .zip(&columns)
                    .map(|(v, column)| value(v, column))
                    .collect::<Result<Vec<_>, _>>();
                match converted {
                    Ok(row) => {
                        bytes += row.iter().map(memory_size).sum::<usize>();
                        if bytes > max_result_bytes {
                            overflow = true;
                            rows = Vec::new();
                        } else {
                            rows.push(row);
                        }
                    }
                    Err(e) => failure = Some(e),
                }
            })
            .await
            .map_err(|e| Error::Other(e.to_string()))?;
        if overflow {
            return Err(Error::Other(format!("query result exceeds limit of {max_result_bytes} bytes")));
        }
        if let Some(e) = failure {
            return Err(e);
        }
        Ok((columns, rows))
    }

    async fn execute(&self, statement: &str, params: Vec<ParameterValue>) -> Result<(), Error> {
        let mut conn = self.0.lock().await;
        let params = mysql_async::Params::Positional(params.into_iter().map(param).collect());
        conn.exec_drop(statement, params).await.map_err(query_failed)
    }
}

impl HostState {
    fn mysql_open_args(&self) -> (Arc<OutboundPolicy>, Arc<MysqlPools>) {
        (self.services.outbound.clone(), self.services.mysql.clone())
    }

    fn mysql(&self, conn: &Resource<MysqlConnection>) -> wasmtime::Result<MysqlConnection> {
        Ok(MysqlConnection(self.table.get(conn)?.0.clone()))
    }
}

impl wit::Host for HostState {}

impl HostConnection for HostState {
    fn drop(&mut self, conn: Resource<MysqlConnection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}

/// The connection `conn`, and the telemetry of the statement it is to run.
fn mysql_call<T>(
    accessor: &Accessor<T, Spin>,
    conn: &Resource<MysqlConnection>,
    operation: &'static str,
    statement: &str,
) -> wasmtime::Result<(MysqlConnection, HostCall)> {
    accessor.with(|mut access| {
        let state = access.get();
        Ok((state.mysql(conn)?, state.host_call(Call::Sql { system: "mysql", operation, statement })))
    })
}

/// End a statement's telemetry: an error by its kind only (its text may
/// quote the data).
fn finish<R>(call: HostCall, result: &Result<R, Error>) {
    call.finish(result.as_ref().err().map(|_| "query-failed"), None);
}

impl<T> HostConnectionWithStore<T> for Spin {
    async fn open(
        accessor: &Accessor<T, Self>,
        address: String,
    ) -> wasmtime::Result<Result<Resource<MysqlConnection>, Error>> {
        let (policy, pools) = accessor.with(|mut access| access.get().mysql_open_args());
        match connect(&address, &policy, &pools).await {
            Ok(conn) => accessor.with(|mut access| Ok(Ok(access.get().table.push(conn)?))),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn query(
        accessor: &Accessor<T, Self>,
        conn: Resource<MysqlConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<(Vec<Column>, StreamReader<Vec<DbValue>>, FutureReader<Result<(), Error>>), Error>>
    {
        let (conn, call) = mysql_call(accessor, &conn, "query", &statement)?;
        let result = conn.query(&statement, params).await;
        finish(call, &result);
        let (columns, rows) = match result {
            Ok(out) => out,
            Err(e) => return Ok(Err(e)),
        };
        accessor.with(|mut access| {
            let rows = StreamReader::new(&mut access, rows)?;
            let done = FutureReader::new(&mut access, async { wasmtime::error::Ok(Ok(())) })?;
            Ok(Ok((columns, rows, done)))
        })
    }

    async fn execute(
        accessor: &Accessor<T, Self>,
        conn: Resource<MysqlConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let (conn, call) = mysql_call(accessor, &conn, "execute", &statement)?;
        let result = conn.execute(&statement, params).await;
        finish(call, &result);
        Ok(result)
    }
}

/// Pinning tests: each Spin behaviour above, against the loopback MariaDB
/// (`KEEL_TEST_MYSQL_URL`, default `mysql://root@127.0.0.1:3306/test`).
#[cfg(test)]
mod tests {
    use super::*;

    fn server_url() -> String {
        std::env::var("KEEL_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
    }

    fn allow(entries: &[&str]) -> OutboundPolicy {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        OutboundPolicy::new(&entries, |t| Ok(t.into())).unwrap()
    }

    async fn open() -> MysqlConnection {
        let policy = allow(&["mysql://127.0.0.1:3306"]);
        match connect(&server_url(), &policy, &MysqlPools::default()).await {
            Ok(conn) => conn,
            Err(e) => panic!("MariaDB at {} is needed for these tests: {e:?}", server_url()),
        }
    }

    /// A table of its own per test, dropped first in case a run was cut short.
    async fn table(conn: &MysqlConnection, name: &str, columns: &str) {
        conn.execute(&format!("DROP TABLE IF EXISTS {name}"), vec![]).await.unwrap();
        conn.execute(&format!("CREATE TABLE {name} ({columns})"), vec![]).await.unwrap();
    }

    #[test]
    fn ssl_mode_is_read_and_removed_as_spin_does() {
        assert_eq!(without_ssl_mode("mysql://u@db:3306/app?ssl-mode=REQUIRED"), ("mysql://u@db:3306/app".into(), true));
        assert_eq!(
            without_ssl_mode("mysql://u@db/app?SSLMODE=verify_identity&x=1"),
            ("mysql://u@db/app?x=1".into(), true)
        );
        assert_eq!(without_ssl_mode("mysql://u@db/app?ssl-mode=DISABLED"), ("mysql://u@db/app".into(), false));
        assert_eq!(without_ssl_mode("mysql://u@db/app"), ("mysql://u@db/app".into(), false));
    }

    #[tokio::test]
    async fn ssl_mode_turns_tls_on() {
        // The loopback MariaDB has TLS off: asking for it must fail to
        // connect (proving TLS was requested), and DISABLED must connect.
        let policy = allow(&["mysql://127.0.0.1:3306"]);
        let with = |mode: &str| {
            let url = server_url();
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}ssl-mode={mode}")
        };
        assert!(connect(&with("DISABLED"), &policy, &MysqlPools::default()).await.is_ok());
        match connect(&with("REQUIRED"), &policy, &MysqlPools::default()).await {
            Err(Error::ConnectionFailed(message)) => assert!(
                message.to_ascii_lowercase().contains("ssl") || message.to_ascii_lowercase().contains("tls"),
                "{message}"
            ),
            other => panic!("TLS was not requested: {:?}", other.map(|_| ())),
        }
    }

    #[tokio::test]
    async fn columns_are_typed_by_flags_as_spin_types_them() {
        let conn = open().await;
        table(
            &conn,
            "keel_pin_types",
            "bin_text VARCHAR(20) COLLATE utf8mb4_bin, ci_text VARCHAR(20) COLLATE utf8mb4_general_ci, \
             body TEXT, bytes VARBINARY(8), blob_col BLOB, small TINYINT, count INT UNSIGNED, big BIGINT, \
             ratio DOUBLE, price DECIMAL(6,2)",
        )
        .await;
        conn.execute(
            "INSERT INTO keel_pin_types VALUES ('u-1', 'Ada', 'hello', 'ab', 'cd', -3, 7, 9000000000, 0.5, NULL)",
            vec![],
        )
        .await
        .unwrap();
        let (columns, rows) = conn
            .query(
                "SELECT bin_text, ci_text, body, bytes, blob_col, small, count, big, ratio, price FROM keel_pin_types",
                vec![],
            )
            .await
            .unwrap();
        let types: Vec<String> = columns.iter().map(|c| format!("{:?}", c.data_type)).collect();
        assert_eq!(
            types,
            ["Binary", "Str", "Str", "Binary", "Binary", "Int8", "Uint32", "Int64", "Floating64", "Other"]
                .map(|t| format!("DbDataType::{t}"))
        );
        let row = format!("{:?}", rows[0]);
        assert!(
            row.starts_with("[DbValue::Binary([117, 45, 49]), DbValue::Str(\"Ada\"), DbValue::Str(\"hello\")"),
            "{row}"
        );
        assert!(row.ends_with("DbValue::Floating64(0.5), DbValue::DbNull]"), "{row}");
    }

    #[tokio::test]
    async fn a_value_in_an_other_column_fails_the_query() {
        let conn = open().await;
        table(&conn, "keel_pin_other", "price DECIMAL(6,2)").await;
        conn.execute("INSERT INTO keel_pin_other VALUES (1.50)", vec![]).await.unwrap();
        let Err(Error::ValueConversionFailed(message)) = conn.query("SELECT price FROM keel_pin_other", vec![]).await
        else {
            panic!("expected value-conversion-failed");
        };
        assert!(message.starts_with("Cannot convert value"), "{message}");
        assert!(message.ends_with("in column price data type DbDataType::Other"), "{message}");
        // The session is still usable afterwards.
        assert!(conn.query("SELECT 1", vec![]).await.is_ok());
    }

    #[tokio::test]
    async fn a_duplicate_key_is_query_failed_with_the_driver_debug_text() {
        let conn = open().await;
        table(&conn, "keel_pin_dup", "email VARCHAR(50) PRIMARY KEY").await;
        let insert = || conn.execute("INSERT INTO keel_pin_dup VALUES (?)", vec![ParameterValue::Str("a@x".into())]);
        insert().await.unwrap();
        let Err(Error::QueryFailed(message)) = insert().await else { panic!("expected query-failed") };
        assert!(message.starts_with("Server(ServerError { code: 1062, message: \"Duplicate entry 'a@x'"), "{message}");
        assert!(message.ends_with("state: \"23000\" })"), "{message}");
        let Err(Error::QueryFailed(message)) = conn.query("SELEC 1", vec![]).await else {
            panic!("expected query-failed")
        };
        assert!(message.starts_with("Server(ServerError { code: 1064,"), "{message}");
    }

    #[tokio::test]
    async fn results_beyond_the_cap_fail_with_spins_message() {
        let conn = open().await;
        let (_, rows) = conn.query_capped("SELECT REPEAT('x', 50) AS a", vec![], 1000).await.unwrap();
        assert_eq!(rows.len(), 1);
        let Err(Error::Other(message)) = conn.query_capped("SELECT REPEAT('x', 2000) AS a", vec![], 1000).await else {
            panic!("expected other");
        };
        assert_eq!(message, "query result exceeds limit of 1000 bytes");
        assert_eq!(MAX_RESULT_BYTES, 128 * 1024 * 1024);
    }

    #[tokio::test]
    async fn addresses_off_the_allow_list_are_refused_as_spin_refuses_them() {
        let pools = MysqlPools::default();
        let address = "mysql://root:pw@db.example:3306/app";
        let Err(Error::ConnectionFailed(message)) = connect(address, &allow(&["mysql://127.0.0.1:3306"]), &pools).await
        else {
            panic!("expected connection-failed");
        };
        assert_eq!(message, format!("address {address} is not permitted"));
        // A unix socket would bypass the allow list.
        let socket = "mysql://root@127.0.0.1:3306/test?socket=/run/mysqld/mysqld.sock";
        let refused = connect(socket, &allow(&["mysql://127.0.0.1:3306"]), &pools).await;
        assert!(matches!(refused, Err(Error::ConnectionFailed(m)) if m.ends_with("is not permitted")));
    }
}
