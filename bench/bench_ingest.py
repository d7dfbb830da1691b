"""Ingest benchmark: `POST /v1/events` on the production server against a bare Flask endpoint.

Starts `handoff serve` (waitress, SQLite, local inbox, the delivery worker in-process as `make run`
does, or in a separate `handoff worker` with --worker process) and, on the same server software
with the same thread count, a bare Flask app whose one endpoint only parses the JSON: this
machine's ceiling. Then, for each:

1. saturation: C concurrent keep-alive clients (in separate processes, so the client is not held
   back by one GIL) send as fast as they can for D seconds → throughput, p50, p99;
2. fixed rate: 100 events/s, open loop, for D seconds → p50, p99 (target p99 < 50 ms);
3. for the connector, event accepted → filed in the local inbox, read from the store: p50, p99
   (target p99 < 250 ms).

Two workloads. "connector": conversations as a bot posts them, one event per exchange (the
customer's turn and the bot's answer), the last event of each conversation asking for a person
(--length 6: one event in six escalates). "all-escalating": every event opens a new conversation
that escalates (the heaviest path: decision, handoff, control change, outbox, audit, delivery).
Message texts differ per event so no cache flatters the figures. Prints figures; asserts nothing.
Usage: python bench/bench_ingest.py [--seconds 8] [--length 6] [--worker inprocess|process|none]

Scale-out: ``--store postgresql://…`` instead runs 1, 2 and 4 ``handoff serve --no-worker``
processes (``--servers 1,2,4``) and one ``handoff worker`` on PostgreSQL (a fresh schema of that
database, dropped after) and, in the same run, on one SQLite file; clients spread over the
servers as a load balancer would. Per run: events/s, CPU per event of the servers and of the
database (from /proc), p99 at --rate, accepted → delivered p99; then outbox claims per second
(``bench_scale.py``).
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
from collections import Counter
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


VARIANTS = [
    "it is really annoying",
    "can you check",
    "this happened last week too",
    "thanks",
    "I need it fixed today",
    "what is going on?",
    "the app showed an error",
    "no idea why",
]


# A bot posts one event per exchange: the customer's turn and the bot's answer. Most exchanges stay
# with the bot; the last of each conversation asks for a person and escalates.
TURNS = [
    "Hi, where is my parcel {n}?",
    "It said dispatched on Monday but nothing since, order {n}",
    "Can I still change the delivery address for {n}?",
    "ok, and how long does that usually take",
    "The tracking page for {n} shows nothing at all",
]
ESCALATION = "This is not helping, I want to talk to a real person about {n}"


def make_conversation_body(worker: int, i: int, length: int) -> bytes:
    """Event ``i`` of a client: exchange ``i % length`` of conversation ``i // length``."""
    turn = i % length
    n = f"{worker}{i // length:05d}"
    last = turn == length - 1
    text = (ESCALATION if last else TURNS[turn % len(TURNS)]).format(n=n)
    cid = f"bench-{worker}-{i // length}-{os.getpid()}"
    messages = [{"id": f"c{turn}", "role": "customer", "text": text}]
    if not last:
        messages.append(
            {
                "id": f"b{turn}",
                "role": "bot",
                "text": f"Let me check parcel {n} for you ({turn}).",
                "intent": "track_parcel",
                "confidence": 0.91,
            }
        )
    return json.dumps(
        {
            "id": f"evt-{cid}-{turn}",
            "type": "conversation.updated",
            "occurred_at": datetime.now(UTC).isoformat(),
            "conversation": {"id": cid, "channel": "web", "language": "en"},
            "customer": {
                "id": f"cus-{(worker * 1000 + i // length) % 500}",
                "name": "Bench Customer",
            },
            "messages": messages,
            **(
                {"bot": {"summary": f"Customer chases parcel {n} and asks for a person."}}
                if last
                else {}
            ),
        }
    ).encode()


