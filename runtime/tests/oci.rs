//! Applications as OCI artifacts in Spin's format: `keel registry push`
//! into an image layout and into a real registry (Debian's
//! `docker-registry`, the CNCF distribution server, on loopback), read back
//! by an independent client (oras-py), pulled, and served by `keel up`.
//!
//! Needs `docker-registry` on PATH and `KEEL_TEST_PYTHON` naming a Python
//! with the `oras` package (`scripts/test.sh` sets both up).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::*;

/// Run `keel` with `args`; reproducible timestamps so two packings of the
/// same app have the same digest.
fn keel(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(args)
        .current_dir(repo_root())
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .env("KEEL_LOG", "warn")
        .output()
        .expect("run keel")
}

fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "keel failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout.join("blobs/sha256").join(digest.strip_prefix("sha256:").expect("a sha256 digest"))
}

/// Pack the product (`spin.toml`) into a fresh layout.
fn packed_product(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    let layout = dir.0.join("layout");
    ok(keel(&["registry", "push", "-f", "spin.toml", "--oci-layout", layout.to_str().unwrap(), "v1"]));
    dir
}

#[test]
fn the_layout_is_what_spin_registry_push_writes() {
    let dir = packed_product("layout");
    let layout = dir.0.join("layout");
    assert_eq!(read_json(&layout.join("oci-layout"))["imageLayoutVersion"], "1.0.0");
    let index = read_json(&layout.join("index.json"));
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["annotations"]["org.opencontainers.image.ref.name"], "v1");

    // Every descriptor's digest and size match the blob's bytes.
    let check = |descriptor: &Value| -> Vec<u8> {
        let digest = descriptor["digest"].as_str().unwrap();
        let bytes = std::fs::read(blob(&layout, digest)).unwrap();
        assert_eq!(sha256(&bytes), digest);
        assert_eq!(bytes.len() as u64, descriptor["size"].as_u64().unwrap(), "size of {digest}");
        bytes
    };
    let manifest: Value = serde_json::from_slice(&check(&entries[0])).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(manifest["annotations"]["org.opencontainers.image.title"], "team-collab");
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");
    let config: Value = serde_json::from_slice(&check(&manifest["config"])).unwrap();

    let layers = manifest["layers"].as_array().unwrap();
    let locked_layer = layers.last().unwrap();
    assert_eq!(locked_layer["mediaType"], "application/vnd.fermyon.spin.application.v1+config");
    let locked: Value = serde_json::from_slice(&check(locked_layer)).unwrap();
    assert_eq!(config["config"]["Labels"]["com.fermyon.spin.lockedAppDigest"], locked_layer["digest"]);
    assert_eq!((config["architecture"].as_str(), config["os"].as_str()), (Some("wasm"), Some("Wasip1")));
    assert_eq!(locked["spin_lock_version"], 1);
    assert_eq!(locked["triggers"][0]["trigger_type"], "http");

    // Every component source is a Wasm layer, and every Wasm layer a source;
    // every mounted file is a data layer, as `spin registry push` writes them.
    let of_type = |media_type: &str| -> BTreeMap<&str, &Value> {
        layers[..layers.len() - 1]
            .iter()
            .filter(|l| l["mediaType"] == media_type)
            .map(|l| {
                check(l);
                (l["digest"].as_str().unwrap(), l)
            })
            .collect()
    };
    let wasm_layers = of_type("application/vnd.wasm.content.layer.v1+wasm");
    let data_layers = of_type("application/vnd.wasm.content.layer.v1+data");
    assert_eq!(wasm_layers.len() + data_layers.len(), layers.len() - 1, "only Wasm and data layers before the lock");
    let web = locked["components"].as_array().unwrap().iter().find(|c| c["id"] == "web").expect("the web client");
    let index = web["files"].as_array().unwrap().iter().find(|f| f["path"] == "index.html").expect("index.html");
    let digest = index["content"]["digest"].as_str().unwrap();
    assert!(data_layers.contains_key(digest));
    assert_eq!(
        std::fs::read(blob(&layout, digest)).unwrap(),
        std::fs::read(repo_root().join("products/team-collab/web/index.html")).unwrap()
    );
    let sources: Vec<&str> =
        locked["components"].as_array().unwrap().iter().map(|c| c["source"]["digest"].as_str().unwrap()).collect();
    assert!(!sources.is_empty());
    for source in &sources {
        assert!(wasm_layers.contains_key(source), "source {source} has no layer");
    }
    assert_eq!(wasm_layers.len(), sources.iter().collect::<std::collections::BTreeSet<_>>().len());
    // The locked app carries no path of the machine that packed it.
    let text = locked.to_string();
    assert!(!text.contains(repo_root().to_str().unwrap()), "the locked app leaks a local path: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keel_up_serves_the_product_from_a_layout() {
    let dir = packed_product("serve-layout");
    let from = format!("oci-layout:{}", dir.0.join("layout").display());
    let keel = Keel::start(&from, &[]).await;
    let health = keel.request("GET", "/healthz", None, "").await;
    assert_eq!(health.status, 200, "{}", health.body);
    keel.signup("layout@example.com").await;
    // The web client's files came with the artifact: a page load (a
    // browser's navigation asks for HTML) of one of its screens gets it.
    let page = keel
        .raw("GET /workspaces/wsp_1 HTTP/1.1\r\nhost: localhost\r\naccept: text/html,*/*;q=0.8\r\nconnection: close\r\n\r\n")
        .await;
    assert_eq!((page.status, page.body.contains("<title>Keel team-collab</title>")), (200, true), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_component_is_refused_and_nothing_is_served() {
    let dir = packed_product("tamper");
    let layout = dir.0.join("layout");
    let index = read_json(&layout.join("index.json"));
    let manifest = read_json(&blob(&layout, index["manifests"][0]["digest"].as_str().unwrap()));
    let wasm = manifest["layers"][0]["digest"].as_str().unwrap();
    let path = blob(&layout, wasm);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();

    let from = format!("oci-layout:{}", layout.display());
    let stderr = match Keel::try_start(&from, &[], None).await {
        Ok(_) => panic!("keel served a layout whose component does not match its digest"),
        Err(stderr) => stderr,
    };
    assert!(stderr.contains(wasm) && stderr.contains("does not match"), "{stderr}");
}

/// Debian's `docker-registry` (CNCF distribution) on a free loopback port,
/// storing into a temporary directory; killed on drop.
struct Registry {
    child: std::process::Child,
    addr: String,
    _dir: TempDir,
}

impl Registry {
    async fn start() -> Registry {
        Self::start_with_users(&[]).await
    }

    /// A registry that admits only `users` (`(name, password)`), through
    /// HTTP Basic authentication from an htpasswd file of bcrypt hashes, as
    /// the distribution server requires.
    async fn start_with_users(users: &[(&str, &str)]) -> Registry {
        let dir = TempDir::new("registry");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.0.join("data").display()
        );
        if !users.is_empty() {
            let mut htpasswd = String::new();
            for (user, password) in users {
                htpasswd.push_str(&format!("{user}:{}\n", bcrypt(password)));
            }
            let path = dir.0.join("htpasswd");
            std::fs::write(&path, htpasswd).unwrap();
            config.push_str(&format!("auth:\n  htpasswd:\n    realm: keel-test\n    path: {}\n", path.display()));
        }
        let config_path = dir.0.join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let config = config_path;
        let child = std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry is on PATH (Debian package docker-registry; scripts/install-host-deps.sh)");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(&addr).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "docker-registry did not listen on {addr}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Registry { child, addr, _dir: dir }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> String {
    std::env::var("KEEL_TEST_PYTHON")
        .expect("KEEL_TEST_PYTHON names a Python with the `oras` package (scripts/install-deploy-deps.sh)")
}

/// A bcrypt hash of `password` (libxcrypt through Python's `crypt`).
fn bcrypt(password: &str) -> String {
    let out = std::process::Command::new(python())
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
        ])
        .arg(password)
        .output()
        .expect("run python");
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with("$2"), "no bcrypt hash: {hash} {}", String::from_utf8_lossy(&out.stderr));
    hash
}

