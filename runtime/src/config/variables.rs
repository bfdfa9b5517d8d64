//! Application variables, resolved the way Spin resolves them.
//!
//! A component reads only the variables its manifest section declares; each
//! is a template such as `"{{ token_secret }}"` over application variables.
//! An application variable's value comes from the first provider that has
//! one, then the manifest default:
//!
//! 1. `keel up --variable name=value` (Keel's own, for development);
//! 2. the runtime config's `[[variables_provider]]` entries in file order
//!    (Spin's `type = "env"` with `prefix`/`dotenv_path`, and `type =
//!    "static"` with `values`);
//! 3. Spin's default provider, always last: `SPIN_VARIABLE_<NAME>` in the
//!    environment, then in `.env` in the working directory (parsed by
//!    `dotenvy`, the parser Spin uses).
//!
//! A required variable no provider resolves stops `keel up` at start-up with
//! Spin's words (`no provider resolved required variable "name"`).
//!
//! # Parity with Spin
//!
//! Names follow Spin's `Key::validate` (`crates/expressions/src/lib.rs`)
//! with its reasons, in manifests and in `spin:variables` calls alike, and a
//! manifest variable must be `required` or have a `default` (Spin's loader,
//! `crates/loader/src/local.rs`). Differences, on purpose: values are
//! resolved once at start-up (Spin asks its providers on every `get`, which
//! matters only for Vault and Azure Key Vault, which Keel refuses with the
//! reason), and a required variable is checked at start-up even when a
//! component never reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::manifest::Manifest;

/// Check a variable name as Spin does, returning Spin's reason when invalid.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
        return Err(format!(
            "invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores."
        ));
    }
    if !name.as_bytes()[0].is_ascii_lowercase() {
        return Err("must start with a lowercase ASCII letter".into());
    }
    if !name.as_bytes()[name.len() - 1].is_ascii_alphanumeric() {
        return Err("must end with a lowercase ASCII letter or digit".into());
    }
    if name.contains("__") {
        return Err("must not contain multiple consecutive underscores".into());
    }
    Ok(())
}

/// Where application variables come from (Spin's `[[variables_provider]]`).
#[derive(Debug, Clone, PartialEq)]
pub enum Provider {
    /// `<PREFIX>_<NAME>` from the process environment, then from a dotenv
    /// file's entries.
    Env {
        /// What the upper-cased name follows (`SPIN_VARIABLE` by default).
        prefix: String,
        /// The dotenv file's entries.
        dotenv: BTreeMap<String, String>,
    },
    /// Fixed values by variable name.
    Static(BTreeMap<String, String>),
}

/// The prefix of Spin's default environment provider.
pub const DEFAULT_ENV_PREFIX: &str = "SPIN_VARIABLE";

impl Provider {
    /// An environment provider; `dotenv` is read now (a missing file is
    /// empty, as in Spin; a malformed one is an error naming it).
    pub fn env(prefix: Option<&str>, dotenv: Option<&Path>) -> Result<Provider, String> {
        let dotenv = match dotenv {
            Some(path) => read_dotenv(path)?,
            None => BTreeMap::new(),
        };
        Ok(Provider::Env { prefix: prefix.unwrap_or(DEFAULT_ENV_PREFIX).to_string(), dotenv })
    }

    /// Spin's default provider: `SPIN_VARIABLE_*` and `./.env`.
    pub fn spin_default() -> Result<Provider, String> {
        Provider::env(None, Some(Path::new(".env")))
    }

    fn get(&self, name: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        match self {
            Provider::Env { prefix, dotenv } => {
                let key = format!("{prefix}_{}", name.to_ascii_uppercase());
                env(&key).or_else(|| dotenv.get(&key).cloned())
            }
            Provider::Static(values) => values.get(name).cloned(),
        }
    }

    /// Where a user would set `name` for this provider (for error hints).
    fn hint(&self, name: &str) -> Option<String> {
        match self {
            Provider::Env { prefix, .. } => Some(format!("{prefix}_{}", name.to_ascii_uppercase())),
            Provider::Static(_) => None,
        }
    }
}

/// Names of the application variables a template refers to.
pub fn template_references(template: &str) -> Result<Vec<String>, String> {
    parts(template).map(|ps| {
        ps.into_iter()
            .filter_map(|p| match p {
                Part::Var(v) => Some(v.to_string()),
                Part::Literal(_) => None,
            })
            .collect()
    })
}

enum Part<'a> {
    Literal(&'a str),
    Var(&'a str),
}

fn parts(template: &str) -> Result<Vec<Part<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Part::Literal(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("unterminated `{{` in template")?;
        let name = after[..end].trim();
        if name.is_empty() {
            return Err("empty `{{ }}` in template".into());
        }
        out.push(Part::Var(name));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Part::Literal(rest));
    }
    Ok(out)
}

/// Resolved values of every application variable that has one.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    values: BTreeMap<String, String>,
}

