//! `keel:platform/feature-flags`: flags declared in configuration, rolled
//! out by a stable hash, overridden per workspace and per member in
//! `keel:infrastructure/kv`.
//!
//! The product declares its flags in the Spin variable `feature_flags`, a
//! JSON object read once per instance:
//!
//! ```json
//! {
//!   "message_editing": { "default": "on" },
//!   "composer": { "variants": ["classic", "compact"], "default": "classic",
//!                 "rollout": { "compact": 25 }, "by": "user" }
//! }
//! ```
//!
//! A flag has `variants` (`["on", "off"]` when left out), a `default`, and
//! optionally a `rollout`: percentages of subjects per variant (at most 100
//! in all), by `"workspace"` (the default) or `"user"`. A subject's bucket
//! is the SHA-256 of `<flag>:<subject id>` modulo 100, so the same subject
//! always gets the same variant, different flags split subjects
//! independently, and raising a percentage only adds subjects. Subjects
//! outside every rollout range get the default.
//!
//! Overrides are kv entries `ff:<workspace>:w:<flag>` (the workspace) and
//! `ff:<workspace>:u:<user>:<flag>` (one member in it) holding a variant
//! name; a member's override wins over the workspace's, which wins over the
//! rollout. An override naming a variant the declaration no longer has is
//! ignored (the flag was re-declared since).
//!
//! Who may set an override is the caller's rule (a domain's role check):
//! this component only stores and evaluates.

use exports::keel::platform::feature_flags::{Error, Evaluation, Guest, Reason, Subject};
use keel::platform::configuration;
use keel_guest::kv;
use serde::Deserialize;
use std::cell::OnceCell;
use std::collections::BTreeMap;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform"],
    world: "keel:platform/feature-flags-service",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/kv@0.1.0": keel_guest::kv::bindings::keel::infrastructure::kv },
});

/// The Spin variable that declares the flags.
const VARIABLE: &str = "feature_flags";
/// The variant that turns a feature off (`enabled: false`).
const OFF: &str = "off";
/// Longest flag or variant name.
const MAX_NAME: usize = 64;

/// One flag as declared.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Flag {
    #[serde(default = "on_off")]
    variants: Vec<String>,
    default: String,
    #[serde(default)]
    rollout: BTreeMap<String, u8>,
    #[serde(default)]
    by: Unit,
}

/// What a rollout splits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Unit {
    #[default]
    Workspace,
    User,
}

fn on_off() -> Vec<String> {
    vec!["on".into(), OFF.into()]
}

thread_local! {
    /// The declarations, parsed once per instance (Spin variables do not
    /// change while an app runs), or why they do not parse.
    static DECLARED: OnceCell<Result<BTreeMap<String, Flag>, String>> = const { OnceCell::new() };
}

struct FeatureFlags;

impl Guest for FeatureFlags {
    async fn evaluate(flag: String, subject: Subject) -> Result<Evaluation, Error> {
        let declared = declared().await?;
        let declaration = declared.get(&flag).ok_or_else(|| Error::UnknownFlag(format!("no feature flag `{flag}`")))?;
        check_subject(&subject)?;
        let (workspace, user) = overrides(&subject, &flag).await?;
        Ok(evaluation(&flag, declaration, &subject, workspace, user))
    }

    async fn evaluate_all(subject: Subject) -> Result<Vec<Evaluation>, Error> {
        let declared = declared().await?;
        check_subject(&subject)?;
        // Two reads per declared flag: a store lists keys by reading them
        // all (Spin's `get-keys`), which grows with everything it holds.
        let mut evaluations = Vec::with_capacity(declared.len());
        for (name, declaration) in &declared {
            let (workspace, user) = overrides(&subject, name).await?;
            evaluations.push(evaluation(name, declaration, &subject, workspace, user));
        }
        Ok(evaluations)
    }

    async fn set_override(flag: String, subject: Subject, variant: Option<String>) -> Result<Evaluation, Error> {
        let declared = declared().await?;
        let declaration = declared.get(&flag).ok_or_else(|| Error::UnknownFlag(format!("no feature flag `{flag}`")))?;
        check_subject(&subject)?;
        let key = match &subject.user_id {
            Some(user) => user_key(&subject.workspace_id, user, &flag),
            None => workspace_key(&subject.workspace_id, &flag),
        };
        match &variant {
            Some(variant) if !declaration.variants.contains(variant) => {
                return Err(Error::InvalidInput(format!(
                    "`{flag}` has no variant `{variant}` (it has: {})",
                    declaration.variants.join(", ")
                )));
            }
            Some(variant) => kv::set(key, variant.clone().into_bytes()).await.map_err(unavailable)?,
            None => kv::delete(key).await.map_err(unavailable)?,
        }
        Self::evaluate(flag, subject).await
    }
}

