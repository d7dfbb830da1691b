"""The SQLite queries behind the KPI report; ``connector/kpis.py`` does the maths.

The report reads ``handoff_kpis`` (one narrow row per handoff, kept current by the write verbs in
``tx.py``). ``report_data`` is the slow path over the raw tables: it back-fills ``handoff_kpis``
(migration 014_handoff_kpis) and proves the rows right in the tests.

Only narrow columns leave the database, and the handoff scan reads plain columns copied out of
the payload on insert, so a report over 100,000 handoffs parses no payloads. Payloads are read in full only for
the handoffs that have messages after the handoff (the repeat-context check needs them).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from connector import kpis

# intent, triggers, has_draft and transcript_turns are copied out of the payload on insert
# (migration 011), so this scan never parses a payload.
HANDOFFS = """
SELECT h.id, h.conversation_id, h.created_at, h.team, h.status, h.priority, h.source,
       h.claimed_by, h.intent, h.triggers, h.has_draft,
       json_extract(h.handback, '$.at') AS handback_at,
       json_extract(h.handback, '$.actor') AS handback_actor,
       c.created_at AS conversation_created_at,
       (SELECT MIN(m.at) FROM messages m WHERE m.conversation_id = h.conversation_id
         AND m.seq <= h.transcript_turns AND m.at IS NOT NULL AND m.at != '') AS first_message_at,
       (SELECT MAX(m.at) FROM messages m WHERE m.conversation_id = h.conversation_id
         AND m.seq <= h.transcript_turns AND m.at IS NOT NULL AND m.at != '') AS last_turn_at
FROM handoffs h LEFT JOIN conversations c ON c.id = h.conversation_id
WHERE h.created_at >= ? AND h.created_at < ?
"""

# Facts come after their handoff opened, so reading them by time (with a day's slack for clocks)
# and keeping those of the period's handoffs is one short scan instead of 100,000 lookups.
FACTS = """
SELECT handoff_id, kind, at, json_extract(data, '$.seconds'), json_extract(data, '$.clock_skew_seconds'),
       json_extract(data, '$.from_team'), json_extract(data, '$.score'), json_extract(data, '$.scale')
FROM handoff_facts WHERE at >= ? ORDER BY id
"""
FACT_FIELDS = ("seconds", "clock_skew_seconds", "from_team", "score", "scale")

# Messages after the handoff: the transcript holds every turn up to the handoff, so later seqs.
POST_MESSAGES = """
SELECT h.id AS handoff_id, m.role, m.text, m.at, m.seq FROM handoffs h
JOIN messages m ON m.conversation_id = h.conversation_id
 AND m.seq > h.transcript_turns
WHERE h.created_at >= ? AND h.created_at < ? AND m.role IN ('agent', 'customer')
"""

PAYLOAD_FACTS = """
SELECT id, json_extract(payload, '$.customer', '$.transcript.turns') AS picked
FROM handoffs WHERE id IN (SELECT value FROM json_each(?))
"""


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def report_data(
    conn: sqlite3.Connection, since: str, until: str, team: str | None = None
) -> dict[str, Any]:
    window = (since, until)
    handoffs = []
    for r in conn.execute(HANDOFFS, window):
        handoffs.append(
            {
                "id": r["id"],
                "conversation_id": r["conversation_id"],
                "created_at": r["created_at"],
                "team": r["team"],
                "status": r["status"],
                "priority": r["priority"],
                "intent": r["intent"],
                "reasons": r["triggers"].split(",") if r["triggers"] else [],
                "has_draft": bool(r["has_draft"]),
                "handback_at": r["handback_at"],
                "handback_actor": r["handback_actor"],
                "conversation_created_at": r["conversation_created_at"],
                "source": r["source"],
                "claimed_by": r["claimed_by"],
                "first_message_at": r["first_message_at"],
                "last_turn_at": r["last_turn_at"],
            }
        )
    conversations = conn.execute(
        "SELECT COUNT(*) FROM conversations WHERE created_at >= ? AND created_at < ?", window
    ).fetchone()[0]
    ids_in_period = {h["id"] for h in handoffs}
    slack = (datetime.fromisoformat(since) - timedelta(days=1)).isoformat(timespec="microseconds")
    facts = [
        {
            "handoff_id": r[0],
            "kind": r[1],
            "at": r[2],
            "data": {k: v for k, v in zip(FACT_FIELDS, r[3:], strict=True) if v is not None},
        }
        for r in conn.execute(FACTS, (slack,))
        if r[0] in ids_in_period
    ]
    post = sorted(
        (dict(r) for r in conn.execute(POST_MESSAGES, window)),
        key=lambda m: (m["handoff_id"], m["seq"]),
    )
    known: dict[str, dict[str, Any]] = {}
    ids = sorted({m["handoff_id"] for m in post})
    for start in range(0, len(ids), 5000):
        chunk = json.dumps(ids[start : start + 5000])
        for r in conn.execute(PAYLOAD_FACTS, (chunk,)):
            customer, turns = json.loads(r["picked"])
            turns = turns or []
            known[r["id"]] = {
                "customer": customer or {},
                "customer_texts": [t.get("text", "") for t in turns if t.get("role") == "customer"],
            }
    drafts: dict[str, Any] = {"available": False, "events": []}
    if "draft_events" in _tables(conn):
        try:
            rows = conn.execute(
                "SELECT handoff_id, action FROM draft_events WHERE at >= ?", (slack,)
            )
            drafts = {
                "available": True,
                "events": [
                    {"handoff_id": r[0], "action": r[1]} for r in rows if r[0] in ids_in_period
                ],
            }
        except sqlite3.OperationalError as exc:  # their table, another shape: say so, count nothing
            drafts = {"available": False, "events": [], "error": str(exc)}
    return {
        "since": since,
        "until": until,
        "team": team,
        "conversations": conversations,
        "handoffs": handoffs,
        "facts": facts,
        "post_messages": post,
        "known": known,
        "drafts": drafts,
    }


# Every handoff, from the first day a store can hold to the last: the back-fill's period.
ALL_TIME = ("0001-01-02T00:00:00+00:00", "9999-12-31T00:00:00+00:00")
KPI_COLUMNS = ", ".join(kpis.ROW_FIELDS)
PUT_KPIS = (
    f"INSERT OR REPLACE INTO handoff_kpis ({KPI_COLUMNS})"
    f" VALUES ({', '.join('?' for _ in kpis.ROW_FIELDS)})"
)
LIST_KPIS = f"SELECT {', '.join(kpis.LIST_FIELDS)} FROM handoff_kpis WHERE created_at >= ? AND created_at < ?"  # no ORDER BY: sorting 100,000 rows would cost a third of the read, and no KPI needs an order


def put_kpi_rows(conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
    conn.executemany(PUT_KPIS, [tuple(r[f] for f in kpis.ROW_FIELDS) for r in rows])


def list_kpi_rows(conn: sqlite3.Connection, since: str, until: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples, in LIST_FIELDS order
    return cur.execute(LIST_KPIS, (since, until)).fetchall()


def backfill_kpis(conn: sqlite3.Connection) -> int:
    """Write the KPI row of every stored handoff from the raw tables (the slow path); return how many."""
    rows = kpis.rows_from_data(report_data(conn, *ALL_TIME))
    put_kpi_rows(conn, rows)
    return len(rows)
