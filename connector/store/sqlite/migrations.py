"""The SQLite schema as small, named migrations, applied once each and in order.

``apply`` runs the pending ones in one write transaction and records each name in
``_migrations``; a migration is never edited after it has shipped, only followed by a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import sqlite_utils
from sqlite_utils.db import Table


def _table(db: sqlite_utils.Database, name: str) -> Table:
    """``db[name]`` as a table (sqlite-utils types it as table-or-view; migrations only make tables)."""
    return db.table(name)


def _m001_initial(db: sqlite_utils.Database) -> None:
    _table(db, "events").create(
        {
            "source": str,
            "event_id": str,
            "conversation_id": str,
            "response": str,
            "received_at": str,
        },
        pk=("source", "event_id"),
    )
    _table(db, "conversations").create(
        {
            "id": str,
            "source": str,
            "owner": str,
            "version": int,
            "owner_since": str,
            "handoff_id": str,
            "channel": str,
            "language": str,
            "url": str,
            "customer": str,
            "bot": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"source", "owner", "version"},
    )
    _table(db, "messages").create(
        {
            "conversation_id": str,
            "id": str,
            "seq": int,
            "role": str,
            "text": str,
            "at": str,
            "data": str,
        },
        pk=("conversation_id", "id"),
    )
    _table(db, "messages").create_index(["conversation_id", "seq"], unique=True)
    _table(db, "handoffs").create(
        {
            "id": str,
            "conversation_id": str,
            "source": str,
            "status": str,
            "team": str,
            "priority": str,
            "payload": str,
            "customer_id": str,
            "claimed_by": str,
            "handback": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
    )
    _table(db, "handoffs").create_index(["status", "created_at"])
    _table(db, "handoffs").create_index(["conversation_id"])
    _table(db, "handoffs").create_index(["customer_id"])
    _table(db, "ticket_refs").create(
        {"handoff_id": str, "destination": str, "ref": str}, pk=("handoff_id", "destination")
    )
    _table(db, "outbox").create(
        {
            "id": int,
            "kind": str,
            "target": str,
            "handoff_id": str,
            "conversation_id": str,
            "idempotency_key": str,
            "body": str,
            "status": str,
            "attempts": int,
            "next_attempt_at": float,
            "claimed_by": str,
            "claim_expires_at": float,
            "last_error": str,
            "result": str,
            "created_at": float,
            "updated_at": float,
        },
        pk="id",
        not_null={"kind", "target", "idempotency_key", "status"},
    )
    _table(db, "outbox").create_index(["idempotency_key"], unique=True)
    _table(db, "outbox").create_index(["status", "next_attempt_at"])
    _table(db, "inbox").create(
        {"number": int, "handoff_id": str, "payload": str, "notes": str, "filed_at": str},
        pk="number",
    )
    _table(db, "inbox").create_index(["handoff_id"], unique=True)
    _table(db, "audit").create(
        {
            "id": int,
            "at": str,
            "action": str,
            "actor": str,
            "conversation_id": str,
            "handoff_id": str,
            "reason": str,
            "data": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="id",
    )
    _table(db, "audit").create_index(["conversation_id", "id"])


def _m005_timers(db: sqlite_utils.Database) -> None:
    """Response-window timers: one row per reminder step, fired once by a conditional update."""
    _table(db, "timers").create(
        {
            "id": int,
            "handoff_id": str,
            "conversation_id": str,
            "kind": str,
            "round": int,
            "step": int,
            "due_at": float,
            "status": str,
            "claimed_by": str,
            "fired_at": float,
            "data": str,
            "created_at": float,
            "updated_at": float,
        },
        pk="id",
        not_null={"handoff_id", "kind", "status", "due_at"},
    )
    _table(db, "timers").create_index(["handoff_id", "kind", "round", "step"], unique=True)
    _table(db, "timers").create_index(["status", "due_at"])


def _m006_handoff_facts(db: sqlite_utils.Database) -> None:
    """What happened to a handoff after it opened: first response, reassignment, CSAT (for KPIs)."""
    _table(db, "handoff_facts").create(
        {"id": int, "handoff_id": str, "kind": str, "at": str, "data": str},
        pk="id",
        not_null={"handoff_id", "kind", "at"},
    )
    _table(db, "handoff_facts").create_index(["handoff_id", "kind"])
    _table(db, "handoff_facts").create_index(["kind", "at"])
    _table(db, "handoffs").create_index(["created_at"])  # reports select handoffs by period


def _m010_draft_events(db: sqlite_utils.Database) -> None:
    """How agents used the bot's draft: copied, inserted, sent (edited or not), discarded."""
    _table(db, "draft_events").create(
        {
            "id": int,
            "handoff_id": str,
            "action": str,
            "actor": str,
            "via": str,
            "at": str,
            "draft_chars": int,
            "final_chars": int,
            "edit_distance": int,
        },
        pk="id",
        not_null={"handoff_id", "action", "at"},
    )
    _table(db, "draft_events").create_index(["handoff_id", "id"])


# The same values ``report_columns`` computes on insert, for rows written before migration 011.
BACKFILL_REPORT_COLUMNS = (
    "UPDATE handoffs SET intent = json_extract(payload, '$.intent.name'),"
    " triggers = COALESCE((SELECT group_concat(json_extract(r.value, '$.trigger'), ',')"
    "                      FROM json_each(payload, '$.escalation.reasons') r), ''),"
    " has_draft = COALESCE(json_extract(payload, '$.draft_reply'), '') != '',"
    " transcript_turns = COALESCE(json_array_length(payload, '$.transcript.turns'), 0)"
)


