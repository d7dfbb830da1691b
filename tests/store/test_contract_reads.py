"""The store contract, part three: the verbs a store may answer in one statement of their own.

``ingest_snapshot``, ``routing_history``, ``look_for_work`` and ``handoff_with_refs`` exist on
``Store`` (one read of its own, which a store may send as one statement outside any transaction)
and on ``Tx`` (inside the caller's transaction, read or write). Whichever way they are asked, their
answer must be what the verbs they stand for return together in one ``reading()``: each test
builds a store through several states and compares, at every state, the new verbs against those.
``Store.claim_outbox`` and ``Store.claim_outbox_batch`` must claim what the ``Tx`` verbs would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from connector.store import ConversationRow, HandoffRow, MessageRow, Store, Tx
from connector.store.base import IngestSnapshot, RoutingHistory, WorkLook
from tests.store.test_contract import T0, T1, T2
from tests.store.test_contract import conversation as plain_conversation
from tests.store.test_contract_queues import race, write


def conversation(cid: str, **fields: Any) -> ConversationRow:
    """The contract's conversation, with a customer and bot whose JSON has escapes to get right."""
    return dataclasses.replace(
        plain_conversation(cid),
        customer={"id": "cust-1", "name": "Zoë «Ä» 🙂", "tags": ["a", {"b": None}]},
        bot={"name": "b", "n": 1.5},
        **fields,
    )


def every_way(store: Store, verb: str, *args: Any) -> list[Any]:
    """The verb's answer from the store, from a read transaction and from a write transaction."""
    answers = [getattr(store, verb)(*args)]
    with store.reading() as tx:
        answers.append(getattr(tx, verb)(*args))
    with store.atomic() as tx:
        answers.append(getattr(tx, verb)(*args))
    return answers


def handoff(hid: str, cid: str, *, team: str | None, customer_id: str | None) -> HandoffRow:
    return HandoffRow(
        id=hid,
        conversation_id=cid,
        source="demo",
        status="open",
        team=team,
        priority="high",
        payload={"intent": {"name": "billing"}, "text": 'line\none \u2028 "q" \\ é'},
        created_at=T0,
        updated_at=T1,
        customer_id=customer_id,
        claimed_by="agent-7" if team == "billing" else None,
        handback={"reason": "done"} if team == "billing" else None,
    )


def message(mid: str, cid: str, role: str, text: str, data: dict[str, Any]) -> MessageRow:
    return MessageRow(conversation_id=cid, id=mid, role=role, text=text, at=T1, data=data)


# ingest_snapshot ----------------------------------------------------------------------------------
def _old_ingest(store: Store, source: str, event_id: str, cid: str) -> IngestSnapshot:
    with store.reading() as tx:
        first = tx.get_event(source, event_id)
        if first is not None:
            return IngestSnapshot(first, None, [])
        found = tx.get_conversation(cid)
        return IngestSnapshot(None, found, tx.list_messages(found.id) if found else [])


def _check_ingest(store: Store, asks: list[tuple[str, str, str]]) -> None:
    for ask in asks:
        expected = _old_ingest(store, *ask)
        for answer in every_way(store, "ingest_snapshot", *ask):
            assert answer == expected, ask


def test_ingest_snapshot_is_the_event_or_the_conversation_and_its_messages(store: Store) -> None:
    asks = [
        ("demo", "e-1", "conv-1"),
        ("demo", "e-2", "conv-1"),
        ("other", "e-1", "conv-1"),
        ("demo", "e-1", "conv-none"),
        ("demo", "e-3", "conv-2"),
        ("demo", "e-9", "conv-2"),
    ]
    _check_ingest(store, asks)  # nothing stored yet
    write(store, lambda tx: tx.insert_conversation(conversation("conv-1")))
    _check_ingest(store, asks)  # a conversation with no messages
    write(
        store,
        lambda tx: tx.add_messages(
            [
                message("m-1", "conv-1", "customer", "hello 🙂\nthere", {"n": 1, "x": [None]}),
                message("m-2", "conv-1", "bot", "", {}),
            ]
        ),
    )
    write(
        store,
        lambda tx: tx.add_messages(
            [message("m-3", "conv-1", "agent", 'a "quoted" \\ reply', {"by": "é"})]
        ),
    )
    write(
        store,
        lambda tx: tx.insert_conversation(
            conversation("conv-2", owner="pending", version=3, handoff_id="h-2", language="de")
        ),
    )
    _check_ingest(store, asks)
    write(
        store,
        lambda tx: tx.put_event("demo", "e-1", "conv-1", {"decision": {"escalate": False}}, T1),
    )
    write(store, lambda tx: tx.put_event("demo", "e-3", "conv-2", {"n": [1, 2.5, None]}, T2))
    _check_ingest(store, asks)  # a kept answer comes alone, whatever else is stored
    snapshot = store.ingest_snapshot("demo", "e-2", "conv-1")
    assert [m.id for m in snapshot.messages] == ["m-1", "m-2", "m-3"]
    assert [m.seq for m in snapshot.messages] == [1, 2, 3]
    assert store.ingest_snapshot("demo", "e-3", "conv-2").response == {"n": [1, 2.5, None]}


