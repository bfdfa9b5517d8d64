//! `keel-compose`: compose Keel guest components from a `.wac` file.
//!
//! ```text
//! keel-compose <file.wac> -o <out.wasm> [--plug FROM=TO]... [--import PREFIX]... [--compositions DIR] [--print-imports]
//! ```
//!
//! Packages named `keel:<name>` resolve (through `wac-resolver`'s file-system
//! resolver) to the component crate's build,
//! `<target-dir>/wasm32-wasip2/release/<name with - → _>.wasm` (the target dir
//! is `$CARGO_TARGET_DIR` or `target`), or else to a composition already
//! written, `<compositions dir>/<name>.wasm` (`--compositions`, by default
//! the output's directory): a composition can instantiate another
//! (team-collab.wac instantiates team-collab-core).
//!
//! `--plug FROM=TO` composes the document with every `new keel:FROM { … }`
//! replaced by `new keel:TO { ... }`: the plugged-in adapter takes all its
//! imports from the host. Swapping a provider is a change of composition,
//! never of code (team-collab-postgres is team-collab.wac with
//! `--plug sql-spin-sqlite=sql-postgres`).
//!
//! The document is resolved and encoded with `wac-parser`/`wac-graph`
//! (validated, with every WebAssembly feature on, including component-model
//! async). The result must import only `spin:*` and `wasi:*` interfaces, and
//! those starting with a `--import` prefix — anything else means a component
//! was left unwired — otherwise nothing is written and the tool fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wac_graph::EncodeOptions;
use wac_parser::{Document, InstantiationArgument, PrimaryExpr, Statement};
use wac_resolver::FileSystemPackageResolver;
use wasmparser::{Parser, Payload};

/// Import prefixes a composed component may keep: the host provides these.
const HOST_PREFIXES: &[&str] = &["spin:", "wasi:"];

struct Args {
    wac: PathBuf,
    output: PathBuf,
    /// `(from, to)` package names, without `keel:`.
    plugs: Vec<(String, String)>,
    /// Import prefixes allowed besides the host's.
    imports: Vec<String>,
    /// Where compositions other documents instantiate were written.
    compositions: Option<PathBuf>,
    print_imports: bool,
}

