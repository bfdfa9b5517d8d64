//! Steps that inspect composed components: their top-level imports and
//! exports, and the components embedded in them.

use cucumber::then;
use wasmparser::{Parser, Payload};

use super::{KeelWorld, repo_root};

/// The top-level (not nested) import and export names of a component.
fn interface_names(path: &str) -> (Vec<String>, Vec<String>) {
    let bytes = std::fs::read(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(&bytes) {
        match payload.expect("valid component") {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(reader) if depth == 1 => {
                imports.extend(reader.into_iter().map(|i| i.expect("import").name.name.to_string()));
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                exports.extend(reader.into_iter().map(|e| e.expect("export").name.name.to_string()));
            }
            _ => {}
        }
    }
    (imports, exports)
}

#[then(expr = "the component {string} imports only {string} and {string} interfaces")]
fn imports_only(_world: &mut KeelWorld, path: String, a: String, b: String) {
    let (imports, _) = interface_names(&path);
    assert!(!imports.is_empty(), "{path} has no imports");
    let foreign: Vec<_> = imports.iter().filter(|i| !i.starts_with(&a) && !i.starts_with(&b)).collect();
    assert!(foreign.is_empty(), "{path} imports non-host interfaces: {foreign:?}");
}

#[then(expr = "the component {string} imports {string}")]
fn imports(_world: &mut KeelWorld, path: String, name: String) {
    let (imports, _) = interface_names(&path);
    assert!(imports.contains(&name), "{path} imports {imports:?}");
}

#[then(expr = "the component {string} does not import {string}")]
fn does_not_import(_world: &mut KeelWorld, path: String, name: String) {
    let (imports, _) = interface_names(&path);
    assert!(!imports.is_empty(), "{path} has no imports");
    assert!(!imports.contains(&name), "{path} imports {name}");
}

#[then(expr = "the component {string} exports {string}")]
fn exports(_world: &mut KeelWorld, path: String, name: String) {
    let (_, exports) = interface_names(&path);
    assert!(exports.contains(&name), "{path} exports {exports:?}");
}

#[then(expr = "every component in {string} imports only {string} and {string} interfaces")]
fn all_import_only(world: &mut KeelWorld, dir: String, a: String, b: String) {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo_root().join(&dir)).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let name = entry.expect("dir entry").file_name().into_string().expect("utf-8 name");
        if name.ends_with(".wasm") {
            imports_only(world, format!("{dir}/{name}"), a.clone(), b.clone());
            checked += 1;
        }
    }
    assert!(checked > 0, "no components in {dir}");
}

/// The bytes of each component embedded at the top level of a composition.
fn embedded_components(path: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut embedded = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(&bytes) {
        match payload.expect("valid component") {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentSection { unchecked_range, .. } if depth == 1 => {
                embedded.push(bytes[unchecked_range].to_vec());
            }
            _ => {}
        }
    }
    embedded
}

#[then(regex = r#"^"([^"]+)" embeds the components of "([^"]+)" byte for byte, except (\d+)$"#)]
fn same_components_but(_world: &mut KeelWorld, variant: String, base: String, swapped: usize) {
    let (ours, theirs) = (embedded_components(&variant), embedded_components(&base));
    assert!(theirs.len() > 2, "{base} embeds {} components", theirs.len());
    assert_eq!(ours.len(), theirs.len(), "{variant} and {base} embed different numbers of components");
    let only_ours = ours.iter().filter(|c| !theirs.contains(c)).count();
    let only_theirs = theirs.iter().filter(|c| !ours.contains(c)).count();
    assert_eq!(
        (only_ours, only_theirs),
        (swapped, swapped),
        "{variant} should differ from {base} in exactly {swapped} embedded component(s)"
    );
}
