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


# The period's sums of the KPI rows (``kpis.sums``), in the database: one statement, one row of
# JSON. The percentiles it takes here are medians (percentile_cont(0.5): the same interpolation
# as ``kpis.percentile``, exactly, as 0.5 is); the p90 is taken from the sorted values it returns.
_PERIOD = (
    "WITH k AS (SELECT * FROM handoff_kpis WHERE created_at >= %(since)s AND created_at < %(until)s"
    " AND (%(team)s::text IS NULL OR team = %(team)s)"
    " AND (%(source)s::text IS NULL OR source = %(source)s))"
)
_MEDIAN = "percentile_cont(0.5) WITHIN GROUP (ORDER BY {0})"
SUM_KPIS = (
    _PERIOD + " SELECT (SELECT row_to_json(t) FROM (SELECT count(*) AS handoffs,"
    " count(csat_score) AS csat_responses, COALESCE(sum(csat_score), 0) AS csat_sum,"
    " max(csat_scale) AS csat_scale,"
    " COALESCE(array_agg(first_response_seconds ORDER BY first_response_seconds)"
    " FILTER (WHERE first_response_seconds IS NOT NULL), '{}') AS first_response,"
    f" {_MEDIAN.format('bot_seconds')} AS bot_p50, {_MEDIAN.format('human_seconds')} AS human_p50,"
    " count(bot_seconds) AS bot_count, count(human_seconds) AS human_count,"
    " COALESCE(sum(has_draft), 0) AS with_draft,"
    " COALESCE(sum(has_draft * draft_used), 0) AS drafts_used,"
    " COALESCE(sum(drafts_sent), 0) AS drafts_sent,"
    " COALESCE(sum(drafts_sent_unedited), 0) AS drafts_sent_unedited,"
    " COALESCE(sum(repeat_observed), 0) AS repeat_observed,"
    " COALESCE(sum(repeat_context), 0) AS repeat_context,"
    " COALESCE(sum(customer_restates), 0) AS customer_restates,"
    " COALESCE(sum(timed_out), 0) AS timed_out, COALESCE(sum(anomalies), 0) AS anomalies"
    " FROM k) t) AS totals,"
    " (SELECT json_agg(json_build_array(team, n, active, reassigned)) FROM (SELECT team,"
    " count(*) AS n, sum(agent_active) AS active, sum(reassigned) AS reassigned FROM k"
    " GROUP BY team) t) AS teams,"
    " (SELECT json_object_agg(g, p) FROM (SELECT COALESCE(NULLIF(team, ''), '-') AS g,"
    f" {_MEDIAN.format('first_response_seconds')} AS p FROM k"
    " WHERE first_response_seconds IS NOT NULL GROUP BY 1) t) AS first_by_team,"
    " (SELECT json_agg(json_build_array(day, r, n)) FROM (SELECT day,"
    " split_part(COALESCE(NULLIF(reasons, ''), 'unknown'), ',', 1) AS r, count(*) AS n FROM k"
    " GROUP BY 1, 2) t) AS per_day,"
    " (SELECT json_object_agg(r, n) FROM (SELECT r, count(*) AS n FROM k,"
    " unnest(string_to_array(COALESCE(NULLIF(reasons, ''), 'unknown'), ',')) AS r GROUP BY r) t)"
    " AS reasons,"
    " (SELECT json_object_agg(a, n) FROM (SELECT a, count(*) AS n FROM k,"
    " unnest(string_to_array(agent_asks, ',')) AS a WHERE a <> '' GROUP BY a) t) AS asks,"
    " (SELECT json_agg(json_build_array(intent, n)) FROM (SELECT intent, count(*) AS n FROM k"
    " GROUP BY intent) t) AS intents"
)


def sum_kpis(
    conn: psycopg.Connection[Any],
    since: str,
    until: str,
    team: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """``kpis.sums`` of the period's KPI rows, summed by the database."""
    found = conn.execute(
        SUM_KPIS, {"since": since, "until": until, "team": team, "source": source}
    ).fetchone()
    assert found is not None
    per_day: dict[str, dict[str, int]] = {}
    for day, reason, n in found["per_day"] or []:
        per_day.setdefault(day, {})[reason] = n
    teams = found["teams"] or []
    return {
        **found["totals"],
        "by_team": {t: n for t, n, _, _ in teams},
        "active_by_team": {t: active for t, _, active, _ in teams},
        "reassigned_by_team": {t: reassigned for t, _, _, reassigned in teams},
        "first_p50_by_team": found["first_by_team"] or {},
        "per_day": per_day,
        "reasons": found["reasons"] or {},
        "agent_asks": found["asks"] or {},
        "intents": {intent: n for intent, n in found["intents"] or []},
    }
