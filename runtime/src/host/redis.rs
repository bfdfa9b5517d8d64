//! `spin:redis/redis@3.0.0` (outbound Redis) on the `redis` crate: one
//! multiplexed connection per address, shared by a component's instances,
//! the component's `allowed_outbound_hosts` checked on every open.
//!
//! # Parity with Spin
//!
//! Follows `crates/factor-outbound-redis/src/host.rs`: an address that does
//! not parse or is off the allow list is `invalid-address`. Known
//! differences: Spin opens a new connection per `open` (Keel shares one
//! per address, so a guest's `SELECT` would be seen by other instances),
//! Spin caps `get`/`execute` replies at 128 MiB (Keel has no cap yet), and
//! Keel reports unexpected reply types as `type-error` for every command
//! (Spin only for `sadd`).

use std::collections::HashMap;
use std::sync::Mutex;

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use wasmtime::component::{Accessor, Resource};

use super::bindings::spin::redis::redis::{self as wit, Error, HostConnection, HostConnectionWithStore, RedisParameter, RedisResult};
use super::{HostState, Spin};
use crate::config::outbound::OutboundPolicy;

/// Connections per address.
#[derive(Default)]
pub struct RedisConnections {
    open: Mutex<HashMap<String, MultiplexedConnection>>,
}

/// The `connection` resource.
pub struct RedisConnection(MultiplexedConnection);

fn other(e: redis::RedisError) -> Error {
    match e.kind() {
        redis::ErrorKind::UnexpectedReturnType | redis::ErrorKind::Parse => Error::TypeError,
        _ => Error::Other(e.to_string()),
    }
}

async fn connect(address: &str, policy: &OutboundPolicy, connections: &RedisConnections) -> Result<RedisConnection, Error> {
    let client = redis::Client::open(address).map_err(|_| Error::InvalidAddress)?;
    let (scheme, host, port): (&str, String, u16) = match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) => ("redis", host.clone(), *port),
        redis::ConnectionAddr::TcpTls { host, port, .. } => ("rediss", host.clone(), *port),
        _ => return Err(Error::InvalidAddress),
    };
    // As Spin: an address off the allow list is an invalid address.
    if !policy.allows(scheme, &host, Some(port)) {
        return Err(Error::InvalidAddress);
    }
    if let Some(conn) = connections.open.lock().unwrap_or_else(|p| p.into_inner()).get(address) {
        return Ok(RedisConnection(conn.clone()));
    }
    let conn = client.get_multiplexed_async_connection().await.map_err(other)?;
    connections
        .open
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(address.to_string(), conn.clone());
    Ok(RedisConnection(conn))
}

/// Flatten a reply into Spin's list of results (arrays are spread out).
fn results(value: redis::Value, out: &mut Vec<RedisResult>) {
    use redis::Value as V;
    match value {
        V::Nil => out.push(RedisResult::Nil),
        V::Int(i) => out.push(RedisResult::Int64(i)),
        V::BulkString(bytes) => out.push(RedisResult::Binary(bytes)),
        V::SimpleString(s) => out.push(RedisResult::Status(s)),
        V::Okay => out.push(RedisResult::Status("OK".into())),
        V::Array(items) | V::Set(items) => items.into_iter().for_each(|v| results(v, out)),
        V::Map(pairs) => pairs.into_iter().for_each(|(k, v)| {
            results(k, out);
            results(v, out);
        }),
        V::Double(d) => out.push(RedisResult::Binary(d.to_string().into_bytes())),
        V::Boolean(b) => out.push(RedisResult::Int64(i64::from(b))),
        V::VerbatimString { text, .. } => out.push(RedisResult::Binary(text.into_bytes())),
        V::BigNumber(digits) => out.push(RedisResult::Binary(digits)),
        V::Attribute { data, .. } => results(*data, out),
        V::Push { data, .. } => data.into_iter().for_each(|v| results(v, out)),
        // Server errors inside replies, and kinds newer than this code.
        other => out.push(RedisResult::Status(format!("{other:?}"))),
    }
}

impl HostState {
    fn redis(&self, conn: &Resource<RedisConnection>) -> wasmtime::Result<MultiplexedConnection> {
        Ok(self.table.get(conn)?.0.clone())
    }
}

