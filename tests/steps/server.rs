//! Starting, restarting and stopping Keel's runtime for a scenario.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cucumber::{given, then};
use keel_runtime::oci::AppSource;
use keel_runtime::{App, RuntimeOptions};
use tokio::sync::oneshot;

use super::{KeelWorld, Target, mail, oidc, repo_root, target};

/// One implementation of an infrastructure interface: a composed probe
/// component plus the runtime configuration that picks the host backend.
#[derive(Debug, Clone)]
pub struct Implementation {
    pub interface: &'static str,
    pub name: &'static str,
    /// Manifest of the probe app, relative to the repository root.
    manifest: &'static str,
    /// Runtime configuration (Spin format), or none for the defaults.
    runtime_config: Option<&'static str>,
    /// Application variables; `{mock}` in a value stands for the base URL
    /// of the mock email provider started for each scenario, `{issuer}`
    /// for that of the local OIDC issuer.
    variables: &'static [(&'static str, &'static str)],
}

impl Implementation {
    /// Whether it talks to the mock email provider (scenarios tagged
    /// `@provider` run only against such implementations).
    pub fn uses_mock_provider(&self) -> bool {
        self.variables.iter().any(|(_, value)| value.contains(MOCK))
    }

    /// Whether it stores in the mock S3 (scenarios tagged `@s3` run only
    /// on such implementations).
    pub fn uses_mock_s3(&self) -> bool {
        self.variables.iter().any(|(_, value)| value.contains(S3))
    }

    /// Whether its runtime configuration names a backend only Keel's
    /// runtime has (Spin has no `memory` or `rocksdb` store type).
    pub fn keel_only(&self) -> bool {
        self.runtime_config.is_some_and(|text| ["\"memory\"", "\"rocksdb\""].iter().any(|kind| text.contains(kind)))
    }
}

/// Placeholder for the mock provider's base URL in [`Implementation::variables`].
const MOCK: &str = "{mock}";
/// Placeholder for the URL of a fresh, empty PostgreSQL schema.
const POSTGRES: &str = "{postgres}";

/// Placeholder for the URL of a fresh PostgreSQL schema reached through a
/// TLS front with a private CA, `sslmode=require`.
const POSTGRES_TLS: &str = "{postgres-tls}";
/// Placeholder for the PEM certificate of that private CA.
const POSTGRES_CA: &str = "{postgres-ca}";

/// Placeholder for the URL of a fresh, empty MySQL database.
const MYSQL: &str = "{mysql}";
/// Placeholder for the URL of a fresh Redis database in a runtime config.
const REDIS: &str = "{redis}";
/// Placeholder for the endpoint of the scenario's mock S3.
pub(super) const S3: &str = "{s3}";

/// Fill in the placeholders of a suite's application variables, starting
/// the scenario's PostgreSQL TLS front if they need one.
async fn resolve(world: &mut KeelWorld, variables: &[(&str, &str)], mock_base: &str) -> Vec<(String, String)> {
    let mut resolved = Vec::new();
    for (name, value) in variables {
        let value = if value.contains(POSTGRES_TLS) {
            if world.tls_front.is_none() {
                world.tls_front = Some(super::postgres::TlsFront::start().await);
            }
            let port = world.tls_front.as_ref().map(|front| front.port).expect("a TLS front");
            let url = super::postgres::fresh_schema_url_through(port, "sslmode=require").await;
            value.replace(POSTGRES_TLS, &url)
        } else if value.contains(POSTGRES_CA) {
            value.replace(POSTGRES_CA, &super::postgres::TlsFront::ca_root())
        } else if value.contains(POSTGRES) {
            value.replace(POSTGRES, &super::postgres::fresh_schema_url().await)
        } else if value.contains(MYSQL) {
            value.replace(MYSQL, &super::mysql::fresh_database_url().await)
        } else if value.contains(S3) {
            if world.s3.is_none() {
                world.s3 = Some(super::s3::MockS3::start().await);
            }
            value.replace(S3, &world.s3.as_ref().expect("a mock S3").base)
        } else if value.contains(REDIS) {
            let (url, database) = super::redis::fresh_database();
            world.redis_database = Some(database);
            value.replace(REDIS, &url)
        } else {
            value.replace(MOCK, mock_base)
        };
        resolved.push((name.to_string(), value));
    }
    resolved
}

/// A way of deploying the team-collab product: a manifest of a composed
/// component and its configuration.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub name: &'static str,
    manifest: &'static str,
    /// The composed component the manifest serves.
    component: &'static str,
    /// As [`Implementation::variables`].
    variables: &'static [(&'static str, &'static str)],
    /// The product scenarios it runs, under `tests/features/`: all of
    /// them, or those of the part the deployment changes.
    pub features: &'static str,
}

