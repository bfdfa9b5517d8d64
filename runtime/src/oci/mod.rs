//! Spin applications as OCI artifacts, in the format `spin registry push`
//! writes and `spin up --from-registry` and SpinKube read:
//!
//! - an OCI image manifest whose config blob
//!   (`application/vnd.oci.image.config.v1+json`) carries the label
//!   `com.fermyon.spin.lockedAppDigest`;
//! - one `application/vnd.wasm.content.layer.v1+wasm` layer per distinct
//!   (composed) component;
//! - one `application/vnd.wasm.content.layer.v1+data` layer per distinct
//!   file the components mount (`files`);
//! - last, the locked application JSON
//!   (`application/vnd.fermyon.spin.application.v1+config`), whose
//!   component sources are those layers' digests.
//!
//! The artifact goes to a registry ([`registry`]) or to an OCI image layout
//! on disk ([`layout`]); [`AppSource`] loads an application from a
//! manifest file, a layout or a registry reference.

pub mod layout;
pub mod reference;
pub mod registry;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::config::locked::{LockedApp, LockedFile};
use crate::config::manifest::Manifest;
use layout::Layout;
use reference::Reference;
use registry::{Credentials, Registry};

/// An OCI image manifest's media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The image config's media type (Spin writes an empty-ish config).
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// A component layer's media type.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
/// A mounted file's layer media type.
pub const DATA_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+data";
/// The locked application layer's media type.
pub const LOCKED_APP_MEDIA_TYPE: &str = "application/vnd.fermyon.spin.application.v1+config";
/// The image config label holding the locked application layer's digest.
pub const LOCKED_APP_DIGEST_LABEL: &str = "com.fermyon.spin.lockedAppDigest";

/// `sha256:<hex>` of `content`.
pub fn sha256_digest(content: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(content)))
}

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The content's media type.
    pub media_type: String,
    /// `sha256:<hex>` of the content.
    pub digest: String,
    /// The content's length in bytes.
    pub size: u64,
    /// Annotations (e.g. `org.opencontainers.image.title`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// The descriptor of `content` as `media_type`.
    pub fn of(media_type: &str, content: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: sha256_digest(content),
            size: content.len() as u64,
            annotations: BTreeMap::new(),
        }
    }

    /// Fail unless `content` has this descriptor's size and digest.
    pub fn check(&self, content: &[u8]) -> anyhow::Result<()> {
        if content.len() as u64 != self.size {
            bail!("blob {} has {} bytes, its descriptor says {}", self.digest, content.len(), self.size);
        }
        let actual = sha256_digest(content);
        if actual != self.digest {
            bail!("blob {} has the digest {actual}: its content does not match", self.digest);
        }
        Ok(())
    }
}

/// An OCI image manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MANIFEST_MEDIA_TYPE`], when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config blob.
    pub config: Descriptor,
    /// The components, then the locked application.
    pub layers: Vec<Descriptor>,
    /// Title, version, description, authors, creation time.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageManifest {
    /// Parse an image manifest, refusing other schema versions and media types.
    pub fn parse(bytes: &[u8]) -> anyhow::Result<ImageManifest> {
        let manifest: ImageManifest = serde_json::from_slice(bytes).context("not an OCI image manifest")?;
        if manifest.schema_version != 2 {
            bail!("schemaVersion {} is not 2", manifest.schema_version);
        }
        if let Some(media_type) = manifest.media_type.as_deref().filter(|m| *m != MANIFEST_MEDIA_TYPE) {
            bail!("media type {media_type} is not {MANIFEST_MEDIA_TYPE}");
        }
        Ok(manifest)
    }

    /// The locked application layer: the last layer of its media type, or
    /// (images from Spin 1 and 2) the config blob itself.
    fn locked_app(&self) -> anyhow::Result<&Descriptor> {
        self.layers
            .iter()
            .rev()
            .find(|l| l.media_type == LOCKED_APP_MEDIA_TYPE)
            .or((self.config.media_type == LOCKED_APP_MEDIA_TYPE).then_some(&self.config))
            .with_context(|| format!("not a Spin application: no {LOCKED_APP_MEDIA_TYPE} layer"))
    }
}

