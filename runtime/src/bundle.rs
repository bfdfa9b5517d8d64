//! Single-binary applications (`keel bundle`): a copy of the `keel`
//! executable with an application appended to it — the locked application,
//! every component, and each component precompiled for this host's engine.
//! Run, the file serves its application with `keel up`'s flags.
//!
//! ```text
//! [keel executable][component …][precompiled …][file …][header JSON][signature?][trailer]
//! trailer = header offset (u64 LE) · header length (u64 LE) · signature length (u64 LE) · "KEELAPP1"
//! ```
//!
//! The header pins every blob by SHA-256 and offset; a blob that does not
//! match is refused at start. `keel bundle --sign KEY` adds an Ed25519
//! signature over the header, and a bundle started with `--trusted-key`
//! refuses to run unless that signature verifies. A precompiled component
//! made for another engine (another wasmtime, other CPU features) is
//! compiled again from the embedded component, with a log line.

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::config::locked::{LockedApp, LockedFile};
use crate::config::manifest::Manifest;
use crate::engine::{self, InstanceNeeds};
use crate::oci::{Packed, sha256_digest};

const MAGIC: &[u8; 8] = b"KEELAPP1";
const TRAILER_LEN: u64 = 8 * 3 + MAGIC.len() as u64;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    keel_version: String,
    /// The locked application; component sources are digests of `blobs`.
    app: LockedApp,
    /// Component digest → where it and its precompiled form are.
    blobs: BTreeMap<String, Blob>,
    /// Mounted file digest → where its content is.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    files: BTreeMap<String, FileBlob>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FileBlob {
    offset: u64,
    size: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Blob {
    offset: u64,
    size: u64,
    /// What one instance takes from the instance pool (counted from the
    /// component, so a start from precompiled code need not read it).
    needs: InstanceNeeds,
    precompiled: Option<Precompiled>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Precompiled {
    offset: u64,
    size: u64,
    digest: String,
    /// The engine's compatibility hash it was made for.
    engine: String,
}

/// What `keel bundle` wrote.
pub struct Written {
    /// The bundle's size in bytes.
    pub size: u64,
    /// The components it carries (their paths in the manifest).
    pub components: Vec<String>,
}

/// Write `manifest`'s application, appended to this `keel` executable, to
/// `out` (an executable file); signed with the PKCS#8 PEM Ed25519 key in
/// `sign` when given.
pub fn write(manifest: &Manifest, out: &Path, sign: Option<&Path>) -> anyhow::Result<Written> {
    let signing_key = sign
        .map(|path| {
            let pem = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
                anyhow::anyhow!("{}: not an Ed25519 private key in PKCS#8 PEM ({e}); make one with `openssl genpkey -algorithm ed25519`", path.display())
            })
        })
        .transpose()?;
    let exe_path = running_executable()?;
    let mut exe = std::fs::read(&exe_path).with_context(|| format!("cannot read {}", exe_path.display()))?;
    // Bundling from a bundle: start from the plain executable.
    if let Some(trailer) = Trailer::parse(&exe) {
        exe.truncate(trailer.executable_len(&exe)?);
    }

    let engine = engine::shared_engine(true).or_else(|_| engine::shared_engine(false))?;
    let compat = engine::compatibility_key(&engine);
    let packed = Packed::read(manifest)?;
    let mut payload = Vec::new();
    let mut blobs = BTreeMap::new();
    for (digest, wasm) in packed.components {
        let compiled = engine
            .precompile_component(&wasm)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("component {digest} is not a valid component"))?;
        // SAFETY: `compiled` was just produced by this engine.
        let component = unsafe { Component::deserialize(&engine, &compiled) }.map_err(anyhow::Error::from)?;
        let needs = InstanceNeeds::of(&component, &wasm)?;
        let offset = (exe.len() + payload.len()) as u64;
        payload.extend_from_slice(&wasm);
        let precompiled_offset = (exe.len() + payload.len()) as u64;
        payload.extend_from_slice(&compiled);
        let precompiled = Precompiled {
            offset: precompiled_offset,
            size: compiled.len() as u64,
            digest: sha256_digest(&compiled),
            engine: compat.clone(),
        };
        blobs.insert(digest, Blob { offset, size: wasm.len() as u64, needs, precompiled: Some(precompiled) });
    }
    let mut files = BTreeMap::new();
    for (digest, content) in packed.files {
        files.insert(digest, FileBlob { offset: (exe.len() + payload.len()) as u64, size: content.len() as u64 });
        payload.extend_from_slice(&content);
    }
    let components = packed.locked.components.iter().filter_map(|c| c.source.content.digest.clone()).collect();
    let header = Header { keel_version: env!("CARGO_PKG_VERSION").into(), app: packed.locked, blobs, files };
    let header = serde_json::to_vec(&header)?;
    let signature = signing_key.map(|key| key.sign(&header).to_bytes().to_vec()).unwrap_or_default();
    let header_offset = (exe.len() + payload.len()) as u64;

    let tmp = out.with_extension("keel-tmp");
    let write = || -> std::io::Result<u64> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&exe)?;
        file.write_all(&payload)?;
        file.write_all(&header)?;
        file.write_all(&signature)?;
        file.write_all(&header_offset.to_le_bytes())?;
        file.write_all(&(header.len() as u64).to_le_bytes())?;
        file.write_all(&(signature.len() as u64).to_le_bytes())?;
        file.write_all(MAGIC)?;
        file.sync_all()?;
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&tmp, out)?;
        Ok(std::fs::metadata(out)?.len())
    };
    let size = write().with_context(|| format!("cannot write {}", out.display()))?;
    Ok(Written { size, components })
}

