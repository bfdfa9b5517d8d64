"""Validate every Kubernetes manifest Keel ships, offline.

Checked, for every YAML file under deploy/ and every kustomization rendered
with `kubectl kustomize`:

* SpinApp and SpinAppExecutor against the upstream CRDs' openAPIV3Schema
  (deploy/spinkube/crds), strictly: a field the schema does not know is an
  error, as `kubectl apply --validate=strict` reports it (the API server
  would silently drop it);
* the rules SpinKube's admission webhook and operator enforce: `replicas`
  and `enableAutoscaling` are exclusive, an executor sets exactly one of
  `runtimeClassName` and `spinImage`, the named executor exists;
* Keel's deployment rules: every variable the app manifest declares
  `secret = true` is bound from a Secret (never inlined), every required
  variable is bound, every bound variable is declared, the app manifest has
  no development route, autoscaling has exactly one autoscaler (a
  HorizontalPodAutoscaler or a KEDA ScaledObject) that targets the app's
  Deployment and a CPU request to scale on, the runtime configuration
  Secret exists and holds a `runtime-config.toml`;
* KEDA ScaledObjects against the fields of `keda.sh/v1alpha1` KEDA
  documents (strict, as above) and the rules its admission webhook
  enforces: min ≤ max replicas, a CPU/memory trigger cannot scale from
  zero and needs `metricType` Utilization or AverageValue and a numeric
  `value`, and the workload is not also scaled by a plain HPA;
* runtime-class-manager's Shim (deploy/lke/shim.yaml) against its
  documented fields (strict), its RuntimeClass being the one an executor
  names;
* core kinds against Kubernetes' own schemas (kubernetes-validate, strict).

And every GitHub Actions workflow under .github/workflows, offline:

* against SchemaStore's workflow schema and the rule that every job has a
  `timeout-minutes` (both as check-jsonschema vendors them);
* every `run:` script through shellcheck (as actionlint does; actionlint
  itself cannot be installed from the registries this project builds from);
* Keel's rules: no `${{ }}` expression inside a `run:` script (pass values
  through `env:`, so a branch name or secret cannot inject shell), every
  `uses:` pinned to a release tag or commit, and `ci.yml` runs the README's
  test command (`bash .ci/run`).

Every file in tests/deploy/invalid/ (manifests) and
tests/deploy/invalid-workflows/ starts with `# expect: <text>` and must be
refused with an error containing that text, through the same checks.
Ends with `N passed, M failed` (what scripts/test.sh adds up).

    python tests/deploy/validate.py [DIR…]    # from scripts/install-deploy-deps.sh's venv

Each DIR (e.g. `keel deploy scaffold` output) gets the same checks: every
kustomization in it is rendered and checked.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CRDS = DEPLOY / "spinkube" / "crds"
EXECUTORS = DEPLOY / "spinkube" / "executors"
INVALID = ROOT / "tests" / "deploy" / "invalid"
WORKFLOWS = ROOT / ".github" / "workflows"
INVALID_WORKFLOWS = ROOT / "tests" / "deploy" / "invalid-workflows"
# check-jsonschema's vendored schemas (SchemaStore's workflow schema, and its
# own rule that jobs set a timeout).
WORKFLOW_SCHEMAS = ["vendor.github-workflows", "custom.github-workflows-require-timeout"]
KUBERNETES_VERSION = "1.33"
# Which app manifest each SpinApp image is built from (`spin registry push`).
MANIFEST_ANNOTATION = "keel.dev/app-manifest"


def strict(schema: dict) -> dict:
    """The schema with unknown fields refused wherever it lists properties."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                node.get("type") == "object"
                and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def crd_schemas() -> dict[tuple[str, str], dict]:
    schemas = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            # Kubernetes checks metadata itself; the CRD leaves it open.
            schema["properties"]["metadata"] = {"type": "object"}
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


SCHEMAS = crd_schemas()

# KEDA's ScaledObject (keda.sh/v1alpha1) as KEDA documents it
# (https://keda.sh/docs/latest/reference/scaledobject-spec/): the fields a
# Keel deployment may use, strictly; KEDA's CRDs are not vendored here.
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def custom_resource(spec: dict) -> dict:
    """A strict schema of a custom resource whose `spec` is `spec`."""
    return strict({
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
        },
    })


