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
//! the state directory (`state_dir` here, else `--state-dir`, else
//! `<app dir>/.keel/`; `state_dir = ""` keeps the defaults in memory, as in
//! Spin). Relative paths resolve against the directory of the
//! runtime-config file (the app directory for defaults).
//!
//! Application variables come from Spin's providers, consulted in order
//! before the default `SPIN_VARIABLE_*`/`.env` one (see
//! [`super::variables`]):
//!
//! ```toml
//! [[variables_provider]]        # Spin's older name, config_provider, works too
//! type = "env"
//! prefix = "MYAPP"              # MYAPP_TOKEN_SECRET
//! dotenv_path = "secrets.env"   # relative to the working directory
//!
//! [[variables_provider]]
//! type = "static"
//! values = { api_base = "https://api.example.com" }
//! ```
//!
//! Spin tables Keel does not implement (`[llm_compute]`, `[[client_tls]]`,
//! `vault` providers, …) are refused by name rather than ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::variables::Provider;
use super::{ConfigError, parse_toml};

/// Where a SQLite database (`[sqlite_database.<label>]`) lives.
#[derive(Debug, Clone, PartialEq)]
pub enum SqliteBackend {
    /// A file (`type = "spin"` with `path`).
    File(PathBuf),
    /// In memory, shared by the app, gone on exit (no `path`).
    Memory,
}

/// Where a key-value store (`[key_value_store.<label>]`) lives.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValueBackend {
    /// Spin's default store: a SQLite file.
    Sqlite(PathBuf),
    /// In memory, gone on exit (`type = "memory"`, or `"spin"` without `path`).
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
    /// `state_dir`: `Some(None)` for `""` (defaults in memory).
    state_dir: Option<Option<PathBuf>>,
    variable_providers: Vec<Provider>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuntimeConfig {
    #[serde(default)]
    sqlite_database: BTreeMap<String, crate::host::SqliteDatabaseConfig>,
    #[serde(default)]
    key_value_store: BTreeMap<String, crate::host::KeyValueStoreConfig>,
    #[serde(default)]
    state_dir: Option<PathBuf>,
    #[serde(default)]
    variables_provider: Vec<RawProvider>,
    #[serde(default)]
    config_provider: Vec<RawProvider>,
}

