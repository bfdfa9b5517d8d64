//! Spin-format runtime configuration (`--runtime-config-file`).
//!
//! ```toml
//! [sqlite_database.default]
//! type = "spin"                 # SQLite file (the only SQL backend today)
//! path = ".keel/sqlite_db.db"
//!
//! [key_value_store.default]
//! type = "spin"                 # SQLite file; or "memory"
//! path = ".keel/sqlite_key_value.db"
//!
//! [key_value_store.sessions]
//! type = "rocksdb"              # needs keel built with `--features rocksdb`
//! path = ".keel/sessions.rocksdb"
//!
//! [key_value_store.cache]
//! type = "redis"
//! url = "redis://127.0.0.1:6379/0"
//! ```
//!
//! Labels not configured get the embedded defaults: a SQLite file under
//! `<app dir>/.keel/`. Relative paths resolve against the directory of the
//! runtime-config file (the app directory for defaults).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ConfigError, parse_toml};

#[derive(Debug, Clone, PartialEq)]
pub enum SqliteBackend {
    File(PathBuf),
    Memory,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KeyValueBackend {
    /// Spin's default store: a SQLite file.
    Sqlite(PathBuf),
    Memory,
    /// A Redis server (`url = "redis://host:port/db"`).
    Redis(String),
    /// A RocksDB directory.
    RocksDb(PathBuf),
}

/// Backends for the labels a manifest uses.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    sqlite: BTreeMap<String, SqliteBackend>,
    key_value: BTreeMap<String, KeyValueBackend>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuntimeConfig {
    #[serde(default)]
    sqlite_database: BTreeMap<String, RawStore>,
    #[serde(default)]
    key_value_store: BTreeMap<String, RawStore>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    url: Option<String>,
}

impl RuntimeConfig {
    pub fn load(path: &Path) -> Result<RuntimeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        Self::parse(path, &text, &base)
    }

    pub fn parse(path: &Path, text: &str, base: &Path) -> Result<RuntimeConfig, ConfigError> {
        let raw: RawRuntimeConfig = parse_toml(path, text)?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let mut config = RuntimeConfig::default();
        for (label, store) in raw.sqlite_database {
            if store.url.is_some() {
                return Err(invalid(format!("[sqlite_database.{label}]: type \"spin\" takes `path`, not `url`")));
            }
            let backend = match (store.kind.as_str(), store.path) {
                ("spin", Some(p)) => SqliteBackend::File(base.join(p)),
                ("spin", None) => SqliteBackend::Memory,
                (other, _) => {
                    return Err(invalid(format!(
                        "[sqlite_database.{label}]: unsupported type `{other}` (supported: \"spin\")"
                    )));
                }
            };
            config.sqlite.insert(label, backend);
        }
        for (label, store) in raw.key_value_store {
            if store.kind != "redis" && store.url.is_some() {
                return Err(invalid(format!(
                    "[key_value_store.{label}]: `url` is only for type \"redis\" (type \"{}\" takes `path`)",
                    store.kind
                )));
            }
            if store.kind == "redis" {
                if store.path.is_some() {
                    return Err(invalid(format!("[key_value_store.{label}]: type \"redis\" takes `url`, not `path`")));
                }
                let url = store.url.ok_or_else(|| {
                    invalid(format!("[key_value_store.{label}]: type \"redis\" needs `url = \"redis://host:port\"`"))
                })?;
                config.key_value.insert(label, KeyValueBackend::Redis(url));
                continue;
            }
            let backend = match (store.kind.as_str(), store.path) {
                ("spin", Some(p)) => KeyValueBackend::Sqlite(base.join(p)),
                ("spin", None) | ("memory", None) => KeyValueBackend::Memory,
                ("rocksdb", Some(p)) => KeyValueBackend::RocksDb(base.join(p)),
                ("rocksdb", None) => {
                    return Err(invalid(format!("[key_value_store.{label}]: type \"rocksdb\" needs a `path`")));
                }
                ("memory", Some(_)) => {
                    return Err(invalid(format!(
                        "[key_value_store.{label}]: type \"memory\" takes no `path`"
                    )));
                }
                (other, _) => {
                    return Err(invalid(format!(
                        "[key_value_store.{label}]: unsupported type `{other}` (supported: \"spin\", \"memory\", \"redis\", \"rocksdb\")"
                    )));
                }
            };
            config.key_value.insert(label, backend);
        }
        Ok(config)
    }

