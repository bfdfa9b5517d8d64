"""Read an OCI artifact back with oras-py, a client independent of Keel.

Usage: oras_readback.py REGISTRY/REPOSITORY:TAG

Validates the manifest against oras's own schema, downloads the manifest
and every blob it lists, and prints, as JSON, the manifest's digest and for
each blob the sha256 and size of what was downloaded.
"""
import hashlib
import json
import os
import sys
import tempfile

import oras.provider
import oras.schemas


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main() -> None:
    registry = oras.provider.Registry(insecure=True)
    container = registry.get_container(sys.argv[1])
    manifest = registry.get_manifest(container, validation_schema=oras.schemas.manifest)
    raw = registry.do_request(
        f"{registry.prefix}://{container.manifest_url()}",
        "GET",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    raw.raise_for_status()
    out = {"manifest": sha256(raw.content), "blobs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for descriptor in [manifest["config"], *manifest["layers"]]:
            path = registry.download_blob(container, descriptor["digest"], os.path.join(tmp, "blob"))
            with open(path, "rb") as f:
                data = f.read()
            out["blobs"][descriptor["digest"]] = {"sha256": sha256(data), "size": len(data)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
