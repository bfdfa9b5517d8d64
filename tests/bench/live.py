"""Live-event delivery benchmark: SUBSCRIBERS event streams of one channel
on a running team-collab server, MESSAGES posts (one every INTERVAL
seconds) through its API, and for each (subscriber, message) the time from
sending the POST to reading the event on the stream.

    python3 tests/bench/live.py BASE_URL SUBSCRIBERS MESSAGES [INTERVAL] [SERVER_PID]

Prints one line: subscribers, deliveries, p50/p99/max latency in ms,
deliveries missing, and (with SERVER_PID) the server's RSS before the
streams, with them open, and per stream. Standard library only; every wait
is bounded."""

import asyncio
import json
import sys
import time
import urllib.request
from urllib.parse import urlsplit

from server import rss_mb


def call(base, method, path, token=None, body=None):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


async def subscribe(host, port, path, token, arrivals, opened, stop):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nhost: {host}\r\naccept: text/event-stream\r\nauthorization: Bearer {token}\r\n\r\n".encode()
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.decode(errors="replace"))
    opened.release()
    buffer = b""
    while not stop.is_set():
        chunk = await reader.read(65536)
        if not chunk:
            break
        now = time.monotonic()
        buffer += chunk
        # Chunked transfer coding: the SSE text is split across chunk
        # headers, but each event's data line is whole within one chunk.
        for line in buffer.split(b"\n"):
            if line.startswith(b"data: ") and b'"message.created"' in line:
                text = json.loads(line[6:])["message"]["text"]
                if text.startswith("bench "):
                    arrivals.setdefault(text, []).append(now)
        buffer = buffer[buffer.rfind(b"\n") + 1 :]
    writer.close()


async def main():
    base, subscribers, messages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.2
    pid = int(sys.argv[5]) if len(sys.argv) > 5 else None
    url = urlsplit(base)
    email = f"live{time.time_ns()}@example.com"
    token = call(base, "POST", "/v1/auth/signup", body={"email": email, "password": "correct-horse-1", "display_name": "Bench"})["token"]
    workspace = call(base, "POST", "/v1/workspaces", token, {"name": "bench"})["id"]
    channel = call(base, "POST", f"/v1/workspaces/{workspace}/channels", token, {"name": "live"})["id"]
    path = f"/v1/workspaces/{workspace}/channels/{channel}"
    before = rss_mb(pid) if pid else None

    arrivals, stop, opened = {}, asyncio.Event(), asyncio.Semaphore(0)
    tasks = []
    for _ in range(subscribers):
        tasks.append(asyncio.create_task(subscribe(url.hostname, url.port, path + "/events", token, arrivals, opened, stop)))
    for _ in range(subscribers):
        await asyncio.wait_for(opened.acquire(), 60)
    await asyncio.sleep(1)
    with_streams = rss_mb(pid) if pid else None

    sent = {}
    loop = asyncio.get_running_loop()
    for n in range(messages):
        text = f"bench {n}"
        sent[text] = time.monotonic()
        await loop.run_in_executor(None, call, base, "POST", path + "/messages", token, {"text": text})
        await asyncio.sleep(interval)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sum(len(v) for v in arrivals.values()) < subscribers * messages:
        await asyncio.sleep(0.05)
    stop.set()
    for task in tasks:
        task.cancel()

    latencies = sorted((at - sent[text]) * 1000 for text, times in arrivals.items() for at in times)
    missing = subscribers * messages - len(latencies)
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
    line = (
        f"{subscribers} subscribers, {len(latencies)} deliveries: p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, "
        f"max {latencies[-1] if latencies else float('nan'):.1f} ms, missing {missing}"
    )
    if pid:
        line += f"; RSS {before:.1f} MB before, {with_streams:.1f} MB with the streams open"
        if subscribers >= 100:
            line += f" ({(with_streams - before) * 1024 / subscribers:.1f} KB per stream)"
    print(line)
    if missing:
        sys.exit(1)


asyncio.run(main())