/// The (composed) components of an application and the files they mount,
/// as packed: each distinct one once, with its digest, and the application
/// locked to those digests.
pub struct Packed {
    /// `(digest, wasm)`, distinct, in manifest order.
    pub components: Vec<(String, Vec<u8>)>,
    /// `(digest, content)` of the mounted files, distinct.
    pub files: Vec<(String, Vec<u8>)>,
    /// The application, its sources locked to those digests.
    pub locked: LockedApp,
}

impl Packed {
    /// Read every component `manifest` names (each must be a `.wasm` file)
    /// and lock the application to their digests.
    pub fn read(manifest: &Manifest) -> anyhow::Result<Packed> {
        let mut components: Vec<(String, Vec<u8>)> = Vec::new();
        let mut digests = BTreeMap::new();
        for component in manifest.components.values() {
            let wasm = std::fs::read(&component.source)
                .with_context(|| format!("component `{}`: cannot read {}", component.id, component.source.display()))?;
            if !wasmparser::Parser::is_component(&wasm) && !wasmparser::Parser::is_core_wasm(&wasm) {
                bail!("component `{}`: {} is not a valid .wasm file", component.id, component.source.display());
            }
            let digest = sha256_digest(&wasm);
            digests.insert(component.id.clone(), digest.clone());
            if !components.iter().any(|(d, _)| *d == digest) {
                components.push((digest, wasm));
            }
        }
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut mounted = BTreeMap::new();
        for component in manifest.components.values() {
            let mut locked = Vec::new();
            let listed = crate::config::files::list(&manifest.app_dir, component)
                .map_err(|e| anyhow::anyhow!("component `{}`: {e}", component.id))?;
            for file in listed {
                let content = std::fs::read(&file.host)
                    .with_context(|| format!("component `{}`: cannot read {}", component.id, file.host.display()))?;
                let digest = sha256_digest(&content);
                if !files.iter().any(|(d, _)| *d == digest) {
                    files.push((digest.clone(), content));
                }
                locked.push(LockedFile::of(digest, file.path));
            }
            mounted.insert(component.id.clone(), locked);
        }
        let locked = LockedApp::from_manifest(manifest, |id| digests[id].clone(), |id| mounted[id].clone());
        Ok(Packed { components, files, locked })
    }
}

/// A Spin application packed as an OCI artifact, ready to be written to a
/// layout or pushed.
pub struct Artifact {
    /// The image manifest, as stored (compact JSON with sorted keys).
    pub manifest: Bytes,
    /// Its config blob and layers, in manifest order.
    pub blobs: Vec<(Descriptor, Bytes)>,
}

