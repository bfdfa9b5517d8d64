"""File-sharing benchmark: uploads and downloads of files of a few sizes on
a running team-collab server, one client at a time and CONCURRENT at once,
through the real API (`POST …/files`, `GET …/files/{id}/content`, ranged
GETs), each download checked byte for byte.

    python3 tests/bench/files.py BASE_URL [SERVER_PID] [CONCURRENT]

Prints one line per size: upload and download MB/s (one client) and p50
latency, then ranged 64 KiB reads p50/p99, then CONCURRENT clients each
uploading and downloading a 4 MiB file (aggregate MB/s), and with
SERVER_PID the server's RSS before and after. Standard library only."""

import concurrent.futures
import hashlib
import json
import os
import sys
import time
import urllib.request

from server import rss_mb

MIB = 1 << 20


def call(base, method, path, token=None, body=None, content_type="application/json", headers=None):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(base + path, method=method, data=data)
    request.add_header("content-type", content_type)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, response.read()


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    base = sys.argv[1]
    pid = int(sys.argv[2]) if len(sys.argv) > 2 else None
    clients = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    email = f"files{time.time_ns()}@example.com"
    _, session = call(base, "POST", "/v1/auth/signup", body={"email": email, "password": "correct-horse-1", "display_name": "Bench"})
    token = json.loads(session)["token"]
    _, created = call(base, "POST", "/v1/workspaces", token, {"name": "bench"})
    workspace = json.loads(created)["id"]
    _, created = call(base, "POST", f"/v1/workspaces/{workspace}/channels", token, {"name": "files"})
    channel = json.loads(created)["id"]
    before = rss_mb(pid) if pid else None

    def upload(content, name):
        started = time.monotonic()
        path = f"/v1/workspaces/{workspace}/channels/{channel}/files?name={name}"
        status, body = call(base, "POST", path, token, content, "application/pdf")
        assert status == 201, status
        return json.loads(body)["id"], time.monotonic() - started

    def download(file_id, content):
        started = time.monotonic()
        status, body = call(base, "GET", f"/v1/workspaces/{workspace}/files/{file_id}/content", token)
        assert status == 200 and hashlib.sha256(body).digest() == hashlib.sha256(content).digest(), "download differs"
        return time.monotonic() - started

    biggest = None
    for size_mib, rounds in [(1, 10), (8, 4), (20, 2)]:
        content = b"%PDF-1.7\n" + os.urandom(size_mib * MIB - 9)
        ups, downs = [], []
        for n in range(rounds):
            file_id, took = upload(content, f"bench-{size_mib}-{n}.pdf")
            ups.append(took)
            downs.append(download(file_id, content))
        biggest = (file_id, content)
        print(
            f"{size_mib:>2} MiB x{rounds}: upload {size_mib / quantile(ups, 0.5):.1f} MB/s (p50 {quantile(ups, 0.5) * 1000:.0f} ms), "
            f"download {size_mib / quantile(downs, 0.5):.1f} MB/s (p50 {quantile(downs, 0.5) * 1000:.0f} ms)"
        )

    file_id, content = biggest
    ranged = []
    for n in range(200):
        start = (n * 104729) % (len(content) - 65536)
        began = time.monotonic()
        status, body = call(base, "GET", f"/v1/workspaces/{workspace}/files/{file_id}/content", token,
                            headers={"range": f"bytes={start}-{start + 65535}"})
        ranged.append(time.monotonic() - began)
        assert status == 206 and body == content[start:start + 65536], "range differs"
    print(f"ranged 64 KiB reads of a 20 MiB file x200: p50 {quantile(ranged, 0.5) * 1000:.1f} ms, p99 {quantile(ranged, 0.99) * 1000:.1f} ms")

    content = b"%PDF-1.7\n" + os.urandom(4 * MIB - 9)
    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        def round_trip(n):
            file_id, _ = upload(content, f"c-{n}.pdf")
            download(file_id, content)
        list(pool.map(round_trip, range(clients * 2)))
    took = time.monotonic() - began
    line = f"{clients} clients, {clients * 2} x (upload + download) of 4 MiB: {clients * 2 * 8 / took:.1f} MB/s moved in {took:.1f} s"
    if pid:
        line += f"; RSS {before:.0f} MB before, {rss_mb(pid):.0f} MB after"
    print(line)


main()
