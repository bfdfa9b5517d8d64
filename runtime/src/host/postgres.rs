//! `spin:postgres/postgres@4.2.0` on tokio-postgres: a client pool per
//! address, the component's `allowed_outbound_hosts` checked on every open.
//!
//! Values map to the WIT variants as Spin maps them; a column type with no
//! WIT variant comes back as `unsupported(raw bytes)`.
//!
//! TLS as in Spin: `sslmode=disable` connects in plain text; otherwise
//! (`prefer`, the default, and `require`) the client asks for TLS, and
//! `prefer` falls back to plain text only when the server offers no TLS.
//! Server certificates are always verified, against the Mozilla roots
//! (webpki-roots) plus the PEM CA root a `connection-builder` was given.
//!
//! # Parity with Spin
//!
//! Follows `crates/factor-outbound-pg/src/{host,allowed_hosts,client,types}.rs`:
//! - An address off the allow list is `connection-failed("address
//!   postgres://HOST[:PORT] is not permitted")` (the port only when the
//!   address gives one), a Unix socket `connection-failed("Unix sockets are
//!   not supported on WebAssembly")`.
//! - A failed statement is `query-failed`: a server error as `db-error` with
//!   the driver error's `Debug` text in `as-text` and Spin's `extras` (column,
//!   constraint, routine, hint, table, datatype, schema, file, line, where),
//!   any other failure (including a value the driver cannot convert) as
//!   `text` with its `Debug` text.
//! - Types map as Spin maps them; `"char"`, `name`, `json` and other types
//!   without a WIT variant are `other(type name)` with `unsupported(raw
//!   bytes)` values. Decimal parameters must fit exactly (no rounding).
//! - A `query` result over 128 MiB (counted as Spin counts it) is
//!   `query-failed(text("query result exceeds limit of 134217728 bytes"))`.
//! - A pooled client is reset before reuse with the statements of
//!   deadpool's `RecyclingMethod::Clean`, as Spin's pool does ([`CLEAN`]),
//!   so no `SET`, `search_path`, advisory lock, prepared statement or
//!   `LISTEN` leaks to the next borrower.
//!
//! Keel also checks every `hostaddr`, which would otherwise connect to an IP
//! the allow list never saw, and bounds the clients in use to one address
//! ([`MAX_IN_USE_PER_ADDRESS`]); a connection that finds none free within
//! [`CHECKOUT_TIMEOUT`] fails with `connection-failed`. Other differences,
//! on purpose: `timestamptz` is `timestamp` (Unix seconds), where Spin
//! declares `datetime` but cannot decode the values; an empty result still
//! names its columns (Spin's has none); `query-async` buffers the result and
//! reports an error as the call's (Spin streams it and sends a later error
//! through the future).

// The error type is the one Spin's WIT defines (a `db-error` record inside);
// the host returns it as it is.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::error::Error as StdError;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};
use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

use super::bindings::spin::postgres::postgres::{
    self as wit, Column, DbDataType, DbError, DbValue, Error, HostConnection, HostConnectionBuilder,
    HostConnectionBuilderWithStore, HostConnectionWithStore, Interval, ParameterValue, QueryError, RangeBoundKind,
    RowSet,
};
use super::{HostState, Spin};
use crate::config::outbound::OutboundPolicy;
use crate::telemetry::{Call, HostCall};

/// The PostgreSQL capability (`spin:postgres`): each component
/// gets its own pools; every address is checked against its allow list.
pub(crate) struct Postgres;

impl super::Capability for Postgres {
    type App = ();
    type Grant = Arc<PostgresPools>;

    fn link(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
        super::bindings::spin::postgres::postgres::add_to_linker::<_, Spin>(linker, super::this)
    }

    fn grant(_: &(), _: &crate::config::manifest::Component) -> Self::Grant {
        Arc::default()
    }
}

/// Idle clients per connection address, shared by a component's instances.
pub struct PostgresPools {
    idle: Mutex<HashMap<String, Vec<tokio_postgres::Client>>>,
    /// Permits for clients in use, per pool key.
    open: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    max_in_use: usize,
    checkout_timeout: std::time::Duration,
}

impl Default for PostgresPools {
    fn default() -> Self {
        PostgresPools::with_limits(MAX_IN_USE_PER_ADDRESS, CHECKOUT_TIMEOUT)
    }
}

const MAX_IDLE_PER_ADDRESS: usize = 16;

/// The most clients in use to one address (and CA root) at once; with the
/// idle ones at most 80 are open, under PostgreSQL's default
/// `max_connections` of 100.
pub const MAX_IN_USE_PER_ADDRESS: usize = 64;

/// How long opening a connection waits for a client to become free.
pub const CHECKOUT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What deadpool-postgres runs on a pooled client before reusing it
/// (`RecyclingMethod::Clean`), which is what Spin's pool uses.
pub const CLEAN: &str = "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; \
                         SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES;";

impl PostgresPools {
    fn with_limits(max_in_use: usize, checkout_timeout: std::time::Duration) -> Self {
        PostgresPools { idle: Default::default(), open: Default::default(), max_in_use, checkout_timeout }
    }

    /// A permit to use one more client of `pool_key`, waiting for one to be
    /// returned if all are in use.
    async fn permit(&self, pool_key: &str) -> Result<tokio::sync::OwnedSemaphorePermit, Error> {
        let permits = {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            open.entry(pool_key.to_string())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.max_in_use)))
                .clone()
        };
        tokio::time::timeout(self.checkout_timeout, permits.acquire_owned()).await.ok().and_then(Result::ok).ok_or_else(
            || {
                Error::ConnectionFailed(format!(
                    "no connection became free within {}s ({} are in use to this address)",
                    self.checkout_timeout.as_secs_f32(),
                    self.max_in_use
                ))
            },
        )
    }

    /// A reset idle client, if one is left; a client that fails its reset
    /// is closed.
    async fn reuse(&self, pool_key: &str) -> Option<tokio_postgres::Client> {
        loop {
            let client = self.idle.lock().unwrap_or_else(|p| p.into_inner()).get_mut(pool_key).and_then(Vec::pop)?;
            if !client.is_closed() && client.batch_execute(CLEAN).await.is_ok() {
                return Some(client);
            }
        }
    }
}

/// The `connection` resource: a client checked out of the pool.
pub struct PgConnection {
    client: Option<Arc<tokio_postgres::Client>>,
    /// The pool it returns to: its address and CA root.
    pool_key: String,
    pools: Arc<PostgresPools>,
    /// The guest began a transaction: never hand this client to anyone else.
    tainted: Arc<std::sync::atomic::AtomicBool>,
    /// Counts this client against [`MAX_IN_USE_PER_ADDRESS`]; released after
    /// the client is back in the idle list or closed.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for PgConnection {
    fn drop(&mut self) {
        let Some(client) = self.client.take().and_then(Arc::into_inner) else { return };
        if client.is_closed() || self.tainted.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut idle = self.pools.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(self.pool_key.clone()).or_default();
        if list.len() < MAX_IDLE_PER_ADDRESS {
            list.push(client);
        }
    }
}

/// The TLS client of connections without their own CA root, built once.
fn default_tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, Error> {
    static DEFAULT: std::sync::OnceLock<Result<tokio_postgres_rustls::MakeRustlsConnect, String>> =
        std::sync::OnceLock::new();
    DEFAULT.get_or_init(|| tls_connector(None).map_err(|e| e.to_string())).clone().map_err(Error::ConnectionFailed)
}

/// A TLS client trusting the Mozilla roots and, if given, the PEM
/// certificates in `ca_root`.
fn tls_connector(ca_root: Option<&str>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = ca_root {
        let bad_root = |e: &dyn std::fmt::Display| Error::ConnectionFailed(format!("invalid CA root certificate: {e}"));
        let certificates =
            CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<Vec<_>, _>>().map_err(|e| bad_root(&e))?;
        if certificates.is_empty() {
            return Err(bad_root(&"no `-----BEGIN CERTIFICATE-----` block"));
        }
        for certificate in certificates {
            roots.add(certificate).map_err(|e| bad_root(&e))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::ConnectionFailed(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The `connection-builder` resource.
pub struct PgConnectionBuilder {
    address: String,
    ca_root: Option<String>,
}

fn query_failed(e: tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => {
            let line = db.line().map(|l| l.to_string());
            let position = [
                ("column", db.column()),
                ("constraint", db.constraint()),
                ("routine", db.routine()),
                ("hint", db.hint()),
                ("table", db.table()),
                ("datatype", db.datatype()),
                ("schema", db.schema()),
                ("file", db.file()),
                ("line", line.as_deref()),
                ("where_", db.where_()),
            ];
            Error::QueryFailed(QueryError::DbError(DbError {
                as_text: format!("{e:?}"),
                severity: db.severity().to_string(),
                code: db.code().code().to_string(),
                message: db.message().to_string(),
                detail: db.detail().map(str::to_string),
                extras: position.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string()))).collect(),
            }))
        }
        None => Error::QueryFailed(QueryError::Text(format!("{e:?}"))),
    }
}

/// Spin's refusal text: the port only when the address names one.
fn not_permitted(host: &str, port: Option<u16>) -> Error {
    match port {
        Some(port) => Error::ConnectionFailed(format!("address postgres://{host}:{port} is not permitted")),
        None => Error::ConnectionFailed(format!("address postgres://{host} is not permitted")),
    }
}

/// Whether the connection string names a port (tokio-postgres fills in
/// 5432 when it does not).
fn names_port(address: &str) -> bool {
    match url::Url::parse(address) {
        Ok(url) if matches!(url.scheme(), "postgres" | "postgresql") => {
            url.port().is_some() || url.query_pairs().any(|(k, _)| k == "port")
        }
        _ => address.split_whitespace().any(|pair| pair.starts_with("port=")),
    }
}

async fn connect(
    address: &str,
    ca_root: Option<&str>,
    policy: &OutboundPolicy,
    pools: &Arc<PostgresPools>,
) -> Result<PgConnection, Error> {
    let config = tokio_postgres::Config::from_str(address)
        .map_err(|e| Error::ConnectionFailed(format!("invalid address: {e}")))?;
    let ports = config.get_ports();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let host = match host {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(_) => {
                return Err(Error::ConnectionFailed("Unix sockets are not supported on WebAssembly".into()));
            }
        };
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        if !policy.allows("postgres", &host, Some(port)) {
            return Err(not_permitted(&host, names_port(address).then_some(port)));
        }
    }
    // `hostaddr` makes the driver connect to that IP instead of the host
    // name: each one must be allowed too.
    for (i, ip) in config.get_hostaddrs().iter().enumerate() {
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        if !policy.allows("postgres", &ip.to_string(), Some(port)) {
            return Err(not_permitted(&ip.to_string(), names_port(address).then_some(port)));
        }
    }
    // Clients are pooled per address and CA root: one opened to trust a
    // root must not serve a caller who did not ask for it.
    let pool_key = match ca_root {
        Some(root) => format!("{address}\n{root}"),
        None => address.to_string(),
    };
    let permit = pools.permit(&pool_key).await?;
    let client = match pools.reuse(&pool_key).await {
        Some(client) => client,
        None => open_client(&config, ca_root).await?,
    };
    Ok(PgConnection {
        client: Some(Arc::new(client)),
        pool_key,
        pools: pools.clone(),
        tainted: Default::default(),
        _permit: permit,
    })
}

/// A new client, over TLS unless the address says `sslmode=disable`.
async fn open_client(config: &tokio_postgres::Config, ca_root: Option<&str>) -> Result<tokio_postgres::Client, Error> {
    let failed = |e: tokio_postgres::Error| {
        let cause = e.source().map(|s| format!(": {s}")).unwrap_or_default();
        Error::ConnectionFailed(format!("{e}{cause}"))
    };
    if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
        return start_client(config, tokio_postgres::NoTls).await.map_err(failed);
    }
    let tls = match ca_root {
        Some(root) => tls_connector(Some(root))?,
        None => default_tls()?,
    };
    start_client(config, tls).await.map_err(failed)
}

/// Connect with `tls` and drive the connection in the background.
async fn start_client<T>(
    config: &tokio_postgres::Config,
    tls: T,
) -> Result<tokio_postgres::Client, tokio_postgres::Error>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("postgres connection closed: {e}");
        }
    });
    Ok(client)
}

fn begins_transaction(statement: &str) -> bool {
    let head = statement.trim_start().get(..5).unwrap_or_default().to_ascii_uppercase();
    head.starts_with("BEGIN") || head.starts_with("START")
}

/// A parameter that is SQL NULL for any column type.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(&self, _: &Type, _: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// `interval` in PostgreSQL's binary format.
#[derive(Debug)]
struct PgInterval(Interval);

impl ToSql for PgInterval {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.extend_from_slice(&self.0.micros.to_be_bytes());
        out.extend_from_slice(&self.0.days.to_be_bytes());
        out.extend_from_slice(&self.0.months.to_be_bytes());
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgInterval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        let raw: [u8; 16] = raw.try_into().map_err(|_| "interval is not 16 bytes")?;
        Ok(PgInterval(Interval {
            micros: i64::from_be_bytes(raw[0..8].try_into()?),
            days: i32::from_be_bytes(raw[8..12].try_into()?),
            months: i32::from_be_bytes(raw[12..16].try_into()?),
        }))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

/// Any value, as the raw bytes of its binary encoding.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A range bound in PostgreSQL's binary range format.
type Bound<T> = Option<(T, RangeBoundKind)>;

fn range_from_sql<'a, T: FromSql<'a>>(
    element: &Type,
    raw: &'a [u8],
) -> Result<(Bound<T>, Bound<T>), Box<dyn StdError + Sync + Send>> {
    const EMPTY: u8 = 0x01;
    const LB_INC: u8 = 0x02;
    const UB_INC: u8 = 0x04;
    const LB_INF: u8 = 0x08;
    const UB_INF: u8 = 0x10;
    let (&flags, mut rest) = raw.split_first().ok_or("empty range")?;
    if flags & EMPTY != 0 {
        return Ok((None, None));
    }
    let mut bound = |present: bool, inclusive: bool| -> Result<Bound<T>, Box<dyn StdError + Sync + Send>> {
        if !present {
            return Ok(None);
        }
        let len = i32::from_be_bytes(rest.get(..4).ok_or("truncated range")?.try_into()?) as usize;
        let value = T::from_sql(element, rest.get(4..4 + len).ok_or("truncated range")?)?;
        rest = &rest[4 + len..];
        Ok(Some((value, if inclusive { RangeBoundKind::Inclusive } else { RangeBoundKind::Exclusive })))
    };
    let lower = bound(flags & LB_INF == 0, flags & LB_INC != 0)?;
    let upper = bound(flags & UB_INF == 0, flags & UB_INC != 0)?;
    Ok((lower, upper))
}

#[derive(Debug)]
struct Range<T>(Bound<T>, Bound<T>, Type);

impl<T: ToSql + std::fmt::Debug> ToSql for Range<T> {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        let mut flags = 0u8;
        match &self.0 {
            None => flags |= 0x08,
            Some((_, RangeBoundKind::Inclusive)) => flags |= 0x02,
            Some(_) => {}
        }
        match &self.1 {
            None => flags |= 0x10,
            Some((_, RangeBoundKind::Inclusive)) => flags |= 0x04,
            Some(_) => {}
        }
        out.extend_from_slice(&[flags]);
        for (value, _) in [&self.0, &self.1].into_iter().flatten() {
            let mut buf = BytesMut::new();
            value.to_sql(&self.2, &mut buf)?;
            out.extend_from_slice(&(buf.len() as i32).to_be_bytes());
            out.extend_from_slice(&buf);
        }
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Range(_))
    }
    to_sql_checked!();
}

fn decimal(s: &str) -> Result<rust_decimal::Decimal, Error> {
    rust_decimal::Decimal::from_str_exact(s).map_err(|e| Error::BadParameter(format!("invalid decimal `{s}`: {e}")))
}

fn decimal_bound(b: Option<(String, RangeBoundKind)>) -> Result<Bound<rust_decimal::Decimal>, Error> {
    b.map(|(v, k)| decimal(&v).map(|d| (d, k))).transpose()
}

fn to_param(value: ParameterValue) -> Result<Box<dyn ToSql + Send + Sync>, Error> {
    let bad = |what: &str| Error::BadParameter(what.to_string());
    Ok(match value {
        ParameterValue::Boolean(v) => Box::new(v),
        ParameterValue::Int8(v) => Box::new(v),
        ParameterValue::Int16(v) => Box::new(v),
        ParameterValue::Int32(v) => Box::new(v),
        ParameterValue::Int64(v) => Box::new(v),
        ParameterValue::Floating32(v) => Box::new(v),
        ParameterValue::Floating64(v) => Box::new(v),
        ParameterValue::Str(v) => Box::new(v),
        ParameterValue::Binary(v) => Box::new(v),
        ParameterValue::Date((y, m, d)) => {
            Box::new(NaiveDate::from_ymd_opt(y, m.into(), d.into()).ok_or_else(|| bad("invalid date"))?)
        }
        ParameterValue::Time((h, m, s, ns)) => {
            Box::new(NaiveTime::from_hms_nano_opt(h.into(), m.into(), s.into(), ns).ok_or_else(|| bad("invalid time"))?)
        }
        ParameterValue::Datetime((y, mo, d, h, mi, s, ns)) => Box::new(NaiveDateTime::new(
            NaiveDate::from_ymd_opt(y, mo.into(), d.into()).ok_or_else(|| bad("invalid date"))?,
            NaiveTime::from_hms_nano_opt(h.into(), mi.into(), s.into(), ns).ok_or_else(|| bad("invalid time"))?,
        )),
        ParameterValue::Timestamp(secs) => {
            Box::new(chrono::DateTime::from_timestamp(secs, 0).ok_or_else(|| bad("timestamp out of range"))?)
        }
        ParameterValue::Uuid(v) => Box::new(uuid::Uuid::parse_str(&v).map_err(|e| bad(&format!("invalid uuid: {e}")))?),
        ParameterValue::Jsonb(v) => {
            Box::new(serde_json::from_slice::<serde_json::Value>(&v).map_err(|e| bad(&format!("invalid JSON: {e}")))?)
        }
        ParameterValue::Decimal(v) => Box::new(decimal(&v)?),
        ParameterValue::RangeInt32((lo, hi)) => Box::new(Range(lo, hi, Type::INT4)),
        ParameterValue::RangeInt64((lo, hi)) => Box::new(Range(lo, hi, Type::INT8)),
        ParameterValue::RangeDecimal((lo, hi)) => {
            Box::new(Range(decimal_bound(lo)?, decimal_bound(hi)?, Type::NUMERIC))
        }
        ParameterValue::ArrayInt32(v) => Box::new(v),
        ParameterValue::ArrayInt64(v) => Box::new(v),
        ParameterValue::ArrayDecimal(v) => {
            Box::new(v.into_iter().map(|d| d.as_deref().map(decimal).transpose()).collect::<Result<Vec<_>, _>>()?)
        }
        ParameterValue::ArrayStr(v) => Box::new(v),
        ParameterValue::Interval(v) => Box::new(PgInterval(v)),
        ParameterValue::DbNull => Box::new(Null),
    })
}

fn data_type(ty: &Type) -> DbDataType {
    match *ty {
        Type::BOOL => DbDataType::Boolean,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::BYTEA => DbDataType::Binary,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::TIMESTAMP => DbDataType::Datetime,
        Type::TIMESTAMPTZ => DbDataType::Timestamp,
        Type::UUID => DbDataType::Uuid,
        Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_RANGE => DbDataType::RangeInt32,
        Type::INT8_RANGE => DbDataType::RangeInt64,
        Type::NUM_RANGE => DbDataType::RangeDecimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        _ => DbDataType::Other(ty.name().to_string()),
    }
}

fn get<'a, T: FromSql<'a>>(row: &'a tokio_postgres::Row, i: usize) -> Result<Option<T>, Error> {
    row.try_get::<_, Option<T>>(i).map_err(|e| Error::QueryFailed(QueryError::Text(format!("{e:?}"))))
}