def make_body(worker: int, i: int) -> bytes:
    cid = f"bench-{worker}-{i}-{os.getpid()}"
    return json.dumps(
        {
            "id": f"evt-{cid}",
            "type": "conversation.updated",
            "occurred_at": datetime.now(UTC).isoformat(),
            "conversation": {"id": cid, "channel": "web", "language": "en"},
            "customer": {"id": f"cus-{i % 500}", "name": "Bench Customer", "tags": ["vip"]},
            "messages": [
                # texts differ per event (order number, wording), so no cache sees the same turn twice
                {
                    "id": "m1",
                    "role": "customer",
                    "text": f"I was charged twice for my order {worker}{i:05d}, {VARIANTS[i % len(VARIANTS)]}",
                },
                {
                    "id": "m2",
                    "role": "bot",
                    "text": f"Sorry about that, let me look into order {worker}{i:05d}.",
                    "citations": [
                        {"title": "Refund policy", "url": "https://help.example.com/refunds"}
                    ],
                },
                {
                    "id": "m3",
                    "role": "customer",
                    "text": f"Please let me talk to a real person about {worker}{i:05d} {VARIANTS[(i * 7) % len(VARIANTS)]}",
                },
            ],
            "bot": {
                "summary": f"Customer reports a double charge on order {worker}{i:05d} and asks for a person."
            },
        }
    ).encode()


def _client(
    port: int | list[int],
    worker: int,
    deadline: float,
    interval: float | None,
    start_at: float,
    queue: mp.Queue,
    length: int,
) -> None:
    """One client process: send until the deadline; at a fixed interval when given (open loop).
    Given several ports (servers), client ``worker`` talks to one of them, as behind a balancer."""
    if isinstance(port, list):
        port = port[worker % len(port)]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    answers: Counter[str] = Counter()  # "200", "503", or the exception (ConnectionRefusedError)
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
        body = make_body(worker, i) if length <= 1 else make_conversation_body(worker, i, length)
        headers = {
            "Content-Type": "application/json",
            "X-Handoff-Source": "bench",
            "X-Handoff-Signature": security.sign(SECRET, body),
        }
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/v1/events", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            answers[str(response.status)] += 1
        except (OSError, http.client.HTTPException) as exc:
            answers[type(exc).__name__] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - t0)
        i += 1
    conn.close()
    queue.put((latencies, dict(answers)))


def load(
    port: int | list[int], clients: int, seconds: float, rate: float | None = None, length: int = 1
) -> dict:
    queue: mp.Queue = mp.Queue()
    start_at = time.perf_counter() + 0.3
    deadline = start_at + seconds
    interval = None if rate is None else clients / rate
    procs = []
    for w in range(clients):
        offset = 0.0 if interval is None else interval * w / clients
        p = mp.Process(
            target=_client, args=(port, w, deadline, interval, start_at + offset, queue, length)
        )
        p.start()
        procs.append(p)
    latencies: list[float] = []
    answers: Counter[str] = Counter()
    for _ in procs:
        lat, counted = queue.get()
        latencies.extend(lat)
        answers.update(counted)
    for p in procs:
        p.join()
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": sum(n for answer, n in answers.items() if answer != "200"),
        # every answer by its status code, or the exception when there was none; the 503s are the
        # store's back-pressure (busy: Retry-After), the exceptions a server not answering
        "answers": dict(sorted(answers.items())),
        "rps": answers["200"] / seconds,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
    }


