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

# "<path in dist/> <.wac file> [keel-compose options]", in order: a
# composition can instantiate one composed before it into dist/layers/
# (team-collab.wac instantiates team-collab-core). dist/*.wasm are
# deployable (they import only spin:* and wasi:*); dist/layers/ holds the
# layers that keep imports for their user to provide. `--plug FROM=TO` composes the same
# document with another adapter: swapping a provider is a change of
# composition and configuration, never of code. `--import PREFIX` lets a
# layer keep imports its user provides (team-collab-core's infrastructure;
# the JavaScript package's SQL and key-value).
COMPOSITIONS=(
    "layers/team-collab-core products/team-collab/team-collab-core.wac --import keel:infrastructure/ --import keel:platform/outbound-webhooks@"
    "team-collab products/team-collab/team-collab.wac"
    "team-collab-postgres products/team-collab/team-collab.wac --plug sql-spin-sqlite=sql-postgres"
    "team-collab-mysql products/team-collab/team-collab.wac --plug sql-spin-sqlite=sql-mysql"
    "team-collab-sendgrid products/team-collab/team-collab.wac --plug email-outbox=email-sendgrid"
    "team-collab-otel products/team-collab/team-collab.wac --plug observability-off=observability"
    "team-collab-s3 products/team-collab/team-collab.wac --plug blob-sql=blob-s3"
    "layers/team-collab-js packages/team-collab-js/team-collab-js.wac --import keel:infrastructure/sql@ --import keel:infrastructure/kv@ --import keel:platform/outbound-webhooks@"
    "dev-outbox products/dev-outbox/dev-outbox.wac"
    "fileserver products/fileserver/fileserver.wac"
    "dev-outbox-postgres products/dev-outbox/dev-outbox.wac --plug sql-spin-sqlite=sql-postgres"
    "dev-outbox-mysql products/dev-outbox/dev-outbox.wac --plug sql-spin-sqlite=sql-mysql"
    "sql-conformance-sqlite tests/probes/sql-probe/sql-conformance-sqlite.wac"
    "sql-conformance-postgres tests/probes/sql-probe/sql-conformance-sqlite.wac --plug sql-spin-sqlite=sql-postgres"
    "sql-conformance-mysql tests/probes/sql-probe/sql-conformance-sqlite.wac --plug sql-spin-sqlite=sql-mysql"
    "blob-conformance-sql tests/probes/blob-probe/blob-conformance-sql.wac"
    "blob-conformance-postgres tests/probes/blob-probe/blob-conformance-sql.wac --plug sql-spin-sqlite=sql-postgres"
    "blob-conformance-mysql tests/probes/blob-probe/blob-conformance-sql.wac --plug sql-spin-sqlite=sql-mysql"
    "blob-conformance-s3 tests/probes/blob-probe/blob-conformance-s3.wac"
    "kv-conformance-spin tests/probes/kv-probe/kv-conformance-spin.wac"
    "kv-conformance-redis tests/probes/kv-probe/kv-conformance-spin.wac --plug kv-spin=kv-redis"
    "auth-conformance-okta tests/probes/auth-probe/auth-conformance-okta.wac"
    "auth-conformance-auth0 tests/probes/auth-probe/auth-conformance-auth0.wac"
    "email-conformance-sendgrid tests/probes/email-probe/email-conformance-sendgrid.wac"
    "email-conformance-mailgun tests/probes/email-probe/email-conformance-mailgun.wac"
    "email-conformance-ses tests/probes/email-probe/email-conformance-ses.wac"
    "email-conformance-outbox tests/probes/email-probe/email-conformance-outbox.wac"
    "cron-probe tests/probes/cron-probe/cron-probe.wac"
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

cargo build --release -q -p keel-compose
mkdir -p dist
for composition in "${COMPOSITIONS[@]}"; do
    read -r name wac options <<<"$composition"
    echo "composing dist/${name}.wasm from ${wac} ${options}"
    # shellcheck disable=SC2086 # options are words
    "${CARGO_TARGET_DIR:-target}/release/keel-compose" "$wac" -o "dist/${name}.wasm" --compositions dist/layers $options
done
