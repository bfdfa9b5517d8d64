#!/usr/bin/env bash
# Build every Keel guest component for wasm32-wasip2 and compose the
# deployable components into dist/ (spin.toml's build command).
#
# Honours CARGO_TARGET_DIR (default: target). Run from anywhere; paths are
# relative to the repository root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Every component crate (a `cdylib` target), from `cargo metadata`.
mapfile -t GUEST_CRATES < <(bash scripts/workspace-crates.sh guests)
[ ${#GUEST_CRATES[@]} -gt 0 ] || { echo "build-components.sh: no component crates found" >&2; exit 1; }

# name of the .wac file's output in dist/ -> .wac file
declare -A COMPOSITIONS=(
    [team-collab]=products/team-collab/team-collab.wac
    [dev-outbox]=products/dev-outbox/dev-outbox.wac
    [sql-conformance-sqlite]=tests/probes/sql-probe/sql-conformance-sqlite.wac
    [kv-conformance-spin]=tests/probes/kv-probe/kv-conformance-spin.wac
    [auth-conformance-okta]=tests/probes/auth-probe/auth-conformance-okta.wac
    [auth-conformance-auth0]=tests/probes/auth-probe/auth-conformance-auth0.wac
    [email-conformance-sendgrid]=tests/probes/email-probe/email-conformance-sendgrid.wac
    [email-conformance-mailgun]=tests/probes/email-probe/email-conformance-mailgun.wac
    [email-conformance-ses]=tests/probes/email-probe/email-conformance-ses.wac
    [email-conformance-outbox]=tests/probes/email-probe/email-conformance-outbox.wac
)

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi

# One cargo invocation per component: built together, cargo would unify
# the features of shared crates (keel-guest, spin-sdk), and bindings that
# one component imports could end up linked into another.
for crate in "${GUEST_CRATES[@]}"; do
    cargo build --release --target wasm32-wasip2 -p "$crate"
done

mkdir -p dist
for name in "${!COMPOSITIONS[@]}"; do
    echo "composing dist/${name}.wasm from ${COMPOSITIONS[$name]}"
    cargo run --release -q -p keel-compose -- "${COMPOSITIONS[$name]}" -o "dist/${name}.wasm"
done

# The same compositions with another adapter plugged in: swapping a
# provider is a change of composition and configuration, never of code.
# The plugged-in adapter takes all its imports from the host, so its
# instantiation becomes `new keel:<adapter> { ... }`.
# name in dist/ -> "<.wac file> <package replaced> <package plugged in>"
declare -A SWAPS=(
    [team-collab-postgres]="products/team-collab/team-collab.wac sql-spin-sqlite sql-postgres"
    [dev-outbox-postgres]="products/dev-outbox/dev-outbox.wac sql-spin-sqlite sql-postgres"
    [dev-outbox-mysql]="products/dev-outbox/dev-outbox.wac sql-spin-sqlite sql-mysql"
    [team-collab-sendgrid]="products/team-collab/team-collab.wac email-outbox email-sendgrid"
    [sql-conformance-postgres]="tests/probes/sql-probe/sql-conformance-sqlite.wac sql-spin-sqlite sql-postgres"
    [kv-conformance-redis]="tests/probes/kv-probe/kv-conformance-spin.wac kv-spin kv-redis"
    [team-collab-mysql]="products/team-collab/team-collab.wac sql-spin-sqlite sql-mysql"
    [sql-conformance-mysql]="tests/probes/sql-probe/sql-conformance-sqlite.wac sql-spin-sqlite sql-mysql"
)
swapped=$(mktemp -d)
trap 'rm -rf "$swapped"' EXIT
for name in "${!SWAPS[@]}"; do
    read -r wac from to <<<"${SWAPS[$name]}"
    echo "composing dist/${name}.wasm from ${wac} with keel:${to} for keel:${from}"
    sed "s/new keel:${from} {[^}]*}/new keel:${to} { ... }/g" "$wac" >"$swapped/${name}.wac"
    grep -q "new keel:${to} " "$swapped/${name}.wac" || { echo "new keel:${from} {…} not found in ${wac}" >&2; exit 1; }
    cargo run --release -q -p keel-compose -- "$swapped/${name}.wac" -o "dist/${name}.wasm"
done
