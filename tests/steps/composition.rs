//! Steps that inspect composed components' top-level imports and exports.

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

#[then(expr = "the component {string} exports {string}")]
fn exports(_world: &mut KeelWorld, path: String, name: String) {
    let (_, exports) = interface_names(&path);
    assert!(exports.contains(&name), "{path} exports {exports:?}");
}