SCHEMAS[("keda.sh/v1alpha1", "ScaledObject")] = custom_resource({
    "type": "object",
    "required": ["scaleTargetRef", "triggers"],
    "properties": {
        "scaleTargetRef": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "name": {"type": "string"},
                "envSourceContainerName": {"type": "string"},
            },
        },
        "pollingInterval": {"type": "integer", "minimum": 1},
        "cooldownPeriod": {"type": "integer", "minimum": 0},
        "initialCooldownPeriod": {"type": "integer", "minimum": 0},
        "idleReplicaCount": {"type": "integer", "minimum": 0},
        "minReplicaCount": {"type": "integer", "minimum": 0},
        "maxReplicaCount": {"type": "integer", "minimum": 1},
        "fallback": {
            "type": "object",
            "required": ["failureThreshold", "replicas"],
            "properties": {"failureThreshold": {"type": "integer"}, "replicas": {"type": "integer"}},
        },
        "triggers": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["type", "metadata"],
                "properties": {
                    "type": {"type": "string"},
                    "name": {"type": "string"},
                    "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                    "useCachedMetrics": {"type": "boolean"},
                    "metadata": _STRING_MAP,
                    "authenticationRef": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "kind": {"type": "string"}},
                    },
                },
            },
        },
    },
})
RESOURCE_TRIGGERS = {"cpu", "memory"}

# runtime-class-manager's Shim (runtime.spinkube.dev/v1alpha1) as its
# documentation and the shim's own release manifest give it, strictly.
SCHEMAS[("runtime.spinkube.dev/v1alpha1", "Shim")] = custom_resource({
    "type": "object",
    "required": ["nodeSelector", "fetchStrategy", "runtimeClass", "rolloutStrategy"],
    "properties": {
        "nodeSelector": _STRING_MAP,
        "fetchStrategy": {
            "type": "object",
            "required": ["type", "anonHttp"],
            "properties": {
                "type": {"enum": ["anonymousHttp"]},
                "anonHttp": {
                    "type": "object",
                    "required": ["location"],
                    "properties": {"location": {"type": "string", "pattern": "^https://"}},
                },
            },
        },
        "runtimeClass": {
            "type": "object",
            "required": ["name", "handler"],
            "properties": {"name": {"type": "string"}, "handler": {"type": "string"}},
        },
        "rolloutStrategy": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": ["recreate", "rolling"]},
                "rolling": {"type": "object", "properties": {"maxUpdate": {"type": "integer", "minimum": 1}}},
            },
        },
        "containerdRuntimeOptions": _STRING_MAP,
    },
})


def schema_errors(doc: dict) -> list[str]:
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in SCHEMAS:
        validator = jsonschema.Draft7Validator(SCHEMAS[key])
        return [
            f"{doc['kind']}/{name(doc)}: {'.'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
            for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
        ]
    if str(doc.get("apiVersion", "")).startswith("kustomize.config.k8s.io"):
        return []
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{doc.get('kind')}/{name(doc)}: {'.'.join(str(p) for p in error.path) or '(root)'}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{doc.get('kind')}/{name(doc)}: unknown kind {doc.get('apiVersion')}/{doc.get('kind')}"]
    return []


def name(doc: dict) -> str:
    return (doc.get("metadata") or {}).get("name", "?")


