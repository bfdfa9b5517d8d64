#!/usr/bin/env bash
# Print workspace crates, one per line, derived from `cargo metadata` (no
# hand-kept lists):
#   guests  — the components: every crate with a `cdylib` target
#   tested  — every crate whose sources hold a test (`#[test]`,
#             `#[tokio::test]`), whose tests therefore must run
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
kind="${1:?usage: workspace-crates.sh guests|tested}"
cargo metadata --format-version 1 --no-deps | python3 -c '
import json, os, re, sys
kind = sys.argv[1]
test = re.compile(r"#\[(tokio::)?test\b")
def tested(directory):
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in ("target", "node_modules", ".keel")]
        for name in files:
            if name.endswith(".rs"):
                with open(os.path.join(root, name), encoding="utf-8") as source:
                    if test.search(source.read()):
                        return True
    return False
for package in sorted(json.load(sys.stdin)["packages"], key=lambda p: p["name"]):
    kinds = {k for target in package["targets"] for k in target["kind"]}
    if kind == "guests" and "cdylib" in kinds:
        print(package["name"])
    elif kind == "tested" and tested(os.path.dirname(package["manifest_path"])):
        print(package["name"])
    elif kind not in ("guests", "tested"):
        sys.exit(f"workspace-crates.sh: unknown kind {kind!r} (guests or tested)")
' "$kind"
