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
            if store.kind == "redis" {
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

    /// The backend for SQLite database `label`.
    pub fn sqlite(&self, label: &str, state_dir: &Path) -> SqliteBackend {
        self.sqlite.get(label).cloned().unwrap_or_else(|| {
            SqliteBackend::File(state_dir.join(if label == "default" {
                "sqlite_db.db".to_string()
            } else {
                format!("sqlite_db_{label}.db")
            }))
        })
    }

    /// The backend for key-value store `label`.
    pub fn key_value(&self, label: &str, state_dir: &Path) -> KeyValueBackend {
        self.key_value.get(label).cloned().unwrap_or_else(|| {
            KeyValueBackend::Sqlite(state_dir.join(if label == "default" {
                "sqlite_key_value.db".to_string()
            } else {
                format!("sqlite_key_value_{label}.db")
            }))
        })
    }
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
        assert_eq!(rc.sqlite("default", state), SqliteBackend::File("/cfg/data/app.db".into()));
        assert_eq!(rc.key_value("cache", state), KeyValueBackend::Memory);
        assert_eq!(
            rc.key_value("default", state),
            KeyValueBackend::Sqlite("/app/.keel/sqlite_key_value.db".into())
        );
    }

    #[test]
    fn names_the_label_of_an_unknown_backend() {
        let err = parse("[key_value_store.default]\ntype = \"etcd\"\n").unwrap_err().to_string();
        assert!(err.contains("[key_value_store.default]") && err.contains("etcd"), "{err}");
    }
}