def known_executors() -> dict[str, dict]:
    """The SpinAppExecutors the repository installs, by name."""
    executors = {}
    for path in sorted(EXECUTORS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "SpinAppExecutor":
                executors[name(doc)] = doc
    return executors


def spinapp_errors(app: dict, docs: list[dict], executors: dict[str, dict]) -> list[str]:
    errors = []
    where = f"SpinApp/{name(app)}"
    spec = app.get("spec") or {}
    if "replicas" in spec and spec.get("enableAutoscaling"):
        errors.append(f"{where}: replicas and enableAutoscaling are mutually exclusive")
    known = set(executors) | {name(d) for d in docs if d.get("kind") == "SpinAppExecutor"}
    executor = spec.get("executor")
    if executor and executor not in known:
        errors.append(f"{where}: executor {executor!r} is not defined (known: {', '.join(sorted(known))})")

    bindings = spec.get("variables") or []
    seen = set()
    for binding in bindings:
        if binding.get("name") in seen:
            errors.append(f"{where}: variable {binding.get('name')!r} is bound twice")
        seen.add(binding.get("name"))
        if ("value" in binding) == ("valueFrom" in binding):
            errors.append(f"{where}: variable {binding.get('name')!r} needs exactly one of value and valueFrom")

    manifest_path = (app.get("metadata", {}).get("annotations") or {}).get(MANIFEST_ANNOTATION)
    if not manifest_path:
        errors.append(f"{where}: annotation {MANIFEST_ANNOTATION} must name the app manifest the image is built from")
    elif not (ROOT / manifest_path).is_file():
        errors.append(f"{where}: annotation {MANIFEST_ANNOTATION}: {manifest_path} does not exist")
    else:
        errors += manifest_errors(where, ROOT / manifest_path, bindings)

    if spec.get("enableAutoscaling"):
        scalers = autoscalers_of(name(app), docs)
        if not scalers:
            errors.append(
                f"{where}: enableAutoscaling needs a HorizontalPodAutoscaler or a KEDA ScaledObject "
                f"targeting Deployment/{name(app)}"
            )
        elif len(scalers) > 1:
            errors.append(
                f"{where}: Deployment/{name(app)} is scaled by {' and '.join(scalers)}: "
                "keep one (KEDA refuses a workload another HPA already scales)"
            )
        if "cpu" not in ((spec.get("resources") or {}).get("requests") or {}):
            errors.append(f"{where}: enableAutoscaling needs resources.requests.cpu (the autoscaler scales on CPU utilization)")

    secret = (spec.get("runtimeConfig") or {}).get("loadFromSecret")
    if secret:
        found = [d for d in docs if d.get("kind") == "Secret" and name(d) == secret]
        if not found:
            errors.append(f"{where}: runtimeConfig.loadFromSecret names Secret {secret!r}, which is not in the deployment")
        elif "runtime-config.toml" not in (found[0].get("data") or {}) | (found[0].get("stringData") or {}):
            errors.append(f"{where}: Secret {secret!r} has no key runtime-config.toml")
    return errors


def autoscalers_of(deployment: str, docs: list[dict]) -> list[str]:
    """The HPAs and ScaledObjects that scale Deployment/<deployment>."""
    found = []
    for d in docs:
        if d.get("kind") not in ("HorizontalPodAutoscaler", "ScaledObject"):
            continue
        ref = (d.get("spec") or {}).get("scaleTargetRef") or {}
        # A ScaledObject's target is a Deployment unless it says otherwise.
        kind = ref.get("kind", "Deployment" if d["kind"] == "ScaledObject" else None)
        if kind == "Deployment" and ref.get("name") == deployment:
            found.append(f"{d['kind']}/{name(d)}")
    return sorted(found)


def scaledobject_errors(scaled: dict) -> list[str]:
    """What KEDA's admission webhook refuses in a ScaledObject."""
    errors = []
    where = f"ScaledObject/{name(scaled)}"
    spec = scaled.get("spec") or {}
    low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if isinstance(low, int) and isinstance(high, int) and low > high:
        errors.append(f"{where}: minReplicaCount={low} must be less than or equal to maxReplicaCount={high}")
    triggers = [t for t in spec.get("triggers") or [] if isinstance(t, dict)]
    if triggers and all(t.get("type") in RESOURCE_TRIGGERS for t in triggers) and low == 0:
        errors.append(f"{where}: only cpu/memory triggers and minReplicaCount 0: scale to zero does not work with them")
    for trigger in triggers:
        if trigger.get("type") not in RESOURCE_TRIGGERS:
            continue
        if trigger.get("metricType") not in ("Utilization", "AverageValue"):
            errors.append(f"{where}: a {trigger.get('type')} trigger needs metricType Utilization or AverageValue")
        value = (trigger.get("metadata") or {}).get("value", "")
        if not (isinstance(value, str) and value.isdigit() and int(value) > 0):
            errors.append(f"{where}: a {trigger.get('type')} trigger needs metadata.value, a positive number as a string")
    return errors


def manifest_errors(where: str, path: Path, bindings: list[dict]) -> list[str]:
    errors = []
    manifest = tomllib.loads(path.read_text())
    declared = manifest.get("variables") or {}
    bound = {b.get("name"): b for b in bindings}
    for var, decl in declared.items():
        binding = bound.get(var)
        if decl.get("secret") and binding is not None and "secretKeyRef" not in (binding.get("valueFrom") or {}):
            errors.append(f"{where}: variable {var!r} is secret in {path.relative_to(ROOT)}: bind it with valueFrom.secretKeyRef, never inline it")
        if decl.get("required") and binding is None:
            errors.append(f"{where}: required variable {var!r} of {path.relative_to(ROOT)} is not bound")
    for var in bound:
        if var not in declared:
            errors.append(f"{where}: variable {var!r} is not declared in {path.relative_to(ROOT)}")
    for trigger in (manifest.get("trigger") or {}).get("http", []):
        if str(trigger.get("route", "")).startswith("/dev/") or trigger.get("component") == "dev-outbox":
            errors.append(f"{where}: {path.relative_to(ROOT)} serves the development route {trigger.get('route')}: not deployable")
    return errors


def shim_errors(shim: dict, executors: dict[str, dict]) -> list[str]:
    """A Shim must install what an executor runs: its RuntimeClass is one a
    SpinAppExecutor names, and it selects nodes by label."""
    errors = []
    spec = shim.get("spec") or {}
    runtime_class = (spec.get("runtimeClass") or {}).get("name")
    named = {((doc.get("spec") or {}).get("deploymentConfig") or {}).get("runtimeClassName") for doc in executors.values()}
    if runtime_class not in named:
        errors.append(f"Shim/{name(shim)}: RuntimeClass {runtime_class!r} is not the runtimeClassName of any executor")
    if not spec.get("nodeSelector"):
        errors.append(f"Shim/{name(shim)}: a nodeSelector must choose the labelled node pool")
    return errors


def executor_errors(executor: dict) -> list[str]:
    spec = executor.get("spec") or {}
    config = spec.get("deploymentConfig") or {}
    if spec.get("createDeployment") and ("runtimeClassName" in config) == ("spinImage" in config):
        return [f"SpinAppExecutor/{name(executor)}: set exactly one of deploymentConfig.runtimeClassName and spinImage"]
    return []


def check(docs: list[dict]) -> list[str]:
    """Every error of one deployment (one file or one rendered overlay)."""
    docs = [d for d in docs if d]
    executors = known_executors()
    errors = []
    for doc in docs:
        errors += schema_errors(doc)
        if doc.get("kind") == "SpinApp":
            errors += spinapp_errors(doc, docs, executors)
        if doc.get("kind") == "SpinAppExecutor":
            errors += executor_errors(doc)
        if doc.get("kind") == "ScaledObject":
            errors += scaledobject_errors(doc)
        if doc.get("kind") == "Shim":
            errors += shim_errors(doc, executors)
    return errors


def render(kustomization_dir: Path) -> list[dict]:
    out = subprocess.run(["kubectl", "kustomize", str(kustomization_dir)], capture_output=True, text=True)
    if out.returncode != 0:
        where = kustomization_dir.relative_to(ROOT) if kustomization_dir.is_relative_to(ROOT) else kustomization_dir
        raise RuntimeError(f"kubectl kustomize {where}: {out.stderr.strip()}")
    return list(yaml.safe_load_all(out.stdout))


def workflow_errors(path: Path) -> list[str]:
    """What the schemas, shellcheck and Keel's rules find in a workflow."""
    errors = []
    check_jsonschema = Path(sys.executable).parent / "check-jsonschema"
    for schema in WORKFLOW_SCHEMAS:
        out = subprocess.run([str(check_jsonschema), "--builtin-schema", schema, str(path)], capture_output=True, text=True)
        if out.returncode != 0:
            errors.append(f"{schema}: {out.stdout.strip()} {out.stderr.strip()}")
    try:
        workflow = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        return errors + [f"not YAML: {error}"]
    jobs = workflow.get("jobs") if isinstance(workflow, dict) else None
    for job_name, job in (jobs or {}).items():
        for index, step in enumerate((job or {}).get("steps") or []):
            where = f"jobs.{job_name}.steps[{index}]"
            uses = step.get("uses")
            if uses and not re.search(r"@(v\d+(\.\d+)*|[0-9a-f]{40})$", uses):
                errors.append(f"{where}: `uses: {uses}` is not pinned to a release tag (@vN) or a commit")
            script = step.get("run")
            if script is None:
                continue
            if "${{" in script:
                errors.append(f"{where}: a `${{{{ }}}}` expression inside `run:` can inject shell; pass it through `env:`")
            shell = step.get("shell") or (job.get("defaults") or {}).get("run", {}).get("shell") or "bash"
            if shell.split()[0] not in ("bash", "sh"):
                continue
            with tempfile.NamedTemporaryFile("w", suffix=".sh") as file:
                file.write(script)
                file.flush()
                out = subprocess.run(["shellcheck", "--shell", shell.split()[0], "--format", "gcc", file.name], capture_output=True, text=True)
            for line in out.stdout.splitlines():
                errors.append(f"{where}: shellcheck: {line.split(':', 3)[-1].strip()}")
    if path.name == "ci.yml":
        scripts = [step.get("run", "") for job in (jobs or {}).values() for step in (job or {}).get("steps") or []]
        if not any("bash .ci/run" in script for script in scripts):
            errors.append("ci.yml does not run the README's test command (`bash .ci/run`)")
    return errors


def main(extra: list[Path]) -> int:
    passed = failed = 0

    def report(label: str, errors: list[str], expect: str | None = None) -> None:
        nonlocal passed, failed
        if expect is None:
            ok = not errors
        else:
            ok = any(expect in e for e in errors)
        if ok:
            passed += 1
            print(f"ok   {label}")
        else:
            failed += 1
            detail = "; ".join(errors) if errors else "no error"
            print(f"FAIL {label}: {'expected an error containing ' + repr(expect) + ', got: ' if expect else ''}{detail}")

    # A file beside a kustomization.yaml is checked as part of its render,
    # and must be listed in it; any other YAML file is checked on its own.
    for path in sorted(DEPLOY.rglob("*.yaml")):
        if CRDS in path.parents or path.name == "kustomization.yaml":
            continue
        kustomization = path.parent / "kustomization.yaml"
        if kustomization.is_file():
            listed = yaml.safe_load(kustomization.read_text()).get("resources") or []
            if path.name not in listed:
                report(str(path.relative_to(ROOT)), [f"{path.name} is not listed in {kustomization.relative_to(ROOT)}: it would never be applied"])
            continue
        report(str(path.relative_to(ROOT)), check(list(yaml.safe_load_all(path.read_text()))))
    for kustomization in sorted(DEPLOY.rglob("kustomization.yaml")):
        directory = kustomization.parent
        try:
            errors = check(render(directory))
        except RuntimeError as error:
            errors = [str(error)]
        report(f"kubectl kustomize {directory.relative_to(ROOT)}", errors)
    for path in sorted(INVALID.glob("*.yaml")):
        first = path.read_text().splitlines()[0]
        if not first.startswith("# expect: "):
            report(str(path.relative_to(ROOT)), [f"{path.name} must start with '# expect: <error text>'"])
            continue
        report(f"refused: {path.relative_to(ROOT)}", check(list(yaml.safe_load_all(path.read_text()))), first[len("# expect: "):])
    for directory in extra:
        kustomizations = sorted(directory.rglob("kustomization.yaml"))
        if not kustomizations:
            report(str(directory), ["no kustomization.yaml to render"])
        for kustomization in kustomizations:
            try:
                errors = check(render(kustomization.parent))
            except RuntimeError as error:
                errors = [str(error)]
            report(f"kubectl kustomize {kustomization.parent}", errors)
    workflows = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
    if not workflows:
        report(".github/workflows", ["no workflow found"])
    for path in workflows:
        report(str(path.relative_to(ROOT)), workflow_errors(path))
    for path in sorted(INVALID_WORKFLOWS.glob("*.yml")):
        first = path.read_text().splitlines()[0]
        if not first.startswith("# expect: "):
            report(str(path.relative_to(ROOT)), [f"{path.name} must start with '# expect: <error text>'"])
            continue
        report(f"refused: {path.relative_to(ROOT)}", workflow_errors(path), first[len("# expect: "):])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main([Path(arg).resolve() for arg in sys.argv[1:]]))
