//! `spin:redis/redis@3.0.0` (outbound Redis) on the `redis` crate, the
//! component's `allowed_outbound_hosts` checked on every open.
//!
//! # Parity with Spin
//!
//! Follows `crates/factor-outbound-redis/src/host.rs`:
//! - An address that does not parse or is off the allow list is
//!   `invalid-address`; a failed connect is `other` with the driver's text.
//! - Each `connection` is the guest's alone, as Spin opens one per `open`:
//!   commands of concurrent requests never interleave, and nothing a guest
//!   does to its session (`SELECT`, `MULTI`, `WATCH`, `CLIENT …`) reaches
//!   another. Keel keeps a connection for reuse when its guest ran only
//!   commands that leave no session state and it did not fail, and closes
//!   it otherwise.
//! - At most 1024 connections are open per instance; the next `open` is
//!   `too-many-connections`.
//! - `get` and `execute` results over 128 MiB (the bytes of the values) are
//!   `other("query result exceeds limit of 134217728 bytes")`.
//! - `execute` flattens arrays and sets; map, attribute, verbatim-string
//!   and push replies are `other` with Spin's texts; only `sadd` reports
//!   `type-error`; other failures are `other` with the driver's text.
//!
//! Difference: `rediss://` (TLS) is `invalid-address` (Keel's Redis client
//! is built without TLS); Spin connects with the system's roots.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use wasmtime::component::{Accessor, Resource};

use super::bindings::spin::redis::redis::{
    self as wit, Error, HostConnection, HostConnectionWithStore, RedisParameter, RedisResult,
};
use super::{HostState, Spin};
use crate::config::outbound::OutboundPolicy;
use crate::telemetry::{Call, HostCall};

/// The Redis capability (`spin:redis`): each component
/// gets its own pools; every address is checked against its allow list.
pub(crate) struct Redis;

impl super::Capability for Redis {
    type App = ();
    type Grant = Arc<RedisConnections>;

    fn link(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
        super::bindings::spin::redis::redis::add_to_linker::<_, Spin>(linker, super::this)
    }

    fn grant(_: &(), _: &crate::config::manifest::Component) -> Self::Grant {
        Arc::default()
    }
}

/// Idle connections per address, each used by one guest connection at a time.
#[derive(Default)]
pub struct RedisConnections {
    idle: Mutex<HashMap<String, Vec<MultiplexedConnection>>>,
}

/// Idle connections kept per address.
const MAX_IDLE: usize = 16;

/// The most connections one instance may hold open at once (Spin's limit).
pub const MAX_CONNECTIONS_PER_INSTANCE: usize = 1024;

/// What one `get` or `execute` may buffer (Spin's `MAX_HOST_BUFFERED_BYTES`).
const MAX_RESULT_BYTES: usize = super::mysql::MAX_RESULT_BYTES;

/// Commands that leave state on the session: a connection that ran one is
/// closed, not reused.
const SESSION_COMMANDS: &[&str] = &[
    "SELECT",
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "UNWATCH",
    "CLIENT",
    "AUTH",
    "HELLO",
    "RESET",
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "SSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE",
    "SUNSUBSCRIBE",
    "MONITOR",
    "READONLY",
    "READWRITE",
    "ASKING",
    "QUIT",
    "OBJECT",
    "CONFIG",
];

/// The `connection` resource.
pub struct RedisConnection(Arc<Session>);

/// A server connection one guest connection owns until it is dropped (and
/// its calls in flight have finished).
struct Session {
    address: String,
    conn: MultiplexedConnection,
    /// Whether it must be closed rather than reused: the guest ran a
    /// [`SESSION_COMMANDS`] command on it, or the connection failed.
    discard: AtomicBool,
    pool: Arc<RedisConnections>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.discard.load(Ordering::Relaxed) {
            return;
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
        let idle = idle.entry(self.address.clone()).or_default();
        if idle.len() < MAX_IDLE {
            idle.push(self.conn.clone());
        }
    }
}

fn other(e: redis::RedisError) -> Error {
    Error::Other(e.to_string())
}

fn too_large() -> Error {
    Error::Other(format!("query result exceeds limit of {MAX_RESULT_BYTES} bytes"))
}

