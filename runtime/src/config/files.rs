//! The files a component's `files` entries mount, as Spin's loader lists
//! them: every file a glob pattern matches (less those `exclude_files`
//! matches) at its path relative to the manifest, and every file under a
//! placed directory at its path below the destination. Mounting
//! (`host::wasi`) copies them; packing (`keel registry push`, `keel bundle`)
//! stores each as a layer, as `spin registry push` does.

use std::path::{Path, PathBuf};

use super::manifest::{Component, FileMount};

/// One file a component sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountedFile {
    /// Where the guest sees it, relative to `/`, `/`-separated.
    pub path: String,
    /// Where it is on the host.
    pub host: PathBuf,
}

/// Every file `component` (of a manifest in `app_dir`) mounts, sorted by
/// guest path; a guest path mounted twice keeps the last entry's file, as
/// Spin's copy does.
pub fn list(app_dir: &Path, component: &Component) -> Result<Vec<MountedFile>, String> {
    let excluded: Vec<glob::Pattern> =
        component.exclude_files.iter().filter_map(|p| glob::Pattern::new(p).ok()).collect();
    let mut files = std::collections::BTreeMap::new();
    for entry in &component.files {
        match entry {
            FileMount::Pattern(pattern) => {
                let matched = glob::glob(&app_dir.join(pattern).to_string_lossy())
                    .map_err(|e| format!("`files` pattern `{pattern}`: {e}"))?;
                let mut count = 0;
                for host in matched {
                    let host = host.map_err(|e| format!("`files` pattern `{pattern}`: {e}"))?;
                    let Ok(relative) = host.strip_prefix(app_dir) else { continue };
                    if !host.is_file() || excluded.iter().any(|x| x.matches_path(relative)) {
                        continue;
                    }
                    files.insert(portable(relative), host.clone());
                    count += 1;
                }
                if count == 0 {
                    tracing::warn!(component = %component.id, "`files` pattern `{pattern}` matches no file in {}", app_dir.display());
                }
            }
            FileMount::Directory { source, destination } => {
                require_directory(app_dir, source)?;
                let prefix = destination.trim_matches('/');
                walk(source, &mut |host| {
                    let relative = portable(host.strip_prefix(source).expect("walked from source"));
                    let path = if prefix.is_empty() { relative } else { format!("{prefix}/{relative}") };
                    files.insert(path, host.to_path_buf());
                })
                .map_err(|e| format!("cannot read `files` source {}: {e}", source.display()))?;
            }
        }
    }
    Ok(files.into_iter().map(|(path, host)| MountedFile { path, host }).collect())
}

/// A `{ source, destination }` mount's source must be a directory.
pub(crate) fn require_directory(app_dir: &Path, source: &Path) -> Result<(), String> {
    if source.is_dir() {
        return Ok(());
    }
    Err(format!(
        "`files` source `{}` is not a directory; create it or fix the path (relative to {})",
        source.display(),
        app_dir.display()
    ))
}

fn walk(dir: &Path, found: &mut impl FnMut(&Path)) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path.is_file() {
            found(&path);
        }
    }
    Ok(())
}

/// `relative` with `/` between its parts, whatever the host's separator.
fn portable(relative: &Path) -> String {
    relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Whether `path` (a guest path relative to `/`, as a locked app or an
/// artifact names it) stays inside the mount: no root, no `..`, no empty
/// part.
pub fn is_contained(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && !path.contains('\\')
}

/// Write `files` (`(guest path, bytes)`) into a new directory `dir`,
/// atomically: a directory that exists is complete and is used as it is.
pub fn materialize(dir: &Path, files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".files-")
        .tempdir_in(parent)
        .map_err(|e| format!("cannot create a directory in {}: {e}", parent.display()))?;
    for (path, bytes) in files {
        if !is_contained(&path) {
            return Err(format!("file path `{path}` leaves its mount"));
        }
        let target = staging.path().join(&path);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(target.parent().expect("joined"))?;
            std::fs::write(&target, &bytes)
        };
        write().map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    let staged = staging.keep();
    match std::fs::rename(&staged, dir) {
        Ok(()) => Ok(()),
        // Another process materialized the same files first.
        Err(_) if dir.is_dir() => {
            let _ = std::fs::remove_dir_all(&staged);
            Ok(())
        }
        Err(e) => Err(format!("cannot create {}: {e}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::manifest::Manifest;

    pub(crate) fn component(app_dir: &Path, files: &str) -> Component {
        let text = format!(
            "spin_manifest_version = 2\n[application]\nname = \"a\"\n[component.web]\nsource = \"w.wasm\"\n{files}\n"
        );
        Manifest::parse(Path::new("spin.toml"), &text, app_dir.to_path_buf()).unwrap().components["web"].clone()
    }

    fn write(root: &Path, files: &[&str]) {
        for file in files {
            std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
            std::fs::write(root.join(file), file).unwrap();
        }
    }

    #[test]
    fn patterns_and_placed_directories_list_their_files_at_guest_paths() {
        let app = tempfile::tempdir().unwrap();
        write(
            app.path(),
            &["static/a.css", "static/deep/b.js", "static/b.js.map", "secret.env", "web/index.html", "web/img/x.svg"],
        );
        let web = component(
            app.path(),
            "files = [\"static/**/*\", { source = \"web\", destination = \"/app\" }]\nexclude_files = [\"**/*.map\"]",
        );
        let paths: Vec<String> = list(app.path(), &web).unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(paths, ["app/img/x.svg", "app/index.html", "static/a.css", "static/deep/b.js"]);
        let root = component(app.path(), "files = [{ source = \"web\", destination = \"/\" }]");
        let listed = list(app.path(), &root).unwrap();
        assert_eq!(listed[1], MountedFile { path: "index.html".into(), host: app.path().join("web/index.html") });
    }

    #[test]
    fn a_missing_directory_names_the_fix() {
        let app = tempfile::tempdir().unwrap();
        let web = component(app.path(), "files = [{ source = \"nope\", destination = \"/\" }]");
        let err = list(app.path(), &web).unwrap_err();
        assert!(err.contains("`files` source") && err.contains("nope") && err.contains("is not a directory"), "{err}");
    }

    #[test]
    fn materialized_files_stay_inside_their_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("files");
        materialize(&dir, [("index.html".to_string(), b"<p>".to_vec()), ("js/app.js".to_string(), b"1".to_vec())])
            .unwrap();
        assert_eq!(std::fs::read(dir.join("js/app.js")).unwrap(), b"1");
        materialize(&dir, [("other".to_string(), b"x".to_vec())]).unwrap();
        assert!(!dir.join("other").exists(), "a complete directory is reused");
        for bad in ["../escape", "/etc/passwd", "a//b", "a/./b", ""] {
            let err = materialize(&root.path().join("bad"), [(bad.to_string(), b"x".to_vec())]).unwrap_err();
            assert!(err.contains("leaves its mount"), "{bad}: {err}");
            assert!(!root.path().join("bad").exists() && !root.path().join("escape").exists());
        }
    }
}