    /// The backend for SQLite database `label`: as configured, or for
    /// `default` a file in `state_dir` (as in Spin); `None` for any other
    /// label the runtime configuration does not declare.
    pub fn sqlite(&self, label: &str, state_dir: &Path) -> Option<SqliteBackend> {
        match self.sqlite.get(label) {
            Some(backend) => Some(backend.clone()),
            None => (label == DEFAULT_LABEL).then(|| SqliteBackend::File(state_dir.join("sqlite_db.db"))),
        }
    }

    /// The backend for key-value store `label`, as for [`Self::sqlite`].
    pub fn key_value(&self, label: &str, state_dir: &Path) -> Option<KeyValueBackend> {
        match self.key_value.get(label) {
            Some(backend) => Some(backend.clone()),
            None => (label == DEFAULT_LABEL).then(|| KeyValueBackend::Sqlite(state_dir.join("sqlite_key_value.db"))),
        }
    }
}

/// The one label that works without a runtime-config entry (as in Spin).
pub const DEFAULT_LABEL: &str = "default";

/// The labels `uses` names (`(component, kind, label)`, kind being
/// `sqlite_database` or `key_value_store`) that `config` does not declare,
/// as one error listing them all with the fix.
pub fn check_labels<'a>(
    config: &RuntimeConfig,
    config_file: Option<&Path>,
    uses: impl IntoIterator<Item = (&'a str, &'static str, &'a str)>,
) -> Result<(), String> {
    let missing: Vec<String> = uses
        .into_iter()
        .filter(|(_, kind, label)| {
            *label != DEFAULT_LABEL
                && match *kind {
                    "sqlite_database" => !config.sqlite.contains_key(*label),
                    _ => !config.key_value.contains_key(*label),
                }
        })
        .map(|(component, kind, label)| format!("component `{component}` uses {kind} `{label}`: add [{kind}.{label}]"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let file = config_file.map_or("a runtime config file (--runtime-config-file)".to_string(), |f| f.display().to_string());
    Err(format!(
        "{} undeclared label(s); only `default` has a built-in store. Declare them in {file}:\n  {}",
        missing.len(),
        missing.join("\n  ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RuntimeConfig, ConfigError> {
        RuntimeConfig::parse(Path::new("rc.toml"), text, Path::new("/cfg"))
    }

    #[test]
    fn reads_spin_format_stores() {
        let rc = parse(
            "[sqlite_database.default]\ntype = \"spin\"\npath = \"data/app.db\"\n\
             [key_value_store.cache]\ntype = \"memory\"\n",
        )
        .unwrap();
        let state = Path::new("/app/.keel");
        assert_eq!(rc.sqlite("default", state), Some(SqliteBackend::File("/cfg/data/app.db".into())));
        assert_eq!(rc.key_value("cache", state), Some(KeyValueBackend::Memory));
        assert_eq!(
            rc.key_value("default", state),
            Some(KeyValueBackend::Sqlite("/app/.keel/sqlite_key_value.db".into()))
        );
        assert_eq!(rc.key_value("sessions", state), None);
    }

    #[test]
    fn a_misspelled_key_is_an_error_naming_the_line_not_an_in_memory_database() {
        let err = parse("[sqlite_database.default]\ntype = \"spin\"\npth = \"data/app.db\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("rc.toml:3:") && err.contains("pth"), "{err}");
        let err = parse("[key_value_store.default]\ntype = \"spin\"\nurl = \"redis://x\"\n").unwrap_err().to_string();
        assert!(err.contains("`url` is only for type \"redis\""), "{err}");
    }

    #[test]
    fn every_undeclared_label_is_listed_at_once() {
        let rc = parse("[key_value_store.cache]\ntype = \"memory\"\n").unwrap();
        let uses = [
            ("api", "key_value_store", "default"),
            ("api", "key_value_store", "cache"),
            ("api", "key_value_store", "sessions"),
            ("worker", "sqlite_database", "reports"),
        ];
        let err = check_labels(&rc, Some(Path::new("rc.toml")), uses).unwrap_err();
        assert!(err.contains("2 undeclared label(s)") && err.contains("rc.toml"), "{err}");
        assert!(err.contains("component `api` uses key_value_store `sessions`: add [key_value_store.sessions]"), "{err}");
        assert!(err.contains("component `worker` uses sqlite_database `reports`: add [sqlite_database.reports]"), "{err}");
        assert!(check_labels(&rc, None, [("api", "key_value_store", "cache")]).is_ok());
    }

    #[test]
    fn names_the_label_of_an_unknown_backend() {
        let err = parse("[key_value_store.default]\ntype = \"etcd\"\n").unwrap_err().to_string();
        assert!(err.contains("[key_value_store.default]") && err.contains("etcd"), "{err}");
    }
}
