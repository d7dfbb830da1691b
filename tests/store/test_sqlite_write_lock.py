"""What the SQLite store does less of while it holds the write lock, with the same results:
text encoded ahead (``Encoded``) is stored as given, and the KPI row of a handoff the transaction
inserted is computed without reading the handoff back, equal to the generic
``Tx.refresh_handoff_kpis``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from connector import kpis
from connector.store import MessageRow, Tx
from connector.store.base import Encoded, canonical_json, compact_json
from connector.store.sqlite import SqliteStore
from tests.store.test_contract import T0, T1, T2, conversation, handoff


def _store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "lock.db")
    store.migrate()
    return store


def test_encoded_text_is_what_a_plain_dict_encodes_to_and_is_stored_as_given(
    tmp_path: Path,
) -> None:
    value = {"b": [1, 2.5, None], "a": "é", "c": {"z": True, "y": "x"}}
    made = Encoded.of(value, compact=True, canonical=True)
    assert made == value
    assert (made.compact, made.canonical) == (compact_json(value), canonical_json(value))
    assert compact_json(Encoded(value)) == compact_json(value)  # no text made: encoded as usual
    store = _store(tmp_path)
    try:
        ahead = Encoded(value)
        ahead.compact = '{"kept":"as given"}'  # a store takes the text, never encodes again
        with store.atomic() as tx:
            tx.put_event("demo", "evt-1", "conv-1", ahead, T0)
        with store.reading() as tx:
            assert tx.get_event("demo", "evt-1") == {"kept": "as given"}
    finally:
        store.close()


def _kpi_row(store: SqliteStore, handoff_id: str) -> dict:
    with store.reading() as tx:
        listed = tx.list_handoff_kpis("2026-11-01", "2026-12-01")
    (row,) = [dict(zip(kpis.LIST_FIELDS, r, strict=True)) for r in listed if r[0] == handoff_id]
    return row


def test_kpi_row_of_a_handoff_inserted_in_the_transaction_is_the_generic_one(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    try:
        row = handoff("h-1", turns=2, at=T2)
        with store.atomic() as tx:
            tx.insert_conversation(conversation("conv-1"))
            tx.add_messages(
                [
                    MessageRow("conv-1", "m1", "customer", "my order", T0, {"intent": "x"}),
                    MessageRow("conv-1", "m2", "bot", "let me look", T1),
                ]
            )
            tx.insert_handoff(row)
            row.team = "changed in memory only"  # the store keeps what it inserted, not the object
            tx.add_fact("h-1", "first_response", T2, {"seconds": 42.0})
            tx.add_messages([MessageRow("conv-1", "a1", "agent", "What's your email?", None)])
        fast = _kpi_row(store, "h-1")
        with store.atomic() as tx:
            Tx.refresh_handoff_kpis(tx, "h-1")  # the generic way: every row read back
        assert _kpi_row(store, "h-1") == fast
        assert (fast["team"], fast["first_response_seconds"], fast["bot_seconds"]) == (
            "general",
            42.0,
            300.0,
        )
        with store.atomic() as tx:  # updated in the same transaction: read back, as stored
            tx.insert_handoff(handoff("h-2", at=T2))
            tx.update_handoff("h-2", team="billing")
        with sqlite3.connect(tmp_path / "lock.db") as db:
            (team,) = db.execute("SELECT team FROM handoff_kpis WHERE handoff_id='h-2'").fetchone()
            (payload,) = db.execute("SELECT payload FROM handoffs WHERE id='h-2'").fetchone()
        assert team == "billing"
        assert json.loads(payload)["intent"] == {"name": "billing"}
    finally:
        store.close()
