//! Spin's locked application (`spin.lock`, the JSON a Spin OCI artifact
//! carries as its `application/vnd.fermyon.spin.application.v1+config`
//! layer): written from a [`Manifest`] for `keel registry push`, and read
//! back into one, through the same validation as `spin.toml`, for
//! `keel up --from-registry`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ConfigError;
use super::manifest::{FileMount, Manifest};

/// The content type of a component source.
const WASM_CONTENT_TYPE: &str = "application/wasm";

/// A locked application, in the field order Spin writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockedApp {
    /// The lock format's version (1).
    pub spin_lock_version: u32,
    /// Features a runtime must support to run the app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must_understand: Vec<String>,
    /// App metadata: name, version, trigger settings, origin.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// Host capabilities the app needs.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub host_requirements: Map<String, Value>,
    /// The application variables, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, LockedVariable>,
    /// The triggers (one per HTTP route here).
    pub triggers: Vec<LockedTrigger>,
    /// The components.
    pub components: Vec<LockedComponent>,
}

/// An application variable of a locked app.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockedVariable {
    /// What the variable is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its default value; none means required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Whether it holds a secret.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// A trigger of a locked app.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockedTrigger {
    /// The trigger id (`<component>-http-trigger`).
    pub id: String,
    /// The trigger kind (`http`).
    pub trigger_type: String,
    /// The trigger's settings (`route`, `component`).
    pub trigger_config: Value,
}

/// A component of a locked app.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockedComponent {
    /// The component id.
    pub id: String,
    /// Component metadata: allowed hosts, stores, databases.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// Where its Wasm is.
    pub source: LockedSource,
    /// Its environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The files it mounts, each by the digest of its content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<LockedFile>,
    /// Its variables: name to template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Components to compose at load (refused by Keel).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub dependencies: Map<String, Value>,
    /// Host capabilities it needs.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub host_requirements: Map<String, Value>,
}

/// A file a component mounts: its content and where the guest sees it
/// (relative to `/`, `/`-separated), as `spin registry push` locks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedFile {
    /// The file's content.
    pub content: LockedContent,
    /// Its guest path.
    pub path: String,
}

/// A content reference: a URL, the content inline, or a digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedContent {
    /// A URL of the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The content itself, when small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
    /// The content's digest (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl LockedContent {
    /// The content with `digest`.
    pub fn of(digest: String) -> LockedContent {
        LockedContent { digest: Some(digest), ..LockedContent::default() }
    }
}

impl LockedFile {
    /// A file given by `digest`, seen at `path`.
    pub fn of(digest: String, path: String) -> LockedFile {
        LockedFile { content: LockedContent::of(digest), path }
    }
}

/// A component source: its content type and content reference (`source`
/// URL, `digest`, or small `inline` content).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockedSource {
    /// The content's media type (`application/wasm`).
    pub content_type: String,
    /// Where the content is.
    #[serde(flatten)]
    pub content: LockedContent,
}