impl Deployment {
    /// Whether it mails through the mock provider rather than the
    /// development outbox (scenarios tagged `@provider` run only on such
    /// deployments, those tagged `@outbox` only on the others).
    pub fn uses_mock_provider(&self) -> bool {
        self.variables.iter().any(|(_, value)| value.contains(MOCK))
    }

    /// Whether its manifest runs a cron trigger (scenarios tagged `@cron`
    /// run only on such deployments).
    pub fn runs_cron(&self) -> bool {
        std::fs::read_to_string(repo_root().join(self.manifest)).is_ok_and(|text| text.contains("[[trigger.cron]]"))
    }
}

/// Every deployment the product suite runs against.
pub fn deployments() -> Vec<Deployment> {
    vec![
        Deployment {
            name: "sql-spin-sqlite (embedded defaults)",
            manifest: "spin.toml",
            component: "dist/team-collab.wasm",
            variables: &[],
            features: "team_collab",
        },
        Deployment {
            name: "sql-postgres on PostgreSQL",
            manifest: "products/team-collab/spin-postgres.toml",
            component: "dist/team-collab-postgres.wasm",
            variables: &[("postgres_url", POSTGRES)],
            features: "team_collab",
        },
        Deployment {
            name: "sql-mysql on MariaDB",
            manifest: "products/team-collab/spin-mysql.toml",
            component: "dist/team-collab-mysql.wasm",
            variables: &[("mysql_url", MYSQL)],
            features: "team_collab",
        },
        Deployment {
            name: "email-sendgrid against a mock SendGrid",
            manifest: "products/team-collab/spin-sendgrid.toml",
            component: "dist/team-collab-sendgrid.wasm",
            variables: &[
                ("sendgrid_api_key", mail::SENDGRID_KEY),
                ("sendgrid_api_base", MOCK),
                ("mail_from", "team@keel.example"),
                ("app_base_url", "https://collab.keel.example"),
            ],
            features: "team_collab",
        },
        Deployment {
            name: "blob-s3 against a mock S3 (file sharing)",
            manifest: "products/team-collab/spin-s3.toml",
            component: "dist/team-collab-s3.wasm",
            variables: super::s3::VARIABLES,
            features: "team_collab/files.feature",
        },
    ]
}

