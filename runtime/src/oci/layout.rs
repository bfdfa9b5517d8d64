//! OCI image layouts on disk (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`), the format `oras`, `skopeo` and `crane` read.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use super::{Descriptor, ImageManifest, MANIFEST_MEDIA_TYPE};

const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// The annotation naming a manifest in `index.json`.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    manifests: Vec<Descriptor>,
}

/// An image layout directory.
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// Open `dir`, creating an empty layout if it holds none.
    pub fn create(dir: &Path) -> anyhow::Result<Layout> {
        std::fs::create_dir_all(dir.join("blobs/sha256"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let marker = dir.join("oci-layout");
        if !marker.exists() {
            std::fs::write(&marker, r#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        let index = dir.join("index.json");
        if !index.exists() {
            write_json(
                &index,
                &Index { schema_version: 2, media_type: Some(INDEX_MEDIA_TYPE.into()), manifests: vec![] },
            )?;
        }
        Ok(Layout { dir: dir.to_path_buf() })
    }

    /// Open an existing layout.
    pub fn open(dir: &Path) -> anyhow::Result<Layout> {
        let marker = dir.join("oci-layout");
        let text = std::fs::read_to_string(&marker)
            .with_context(|| format!("{} is not an OCI image layout (no readable `oci-layout` file)", dir.display()))?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Marker {
            image_layout_version: String,
        }
        let marker: Marker =
            serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", marker.display()))?;
        if marker.image_layout_version != "1.0.0" {
            bail!(
                "{}: image layout version {} is not supported (1.0.0 is)",
                dir.display(),
                marker.image_layout_version
            );
        }
        Ok(Layout { dir: dir.to_path_buf() })
    }

    /// Where the blob with `digest` is (or would be) stored.
    pub fn blob_path(&self, digest: &str) -> anyhow::Result<PathBuf> {
        let hex = digest.strip_prefix("sha256:").context("only sha256 digests are supported")?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("`{digest}` is not a sha256 digest");
        }
        Ok(self.dir.join("blobs/sha256").join(hex))
    }

    /// Store a blob (atomically; an existing blob is kept).
    pub fn write_blob(&self, descriptor: &Descriptor, content: &[u8]) -> anyhow::Result<()> {
        descriptor.check(content)?;
        let path = self.blob_path(&descriptor.digest)?;
        if path.exists() {
            return Ok(());
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, content)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Read a blob and check it against its descriptor.
    pub fn read_blob(&self, descriptor: &Descriptor) -> anyhow::Result<Vec<u8>> {
        let path = self.blob_path(&descriptor.digest)?;
        let content = std::fs::read(&path)
            .with_context(|| format!("{}: blob {} is missing", self.dir.display(), descriptor.digest))?;
        descriptor.check(&content).with_context(|| format!("{}", path.display()))?;
        Ok(content)
    }

    /// Store `manifest` and name it `name` in the index (replacing the
    /// manifest that had the name).
    pub fn tag(&self, name: &str, manifest: &[u8]) -> anyhow::Result<Descriptor> {
        let mut descriptor = Descriptor::of(MANIFEST_MEDIA_TYPE, manifest);
        self.write_blob(&descriptor, manifest)?;
        descriptor.annotations.insert(REF_NAME.into(), name.into());
        let path = self.dir.join("index.json");
        let mut index = self.index()?;
        index.manifests.retain(|m| m.annotations.get(REF_NAME).map(String::as_str) != Some(name));
        index.manifests.push(descriptor.clone());
        write_json(&path, &index)?;
        Ok(descriptor)
    }

    /// The manifest named `name`, or the only one when `name` is `None`.
    pub fn manifest(&self, name: Option<&str>) -> anyhow::Result<(Descriptor, ImageManifest)> {
        let index = self.index()?;
        let candidates: Vec<&Descriptor> = index
            .manifests
            .iter()
            .filter(|m| name.is_none_or(|n| m.annotations.get(REF_NAME).map(String::as_str) == Some(n)))
            .collect();
        let descriptor = match (candidates.as_slice(), name) {
            ([one], _) => (*one).clone(),
            ([], Some(name)) => bail!("{}: no manifest is named `{name}`", self.dir.display()),
            ([], None) => bail!("{}: the index lists no manifest", self.dir.display()),
            (_, _) => {
                let names: Vec<&str> =
                    candidates.iter().filter_map(|m| m.annotations.get(REF_NAME).map(String::as_str)).collect();
                bail!(
                    "{}: the index lists several manifests ({}); name one as oci-layout:DIR:NAME",
                    self.dir.display(),
                    names.join(", ")
                )
            }
        };
        if descriptor.media_type != MANIFEST_MEDIA_TYPE {
            bail!(
                "{}: {} is a {}, not an OCI image manifest",
                self.dir.display(),
                descriptor.digest,
                descriptor.media_type
            );
        }
        let bytes = self.read_blob(&descriptor)?;
        let manifest = ImageManifest::parse(&bytes)
            .with_context(|| format!("{}: manifest {}", self.dir.display(), descriptor.digest))?;
        Ok((descriptor, manifest))
    }

    fn index(&self) -> anyhow::Result<Index> {
        let path = self.dir.join("index.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not an OCI image index", path.display()))
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(value)?)
        .and_then(|_| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write {}", path.display()))
}
