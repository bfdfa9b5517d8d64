//! WASI 0.2 and 0.3 for guests (Spin's `factor-wasi`): standard output and
//! error go to Keel's, the environment holds the component's `environment`
//! table and nothing of the host's, and the component's `files` are its
//! file system, read-only.
//!
//! Files are mounted as Spin mounts them: a component whose `files` are all
//! directory placements (`{ source = "web", destination = "/" }`) sees those
//! directories themselves (Spin's direct mounts); one with glob patterns
//! sees a copy, made at start-up, of every file they match less those
//! `exclude_files` matches, at its path relative to the manifest, with the
//! placed directories copied beside them. The copies are removed when the
//! app stops.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::Linker;
use wasmtime_wasi::{FsPerms, WasiCtx};

use super::{AppContext, Capability, HostState, per_component};
use crate::config::files;
use crate::config::manifest::{Component, FileMount};

/// The WASI capability.
pub(crate) struct Wasi;

/// The app's mounted files: each component's directories, and the staging
/// directories holding the copies (removed on drop).
#[derive(Default)]
pub(crate) struct Files {
    mounts: HashMap<String, Arc<[Preopen]>>,
    _staged: Vec<tempfile::TempDir>,
}

/// A host directory the guest sees, read-only, at `guest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Preopen {
    host: PathBuf,
    guest: String,
}

/// What one component's instances get.
#[derive(Default)]
pub(crate) struct Grant {
    environment: Vec<(String, String)>,
    preopens: Arc<[Preopen]>,
}

impl Capability for Wasi {
    type App = Files;
    type Grant = Grant;

    fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        wasmtime_wasi::p2::add_to_linker_async(linker)?;
        wasmtime_wasi::p3::add_to_linker(linker)
    }

    fn configure(app: &AppContext) -> Result<Files, Vec<String>> {
        let mounted = per_component(app, |component| mount(&app.manifest.app_dir, component))?;
        let mut files = Files::default();
        for (id, (preopens, staged)) in mounted {
            files.mounts.insert(id, preopens.into());
            files._staged.extend(staged);
        }
        Ok(files)
    }

    fn grant(files: &Files, component: &Component) -> Grant {
        Grant {
            environment: component.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            preopens: files.mounts.get(&component.id).cloned().unwrap_or_else(|| Arc::new([])),
        }
    }
}

/// The directories `component` sees, and the staging directory holding
/// its copies if it needs one.
fn mount(app_dir: &Path, component: &Component) -> Result<(Vec<Preopen>, Option<tempfile::TempDir>), String> {
    let placed = component.files.iter().map(|entry| match entry {
        FileMount::Directory { source, destination } => {
            Some(Preopen { host: source.clone(), guest: destination.clone() })
        }
        FileMount::Pattern(_) => None,
    });
    if let Some(direct) = placed.collect::<Option<Vec<Preopen>>>() {
        // Spin's direct mounts: the directories themselves.
        for preopen in &direct {
            files::require_directory(app_dir, &preopen.host)?;
        }
        return Ok((direct, None));
    }
    let files = files::list(app_dir, component)?;
    let staging = tempfile::Builder::new()
        .prefix(&format!("keel-files-{}-", component.id))
        .tempdir()
        .map_err(|e| format!("cannot create a directory for its `files`: {e}"))?;
    for file in files {
        let to = staging.path().join(&file.path);
        let copy = || -> std::io::Result<()> {
            std::fs::create_dir_all(to.parent().unwrap_or(&to))?;
            std::fs::copy(&file.host, &to).map(drop)
        };
        copy().map_err(|e| format!("cannot copy `files` entry {}: {e}", file.host.display()))?;
    }
    Ok((vec![Preopen { host: staging.path().to_path_buf(), guest: "/".into() }], Some(staging)))
}

/// The WASI context of one instance.
pub(super) fn context(grant: &Grant) -> WasiCtx {
    let mut wasi = WasiCtx::builder();
    wasi.inherit_stdout().inherit_stderr();
    for (k, v) in &grant.environment {
        wasi.env(k, v);
    }
    for Preopen { host, guest } in grant.preopens.iter() {
        // Checked at start-up; a directory removed since is logged, and
        // the guest sees no file there.
        if let Err(e) = wasi.preopened_dir(host, guest, FsPerms::ReadOnly) {
            tracing::error!("cannot mount {} at {guest}: {e}", host.display());
        }
    }
    wasi.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::manifest::Manifest;

    fn component(app_dir: &Path, files: &str) -> Component {
        let text = format!(
            "spin_manifest_version = 2\n[application]\nname = \"a\"\n[component.web]\nsource = \"w.wasm\"\n{files}\n"
        );
        Manifest::parse(Path::new("spin.toml"), &text, app_dir.to_path_buf()).unwrap().components["web"].clone()
    }

    #[test]
    fn directory_placements_are_mounted_as_they_are() {
        let app = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(app.path().join("web")).unwrap();
        let web = component(app.path(), "files = [{ source = \"web\", destination = \"/\" }]");
        let (preopens, staged) = mount(app.path(), &web).unwrap();
        assert_eq!(preopens, [Preopen { host: app.path().join("web"), guest: "/".into() }]);
        assert!(staged.is_none());
        let missing = component(app.path(), "files = [{ source = \"nope\", destination = \"/\" }]");
        assert!(mount(app.path(), &missing).unwrap_err().contains("is not a directory"));
    }

    #[test]
    fn patterns_mount_copies_that_go_with_the_app() {
        let app = tempfile::tempdir().unwrap();
        for file in ["static/a.css", "web/index.html", "secret.env"] {
            std::fs::create_dir_all(app.path().join(file).parent().unwrap()).unwrap();
            std::fs::write(app.path().join(file), file).unwrap();
        }
        let web = component(app.path(), "files = [\"static/*\", { source = \"web\", destination = \"/app\" }]");
        let (preopens, staged) = mount(app.path(), &web).unwrap();
        let staged = staged.unwrap();
        assert_eq!(preopens, [Preopen { host: staged.path().to_path_buf(), guest: "/".into() }]);
        assert_eq!(std::fs::read_to_string(staged.path().join("app/index.html")).unwrap(), "web/index.html");
        assert_eq!(std::fs::read_to_string(staged.path().join("static/a.css")).unwrap(), "static/a.css");
        assert!(!staged.path().join("secret.env").exists());
        let root = staged.path().to_path_buf();
        drop(staged);
        assert!(!root.exists(), "the copies are removed with the app");
    }
}