# routing_history ----------------------------------------------------------------------------------
def _old_history(store: Store, team: str, limit: int, customer_id: str | None) -> RoutingHistory:
    with store.reading() as tx:
        return RoutingHistory(
            tx.recent_first_responses(team, limit),
            tx.count_customer_handoffs(customer_id) if customer_id else 0,
        )


def test_routing_history_is_the_teams_first_responses_and_the_customers_handoffs(
    store: Store,
) -> None:
    asks = [
        (team, limit, customer)
        for team in ("general", "billing", "nobody")
        for limit in (1, 2, 50)
        for customer in ("cust-1", "cust-2", "", None, "nobody")
    ]

    def check() -> None:
        for ask in asks:
            expected = _old_history(store, *ask)
            for answer in every_way(store, "routing_history", *ask):
                assert answer == expected, ask

    check()
    teams = ["general", "general", "billing", "general", None]
    customers = ["cust-1", "cust-1", "cust-2", None, ""]

    def setup(tx: Tx) -> None:
        for i, (team, customer) in enumerate(zip(teams, customers, strict=True)):
            tx.insert_conversation(conversation(f"conv-{i}"))
            tx.insert_handoff(handoff(f"h-{i}", f"conv-{i}", team=team, customer_id=customer))

    write(store, setup)
    check()  # handoffs, no first responses yet
    seconds: list[dict[str, Any]] = [{"seconds": 30}, {"seconds": 60.5}, {"seconds": 5}, {}]
    for i, (data, at) in enumerate(zip(seconds, [T1, T2, T2, T1], strict=True)):
        write(store, lambda tx, i=i, d=data, at=at: tx.add_fact(f"h-{i}", "first_response", at, d))
    write(store, lambda tx: tx.add_fact("h-0", "reassigned", T2, {"seconds": 999}))
    check()
    assert store.routing_history("general", 50, "cust-1") == RoutingHistory([60.5, 0.0, 30.0], 2)


# look_for_work ------------------------------------------------------------------------------------
def _old_look(store: Store, now: float) -> WorkLook:
    with store.reading() as tx:
        due = tx.any_due(now)
        return WorkLook(due, tx.next_timer_due_at(), None if due else tx.next_due_at())


def test_look_for_work_is_any_due_the_next_timer_and_the_next_due_time(store: Store) -> None:
    times = [0.0, 5.0, 10.0, 15.0, 20.0, 45.0, 100.0, 1000.0]

    def check() -> None:
        for now in times:
            expected = _old_look(store, now)
            for answer in every_way(store, "look_for_work", now):
                assert answer == expected, now

    check()  # an empty store
    write(
        store,
        lambda tx: tx.enqueue(
            "destination", "local", "k-1", {}, 10.0, handoff_id="h-1", conversation_id="conv-1"
        ),
    )
    check()  # one pending row, due at 10
    write(
        store,
        lambda tx: tx.add_timer(
            handoff_id="h-1",
            conversation_id="conv-1",
            kind="response_window",
            round=1,
            step=1,
            due_at=15.0,
            now=1.0,
            data={},
        ),
    )
    check()  # and a timer due at 15
    for key, at in (("lane-1", 12.0), ("lane-2", 5.0)):  # the second waits behind the first
        write(
            store,
            lambda tx, key=key, at=at: tx.enqueue(
                "callback", "demo", key, {}, at, conversation_id="conv-2", lane="conv-2"
            ),
        )
    check()
    claimed = write(store, lambda tx: tx.claim_outbox("w-1", 10.0, 30.0))  # lease to 40
    assert claimed is not None
    check()  # a delivering row, its claim expiring at 40
    write(store, lambda tx: tx.claim_due_timer("w-1", 15.0))
    check()  # the timer fired: no timer pending
    for row in write(store, lambda tx: tx.claim_outbox_batch("w-2", 20.0, 30.0, 10)):
        write(store, lambda tx, r=row: tx.finish_outbox(r.id, "w-2", 21.0, status="done"))
    check()