fn value(row: &tokio_postgres::Row, i: usize) -> Result<DbValue, Error> {
    let ty = row.columns()[i].type_();
    macro_rules! simple {
        ($t:ty, $variant:expr) => {
            get::<$t>(row, i)?.map($variant)
        };
    }
    let value = match *ty {
        Type::BOOL => simple!(bool, DbValue::Boolean),
        Type::INT2 => simple!(i16, DbValue::Int16),
        Type::INT4 => simple!(i32, DbValue::Int32),
        Type::INT8 => simple!(i64, DbValue::Int64),
        Type::FLOAT4 => simple!(f32, DbValue::Floating32),
        Type::FLOAT8 => simple!(f64, DbValue::Floating64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => simple!(String, DbValue::Str),
        Type::BYTEA => simple!(Vec<u8>, DbValue::Binary),
        Type::DATE => get::<NaiveDate>(row, i)?.map(|d| DbValue::Date((d.year(), d.month() as u8, d.day() as u8))),
        Type::TIME => get::<NaiveTime>(row, i)?
            .map(|t| DbValue::Time((t.hour() as u8, t.minute() as u8, t.second() as u8, t.nanosecond()))),
        Type::TIMESTAMP => get::<NaiveDateTime>(row, i)?.map(|dt| {
            DbValue::Datetime((
                dt.year(),
                dt.month() as u8,
                dt.day() as u8,
                dt.hour() as u8,
                dt.minute() as u8,
                dt.second() as u8,
                dt.nanosecond(),
            ))
        }),
        Type::TIMESTAMPTZ => get::<chrono::DateTime<chrono::Utc>>(row, i)?.map(|dt| DbValue::Timestamp(dt.timestamp())),
        Type::UUID => get::<uuid::Uuid>(row, i)?.map(|u| DbValue::Uuid(u.to_string())),
        Type::JSONB => get::<serde_json::Value>(row, i)?.map(|j| DbValue::Jsonb(j.to_string().into_bytes())),
        Type::NUMERIC => get::<rust_decimal::Decimal>(row, i)?.map(|d| DbValue::Decimal(d.to_string())),
        Type::INT4_RANGE => get::<RangeOf<i32>>(row, i)?.map(|r| DbValue::RangeInt32((r.0, r.1))),
        Type::INT8_RANGE => get::<RangeOf<i64>>(row, i)?.map(|r| DbValue::RangeInt64((r.0, r.1))),
        Type::NUM_RANGE => get::<RangeOf<rust_decimal::Decimal>>(row, i)?.map(|r| {
            let text = |b: Bound<rust_decimal::Decimal>| b.map(|(d, k)| (d.to_string(), k));
            DbValue::RangeDecimal((text(r.0), text(r.1)))
        }),
        Type::INT4_ARRAY => simple!(Vec<Option<i32>>, DbValue::ArrayInt32),
        Type::INT8_ARRAY => simple!(Vec<Option<i64>>, DbValue::ArrayInt64),
        Type::NUMERIC_ARRAY => get::<Vec<Option<rust_decimal::Decimal>>>(row, i)?
            .map(|v| DbValue::ArrayDecimal(v.into_iter().map(|d| d.map(|d| d.to_string())).collect())),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => simple!(Vec<Option<String>>, DbValue::ArrayStr),
        Type::INTERVAL => get::<PgInterval>(row, i)?.map(|v| DbValue::Interval(v.0)),
        _ => get::<Raw>(row, i)?.map(|raw| DbValue::Unsupported(raw.0)),
    };
    Ok(value.unwrap_or(DbValue::DbNull))
}

/// A decoded range column.
struct RangeOf<T>(Bound<T>, Bound<T>);

impl<'a, T: FromSql<'a>> FromSql<'a> for RangeOf<T> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        let Kind::Range(element) = ty.kind() else { return Err("not a range".into()) };
        let (lower, upper) = range_from_sql(element, raw)?;
        Ok(RangeOf(lower, upper))
    }
    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Range(_))
    }
}

impl PgConnection {
    fn client(&self) -> Arc<tokio_postgres::Client> {
        self.client.clone().expect("client present until drop")
    }

    fn handle(&self) -> (Arc<tokio_postgres::Client>, Arc<std::sync::atomic::AtomicBool>) {
        (self.client(), self.tainted.clone())
    }
}

