"""The store contract for KPI rows: ``put_handoff_kpis``, ``list_handoff_kpis``,
``count_conversations``, and that every write verb a row summarises keeps the row current in the
same transaction (``Tx.refresh_handoff_kpis``). Written against ``Store``/``Tx`` only, like
``test_contract.py``; a new store must pass it unchanged."""

from __future__ import annotations

from connector import kpis
from connector.store import MessageRow, Store
from tests.store.test_contract import (
    DAY_END,
    DAY_START,
    T0,
    T1,
    T2,
    conversation,
    handoff,
    read,
    write,
)

NEXT_DAY = "2026-11-22T09:00:00.000000+00:00"


def rows(store: Store, since: str = DAY_START, until: str = DAY_END) -> list[dict]:
    listed = read(store, lambda tx: tx.list_handoff_kpis(since, until))
    return [dict(zip(kpis.LIST_FIELDS, r, strict=True)) for r in listed]  # type: ignore[attr-defined]


def listed(row: dict) -> dict:
    return {f: row[f] for f in kpis.LIST_FIELDS}


def row_of(store: Store, hid: str) -> dict:
    (row,) = [r for r in rows(store) if r["handoff_id"] == hid]
    return row


def test_put_and_list_kpi_rows_by_period(store: Store) -> None:
    base = {f: None for f in kpis.ROW_FIELDS} | {
        "has_draft": 1,
        "anomalies": 0,
        "agent_active": 0,
        "reassigned": 0,
        "timed_out": 0,
        "draft_used": 0,
        "drafts_sent": 0,
        "drafts_sent_unedited": 0,
        "repeat_observed": 0,
        "repeat_context": 0,
        "customer_restates": 0,
        "reasons": "human_request",
        "primary_reason": "human_request",
        "agent_asks": "",
    }
    a = base | {"handoff_id": "h-a", "created_at": T1, "day": T1[:10], "bot_seconds": 12.5}
    b = base | {"handoff_id": "h-b", "created_at": NEXT_DAY, "day": NEXT_DAY[:10]}
    write(store, lambda tx: [tx.put_handoff_kpis(a), tx.put_handoff_kpis(b)])
    assert rows(store) == [listed(a)]
    write(store, lambda tx: tx.put_handoff_kpis(a | {"bot_seconds": 3.0}))  # replaces, never adds
    assert rows(store) == [listed(a | {"bot_seconds": 3.0})]
    both = rows(store, DAY_START, "2026-11-23T00:00:00.000000+00:00")
    assert sorted(both, key=lambda r: r["handoff_id"]) == [
        listed(a | {"bot_seconds": 3.0}),
        listed(b),
    ]


def test_count_conversations_by_start(store: Store) -> None:
    write(
        store,
        lambda tx: [
            tx.insert_conversation(conversation("c-1", at=T0)),
            tx.insert_conversation(conversation("c-2", at=NEXT_DAY)),
        ],
    )
    assert read(store, lambda tx: tx.count_conversations(DAY_START, DAY_END)) == 1


def test_write_verbs_keep_the_kpi_row_current(store: Store) -> None:
    write(store, lambda tx: tx.insert_conversation(conversation("conv-1")))
    write(
        store,
        lambda tx: tx.add_messages(
            [
                MessageRow("conv-1", "m1", "customer", "my order", T0),
                MessageRow("conv-1", "m2", "bot", "let me look", T1),
            ]
        ),
    )
    write(store, lambda tx: tx.insert_handoff(handoff("h-1", turns=2, at=T2)))
    row = row_of(store, "h-1")
    assert (row["team"], row["reasons"], row["bot_seconds"], row["agent_active"]) == (
        "general",
        "human_request",
        300.0,
        0,
    )
    write(store, lambda tx: tx.add_fact("h-1", "first_response", T2, {"seconds": 42.0}))
    assert row_of(store, "h-1")["first_response_seconds"] == 42.0
    write(
        store,
        lambda tx: tx.add_fact(
            "h-1", "reassigned", T2, {"from_team": "general", "to_team": "billing"}
        ),
    )
    write(store, lambda tx: tx.update_handoff("h-1", team="billing"))
    row = row_of(store, "h-1")
    assert (row["team"], row["reassigned"], row["agent_active"]) == ("general", 1, 1)
    write(
        store,
        lambda tx: tx.add_draft_event({"handoff_id": "h-1", "action": "sent_unedited", "at": T2}),
    )
    assert (row_of(store, "h-1")["draft_used"], row_of(store, "h-1")["drafts_sent_unedited"]) == (
        1,
        1,
    )
    write(
        store,
        lambda tx: tx.add_messages(
            [MessageRow("conv-1", "a1", "agent", "What's your email address?", None)]
        ),
    )
    row = row_of(store, "h-1")
    assert (row["repeat_observed"], row["agent_asks"]) == (1, "")  # the payload held no e-mail
    write(store, lambda tx: tx.update_handoff("h-1", handback={"actor": "ann", "at": NEXT_DAY}))
    assert row_of(store, "h-1")["human_seconds"] == 82_200.0  # 10:10 → 09:00 next day


def test_a_rolled_back_write_leaves_the_row_as_it_was(store: Store) -> None:
    write(store, lambda tx: tx.insert_conversation(conversation("conv-1")))
    write(store, lambda tx: tx.insert_handoff(handoff("h-1")))
    try:
        with store.atomic() as tx:
            tx.add_fact("h-1", "first_response", T1, {"seconds": 5.0})
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert row_of(store, "h-1")["first_response_seconds"] is None