impl Variables {
    /// Resolve the application variables of `manifest` from `providers` (in
    /// order; `env` reads the process environment), failing on a required
    /// variable without a value.
    pub fn resolve(
        manifest: &Manifest,
        providers: &[Provider],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Variables, String> {
        let mut values = BTreeMap::new();
        let mut unresolved = Vec::new();
        for (name, decl) in &manifest.variables {
            match providers.iter().find_map(|p| p.get(name, &env)).or_else(|| decl.default.clone()) {
                Some(v) => {
                    values.insert(name.clone(), v);
                }
                None if decl.required => {
                    let hints: Vec<String> = providers.iter().filter_map(|p| p.hint(name)).collect();
                    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                    unresolved.push(format!(
                        "no provider resolved required variable {name:?}: set {} in the environment or in {}",
                        hints.join(" or "),
                        cwd.join(".env").display()
                    ));
                }
                None => {}
            }
        }
        if !unresolved.is_empty() {
            return Err(unresolved.join("\n"));
        }
        Ok(Variables { values })
    }

    /// Render a component variable's template.
    pub fn render(&self, template: &str) -> Result<String, String> {
        let mut out = String::new();
        for part in parts(template)? {
            match part {
                Part::Literal(l) => out.push_str(l),
                Part::Var(v) => {
                    out.push_str(self.values.get(v).ok_or_else(|| format!("application variable `{v}` has no value"))?)
                }
            }
        }
        Ok(out)
    }
}

/// A dotenv file's entries, parsed as Spin parses them (`dotenvy`); a
/// missing file has none.
fn read_dotenv(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let entries = match dotenvy::from_path_iter(path) {
        Ok(entries) => entries,
        Err(e) if e.not_found() => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    entries.collect::<Result<BTreeMap<_, _>, _>>().map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn manifest(dir: &Path) -> Manifest {
        Manifest::parse(
            Path::new("spin.toml"),
            r#"
spin_manifest_version = 2
[application]
name = "v"
[variables]
secret = { required = true }
greeting = { default = "hello" }
[component.c]
source = "c.wasm"
[component.c.variables]
message = "{{ greeting }}, {{secret}}!"
"#,
            dir.to_path_buf(),
        )
        .unwrap()
    }

    #[test]
    fn providers_in_order_then_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let dotenv = dir.path().join(".env");
        std::fs::write(&dotenv, "SPIN_VARIABLE_SECRET=from-file\nSPIN_VARIABLE_GREETING='hi' # a comment\n").unwrap();
        let m = manifest(dir.path());
        let spin = Provider::env(None, Some(&dotenv)).unwrap();
        let env = |k: &str| (k == "SPIN_VARIABLE_SECRET").then(|| "env".to_string());
        let vars = Variables::resolve(&m, std::slice::from_ref(&spin), env).unwrap();
        assert_eq!(vars.render("{{ greeting }}, {{secret}}!").unwrap(), "hi, env!");

        let fixed = Provider::Static(BTreeMap::from([("secret".to_string(), "static".to_string())]));
        let vars = Variables::resolve(&m, &[fixed, spin.clone()], env).unwrap();
        assert_eq!(vars.render("{{secret}}").unwrap(), "static", "an earlier provider wins");

        let prefixed = Provider::env(Some("MYAPP"), None).unwrap();
        let env = |k: &str| (k == "MYAPP_SECRET").then(|| "prefixed".to_string());
        let vars = Variables::resolve(&m, &[prefixed], env).unwrap();
        assert_eq!(vars.render("{{ greeting }} {{secret}}").unwrap(), "hello prefixed", "manifest default last");
    }

    #[test]
    fn a_required_variable_without_value_is_an_error_in_spins_words() {
        let m = manifest(&PathBuf::from("/nonexistent-keel-dir"));
        let providers = [Provider::env(None, Some(Path::new("/nonexistent-keel-dir/.env"))).unwrap()];
        let err = Variables::resolve(&m, &providers, |_| None).unwrap_err();
        assert!(err.starts_with("no provider resolved required variable \"secret\""), "{err}");
        assert!(err.contains("SPIN_VARIABLE_SECRET"), "{err}");
    }

    #[test]
    fn a_malformed_dotenv_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let dotenv = dir.path().join(".env");
        std::fs::write(&dotenv, "GOOD=1\nnot a pair\n").unwrap();
        let err = Provider::env(None, Some(&dotenv)).unwrap_err();
        assert!(err.contains(&dotenv.display().to_string()), "{err}");
    }

    #[test]
    fn names_are_checked_with_spins_rules_and_reasons() {
        for good in ["a", "token_secret", "a1", "x_2y"] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        for (bad, reason) in [
            ("", "must not be empty"),
            (
                "Token",
                "invalid character 'T'. Variable names may contain only lower-case letters, numbers, and underscores.",
            ),
            (
                "a-b",
                "invalid character '-'. Variable names may contain only lower-case letters, numbers, and underscores.",
            ),
            ("1a", "must start with a lowercase ASCII letter"),
            ("_a", "must start with a lowercase ASCII letter"),
            ("a_", "must end with a lowercase ASCII letter or digit"),
            ("a__b", "must not contain multiple consecutive underscores"),
        ] {
            assert_eq!(validate_name(bad), Err(reason.to_string()), "{bad:?}");
        }
    }

    #[test]
    fn rejects_unterminated_templates() {
        assert!(template_references("{{ oops").is_err());
    }
}