/// Every implementation the conformance suites run against.
pub fn implementations() -> Vec<Implementation> {
    vec![
        Implementation {
            interface: "sql",
            name: "sql-spin-sqlite on a SQLite file",
            manifest: "tests/probes/sql-probe/spin.toml",
            runtime_config: None,
            variables: &[],
        },
        Implementation {
            interface: "sql",
            name: "sql-spin-sqlite on in-memory SQLite",
            manifest: "tests/probes/sql-probe/spin.toml",
            runtime_config: Some("[sqlite_database.default]\ntype = \"spin\"\n"),
            variables: &[],
        },
        Implementation {
            interface: "sql",
            name: "sql-postgres on PostgreSQL",
            manifest: "tests/probes/sql-probe/spin-postgres.toml",
            runtime_config: None,
            variables: &[("postgres_url", POSTGRES)],
        },
        Implementation {
            interface: "sql",
            name: "sql-postgres on PostgreSQL over TLS (private CA, sslmode=require)",
            manifest: "tests/probes/sql-probe/spin-postgres.toml",
            runtime_config: None,
            variables: &[("postgres_url", POSTGRES_TLS), ("postgres_ca_root", POSTGRES_CA)],
        },
        Implementation {
            interface: "sql",
            name: "sql-mysql on MariaDB",
            manifest: "tests/probes/sql-probe/spin-mysql.toml",
            runtime_config: None,
            variables: &[("mysql_url", MYSQL)],
        },
        Implementation {
            interface: "blob-store",
            name: "blob-sql on a SQLite file",
            manifest: "tests/probes/blob-probe/spin.toml",
            runtime_config: None,
            variables: &[],
        },
        Implementation {
            interface: "blob-store",
            name: "blob-sql on PostgreSQL",
            manifest: "tests/probes/blob-probe/spin-postgres.toml",
            runtime_config: None,
            variables: &[("postgres_url", POSTGRES)],
        },
        Implementation {
            interface: "blob-store",
            name: "blob-sql on MariaDB",
            manifest: "tests/probes/blob-probe/spin-mysql.toml",
            runtime_config: None,
            variables: &[("mysql_url", MYSQL)],
        },
        Implementation {
            interface: "blob-store",
            name: "blob-s3 against a mock S3",
            manifest: "tests/probes/blob-probe/spin-s3.toml",
            runtime_config: None,
            variables: super::s3::VARIABLES,
        },
        Implementation {
            interface: "kv",
            name: "kv-spin on the SQLite key-value store",
            manifest: "tests/probes/kv-probe/spin.toml",
            runtime_config: None,
            variables: &[],
        },
        Implementation {
            interface: "kv",
            name: "kv-spin on the Redis key-value store",
            manifest: "tests/probes/kv-probe/spin.toml",
            runtime_config: Some("[key_value_store.default]\ntype = \"redis\"\nurl = \"{redis}\"\n"),
            variables: &[],
        },
        Implementation {
            interface: "kv",
            name: "kv-spin on the RocksDB key-value store",
            manifest: "tests/probes/kv-probe/spin.toml",
            runtime_config: Some("[key_value_store.default]\ntype = \"rocksdb\"\npath = \"kv.rocksdb\"\n"),
            variables: &[],
        },
        Implementation {
            interface: "kv",
            name: "kv-redis on Redis (spin:redis)",
            manifest: "tests/probes/kv-probe/spin-redis.toml",
            runtime_config: None,
            variables: &[("redis_url", REDIS)],
        },
        Implementation {
            interface: "kv",
            name: "kv-spin on the in-memory key-value store",
            manifest: "tests/probes/kv-probe/spin.toml",
            runtime_config: Some("[key_value_store.default]\ntype = \"memory\"\n"),
            variables: &[],
        },
        Implementation {
            interface: "email",
            name: "email-sendgrid against a mock SendGrid",
            manifest: "tests/probes/email-probe/spin-sendgrid.toml",
            runtime_config: None,
            variables: &[("sendgrid_api_key", mail::SENDGRID_KEY), ("sendgrid_api_base", MOCK)],
        },
        Implementation {
            interface: "email",
            name: "email-mailgun against a mock Mailgun",
            manifest: "tests/probes/email-probe/spin-mailgun.toml",
            runtime_config: None,
            variables: &[
                ("mailgun_api_key", mail::MAILGUN_KEY),
                ("mailgun_domain", mail::MAILGUN_DOMAIN),
                ("mailgun_api_base", MOCK),
            ],
        },
        Implementation {
            interface: "email",
            name: "email-ses against a mock Amazon SES",
            manifest: "tests/probes/email-probe/spin-ses.toml",
            runtime_config: None,
            variables: &[
                ("ses_access_key_id", mail::SES_ACCESS_KEY_ID),
                ("ses_secret_access_key", mail::SES_SECRET_ACCESS_KEY),
                ("ses_region", mail::SES_REGION),
                ("ses_endpoint", MOCK),
            ],
        },
        Implementation {
            interface: "email",
            name: "email-outbox on a SQLite file",
            manifest: "tests/probes/email-probe/spin-outbox.toml",
            runtime_config: None,
            variables: &[],
        },
        Implementation {
            interface: "oidc",
            name: "auth-okta against a local issuer",
            manifest: "tests/probes/auth-probe/okta.spin.toml",
            runtime_config: None,
            variables: &[
                ("okta_issuer", "{issuer}/oauth2/default"),
                ("okta_audience", "api://keel-conformance"),
                ("okta_email_claim", "email"),
            ],
        },
        Implementation {
            interface: "oidc",
            name: "auth-auth0 against a local issuer",
            manifest: "tests/probes/auth-probe/auth0.spin.toml",
            // A `spin` store without a path is in memory, on Spin as on Keel.
            runtime_config: Some("[key_value_store.default]\ntype = \"spin\"\n"),
            variables: &[
                ("auth0_issuer", "{issuer}/"),
                ("auth0_audience", "https://api.keel-conformance.test"),
                ("auth0_email_claim", "https://keel-conformance.test/email"),
            ],
        },
        Implementation {
            interface: "postgres-tls",
            name: "sql-postgres through a TLS front",
            manifest: "tests/probes/sql-probe/spin-postgres.toml",
            runtime_config: None,
            variables: &[],
        },
        Implementation {
            interface: "email-outbox",
            name: "email-outbox on a SQLite file",
            manifest: "tests/probes/email-probe/spin-outbox.toml",
            runtime_config: None,
            variables: &[],
        },
    ]
}

/// The runtime binary named by `KEEL_TEST_RUNTIME`, if any: the suites
/// then start it as `<binary> up -f MANIFEST --listen ADDR
/// --runtime-config-file FILE` with variables as `SPIN_VARIABLE_*`, the
/// way a real `spin` is run, instead of Keel's runtime in-process.
pub fn external_runtime() -> Option<PathBuf> {
    std::env::var_os("KEEL_TEST_RUNTIME").filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// How the app is handed to the runtime (`KEEL_TEST_PACKAGE`), so a suite
/// can check the packed application, not only the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Package {
    /// The manifest itself (the default).
    Manifest,
    /// `oci-layout`: the OCI artifact `keel registry push --oci-layout`
    /// writes (Spin's format), served with `-f oci-layout:DIR`.
    OciLayout,
    /// `bundle`: the single executable `keel bundle` writes (with the
    /// `keel` binary `KEEL_TEST_RUNTIME` names), run with `up`'s flags.
    Bundle,
}

fn package() -> Package {
    match std::env::var("KEEL_TEST_PACKAGE").as_deref() {
        Ok("oci-layout") => Package::OciLayout,
        Ok("bundle") if external_runtime().is_some() => Package::Bundle,
        Ok("bundle") => panic!("KEEL_TEST_PACKAGE=bundle needs KEEL_TEST_RUNTIME naming the keel binary that bundles"),
        Ok("") | Err(_) => Package::Manifest,
        Ok(other) => panic!("KEEL_TEST_PACKAGE={other}: use `oci-layout` or `bundle`"),
    }
}

/// What to run for `manifest` (see [`Package`]): the manifest itself, an
/// `oci-layout:DIR` of it, or a bundle executable; packed once per process.
fn app_argument(manifest: &Path) -> String {
    let package = package();
    if package == Package::Manifest {
        return manifest.display().to_string();
    }
    static PACKED: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
    let mut packed = PACKED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, from)) = packed.iter().find(|(m, _)| m == manifest) {
        return from.clone();
    }
    let dir = scratch_dir();
    let from = match package {
        Package::OciLayout => {
            let parsed = keel_runtime::config::manifest::Manifest::load(manifest)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest.display()));
            let artifact = keel_runtime::oci::Artifact::build(&parsed)
                .unwrap_or_else(|e| panic!("cannot pack {}: {e:#}", manifest.display()));
            let layout = dir.join("oci-layout");
            artifact
                .write_layout(&layout, "latest")
                .unwrap_or_else(|e| panic!("cannot write {}: {e:#}", layout.display()));
            format!("oci-layout:{}", layout.display())
        }
        Package::Bundle => {
            let keel = external_runtime().expect("checked by package()");
            let bundle = dir.join("app");
            let status = std::process::Command::new(&keel)
                .arg("bundle")
                .arg("-f")
                .arg(manifest)
                .arg("-o")
                .arg(&bundle)
                .status()
                .unwrap_or_else(|e| panic!("cannot run {} bundle: {e}", keel.display()));
            assert!(status.success(), "{} bundle -f {} failed", keel.display(), manifest.display());
            bundle.display().to_string()
        }
        Package::Manifest => unreachable!("returned above"),
    };
    packed.push((manifest.to_path_buf(), from.clone()));
    from
}

/// The shared test secret every app gets as its `token_secret` variable.
const TOKEN_SECRET: (&str, &str) = ("token_secret", "cucumber-test-secret-0123456789abcdef0123456789");

#[derive(Debug)]
pub struct Server {
    pub base: String,
    manifest: PathBuf,
    state_dir: PathBuf,
    runtime_config: Option<PathBuf>,
    /// Application variables on top of the shared test secret.
    variables: Vec<(String, String)>,
    request_timeout: Duration,
    running: Option<Running>,
    /// Whether dropping the server removes `state_dir` (not for a server
    /// started alongside another, which shares it).
    owns_state: bool,
}

/// A runtime serving the app: in this process, or a child process.
#[derive(Debug)]
enum Running {
    InProcess { shutdown: oneshot::Sender<()>, task: tokio::task::JoinHandle<Result<(), String>> },
    External(tokio::process::Child),
}

fn scratch_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "keel-features-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// The runtime configuration for an external runtime: the suite's own,
/// plus the default SQLite database and key-value store as files in the
/// scenario's state directory (where Spin would use `.spin/` in the app
/// directory, shared by every scenario).
fn external_runtime_config(own: Option<&str>, state_dir: &Path) -> String {
    let mut text = own.unwrap_or_default().to_string();
    if !text.contains("[sqlite_database.default]") {
        let path = state_dir.join("sqlite_db.db");
        text.push_str(&format!(
            "\n[sqlite_database.default]\ntype = \"spin\"\npath = {:?}\n",
            path.display().to_string()
        ));
    }
    if !text.contains("[key_value_store.default]") {
        let path = state_dir.join("sqlite_key_value.db");
        text.push_str(&format!(
            "\n[key_value_store.default]\ntype = \"spin\"\npath = {:?}\n",
            path.display().to_string()
        ));
    }
    text
}

impl Server {
    async fn start(
        manifest: PathBuf,
        runtime_config: Option<&str>,
        variables: Vec<(String, String)>,
        request_timeout: Duration,
    ) -> Server {
        let state_dir = scratch_dir();
        let runtime_config = match external_runtime() {
            Some(_) => Some(external_runtime_config(runtime_config, &state_dir)),
            None => runtime_config.map(str::to_string),
        };
        let runtime_config = runtime_config.map(|text| {
            let path = state_dir.join("runtime-config.toml");
            std::fs::write(&path, text).expect("write runtime config");
            path
        });
        let mut server = Server {
            base: String::new(),
            manifest,
            state_dir,
            runtime_config,
            variables,
            request_timeout,
            running: None,
            owns_state: true,
        };
        server.boot().await;
        server
    }

