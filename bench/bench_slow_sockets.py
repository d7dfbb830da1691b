"""Slow-socket benchmark: are events and `/healthz` still answered while 1,000 slow sockets hang on?

Starts `handoff serve` (waitress, SQLite, local inbox, worker in-process, default `server.*` keys)
and runs the same load twice in one run, for D seconds each:

1. baseline: ~100 signed events/s (open loop, one keep-alive client, every event a new exchange
   of a conversation, one in six asking for a person) plus `/healthz` 10 times a second;
2. the same load while N sockets (default 1,000) are held open on 127.0.0.1: half idle, half
   dripping the headers of a request that never ends, one byte per socket per second; a socket
   the server closes is opened again, so the count holds.

Prints, per run: answered / sent, errors, p50 and p99 of answered events and of `/healthz`.
Prints figures; asserts nothing.
Usage: python bench/bench_slow_sockets.py [--seconds 10] [--sockets 1000] [--rate 100]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector import security  # noqa: E402

SECRET = "bench-secret-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body(n: int) -> bytes:
    conversation, turn = divmod(n, 6)
    text = "I want to talk to a person" if turn == 5 else f"where is my order {n}?"
    return json.dumps(
        {
            "id": f"evt-{n}",
            "type": "conversation.updated",
            "occurred_at": datetime.now(UTC).isoformat(),
            "conversation": {"id": f"conv-{conversation}", "channel": "web", "language": "en"},
            "customer": {"id": f"cus-{conversation}", "name": "Bench"},
            "messages": [
                {"id": f"m-{n}-c", "role": "customer", "text": text},
                {"id": f"m-{n}-b", "role": "bot", "text": f"Let me check {n}."},
            ],
        }
    ).encode()


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load(port: int, seconds: float, rate: float, first: int) -> dict:
    """Open-loop events at ``rate``/s and /healthz at 10/s; latencies in ms of answered requests."""
    result: dict = {"events": [], "health": [], "sent": 0, "health_sent": 0, "errors": 0}

    def run(kind: str, interval: float) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        start = time.monotonic()
        i = 0
        while (due := start + i * interval) < start + seconds:
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                t0 = time.monotonic()
                if kind == "events":
                    raw = body(first + i)
                    result["sent"] += 1
                    conn.request(
                        "POST",
                        "/v1/events",
                        raw,
                        {
                            "Content-Type": "application/json",
                            security.SOURCE_HEADER: "bench",
                            security.SIGNATURE_HEADER: security.sign(SECRET, raw),
                        },
                    )
                else:
                    result["health_sent"] += 1
                    conn.request("GET", "/healthz")
                answer = conn.getresponse()
                answer.read()
                if answer.status == 200:
                    result[kind].append((time.monotonic() - t0) * 1000)
                else:
                    result["errors"] += 1
            except (OSError, http.client.HTTPException):
                result["errors"] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            i += 1
        conn.close()

    threads = [
        threading.Thread(target=run, args=("events", 1 / rate)),
        threading.Thread(target=run, args=("health", 0.1)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return result


class SlowSockets:
    """N sockets on 127.0.0.1: even ones idle, odd ones dripping one header byte a second."""

    def __init__(self, port: int, count: int):
        self.port, self.count, self.reopened = port, count, 0
        self.sockets = [self._open(i) for i in range(count)]
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _open(self, i: int) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setblocking(False)
        if i % 2:
            s.send(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: ")
        return s

    def _drip(self) -> None:
        while not self.halt.wait(1.0):
            for i, s in enumerate(self.sockets):
                try:
                    if i % 2:
                        s.send(b"a")
                    elif s.recv(1, socket.MSG_PEEK) == b"":  # the server closed an idle one
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    self.sockets[i] = self._open(i)
                    self.reopened += 1

    def close(self) -> None:
        self.halt.set()
        self.thread.join()
        for s in self.sockets:
            s.close()


def wait_healthy(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def report(name: str, r: dict) -> None:
    ev, hz = r["events"], r["health"]
    print(
        f"| {name} | {len(ev)}/{r['sent']} events, {len(hz)}/{r['health_sent']} healthz, "
        f"{r['errors']} errors | {statistics.median(ev) if ev else float('nan'):.1f} ms | "
        f"**{p(ev, 0.99):.1f} ms** | {statistics.median(hz) if hz else float('nan'):.1f} ms | "
        f"**{p(hz, 0.99):.1f} ms** |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # this client holds the sockets too
    if soft != resource.RLIM_INFINITY and soft < args.sockets + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.sockets + 256), hard))
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(
            json.dumps(
                {
                    "server": {"port": port},
                    "store": {"path": str(Path(tmp) / "bench.db")},
                    "sources": {"bench": {"secret": SECRET}},
                    "logging": {"level": "WARNING"},
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
        handoff = str(Path(sys.executable).parent / "handoff")
        server = subprocess.Popen(
            [handoff, "serve", "--config", str(config)], env=env, stderr=subprocess.DEVNULL
        )
        try:
            wait_healthy(port, server)
            baseline = load(port, args.seconds, args.rate, first=0)
            slow = SlowSockets(port, args.sockets)
            try:
                loaded = load(port, args.seconds, args.rate, first=1_000_000)
            finally:
                slow.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
    print(
        f"# slow-socket benchmark: {args.rate:g} ev/s + /healthz 10/s for {args.seconds:g} s per run, "
        f"default server.* keys"
    )
    print("| run | answered | events p50 | events p99 | /healthz p50 | /healthz p99 |")
    print("|---|---|---:|---:|---:|---:|")
    report("baseline, no slow sockets", baseline)
    report(f"{args.sockets} slow sockets open ({slow.reopened} reopened)", loaded)


if __name__ == "__main__":
    main()
