//! `keel-compose`: compose Keel guest components from a `.wac` file.
//!
//! ```text
//! keel-compose <file.wac> -o <out.wasm> [--print-imports]
//! ```
//!
//! Packages named `keel:<name>` resolve (through `wac-resolver`'s file-system
//! resolver) to `<target-dir>/wasm32-wasip2/release/<name with - → _>.wasm`,
//! where the target dir is `$CARGO_TARGET_DIR` or `target`. The document is
//! resolved and encoded with `wac-parser`/`wac-graph` (validated, with every
//! WebAssembly feature on, including component-model async). The result must
//! import only `spin:*` and `wasi:*` interfaces — anything else means a
//! component was left unwired — otherwise nothing is written and the tool fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wac_graph::EncodeOptions;
use wac_parser::Document;
use wac_resolver::FileSystemPackageResolver;
use wasmparser::{Parser, Payload};

/// Import prefixes a composed component may keep: the host provides these.
const HOST_PREFIXES: &[&str] = &["spin:", "wasi:"];

struct Args {
    wac: PathBuf,
    output: PathBuf,
    print_imports: bool,
}

fn main() -> Result<()> {
    let args = parse_args(std::env::args().skip(1))?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let bytes = compose(&args.wac, &target_dir.join("wasm32-wasip2").join("release"))?;
    let imports = top_level_imports(&bytes)?;
    if args.print_imports {
        for import in &imports {
            println!("{import}");
        }
    }
    let foreign: Vec<&String> =
        imports.iter().filter(|name| !HOST_PREFIXES.iter().any(|prefix| name.starts_with(prefix))).collect();
    if !foreign.is_empty() {
        bail!(
            "{} would import interfaces the host does not provide (wire them in the .wac file): {}",
            args.wac.display(),
            foreign.iter().map(|name| name.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(parent) = args.output.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&args.output, &bytes).with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(())
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args> {
    const USAGE: &str = "usage: keel-compose <file.wac> -o <out.wasm> [--print-imports]";
    let (mut wac, mut output, mut print_imports) = (None, None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-o" | "--output" => output = Some(PathBuf::from(args.next().context(USAGE)?)),
            "--print-imports" => print_imports = true,
            flag if flag.starts_with('-') => bail!("unknown option `{flag}`\n{USAGE}"),
            _ if wac.is_none() => wac = Some(PathBuf::from(arg)),
            _ => bail!("unexpected argument `{arg}`\n{USAGE}"),
        }
    }
    match (wac, output) {
        (Some(wac), Some(output)) => Ok(Args { wac, output, print_imports }),
        _ => bail!(USAGE),
    }
}

/// Parse, resolve and encode `wac`, taking `keel:*` packages from `wasm_dir`.
fn compose(wac: &Path, wasm_dir: &Path) -> Result<Vec<u8>> {
    let source = std::fs::read_to_string(wac).with_context(|| format!("cannot read {}", wac.display()))?;
    let document = Document::parse(&source).map_err(|err| anyhow::anyhow!("{}: {err}", wac.display()))?;
    let keys = wac_resolver::packages(&document).map_err(|err| anyhow::anyhow!("{}: {err}", wac.display()))?;
    let mut overrides = HashMap::new();
    for key in keys.keys() {
        let Some(name) = key.name.strip_prefix("keel:") else {
            bail!("{}: package `{}` is not a keel:* component", wac.display(), key.name);
        };
        overrides.insert(key.name.to_owned(), wasm_dir.join(format!("{}.wasm", name.replace('-', "_"))));
    }
    let packages = FileSystemPackageResolver::new(wasm_dir, overrides, true)
        .resolve(&keys)
        .with_context(|| format!("{}: cannot resolve its packages", wac.display()))?;
    let resolution = document.resolve(packages).map_err(|err| anyhow::anyhow!("{}: {err}", wac.display()))?;
    resolution
        .encode(EncodeOptions::default())
        .map_err(|err| anyhow::anyhow!("{}: cannot encode the composition: {err}", wac.display()))
}

/// The names of the component's own imports (not those of nested components).
fn top_level_imports(bytes: &[u8]) -> Result<Vec<String>> {
    let mut depth = 0usize;
    let mut imports = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.context("cannot parse the composed component")? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    imports.push(import.context("cannot read an import")?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(imports)
}