    /// Another process (or, in process, another runtime) serving the same
    /// app on the same databases and key-value stores.
    pub async fn alongside(&self) -> Server {
        let mut server = Server {
            base: String::new(),
            manifest: self.manifest.clone(),
            state_dir: self.state_dir.clone(),
            runtime_config: self.runtime_config.clone(),
            variables: self.variables.clone(),
            request_timeout: self.request_timeout,
            running: None,
            owns_state: false,
        };
        server.boot().await;
        server
    }

    async fn boot(&mut self) {
        match external_runtime() {
            Some(binary) => self.boot_external(&binary).await,
            None => self.boot_in_process().await,
        }
    }

    async fn boot_in_process(&mut self) {
        let mut options = RuntimeOptions {
            runtime_config_file: self.runtime_config.clone(),
            state_dir: Some(self.state_dir.join("state")),
            cache_dir: Some(std::env::temp_dir().join("keel-features-compile-cache")),
            variables: vec![(TOKEN_SECRET.0.into(), TOKEN_SECRET.1.into())],
            ..RuntimeOptions::default()
        };
        options.variables.extend(self.variables.iter().cloned());
        options.limits.request_timeout = self.request_timeout;
        let from = app_argument(&self.manifest);
        let manifest = AppSource::parse(&from)
            .expect("a manifest or a layout")
            .load(&self.state_dir.join("cache"), &self.state_dir, false)
            .await
            .unwrap_or_else(|e| panic!("cannot load {from}: {e:#}"));
        let app = App::from_manifest(manifest, Path::new(&from), options)
            .await
            .unwrap_or_else(|e| panic!("cannot load {from}: {e:#}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        self.base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            app.serve(listener, async {
                let _ = rx.await;
            })
            .await
            .map_err(|e| format!("{e:#}"))
        });
        self.running = Some(Running::InProcess { shutdown, task });
    }

    /// Start `binary up` on a free port and wait until it says it serves
    /// there (a real Spin compiles the app first: allow a minute).
    ///
    /// The port is picked free, then released for the runtime to bind, so a
    /// server of a scenario running beside this one can take it first. A
    /// connection to the port could then reach that other server; the
    /// runtime's own `Serving http://…` line cannot. Its standard output goes
    /// to a file in the state directory (a pipe nobody drains would stall
    /// it), and a runtime that exits before serving is started again on
    /// another port.
    async fn boot_external(&mut self, binary: &Path) {
        const ATTEMPTS: usize = 5;
        static BOOTS: AtomicUsize = AtomicUsize::new(0);
        for attempt in 1..=ATTEMPTS {
            let addr = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port");
            let log = self.state_dir.join(format!("runtime-{}.log", BOOTS.fetch_add(1, Ordering::Relaxed)));
            let mut child = self.spawn_external(binary, addr, &log);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let output = std::fs::read_to_string(&log).unwrap_or_default();
                if let Some(serving) = output.lines().find_map(|line| line.strip_prefix("Serving http://")) {
                    self.base = format!("http://{}", serving.trim());
                    self.running = Some(Running::External(child));
                    return;
                }
                if let Ok(Some(status)) = child.try_wait() {
                    assert!(
                        attempt < ATTEMPTS,
                        "{} up -f {} exited with {status} before serving ({ATTEMPTS} attempts); its output:\n{output}",
                        binary.display(),
                        self.manifest.display()
                    );
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{} did not serve on {addr} within 60 s; its output:\n{output}",
                    binary.display()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn spawn_external(&self, binary: &Path, addr: std::net::SocketAddr, log: &Path) -> tokio::process::Child {
        let app = app_argument(&self.manifest);
        let mut command = match package() {
            // A bundle is the runtime and the app in one: it takes `up`'s flags.
            Package::Bundle => tokio::process::Command::new(&app),
            _ => {
                let mut command = tokio::process::Command::new(binary);
                command.arg("up").arg("-f").arg(&app);
                command
            }
        };
        command
            .arg("--listen")
            .arg(addr.to_string())
            .current_dir(&self.state_dir)
            .stdout(std::fs::File::create(log).expect("the runtime's log file"))
            .kill_on_drop(true);
        if let Some(config) = &self.runtime_config {
            command.arg("--runtime-config-file").arg(config);
        }
        for (name, value) in std::iter::once((TOKEN_SECRET.0.to_string(), TOKEN_SECRET.1.to_string()))
            .chain(self.variables.iter().cloned())
        {
            command.env(format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()), value);
        }
        command.spawn().unwrap_or_else(|e| panic!("cannot start KEEL_TEST_RUNTIME={}: {e}", binary.display()))
    }

    async fn stop(&mut self) {
        match self.running.take() {
            Some(Running::InProcess { shutdown, task }) => {
                let _ = shutdown.send(());
                task.await.expect("server task").expect("server ran cleanly");
            }
            Some(Running::External(mut child)) => {
                // SIGTERM, as an orchestrator stops it, then wait for the exit.
                if let Some(pid) = child.id() {
                    let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
                }
                if tokio::time::timeout(Duration::from_secs(30), child.wait()).await.is_err() {
                    let _ = child.kill().await;
                }
            }
            None => {}
        }
    }

    /// Run `statements` on the app's database directly, as someone with
    /// access to the database server (or the SQLite file) could.
    pub async fn execute_on_database(&self, statements: &str) {
        let variable = |name: &str| self.variables.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        if let Some(url) = variable("postgres_url") {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("PostgreSQL");
            tokio::spawn(connection);
            client.batch_execute(statements).await.expect("statements run on PostgreSQL");
        } else if let Some(url) = variable("mysql_url") {
            use mysql_async::prelude::Queryable;
            let mut conn = mysql_async::Conn::from_url(&url).await.expect("MySQL");
            conn.query_drop(statements).await.expect("statements run on MySQL");
            let _ = conn.disconnect().await;
        } else {
            let path = find_file(&self.state_dir, "sqlite_db.db").expect("the app's SQLite database file");
            let connection = rusqlite::Connection::open(&path).expect("open the SQLite file");
            connection.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
            connection.execute_batch(statements).expect("statements run on SQLite");
        }
    }

    /// The one integer `query` (a `SELECT count(*) …`) returns, from the
    /// app's database, whichever engine it is.
    pub async fn count_on_database(&self, query: &str) -> i64 {
        let variable = |name: &str| self.variables.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        if let Some(url) = variable("postgres_url") {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("PostgreSQL");
            tokio::spawn(connection);
            client.query_one(query, &[]).await.expect("the count runs on PostgreSQL").get(0)
        } else if let Some(url) = variable("mysql_url") {
            use mysql_async::prelude::Queryable;
            let mut conn = mysql_async::Conn::from_url(&url).await.expect("MySQL");
            let count: Option<i64> = conn.query_first(query).await.expect("the count runs on MySQL");
            let _ = conn.disconnect().await;
            count.expect("a count")
        } else {
            let path = find_file(&self.state_dir, "sqlite_db.db").expect("the app's SQLite database file");
            let connection = rusqlite::Connection::open(&path).expect("open the SQLite file");
            connection.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
            connection.query_row(query, [], |row| row.get(0)).expect("the count runs on SQLite")
        }
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        self.boot().await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match self.running.take() {
            Some(Running::InProcess { shutdown, .. }) => {
                let _ = shutdown.send(());
            }
            Some(Running::External(mut child)) => {
                let _ = child.start_kill();
            }
            None => {}
        }
        if self.owns_state {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

/// The first file called `name` under `dir`.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|file| file == name) {
            return Some(path);
        }
    }
    None
}

fn require_built(path: &Path) {
    assert!(path.exists(), "{} is missing: run scripts/build-components.sh first", path.display());
}

#[given("a running team-collab server")]
async fn team_collab_server(world: &mut KeelWorld) {
    start_team_collab(world, Vec::new()).await;
}

/// The product with one rate-limit policy overridden (variable `rate_limit_<policy>`).
#[given(expr = "a running team-collab server whose rate limit {string} is {string}")]
async fn team_collab_server_with_limit(world: &mut KeelWorld, policy: String, limit: String) {
    start_team_collab(world, vec![(format!("rate_limit_{policy}"), limit)]).await;
}

/// The product with several rate-limit policies overridden, one
/// `| policy | limit |` row each.
#[given("a running team-collab server with rate limits:")]
async fn team_collab_server_with_limits(world: &mut KeelWorld, step: &cucumber::gherkin::Step) {
    let table = step.table.as_ref().expect("a table of | policy | limit | rows");
    let limits = table.rows.iter().map(|row| (format!("rate_limit_{}", row[0]), row[1].clone())).collect();
    start_team_collab(world, limits).await;
}

/// The product with one variable set (as `--variable name=value`).
#[given(expr = "a running team-collab server whose variable {string} is {string}")]
async fn team_collab_server_with_variable(world: &mut KeelWorld, name: String, value: String) {
    start_team_collab(world, vec![(name, value)]).await;
}

/// The product with its feature flags declared as `flags` (the JSON of
/// the `feature_flags` variable).
#[given(regex = r"^a running team-collab server whose feature flags are '(.*)'$")]
async fn team_collab_server_with_flags(world: &mut KeelWorld, flags: String) {
    start_team_collab(world, vec![("feature_flags".to_owned(), flags)]).await;
}

async fn start_team_collab(world: &mut KeelWorld, extra: Vec<(String, String)>) {
    let Target::TeamCollab(deployment) = target() else {
        panic!("suite/target mismatch");
    };
    let manifest = repo_root().join(deployment.manifest);
    start_deployment(world, &deployment, manifest, extra).await;
}

/// The suite's deployment, its product component also allowed to reach
/// `origin` (a webhook receiver), with `extra` variables.
pub(super) async fn start_team_collab_reaching(world: &mut KeelWorld, origin: &str, extra: Vec<(String, String)>) {
    let Target::TeamCollab(deployment) = target() else {
        panic!("suite/target mismatch");
    };
    let original = repo_root().join(deployment.manifest);
    let text = std::fs::read_to_string(&original).expect("the deployment's manifest");
    let section = text.find("[component.team-collab]").expect("a [component.team-collab] section");
    let list = "allowed_outbound_hosts = [";
    let at = section + text[section..].find(list).expect("team-collab's allowed_outbound_hosts") + list.len();
    let separator = if text[at..].trim_start().starts_with(']') { "" } else { ", " };
    let text = format!("{}\"{origin}\"{separator}{}", &text[..at], &text[at..]);
    let text = relocated(&text, &original);
    let manifest = scratch_dir().join("spin.toml");
    std::fs::write(&manifest, text).expect("write the manifest");
    start_deployment(world, &deployment, manifest, extra).await;
}

async fn start_deployment(
    world: &mut KeelWorld,
    deployment: &Deployment,
    manifest: PathBuf,
    extra: Vec<(String, String)>,
) {
    require_built(&repo_root().join(deployment.component));
    if deployment.uses_mock_provider() {
        world.mock = Some(mail::MockProvider::start().await);
    }
    let mock_base = world.mock.as_ref().map(|mock| mock.base.clone()).unwrap_or_default();
    let mut variables = resolve(world, deployment.variables, &mock_base).await;
    variables.extend(extra);
    world.server = Some(Server::start(manifest, None, variables, Duration::from_secs(10)).await);
}

/// The PostgreSQL composition of the product pointed at a database that
/// does not exist: every request that needs the database fails to connect.
#[given("a running team-collab server whose PostgreSQL database does not exist")]
async fn team_collab_without_database(world: &mut KeelWorld) {
    require_built(&repo_root().join("dist/team-collab-postgres.wasm"));
    let variables = vec![("postgres_url".to_string(), super::postgres::missing_database_url())];
    let manifest = repo_root().join("products/team-collab/spin-postgres.toml");
    world.server = Some(Server::start(manifest, None, variables, Duration::from_secs(10)).await);
}

/// The text of the manifest `original`, for a copy elsewhere: its paths
/// (component sources, mounted directories) made absolute, so they still
/// name what the original names.
fn relocated(text: &str, original: &Path) -> String {
    let base = original.parent().expect("the manifest's directory");
    text.replace("source = \"", &format!("source = \"{}/", base.display()))
}

/// A copy of the product manifest `original` (under `products/team-collab`)
/// whose allow list `from` reads `to`, its component paths made absolute.
fn manifest_with_allow_list(original: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join(original)).expect("the product manifest");
    let from = format!("allowed_outbound_hosts = {from}");
    assert!(text.contains(&from), "{original} no longer has `{from}`; update this step");
    let text = relocated(&text.replace(&from, &format!("allowed_outbound_hosts = {to}")), &repo_root().join(original));
    let manifest = scratch_dir().join("spin.toml");
    std::fs::write(&manifest, text).expect("write the manifest");
    manifest
}

