#!/usr/bin/env bash
# Build everything and serve the team-collab product on Keel's runtime with
# the embedded defaults (SQLite file + SQLite key-value under .keel/).
# Extra arguments go to `keel up` (e.g. --listen 0.0.0.0:3000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/build-components.sh
cargo build --release -p keel-runtime

# The token signing key is a secret Spin variable: generate one for local
# use unless the environment or .env already provides it.
if [ -z "${SPIN_VARIABLE_TOKEN_SECRET:-}" ] && ! grep -qs '^SPIN_VARIABLE_TOKEN_SECRET=' .env; then
    umask 077
    echo "SPIN_VARIABLE_TOKEN_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >> .env
    echo "generated a token signing secret in .env"
fi

exec "${CARGO_TARGET_DIR:-target}/release/keel" up "$@"
