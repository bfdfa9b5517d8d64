//! `spin:mysql/mysql@3.0.0` on mysql_async: a connection pool per address
//! (sessions are reset when they return to it), the component's
//! `allowed_outbound_hosts` checked on every open. Each `connection`
//! resource is one session, so session state such as `LAST_INSERT_ID()`
//! and open transactions belongs to it alone.

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

/// A pool per connection address, shared by a component's instances.
#[derive(Default)]
pub struct MysqlPools {
    pools: Mutex<HashMap<String, mysql_async::Pool>>,
}

/// The `connection` resource: one session checked out of the pool.
pub struct MysqlConnection(Arc<tokio::sync::Mutex<mysql_async::Conn>>);

async fn connect(address: &str, policy: &OutboundPolicy, pools: &MysqlPools) -> Result<MysqlConnection, Error> {
    let opts = mysql_async::Opts::from_url(address).map_err(|e| Error::ConnectionFailed(format!("invalid address: {e}")))?;
    let (host, port) = (opts.ip_or_hostname().to_string(), opts.tcp_port());
    if !policy.allows("mysql", &host, Some(port)) {
        return Err(Error::ConnectionFailed(format!(
            "mysql://{host}:{port} is not in the component's allowed_outbound_hosts"
        )));
    }
    let pool = pools
        .pools
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(address.to_string())
        .or_insert_with(|| mysql_async::Pool::new(opts))
        .clone();
    let conn = pool.get_conn().await.map_err(|e| Error::ConnectionFailed(e.to_string()))?;
    Ok(MysqlConnection(Arc::new(tokio::sync::Mutex::new(conn))))
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

/// The binary character set: the column holds bytes, not text.
const BINARY_CHARSET: u16 = 63;

fn data_type(column: &mysql_async::Column) -> DbDataType {
    let unsigned = column.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    match (column.column_type(), unsigned) {
        (ColumnType::MYSQL_TYPE_TINY, false) => DbDataType::Int8,
        (ColumnType::MYSQL_TYPE_TINY, true) => DbDataType::Uint8,
        (ColumnType::MYSQL_TYPE_SHORT | ColumnType::MYSQL_TYPE_YEAR, false) => DbDataType::Int16,
        (ColumnType::MYSQL_TYPE_SHORT | ColumnType::MYSQL_TYPE_YEAR, true) => DbDataType::Uint16,
        (ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG, false) => DbDataType::Int32,
        (ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG, true) => DbDataType::Uint32,
        (ColumnType::MYSQL_TYPE_LONGLONG, false) => DbDataType::Int64,
        (ColumnType::MYSQL_TYPE_LONGLONG, true) => DbDataType::Uint64,
        (ColumnType::MYSQL_TYPE_FLOAT, _) => DbDataType::Floating32,
        (ColumnType::MYSQL_TYPE_DOUBLE, _) => DbDataType::Floating64,
        (
            ColumnType::MYSQL_TYPE_TINY_BLOB
            | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
            | ColumnType::MYSQL_TYPE_LONG_BLOB
            | ColumnType::MYSQL_TYPE_BLOB
            | ColumnType::MYSQL_TYPE_STRING
            | ColumnType::MYSQL_TYPE_VAR_STRING
            | ColumnType::MYSQL_TYPE_VARCHAR,
            _,
        ) if column.character_set() == BINARY_CHARSET => DbDataType::Binary,
        (
            ColumnType::MYSQL_TYPE_TINY_BLOB
            | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
            | ColumnType::MYSQL_TYPE_LONG_BLOB
            | ColumnType::MYSQL_TYPE_BLOB
            | ColumnType::MYSQL_TYPE_STRING
            | ColumnType::MYSQL_TYPE_VAR_STRING
            | ColumnType::MYSQL_TYPE_VARCHAR
            | ColumnType::MYSQL_TYPE_DECIMAL
            | ColumnType::MYSQL_TYPE_NEWDECIMAL
            | ColumnType::MYSQL_TYPE_JSON
            | ColumnType::MYSQL_TYPE_ENUM
            | ColumnType::MYSQL_TYPE_SET
            | ColumnType::MYSQL_TYPE_DATE
            | ColumnType::MYSQL_TYPE_TIME
            | ColumnType::MYSQL_TYPE_DATETIME
            | ColumnType::MYSQL_TYPE_TIMESTAMP,
            _,
        ) => DbDataType::Str,
        _ => DbDataType::Other,
    }
}

fn value(value: mysql_async::Value, ty: &DbDataType) -> Result<DbValue, Error> {
    use mysql_async::Value as V;
    let narrow = |what: &str| Error::ValueConversionFailed(format!("value out of range for {what}"));
    Ok(match (value, ty) {
        (V::NULL, _) => DbValue::DbNull,
        (V::Int(i), DbDataType::Int8) => DbValue::Int8(i.try_into().map_err(|_| narrow("int8"))?),
        (V::Int(i), DbDataType::Int16) => DbValue::Int16(i.try_into().map_err(|_| narrow("int16"))?),
        (V::Int(i), DbDataType::Int32) => DbValue::Int32(i.try_into().map_err(|_| narrow("int32"))?),
        (V::Int(i), DbDataType::Uint8) => DbValue::Uint8(i.try_into().map_err(|_| narrow("uint8"))?),
        (V::Int(i), DbDataType::Uint16) => DbValue::Uint16(i.try_into().map_err(|_| narrow("uint16"))?),
        (V::Int(i), DbDataType::Uint32) => DbValue::Uint32(i.try_into().map_err(|_| narrow("uint32"))?),
        (V::Int(i), DbDataType::Uint64) => DbValue::Uint64(i.try_into().map_err(|_| narrow("uint64"))?),
        (V::Int(i), _) => DbValue::Int64(i),
        (V::UInt(u), _) => DbValue::Uint64(u),
        (V::Float(f), _) => DbValue::Floating32(f),
        (V::Double(d), _) => DbValue::Floating64(d),
        (V::Bytes(b), DbDataType::Binary | DbDataType::Other) => DbValue::Binary(b),
        (V::Bytes(b), _) => match String::from_utf8(b) {
            Ok(s) => DbValue::Str(s),
            Err(e) => DbValue::Binary(e.into_bytes()),
        },
        (date @ V::Date(..), _) | (date @ V::Time(..), _) => {
            DbValue::Str(date.as_sql(true).trim_matches('\'').to_string())
        }
    })
}

/// Server errors read as the MySQL client prints them:
/// `ERROR 1062 (23000): Duplicate entry …`.
fn query_failed(e: mysql_async::Error) -> Error {
    match e {
        mysql_async::Error::Server(server) => {
            Error::QueryFailed(format!("ERROR {} ({}): {}", server.code, server.state, server.message))
        }
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => Error::ConnectionFailed(e.to_string()),
        other => Error::QueryFailed(other.to_string()),
    }
}

type QueryOutput = (Vec<Column>, Vec<Vec<DbValue>>);

impl MysqlConnection {
    async fn query(&self, statement: &str, params: Vec<ParameterValue>) -> Result<QueryOutput, Error> {
        let mut conn = self.0.lock().await;
        let params = mysql_async::Params::Positional(params.into_iter().map(param).collect());
        let mut result = conn.exec_iter(statement, params).await.map_err(query_failed)?;
        let columns: Vec<(Column, DbDataType)> = result
            .columns_ref()
            .iter()
            .map(|c| {
                let ty = data_type(c);
                (Column { name: c.name_str().into_owned(), data_type: ty }, ty)
            })
            .collect();
        let rows: Vec<mysql_async::Row> = result.collect().await.map_err(query_failed)?;
        let rows = rows
            .into_iter()
            .map(|row| {
                row.unwrap()
                    .into_iter()
                    .zip(&columns)
                    .map(|(v, (_, ty))| value(v, ty))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((columns.into_iter().map(|(c, _)| c).collect(), rows))
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

impl<T> HostConnectionWithStore<T> for Spin {
    async fn open(accessor: &Accessor<T, Self>, address: String) -> wasmtime::Result<Result<Resource<MysqlConnection>, Error>> {
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
    ) -> wasmtime::Result<Result<(Vec<Column>, StreamReader<Vec<DbValue>>, FutureReader<Result<(), Error>>), Error>> {
        let conn = accessor.with(|mut access| access.get().mysql(&conn))?;
        let (columns, rows) = match conn.query(&statement, params).await {
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
        let conn = accessor.with(|mut access| access.get().mysql(&conn))?;
        Ok(conn.execute(&statement, params).await)
    }
}