/// Spin's variables providers (`crates/variables`): the ones Keel resolves,
/// and the ones it refuses by name.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RawProvider {
    Env(RawEnvProvider),
    Static(RawStaticProvider),
    // Refused with the reason, whatever their settings.
    Vault(serde::de::IgnoredAny),
    OpenBao(serde::de::IgnoredAny),
    AzureKeyVault(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvProvider {
    prefix: Option<String>,
    dotenv_path: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStaticProvider {
    values: BTreeMap<String, String>,
}

/// Top-level tables of Spin's runtime config that Keel does not implement,
/// with what to do instead.
const UNSUPPORTED_SPIN_KEYS: &[(&str, &str)] = &[
    ("log_dir", "keel writes component output to its own stdout/stderr"),
    ("llm_compute", "keel has no Serverless AI host"),
    ("client_tls", "outbound TLS uses the Mozilla root store; put private CAs behind a proxy"),
    ("outbound_networking", "keel has no network block list or connection limits yet"),
    ("outbound_http", "keel's outbound HTTP client has fixed settings"),
    ("outbound_redis", "keel's outbound Redis has no connection limit setting"),
    ("outbound_pg", "keel's PostgreSQL pool has fixed limits (64 in use per address)"),
    ("outbound_mysql", "keel's MySQL pool has fixed limits"),
    ("blob_store", "keel has no blob store host"),
    ("otel", "configure telemetry with the OTEL_* environment variables"),
];

impl RuntimeConfig {
    /// Read and validate the file at `path`; relative paths resolve against
    /// its directory.
    pub fn load(path: &Path) -> Result<RuntimeConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        Self::parse(path, &text, &base)
    }

    /// Validate `text`, the file at `path`; relative paths resolve against
    /// `base`.
    pub fn parse(path: &Path, text: &str, base: &Path) -> Result<RuntimeConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.to_path_buf(), message };
        if let Ok(table) = text.parse::<toml::Table>() {
            let unsupported: Vec<String> = UNSUPPORTED_SPIN_KEYS
                .iter()
                .filter(|(key, _)| table.contains_key(*key))
                .map(|(key, why)| format!("`{key}` is Spin's, and keel does not implement it: {why}"))
                .collect();
            if !unsupported.is_empty() {
                return Err(invalid(unsupported.join("; ")));
            }
        }
        let raw: RawRuntimeConfig = parse_toml(path, text)?;
        let mut config = RuntimeConfig {
            state_dir: raw.state_dir.map(|dir| (!dir.as_os_str().is_empty()).then(|| base.join(dir))),
            ..RuntimeConfig::default()
        };
        if !raw.variables_provider.is_empty() && !raw.config_provider.is_empty() {
            return Err(invalid("use `variables_provider` or its older name `config_provider`, not both".into()));
        }
        for provider in raw.variables_provider.into_iter().chain(raw.config_provider) {
            config.variable_providers.push(match provider {
                RawProvider::Env(env) => Provider::env(env.prefix.as_deref(), env.dotenv_path.as_deref())
                    .map_err(|m| invalid(format!("variables provider \"env\": {m}")))?,
                RawProvider::Static(fixed) => {
                    for name in fixed.values.keys() {
                        super::variables::validate_name(name)
                            .map_err(|m| invalid(format!("variables provider \"static\": {name:?}: {m}")))?;
                    }
                    Provider::Static(fixed.values)
                }
                RawProvider::Vault(_) | RawProvider::OpenBao(_) | RawProvider::AzureKeyVault(_) => {
                    return Err(invalid(
                        "variables providers of type \"vault\", \"open_bao\" and \"azure_key_vault\" are Spin's, \
                         and keel does not implement them: pass secrets as SPIN_VARIABLE_* (e.g. from a Kubernetes Secret)"
                            .into(),
                    ));
                }
            });
        }
        // Each capability owns its section's fields and rules (`crate::host`).
        for (label, section) in raw.sqlite_database {
            let backend = section.backend(base).map_err(|m| invalid(format!("[sqlite_database.{label}]: {m}")))?;
            config.sqlite.insert(label, backend);
        }
        for (label, section) in raw.key_value_store {
            let backend = section.backend(base).map_err(|m| invalid(format!("[key_value_store.{label}]: {m}")))?;
            config.key_value.insert(label, backend);
        }
        Ok(config)
    }

    /// The providers of application variables this file configures, in
    /// order (Spin's default provider is not among them).
    pub fn variable_providers(&self) -> &[Provider] {
        &self.variable_providers
    }

    /// The state directory for the `default` stores: this file's
    /// `state_dir` if it sets one (`None` for `""`: in memory), else
    /// `fallback`.
    fn default_store_dir<'a>(&'a self, fallback: &'a Path) -> Option<&'a Path> {
        match &self.state_dir {
            Some(dir) => dir.as_deref(),
            None => Some(fallback),
        }
    }

    /// The backend for SQLite database `label`: as configured, or for
    /// `default` a file in the state directory (as in Spin); `None` for any
    /// other label the runtime configuration does not declare.
    pub fn sqlite(&self, label: &str, state_dir: &Path) -> Option<SqliteBackend> {
        match self.sqlite.get(label) {
            Some(backend) => Some(backend.clone()),
            None => (label == DEFAULT_LABEL).then(|| match self.default_store_dir(state_dir) {
                Some(dir) => SqliteBackend::File(dir.join("sqlite_db.db")),
                None => SqliteBackend::Memory,
            }),
        }
    }

    /// The backend for key-value store `label`, as for [`Self::sqlite`].
    pub fn key_value(&self, label: &str, state_dir: &Path) -> Option<KeyValueBackend> {
        match self.key_value.get(label) {
            Some(backend) => Some(backend.clone()),
            None => (label == DEFAULT_LABEL).then(|| match self.default_store_dir(state_dir) {
                Some(dir) => KeyValueBackend::Sqlite(dir.join("sqlite_key_value.db")),
                None => KeyValueBackend::Memory,
            }),
        }
    }
}