impl Artifact {
    /// Pack `manifest`'s components (as built: point `source` at the
    /// composed component) and its locked application.
    pub fn build(manifest: &Manifest) -> anyhow::Result<Artifact> {
        let packed = Packed::read(manifest)?;
        let mut layers: Vec<(Descriptor, Bytes)> = packed
            .components
            .into_iter()
            .map(|(_, wasm)| (Descriptor::of(WASM_LAYER_MEDIA_TYPE, &wasm), Bytes::from(wasm)))
            .collect();
        layers.extend(
            packed
                .files
                .into_iter()
                .map(|(_, content)| (Descriptor::of(DATA_LAYER_MEDIA_TYPE, &content), Bytes::from(content))),
        );
        let locked = Bytes::from(serde_json::to_vec(&packed.locked)?);
        let locked_descriptor = Descriptor::of(LOCKED_APP_MEDIA_TYPE, &locked);

        let config = serde_json::json!({
            "architecture": "wasm",
            "os": "Wasip1",
            "config": { "Labels": { LOCKED_APP_DIGEST_LABEL: locked_descriptor.digest } },
            "rootfs": { "type": "layers", "diff_ids": [] },
        });
        let config = Bytes::from(serde_json::to_vec(&config)?);
        let config_descriptor = Descriptor::of(CONFIG_MEDIA_TYPE, &config);
        layers.push((locked_descriptor, locked));

        let mut annotations = BTreeMap::new();
        annotations.insert("org.opencontainers.image.title".to_string(), manifest.name.clone());
        if let Some(version) = &manifest.version {
            annotations.insert("org.opencontainers.image.version".into(), version.clone());
        }
        if let Some(description) = &manifest.description {
            annotations.insert("org.opencontainers.image.description".into(), description.clone());
        }
        if !manifest.authors.is_empty() {
            annotations.insert("org.opencontainers.image.authors".into(), manifest.authors.join(", "));
        }
        annotations.insert("org.opencontainers.image.created".into(), created_timestamp());
        let image = ImageManifest {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.into()),
            config: config_descriptor.clone(),
            layers: layers.iter().map(|(d, _)| d.clone()).collect(),
            annotations,
        };
        // serde_json's maps are sorted: keys come out in canonical order.
        let image = serde_json::to_value(&image)?;
        let mut blobs = vec![(config_descriptor, config)];
        blobs.extend(layers);
        Ok(Artifact { manifest: Bytes::from(serde_json::to_vec(&image)?), blobs })
    }

    /// The manifest's digest.
    pub fn digest(&self) -> String {
        sha256_digest(&self.manifest)
    }

    /// Write the artifact into the image layout `dir` under `name`.
    pub fn write_layout(&self, dir: &Path, name: &str) -> anyhow::Result<Descriptor> {
        let layout = Layout::create(dir)?;
        for (descriptor, content) in &self.blobs {
            layout.write_blob(descriptor, content)?;
        }
        layout.tag(name, &self.manifest)
    }

    /// Push the artifact to `reference` (which must name a tag); returns the
    /// manifest digest.
    pub async fn push(&self, reference: &Reference, insecure: bool) -> anyhow::Result<String> {
        let tag = reference.tag.as_deref().context("push to a tag (REGISTRY/REPOSITORY:TAG), not a digest")?;
        let credentials = Credentials::lookup(&reference.registry)?;
        let mut registry = Registry::new(reference, credentials, insecure, true)?;
        for (descriptor, content) in &self.blobs {
            registry.push_blob(descriptor, content.clone()).await.with_context(|| format!("pushing to {reference}"))?;
        }
        registry.push_manifest(tag, self.manifest.clone()).await.with_context(|| format!("pushing to {reference}"))
    }
}