/// The workspace's and the member's overrides of `flag`, as stored.
async fn overrides(subject: &Subject, flag: &str) -> Result<(Option<String>, Option<String>), Error> {
    let workspace = get(&workspace_key(&subject.workspace_id, flag)).await?;
    let user = match &subject.user_id {
        Some(user) => get(&user_key(&subject.workspace_id, user, flag)).await?,
        None => None,
    };
    Ok((workspace, user))
}

fn workspace_key(workspace: &str, flag: &str) -> String {
    format!("ff:{workspace}:w:{flag}")
}

fn user_key(workspace: &str, user: &str, flag: &str) -> String {
    format!("ff:{workspace}:u:{user}:{flag}")
}

/// Ids become parts of keys: they must not carry the separator.
fn check_subject(subject: &Subject) -> Result<(), Error> {
    let ids = std::iter::once(&subject.workspace_id).chain(subject.user_id.as_ref());
    for id in ids {
        if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(Error::InvalidInput(format!("`{id}` is not an id")));
        }
    }
    Ok(())
}

async fn get(key: &str) -> Result<Option<String>, Error> {
    let value = kv::get(key.to_owned()).await.map_err(unavailable)?;
    Ok(value.and_then(|bytes| String::from_utf8(bytes).ok()))
}

fn unavailable(err: kv::Error) -> Error {
    Error::Unavailable(format!("feature flag overrides: {}", kv::describe(&err)))
}

/// The declarations, read and checked on first use.
async fn declared() -> Result<BTreeMap<String, Flag>, Error> {
    if let Some(known) = DECLARED.with(|cell| cell.get().cloned()) {
        return known.map_err(Error::Misconfigured);
    }
    let parsed = match configuration::get(VARIABLE.to_owned(), configuration::Kind::Json).await {
        Ok(Some(raw)) => parse(&raw).map_err(|why| format!("variable `{VARIABLE}`: {why}")),
        Ok(None) => Ok(BTreeMap::new()),
        Err(configuration::Error::Invalid(message)) => Err(message),
        Err(configuration::Error::Unavailable(message)) => return Err(Error::Misconfigured(message)),
    };
    DECLARED.with(|cell| cell.get_or_init(|| parsed).clone()).map_err(Error::Misconfigured)
}