fn main() -> Result<()> {
    let args = parse_args(std::env::args().skip(1))?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let output_dir = args.output.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let compositions = args.compositions.as_deref().unwrap_or(output_dir);
    let bytes = compose(&args.wac, &args.plugs, &target_dir.join("wasm32-wasip2").join("release"), compositions)?;
    let imports = top_level_imports(&bytes)?;
    if args.print_imports {
        for import in &imports {
            println!("{import}");
        }
    }
    let allowed = |name: &str| {
        HOST_PREFIXES
            .iter()
            .copied()
            .chain(args.imports.iter().map(String::as_str))
            .any(|prefix| name.starts_with(prefix))
    };
    let foreign: Vec<&String> = imports.iter().filter(|name| !allowed(name)).collect();
    if !foreign.is_empty() {
        bail!(
            "{} would import interfaces the host does not provide (wire them in the .wac file): {}",
            args.wac.display(),
            foreign.iter().map(|name| name.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    std::fs::create_dir_all(output_dir).with_context(|| format!("cannot create {}", output_dir.display()))?;
    std::fs::write(&args.output, &bytes).with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(())
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args> {
    const USAGE: &str = "usage: keel-compose <file.wac> -o <out.wasm> [--plug FROM=TO]... [--import PREFIX]... [--compositions DIR] [--print-imports]";
    let (mut wac, mut output, mut print_imports) = (None, None, false);
    let (mut plugs, mut imports, mut compositions) = (Vec::new(), Vec::new(), None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-o" | "--output" => output = Some(PathBuf::from(args.next().context(USAGE)?)),
            "--plug" => {
                let plug = args.next().context(USAGE)?;
                let (from, to) = plug
                    .split_once('=')
                    .filter(|(from, to)| !from.is_empty() && !to.is_empty())
                    .with_context(|| format!("--plug `{plug}`: expected FROM=TO, e.g. sql-spin-sqlite=sql-postgres"))?;
                let bare = |name: &str| name.strip_prefix("keel:").unwrap_or(name).to_owned();
                plugs.push((bare(from), bare(to)));
            }
            "--import" => imports.push(args.next().context(USAGE)?),
            "--compositions" => compositions = Some(PathBuf::from(args.next().context(USAGE)?)),
            "--print-imports" => print_imports = true,
            flag if flag.starts_with('-') => bail!("unknown option `{flag}`\n{USAGE}"),
            _ if wac.is_none() => wac = Some(PathBuf::from(arg)),
            _ => bail!("unexpected argument `{arg}`\n{USAGE}"),
        }
    }
    match (wac, output) {
        (Some(wac), Some(output)) => Ok(Args { wac, output, plugs, imports, compositions, print_imports }),
        _ => bail!(USAGE),
    }
}

/// Parse, resolve and encode `wac` with `plugs` applied, taking `keel:*`
/// packages from component builds in `crates_dir` or else from compositions
/// in `compositions_dir`.
fn compose(wac: &Path, plugs: &[(String, String)], crates_dir: &Path, compositions_dir: &Path) -> Result<Vec<u8>> {
    let source = std::fs::read_to_string(wac).with_context(|| format!("cannot read {}", wac.display()))?;
    let mut document = Document::parse(&source).map_err(|err| anyhow::anyhow!("{}: {err}", wac.display()))?;
    let plugged: Vec<(String, String)> =
        plugs.iter().map(|(from, to)| (format!("keel:{from}"), format!("keel:{to}"))).collect();
    for (from, to) in &plugged {
        if plug(&mut document, from, to) == 0 {
            bail!("{}: --plug {}: no `new {from} {{ … }}` to replace", wac.display(), &from["keel:".len()..]);
        }
    }
    let keys = wac_resolver::packages(&document).map_err(|err| anyhow::anyhow!("{}: {err}", wac.display()))?;
    let mut overrides = HashMap::new();
    for key in keys.keys() {
        let Some(name) = key.name.strip_prefix("keel:") else {
            bail!("{}: package `{}` is not a keel:* component", wac.display(), key.name);
        };
        // A component crate's build, else a composition already written.
        let [build, composition] = [
            crates_dir.join(format!("{}.wasm", name.replace('-', "_"))),
            compositions_dir.join(format!("{name}.wasm")),
        ];
        let Some(path) = [&build, &composition].into_iter().find(|path| path.is_file()) else {
            bail!(
                "{}: package `{}` is neither a component crate's build ({}) nor a composition ({}): build it first",
                wac.display(),
                key.name,
                build.display(),
                composition.display()
            );
        };
        overrides.insert(key.name.to_owned(), path.clone());
    }
    let packages = FileSystemPackageResolver::new(crates_dir, overrides, true)
        .resolve(&keys)
        .with_context(|| format!("{}: cannot resolve its packages", wac.display()))?;
    let resolution = document.resolve(packages).map_err(|err| anyhow::anyhow!("{}: {err}", wac.display()))?;
    resolution
        .encode(EncodeOptions::default())
        .with_context(|| format!("{}: cannot encode the composition", wac.display()))
}

/// Replace every `new <from> { … }` of `document` by `new <to> { ... }`;
/// returns how many were replaced.
fn plug<'a>(document: &mut Document<'a>, from: &str, to: &'a str) -> usize {
    let mut replaced = 0;
    for statement in &mut document.statements {
        let Statement::Let(binding) = statement else { continue };
        let PrimaryExpr::New(new) = &mut binding.expr.primary else { continue };
        if new.package.name != from {
            continue;
        }
        new.package.name = to;
        new.package.string = to;
        new.package.version = None;
        new.arguments = vec![InstantiationArgument::Fill(new.span)];
        replaced += 1;
    }
    replaced
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
