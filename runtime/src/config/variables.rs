//! Application variables, resolved the way Spin resolves them.
//!
//! A component reads only the variables its manifest section declares; each
//! is a template such as `"{{ token_secret }}"` over application variables.
//! Application variables come from, in order: the environment
//! (`SPIN_VARIABLE_TOKEN_SECRET`), a `.env` file in the application
//! directory (same names), then the manifest default. A required variable
//! with no value stops `keel up` at start-up.

use std::collections::BTreeMap;
use std::path::Path;

use super::manifest::Manifest;

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
    /// Resolve the application variables of `manifest`, failing on a required
    /// variable without a value.
    pub fn resolve(
        manifest: &Manifest,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Variables, String> {
        let dotenv = read_dotenv(&manifest.app_dir.join(".env"))?;
        let mut values = BTreeMap::new();
        for (name, decl) in &manifest.variables {
            let key = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
            let value = env(&key)
                .or_else(|| dotenv.get(&key).cloned())
                .or_else(|| decl.default.clone());
            match value {
                Some(v) => {
                    values.insert(name.clone(), v);
                }
                None if decl.required => {
                    return Err(format!(
                        "required variable `{name}` has no value: set {key} in the environment or in {}",
                        manifest.app_dir.join(".env").display()
                    ));
                }
                None => {}
            }
        }
        Ok(Variables { values })
    }

    /// Render a component variable's template.
    pub fn render(&self, template: &str) -> Result<String, String> {
        let mut out = String::new();
        for part in parts(template)? {
            match part {
                Part::Literal(l) => out.push_str(l),
                Part::Var(v) => out.push_str(
                    self.values
                        .get(v)
                        .ok_or_else(|| format!("application variable `{v}` has no value"))?,
                ),
            }
        }
        Ok(out)
    }
}

fn read_dotenv(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut values = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("{}:{}: expected KEY=VALUE", path.display(), i + 1))?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v);
        values.insert(k.trim().to_string(), v.to_string());
    }
    Ok(values)
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
    fn environment_beats_dotenv_beats_default() {
        let dir = std::env::temp_dir().join(format!("keel-vars-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".env"), "SPIN_VARIABLE_SECRET=from-file\nSPIN_VARIABLE_GREETING='hi'\n").unwrap();
        let m = manifest(&dir);
        let vars = Variables::resolve(&m, |k| (k == "SPIN_VARIABLE_SECRET").then(|| "env".into())).unwrap();
        assert_eq!(vars.render("{{ greeting }}, {{secret}}!").unwrap(), "hi, env!");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_required_variable_without_value_is_an_error() {
        let m = manifest(&PathBuf::from("/nonexistent-keel-dir"));
        let err = Variables::resolve(&m, |_| None).unwrap_err();
        assert!(err.contains("SPIN_VARIABLE_SECRET"), "{err}");
    }

    #[test]
    fn rejects_unterminated_templates() {
        assert!(template_references("{{ oops").is_err());
    }
}
