"""Scale-out figures for ``bench_ingest.py --store postgresql://…``: N server processes on one store.

For each store (SQLite file, PostgreSQL schema) and each N in ``--servers``: N ``handoff serve
--no-worker`` and one ``handoff worker``; saturation (events/s; CPU per event of the server
processes and of the database backends serving this run's connections, found by their
application_name, read from /proc), p99 at ``--rate``, accepted → delivered
p99. Then the outbox: 20,000 rows claimed and finished by 4 threads, one row per claim and 100,
rows/s.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench_ingest import SECRET, free_port, load, wait_port

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds of the processes, all their threads (/proc/<pid>/stat: clock ticks, 10 ms)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def backend_seconds(pid: int) -> float:
    """CPU seconds of one database backend (one thread): /proc/<pid>/schedstat, in nanoseconds
    (a backend runs a few ms per second, which 10 ms ticks would round away); ticks without it."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return cpu_seconds([pid])


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    return {pid: backend_seconds(pid) for pid in pids}


def backends(pg_url: str, app: str) -> list[int]:
    """The database's server processes that serve this run's connections (by application_name),
    so the other users of a shared server are not counted."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name=%s", (app,)
            )
        ]


class Fresh:
    """An empty store of each kind: a SQLite file in a temporary folder, or a PostgreSQL schema."""

    def __init__(self, kind: str, pg_url: str, tmp: Path, n: int):
        self.kind, self.pg_url = kind, pg_url
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp / f'scale{n}-{secrets.token_hex(4)}.db'}"
        else:
            import psycopg

            self.schema = f"handoff_bench_{secrets.token_hex(4)}"
            self.app = self.schema
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{self.schema}"')
            sep = "&" if "?" in pg_url else "?"
            self.url = (
                f"{pg_url}{sep}options={quote(f'-c search_path={self.schema}')}"
                f"&application_name={self.app}"
            )

    def store(self) -> Any:
        from connector.store import store_class, url_scheme
        from connector.store_config import StoreSettings

        store = store_class(url_scheme(self.url)).from_url(self.url, StoreSettings(url=self.url))
        store.migrate()
        return store

    def drop(self) -> None:
        if self.kind != "sqlite":
            import psycopg

            with psycopg.connect(self.pg_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')


def delivered(store: Any) -> dict[str, Any]:
    with store.reading() as tx:
        handoffs = tx.list_handoffs(limit=1_000_000)
        filed = [(h.created_at, tx.get_inbox_item(h.id)) for h in handoffs]
    lat = sorted(
        (datetime.fromisoformat(item["filed_at"]) - datetime.fromisoformat(c)).total_seconds()
        for c, item in filed
        if item
    )
    if not lat:
        return {"delivered": 0}
    return {"delivered": len(lat), "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))]}


def run(kind: str, n: int, args: Any, tmp: Path) -> dict[str, Any]:
    fresh = Fresh(kind, args.store, tmp, n)
    store = fresh.store()  # migrated once here, not raced by the servers
    handoff = str(Path(sys.executable).parent / "handoff")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    ports, procs, logs = [], [], []
    try:
        for i in range(n + 1):
            for tries_left in (2, 1, 0):  # a port another program took meanwhile: another port
                port = free_port()
                config = tmp / f"scale-{kind}-{n}-{i}.json"
                config.write_text(
                    json.dumps(
                        {
                            "server": {"port": port, "threads": args.threads},
                            "store": {"url": fresh.url, "pool_size": args.threads},
                            "sources": {"bench": {"secret": SECRET}},
                            "logging": {"level": "WARNING"},
                            "policy": {"model": {"enabled": args.model == "on"}},
                        }
                    )
                )
                command = ["worker"] if i == n else ["serve", "--no-worker"]
                log = tmp / f"scale-{kind}-{n}-{i}.log"  # what a server says on its way down
                with log.open("wb") as stderr:
                    proc = subprocess.Popen(
                        [handoff, *command, "--config", str(config)], env=env, stderr=stderr
                    )
                if i == n:
                    break
                try:
                    wait_port(port, proc)  # its own listener, not another program's
                    break
                except SystemExit:
                    print(f"# {log.name}: {log.read_text(errors='replace').strip()[-200:]}")
                    if not tries_left:
                        raise
            procs.append(proc)
            logs.append(log)
            if i < n:
                ports.append(port)
        servers = [p.pid for p in procs[:n]]
        # warm up: each server's first requests load what it loads lazily; not part of the figures
        load(ports, 2 * n, 1.0, length=args.length)
        db_pids = lambda: backends(args.store, fresh.app) if kind != "sqlite" else []  # noqa: E731
        cpu0, db0 = cpu_seconds(servers), cpu_by_pid(db_pids())
        saturated = load(ports, args.clients, args.seconds, length=args.length)
        cpu1, db_end = cpu_seconds(servers), cpu_by_pid(db_pids())
        db1 = sum(db_end.values()) - sum(db0.get(pid, 0.0) for pid in db_end)
        events = max(1, saturated["requests"])
        at_rate = load(ports, 4, args.seconds, rate=args.rate, length=args.length)
        time.sleep(1.5)  # the worker finishes the tail
        result = {
            "events/s": saturated["rps"],
            "answers": saturated["answers"],  # by status: 503 is the store's back-pressure
            "exited": [p.returncode for p in procs if p.poll() is not None],
            "server_cpu_ms/event": 1000 * (cpu1 - cpu0) / events,
            "db_cpu_ms/event": 1000 * db1 / events,
            f"p99@{args.rate:.0f}/s_ms": at_rate["p99_ms"],
            "delivered_p99_ms": delivered(store).get("p99_ms", float("nan")),
        }
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait()
        for log in logs:
            lines = log.read_text(errors="replace").splitlines()
            if lines:
                print(f"# {log.name}: {len(lines)} line(s); last: {lines[-1][:200]}")
        store.close()
        fresh.drop()
    return result


def claims(
    kind: str, args: Any, tmp: Path, rows: int = 20_000, threads: int = 4, batch: int = 1
) -> float:
    """Outbox rows claimed and finished per second by ``threads`` claimers, ``batch`` rows per
    claim (``claim_outbox`` for 1, ``claim_outbox_batch`` above) and their finishes in one transaction."""
    fresh = Fresh(kind, args.store, tmp, 99)
    store = fresh.store()
    try:
        for start in range(0, rows, 1000):
            with store.atomic() as tx:
                for i in range(start, start + 1000):
                    tx.enqueue("callback", "bench", f"k{i}", {"n": i}, 0.0)
        done = [0] * threads

        def claimer(t: int) -> None:
            while True:
                with store.atomic() as tx:
                    if batch == 1:
                        one = tx.claim_outbox(f"w{t}", 1.0, 60.0)
                        taken = [] if one is None else [one]
                    else:
                        taken = tx.claim_outbox_batch(f"w{t}", 1.0, 60.0, batch)
                if not taken:
                    return
                with store.atomic() as tx:
                    for row in taken:
                        tx.finish_outbox(row.id, f"w{t}", 1.0, status="done")
                done[t] += len(taken)

        t0 = time.perf_counter()
        workers = [threading.Thread(target=claimer, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return sum(done) / (time.perf_counter() - t0)
    finally:
        store.close()
        fresh.drop()


def scale(args: Any) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="handoff-scale-"))
    counts = [int(n) for n in args.servers.split(",")]
    results: dict[str, dict[str, Any]] = {}
    kinds = [k for k in ("sqlite", "postgresql") if k in args.stores.split(",")]
    for kind in kinds:
        for n in counts:
            results[f"{kind} x{n}"] = run(kind, n, args, tmp)
    print(
        f"# scale-out: {args.clients} saturating clients, {args.threads} threads per server, "
        f"{args.seconds:.0f} s per run, one worker process, conversations of {args.length} events, "
        f"learned model {args.model}, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    for label, r in results.items():
        figures = "  ".join(
            f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()
        )
        print(f"{label:<16} {figures}")
    for kind in kinds:
        base = results[f"{kind} x{counts[0]}"]["events/s"]
        ratios = ", ".join(
            f"x{n}: {results[f'{kind} x{n}']['events/s'] / base:.2f}" for n in counts[1:]
        )
        print(
            f"{kind} throughput relative to {counts[0]} process(es): {ratios}  (target x2 ≥ 1.3 on PostgreSQL)"
        )
    for kind in kinds if args.claims else ():
        for batch in (1, 100):
            rate = claims(kind, args, tmp, batch=batch)
            print(
                f"{kind} outbox: {rate:.0f} rows/s claimed and finished by 4 threads, {batch} row(s) "
                "per claim (target in batches ≥ 5,000)"
            )
    print(
        "median server CPU ms/event:",
        f"{statistics.median(r['server_cpu_ms/event'] for r in results.values()):.2f}",
    )
