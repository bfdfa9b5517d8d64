"""Schemathesis against the served product: team-collab's published
contract (products/team-collab/openapi.yaml, as the product serves it at
/v1/openapi.json) driven with generated requests, valid and invalid, for
every operation, then in stateful sequences.

The product runs on the embedded defaults (`keel up -f spin.toml`, SQLite
and local key-value in a scratch state directory) with every rate limit
off (the fuzzer's bursts would otherwise test the limiter only). A signed-in
user with a verified address owns a workspace where a second member, a
channel, a message, a shared file and a pending invitation exist; the path parameters of
every operation are those real ids, so the fuzzer reaches the rules behind
the 404s. Checked on every response: no 5xx, the status is one the
contract lists, the body matches the schema of that status, the content
type and headers are the documented ones, and a method the contract does
not list for a path answers 405. Logout is left out: it would end the
fuzzer's own session.

    python tests/api/fuzz.py path/to/keel    # the venv of scripts/install-deploy-deps.sh

Ends with `1 passed, 0 failed` or `0 passed, 1 failed` (scripts/test.sh
adds it up). Bounded: 25 examples per operation, a fixed seed, 10 s per
request, 10 minutes in all.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POLICIES = [
    "signup_per_address",
    "login_per_address",
    "login_per_email",
    "account_mail_per_address",
    "account_mail_per_recipient",
    "writes_per_user",
    "password_hashes",
]
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
]
PASSWORD = "correct-horse-1"


class Api:
    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path: str, body: dict | bytes | None = None, token: str | None = None) -> dict:
        request = urllib.request.Request(self.base + path, method=method)
        if isinstance(body, bytes):
            request.data = body
            request.add_header("content-type", "text/plain")
        elif body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("content-type", "application/json")
        if token:
            request.add_header("authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            raise SystemExit(f"fuzz: seeding {method} {path}: {error.code} {error.read()[:300]!r}") from None
        return json.loads(text) if text else {}

    def verified_user(self, name: str) -> tuple[str, str]:
        """Sign `name` up and confirm the address with the mailed link."""
        email = f"{name}@example.com"
        session = self.call("POST", "/v1/auth/signup", {"email": email, "password": PASSWORD, "display_name": name})
        mail = self.call("GET", f"/dev/outbox?to={email}&limit=1")["messages"][0]
        secret = next(line.split(":", 1)[1].strip() for line in mail["text_body"].splitlines() if line.startswith("Token:"))
        self.call("POST", "/v1/auth/verify-email", {"token": secret})
        return session["user"]["id"], session["token"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(base: str, server: subprocess.Popen, seconds: int = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"fuzz: keel up exited with {server.returncode}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"fuzz: no answer from {base}/healthz within {seconds} s")


def main(keel: str) -> int:
    schemathesis = Path(sys.executable).parent / "schemathesis"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as state:
        args = [keel, "up", "-f", str(ROOT / "spin.toml"), "--listen", f"127.0.0.1:{port}", "--state-dir", state]
        for policy in POLICIES:
            args += ["--variable", f"rate_limit_{policy}=off"]
        env = dict(os.environ, SPIN_VARIABLE_TOKEN_SECRET=secrets.token_hex(32))
        log = open(Path(state) / "keel.log", "w")
        server = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(base, server)
            api = Api(base)
            owner_id, token = api.verified_user("fuzz")
            mate_id, mate_token = api.verified_user("mate")
            workspace = api.call("POST", "/v1/workspaces", {"name": "fuzz"}, token)["id"]
            invited = api.call("POST", f"/v1/workspaces/{workspace}/invitations", {"email": "mate@example.com", "role": "member"}, token)
            api.call("POST", f"/v1/invitations/{invited['id']}/accept", None, mate_token)
            pending = api.call("POST", f"/v1/workspaces/{workspace}/invitations", {"email": "later@example.com", "role": "member"}, token)
            channel = api.call("POST", f"/v1/workspaces/{workspace}/channels", {"name": "general"}, token)["id"]
            message = api.call("POST", f"/v1/workspaces/{workspace}/channels/{channel}/messages", {"text": f"hi <@{mate_id}>"}, token)["id"]
            shared = api.call("POST", f"/v1/workspaces/{workspace}/channels/{channel}/files?name=notes.txt", b"fuzz notes\n" * 100, token)["id"]
            config = Path(state) / "schemathesis.toml"
            config.write_text(
                "[parameters]\n"
                + "".join(
                    f'"path.{name}" = {json.dumps(value)}\n'
                    for name, value in [
                        ("workspace_id", workspace),
                        ("channel_id", channel),
                        ("message_id", message),
                        ("user_id", mate_id),
                        ("invitation_id", pending["id"]),
                        ("file_id", shared),
                        ("flag", "message_editing"),
                        ("emoji", ":tada:"),
                    ]
                )
            )
            run = subprocess.run(
                [
                    str(schemathesis), "--config-file", str(config), "--no-color", "run", f"{base}/v1/openapi.json",
                    "--header", f"Authorization: Bearer {token}",
                    "--checks", ",".join(CHECKS),
                    "--exclude-operation-id", "logout",
                    # Event streams stay open (heartbeats) until the client
                    # leaves; the live-events scenarios drive them instead.
                    "--exclude-operation-id", "streamWorkspaceEvents",
                    "--exclude-operation-id", "streamChannelEvents",
                    "--max-examples", "25", "--seed", "7", "--workers", "2", "--request-timeout", "10",
                ],
                cwd=state, timeout=600, check=False,
            )
            del owner_id
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
        if run.returncode != 0:
            print((Path(state) / "keel.log").read_text()[-4000:], file=sys.stderr)
    print("1 passed, 0 failed" if run.returncode == 0 else "0 passed, 1 failed")
    return run.returncode


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1]))