/// The PostgreSQL composition with an allow list that names only
/// `localhost`, given a fresh schema at `127.0.0.1`: the server is there,
/// but the component may not reach it.
#[given("a running team-collab server whose PostgreSQL address is not on its allow list")]
async fn team_collab_database_not_allowed(world: &mut KeelWorld) {
    require_built(&repo_root().join("dist/team-collab-postgres.wasm"));
    let manifest = manifest_with_allow_list(
        "products/team-collab/spin-postgres.toml",
        r#"["postgres://127.0.0.1:5432", "postgres://localhost:5432"]"#,
        r#"["postgres://localhost:5432"]"#,
    );
    let url = super::postgres::fresh_schema_url().await;
    assert!(url.contains("@127.0.0.1:"), "the test database must be addressed as 127.0.0.1: {url}");
    world.server =
        Some(Server::start(manifest, None, vec![("postgres_url".into(), url)], Duration::from_secs(10)).await);
}

/// The SendGrid composition pointed at the mock provider, with an allow list
/// that names only SendGrid's real API: the mock may not be reached.
#[given("a running team-collab server whose SendGrid API is not on its allow list")]
async fn team_collab_mail_not_allowed(world: &mut KeelWorld) {
    require_built(&repo_root().join("dist/team-collab-sendgrid.wasm"));
    let manifest = manifest_with_allow_list(
        "products/team-collab/spin-sendgrid.toml",
        r#"["{{ sendgrid_api_base }}"]"#,
        r#"["https://api.sendgrid.com"]"#,
    );
    let deployment = deployments().into_iter().find(|d| d.manifest.ends_with("spin-sendgrid.toml")).expect("SendGrid");
    let mock = world.mock.insert(mail::MockProvider::start().await);
    let mock_base = mock.base.clone();
    let variables = resolve(world, deployment.variables, &mock_base).await;
    world.server = Some(Server::start(manifest, None, variables, Duration::from_secs(10)).await);
}