def _m011_report_columns(db: sqlite_utils.Database) -> None:
    """Copy the fields reports group by out of the payload, so a report never parses payloads."""
    for column, kind in (
        ("intent", str),
        ("triggers", str),
        ("has_draft", int),
        ("transcript_turns", int),
    ):
        _table(db, "handoffs").add_column(column, kind)
    db.execute(BACKFILL_REPORT_COLUMNS)


def report_columns(payload: dict[str, Any]) -> tuple[str | None, str, int, int]:
    """(intent, triggers, has_draft, transcript_turns) of a handoff/v1 payload, for ``handoffs``."""
    reasons = (payload.get("escalation") or {}).get("reasons") or []
    triggers = ",".join(
        str(r.get("trigger")) for r in reasons if isinstance(r, dict) and r.get("trigger")
    )
    return (
        (payload.get("intent") or {}).get("name"),
        triggers,
        int(bool(payload.get("draft_reply"))),
        len((payload.get("transcript") or {}).get("turns") or []),
    )


def _m012_outbox_lanes(db: sqlite_utils.Database) -> None:
    """An outbox row may belong to a lane: rows of one lane are delivered one at a time, in id order
    (agent messages to a bot, customer turns to a ticket). NULL: no order with anything else."""
    _table(db, "outbox").add_column("lane", str)
    _table(db, "outbox").create_index(["lane", "status"])


def _m013_budgets(db: sqlite_utils.Database) -> None:
    """Rate-limit buckets per destination, shared by every worker and replica on the store."""
    _table(db, "budgets").create(
        {"key": str, "tokens": float, "updated_at": float},
        pk="key",
        not_null={"tokens", "updated_at"},
    )


def _m014_handoff_kpis(db: sqlite_utils.Database) -> None:
    """One narrow KPI row per handoff (``connector/kpis.py``), back-filled from the raw tables, so
    a report reads 100,000 small rows instead of joining handoffs, facts and messages."""
    from connector.kpis import ROW_FIELDS
    from connector.store.sqlite.reports import backfill_kpis

    real = {"bot_seconds", "first_response_seconds", "human_seconds", "csat_score", "csat_scale"}
    text = {
        "handoff_id",
        "created_at",
        "day",
        "team",
        "source",
        "primary_reason",
        "reasons",
        "intent",
        "agent_asks",
    }
    columns = ", ".join(
        f"{f} {'REAL' if f in real else 'TEXT' if f in text else 'INTEGER'}" for f in ROW_FIELDS
    )
    # Clustered by opening time (a handoff's created_at never changes), so a period is one
    # sequential range of pages rather than 100,000 index look-ups.
    db.execute(
        f"CREATE TABLE handoff_kpis ({columns}, PRIMARY KEY (created_at, handoff_id)) WITHOUT ROWID"
    )
    db.execute("CREATE UNIQUE INDEX handoff_kpis_id ON handoff_kpis (handoff_id)")
    _table(db, "conversations").create_index(["created_at"])  # the handoff rate's denominator
    backfill_kpis(db.conn)


def _m015_audit_chains(db: sqlite_utils.Database) -> None:
    """One audit chain per conversation, with a head row each and sealed checkpoints.

    Rows already written stay as they are, linked in one chain: the checkpoint written here
    records its last id and hash, and ``audit.verify`` checks those rows as one chain as before.
    """
    _table(db, "audit_heads").create(
        {"chain": str, "hash": str, "sealed": str}, pk="chain", not_null={"hash"}
    )
    _table(db, "audit_checkpoints").create(
        {"id": int, "at": str, "heads": str, "legacy_upto": int, "prev_hash": str, "hash": str},
        pk="id",
    )
    last = db.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    if last is None:
        return
    from datetime import UTC, datetime

    from connector.store.base import canonical_json, checkpoint_hash

    at = datetime.now(UTC).isoformat(timespec="microseconds")
    heads = {"(single chain)": last[1]}
    db.execute(
        "INSERT INTO audit_checkpoints (at, heads, legacy_upto, prev_hash, hash) VALUES (?,?,?,?,?)",
        (at, canonical_json(heads), last[0], "", checkpoint_hash("", at, heads, last[0])),
    )


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("001_initial", _m001_initial),
    ("005_timers", _m005_timers),
    ("006_handoff_facts", _m006_handoff_facts),
    ("010_draft_events", _m010_draft_events),
    ("011_report_columns", _m011_report_columns),
    ("012_outbox_lanes", _m012_outbox_lanes),
    ("013_budgets", _m013_budgets),
    ("014_handoff_kpis", _m014_handoff_kpis),
    ("015_audit_chains", _m015_audit_chains),
]


def apply(conn: sqlite3.Connection) -> list[str]:
    """Apply the pending migrations in one write transaction; return the names applied."""
    db = sqlite_utils.Database(conn)
    db.enable_wal()
    applied: list[str] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        if "_migrations" not in db.table_names():
            _table(db, "_migrations").create({"name": str, "applied_at": str}, pk="name")
        done = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
        for name, step in MIGRATIONS:
            if name in done:
                continue
            step(db)
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, datetime('now'))", (name,)
            )
            applied.append(name)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied
