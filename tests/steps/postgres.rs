//! A fresh PostgreSQL schema per scenario, so suites on Postgres start from
//! an empty database like those on a new SQLite file.
//!
//! The server is `KEEL_TEST_POSTGRES_URL` (default: the local test server,
//! `postgres://postgres@127.0.0.1:5432/test?sslmode=disable`: the local
//! server offers TLS with a self-signed certificate, which, as in Spin,
//! the client would refuse). Each schema is named after the
//! process, and the run drops its own schemas when it ends.

use std::sync::atomic::{AtomicUsize, Ordering};

fn server_url() -> String {
    std::env::var("KEEL_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test?sslmode=disable".into())
}

fn prefix() -> String {
    format!("keel_features_{}_", super::run_id())
}

/// The schemas this run created.
static CREATED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

async fn connect() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&server_url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} is not reachable: {e}", server_url()));
    tokio::spawn(connection);
    client
}

/// The test server's URL with a database name that does not exist, so
/// every connection is refused by the server after the handshake.
pub fn missing_database_url() -> String {
    let config: tokio_postgres::Config = server_url().parse().expect("a PostgreSQL URL");
    let user = config.get_user().unwrap_or("postgres").to_string();
    let password = config.get_password().map(|p| format!(":{}", String::from_utf8_lossy(p))).unwrap_or_default();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("postgres://{user}{password}@{host}:{port}/{}missing?sslmode=disable", prefix())
}

/// Create an empty schema; returns a connection URL whose `search_path` is it.
pub async fn fresh_schema_url() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let schema = format!("{}{}", prefix(), NEXT.fetch_add(1, Ordering::Relaxed));
    connect()
        .await
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    CREATED.lock().unwrap().push(schema.clone());
    let separator = if server_url().contains('?') { '&' } else { '?' };
    format!("{}{separator}options=-csearch_path%3D{schema}", server_url())
}

/// A fresh schema on the test server, reached through the [`TlsFront`] on
/// `port`, with `options` (such as `sslmode=require`) added to the URL.
pub async fn fresh_schema_url_through(port: u16, options: &str) -> String {
    let direct = fresh_schema_url().await;
    let config: tokio_postgres::Config = server_url().parse().expect("a PostgreSQL URL");
    let user = config.get_user().unwrap_or("postgres");
    let password = config.get_password().map(|p| format!(":{}", String::from_utf8_lossy(p))).unwrap_or_default();
    let database = config.get_dbname().unwrap_or(user);
    // Keep only the schema's search path: the TLS settings are the scenario's.
    let search_path = direct.rsplit_once("options=").map(|(_, path)| path).expect("a search path");
    let options = if options.is_empty() { String::new() } else { format!("&{options}") };
    format!("postgres://{user}{password}@127.0.0.1:{port}/{database}?options={search_path}{options}")
}

/// Drop the schemas this process created.
pub async fn drop_schemas() {
    let schemas = std::mem::take(&mut *CREATED.lock().unwrap());
    if schemas.is_empty() {
        return;
    }
    let client = connect().await;
    for schema in schemas {
        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
    }
}

/// A TLS front for the local PostgreSQL server, the way a managed database
/// with a private CA looks to a client: it answers PostgreSQL's
/// `SSLRequest` with `S`, completes the handshake with the certificate in
/// `tests/fixtures/postgres-tls` (for 127.0.0.1, signed by the `ca.pem`
/// there), then relays the decrypted stream to the real server. A client
/// that starts in plain text is turned away, so a session through the front
/// proves the client used TLS.
#[derive(Debug)]
pub struct TlsFront {
    /// `postgres://…@127.0.0.1:<port>/…` reaches the server through TLS.
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

/// PostgreSQL's `SSLRequest`: length 8, then the magic code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 4, 210, 22, 47];

impl TlsFront {
    pub async fn start() -> TlsFront {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

        let fixtures = super::repo_root().join("tests/fixtures/postgres-tls");
        let certificates = CertificateDer::pem_file_iter(fixtures.join("server.pem"))
            .expect("server.pem")
            .collect::<Result<Vec<_>, _>>()
            .expect("server certificate");
        let key = PrivateKeyDer::from_pem_file(fixtures.join("server.key")).expect("server.key");
        let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .expect("server certificate and key");
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind TLS front");
        let port = listener.local_addr().expect("TLS front address").port();
        let upstream = upstream_address();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 8];
                    if client.read_exact(&mut request).await.is_err() || request != SSL_REQUEST {
                        return; // plain text: turned away
                    }
                    if client.write_all(b"S").await.is_err() {
                        return;
                    }
                    let Ok(mut tls) = acceptor.accept(client).await else { return };
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                });
            }
        });
        TlsFront { port, task }
    }

    /// The PEM CA certificate that signed the front's certificate.
    pub fn ca_root() -> String {
        std::fs::read_to_string(super::repo_root().join("tests/fixtures/postgres-tls/ca.pem")).expect("ca.pem")
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `host:port` of the test server.
fn upstream_address() -> String {
    let config: tokio_postgres::Config = server_url().parse().expect("a PostgreSQL URL");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".into(),
    };
    format!("{host}:{}", config.get_ports().first().copied().unwrap_or(5432))
}
