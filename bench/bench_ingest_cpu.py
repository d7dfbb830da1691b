"""Ingest cost: server CPU per event against a bare endpoint, write-lock hold time, two processes.

Three measurements, each printed beside its baseline from the same run:

1. **Server CPU per event** (user + system time of the server process from ``/proc/<pid>/stat``,
   divided by the events it answered), for the bare Flask endpoint of ``bench_ingest.py`` (parses
   the JSON, nothing else: this machine's floor) and for ``handoff serve --no-worker`` (the request
   path alone), on three workloads: conversation events (one in six escalates), new conversations
   of which 2 in 5 escalate, and all-escalating. CPU time, unlike throughput, does not move with
   what else the shared machine is doing. With ``--model both`` the connector runs twice, with the
   learned signal (``policy.model``) on and off.
2. **Write-lock hold time per event**, in process: every ``store.atomic()`` an event opens is timed,
   in wall time and in the CPU time of the thread holding it (the work done under the lock; on a
   busy machine the wall time adds the time the holder waited for a core).
   The read → decide → write walk (today) against the same walk forced to hold the lock from its
   read to its write (``service.RACE_RETRIES = 0``: how every event was written before).
3. **Two ``handoff serve`` processes on one SQLite file** against one, same clients, same seconds.

With ``--rounds N`` every server of section 1 is measured N times, in alternating order, and the
medians are printed with every run: on a shared VM one run of a few seconds moves by a fifth
either way. ``--baseline`` adds another build's ``handoff`` (an older checkout's
``.venv/bin/handoff``) to the same rounds, for a before-and-after in one run.

Prints figures; asserts nothing. Usage: python bench/bench_ingest_cpu.py [--seconds 6] [--clients 4]
[--lock-events 600] [--model on|off|both] [--rounds 1] [--baseline PATH/TO/handoff]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_ingest  # noqa: E402
from bench_ingest import BARE_APP, SECRET, free_port, load, wait_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15 of stat)


def make_new_conversation_body(worker: int, i: int) -> bytes:
    """Every event a new conversation; 2 in 5 ask for a person, the others ask a question."""
    cid = f"new-{worker}-{i}-{os.getpid()}"
    escalates = i % 5 < 2
    text = (
        f"This is useless, I want to talk to a real person about order {worker}{i:05d}"
        if escalates
        else f"What are your opening hours on day {i % 7} for store {worker}{i:05d}?"
    )
    return json.dumps(
        {
            "id": f"evt-{cid}",
            "type": "conversation.updated",
            "occurred_at": datetime.now(UTC).isoformat(),
            "conversation": {"id": cid, "channel": "web", "language": "en"},
            "customer": {"id": f"cus-{i % 500}", "name": "Bench Customer"},
            "messages": [
                {"id": "m1", "role": "customer", "text": text},
                {"id": "m2", "role": "bot", "text": f"Let me check that for you ({i})."},
            ],
        }
    ).encode()


WORKLOADS = {  # label -> (length for bench_ingest.load, body maker override or None)
    "conversation events (1 in 6 escalates)": (6, None),
    "new conversations (2 in 5 escalate)": (1, make_new_conversation_body),
    "all-escalating": (1, None),
}


@contextmanager
def body_maker(maker):  # type: ignore[no-untyped-def]
    """Let ``bench_ingest.load``'s clients build this workload's bodies (forked processes inherit it)."""
    original = bench_ingest.make_body
    if maker is not None:
        bench_ingest.make_body = maker
    try:
        yield
    finally:
        bench_ingest.make_body = original


def measure(port: int, pids: list[int], clients: int, seconds: float, length: int, maker) -> dict:  # type: ignore[no-untyped-def]
    before = sum(cpu_seconds(p) for p in pids)
    with body_maker(maker):
        result = load(port, clients, seconds, length=length)
    used = sum(cpu_seconds(p) for p in pids) - before
    answered = result["requests"] - result["errors"]
    return {**result, "cpu_ms_per_event": 1000 * used / max(1, answered)}


def serve(
    tmp: Path, db: Path, threads: int, model: bool, handoff: str | None = None
) -> tuple[subprocess.Popen, int]:
    """``handoff serve --no-worker`` on ``db``: this checkout's, or the ``handoff`` given."""
    port = free_port()
    config = tmp / f"config-{port}.yaml"
    config.write_text(
        json.dumps(
            {
                "server": {"port": port, "threads": threads},
                "store": {"path": str(db)},
                "sources": {"bench": {"secret": SECRET}},
                "logging": {"level": "WARNING"},
                "policy": {"model": {"enabled": model}},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    handoff = handoff or str(Path(sys.executable).parent / "handoff")
    proc = subprocess.Popen(
        [handoff, "serve", "--no-worker", "--config", str(config)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, proc)
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait()


def lock_hold(events: int, locked: bool, model: bool) -> dict:
    """Mean and p99 of the time each event holds the store's write transaction, in process."""
    from connector import service
    from connector.config import load_config
    from connector.runtime import build_runtime
    from connector.schemas import Event

    tmp = Path(tempfile.mkdtemp(prefix="handoff-lock-"))
    path = tmp / "config.yaml"
    path.write_text(
        json.dumps(
            {
                "store": {"path": str(tmp / "lock.db")},
                "sources": {"bench": {"secret": SECRET}},
                "policy": {"model": {"enabled": model}},
            }
        )
    )
    runtime = build_runtime(load_config(path, env={}))
    held: list[tuple[float, float]] = []
    real_atomic = runtime.store.atomic

    @contextmanager
    def timed():  # type: ignore[no-untyped-def]
        start, cpu = time.perf_counter(), time.thread_time()
        with real_atomic() as tx:
            yield tx
        held.append((time.perf_counter() - start, time.thread_time() - cpu))

    runtime.store.atomic = timed  # type: ignore[method-assign]
    saved = service.RACE_RETRIES
    service.RACE_RETRIES = 0 if locked else saved
    wall: list[float] = []
    cpu: list[float] = []
    try:
        for i in range(events):
            body = json.loads(bench_ingest.make_conversation_body(0, i, 6))
            held.clear()
            service.ingest_event(runtime, "bench", Event.model_validate(body))
            wall.append(sum(w for w, _ in held))
            cpu.append(sum(c for _, c in held))
    finally:
        service.RACE_RETRIES = saved
        runtime.close()
    result = {}
    # past the warm-up (imports, first model load); the thread's CPU time while it held the lock
    # is the work done under it, the wall time adds any time the thread was not running
    for name, times in (("", wall), ("cpu_", cpu)):
        times = sorted(times[events // 10 :])
        result[f"{name}mean_ms"] = 1000 * statistics.fmean(times)
        result[f"{name}p50_ms"] = 1000 * statistics.median(times)
        result[f"{name}p99_ms"] = 1000 * times[int(0.99 * (len(times) - 1))]
    return result


def _measure_server(
    server: str, args: argparse.Namespace, tmp: Path, tag: str, length, maker
) -> dict:  # type: ignore[no-untyped-def]
    """One measurement of one server (``bare``, ``connector, model on|off``, ``baseline, …``)."""
    if server == "bare":
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port), str(args.threads)])
        wait_port(port, proc)
    else:
        kind, model = server.split(", model ")
        handoff = args.baseline if kind == "baseline" else None
        proc, port = serve(
            tmp, tmp / f"{kind}-{model}-{tag}.db", args.threads, model == "on", handoff
        )
    try:
        return measure(port, [proc.pid], args.clients, args.seconds, length, maker)
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--lock-events", type=int, default=600)
    parser.add_argument(
        "--model",
        choices=("on", "off", "both"),
        default="both",
        help="the learned signal in the connector runs",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every server this many times, in alternating order, and print the medians",
    )
    parser.add_argument(
        "--baseline",
        metavar="HANDOFF",
        help="another build's `handoff` (e.g. ../old/.venv/bin/handoff), measured in the same rounds",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="handoff-bench-cpu-"))
    models = {"on": [True], "off": [False], "both": [False, True]}[args.model]
    servers = ["bare"] + [f"connector, model {'on' if m else 'off'}" for m in models]
    if args.baseline:
        servers += [f"baseline, model {'on' if m else 'off'}" for m in models]
    runs: dict[tuple[str, str], list[dict]] = {}
    for round_no in range(args.rounds):
        # alternating order: a machine that slows down during the run weighs on every server
        order = servers if round_no % 2 == 0 else servers[::-1]
        for n, (label, (length, maker)) in enumerate(WORKLOADS.items()):
            for server in order:
                runs.setdefault((label, server), []).append(
                    _measure_server(server, args, tmp, f"{round_no}-{n}", length, maker)
                )

    print(
        f"# ingest cost: {args.clients} clients, {args.threads} server threads, {args.seconds:.0f} s "
        f"per run, {args.rounds} round(s), {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    print(
        "\n## 1. server CPU per event (from /proc), same run"
        + (", medians" if args.rounds > 1 else "")
    )
    for server in servers:
        for label in WORKLOADS:
            done = runs[(label, server)]
            cpu = statistics.median(r["cpu_ms_per_event"] for r in done)
            bare = statistics.median(r["cpu_ms_per_event"] for r in runs[(label, "bare")])
            every = (
                "  runs " + " ".join(f"{r['cpu_ms_per_event']:.3f}" for r in done)
                if args.rounds > 1
                else ""
            )
            print(
                f"{label:<42} {server:<22} {cpu:6.3f} ms/event  {cpu / bare:5.2f}× bare  "
                f"({statistics.median(r['rps'] for r in done):.0f} ev/s, "
                f"p99 {statistics.median(r['p99_ms'] for r in done):.1f} ms, "
                f"errors {sum(r['errors'] for r in done)}){every}"
            )

    print("\n## 2. write transaction held per conversation event (in process)")
    for model in models:
        for locked in (True, False):
            walk = "lock held read → write (before)" if locked else "read → decide → write (now)"
            r = lock_hold(args.lock_events, locked, model)
            print(
                f"model {'on ' if model else 'off'}  {walk:<34} mean {r['mean_ms']:.3f} ms  "
                f"p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  | thread CPU while held: "
                f"mean {r['cpu_mean_ms']:.3f} ms  p50 {r['cpu_p50_ms']:.3f} ms  "
                f"p99 {r['cpu_p99_ms']:.3f} ms"
            )

    print("\n## 3. one or two `handoff serve` processes on one SQLite file (conversation events)")
    length, maker = WORKLOADS["conversation events (1 in 6 escalates)"]
    db = tmp / "shared.db"
    first, port1 = serve(tmp, db, args.threads, models[0])
    try:
        with body_maker(maker):
            one = load(port1, args.clients, args.seconds, length=length)
        second, port2 = serve(tmp, db, args.threads, models[0])
        try:
            half = max(1, args.clients // 2)
            with (
                body_maker(maker),
                ThreadPoolExecutor(2) as pool,
            ):  # both at once, half the clients each
                a, b = pool.map(
                    lambda port: load(port, half, args.seconds, length=length), (port1, port2)
                )
        finally:
            stop(second)
    finally:
        stop(first)
    print(f"one process:   {one['rps']:.0f} ev/s (p99 {one['p99_ms']:.1f} ms)")
    print(
        f"two processes: {a['rps'] + b['rps']:.0f} ev/s together ({a['rps']:.0f} + {b['rps']:.0f}; "
        f"p99 {max(a['p99_ms'], b['p99_ms']):.1f} ms)"
    )


if __name__ == "__main__":
    main()