impl LockedApp {
    /// The lock `spin registry push` writes for `manifest`, each component's
    /// source given by the digest of its (composed) Wasm, and its files by
    /// `files_of`.
    pub fn from_manifest(
        manifest: &Manifest,
        digest_of: impl Fn(&str) -> String,
        files_of: impl Fn(&str) -> Vec<LockedFile>,
    ) -> LockedApp {
        let mut metadata = Map::new();
        metadata.insert("name".into(), json!(manifest.name));
        if let Some(version) = manifest.version.as_deref().filter(|v| !v.is_empty()) {
            metadata.insert("version".into(), json!(version));
        }
        if let Some(description) = manifest.description.as_deref().filter(|d| !d.is_empty()) {
            metadata.insert("description".into(), json!(description));
        }
        if !manifest.authors.is_empty() {
            metadata.insert("authors".into(), json!(manifest.authors));
        }
        metadata.insert("trigger".into(), json!({ "type": "http" }));
        metadata.insert("triggers".into(), json!({}));

        let variables = manifest
            .variables
            .iter()
            .map(|(name, decl)| {
                let variable = LockedVariable {
                    description: decl.description.clone(),
                    default: decl.default.clone(),
                    secret: decl.secret,
                };
                (name.clone(), variable)
            })
            .collect();

        let mut triggers: Vec<LockedTrigger> = Vec::new();
        let mut push = |kind: &str, component: &str, trigger_config: Value| {
            let preferred = format!("{component}-{kind}-trigger");
            let id = if triggers.iter().any(|t| t.id == preferred) {
                format!("{kind}-trigger{}", triggers.len())
            } else {
                preferred
            };
            triggers.push(LockedTrigger { id, trigger_type: kind.into(), trigger_config });
        };
        for route in &manifest.http_routes {
            push("http", &route.component, json!({ "component": route.component, "route": route.route.as_spin_str() }));
        }
        for cron in &manifest.cron_triggers {
            let config = json!({ "component": cron.component, "cron_expression": cron.schedule.source() });
            push("cron", &cron.component, config);
        }

        let components = manifest
            .components
            .values()
            .map(|c| {
                let mut metadata = Map::new();
                let lists = [
                    ("allowed_outbound_hosts", &c.allowed_outbound_hosts),
                    ("databases", &c.sqlite_databases),
                    ("key_value_stores", &c.key_value_stores),
                ];
                for (key, list) in lists {
                    if !list.is_empty() {
                        metadata.insert(key.into(), json!(list));
                    }
                }
                LockedComponent {
                    id: c.id.clone(),
                    metadata,
                    source: LockedSource {
                        content_type: WASM_CONTENT_TYPE.into(),
                        content: LockedContent::of(digest_of(&c.id)),
                    },
                    env: c.environment.clone(),
                    files: files_of(&c.id),
                    config: c.variables.clone(),
                    dependencies: Map::new(),
                    host_requirements: Map::new(),
                }
            })
            .collect();

        LockedApp {
            spin_lock_version: 1,
            must_understand: Vec::new(),
            metadata,
            host_requirements: Map::new(),
            variables,
            triggers,
            components,
        }
    }

