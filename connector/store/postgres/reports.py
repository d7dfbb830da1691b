"""The PostgreSQL queries behind the KPI report; ``connector/kpis.py`` does the maths.

The report reads ``handoff_kpis`` (one row per handoff, kept current by ``tx_reports.py``);
``report_data`` is the slow path over the raw tables, which back-fills it (migration 006).


The same rows as the SQLite store's ``reports.py``, selected and narrowed in SQL: the handoff scan
reads the plain columns copied out of the payload on insert, facts and draft events are joined to
the period's handoffs in the database, and payloads are read only for handoffs with later messages.
"""

from __future__ import annotations

from typing import Any

import psycopg

from connector import kpis

HANDOFFS = """
SELECT h.id, h.conversation_id, h.created_at, h.team, h.status, h.priority, h.source,
       h.claimed_by, h.intent, h.triggers, h.has_draft,
       h.handback::jsonb ->> 'at' AS handback_at,
       h.handback::jsonb ->> 'actor' AS handback_actor,
       c.created_at AS conversation_created_at,
       (SELECT MIN(m.at) FROM messages m WHERE m.conversation_id = h.conversation_id
         AND m.seq <= h.transcript_turns AND m.at IS NOT NULL AND m.at != '') AS first_message_at,
       (SELECT MAX(m.at) FROM messages m WHERE m.conversation_id = h.conversation_id
         AND m.seq <= h.transcript_turns AND m.at IS NOT NULL AND m.at != '') AS last_turn_at
FROM handoffs h LEFT JOIN conversations c ON c.id = h.conversation_id
WHERE h.created_at >= %(since)s AND h.created_at < %(until)s
"""

FACTS = """
SELECT f.handoff_id, f.kind, f.at, f.data::jsonb AS d
FROM handoff_facts f JOIN handoffs h ON h.id = f.handoff_id
WHERE h.created_at >= %(since)s AND h.created_at < %(until)s ORDER BY f.id
"""
FACT_FIELDS = ("seconds", "clock_skew_seconds", "from_team", "score", "scale")

POST_MESSAGES = """
SELECT h.id AS handoff_id, m.role, m.text, m.at, m.seq FROM handoffs h
JOIN messages m ON m.conversation_id = h.conversation_id AND m.seq > h.transcript_turns
WHERE h.created_at >= %(since)s AND h.created_at < %(until)s AND m.role IN ('agent', 'customer')
ORDER BY h.id, m.seq
"""

PAYLOAD_FACTS = """
SELECT id, payload::jsonb -> 'customer' AS customer, payload::jsonb -> 'transcript' -> 'turns' AS turns
FROM handoffs WHERE id = ANY(%(ids)s)
"""

DRAFTS = """
SELECT d.handoff_id, d.action FROM draft_events d JOIN handoffs h ON h.id = d.handoff_id
WHERE h.created_at >= %(since)s AND h.created_at < %(until)s ORDER BY d.id
"""


def report_data(
    conn: psycopg.Connection[Any], since: str, until: str, team: str | None = None
) -> dict[str, Any]:
    window = {"since": since, "until": until}
    handoffs = [
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
        for r in conn.execute(HANDOFFS, window)
    ]
    counted = conn.execute(
        "SELECT COUNT(*) AS n FROM conversations WHERE created_at >= %(since)s"
        " AND created_at < %(until)s",
        window,
    ).fetchone()
    facts = [
        {
            "handoff_id": r["handoff_id"],
            "kind": r["kind"],
            "at": r["at"],
            "data": {
                k: (r["d"] or {}).get(k) for k in FACT_FIELDS if (r["d"] or {}).get(k) is not None
            },
        }
        for r in conn.execute(FACTS, window)
    ]
    post = [dict(r) for r in conn.execute(POST_MESSAGES, window)]
    known: dict[str, dict[str, Any]] = {}
    ids = sorted({m["handoff_id"] for m in post})
    if ids:
        for r in conn.execute(PAYLOAD_FACTS, {"ids": ids}):
            turns = r["turns"] or []
            known[r["id"]] = {
                "customer": r["customer"] or {},
                "customer_texts": [t.get("text", "") for t in turns if t.get("role") == "customer"],
            }
    drafts = {
        "available": True,
        "events": [
            {"handoff_id": r["handoff_id"], "action": r["action"]}
            for r in conn.execute(DRAFTS, window)
        ],
    }
    return {
        "since": since,
        "until": until,
        "team": team,
        "conversations": int(counted["n"]) if counted else 0,
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
    f"INSERT INTO handoff_kpis ({KPI_COLUMNS}) VALUES ({', '.join('%s' for _ in kpis.ROW_FIELDS)})"
    " ON CONFLICT (handoff_id) DO UPDATE SET "
    + ", ".join(f"{f}=excluded.{f}" for f in kpis.ROW_FIELDS if f != "handoff_id")
)
LIST_KPIS = f"SELECT {', '.join(kpis.LIST_FIELDS)} FROM handoff_kpis WHERE created_at >= %s AND created_at < %s"  # no ORDER BY: no KPI needs an order


def put_kpi_rows(conn: psycopg.Connection[Any], rows: list[dict[str, Any]]) -> None:
    if rows:
        with conn.cursor() as cur:
            cur.executemany(PUT_KPIS, [tuple(r[f] for f in kpis.ROW_FIELDS) for r in rows])


def backfill_kpis(conn: psycopg.Connection[Any]) -> int:
    """Write the KPI row of every stored handoff from the raw tables (the slow path); return how many."""
    rows = kpis.rows_from_data(report_data(conn, *ALL_TIME))
    put_kpi_rows(conn, rows)
    return len(rows)