#[then("the app's database has no tables")]
async fn database_has_no_tables(world: &mut KeelWorld) {
    let server = world.server.as_ref().expect("a running server");
    let url = server.variables.iter().find(|(n, _)| n == "postgres_url").map(|(_, v)| v.clone()).expect("postgres_url");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("PostgreSQL");
    tokio::spawn(connection);
    let row = client
        .query_one("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()", &[])
        .await
        .expect("count tables");
    assert_eq!(row.get::<_, i64>(0), 0, "the component reached a database its allow list does not name");
}

#[given(expr = "a running {word} implementation")]
async fn implementation_server(world: &mut KeelWorld, interface: String) {
    let Target::Conformance(implementation) = target() else {
        panic!("conformance steps need a conformance target");
    };
    assert_eq!(implementation.interface, interface, "suite/target mismatch");
    if implementation.uses_mock_provider() {
        world.mock = Some(mail::MockProvider::start().await);
    }
    let mock_base = world.mock.as_ref().map(|mock| mock.base.clone()).unwrap_or_default();
    let variables = resolve(world, implementation.variables, &mock_base).await;
    let variables = oidc::with_local_issuer(world, variables).await;
    let runtime_config = implementation.runtime_config.map(|text| match text.contains(REDIS) {
        true => {
            let (url, database) = super::redis::fresh_database();
            world.redis_database = Some(database);
            text.replace(REDIS, &url)
        }
        false => text.to_string(),
    });
    world.server = Some(
        Server::start(
            repo_root().join(implementation.manifest),
            runtime_config.as_deref(),
            variables,
            Duration::from_secs(10),
        )
        .await,
    );
}