impl wit::Host for HostState {}

impl HostConnection for HostState {
    fn drop(&mut self, conn: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}

/// Run one command on the connection behind `conn`.
async fn on<T, R>(
    accessor: &Accessor<T, Spin>,
    conn: &Resource<RedisConnection>,
    command: impl AsyncFnOnce(MultiplexedConnection) -> redis::RedisResult<R>,
) -> wasmtime::Result<Result<R, Error>> {
    let connection = accessor.with(|mut access| access.get().redis(conn))?;
    Ok(command(connection).await.map_err(other))
}

impl<T> HostConnectionWithStore<T> for Spin {
    async fn open(accessor: &Accessor<T, Self>, address: String) -> wasmtime::Result<Result<Resource<RedisConnection>, Error>> {
        let (policy, connections) =
            accessor.with(|mut access| (access.get().services.outbound.clone(), access.get().services.redis.clone()));
        match connect(&address, &policy, &connections).await {
            Ok(conn) => accessor.with(|mut access| Ok(Ok(access.get().table.push(conn)?))),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn publish(accessor: &Accessor<T, Self>, conn: Resource<RedisConnection>, channel: String, payload: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        on(accessor, &conn, async move |mut c| c.publish(channel, payload).await).await
    }

    async fn get(accessor: &Accessor<T, Self>, conn: Resource<RedisConnection>, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        on(accessor, &conn, async move |mut c| c.get(key).await).await
    }

    async fn set(accessor: &Accessor<T, Self>, conn: Resource<RedisConnection>, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        on(accessor, &conn, async move |mut c| c.set(key, value).await).await
    }

    async fn incr(accessor: &Accessor<T, Self>, conn: Resource<RedisConnection>, key: String) -> wasmtime::Result<Result<i64, Error>> {
        on(accessor, &conn, async move |mut c| c.incr(key, 1).await).await
    }

    async fn del(accessor: &Accessor<T, Self>, conn: Resource<RedisConnection>, keys: Vec<String>) -> wasmtime::Result<Result<u32, Error>> {
        on(accessor, &conn, async move |mut c| c.del(keys).await).await
    }

    async fn sadd(accessor: &Accessor<T, Self>, conn: Resource<RedisConnection>, key: String, values: Vec<String>) -> wasmtime::Result<Result<u32, Error>> {
        on(accessor, &conn, async move |mut c| c.sadd(key, values).await).await
    }

    async fn smembers(accessor: &Accessor<T, Self>, conn: Resource<RedisConnection>, key: String) -> wasmtime::Result<Result<Vec<String>, Error>> {
        on(accessor, &conn, async move |mut c| c.smembers(key).await).await
    }

    async fn srem(accessor: &Accessor<T, Self>, conn: Resource<RedisConnection>, key: String, values: Vec<String>) -> wasmtime::Result<Result<u32, Error>> {
        on(accessor, &conn, async move |mut c| c.srem(key, values).await).await
    }

    async fn execute(
        accessor: &Accessor<T, Self>,
        conn: Resource<RedisConnection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> wasmtime::Result<Result<Vec<RedisResult>, Error>> {
        on(accessor, &conn, async move |mut c| {
            let mut cmd = redis::cmd(&command);
            for argument in arguments {
                match argument {
                    RedisParameter::Int64(i) => cmd.arg(i),
                    RedisParameter::Binary(b) => cmd.arg(b),
                };
            }
            let value: redis::Value = cmd.query_async(&mut c).await?;
            let mut out = Vec::new();
            results(value, &mut out);
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn addresses_off_the_allow_list_are_invalid_addresses_as_in_spin() {
        let policy = OutboundPolicy::new(&["redis://127.0.0.1:6379".to_string()], |t| Ok(t.into())).unwrap();
        let connections = RedisConnections::default();
        for address in ["redis://cache.example:6379", "redis://127.0.0.1:6380", "unix:///run/redis.sock", "not a url"] {
            let refused = connect(address, &policy, &connections).await;
            assert!(matches!(refused, Err(Error::InvalidAddress)), "{address}");
        }
    }
}
