"""Statements and round trips per event on PostgreSQL, and the database CPU they cost.

Runs the connector in this process (``service.ingest_event``, then the delivery worker by hand) on
a fresh schema of ``--store`` (dropped after), with a psycopg hook on every store connection that
counts the statements sent and the round trips waited for (a statement outside a pipeline is one;
in a pipeline, reading an answer not yet received is one, and so is a sync, however many
statements each carried). The workload is the scale-out
bench's "connector" one: conversations of ``--length`` events, the last of each escalating. Per
kind of event (staying with the bot, escalating) and for the worker's delivery of what they
queued: statements and round trips per event, and the database backends' CPU per event, read from
/proc/<pid>/schedstat (nanoseconds; this run's connections are found by application_name).

Usage: python bench/bench_pg_statements.py --store postgresql://postgres@127.0.0.1:5432/test
       [--conversations 100] [--length 6]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg  # noqa: E402
from bench_ingest import make_conversation_body  # noqa: E402
from bench_scale import Fresh, backends  # noqa: E402

COUNTS: Counter[str] = Counter()
TRACE: list[str] | None = None  # --trace: the statements of the last escalating event
PROFILE: dict[str, list[float]] | None = None  # --profile: statement → [count, database ns]


def on_cpu_ns(pid: int) -> int:
    """Nanoseconds process ``pid`` has run (/proc/<pid>/schedstat: finer than /proc's ticks)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


class CountingCursor(psycopg.Cursor):  # type: ignore[type-arg]
    """Counts what this connection sends: statements, and round trips it waits for."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        COUNTS["statements"] += 1
        head = (query if isinstance(query, str) else "").lstrip()[:6].upper()
        if head in ("BEGIN ", "COMMIT"):
            COUNTS[head.strip().lower()] += 1  # transactions: BEGIN, and COMMIT
        if TRACE is not None:
            TRACE.append(str(query if isinstance(query, str) else query.as_string(self))[:110])
        if self._conn._pipeline is None:
            COUNTS["round_trips"] += 1
        if PROFILE is None:
            return super().execute(query, params, **kwargs)
        text = str(query if isinstance(query, str) else query.as_string(self))
        pid = self._conn.info.backend_pid
        before = on_cpu_ns(pid)
        out = super().execute(query, params, **kwargs)  # no pipeline: the answer is in
        entry = PROFILE.setdefault(" ".join(text.split())[:100], [0, 0.0])
        entry[0] += 1
        entry[1] += on_cpu_ns(pid) - before
        return out

    def _fetch_pipeline(self) -> None:
        if self._execmany_returning is not False and not self.pgresult and self._conn._pipeline:
            COUNTS["round_trips"] += 1  # a pipeline flushed to read this statement's answer
        super()._fetch_pipeline()

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:  # type: ignore[override]
        params_seq = list(params_seq)
        COUNTS["statements"] += len(params_seq)  # sent in a pipeline: its exit counts the trip
        super().executemany(query, params_seq, **kwargs)


def hook() -> None:
    """Every connection the store's pool opens counts through ``CountingCursor``."""
    from psycopg import Pipeline

    from connector.store.postgres import PostgresStore

    configure = PostgresStore._configure

    def counting(self: Any, conn: psycopg.Connection[Any]) -> None:
        configure(self, conn)
        conn.cursor_factory = CountingCursor

    PostgresStore._configure = counting  # type: ignore[method-assign]
    sync = Pipeline.sync

    def counted_sync(self: Any) -> None:
        COUNTS["round_trips"] += 1
        sync(self)

    Pipeline.sync = counted_sync  # type: ignore[method-assign]
    exit_ = Pipeline.__exit__

    def counted_exit(self: Any, *exc: Any) -> None:
        if self.level == 1:  # the outermost block syncs once more when it ends
            COUNTS["round_trips"] += 1
        exit_(self, *exc)

    Pipeline.__exit__ = counted_exit  # type: ignore[method-assign]


def main() -> None:
    global TRACE, PROFILE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="postgresql://… (a fresh schema of it)")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--length", type=int, default=6)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="without pipelines, the database CPU of each statement (/proc/<pid>/schedstat)",
    )
    parser.add_argument(
        "--trace", action="store_true", help="print the statements of one escalation and delivery"
    )
    args = parser.parse_args()
    hook()
    if args.profile:
        # every statement on its own, so its backend's CPU before and after is its own
        psycopg.Connection.pipeline = lambda self: contextlib.nullcontext()  # type: ignore[assignment,method-assign,return-value]

    from connector import service
    from connector.config import load_config
    from connector.delivery import Worker
    from connector.runtime import build_runtime
    from connector.schemas import Event

    tmp = Path(tempfile.mkdtemp(prefix="handoff-pgstmt-"))
    fresh = Fresh("postgresql", args.store, tmp, 0)
    fresh.store().close()  # migrated
    config = tmp / "config.json"
    config.write_text(
        json.dumps(
            {
                "store": {"url": fresh.url},
                "sources": {"bench": {"secret": "bench-secret-123"}},
                "logging": {"level": "WARNING"},
            }
        )
    )
    runtime = build_runtime(load_config(config, env={}))
    worker = Worker(runtime, concurrency=1)
    figures: dict[str, dict[str, float]] = {}
    traced: list[str] = []
    if args.profile:
        PROFILE = {}
    try:
        # warm up: the pool's connections are opened, and the backends' caches filled
        for i in range(args.length * 3):
            body = json.loads(make_conversation_body(9, i, args.length))
            service.ingest_event(runtime, "bench", Event.model_validate(body))
        while worker.run_once() is not None:
            pass
        for kind in ("stays with the bot", "escalates", "delivery (per escalation)"):
            figures[kind] = {
                "events": 0,
                "statements": 0,
                "round_trips": 0,
                "commit": 0,
                "begin": 0,
                "cpu": 0.0,
                "client": 0.0,
            }
        for c in range(args.conversations):
            for turn in range(args.length):
                i = c * args.length + turn
                body = json.loads(make_conversation_body(1, i, args.length))
                kind = "escalates" if turn == args.length - 1 else "stays with the bot"
                TRACE = [] if args.trace and c == args.conversations - 1 else None
                _measure(figures[kind], fresh, lambda b=body: _ingest(runtime, service, Event, b))
                if TRACE is not None:
                    traced.extend([f"-- event {turn} ({kind})", *TRACE])
            TRACE = [] if args.trace and c == args.conversations - 1 else None
            _measure(figures["delivery (per escalation)"], fresh, lambda: _drain(worker))
            if TRACE is not None:
                traced.extend(["-- delivery", *TRACE])
    finally:
        runtime.close()
        fresh.drop()
    if args.trace:
        print("\n".join(traced))
    if PROFILE is not None:
        events = sum(f["events"] for k, f in figures.items() if not k.startswith("delivery"))
        print(f"# database CPU per statement, all {events} events (µs per event; count; µs each)")
        for text, (count, ns) in sorted(PROFILE.items(), key=lambda kv: -kv[1][1])[:25]:
            print(f"{ns / 1000 / events:8.1f} {count:7d} {ns / 1000 / count:7.1f}  {text}")
    print(
        f"# PostgreSQL statements per event: {args.conversations} conversations of "
        f"{args.length} events, in process, one connection at a time"
    )
    print(
        f"{'':<28}{'statements':>12}{'round trips':>13}{'COMMITs':>9}{'BEGINs':>8}"
        f"{'db CPU ms':>11}{'this process ms':>17}"
    )
    for kind, f in figures.items():
        n = max(1, f["events"])
        print(
            f"{kind:<28}{f['statements'] / n:>12.1f}{f['round_trips'] / n:>13.1f}"
            f"{f['commit'] / n:>9.2f}{f['begin'] / n:>8.2f}"
            f"{1000 * f['cpu'] / n:>11.3f}{1000 * f['client'] / n:>17.3f}"
        )
    total = figures["stays with the bot"]
    esc = figures["escalates"]
    dlv = figures["delivery (per escalation)"]
    events = total["events"] + esc["events"]
    print(
        f"mean per event (ingest + delivery): "
        f"{(total['statements'] + esc['statements'] + dlv['statements']) / events:.1f} statements, "
        f"{(total['round_trips'] + esc['round_trips'] + dlv['round_trips']) / events:.1f} round trips, "
        f"{(total['commit'] + esc['commit'] + dlv['commit']) / events:.2f} COMMITs, "
        f"{1000 * (total['cpu'] + esc['cpu'] + dlv['cpu']) / events:.3f} ms database CPU, "
        f"{1000 * (total['client'] + esc['client'] + dlv['client']) / events:.3f} ms in this process"
    )


def _ingest(runtime: Any, service: Any, event_cls: Any, body: dict[str, Any]) -> None:
    service.ingest_event(runtime, "bench", event_cls.model_validate(body))


def _drain(worker: Any) -> None:
    while worker.run_once() is not None:
        pass


def _measure(into: dict[str, float], fresh: Any, work: Any) -> None:
    pids = backends(fresh.pg_url, fresh.app)
    before, cpu0 = dict(COUNTS), {pid: on_cpu_ns(pid) for pid in pids}
    client0 = time.process_time()
    work()
    into["client"] += time.process_time() - client0
    pids = backends(fresh.pg_url, fresh.app)
    into["cpu"] += sum(on_cpu_ns(pid) - cpu0.get(pid, 0) for pid in pids) / 1e9
    into["events"] += 1
    into["statements"] += COUNTS["statements"] - before.get("statements", 0)
    into["round_trips"] += COUNTS["round_trips"] - before.get("round_trips", 0)
    for counted in ("commit", "begin"):
        into[counted] += COUNTS[counted] - before.get(counted, 0)


if __name__ == "__main__":
    main()