    /// Parse a locked app; `origin` names it in errors.
    pub fn parse(origin: &Path, json: &[u8]) -> Result<LockedApp, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: origin.to_path_buf(), message };
        let locked: LockedApp =
            serde_json::from_slice(json).map_err(|e| invalid(format!("not a Spin locked application: {e}")))?;
        if locked.spin_lock_version > 1 {
            return Err(invalid(format!(
                "spin_lock_version {} is newer than keel understands (0 or 1)",
                locked.spin_lock_version
            )));
        }
        let required = |requirements: &Map<String, Value>| {
            requirements
                .iter()
                .filter(|(_, v)| v.as_str() != Some("optional"))
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>()
        };
        let mut unmet = required(&locked.host_requirements);
        for c in &locked.components {
            unmet.extend(required(&c.host_requirements));
        }
        if !unmet.is_empty() {
            return Err(invalid(format!(
                "the application requires host features keel does not have: {}",
                unmet.join(", ")
            )));
        }
        if let Some(unknown) = locked
            .must_understand
            .iter()
            .find(|m| !matches!(m.as_str(), "host_requirements" | "component_host_requirements"))
        {
            return Err(invalid(format!("the application needs `{unknown}`, which keel does not understand")));
        }
        Ok(locked)
    }

    /// The application as a [`Manifest`], each component's source being the
    /// file `source_path` gives for its digest, and its files the directory
    /// `files_dir` makes of them (mounted at `/`). Validated as `spin.toml`
    /// is.
    pub fn into_manifest(
        self,
        origin: &Path,
        app_dir: PathBuf,
        source_path: impl Fn(&str) -> Result<PathBuf, String>,
        files_dir: impl Fn(&str, &[LockedFile]) -> Result<PathBuf, String>,
    ) -> Result<Manifest, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: origin.to_path_buf(), message };
        let meta_str = |key: &str| self.metadata.get(key).and_then(Value::as_str).map(str::to_string);
        let mut application = Map::new();
        application.insert("name".into(), json!(meta_str("name").unwrap_or_else(|| "app".into())));
        for key in ["version", "description"] {
            if let Some(value) = meta_str(key) {
                application.insert(key.into(), json!(value));
            }
        }
        if let Some(authors) = self.metadata.get("authors") {
            application.insert("authors".into(), authors.clone());
        }
        // Application-wide trigger settings: `triggers` (Spin 3+), or the
        // older single `trigger` (its `type` names the trigger kind).
        let mut global = match self.metadata.get("triggers") {
            Some(Value::Object(triggers)) => triggers.clone(),
            _ => Map::new(),
        };
        if let Some(Value::Object(trigger)) = self.metadata.get("trigger") {
            let mut trigger = trigger.clone();
            if let Some(Value::String(kind)) = trigger.remove("type") {
                global.entry(kind).or_insert(Value::Object(trigger));
            }
        }
        global.retain(|_, v| v.as_object().is_some_and(|o| !o.is_empty()));
        if !global.is_empty() {
            application.insert("trigger".into(), Value::Object(global));
        }

        let variables: Map<String, Value> = self
            .variables
            .into_iter()
            .map(|(name, v)| {
                let mut decl = Map::new();
                match v.default {
                    Some(default) => decl.insert("default".into(), json!(default)),
                    None => decl.insert("required".into(), json!(true)),
                };
                if v.secret {
                    decl.insert("secret".into(), json!(true));
                }
                if let Some(description) = v.description {
                    decl.insert("description".into(), json!(description));
                }
                (name, Value::Object(decl))
            })
            .collect();

        let mut trigger: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for t in self.triggers {
            let mut config = t.trigger_config;
            if let Value::Object(config) = &mut config {
                config.insert("id".into(), json!(t.id));
            }
            trigger.entry(t.trigger_type).or_default().push(config);
        }

        let mut components = Map::new();
        let mut mounted = Vec::new();
        for c in self.components {
            let ctx = |m: String| invalid(format!("component `{}`: {m}", c.id));
            if c.source.content_type != WASM_CONTENT_TYPE {
                return Err(ctx(format!("source content type `{}` is not {WASM_CONTENT_TYPE}", c.source.content_type)));
            }
            let digest = c.source.content.digest.as_deref().ok_or_else(|| ctx("the source has no digest".into()))?;
            let path = source_path(digest).map_err(ctx)?;
            let mut component = Map::new();
            component.insert("source".into(), json!(path.to_string_lossy()));
            for (from, to) in [
                ("allowed_outbound_hosts", "allowed_outbound_hosts"),
                ("databases", "sqlite_databases"),
                ("key_value_stores", "key_value_stores"),
                ("ai_models", "ai_models"),
            ] {
                if let Some(value) = c.metadata.get(from) {
                    component.insert(to.into(), value.clone());
                }
            }
            if !c.config.is_empty() {
                component.insert("variables".into(), json!(c.config));
            }
            if !c.env.is_empty() {
                component.insert("environment".into(), json!(c.env));
            }
            if !c.files.is_empty() {
                if let Some(file) =
                    c.files.iter().find(|f| f.content.digest.is_none() || !super::files::is_contained(&f.path))
                {
                    return Err(ctx(format!(
                        "files: `{}` must be a path inside the mount with a content digest (as `spin registry push` locks files)",
                        file.path
                    )));
                }
                mounted.push((c.id.clone(), files_dir(&c.id, &c.files).map_err(ctx)?));
            }
            if !c.dependencies.is_empty() {
                component.insert("dependencies".into(), Value::Object(c.dependencies));
            }
            components.insert(c.id, Value::Object(component));
        }

        let raw = json!({
            "spin_manifest_version": 2,
            "application": application,
            "variables": variables,
            "trigger": trigger,
            "component": components,
        });
        let mut manifest = Manifest::from_json(origin, raw, app_dir)?;
        for (id, dir) in mounted {
            if let Some(component) = manifest.components.get_mut(&id) {
                component.files = vec![FileMount::Directory { source: dir, destination: "/".into() }];
            }
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "demo"
version = "1.2.0"
authors = ["Ada <ada@example.com>"]
[variables]
token_secret = { required = true, secret = true }
greeting = { default = "hello" }
[[trigger.http]]
route = "/..."
component = "web"
[[trigger.http]]
route = "/admin"
component = "web"
[[trigger.cron]]
component = "web"
cron_expression = "0 */5 * * * *"
[component.web]
source = "dist/web.wasm"
sqlite_databases = ["default"]
key_value_stores = ["default"]
allowed_outbound_hosts = ["https://api.example.com"]
environment = { MODE = "prod" }
[component.web.variables]
token_secret = "{{ token_secret }}"
"#;

    fn manifest() -> Manifest {
        Manifest::parse(Path::new("spin.toml"), MANIFEST, PathBuf::from("/app")).unwrap()
    }

    #[test]
    fn writes_what_spin_writes() {
        let locked = LockedApp::from_manifest(&manifest(), |_| "sha256:abc".into(), |_| Vec::new());
        let json = serde_json::to_value(&locked).unwrap();
        assert_eq!(json["metadata"]["name"], "demo");
        assert_eq!(json["metadata"]["trigger"], json!({"type": "http"}));
        assert_eq!(json["variables"]["token_secret"], json!({"secret": true}));
        assert_eq!(json["variables"]["greeting"], json!({"default": "hello"}));
        assert_eq!(json["triggers"][0]["id"], "web-http-trigger");
        assert_eq!(json["triggers"][1]["id"], "http-trigger1");
        assert_eq!(json["triggers"][1]["trigger_config"], json!({"component": "web", "route": "/admin"}));
        assert_eq!(json["triggers"][2]["id"], "web-cron-trigger");
        assert_eq!(
            json["triggers"][2]["trigger_config"],
            json!({"component": "web", "cron_expression": "0 */5 * * * *"})
        );
        let web = &json["components"][0];
        assert_eq!(web["metadata"]["databases"], json!(["default"]));
        assert_eq!(web["source"], json!({"content_type": "application/wasm", "digest": "sha256:abc"}));
        assert_eq!(web["config"]["token_secret"], "{{ token_secret }}");
        assert_eq!(web["env"]["MODE"], "prod");
    }

    #[test]
    fn round_trips_into_the_same_manifest() {
        let original = manifest();
        let files = |id: &str| vec![LockedFile::of("sha256:f1".into(), format!("{id}/index.html"))];
        let locked = LockedApp::from_manifest(&original, |_| "sha256:abc".into(), files);
        let bytes = serde_json::to_vec(&locked).unwrap();
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            json["components"][0]["files"],
            json!([{"content": {"digest": "sha256:f1"}, "path": "web/index.html"}])
        );
        let back = LockedApp::parse(Path::new("lock"), &bytes)
            .unwrap()
            .into_manifest(
                Path::new("lock"),
                PathBuf::from("/run"),
                |d| Ok(PathBuf::from(format!("/blobs/{d}"))),
                |id, files| {
                    assert_eq!(files, [LockedFile::of("sha256:f1".into(), format!("{id}/index.html"))]);
                    Ok(PathBuf::from(format!("/files/{id}")))
                },
            )
            .unwrap();
        assert_eq!(back.name, "demo");
        assert_eq!(back.version.as_deref(), Some("1.2.0"));
        assert_eq!(back.http_routes, original.http_routes);
        assert_eq!(back.cron_triggers, original.cron_triggers);
        let web = &back.components["web"];
        assert_eq!(web.source, PathBuf::from("/blobs/sha256:abc"));
        assert_eq!(web.sqlite_databases, ["default"]);
        assert_eq!(web.files, [FileMount::Directory { source: PathBuf::from("/files/web"), destination: "/".into() }]);
        assert_eq!(web.variables, original.components["web"].variables);
        assert!(back.variables["token_secret"].required && back.variables["token_secret"].secret);
        assert_eq!(back.variables["greeting"].default.as_deref(), Some("hello"));
    }

    #[test]
    fn refuses_what_keel_cannot_run() {
        let base =
            |component: Value| json!({"spin_lock_version": 1, "triggers": [], "components": [component]}).to_string();
        let wasm = json!({"content_type": "application/wasm", "digest": "sha256:abc"});
        let cases = [
            (base(json!({"id": "a", "source": wasm, "files": [{"path": "x", "digest": "sha256:1"}]})), "missing field `content`"),
            (base(json!({"id": "a", "source": wasm, "files": [{"content": {"source": "file:///x"}, "path": "x"}]})), "content digest"),
            (base(json!({"id": "a", "source": wasm, "files": [{"content": {"digest": "sha256:1"}, "path": "../x"}]})), "`../x` must be a path inside"),
            (base(json!({"id": "a", "source": wasm, "host_requirements": {"local_service_chaining": "required"}})), "local_service_chaining"),
            (base(json!({"id": "a", "source": {"content_type": "application/wasm"}})), "no digest"),
            (json!({"spin_lock_version": 2, "triggers": [], "components": []}).to_string(), "spin_lock_version 2"),
            (json!({"spin_lock_version": 1, "triggers": [{"id": "t", "trigger_type": "redis", "trigger_config": {}}], "components": []}).to_string(), "redis"),
        ];
        for (json, expected) in cases {
            let result = LockedApp::parse(Path::new("lock"), json.as_bytes()).and_then(|l| {
                l.into_manifest(
                    Path::new("lock"),
                    PathBuf::from("/run"),
                    |d| Ok(PathBuf::from(d)),
                    |_, _| Ok("/f".into()),
                )
            });
            let error = result.expect_err(expected).to_string();
            assert!(error.contains(expected), "{error} does not mention {expected}");
        }
    }
}