/// `keel registry …` with credentials only from `docker_config` (a
/// directory holding Docker's `config.json`) and `env`.
fn keel_with_credentials(args: &[&str], docker_config: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_keel"));
    command
        .args(args)
        .current_dir(repo_root())
        .env_remove("KEEL_REGISTRY_USERNAME")
        .env_remove("KEEL_REGISTRY_PASSWORD")
        .env("DOCKER_CONFIG", docker_config)
        .env("KEEL_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run keel")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_needs_credentials_gets_them_and_refuses_without() {
    let registry = Registry::start_with_users(&[("ci", "s3cret-push")]).await;
    let reference = format!("{}/keel/private:v1", registry.addr);
    let dir = TempDir::new("credentials");
    let empty = dir.0.join("no-docker-config");
    std::fs::create_dir(&empty).unwrap();
    let push = ["registry", "push", "-f", "spin.toml", reference.as_str()];

    let anonymous = keel_with_credentials(&push, &empty, &[]);
    let stderr = String::from_utf8_lossy(&anonymous.stderr);
    assert!(!anonymous.status.success() && stderr.contains("needs credentials"), "{stderr}");
    let wrong =
        keel_with_credentials(&push, &empty, &[("KEEL_REGISTRY_USERNAME", "ci"), ("KEEL_REGISTRY_PASSWORD", "guess")]);
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success() && stderr.contains("401"), "{stderr}");
    assert!(!stderr.contains("guess"), "the password is printed: {stderr}");

    // Docker's config.json, as `docker login` writes it.
    let docker = dir.0.join("docker");
    std::fs::create_dir(&docker).unwrap();
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret-push");
    std::fs::write(docker.join("config.json"), format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.addr))
        .unwrap();
    let pushed = keel_with_credentials(&push, &docker, &[]);
    assert!(pushed.status.success(), "{}", String::from_utf8_lossy(&pushed.stderr));

    let layout = dir.0.join("pulled");
    let pull = ["registry", "pull", "--oci-layout", layout.to_str().unwrap(), reference.as_str()];
    let refused = keel_with_credentials(&pull, &empty, &[]);
    assert!(!refused.status.success());
    assert!(
        !layout.join("index.json").exists() || !read_json(&layout.join("index.json")).to_string().contains("private")
    );
    let pulled = keel_with_credentials(
        &pull,
        &empty,
        &[("KEEL_REGISTRY_USERNAME", "ci"), ("KEEL_REGISTRY_PASSWORD", "s3cret-push")],
    );
    assert!(pulled.status.success(), "{}", String::from_utf8_lossy(&pulled.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_pull_round_trip_through_a_real_registry() {
    let registry = Registry::start().await;
    let reference = format!("{}/keel/team-collab:v1", registry.addr);
    let pushed = ok(keel(&["registry", "push", "-f", "spin.toml", &reference]));
    let digest = pushed.trim().strip_prefix("Pushed with digest ").unwrap_or_else(|| panic!("{pushed}")).to_string();

    // The same app packed into a layout: the registry holds the very same bytes.
    let dir = packed_product("round-trip");
    let layout = dir.0.join("layout");
    let index = read_json(&layout.join("index.json"));
    assert_eq!(index["manifests"][0]["digest"].as_str(), Some(digest.as_str()), "registry and layout differ");

    // An independent client reads every blob back with identical digests.
    let readback = std::process::Command::new(python())
        .arg(repo_root().join("runtime/tests/oras_readback.py"))
        .arg(&reference)
        .output()
        .expect("run oras_readback.py");
    assert!(readback.status.success(), "{}", String::from_utf8_lossy(&readback.stderr));
    let readback: Value = serde_json::from_slice(&readback.stdout).unwrap();
    assert_eq!(readback["manifest"].as_str(), Some(digest.as_str()));
    let manifest = read_json(&blob(&layout, &digest));
    let descriptors: Vec<&Value> =
        std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap()).collect();
    assert_eq!(readback["blobs"].as_object().unwrap().len(), descriptors.len());
    for descriptor in descriptors {
        let digest = descriptor["digest"].as_str().unwrap();
        assert_eq!(readback["blobs"][digest]["sha256"].as_str(), Some(digest));
        assert_eq!(readback["blobs"][digest]["size"], descriptor["size"]);
    }

    // `keel registry pull` writes the same manifest into a layout.
    let pulled = dir.0.join("pulled");
    ok(keel(&["registry", "pull", "--oci-layout", pulled.to_str().unwrap(), &reference]));
    let pulled_index = read_json(&pulled.join("index.json"));
    assert_eq!(pulled_index["manifests"][0]["digest"].as_str(), Some(digest.as_str()));

    // And `keel up -f REFERENCE` (SpinKube's command line) serves it.
    let keel = Keel::start(&reference, &[]).await;
    let health = keel.request("GET", "/healthz", None, "").await;
    assert_eq!(health.status, 200, "{}", health.body);
    keel.signup("registry@example.com").await;
}

#[test]
fn a_missing_artifact_is_a_clear_error() {
    let output = keel(&["up", "-f", "127.0.0.1:9/keel/absent:v1", "--listen", "127.0.0.1:0"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pulling 127.0.0.1:9/keel/absent:v1"), "{stderr}");
    let output = keel(&["up", "-f", "no/such/spin.toml"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("no/such/spin.toml"), "{stderr}");
}