/// The SQL probe on sql-postgres, reaching the test server through a fresh
/// TLS front whose certificate a private CA signed; `ca_root` is the
/// `postgres_ca_root` variable.
async fn start_postgres_tls_probe(world: &mut KeelWorld, options: &str, ca_root: Option<String>) {
    assert!(matches!(target(), Target::Conformance(ref i) if i.interface == "postgres-tls"), "suite/target mismatch");
    let front = world.tls_front.insert(super::postgres::TlsFront::start().await);
    let url = super::postgres::fresh_schema_url_through(front.port, options).await;
    let mut variables = vec![("postgres_url".to_string(), url)];
    variables.extend(ca_root.map(|pem| ("postgres_ca_root".to_string(), pem)));
    let manifest = repo_root().join("tests/probes/sql-probe/spin-postgres.toml");
    world.server = Some(Server::start(manifest, None, variables, Duration::from_secs(10)).await);
}

#[given(
    regex = r#"^a sql probe on PostgreSQL behind TLS, with "([^"]*)" in its address and (with|without) the CA root$"#
)]
async fn postgres_tls_probe(world: &mut KeelWorld, options: String, ca: String) {
    let ca_root = (ca == "with").then(super::postgres::TlsFront::ca_root);
    start_postgres_tls_probe(world, &options, ca_root).await;
}

#[given(regex = r#"^a sql probe on PostgreSQL behind TLS, with "([^"]*)" in its address and a CA root of "([^"]*)"$"#)]
async fn postgres_tls_probe_with_root(world: &mut KeelWorld, options: String, ca_root: String) {
    start_postgres_tls_probe(world, &options, Some(ca_root)).await;
}

#[given(expr = "a running fault probe with a request timeout of {int} second(s)")]
async fn fault_server(world: &mut KeelWorld, seconds: u64) {
    assert!(matches!(target(), Target::Faults), "suite/target mismatch");
    world.server = Some(
        Server::start(
            repo_root().join("tests/probes/kv-probe/spin.toml"),
            None,
            Vec::new(),
            Duration::from_secs(seconds),
        )
        .await,
    );
}

#[cucumber::when("the server restarts")]
async fn restart(world: &mut KeelWorld) {
    world.server.as_mut().expect("running server").restart().await;
}