/// Convert `params` for `statement`, marking the client as holding a
/// transaction if the statement begins one.
fn bind(
    tainted: &std::sync::atomic::AtomicBool,
    statement: &str,
    params: Vec<ParameterValue>,
) -> Result<Vec<Box<dyn ToSql + Sync + Send>>, Error> {
    if begins_transaction(statement) {
        tainted.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    params.into_iter().map(to_param).collect()
}

async fn run_query(
    client: &tokio_postgres::Client,
    tainted: &std::sync::atomic::AtomicBool,
    statement: &str,
    params: Vec<ParameterValue>,
) -> Result<RowSet, Error> {
    let params = bind(tainted, statement, params)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    let statement = client.prepare(statement).await.map_err(query_failed)?;
    let columns = statement
        .columns()
        .iter()
        .map(|c| Column { name: c.name().to_string(), data_type: data_type(c.type_()) })
        .collect();
    let rows = client.query(&statement, &refs).await.map_err(query_failed)?;
    let mut bytes = std::mem::size_of::<RowSet>();
    let rows = rows
        .iter()
        .map(|row| {
            let values = (0..row.len()).map(|i| value(row, i)).collect::<Result<Vec<_>, _>>()?;
            bytes += values.iter().map(value_bytes).sum::<usize>();
            if bytes > MAX_RESULT_BYTES {
                return Err(Error::QueryFailed(QueryError::Text(format!(
                    "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
                ))));
            }
            Ok(values)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RowSet { columns, rows })
}

/// What Spin buffers per query result (`MAX_HOST_BUFFERED_BYTES`).
const MAX_RESULT_BYTES: usize = super::mysql::MAX_RESULT_BYTES;

/// A value's host memory: the enum plus what it points to.
fn value_bytes(value: &DbValue) -> usize {
    std::mem::size_of::<DbValue>()
        + match value {
            DbValue::Str(s) | DbValue::Uuid(s) | DbValue::Decimal(s) => s.len(),
            DbValue::Binary(b) | DbValue::Jsonb(b) | DbValue::Unsupported(b) => b.len(),
            DbValue::ArrayStr(v) | DbValue::ArrayDecimal(v) => {
                v.iter().map(|s| std::mem::size_of::<Option<String>>() + s.as_ref().map_or(0, String::len)).sum()
            }
            DbValue::ArrayInt32(v) => v.len() * std::mem::size_of::<Option<i32>>(),
            DbValue::ArrayInt64(v) => v.len() * std::mem::size_of::<Option<i64>>(),
            _ => 0,
        }
}

async fn run_execute(
    client: &tokio_postgres::Client,
    tainted: &std::sync::atomic::AtomicBool,
    statement: &str,
    params: Vec<ParameterValue>,
) -> Result<u64, Error> {
    let params = bind(tainted, statement, params)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    client.execute(statement, &refs).await.map_err(query_failed)
}

/// Run a future to completion from a synchronous host function.
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

impl HostState {
    fn pg_open_args(&self) -> (Arc<OutboundPolicy>, Arc<PostgresPools>) {
        (self.services.outbound.clone(), self.services.postgres.clone())
    }

    /// Open a connection resource from a synchronous host call.
    fn pg_open(
        &mut self,
        address: &str,
        ca_root: Option<&str>,
    ) -> wasmtime::Result<Result<Resource<PgConnection>, Error>> {
        let (policy, pools) = self.pg_open_args();
        match block_on(connect(address, ca_root, &policy, &pools)) {
            Ok(conn) => Ok(Ok(self.table.push(conn)?)),
            Err(e) => Ok(Err(e)),
        }
    }

    fn pg(
        &self,
        conn: &Resource<PgConnection>,
    ) -> wasmtime::Result<(Arc<tokio_postgres::Client>, Arc<std::sync::atomic::AtomicBool>)> {
        Ok(self.table.get(conn)?.handle())
    }
}

/// Open a connection resource from an async host call.
async fn pg_open_async<T>(
    accessor: &Accessor<T, Spin>,
    address: &str,
    ca_root: Option<&str>,
) -> wasmtime::Result<Result<Resource<PgConnection>, Error>> {
    let (policy, pools) = accessor.with(|mut access| access.get().pg_open_args());
    match connect(address, ca_root, &policy, &pools).await {
        Ok(conn) => accessor.with(|mut access| Ok(Ok(access.get().table.push(conn)?))),
        Err(e) => Ok(Err(e)),
    }
}

/// The client of `conn`, and the telemetry of the statement it is to run.
#[allow(clippy::type_complexity)]
fn pg_call<T>(
    accessor: &Accessor<T, Spin>,
    conn: &Resource<PgConnection>,
    operation: &'static str,
    statement: &str,
) -> wasmtime::Result<(Arc<tokio_postgres::Client>, Arc<std::sync::atomic::AtomicBool>, HostCall)> {
    accessor.with(|mut access| {
        let state = access.get();
        let (client, tainted) = state.pg(conn)?;
        Ok((client, tainted, state.host_call(Call::Sql { system: "postgresql", operation, statement })))
    })
}

/// End a statement's telemetry: an error by its kind only (its text may
/// quote the data).
fn finish<R>(call: HostCall, result: &Result<R, Error>) {
    call.finish(result.as_ref().err().map(|_| "query-failed"), None);
}

impl wit::Host for HostState {}

impl HostConnection for HostState {
    fn open(&mut self, address: String) -> wasmtime::Result<Result<Resource<PgConnection>, Error>> {
        self.pg_open(&address, None)
    }

    fn query(
        &mut self,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, Error>> {
        let (client, tainted) = self.pg(&conn)?;
        let call = self.host_call(Call::Sql { system: "postgresql", operation: "query", statement: &statement });
        let result = block_on(run_query(&client, &tainted, &statement, params));
        finish(call, &result);
        Ok(result)
    }

    fn execute(
        &mut self,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, Error>> {
        let (client, tainted) = self.pg(&conn)?;
        let call = self.host_call(Call::Sql { system: "postgresql", operation: "execute", statement: &statement });
        let result = block_on(run_execute(&client, &tainted, &statement, params));
        finish(call, &result);
        Ok(result)
    }

    fn drop(&mut self, conn: Resource<PgConnection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}

impl<T> HostConnectionWithStore<T> for Spin {
    async fn open_async(
        accessor: &Accessor<T, Self>,
        address: String,
    ) -> wasmtime::Result<Result<Resource<PgConnection>, Error>> {
        pg_open_async(accessor, &address, None).await
    }

    async fn query_async(
        accessor: &Accessor<T, Self>,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<(Vec<Column>, StreamReader<Vec<DbValue>>, FutureReader<Result<(), Error>>), Error>>
    {
        let (client, tainted, call) = pg_call(accessor, &conn, "query", &statement)?;
        let result = run_query(&client, &tainted, &statement, params).await;
        finish(call, &result);
        let RowSet { columns, rows } = match result {
            Ok(set) => set,
            Err(e) => return Ok(Err(e)),
        };
        accessor.with(|mut access| {
            let rows = StreamReader::new(&mut access, rows)?;
            let done = FutureReader::new(&mut access, async { wasmtime::error::Ok(Ok(())) })?;
            Ok(Ok((columns, rows, done)))
        })
    }

    async fn execute_async(
        accessor: &Accessor<T, Self>,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, Error>> {
        let (client, tainted, call) = pg_call(accessor, &conn, "execute", &statement)?;
        let result = run_execute(&client, &tainted, &statement, params).await;
        finish(call, &result);
        Ok(result)
    }
}

impl HostConnectionBuilder for HostState {
    fn new(&mut self, address: String) -> wasmtime::Result<Resource<PgConnectionBuilder>> {
        Ok(self.table.push(PgConnectionBuilder { address, ca_root: None })?)
    }

    fn set_ca_root(
        &mut self,
        builder: Resource<PgConnectionBuilder>,
        certificate: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        self.table.get_mut(&builder)?.ca_root = Some(certificate);
        Ok(Ok(()))
    }

    fn build(
        &mut self,
        builder: Resource<PgConnectionBuilder>,
    ) -> wasmtime::Result<Result<Resource<PgConnection>, Error>> {
        let PgConnectionBuilder { address, ca_root } = self.table.get(&builder)?;
        let (address, ca_root) = (address.clone(), ca_root.clone());
        self.pg_open(&address, ca_root.as_deref())
    }

    fn drop(&mut self, builder: Resource<PgConnectionBuilder>) -> wasmtime::Result<()> {
        self.table.delete(builder)?;
        Ok(())
    }
}

impl<T> HostConnectionBuilderWithStore<T> for Spin {
    async fn build_async(
        accessor: &Accessor<T, Self>,
        builder: Resource<PgConnectionBuilder>,
    ) -> wasmtime::Result<Result<Resource<PgConnection>, Error>> {
        let (address, ca_root) = accessor.with(|mut access| -> wasmtime::Result<_> {
            let PgConnectionBuilder { address, ca_root } = access.get().table.get(&builder)?;
            Ok((address.clone(), ca_root.clone()))
        })?;
        pg_open_async(accessor, &address, ca_root.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refusals_read_as_spins() {
        let policy = OutboundPolicy::new(&["postgres://127.0.0.1:5432".to_string()], |t| Ok(t.into())).unwrap();
        let pools = Arc::new(PostgresPools::default());
        let refused = |address: &'static str| {
            let (policy, pools) = (policy.clone(), pools.clone());
            async move {
                match connect(address, None, &policy, &pools).await {
                    Err(Error::ConnectionFailed(message)) => message,
                    Err(other) => panic!("{address}: {other:?}"),
                    Ok(_) => panic!("{address} was allowed"),
                }
            }
        };
        assert_eq!(
            refused("postgres://u:p@db.example:6543/app").await,
            "address postgres://db.example:6543 is not permitted"
        );
        // As Spin: no port in the address, none in the message.
        assert_eq!(refused("postgres://u@db.example/app").await, "address postgres://db.example is not permitted");
        assert_eq!(refused("host=db.example user=u").await, "address postgres://db.example is not permitted");
        assert_eq!(refused("host=/run/postgresql user=u").await, "Unix sockets are not supported on WebAssembly");
        // An allowed name cannot smuggle in another IP through hostaddr.
        assert_eq!(
            refused("host=127.0.0.1 hostaddr=10.1.2.3 port=5432 user=u").await,
            "address postgres://10.1.2.3:5432 is not permitted"
        );
    }

    /// The local PostgreSQL the provider suites use.
    fn test_address() -> String {
        std::env::var("KEEL_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test?sslmode=disable".into())
    }

    fn allow_local() -> OutboundPolicy {
        OutboundPolicy::new(&["postgres://127.0.0.1:5432".to_string()], |t| Ok(t.into())).unwrap()
    }

    async fn one_value(conn: &PgConnection, sql: &str) -> String {
        let rows = conn.client.as_ref().unwrap().simple_query(sql).await.unwrap();
        rows.iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("").to_string()),
                _ => None,
            })
            .unwrap()
    }

    #[tokio::test]
    async fn errors_and_types_read_as_spins() {
        let (address, policy) = (test_address(), allow_local());
        let conn = connect(&address, None, &policy, &Arc::new(PostgresPools::default())).await.unwrap();
        let client = conn.client.as_ref().unwrap();
        let tainted = std::sync::atomic::AtomicBool::new(false);
        let table = format!("keel_parity_{}", std::process::id());
        run_execute(client, &tainted, &format!("CREATE TEMP TABLE {table} (email TEXT UNIQUE)"), vec![]).await.unwrap();
        let insert = format!("INSERT INTO {table} VALUES ('a@example.com')");
        run_execute(client, &tainted, &insert, vec![]).await.unwrap();
        let Err(Error::QueryFailed(QueryError::DbError(db))) = run_execute(client, &tainted, &insert, vec![]).await
        else {
            panic!("a duplicate must be a db-error");
        };
        assert_eq!(db.code, "23505");
        assert!(
            db.as_text.starts_with("Error { kind: Db, cause: Some(DbError {"),
            "Debug text, as Spin: {}",
            db.as_text
        );
        let keys: Vec<&str> = db.extras.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"constraint") && keys.contains(&"table") && keys.contains(&"schema"), "{keys:?}");

        let rows = run_query(client, &tainted, "SELECT 'x'::\"char\", current_user, '{}'::json, '{}'::jsonb", vec![])
            .await
            .unwrap();
        let types: Vec<String> = rows.columns.iter().map(|c| format!("{:?}", c.data_type)).collect();
        assert_eq!(
            types,
            [
                r#"DbDataType::Other("char")"#,
                r#"DbDataType::Other("name")"#,
                r#"DbDataType::Other("json")"#,
                "DbDataType::Jsonb"
            ]
        );
        assert!(matches!(rows.rows[0][1], DbValue::Unsupported(_)));

        let inexact = run_query(
            client,
            &tainted,
            "SELECT $1::numeric(4,2)",
            vec![ParameterValue::Decimal("1.2345678901234567890123456789012".into())],
        )
        .await;
        assert!(matches!(inexact, Err(Error::BadParameter(_))), "no silent rounding: {:?}", inexact.map(|_| ()));
    }

    #[tokio::test]
    async fn a_reused_client_carries_no_session_state() {
        let (address, policy) = (test_address(), allow_local());
        let pools = Arc::new(PostgresPools::default());
        let first = connect(&address, None, &policy, &pools).await.unwrap();
        let pid = one_value(&first, "SELECT pg_backend_pid()").await;
        one_value(&first, "SELECT set_config('application_name', 'leaked', false)").await;
        one_value(&first, "SELECT set_config('search_path', 'pg_catalog', false)").await;
        one_value(&first, "SELECT pg_advisory_lock(424242)::text").await;
        drop(first);

        let second = connect(&address, None, &policy, &pools).await.unwrap();
        assert_eq!(one_value(&second, "SELECT pg_backend_pid()").await, pid, "the idle client is reused");
        assert_eq!(one_value(&second, "SHOW application_name").await, "");
        assert_ne!(one_value(&second, "SHOW search_path").await, "pg_catalog");
        // Another session can take the lock the first borrower left behind.
        let other = connect(&address, None, &policy, &Arc::new(PostgresPools::default())).await.unwrap();
        assert_eq!(one_value(&other, "SELECT pg_try_advisory_lock(424242)::text").await, "true");
        one_value(&other, "SELECT pg_advisory_unlock_all()::text").await;
    }

    #[tokio::test]
    async fn clients_in_use_are_bounded_and_a_waiter_gets_a_returned_one() {
        let (address, policy) = (test_address(), allow_local());
        let pools = Arc::new(PostgresPools::with_limits(2, std::time::Duration::from_millis(300)));
        let first = connect(&address, None, &policy, &pools).await.unwrap();
        let _second = connect(&address, None, &policy, &pools).await.unwrap();
        match connect(&address, None, &policy, &pools).await {
            Err(Error::ConnectionFailed(message)) => {
                assert_eq!(message, "no connection became free within 0.3s (2 are in use to this address)")
            }
            other => panic!("a third client was opened: {:?}", other.map(|_| ())),
        }
        let waiter = tokio::spawn({
            let (pools, policy) = (pools.clone(), policy.clone());
            async move { connect(&address, None, &policy, &pools).await.map(|_| ()) }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        drop(first);
        assert!(waiter.await.unwrap().is_ok());
    }

    #[test]
    fn recognises_transaction_starts() {
        assert!(begins_transaction("  begin"));
        assert!(begins_transaction("START TRANSACTION"));
        assert!(!begins_transaction("SELECT 1"));
    }

    #[test]
    fn decodes_binary_ranges() {
        // [1,10): flags LB_INC, two 4-byte bounds.
        let raw = [0x02, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 10];
        let (lo, hi) = range_from_sql::<i32>(&Type::INT4, &raw).unwrap();
        assert!(matches!(lo, Some((1, RangeBoundKind::Inclusive))));
        assert!(matches!(hi, Some((10, RangeBoundKind::Exclusive))));
        let (lo, hi) = range_from_sql::<i32>(&Type::INT4, &[0x08 | 0x10]).unwrap();
        assert!(lo.is_none() && hi.is_none());
    }
}
