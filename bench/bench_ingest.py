"""Ingest benchmark: `POST /v1/events` on the production server against a bare Flask endpoint.

Starts `handoff serve` (waitress, SQLite, local inbox, in-process worker) and, on the same server
software with the same thread count, a bare Flask app whose one endpoint only parses the JSON: this
machine's ceiling. Then, for each:

1. saturation: C concurrent keep-alive clients (in separate processes, so the client is not held
   back by one GIL) send as fast as they can for D seconds → throughput, p50, p99;
2. fixed rate: 100 events/s, open loop, for D seconds → p50, p99 (target p99 < 50 ms);
3. for the connector, event accepted → filed in the local inbox, read from the store: p50, p99
   (target p99 < 250 ms).

Every event escalates (the heaviest path: decision, handoff, control change, outbox, audit,
delivery). Prints figures; asserts nothing. Usage: python bench/bench_ingest.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector import security  # noqa: E402

SECRET = "bench-secret-123"
BARE_APP = """
import json, sys, waitress
from flask import Flask, request
app = Flask("bare")
@app.post("/v1/events")
def events():
    data = json.loads(request.get_data())
    return {"event_id": data["id"], "ok": True}
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]), _quiet=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


VARIANTS = ["it is really annoying", "can you check", "this happened last week too", "thanks",
            "I need it fixed today", "what is going on?", "the app showed an error", "no idea why"]


def make_body(worker: int, i: int) -> bytes:
    cid = f"bench-{worker}-{i}-{os.getpid()}"
    return json.dumps({
        "id": f"evt-{cid}", "type": "conversation.updated", "occurred_at": datetime.now(UTC).isoformat(),
        "conversation": {"id": cid, "channel": "web", "language": "en"},
        "customer": {"id": f"cus-{i % 500}", "name": "Bench Customer", "tags": ["vip"]},
        "messages": [
            # texts differ per event (order number, wording), so no cache sees the same turn twice
            {"id": "m1", "role": "customer",
             "text": f"I was charged twice for my order {worker}{i:05d}, {VARIANTS[i % len(VARIANTS)]}"},
            {"id": "m2", "role": "bot", "text": f"Sorry about that, let me look into order {worker}{i:05d}.",
             "citations": [{"title": "Refund policy", "url": "https://help.example.com/refunds"}]},
            {"id": "m3", "role": "customer",
             "text": f"Please let me talk to a real person about {worker}{i:05d} {VARIANTS[(i * 7) % len(VARIANTS)]}"},
        ],
        "bot": {"summary": f"Customer reports a double charge on order {worker}{i:05d} and asks for a person."},
    }).encode()


def _client(port: int, worker: int, deadline: float, interval: float | None, start_at: float,
            queue: mp.Queue) -> None:
    """One client process: send until the deadline; at a fixed interval when given (open loop)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    errors = 0
    i = 0
    next_send = start_at
    while True:
        now = time.perf_counter()
        if interval is not None:
            if next_send > now:
                time.sleep(next_send - now)
            next_send += interval
        if time.perf_counter() >= deadline:
            break
        body = make_body(worker, i)
        headers = {"Content-Type": "application/json", "X-Handoff-Source": "bench",
                   "X-Handoff-Signature": security.sign(SECRET, body)}
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/v1/events", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - t0)
        i += 1
    conn.close()
    queue.put((latencies, errors))


def load(port: int, clients: int, seconds: float, rate: float | None = None) -> dict:
    queue: mp.Queue = mp.Queue()
    start_at = time.perf_counter() + 0.3
    deadline = start_at + seconds
    interval = None if rate is None else clients / rate
    procs = []
    for w in range(clients):
        offset = 0.0 if interval is None else interval * w / clients
        p = mp.Process(target=_client, args=(port, w, deadline, interval, start_at + offset, queue))
        p.start()
        procs.append(p)
    latencies: list[float] = []
    errors = 0
    for _ in procs:
        lat, err = queue.get()
        latencies.extend(lat)
        errors += err
    for p in procs:
        p.join()
    latencies.sort()
    return {
        "requests": len(latencies), "errors": errors, "rps": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
    }


def wait_port(port: int, proc: subprocess.Popen) -> None:
    for _ in range(400):
        if proc.poll() is not None:
            raise SystemExit("server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def delivery_latency(db: Path) -> dict:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT h.created_at, i.filed_at FROM handoffs h JOIN inbox i ON i.handoff_id = h.id"
    ).fetchall()
    pending = conn.execute("SELECT COUNT(*) FROM outbox WHERE status != 'done'").fetchone()[0]
    conn.close()
    lat = sorted((datetime.fromisoformat(f) - datetime.fromisoformat(c)).total_seconds() for c, f in rows)
    if not lat:
        return {"delivered": 0, "undelivered": pending}
    return {"delivered": len(lat), "undelivered": pending, "p50_ms": 1000 * statistics.median(lat),
            "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="handoff-bench-"))
    handoff = str(Path(sys.executable).parent / "handoff")
    results = {}

    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(bare_port), str(args.threads)])
    try:
        wait_port(bare_port, bare)
        results["bare saturation"] = load(bare_port, args.clients, args.seconds)
        results["bare @rate"] = load(bare_port, 4, args.seconds, rate=args.rate)
    finally:
        bare.send_signal(signal.SIGTERM)
        bare.wait()

    for label, fixed in (("connector saturation", None), ("connector @rate", args.rate)):
        db = tmp / f"{label.split()[1].strip('@')}.db"
        port = free_port()
        config = tmp / "config.yaml"
        config.write_text(json.dumps({
            "server": {"port": port, "threads": args.threads},
            "store": {"path": str(db)},
            "sources": {"bench": {"secret": SECRET}},
            "logging": {"level": "WARNING"},
        }))
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
        server = subprocess.Popen([handoff, "serve", "--config", str(config)], env=env,
                                  stderr=subprocess.DEVNULL)
        try:
            wait_port(port, server)
            if fixed is None:
                results[label] = load(port, args.clients, args.seconds)
            else:
                results[label] = load(port, 4, args.seconds, rate=fixed)
            time.sleep(1.0)  # let the worker finish the tail
            results[label + " delivery"] = delivery_latency(db)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait()

    print(f"# ingest benchmark: {args.clients} saturating clients, {args.threads} server threads, "
          f"{args.seconds:.0f} s per run, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    for label, r in results.items():
        figures = "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items())
        print(f"{label:<32} {figures}")
    ratio = results["connector saturation"]["rps"] / results["bare saturation"]["rps"]
    print(f"connector / bare throughput: {100 * ratio:.0f} %  (target ≥ 40 %)")
    print(f"p99 at {args.rate:.0f} events/s: {results['connector @rate']['p99_ms']:.1f} ms (target < 50 ms)")
    delivery = results["connector @rate delivery"]
    if "p99_ms" in delivery:
        print(f"accepted → delivered p99 at {args.rate:.0f}/s: {delivery['p99_ms']:.1f} ms (target < 250 ms)")


if __name__ == "__main__":
    main()
