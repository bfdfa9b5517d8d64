//! The harness the runtime's integration tests share: `keel up` as a child
//! process on loopback, and raw HTTP/1.1 requests to it.
#![allow(dead_code)] // each test crate uses its own part of it

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("runtime/ is in the repository").to_path_buf()
}

/// `keel up -f`'s argument: a manifest relative to the repository root, or
/// anything else (`oci-layout:DIR`, a registry reference) as given.
fn app_argument(from: &str) -> std::ffi::OsString {
    let manifest = repo_root().join(from);
    if manifest.exists() { manifest.into() } else { from.into() }
}

/// A `keel up` child process, killed on drop.
pub struct Keel {
    pub child: Child,
    pub addr: SocketAddr,
    /// What the process wrote to stdout after "Serving …".
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub _state: TempDir,
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("keel-hardening-{tag}-{}-{nonce}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The product on its embedded defaults (`spin.toml` at the root).
pub const PRODUCT: &str = "spin.toml";
/// The kv probe, which also has fault routes (`/fault/spin` never returns).
pub const PROBE: &str = "tests/probes/kv-probe/spin.toml";

impl Keel {
    pub async fn start(manifest: &str, flags: &[&str]) -> Keel {
        Self::try_start(manifest, flags, None).await.unwrap_or_else(|stderr| panic!("keel up failed: {stderr}"))
    }

    /// Start `keel up`; the error is its stderr if it exits instead of serving.
    pub async fn try_start(manifest: &str, flags: &[&str], runtime_config: Option<&str>) -> Result<Keel, String> {
        Self::try_start_on(TempDir::new("state"), manifest, flags, runtime_config).await
    }

    /// Start `keel up` on an existing state directory.
    pub async fn try_start_on(
        state: TempDir,
        manifest: &str,
        flags: &[&str],
        runtime_config: Option<&str>,
    ) -> Result<Keel, String> {
        let up = ["up".into(), "-f".into(), app_argument(manifest)];
        Self::launch(Path::new(env!("CARGO_BIN_EXE_keel")), &up, state, flags, runtime_config, &[]).await
    }

    /// Start `keel up` with `env` added to its environment.
    pub async fn start_with_env(manifest: &str, flags: &[&str], env: &[(&str, &str)]) -> Result<Keel, String> {
        let up = ["up".into(), "-f".into(), app_argument(manifest)];
        Self::launch(Path::new(env!("CARGO_BIN_EXE_keel")), &up, TempDir::new("state"), flags, None, env).await
    }

    /// Run `program` with `leading` arguments then `up`'s serving flags
    /// (a free port, the test secret, `state` as state directory, `flags`)
    /// until it prints the address it serves.
    pub async fn launch(
        program: &Path,
        leading: &[std::ffi::OsString],
        state: TempDir,
        flags: &[&str],
        runtime_config: Option<&str>,
        env: &[(&str, &str)],
    ) -> Result<Keel, String> {
        let mut command = Command::new(program);
        command.envs(env.iter().copied());
        command
            .args(leading)
            .args(["--listen", "127.0.0.1:0", "--variable", "token_secret=hardening-test-secret-0123456789abcdef"])
            .arg("--state-dir")
            .arg(&state.0)
            .arg("--cache-dir")
            .arg(repo_root().join(".keel/cache"))
            .args(flags)
            .env("KEEL_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(text) = runtime_config {
            let file = state.0.join("runtime-config.toml");
            std::fs::write(&file, text).unwrap();
            command.arg("--runtime-config-file").arg(file);
        }
        Self::serving(command, state).await
    }

    /// Spawn `command` (its stdout and stderr piped) and wait until it
    /// prints the address it serves; the error is its stderr if it exits.
    pub async fn serving(mut command: Command, state: TempDir) -> Result<Keel, String> {
        command.stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let serving = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = stdout.next_line().await {
                if let Some(addr) = line.strip_prefix("Serving http://") {
                    return Some(addr.parse::<SocketAddr>().expect("a socket address"));
                }
            }
            None
        })
        .await
        .expect("keel starts within 60 s");
        let Some(addr) = serving else {
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).await.unwrap();
            return Err(stderr);
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                kept.lock().unwrap().push(line);
            }
        });
        Ok(Keel { child, addr, stdout: lines, _state: state })
    }

    /// SIGKILL the process (no drain, no clean shutdown) and hand back its
    /// state directory.
    pub async fn kill_9(mut self) -> TempDir {
        self.child.kill().await.expect("SIGKILL keel");
        self._state
    }

    /// Send raw bytes on a new connection and read the response to EOF
    /// (the request should say `connection: close`).
    pub async fn raw(&self, request: &str) -> Response {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        read_response(&mut stream).await
    }

    pub async fn request(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> Response {
        let auth = token.map(|t| format!("authorization: Bearer {t}\r\n")).unwrap_or_default();
        self.raw(&format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ))
        .await
    }

    /// Like [`Keel::request`] with a token, but `None` when the connection
    /// fails or closes before a whole response (the server was killed).
    pub async fn request_fallible(
        addr: SocketAddr,
        method: &str,
        path: &str,
        token: &str,
        body: &str,
    ) -> Option<Response> {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some(Response { status, head: head.to_string(), body: body.to_string() })
    }

    /// Sign up a fresh account and return its token.
    pub async fn signup(&self, email: &str) -> String {
        let body = format!(r#"{{"email":"{email}","password":"correct-horse-1","display_name":"Tester"}}"#);
        let response = self.request("POST", "/v1/auth/signup", None, &body).await;
        assert_eq!(response.status, 201, "{}", response.body);
        let json: serde_json::Value = serde_json::from_str(&response.body).unwrap();
        json["token"].as_str().unwrap().to_string()
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

pub async fn read_response(stream: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("response within 30 s")
        .expect("readable response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut response = Response { status, head: head.to_string(), body: body.to_string() };
    if response.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        response.body = dechunk(body);
    }
    response
}

/// Decode an HTTP/1.1 chunked body (no trailers are expected).
pub fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    body
}

/// Whether the server closed `stream` (EOF or reset) within `within`.
pub async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}