/// The running executable: `/proc/self/exe`, or where `argv[0]` points when
/// there is no `/proc` (an empty root with only the binary in it).
pub fn running_executable() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::current_exe() {
        return Ok(path);
    }
    let argv0 = std::env::args_os().next().context("no argv[0]")?;
    let path = PathBuf::from(&argv0);
    if path.components().count() > 1 && path.is_file() {
        return Ok(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(&argv0))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!("cannot find the running executable ({} is not a file, and /proc is missing)", path.display())
        })
}

/// The trailer at the end of a bundle.
struct Trailer {
    header_offset: u64,
    header_len: u64,
    signature_len: u64,
}

impl Trailer {
    fn from_bytes(tail: &[u8]) -> Option<Trailer> {
        let (fields, magic) = tail.split_at(tail.len() - MAGIC.len());
        if magic != MAGIC {
            return None;
        }
        let field = |i: usize| u64::from_le_bytes(fields[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Some(Trailer { header_offset: field(0), header_len: field(1), signature_len: field(2) })
    }

    /// The trailer of `file`'s bytes, if it is a bundle.
    fn parse(file: &[u8]) -> Option<Trailer> {
        (file.len() as u64 >= TRAILER_LEN)
            .then(|| Self::from_bytes(&file[file.len() - TRAILER_LEN as usize..]))
            .flatten()
    }

    /// Length of the executable the bundle's payload follows.
    fn executable_len(&self, file: &[u8]) -> anyhow::Result<usize> {
        let header = file
            .get(self.header_offset as usize..(self.header_offset + self.header_len) as usize)
            .context("the running bundle's header is out of bounds")?;
        let header: Header = serde_json::from_slice(header).context("the running bundle's header is not valid")?;
        Ok(header.blobs.values().map(|b| b.offset).min().unwrap_or(self.header_offset) as usize)
    }
}

/// An application embedded in the running executable.
#[derive(Debug)]
pub struct Embedded {
    file: PathBuf,
    header: Header,
    header_bytes: Vec<u8>,
    signature: Option<Signature>,
}

impl Embedded {
    /// The application appended to the running executable, if any.
    pub fn current() -> anyhow::Result<Option<Embedded>> {
        let path = running_executable()?;
        let mut file = std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = file.metadata()?.len();
        if len < TRAILER_LEN {
            return Ok(None);
        }
        let mut tail = vec![0; TRAILER_LEN as usize];
        file.seek(SeekFrom::Start(len - TRAILER_LEN))?;
        file.read_exact(&mut tail)?;
        let Some(trailer) = Trailer::from_bytes(&tail) else {
            return Ok(None);
        };
        let corrupt = || format!("{}: the embedded application is damaged", path.display());
        let end =
            trailer.header_offset.checked_add(trailer.header_len).and_then(|e| e.checked_add(trailer.signature_len));
        if end != Some(len - TRAILER_LEN) || trailer.header_len > 64 << 20 || !matches!(trailer.signature_len, 0 | 64) {
            bail!("{}", corrupt());
        }
        let mut header_bytes = vec![0; trailer.header_len as usize];
        file.seek(SeekFrom::Start(trailer.header_offset))?;
        file.read_exact(&mut header_bytes).with_context(corrupt)?;
        let mut signature = vec![0; trailer.signature_len as usize];
        file.read_exact(&mut signature).with_context(corrupt)?;
        let header: Header = serde_json::from_slice(&header_bytes).with_context(corrupt)?;
        let signature =
            (!signature.is_empty()).then(|| Signature::from_slice(&signature)).transpose().with_context(corrupt)?;
        Ok(Some(Embedded { file: path, header, header_bytes, signature }))
    }

    /// Refuse unless the bundle is signed by the Ed25519 public key in
    /// `key_file` (SPKI PEM, as `openssl pkey -pubout` writes it).
    pub fn verify(&self, key_file: &Path) -> anyhow::Result<()> {
        let pem = std::fs::read_to_string(key_file).with_context(|| format!("cannot read {}", key_file.display()))?;
        let key = VerifyingKey::from_public_key_pem(&pem)
            .map_err(|e| anyhow::anyhow!("{}: not an Ed25519 public key in PEM ({e})", key_file.display()))?;
        let signature = self.signature.with_context(|| {
            format!("{} is not signed, and --trusted-key requires a signature", self.file.display())
        })?;
        key.verify_strict(&self.header_bytes, &signature).map_err(|_| {
            anyhow::anyhow!("{}: the signature does not verify with {}", self.file.display(), key_file.display())
        })
    }

    /// The application, validated as a manifest is; component sources are
    /// their digests (see [`Embedded::load_component`]), and the files
    /// components mount are written out, checked, under `files_root`.
    pub fn manifest(&self, work_dir: &Path, files_root: &Path) -> anyhow::Result<Manifest> {
        let origin = self.file.clone();
        let source_path = |digest: &str| {
            if self.header.blobs.contains_key(digest) {
                Ok(PathBuf::from(digest))
            } else {
                Err(format!("source {digest} is not in the bundle"))
            }
        };
        let app_digest = sha256_digest(&serde_json::to_vec(&self.header.app)?).replace(':', "-");
        let files_dir = |component: &str, files: &[LockedFile]| {
            let mut contents = Vec::with_capacity(files.len());
            for file in files {
                let digest = file.content.digest.as_deref().unwrap_or_default();
                let blob = self
                    .header
                    .files
                    .get(digest)
                    .ok_or_else(|| format!("file `{}` is not in the bundle", file.path))?;
                contents.push((
                    file.path.clone(),
                    self.read(blob.offset, blob.size, digest).map_err(|e| format!("{e:#}"))?,
                ));
            }
            let dir = files_root.join(&app_digest).join(component);
            crate::config::files::materialize(&dir, contents)?;
            Ok(dir)
        };
        Ok(self.header.app.clone().into_manifest(&origin, work_dir.to_path_buf(), source_path, files_dir)?)
    }

    /// `--version`: the application, Keel's version and each component's digest.
    pub fn describe(&self) -> String {
        let meta = |key: &str| self.header.app.metadata.get(key).and_then(|v| v.as_str()).unwrap_or("-").to_string();
        let mut text = format!(
            "{} {} (keel {}{})\n",
            meta("name"),
            meta("version"),
            self.header.keel_version,
            if self.signature.is_some() { ", signed" } else { "" }
        );
        for component in &self.header.app.components {
            text.push_str(&format!("  {}: {}\n", component.id, component.source.content.digest.as_deref().unwrap_or("-")));
        }
        text
    }

    fn read(&self, offset: u64, size: u64, digest: &str) -> anyhow::Result<Vec<u8>> {
        let mut file = std::fs::File::open(&self.file)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = vec![0; size as usize];
        file.read_exact(&mut bytes).with_context(|| format!("{}: blob {digest} is cut short", self.file.display()))?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            bail!(
                "{}: blob {digest} does not match its digest (found {actual}); the file was altered",
                self.file.display()
            );
        }
        Ok(bytes)
    }

    /// Load the component `source` names (its digest): the precompiled
    /// form when it was made for `engine`, else compiled from the embedded
    /// component. Both are checked against the header's digests.
    pub fn load_component(&self, engine: &Engine, source: &Path) -> anyhow::Result<(Component, InstanceNeeds)> {
        let digest = source.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let blob = self.header.blobs.get(digest).with_context(|| format!("component {digest} is not in the bundle"))?;
        // Checked even when precompiled code is used: the bundle runs only
        // with every pinned byte intact.
        let wasm = self.read(blob.offset, blob.size, digest)?;
        let compat = engine::compatibility_key(engine);
        let precompiled = match &blob.precompiled {
            Some(p) if p.engine == compat => {
                let bytes = self.read(p.offset, p.size, &p.digest)?;
                // SAFETY: the bytes are the ones `keel bundle` produced with
                // `precompile_component` for an engine with this
                // compatibility key, checked against the digest the header
                // pins (and, with --trusted-key, the header's signature).
                match unsafe { Component::deserialize(engine, &bytes) } {
                    Ok(component) => Some(component),
                    Err(e) => {
                        tracing::warn!("precompiled {digest} is unusable here ({e}); compiling it");
                        None
                    }
                }
            }
            _ => {
                tracing::warn!(
                    "component {digest} was precompiled for another engine or CPU; compiling it (a slower start)"
                );
                None
            }
        };
        let component = match precompiled {
            Some(component) => component,
            None => Component::new(engine, &wasm)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("component {digest}"))?,
        };
        Ok((component, blob.needs))
    }
}
