"""Report benchmark: `handoff report --since 7d` over a store holding 100,000 handoffs.

Fills a fresh SQLite store (through the real migrations) with N handoffs spread over the last seven
days, each with a realistic ``handoff/v1`` payload (6-turn transcript, customer, reasons, draft),
its conversation and messages; 20 % with agent and customer messages after the handoff, 80 % with a
first response, 7 % reassigned, 10 % with a CSAT score; then back-fills the per-handoff KPI rows
the way migration 012 does for an existing store. Then times, three times each:

1. ``build_report`` (reads the KPI rows + sums them),
2. the baseline: ``build_report(from_raw=True)``, the slow path over the raw tables (once),
3. ``render_html`` (the page with its SVG charts),
4. the whole CLI, ``handoff report --since 7d --output report.html``, as a new process.

Prints figures; asserts nothing. ``--keep FILE`` fills FILE instead of a temporary store and
leaves it there, so anyone can rerun ``HANDOFF_DB=FILE handoff report --since 7d`` on it.
Usage: python bench/bench_report.py [--handoffs 100000] [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.report import build_report, kpi_table, render_html  # noqa: E402
from connector.store.sqlite import SqliteStore  # noqa: E402
from connector.store.sqlite.migrations import BACKFILL_REPORT_COLUMNS  # noqa: E402
from connector.store.sqlite.reports import backfill_kpis  # noqa: E402

TEAMS = ["general", "billing", "technical", "fraud", "retention", "sales"]
REASONS = [
    "human_request",
    "frustration",
    "low_confidence",
    "policy_topic",
    "customer_tag",
    "tool_failure",
    "repeated_failure",
    "bot_recommended",
]
INTENTS = [
    "billing.double_charge",
    "shipping.where_is_my_order",
    "account.login",
    "refund.request",
    "plan.cancel",
    "product.question",
    "fraud.report",
    "unknown",
]


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def fill(path: str, count: int, now: datetime, seed: int = 7) -> tuple[float, float]:
    """Fill a fresh store at ``path``; return (seconds filling the raw tables, seconds back-filling
    the KPI rows). The tests use it too, to compare the KPI rows with the slow path."""
    store = SqliteStore(path)
    store.migrate()
    conn = store._conn()  # noqa: SLF001 - a benchmark may write rows directly, it is not the API
    rng = random.Random(seed)
    started = time.perf_counter()
    conn.execute("BEGIN")
    conversations, handoffs, messages, facts, drafts = [], [], [], [], []
    for i in range(count):
        cid, hid = f"c{i}", f"ho_{i:08d}"
        opened = now - timedelta(seconds=rng.uniform(0, 7 * 86_400 - 3600))
        began = opened - timedelta(seconds=rng.uniform(30, 900))
        turns = [
            {
                "id": f"m{j}",
                "role": "customer" if j % 2 == 0 else "bot",
                "text": (
                    f"My order ORD-{10000 + i} has not arrived, it has been {j + 3} days"
                    if j % 2 == 0
                    else "Sorry about that, let me check the tracking for you."
                ),
                "at": iso(began + timedelta(seconds=20 * j)),
            }
            for j in range(6)
        ]
        reasons = rng.sample(REASONS, rng.choice([1, 1, 2]))
        payload = {
            "schema": "handoff/v1",
            "handoff_id": hid,
            "conversation_id": cid,
            "created_at": iso(opened),
            "summary": "Wants: a missing order. Tried: tracking lookup twice. Why: "
            + ", ".join(reasons),
            "transcript": {"turns": turns, "url": f"http://127.0.0.1:8080/inbox/{hid}"},
            "customer": {
                "id": f"cus{i % 40_000}",
                "name": "Customer Name",
                "email": f"c{i}@example.com",
                "tier": "gold",
                "tags": ["vip"] if i % 9 == 0 else [],
                "prior_handoffs": 0,
            },
            "intent": {"name": rng.choice(INTENTS), "confidence": 0.5, "source": "bot"},
            "escalation": {
                "reasons": [{"trigger": r, "rule": r, "detail": "…"} for r in reasons],
                "rules": reasons,
                "policy_version": "p1",
            },
            "draft_reply": "Hi, thanks for the details, I'm looking into your order now.",
            "routing": {"team": rng.choice(TEAMS), "priority": "normal"},
        }
        team = payload["routing"]["team"]
        first_response = rng.lognormvariate(5.5, 0.9) if rng.random() < 0.8 else None
        handback = None
        if first_response is not None and rng.random() < 0.75:
            done = opened + timedelta(seconds=first_response + rng.uniform(300, 3600))
            handback = {"actor": "agent", "note": "done", "at": iso(done)}
        conversations.append((cid, "demo", "bot", 3, iso(opened), iso(began), iso(opened)))
        handoffs.append(
            (
                hid,
                cid,
                "demo",
                "handed_back" if handback else "open",
                team,
                "normal",
                json.dumps(payload),
                f"cus{i % 40_000}",
                json.dumps(handback) if handback else None,
                iso(opened),
                iso(opened),
            )
        )
        for seq, turn in enumerate(turns, 1):
            messages.append((cid, turn["id"], seq, turn["role"], turn["text"], turn["at"], "{}"))
        if rng.random() < 0.2:
            messages.append(
                (cid, "a1", 7, "agent", "Hi! Could you confirm your order number?", None, "{}")
            )
            messages.append(
                (cid, "c9", 8, "customer", f"It's ORD-{10000 + i}, as I said", None, "{}")
            )
        if first_response is not None:
            facts.append(
                (
                    hid,
                    "first_response",
                    iso(opened + timedelta(seconds=first_response)),
                    json.dumps({"seconds": first_response, "via": "reply", "actor": "agent"}),
                )
            )
        if rng.random() < 0.6:
            drafts.append(
                (
                    hid,
                    rng.choice(["sent_unedited", "sent_edited", "copied", "discarded"]),
                    iso(opened),
                )
            )
        if rng.random() < 0.07:
            facts.append(
                (
                    hid,
                    "reassigned",
                    iso(opened),
                    json.dumps({"from_team": team, "to_team": "general"}),
                )
            )
        if rng.random() < 0.1:
            facts.append(
                (
                    hid,
                    "csat",
                    iso(opened),
                    json.dumps({"score": rng.choice([2, 3, 4, 5, 5]), "scale": 5}),
                )
            )
    conn.executemany(
        "INSERT INTO conversations (id, source, owner, version, owner_since, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?)",
        conversations,
    )
    conn.executemany(
        "INSERT INTO handoffs (id, conversation_id, source, status, team, priority, payload,"
        " customer_id, handback, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        handoffs,
    )
    conn.executemany(
        "INSERT INTO messages (conversation_id, id, seq, role, text, at, data) VALUES (?,?,?,?,?,?,?)",
        messages,
    )
    conn.executemany(
        "INSERT INTO handoff_facts (handoff_id, kind, at, data) VALUES (?,?,?,?)", facts
    )
    conn.executemany("INSERT INTO draft_events (handoff_id, action, at) VALUES (?,?,?)", drafts)
    # the columns insert_handoff derives from the payload, filled the way migration 011 does
    conn.execute(BACKFILL_REPORT_COLUMNS)
    filled = time.perf_counter() - started
    # the KPI rows, as migration 012 back-fills them for a store written before it
    backfill_kpis(conn)
    conn.execute("COMMIT")
    store.close()
    return filled, time.perf_counter() - started - filled


def timed(fn, runs: int = 3) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """(median wall seconds, median CPU seconds of this process, the last result)."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def refresh_cost(path: str, count: int = 2000) -> float:
    """Mean seconds of one ``refresh_handoff_kpis`` (what every write verb on a handoff adds)."""
    store = SqliteStore(path)
    with store.reading() as tx:
        ids = [r[0] for r in tx.conn.execute("SELECT id FROM handoffs LIMIT ?", (count,))]
    started = time.perf_counter()
    with store.atomic() as tx:
        for hid in ids:
            tx.refresh_handoff_kpis(hid)
    store.close()
    return (time.perf_counter() - started) / max(1, len(ids))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handoffs", type=int, default=100_000)
    parser.add_argument(
        "--keep", metavar="FILE", help="fill this new store file and leave it there"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="handoff-bench-report-"))
    path = str(folder / "handoff.db")
    if args.keep:
        if Path(args.keep).exists():
            parser.error(f"--keep {args.keep}: the file exists; name a new one")
        path = str(Path(args.keep).resolve())
    now = datetime.now(UTC)
    fill_seconds, backfill_seconds = fill(path, args.handoffs, now)
    size_mb = os.path.getsize(path) / 1e6
    print(
        f"filled {args.handoffs:,} handoffs in {fill_seconds:.1f} s ({size_mb:.0f} MB); "
        f"KPI rows back-filled in {backfill_seconds:.1f} s"
    )

    store = SqliteStore(path)
    start, end = now - timedelta(days=7), now + timedelta(seconds=1)
    build_s, build_cpu, report = timed(lambda: build_report(store, start, end))
    raw_s, _, raw = timed(lambda: build_report(store, start, end, from_raw=True), runs=1)
    html_s, _, page = timed(lambda: render_html(report))  # type: ignore[arg-type]
    store.close()
    same = raw == report
    print(kpi_table(report))  # type: ignore[arg-type]
    out = folder / "report.html"
    env = {**os.environ, "HANDOFF_DB": path}
    cli = [sys.executable, "-m", "connector.cli", "report", "--since", "7d", "--output", str(out)]
    if (ROOT / ".venv" / "bin" / "handoff").exists():
        cli = [
            str(ROOT / ".venv" / "bin" / "handoff"),
            "report",
            "--since",
            "7d",
            "--output",
            str(out),
        ]
    cli_s, _, _ = timed(lambda: subprocess.run(cli, env=env, check=True, capture_output=True))
    children = os.times()
    cli_cpu = (children.children_user + children.children_system) / 3
    print()
    print(f"build_report (KPI rows):        {build_s:.2f} s (median of 3; CPU {build_cpu:.2f} s)")
    print(f"baseline, from the raw tables:  {raw_s:.2f} s (once); same KPIs: {same}")
    print(f"render_html (SVG charts):      {html_s:.3f} s ({len(page) / 1e3:.0f} kB)")  # type: ignore[arg-type]
    print(
        f"handoff report CLI, end to end: {cli_s:.2f} s (new process, median of 3; "
        f"CPU {cli_cpu:.2f} s mean)"
    )
    print(f"one KPI row refresh (each write on a handoff): {refresh_cost(path) * 1e3:.2f} ms")
    print(f"load average during the run: {os.getloadavg()[0]:.1f}")
    if args.keep:
        print(f"store kept: HANDOFF_DB={path} handoff report --since 7d")


if __name__ == "__main__":
    main()