/// The one label that works without a runtime-config entry (as in Spin).
pub const DEFAULT_LABEL: &str = "default";

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
        let err = parse("[sqlite_database.default]\ntype = \"spin\"\npth = \"data/app.db\"\n").unwrap_err().to_string();
        assert!(err.starts_with("rc.toml:3:") && err.contains("pth"), "{err}");
        let err = parse("[key_value_store.default]\ntype = \"spin\"\nurl = \"redis://x\"\n").unwrap_err().to_string();
        assert!(err.contains("`url` is only for type \"redis\""), "{err}");
    }

    #[test]
    fn reads_spins_variables_providers_in_order() {
        let rc = parse(
            "[[variables_provider]]\ntype = \"static\"\nvalues = { api_base = \"https://x\" }\n\
             [[variables_provider]]\ntype = \"env\"\nprefix = \"MYAPP\"\n",
        )
        .unwrap();
        assert_eq!(
            rc.variable_providers(),
            &[
                Provider::Static(BTreeMap::from([("api_base".into(), "https://x".into())])),
                Provider::Env { prefix: "MYAPP".into(), dotenv: BTreeMap::new() },
            ]
        );
        let older = parse("[[config_provider]]\ntype = \"env\"\n").unwrap();
        assert_eq!(older.variable_providers().len(), 1);
    }

    #[test]
    fn spin_tables_keel_does_not_implement_are_refused_by_name() {
        let err = parse("[[variables_provider]]\ntype = \"vault\"\nurl = \"http://v\"\ntoken = \"t\"\nmount = \"m\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"vault\"") && err.contains("SPIN_VARIABLE_"), "{err}");
        let err = parse("[llm_compute]\ntype = \"spin\"\n[outbound_http]\nconnection_pooling = true\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`llm_compute` is Spin's") && err.contains("`outbound_http` is Spin's"), "{err}");
        let err = parse("[[variables_provider]]\ntype = \"env\"\nprefx = \"X\"\n").unwrap_err().to_string();
        assert!(err.contains("prefx"), "{err}");
        let err =
            parse("[[variables_provider]]\ntype = \"static\"\nvalues = { Bad = \"x\" }\n").unwrap_err().to_string();
        assert!(err.contains("\"Bad\""), "{err}");
    }

    #[test]
    fn state_dir_moves_the_default_stores_and_empty_keeps_them_in_memory() {
        let state = Path::new("/app/.keel");
        let rc = parse("state_dir = \"data\"\n").unwrap();
        assert_eq!(rc.sqlite("default", state), Some(SqliteBackend::File("/cfg/data/sqlite_db.db".into())));
        assert_eq!(
            rc.key_value("default", state),
            Some(KeyValueBackend::Sqlite("/cfg/data/sqlite_key_value.db".into()))
        );
        let rc = parse("state_dir = \"\"\n").unwrap();
        assert_eq!(rc.sqlite("default", state), Some(SqliteBackend::Memory));
        assert_eq!(rc.key_value("default", state), Some(KeyValueBackend::Memory));
    }

    #[test]
    fn names_the_label_of_an_unknown_backend() {
        let err = parse("[key_value_store.default]\ntype = \"etcd\"\n").unwrap_err().to_string();
        assert!(err.contains("[key_value_store.default]") && err.contains("etcd"), "{err}");
    }
}
