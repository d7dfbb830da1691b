"""The PostgreSQL queries behind the KPI report (``Tx.report_data``); ``connector/kpis.py`` does the maths.

The same rows as the SQLite store's ``reports.py``, selected and narrowed in SQL: the handoff scan
reads the plain columns copied out of the payload on insert, facts and draft events are joined to
the period's handoffs in the database, and payloads are read only for handoffs with later messages.
"""

from __future__ import annotations

from typing import Any

import psycopg

HANDOFFS = """
SELECT h.id, h.conversation_id, h.created_at, h.team, h.status, h.priority,
       h.intent, h.triggers, h.has_draft,
       h.handback::jsonb ->> 'at' AS handback_at,
       h.handback::jsonb ->> 'actor' AS handback_actor,
       c.created_at AS conversation_created_at
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


def report_data(conn: psycopg.Connection[Any], since: str, until: str,
                team: str | None = None) -> dict[str, Any]:
    window = {"since": since, "until": until}
    handoffs = [
        {
            "id": r["id"], "conversation_id": r["conversation_id"], "created_at": r["created_at"],
            "team": r["team"], "status": r["status"], "priority": r["priority"], "intent": r["intent"],
            "reasons": r["triggers"].split(",") if r["triggers"] else [],
            "has_draft": bool(r["has_draft"]), "handback_at": r["handback_at"],
            "handback_actor": r["handback_actor"], "conversation_created_at": r["conversation_created_at"],
        }
        for r in conn.execute(HANDOFFS, window)
    ]
    counted = conn.execute("SELECT COUNT(*) AS n FROM conversations WHERE created_at >= %(since)s"
                           " AND created_at < %(until)s", window).fetchone()
    facts = [
        {"handoff_id": r["handoff_id"], "kind": r["kind"], "at": r["at"],
         "data": {k: (r["d"] or {}).get(k) for k in FACT_FIELDS if (r["d"] or {}).get(k) is not None}}
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
    drafts = {"available": True,
              "events": [{"handoff_id": r["handoff_id"], "action": r["action"]} for r in conn.execute(DRAFTS, window)]}
    return {
        "since": since, "until": until, "team": team,
        "conversations": int(counted["n"]) if counted else 0,
        "handoffs": handoffs, "facts": facts, "post_messages": post, "known": known, "drafts": drafts,
    }