# handoff_with_refs --------------------------------------------------------------------------------
def test_handoff_with_refs_is_the_handoff_and_its_ticket_refs(store: Store) -> None:
    ids = ["h-1", "h-2", "h-none", "h-orphan"]

    def check() -> None:
        for hid in ids:
            with store.reading() as tx:
                expected = (tx.get_handoff(hid), tx.get_ticket_refs(hid))
            for answer in every_way(store, "handoff_with_refs", hid):
                assert answer == expected, hid

    check()

    def setup(tx: Tx) -> None:
        tx.insert_conversation(conversation("conv-1"))
        tx.insert_handoff(handoff("h-1", "conv-1", team="billing", customer_id="cust-1"))
        tx.insert_handoff(handoff("h-2", "conv-1", team=None, customer_id=None))

    write(store, setup)
    check()  # handoffs without refs
    write(store, lambda tx: tx.put_ticket_ref("h-1", "local", {"id": "1", "url": "x/é"}))
    write(store, lambda tx: tx.put_ticket_ref("h-1", "zendesk", {"id": 42, "extra": [None]}))
    write(store, lambda tx: tx.put_ticket_ref("h-orphan", "local", {"id": "9"}))
    check()
    found, refs = store.handoff_with_refs("h-1")
    assert found is not None and found.team == "billing"
    assert refs == {"local": {"id": "1", "url": "x/é"}, "zendesk": {"id": 42, "extra": [None]}}


# the store's own claims ---------------------------------------------------------------------------
class _Undo(Exception):
    """Rolls back the transaction it leaves."""


def _would_claim(store: Store, claim: Callable[[Tx], Any]) -> Any:
    """What ``claim`` gets in a write transaction, rolled back after."""
    got: list[Any] = []
    with pytest.raises(_Undo), store.atomic() as tx:
        got.append(claim(tx))
        raise _Undo
    return got[0]


def test_the_stores_claims_take_what_a_transactions_claims_would(store: Store) -> None:
    def add(tx: Tx) -> None:
        for i in range(6):
            tx.enqueue("destination", "local", f"k-{i}", {"i": i}, 100.0 - 10 * i, handoff_id="h-1")
        for i in range(3):  # one lane: one row at a time, in id order
            tx.enqueue("callback", "demo", f"l-{i}", {}, 50.0 + i, conversation_id="c", lane="c")
        tx.enqueue("destination", "local", "future", {}, 900.0)

    write(store, add)
    asks = [("w-1", 60.0, 1), ("w-2", 100.0, 3), ("w-1", 100.0, 1), ("w-3", 120.0, 10)]
    asks += [("w-4", 150.0, 1), ("w-5", 200.0, 2), ("w-6", 1000.0, 10), ("w-7", 1000.0, 1)]
    for worker, now, limit in asks:
        if limit == 1:
            expected = _would_claim(store, lambda tx, w=worker, n=now: tx.claim_outbox(w, n, 30.0))
            assert store.claim_outbox(worker, now, 30.0) == expected, (worker, now)
        else:
            expected = _would_claim(
                store, lambda tx, w=worker, n=now, k=limit: tx.claim_outbox_batch(w, n, 30.0, k)
            )
            assert store.claim_outbox_batch(worker, now, 30.0, limit) == expected, (worker, now)
        with store.reading() as tx:
            claimed = tx.list_outbox(status="delivering")
        for row in claimed:
            if row.next_attempt_at < now:  # finish some, so lanes move on
                with store.atomic() as w:
                    w.finish_outbox(row.id, row.claimed_by or "", now, status="done")
    with store.reading() as tx:
        assert all(r.status == "done" for r in tx.list_outbox() if r.idempotency_key != "future")


def test_of_two_stores_claiming_one_outbox_row_their_own_way_exactly_one_gets_it(
    store: Store, open_store: Callable[[], Store]
) -> None:
    stores = [store, open_store()]
    for round_ in range(3):
        row_id = write(store, lambda tx, k=f"k{round_}": tx.enqueue("callback", "demo", k, {}, 1.0))
        claims = race(stores, lambda s, i: s.claim_outbox_batch(f"w{i}", 100.0, 30.0, 5))
        assert sorted(r.id for c in claims for r in c) == [row_id]
