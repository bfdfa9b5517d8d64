//! `keel bundle`: one executable holding Keel's runtime and the product.
//! Each test writes a bundle of the embedded-defaults product (`spin.toml`,
//! components from `dist/`) and runs it the way an operator would.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::*;

fn run(program: &Path, args: &[&str]) -> Output {
    std::process::Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .env("KEEL_LOG", "info")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn keel() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_keel"))
}

/// Write a bundle of the product into `dir`, signed with `sign` if given.
fn bundle(dir: &Path, sign: Option<&Path>) -> PathBuf {
    let out = dir.join("team-collab");
    let mut args = vec!["bundle", "-f", "spin.toml", "-o", out.to_str().unwrap()];
    if let Some(key) = sign {
        args.extend(["--sign", key.to_str().unwrap()]);
    }
    let output = run(keel(), &args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    out
}

/// An Ed25519 key pair made by openssl: (private PKCS#8 PEM, public SPKI PEM).
fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let ok = |args: &[&str]| {
        let status = std::process::Command::new("openssl").args(args).status().expect("openssl is installed");
        assert!(status.success(), "openssl {args:?}");
    };
    ok(&["genpkey", "-algorithm", "ed25519", "-out", private.to_str().unwrap()]);
    ok(&["pkey", "-in", private.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()]);
    (private, public)
}

async fn start(bundle: &Path, flags: &[&str]) -> Result<Keel, String> {
    Keel::launch(bundle, &[], TempDir::new("bundle-state"), flags, None, &[]).await
}

/// The bundle's header (JSON) and where it starts, read from its trailer.
fn header(bytes: &[u8]) -> (Value, usize) {
    let trailer = &bytes[bytes.len() - 32..];
    assert_eq!(&trailer[24..], b"KEELAPP1");
    let field = |i: usize| u64::from_le_bytes(trailer[i * 8..i * 8 + 8].try_into().unwrap()) as usize;
    let (offset, len) = (field(0), field(1));
    (serde_json::from_slice(&bytes[offset..offset + len]).unwrap(), offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_serves_the_product_and_names_its_parts() {
    let dir = TempDir::new("bundle");
    let file = bundle(&dir.0, None);

    let version = run(&file, &["--version"]);
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(version.status.success(), "{}", String::from_utf8_lossy(&version.stderr));
    assert!(text.starts_with("team-collab "), "{text}");
    assert!(text.contains(&format!("keel {}", env!("CARGO_PKG_VERSION"))), "{text}");
    let wasm = std::fs::read(repo_root().join("dist/team-collab.wasm")).unwrap();
    let digest = {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&wasm)))
    };
    assert!(text.contains(&digest), "--version does not name the component's sha256: {text}");

    // Moved away from the checkout, it still serves: nothing is read from dist/.
    let elsewhere = TempDir::new("bundle-moved");
    let moved = elsewhere.0.join("app");
    std::fs::copy(&file, &moved).unwrap();
    let keel = start(&moved, &[]).await.unwrap_or_else(|e| panic!("the bundle did not start: {e}"));
    assert_eq!(keel.request("GET", "/healthz", None, "").await.status, 200);
    keel.signup("bundle@example.com").await;
    // The web client's files came with the bundle.
    let page = keel.request("GET", "/", None, "").await;
    assert_eq!((page.status, page.body.contains("<title>Keel team-collab</title>")), (200, true), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_component_or_precompiled_code_is_refused() {
    let dir = TempDir::new("bundle-tamper");
    let file = bundle(&dir.0, None);
    let pristine = std::fs::read(&file).unwrap();
    let (header, _) = header(&pristine);
    let (digest, blob) = header["blobs"].as_object().unwrap().iter().next().unwrap();
    let precompiled = &blob["precompiled"];
    let (file_digest, file) = header["files"].as_object().unwrap().iter().next().unwrap();
    for (what, offset, size, named) in [
        ("component", &blob["offset"], &blob["size"], digest.as_str()),
        ("precompiled code", &precompiled["offset"], &precompiled["size"], precompiled["digest"].as_str().unwrap()),
        ("a mounted file", &file["offset"], &file["size"], file_digest.as_str()),
    ] {
        let mut bytes = pristine.clone();
        let at = (offset.as_u64().unwrap() + size.as_u64().unwrap() / 2) as usize;
        bytes[at] ^= 0x40;
        let altered = dir.0.join("altered");
        std::fs::write(&altered, &bytes).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&altered, std::fs::Permissions::from_mode(0o755)).unwrap();
        match start(&altered, &[]).await {
            Ok(_) => panic!("a bundle with altered {what} was served"),
            Err(stderr) => assert!(stderr.contains(named) && stderr.contains("does not match"), "{what}: {stderr}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_key_admits_only_bundles_it_signed() {
    let dir = TempDir::new("bundle-sign");
    let (private, public) = key_pair(&dir.0, "release");
    let (other_private, _) = key_pair(&dir.0, "other");

    let signed = bundle(&dir.0, Some(&private));
    let version = String::from_utf8_lossy(&run(&signed, &["--version"]).stdout).to_string();
    assert!(version.contains("signed"), "{version}");
    let trusted = ["--trusted-key", public.to_str().unwrap()];
    let keel = start(&signed, &trusted).await.unwrap_or_else(|e| panic!("the signed bundle was refused: {e}"));
    assert_eq!(keel.request("GET", "/healthz", None, "").await.status, 200);
    drop(keel);

    let unsigned_dir = TempDir::new("bundle-unsigned");
    let unsigned = bundle(&unsigned_dir.0, None);
    let stderr = start(&unsigned, &trusted).await.err().expect("an unsigned bundle was served");
    assert!(stderr.contains("not signed"), "{stderr}");

    let other_dir = TempDir::new("bundle-other");
    let wrongly_signed = bundle(&other_dir.0, Some(&other_private));
    let stderr = start(&wrongly_signed, &trusted).await.err().expect("a bundle signed by another key was served");
    assert!(stderr.contains("does not verify"), "{stderr}");

    // Changing the signed header (here: which engine the code was made
    // for) breaks the signature.
    claim_another_engine(&signed);
    let stderr = start(&signed, &trusted).await.err().expect("a bundle with an altered header was served");
    assert!(stderr.contains("does not verify"), "{stderr}");
}

/// Rewrite the header of `bundle` to say its code was precompiled for an
/// engine this host is not (same length, so every offset stays valid).
fn claim_another_engine(bundle: &Path) {
    let mut bytes = std::fs::read(bundle).unwrap();
    let (header, offset) = header(&bytes);
    let blob = header["blobs"].as_object().unwrap().values().next().unwrap();
    let engine = blob["precompiled"]["engine"].as_str().unwrap().as_bytes();
    let at = offset + bytes[offset..].windows(engine.len()).position(|w| w == engine).expect("the engine key");
    bytes[at..at + engine.len()].fill(b'f');
    std::fs::write(bundle, &bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_precompiled_for_another_engine_is_compiled_again() {
    let dir = TempDir::new("bundle-engine");
    let file = bundle(&dir.0, None);
    claim_another_engine(&file);
    let keel = Keel::launch(&file, &[], TempDir::new("bundle-engine-state"), &[], None, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(keel.request("GET", "/healthz", None, "").await.status, 200);
    keel.signup("recompiled@example.com").await;
}
