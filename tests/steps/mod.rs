//! Step definitions shared by all suites, and the server each scenario
//! talks to.

mod blob;
mod composition;
mod contract;
mod files;
mod http;
mod inbox;
mod live;
mod mysql;
mod postgres;
mod redis;
mod s3;
mod webhooks;
mod mail;
mod oidc;
mod product;
mod server;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

pub use mysql::drop_databases;
pub use postgres::drop_schemas;
pub use server::{Deployment, Implementation, deployments, external_runtime, implementations};
use server::Server;

/// What the scenarios of the current suite run against.
#[derive(Debug, Clone)]
pub enum Target {
    /// The team-collab product, deployed one way or another.
    TeamCollab(Deployment),
    Conformance(Implementation),
    /// The KV probe with a short request timeout, for fault isolation.
    Faults,
    /// The built components themselves; no server.
    Artifacts,
}

static TARGET: Mutex<Option<Target>> = Mutex::new(None);

pub fn set_target(target: Target) {
    *TARGET.lock().unwrap() = Some(target);
}

fn target() -> Target {
    TARGET.lock().unwrap().clone().expect("suite target set before running")
}

/// A random id for this run: the databases and schemas it creates are
/// named `keel_features_<run id>_<n>`, so concurrent runs never touch each
/// other's, and each run drops exactly the ones it created.
pub fn run_id() -> &'static str {
    use std::hash::{BuildHasher, Hasher};
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        format!("{:012x}", hasher.finish() & 0xffff_ffff_ffff)
    })
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A local stand-in for a provider's HTTP API; it stops accepting
/// connections when dropped.
#[derive(Debug)]
pub struct MockServer {
    accept_loop: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// Stop accepting connections: the service becomes unreachable.
    pub fn stop(&self) {
        self.accept_loop.abort();
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serve `answer` over HTTP/1.1 on a fresh loopback port: the base URL
/// (`http://127.0.0.1:<port>`) and the server.
pub async fn serve_mock<F, R>(answer: F) -> (String, MockServer)
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> R + Clone + Send + Sync + 'static,
    R: std::future::Future<Output = Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible>>
        + Send
        + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a mock server");
    let base = format!("http://{}", listener.local_addr().expect("mock address"));
    let accept_loop = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(answer);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (base, MockServer { accept_loop })
}

/// A signed-up user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub token: String,
}

/// The last HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

#[derive(Debug, cucumber::World)]
#[world(init = Self::new)]
pub struct KeelWorld {
    /// Event streams being read, by the user who opened them (first:
    /// closed before the server stops).
    streams: HashMap<String, live::EventStream>,
    server: Option<Server>,
    /// Another runtime serving the same app on the same databases.
    second_server: Option<Server>,
    client: reqwest::Client,
    reply: Option<Reply>,
    users: HashMap<String, User>,
    /// `workspace:acme`, `channel:general` … → id.
    ids: HashMap<String, String>,
    /// Which workspace each channel belongs to.
    channel_workspace: HashMap<String, String>,
    remembered: HashMap<String, serde_json::Value>,
    /// How long the last request sent with [`KeelWorld::send`] took.
    elapsed: std::time::Duration,
    pages: Vec<Vec<serde_json::Value>>,
    replies: Vec<Reply>,
    /// What each key of a blob-store scenario, or each file uploaded,
    /// should hold.
    blobs: HashMap<String, Vec<u8>>,
    /// Earlier versions of files, oldest first.
    remembered_bytes: Vec<Vec<u8>>,
    /// The bytes of the last download.
    downloaded: Vec<u8>,
    /// The mock email provider of an email conformance scenario.
    mock: Option<mail::MockProvider>,
    /// The mock S3 of a blob-store scenario on `blob-s3`.
    s3: Option<s3::MockS3>,
    /// The local OpenID Connect issuer of an OIDC conformance scenario.
    issuer: Option<oidc::LocalIssuer>,
    /// The TLS front of a scenario on PostgreSQL over TLS.
    tls_front: Option<postgres::TlsFront>,
    /// The Redis database of a scenario on Redis (after `server`: freed
    /// once the server is gone).
    redis_database: Option<redis::Database>,
    /// The webhook receiver of a webhooks scenario.
    receiver: Option<webhooks::Receiver>,
}

impl KeelWorld {
    fn new() -> Self {
        KeelWorld {
            server: None,
            second_server: None,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("http client"),
            reply: None,
            users: HashMap::new(),
            ids: HashMap::new(),
            channel_workspace: HashMap::new(),
            remembered: HashMap::new(),
            elapsed: std::time::Duration::ZERO,
            pages: Vec::new(),
            replies: Vec::new(),
            blobs: HashMap::new(),
            remembered_bytes: Vec::new(),
            downloaded: Vec::new(),
            mock: None,
            issuer: None,
            s3: None,
            tls_front: None,
            redis_database: None,
            receiver: None,
            streams: HashMap::new(),
        }
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("a running server (missing Given step?)")
    }

    fn reply(&self) -> &Reply {
        self.reply.as_ref().expect("a response (missing When step?)")
    }

    fn user(&self, name: &str) -> &User {
        self.users
            .get(name)
            .unwrap_or_else(|| panic!("user `{name}` has not signed up"))
    }

    /// Replace `{workspace:acme}`-style placeholders with remembered ids.
    fn interpolate(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (key, id) in &self.ids {
            out = out.replace(&format!("{{{key}}}"), id);
        }
        assert!(
            ["{workspace:", "{channel:", "{message:"].iter().all(|kind| !out.contains(kind)),
            "unknown placeholder in `{text}`"
        );
        out
    }
}
