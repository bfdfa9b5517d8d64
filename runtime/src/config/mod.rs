//! Everything `keel up` reads before serving: the Spin manifest, the
//! Spin-format runtime configuration, application variables and the
//! outbound-host allow list. All of it is validated up front; errors name the
//! file, and the component or label at fault.

pub mod files;
pub mod locked;
pub mod manifest;
pub mod outbound;
pub mod runtime_config;
pub mod variables;

use std::path::PathBuf;

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or has a key or value of the wrong kind.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where, 1-based.
        line: usize,
        /// Where in the line, 1-based.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file parses but breaks a rule (names the component or label).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and the fix.
        message: String,
    },
}

/// Parse TOML, reporting errors as `file:line:column: message`.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    text: &str,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = offset - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().to_string(),
        }
    })
}

/// Every parser of user-written configuration, fed mutated inputs: a bad
/// file is an error naming it, never a panic.
#[cfg(test)]
mod fuzz {
    use std::path::Path;

    const MANIFEST: &str = r#"spin_manifest_version = 2
[application]
name = "demo"
[variables]
secret = { required = true, secret = true }
api_base = { default = "https://api.example.com" }
[[trigger.http]]
route = "/..."
component = "web"
[[trigger.http]]
route = "/dev/outbox/..."
component = "web"
[component.web]
source = "dist/web.wasm"
sqlite_databases = ["default"]
key_value_stores = ["default"]
allowed_outbound_hosts = ["{{ api_base }}", "postgres://127.0.0.1:5432", "*://10.0.0.0/8:*"]
[component.web.variables]
key = "{{ secret }}"
"#;

    const RUNTIME_CONFIG: &str = r#"state_dir = ".keel"
[sqlite_database.default]
type = "spin"
path = "data/app.db"
[key_value_store.cache]
type = "redis"
url = "redis://127.0.0.1:6379/0"
[[variables_provider]]
type = "static"
values = { api_base = "https://x" }
[[variables_provider]]
type = "env"
prefix = "APP"
"#;

    #[test]
    fn manifests() {
        keel_fuzz::run("spin.toml", &[MANIFEST], |input| {
            let text = String::from_utf8_lossy(input);
            let _ = super::manifest::Manifest::parse(Path::new("spin.toml"), &text, "/app".into());
        });
    }

    #[test]
    fn runtime_configs() {
        keel_fuzz::run("runtime-config.toml", &[RUNTIME_CONFIG], |input| {
            let text = String::from_utf8_lossy(input);
            let _ = super::runtime_config::RuntimeConfig::parse(Path::new("rc.toml"), &text, Path::new("/cfg"));
        });
    }

    #[test]
    fn allow_lists_routes_and_templates() {
        let seeds = [
            "https://*.example.com",
            "*://10.0.0.0/8:*",
            "http://[::1]:8000..8010",
            "{{ api_base }}/v1",
            "/api/...",
            "postgres://u:p@db.example:5432",
        ];
        keel_fuzz::run("allow list entries, routes, templates", &seeds, |input| {
            let text = String::from_utf8_lossy(input);
            if let Ok(policy) = super::outbound::OutboundPolicy::new(&[text.to_string()], |t| Ok(t.to_string())) {
                let _ = policy.allows("https", "api.example.com", None);
                let _ = policy.allows("tcp", "10.1.2.3", Some(5432));
                let _ = policy.allows_self();
            }
            if let Some(route) = super::manifest::Route::parse(&text) {
                let _ = route.matches("/api/v1/items");
                let _ = route.matches(&text);
            }
            let _ = super::variables::template_references(&text);
            let _ = super::variables::validate_name(&text);
        });
    }
}