async fn connect(
    address: &str,
    policy: &OutboundPolicy,
    pool: &Arc<RedisConnections>,
) -> Result<RedisConnection, Error> {
    let client = redis::Client::open(address).map_err(|_| Error::InvalidAddress)?;
    let (host, port) = match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
        _ => return Err(Error::InvalidAddress),
    };
    // As Spin: an address off the allow list is an invalid address.
    if !policy.allows("redis", &host, Some(port)) {
        return Err(Error::InvalidAddress);
    }
    let reused = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).get_mut(address).and_then(Vec::pop);
    let conn = match reused {
        Some(conn) => conn,
        None => client.get_multiplexed_async_connection().await.map_err(other)?,
    };
    Ok(RedisConnection(Arc::new(Session {
        address: address.to_string(),
        conn,
        discard: AtomicBool::new(false),
        pool: pool.clone(),
    })))
}

impl Session {
    /// `result`, noting a failed connection so it is not reused (a
    /// restarted server must not leave broken connections in the pool).
    fn checked<R>(&self, result: redis::RedisResult<R>) -> redis::RedisResult<R> {
        if let Err(e) = &result
            && (e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error())
        {
            self.discard.store(true, Ordering::Relaxed);
        }
        result
    }

    /// Run `command` as `execute` does, Spin's way.
    async fn execute(&self, command: &str, arguments: Vec<RedisParameter>) -> Result<Vec<RedisResult>, Error> {
        if SESSION_COMMANDS.iter().any(|c| c.eq_ignore_ascii_case(command.trim())) {
            self.discard.store(true, Ordering::Relaxed);
        }
        let mut cmd = redis::cmd(command);
        for argument in arguments {
            match argument {
                RedisParameter::Int64(i) => cmd.arg(i),
                RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        let value: redis::Value = self.checked(cmd.query_async(&mut self.conn.clone()).await).map_err(other)?;
        let mut out = Vec::new();
        results(value, &mut out)?;
        let bytes: usize = out
            .iter()
            .map(|r| match r {
                RedisResult::Binary(b) => b.len(),
                RedisResult::Status(s) => s.len(),
                RedisResult::Int64(_) | RedisResult::Nil => 8,
            })
            .sum();
        if bytes > MAX_RESULT_BYTES {
            return Err(too_large());
        }
        Ok(out)
    }
}

/// Flatten a reply into Spin's list of results (arrays are spread out);
/// the reply kinds Spin refuses are `other` with Spin's texts.
fn results(value: redis::Value, out: &mut Vec<RedisResult>) -> Result<(), Error> {
    use redis::Value as V;
    let refused = |what: &str| Err(Error::Other(what.to_string()));
    match value {
        V::Nil => out.push(RedisResult::Nil),
        V::Int(i) => out.push(RedisResult::Int64(i)),
        V::BulkString(bytes) => out.push(RedisResult::Binary(bytes)),
        V::SimpleString(s) => out.push(RedisResult::Status(s)),
        V::Okay => out.push(RedisResult::Status("OK".into())),
        V::Array(items) | V::Set(items) => items.into_iter().try_for_each(|v| results(v, out))?,
        V::Double(d) => out.push(RedisResult::Binary(d.to_string().into_bytes())),
        V::Boolean(b) => out.push(RedisResult::Int64(i64::from(b))),
        V::BigNumber(digits) => out.push(RedisResult::Binary(digits)),
        V::Map(_) => return refused("Redis Map type is not supported"),
        V::Attribute { .. } => return refused("Redis Attribute type is not supported"),
        V::VerbatimString { .. } => return refused("Redis string with format attribute is not supported"),
        V::Push { .. } => return refused("Redis Pub/Sub types are not supported"),
        V::ServerError(e) => return Err(other(e.into())),
        // Kinds newer than this code.
        other => return Err(Error::Other(format!("unsupported Redis reply {other:?}"))),
    }
    Ok(())
}

impl HostState {
    fn redis(&self, conn: &Resource<RedisConnection>) -> wasmtime::Result<Arc<Session>> {
        Ok(self.table.get(conn)?.0.clone())
    }
}

impl wit::Host for HostState {}

impl HostConnection for HostState {
    fn drop(&mut self, conn: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        self.redis_connections -= 1;
        Ok(())
    }
}

/// Run one command on the connection behind `conn`.
async fn on<T, R>(
    accessor: &Accessor<T, Spin>,
    conn: &Resource<RedisConnection>,
    name: &'static str,
    command: impl AsyncFnOnce(MultiplexedConnection) -> redis::RedisResult<R>,
) -> wasmtime::Result<Result<R, Error>> {
    let (session, call) = session(accessor, conn, name)?;
    let result = session.checked(command(session.conn.clone()).await).map_err(other);
    finish(call, &result);
    Ok(result)
}

/// The session of `conn`, and the telemetry of the command `name` on it.
fn session<T>(
    accessor: &Accessor<T, Spin>,
    conn: &Resource<RedisConnection>,
    name: &'static str,
) -> wasmtime::Result<(Arc<Session>, HostCall)> {
    accessor.with(|mut access| {
        let state = access.get();
        Ok((state.redis(conn)?, state.host_call(Call::Redis { command: name })))
    })
}

/// End a command's telemetry (an error by its kind only).
fn finish<R>(call: HostCall, result: &Result<R, Error>) {
    call.finish(result.as_ref().err().map(|_| "error"), None);
}

impl<T> HostConnectionWithStore<T> for Spin {
    async fn open(
        accessor: &Accessor<T, Self>,
        address: String,
    ) -> wasmtime::Result<Result<Resource<RedisConnection>, Error>> {
        let (policy, pool, open) = accessor.with(|mut access| {
            let state = access.get();
            (state.services.outbound.clone(), state.services.redis.clone(), state.redis_connections)
        });
        if open >= MAX_CONNECTIONS_PER_INSTANCE {
            return Ok(Err(Error::TooManyConnections));
        }
        match connect(&address, &policy, &pool).await {
            Ok(conn) => accessor.with(|mut access| {
                let state = access.get();
                let conn = state.table.push(conn)?;
                state.redis_connections += 1;
                Ok(Ok(conn))
            }),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn publish(
        accessor: &Accessor<T, Self>,
        conn: Resource<RedisConnection>,
        channel: String,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        on(accessor, &conn, "publish", async move |mut c| c.publish(channel, payload).await).await
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        conn: Resource<RedisConnection>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let value = on(accessor, &conn, "get", async move |mut c| c.get::<_, Option<Vec<u8>>>(key).await).await?;
        Ok(value.and_then(|v| match v {
            Some(v) if v.len() > MAX_RESULT_BYTES => Err(too_large()),
            v => Ok(v),
        }))
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        conn: Resource<RedisConnection>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        on(accessor, &conn, "set", async move |mut c| c.set(key, value).await).await
    }

    async fn incr(
        accessor: &Accessor<T, Self>,
        conn: Resource<RedisConnection>,
        key: String,
    ) -> wasmtime::Result<Result<i64, Error>> {
        on(accessor, &conn, "incr", async move |mut c| c.incr(key, 1).await).await
    }

    async fn del(
        accessor: &Accessor<T, Self>,
        conn: Resource<RedisConnection>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        on(accessor, &conn, "del", async move |mut c| c.del(keys).await).await
    }

    async fn sadd(
        accessor: &Accessor<T, Self>,
        conn: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let (session, call) = session(accessor, &conn, "sadd")?;
        // As Spin: only `sadd` tells a wrong-type key apart.
        let result = session.checked(session.conn.clone().sadd(key, values).await).map_err(|e| {
            if e.code() == Some("WRONGTYPE") || e.kind() == redis::ErrorKind::UnexpectedReturnType {
                Error::TypeError
            } else {
                other(e)
            }
        });
        finish(call, &result);
        Ok(result)
    }

    async fn smembers(
        accessor: &Accessor<T, Self>,
        conn: Resource<RedisConnection>,
        key: String,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        on(accessor, &conn, "smembers", async move |mut c| c.smembers(key).await).await
    }

    async fn srem(
        accessor: &Accessor<T, Self>,
        conn: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        on(accessor, &conn, "srem", async move |mut c| c.srem(key, values).await).await
    }

    async fn execute(
        accessor: &Accessor<T, Self>,
        conn: Resource<RedisConnection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> wasmtime::Result<Result<Vec<RedisResult>, Error>> {
        let (session, call) = session(accessor, &conn, "execute")?;
        let result = session.execute(&command, arguments).await;
        finish(call, &result);
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> RedisParameter {
        RedisParameter::Binary(s.as_bytes().to_vec())
    }

    /// The local test server (`KEEL_TEST_REDIS`), allowed, with a pool.
    fn local() -> (String, OutboundPolicy, Arc<RedisConnections>) {
        let host = std::env::var("KEEL_TEST_REDIS").unwrap_or_else(|_| "127.0.0.1:6379".into());
        let policy = OutboundPolicy::new(&[format!("redis://{host}")], |t| Ok(t.into())).unwrap();
        (format!("redis://{host}"), policy, Arc::default())
    }

    #[tokio::test]
    async fn addresses_off_the_allow_list_are_invalid_addresses_as_in_spin() {
        let policy = OutboundPolicy::new(&["redis://127.0.0.1:6379".to_string()], |t| Ok(t.into())).unwrap();
        let connections = Arc::default();
        for address in ["redis://cache.example:6379", "redis://127.0.0.1:6380", "unix:///run/redis.sock", "not a url"] {
            let refused = connect(address, &policy, &connections).await;
            assert!(matches!(refused, Err(Error::InvalidAddress)), "{address}");
        }
    }

    #[tokio::test]
    async fn a_guests_session_state_never_reaches_another_connection() {
        let (address, policy, pool) = local();
        let key = format!("keel-session-{}", std::process::id());
        let first = connect(&address, &policy, &pool).await.unwrap();
        first.0.execute("SELECT", vec![RedisParameter::Int64(13)]).await.unwrap();
        first.0.execute("SET", vec![bytes(&key), bytes("in-db-13")]).await.unwrap();
        // A concurrent connection of another request is on database 0.
        let second = connect(&address, &policy, &pool).await.unwrap();
        assert_eq!(format!("{:?}", second.0.execute("GET", vec![bytes(&key)]).await), "Ok([RedisResult::Nil])");
        drop(first);
        drop(second);
        // Reuse: the connection that selected database 13 was closed; the
        // clean one comes back, still on database 0.
        let third = connect(&address, &policy, &pool).await.unwrap();
        assert_eq!(format!("{:?}", third.0.execute("GET", vec![bytes(&key)]).await), "Ok([RedisResult::Nil])");
        third.0.execute("SELECT", vec![RedisParameter::Int64(13)]).await.unwrap();
        third.0.execute("DEL", vec![bytes(&key)]).await.unwrap();
    }

    #[tokio::test]
    async fn a_connection_that_failed_is_not_reused() {
        let (address, policy, pool) = local();
        let idle = |pool: &Arc<RedisConnections>| pool.idle.lock().unwrap().get(&address).map_or(0, Vec::len);
        drop(connect(&address, &policy, &pool).await.unwrap());
        assert_eq!(idle(&pool), 1, "a clean connection goes back to the pool");
        let conn = connect(&address, &policy, &pool).await.unwrap();
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "the server went away");
        assert!(conn.0.checked::<()>(Err(refused.into())).is_err());
        drop(conn);
        assert_eq!(idle(&pool), 0, "a connection whose server went away must not be handed out again");
    }

    #[tokio::test]
    async fn replies_map_as_in_spin() {
        let (address, policy, pool) = local();
        let conn = connect(&address, &policy, &pool).await.unwrap();
        let key = format!("keel-replies-{}", std::process::id());
        let run = async |command: &str, args: Vec<RedisParameter>| format!("{:?}", conn.0.execute(command, args).await);
        assert_eq!(run("SET", vec![bytes(&key), bytes("v")]).await, r#"Ok([RedisResult::Status("OK")])"#);
        assert_eq!(
            run("MGET", vec![bytes(&key), bytes("keel-missing")]).await,
            "Ok([RedisResult::Binary([118]), RedisResult::Nil])"
        );
        assert_eq!(
            run("INCR", vec![bytes(&key)]).await,
            r#"Err(Error::Other("ResponseError: value is not an integer or out of range"))"#
        );
        run("DEL", vec![bytes(&key)]).await;
    }
}