/// The declarations in `raw`, or every problem with them at once.
fn parse(raw: &str) -> Result<BTreeMap<String, Flag>, String> {
    let flags: BTreeMap<String, Flag> = serde_json::from_str(raw).map_err(|err| err.to_string())?;
    let mut problems = Vec::new();
    for (name, flag) in &flags {
        if !is_name(name) {
            problems.push(format!("`{name}` is not a flag name (a-z, 0-9, `_`, at most {MAX_NAME})"));
        }
        for variant in &flag.variants {
            if !is_name(variant) {
                problems.push(format!("`{name}`: `{variant}` is not a variant name (a-z, 0-9, `_`)"));
            }
        }
        if flag.variants.is_empty() {
            problems.push(format!("`{name}`: declares no variants"));
        }
        if (1..flag.variants.len()).any(|i| flag.variants[..i].contains(&flag.variants[i])) {
            problems.push(format!("`{name}`: a variant is listed twice"));
        }
        if !flag.variants.contains(&flag.default) {
            problems.push(format!("`{name}`: the default `{}` is not one of its variants", flag.default));
        }
        for variant in flag.rollout.keys() {
            if !flag.variants.contains(variant) {
                problems.push(format!("`{name}`: rollout names `{variant}`, which is not one of its variants"));
            }
        }
        let total: u32 = flag.rollout.values().map(|percent| u32::from(*percent)).sum();
        if total > 100 {
            problems.push(format!("`{name}`: rollout percentages add up to {total}, more than 100"));
        }
    }
    if problems.is_empty() { Ok(flags) } else { Err(problems.join("; ")) }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The variant a subject gets, from its overrides (as stored) and the
/// declaration.
fn evaluation(
    name: &str,
    flag: &Flag,
    subject: &Subject,
    workspace: Option<String>,
    user: Option<String>,
) -> Evaluation {
    let declared = |variant: &Option<String>| variant.as_ref().filter(|v| flag.variants.contains(v)).cloned();
    let (variant, reason) = if let Some(variant) = declared(&user) {
        (variant, Reason::UserOverride)
    } else if let Some(variant) = declared(&workspace) {
        (variant, Reason::WorkspaceOverride)
    } else {
        let unit = match flag.by {
            Unit::Workspace => Some(subject.workspace_id.as_str()),
            Unit::User => subject.user_id.as_deref(),
        };
        match unit.and_then(|id| rolled_out(name, flag, id)) {
            Some(variant) => (variant, Reason::Rollout),
            None => (flag.default.clone(), Reason::Default),
        }
    };
    Evaluation { flag: name.to_owned(), enabled: variant != OFF, variant, reason, variants: flag.variants.clone() }
}

/// The rollout variant whose range holds the subject's bucket, if any.
/// Ranges follow the declaration's variant order.
fn rolled_out(name: &str, flag: &Flag, id: &str) -> Option<String> {
    let bucket = bucket(name, id);
    let mut start = 0;
    for variant in &flag.variants {
        let end = start + flag.rollout.get(variant).copied().map(u32::from).unwrap_or(0);
        if (start..end).contains(&bucket) {
            return Some(variant.clone());
        }
        start = end;
    }
    None
}

/// 0–99, the same for the same flag and subject everywhere.
fn bucket(flag: &str, id: &str) -> u32 {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(format!("{flag}:{id}").as_bytes());
    let high = u64::from_be_bytes(hash[..8].try_into().expect("32 bytes"));
    (high % 100) as u32
}

export!(FeatureFlags);

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(workspace: &str, user: Option<&str>) -> Subject {
        Subject { workspace_id: workspace.into(), user_id: user.map(Into::into) }
    }

    #[test]
    fn parses_declarations_with_their_defaults() {
        let flags = parse(r#"{"message_editing":{"default":"on"}}"#).unwrap();
        let flag = &flags["message_editing"];
        assert_eq!(flag.variants, ["on", "off"]);
        assert_eq!(flag.by, Unit::Workspace);
        assert!(flag.rollout.is_empty());
    }

    #[test]
    fn lists_every_problem_at_once() {
        let err = parse(
            r#"{"Bad":{"default":"on"},"ab":{"variants":["a","b","a"],"default":"c","rollout":{"z":10,"a":95}}}"#,
        )
        .unwrap_err();
        for expected in ["`Bad` is not a flag name", "listed twice", "default `c`", "names `z`", "add up to 105"] {
            assert!(err.contains(expected), "{err} does not mention {expected}");
        }
        assert!(parse(r#"{"x":{"default":"on","colour":"red"}}"#).unwrap_err().contains("unknown field `colour`"));
        assert!(parse(r#"{"x":{"default":"on","by":"team"}}"#).unwrap_err().contains("unknown variant `team`"));
    }

    #[test]
    fn rollout_buckets_are_stable_and_split_subjects() {
        // Fixed values: a change of hash would move every subject.
        assert_eq!(bucket("message_editing", "wsp_1"), bucket("message_editing", "wsp_1"));
        let flags = parse(r#"{"f":{"default":"off","rollout":{"on":30}}}"#).unwrap();
        let on = (0..1000)
            .filter(|i| evaluation("f", &flags["f"], &subject(&format!("wsp_{i}"), None), None, None).enabled)
            .count();
        assert!((250..350).contains(&on), "{on} of 1000 workspaces in a 30 % rollout");
        // Raising the percentage only adds subjects.
        let wider = parse(r#"{"f":{"default":"off","rollout":{"on":60}}}"#).unwrap();
        for i in 0..1000 {
            let s = subject(&format!("wsp_{i}"), None);
            if evaluation("f", &flags["f"], &s, None, None).enabled {
                assert!(evaluation("f", &wider["f"], &s, None, None).enabled);
            }
        }
    }

    #[test]
    fn overrides_win_in_order_and_stale_ones_are_ignored() {
        let flags = parse(r#"{"f":{"default":"on"}}"#).unwrap();
        let s = subject("wsp_1", Some("usr_1"));
        let eval = |w: Option<&str>, u: Option<&str>| {
            let e = evaluation("f", &flags["f"], &s, w.map(Into::into), u.map(Into::into));
            (e.variant, e.reason, e.enabled)
        };
        assert_eq!(eval(None, None), ("on".into(), Reason::Default, true));
        assert_eq!(eval(Some("off"), None), ("off".into(), Reason::WorkspaceOverride, false));
        assert_eq!(eval(Some("off"), Some("on")), ("on".into(), Reason::UserOverride, true));
        assert_eq!(eval(Some("gone"), None), ("on".into(), Reason::Default, true));
    }

    #[test]
    fn a_user_rollout_without_a_user_gets_the_default() {
        let flags = parse(r#"{"f":{"default":"off","rollout":{"on":100},"by":"user"}}"#).unwrap();
        assert!(!evaluation("f", &flags["f"], &subject("wsp_1", None), None, None).enabled);
        assert!(evaluation("f", &flags["f"], &subject("wsp_1", Some("usr_1")), None, None).enabled);
    }

    #[test]
    fn ids_that_could_forge_keys_are_refused() {
        assert!(check_subject(&subject("wsp_1", Some("usr_1"))).is_ok());
        assert!(check_subject(&subject("wsp_1:w", None)).is_err());
        assert!(check_subject(&subject("wsp_1", Some(""))).is_err());
    }
}
