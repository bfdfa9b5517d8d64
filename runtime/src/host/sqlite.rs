//! `spin:sqlite/sqlite@3.1.0` on rusqlite: one connection pool per database
//! label, WAL journal, statements run on blocking threads.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

use super::bindings::spin::sqlite::sqlite::{
    self as wit, Error, HostConnection, HostConnectionWithStore, QueryResult, RowResult, Value,
};
use super::{HostState, Spin};
use crate::config::runtime_config::SqliteBackend;

/// Idle connections to one database.
pub struct SqlitePool {
    target: String,
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// Keeps a shared in-memory database alive between checkouts.
    _keepalive: Option<Mutex<rusqlite::Connection>>,
}

const MAX_IDLE: usize = 32;

impl SqlitePool {
    pub fn new(label: &str, backend: &SqliteBackend) -> Result<SqlitePool, String> {
        let (target, memory) = match backend {
            SqliteBackend::File(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                (path.display().to_string(), false)
            }
            SqliteBackend::Memory => {
                // Unique per pool: several apps may share one process.
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (
                    format!("file:keel-{label}-{}-{n}?mode=memory&cache=shared", std::process::id()),
                    true,
                )
            }
        };
        let pool = SqlitePool {
            target,
            idle: Mutex::new(Vec::new()),
            _keepalive: None,
        };
        let first = pool.open().map_err(|e| format!("sqlite database `{label}`: {e}"))?;
        Ok(if memory {
            SqlitePool {
                _keepalive: Some(Mutex::new(first)),
                ..pool
            }
        } else {
            pool.idle.lock().unwrap().push(first);
            pool
        })
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.target)
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            &self.target,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
        )?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    fn checkout(self: &Arc<Self>) -> rusqlite::Result<Pooled> {
        let conn = match self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            Some(conn) => conn,
            None => self.open()?,
        };
        Ok(Pooled {
            conn: Some(conn),
            pool: self.clone(),
        })
    }
}

/// A checked-out connection; returns to the pool on drop, rolled back if a
/// guest left a transaction open.
struct Pooled {
    conn: Option<rusqlite::Connection>,
    pool: Arc<SqlitePool>,
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return;
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

/// The `connection` resource.
pub struct Connection(Arc<Mutex<Pooled>>);

impl Connection {
    /// Run `f` on the connection on a blocking thread.
    async fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> R + Send + 'static,
    ) -> R {
        let conn = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(guard.conn.as_ref().expect("pooled connection present until drop"))
        })
        .await
        .expect("sqlite task does not panic")
    }

    /// Run `f` on the connection for a synchronous call; the call blocks,
    /// so the executor's other tasks move off this thread meanwhile.
    fn with_sync<R>(&self, f: impl FnOnce(&rusqlite::Connection) -> R) -> R {
        super::block_in_place(|| {
            let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
            f(guard.conn.as_ref().expect("pooled connection present until drop"))
        })
    }
}

fn io_error(e: impl std::fmt::Display) -> Error {
    Error::Io(e.to_string())
}

fn run(conn: &rusqlite::Connection, statement: &str, params: Vec<Value>) -> Result<QueryResult, Error> {
    let mut stmt = conn.prepare_cached(statement).map_err(io_error)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let params = params.into_iter().map(|v| match v {
        Value::Integer(i) => rusqlite::types::Value::Integer(i),
        Value::Real(r) => rusqlite::types::Value::Real(r),
        Value::Text(t) => rusqlite::types::Value::Text(t),
        Value::Blob(b) => rusqlite::types::Value::Blob(b),
        Value::Null => rusqlite::types::Value::Null,
    });
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(io_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(io_error)? {
        let values = (0..columns.len())
            .map(|i| {
                row.get_ref(i).map(|v| match v {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(i) => Value::Integer(i),
                    rusqlite::types::ValueRef::Real(r) => Value::Real(r),
                    rusqlite::types::ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    rusqlite::types::ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(io_error)?;
        out.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: out })
}

impl HostState {
    fn open_connection(&mut self, database: &str) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        let Some(pool) = self.services.sqlite.get(database) else {
            return Ok(Err(Error::AccessDenied));
        };
        let conn = match pool.checkout() {
            Ok(c) => c,
            Err(e) => return Ok(Err(io_error(e))),
        };
        Ok(Ok(self.table.push(Connection(Arc::new(Mutex::new(conn))))?))
    }

    fn connection(&self, conn: &Resource<Connection>) -> wasmtime::Result<Connection> {
        Ok(Connection(self.table.get(conn)?.0.clone()))
    }
}

impl wit::Host for HostState {}

impl HostConnection for HostState {
    fn open(&mut self, database: String) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        self.open_connection(&database)
    }

    fn execute(
        &mut self,
        conn: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let conn = self.connection(&conn)?;
        Ok(conn.with_sync(|c| run(c, &statement, parameters)))
    }

    fn last_insert_rowid(&mut self, conn: Resource<Connection>) -> wasmtime::Result<i64> {
        Ok(self.connection(&conn)?.with_sync(|c| c.last_insert_rowid()))
    }

    fn changes(&mut self, conn: Resource<Connection>) -> wasmtime::Result<u64> {
        Ok(self.connection(&conn)?.with_sync(|c| c.changes()))
    }

    fn drop(&mut self, conn: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}

impl<T> HostConnectionWithStore<T> for Spin {
    async fn open_async(
        accessor: &Accessor<T, Self>,
        database: String,
    ) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        accessor.with(|mut access| access.get().open_connection(&database))
    }

    async fn execute_async(
        accessor: &Accessor<T, Self>,
        conn: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<
        Result<(Vec<String>, StreamReader<RowResult>, FutureReader<Result<(), Error>>), Error>,
    > {
        let conn = accessor.with(|mut access| access.get().connection(&conn))?;
        let result = conn.with(move |c| run(c, &statement, parameters)).await;
        let QueryResult { columns, rows } = match result {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        accessor.with(|mut access| {
            let rows = StreamReader::new(&mut access, rows)?;
            let done = FutureReader::new(&mut access, async { wasmtime::error::Ok(Ok(())) })?;
            Ok(Ok((columns, rows, done)))
        })
    }

    async fn last_insert_rowid_async(
        accessor: &Accessor<T, Self>,
        conn: Resource<Connection>,
    ) -> wasmtime::Result<i64> {
        let conn = accessor.with(|mut access| access.get().connection(&conn))?;
        Ok(conn.with(|c| c.last_insert_rowid()).await)
    }

    async fn changes_async(
        accessor: &Accessor<T, Self>,
        conn: Resource<Connection>,
    ) -> wasmtime::Result<u64> {
        let conn = accessor.with(|mut access| access.get().connection(&conn))?;
        Ok(conn.with(|c| c.changes()).await)
    }
}
