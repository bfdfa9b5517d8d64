#!/usr/bin/env bash
# A Python virtual environment with what the deployment checks use, from
# PyPI at pinned versions: kubernetes-validate (Kubernetes' own schemas for
# core kinds), jsonschema and PyYAML (the SpinKube CRDs' openAPIV3Schema),
# oras (an OCI client independent of Keel, to read pushed artifacts back),
# check-jsonschema (its vendored GitHub workflow schemas),
# openapi-spec-validator (the products' OpenAPI descriptions) and
# schemathesis (generated requests against the served product, held to
# its OpenAPI description: tests/api/fuzz.py).
# Prints the environment's python on stdout.
set -euo pipefail
venv="${KEEL_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/keel-deploy-venv}"
requirements="kubernetes-validate==1.37.0 jsonschema==4.26.0 PyYAML==6.0.3 oras==0.2.43 check-jsonschema==0.39.0 openapi-spec-validator==0.9.0 schemathesis==4.32.5"
stamp="$venv/.keel-requirements"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$requirements" ]; then
    python3 -m venv "$venv" >&2
    # shellcheck disable=SC2086
    "$venv/bin/pip" install -q --disable-pip-version-check $requirements >&2
    echo "$requirements" >"$stamp"
fi
command -v kubectl >/dev/null || { echo "kubectl is needed (kubectl kustomize renders the overlays)" >&2; exit 1; }
echo "$venv/bin/python"