/// RFC 3339 time for `org.opencontainers.image.created`: now, or
/// `SOURCE_DATE_EPOCH` for reproducible artifacts.
fn created_timestamp() -> String {
    let time = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .unwrap_or_else(chrono::Utc::now);
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Where `keel up` finds an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppSource {
    /// A `spin.toml` file.
    Manifest(PathBuf),
    /// An OCI image layout directory, and the name of the manifest in its
    /// index (needed only when it holds several).
    Layout {
        /// The layout directory.
        dir: PathBuf,
        /// The manifest's name (`org.opencontainers.image.ref.name`).
        name: Option<String>,
    },
    /// A registry reference.
    Registry(Reference),
}

impl AppSource {
    /// Interpret `keel up -f`'s argument as Spin does: an existing file is a
    /// manifest, a directory holds `spin.toml` (or is an OCI image layout),
    /// `oci-layout:DIR[:NAME]` is a layout, anything else that parses as an
    /// image reference is pulled from its registry.
    pub fn parse(from: &str) -> anyhow::Result<AppSource> {
        if let Some(rest) = from.strip_prefix("oci-layout:") {
            let (dir, name) = match rest.rsplit_once(':') {
                Some((dir, name)) if Path::new(dir).is_dir() && !name.contains('/') => (dir, Some(name.to_string())),
                _ => (rest, None),
            };
            return Ok(AppSource::Layout { dir: PathBuf::from(dir), name });
        }
        let path = Path::new(from);
        if path.is_dir() {
            if path.join("oci-layout").is_file() {
                return Ok(AppSource::Layout { dir: path.to_path_buf(), name: None });
            }
            return Ok(AppSource::Manifest(path.join("spin.toml")));
        }
        if path.exists() || from.ends_with(".toml") {
            return Ok(AppSource::Manifest(path.to_path_buf()));
        }
        match Reference::parse(from) {
            Ok(reference) if from.contains('/') => Ok(AppSource::Registry(reference)),
            _ => bail!("{from}: no such file, and not an image reference (REGISTRY/REPOSITORY[:TAG])"),
        }
    }

    /// Load the application: read the manifest, or open the layout, or pull
    /// the artifact into `cache_dir`/registry first. Applications from a
    /// layout or registry resolve relative state against `work_dir`, and
    /// their components' files are written out into `cache_dir`/files.
    pub async fn load(&self, cache_dir: &Path, work_dir: &Path, insecure: bool) -> anyhow::Result<Manifest> {
        match self {
            AppSource::Manifest(path) => Ok(Manifest::load(path)?),
            AppSource::Layout { dir, name } => {
                let origin = format!("oci-layout:{}", dir.display());
                load_from_layout(&Layout::open(dir)?, name.as_deref(), &origin, work_dir, &cache_dir.join("files"))
            }
            AppSource::Registry(reference) => {
                let dir = cache_dir.join("registry");
                pull(reference, insecure, &dir).await?;
                let name = reference.to_string();
                load_from_layout(&Layout::open(&dir)?, Some(&name), &name, work_dir, &cache_dir.join("files"))
            }
        }
    }
}

/// Pull the artifact `reference` names into the image layout `dir`, under
/// the reference's name. Blobs already in the layout are not fetched again.
pub async fn pull(reference: &Reference, insecure: bool, dir: &Path) -> anyhow::Result<Descriptor> {
    let layout = Layout::create(dir)?;
    let credentials = Credentials::lookup(&reference.registry)?;
    let mut registry = Registry::new(reference, credentials, insecure, false)?;
    let context = || format!("pulling {reference}");
    let bytes = registry.pull_manifest(reference.manifest_reference()).await.with_context(context)?;
    let manifest = ImageManifest::parse(&bytes).with_context(context)?;
    for descriptor in std::iter::once(&manifest.config).chain(&manifest.layers) {
        if layout.read_blob(descriptor).is_ok() {
            continue;
        }
        let content = registry.pull_blob(descriptor).await.with_context(context)?;
        layout.write_blob(descriptor, &content)?;
    }
    layout.tag(&reference.to_string(), &bytes)
}

/// Read the application named `name` in `layout`, checking every blob it
/// uses against its digest.
fn load_from_layout(
    layout: &Layout,
    name: Option<&str>,
    origin: &str,
    work_dir: &Path,
    files_root: &Path,
) -> anyhow::Result<Manifest> {
    let (_, image) = layout.manifest(name).with_context(|| format!("{origin}: cannot load the application"))?;
    let locked_descriptor = image.locked_app().with_context(|| origin.to_string())?;
    let locked_bytes = layout.read_blob(locked_descriptor)?;
    if image.config.media_type == CONFIG_MEDIA_TYPE {
        let config: serde_json::Value = serde_json::from_slice(&layout.read_blob(&image.config)?)
            .with_context(|| format!("{origin}: the image config is not JSON"))?;
        let label = config.pointer(&format!("/config/Labels/{LOCKED_APP_DIGEST_LABEL}")).and_then(|v| v.as_str());
        if let Some(label) = label.filter(|l| *l != locked_descriptor.digest) {
            bail!(
                "{origin}: the image config names locked app {label}, but the manifest carries {}",
                locked_descriptor.digest
            );
        }
    }
    let origin_path = Path::new(origin);
    let locked = LockedApp::parse(origin_path, &locked_bytes)?;
    let source_path = |digest: &str| {
        let layer = image
            .layers
            .iter()
            .find(|l| l.digest == digest && matches!(l.media_type.as_str(), WASM_LAYER_MEDIA_TYPE | "application/wasm"))
            .ok_or_else(|| format!("source {digest} is not a Wasm layer of the image"))?;
        layout.read_blob(layer).map_err(|e| format!("{e:#}"))?;
        layout.blob_path(digest).map_err(|e| e.to_string())
    };
    // A component's files, written out once per locked app into the cache.
    let files_dir = |component: &str, files: &[LockedFile]| {
        let dir = files_root.join(locked_descriptor.digest.replace(':', "-")).join(component);
        let mut contents = Vec::with_capacity(files.len());
        for file in files {
            let digest = file.content.digest.as_deref().unwrap_or_default();
            let layer = image
                .layers
                .iter()
                .find(|l| l.digest == digest)
                .ok_or_else(|| format!("file `{}` ({digest}) is not a layer of the image", file.path))?;
            contents.push((file.path.clone(), layout.read_blob(layer).map_err(|e| format!("{e:#}"))?));
        }
        crate::config::files::materialize(&dir, contents)?;
        Ok(dir)
    };
    Ok(locked.into_manifest(origin_path, work_dir.to_path_buf(), source_path, files_dir)?)
}