def listens(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` itself listens on TCP ``port`` (Linux /proc); None without /proc.

    A port from ``free_port`` is free only when asked: on a busy machine another program (a
    test's stand-in) may bind it before the server does. The server then exits ("Address
    already in use") while a connect still succeeds, to the other program, until it closes and
    every request to that port is refused at thousands a second."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    inodes = set()
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port and inode in inodes:
                return True
    return False


def wait_port(port: int, proc: subprocess.Popen) -> None:
    """Until the server ``proc`` listens on ``port``; SystemExit if it exits first."""
    for _ in range(400):
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}) before listening on {port}")
        ours = listens(proc.pid, port)
        if ours:
            return
        if ours is None:  # no /proc: any listener will do
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                pass
        time.sleep(0.05)
    raise SystemExit("server did not start")


def delivery_latency(db: Path) -> dict:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT h.created_at, i.filed_at FROM handoffs h JOIN inbox i ON i.handoff_id = h.id"
    ).fetchall()
    pending = conn.execute("SELECT COUNT(*) FROM outbox WHERE status != 'done'").fetchone()[0]
    conn.close()
    lat = sorted(
        (datetime.fromisoformat(f) - datetime.fromisoformat(c)).total_seconds() for c, f in rows
    )
    if not lat:
        return {"delivered": 0, "undelivered": pending}
    return {
        "delivered": len(lat),
        "undelivered": pending,
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument(
        "--length",
        type=int,
        default=6,
        help="events per conversation; the last one escalates (1: every event escalates)",
    )
    parser.add_argument(
        "--worker",
        choices=("inprocess", "process", "none"),
        default="inprocess",
        help="delivery worker: inside `handoff serve` (the default, as `make run`), "
        "a separate `handoff worker` process, or none (ingest alone)",
    )
    parser.add_argument(
        "--store", help="a postgresql:// URL: run the scale-out benchmark (bench_scale.py)"
    )
    parser.add_argument("--servers", default="1,2,4", help="server process counts for --store")
    parser.add_argument(
        "--stores", default="sqlite,postgresql", help="which stores the scale-out runs use"
    )
    parser.add_argument(
        "--model",
        choices=("on", "off"),
        default="on",
        help="the learned signal in the scale-out runs' servers (on: as shipped)",
    )
    parser.add_argument(
        "--no-claims",
        dest="claims",
        action="store_false",
        help="skip the outbox claim figures of the scale-out runs",
    )
    args = parser.parse_args()
    if args.store:
        from bench_scale import scale

        scale(args)
        return
    tmp = Path(tempfile.mkdtemp(prefix="handoff-bench-"))
    handoff = str(Path(sys.executable).parent / "handoff")
    results = {}

    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(bare_port), str(args.threads)])
    try:
        wait_port(bare_port, bare)
        results["bare saturation"] = load(bare_port, args.clients, args.seconds, length=args.length)
        results["bare @rate"] = load(bare_port, 4, args.seconds, rate=args.rate, length=args.length)
    finally:
        bare.send_signal(signal.SIGTERM)
        bare.wait()

    runs = (
        ("connector saturation", None, args.length),
        ("connector @rate", args.rate, args.length),
        ("all-escalating saturation", None, 1),
        ("all-escalating @rate", args.rate, 1),
    )
    for n, (label, fixed, length) in enumerate(runs):
        db = tmp / f"run{n}.db"
        port = free_port()
        config = tmp / "config.yaml"
        config.write_text(
            json.dumps(
                {
                    "server": {"port": port, "threads": args.threads},
                    "store": {"path": str(db)},
                    "sources": {"bench": {"secret": SECRET}},
                    "logging": {"level": "WARNING"},
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
        serve = [handoff, "serve", "--config", str(config)]
        if args.worker != "inprocess":
            serve.append("--no-worker")
        server = subprocess.Popen(serve, env=env, stderr=subprocess.DEVNULL)
        worker = None
        if args.worker == "process":
            worker = subprocess.Popen(
                [handoff, "worker", "--config", str(config)], env=env, stderr=subprocess.DEVNULL
            )
        try:
            wait_port(port, server)
            if fixed is None:
                results[label] = load(port, args.clients, args.seconds, length=length)
            else:
                results[label] = load(port, 4, args.seconds, rate=fixed, length=length)
            time.sleep(1.0)  # let the worker finish the tail
            results[label + " delivery"] = delivery_latency(db)
        finally:
            for proc in (server, worker):
                if proc is not None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait()

    print(
        f"# ingest benchmark: {args.clients} saturating clients, {args.threads} server threads, "
        f"{args.seconds:.0f} s per run, worker {args.worker}, conversations of {args.length} events "
        f"(the last escalates), {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    for label, r in results.items():
        figures = "  ".join(
            f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()
        )
        print(f"{label:<36} {figures}")
    bare_rps = results["bare saturation"]["rps"]
    for prefix in ("connector", "all-escalating"):
        ratio = results[f"{prefix} saturation"]["rps"] / bare_rps
        print(f"{prefix} / bare throughput: {100 * ratio:.0f} %  (target ≥ 40 %)")
        print(
            f"{prefix} p99 at {args.rate:.0f} events/s: {results[f'{prefix} @rate']['p99_ms']:.1f} ms "
            "(target < 50 ms)"
        )
        delivery = results[f"{prefix} @rate delivery"]
        if "p99_ms" in delivery:
            print(
                f"{prefix} accepted → delivered p99 at {args.rate:.0f}/s: {delivery['p99_ms']:.1f} ms "
                "(target < 250 ms)"
            )


if __name__ == "__main__":
    main()
