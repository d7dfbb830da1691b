"""The store contract, part three: deferring a claimed row, its heartbeat, and the shared budget.

A deferral is the connector holding a row back itself: the row is due again later and keeps its
attempts. The budget is one token bucket per key on the store, so every worker and replica spends
from the same one; two stores on one URL racing for the last tokens get them exactly once.
"""

from __future__ import annotations

import pytest

from connector.store import Store
from tests.store.test_contract_queues import LEASE, enqueue, race, read, write


def test_a_deferred_row_is_due_later_and_keeps_its_attempts(store: Store) -> None:
    row_id = write(store, lambda tx: enqueue(tx, "k1", 100.0))
    write(store, lambda tx: tx.claim_outbox("w1", 100.0, LEASE))
    write(
        store,
        lambda tx: tx.finish_outbox(
            row_id, "w1", 101.0, status="pending", next_attempt_at=110.0, error="503 from vendor"
        ),
    )
    assert write(store, lambda tx: tx.claim_outbox("w1", 110.0, LEASE)).attempts == 2
    assert (
        write(store, lambda tx: tx.defer_outbox(row_id, "w2", 110.0, 130.0)) is False
    )  # not the holder
    assert write(store, lambda tx: tx.defer_outbox(row_id, "w1", 110.0, 130.0)) is True
    row = read(store, lambda tx: tx.get_outbox(row_id))
    assert (row.status, row.attempts, row.next_attempt_at, row.claimed_by, row.last_error) == (
        "pending",
        1,
        130.0,
        None,
        "503 from vendor",
    )
    assert write(store, lambda tx: tx.claim_outbox("w1", 129.0, LEASE)) is None
    assert (
        write(store, lambda tx: tx.defer_outbox(row_id, "w1", 129.0, 200.0)) is False
    )  # not delivering
    assert write(store, lambda tx: tx.claim_outbox("w1", 130.0, LEASE)).attempts == 2


# (cost, per_second, capacity, now, max_wait) applied in order -> the wait each one returns
BUDGET_CASES = [
    pytest.param(
        [(1, 1.0, 3, 0.0, 0.0)] * 3 + [(1, 1.0, 3, 0.0, 0.0)],
        [0.0, 0.0, 0.0, 1.0],
        id="a full bucket gives its capacity, then refuses",
    ),
    pytest.param(
        [(3, 1.0, 3, 0.0, 0.0), (1, 1.0, 3, 0.5, 0.0), (1, 1.0, 3, 1.0, 0.0)],
        [0.0, 0.5, 0.0],
        id="it refills at the rate",
    ),
    pytest.param(
        [(3, 1.0, 3, 0.0, 0.0), (1, 1.0, 3, 0.0, 1.0), (1, 1.0, 3, 0.0, 1.0)],
        [0.0, 1.0, 2.0],
        id="a short wait takes the tokens and the next waits behind it",
    ),
    pytest.param(
        [(5, 1.0, 3, 0.0, 0.0), (1, 1.0, 3, 2.0, 0.0), (1, 1.0, 3, 3.0, 0.0)],
        [0.0, 1.0, 0.0],
        id="a cost above capacity is taken from a full bucket",
    ),
    pytest.param(
        [(3, 1.0, 3, 0.0, 0.0), (-2, 1.0, 3, 0.0, 0.0), (2, 1.0, 3, 0.0, 0.0)],
        [0.0, 0.0, 0.0],
        id="a negative cost gives tokens back",
    ),
    pytest.param(
        [(-9, 1.0, 3, 0.0, 0.0), (4, 1.0, 3, 0.0, 0.0), (1, 1.0, 3, 0.0, 0.0)],
        [0.0, 0.0, 2.0],
        id="never above capacity",
    ),
]


@pytest.mark.parametrize(("takes", "waits"), BUDGET_CASES)
def test_take_budget(
    store: Store, takes: list[tuple[float, float, float, float, float]], waits: list[float]
) -> None:
    got = [write(store, lambda tx, t=t: tx.take_budget("zendesk", *t)) for t in takes]
    assert got == pytest.approx(waits)
    assert (
        write(store, lambda tx: tx.take_budget("salesforce", 1, 1.0, 1, 0.0, 0.0)) == 0.0
    )  # its own bucket


def test_two_stores_racing_for_the_last_tokens_get_them_once(store: Store, open_store) -> None:  # type: ignore[no-untyped-def]
    assert write(store, lambda tx: tx.take_budget("intercom", 2, 1.0, 3, 0.0, 0.0)) == 0.0
    waits = race(
        [open_store(), open_store()],
        lambda s, i: write(s, lambda tx: tx.take_budget("intercom", 1, 1.0, 3, 0.0, 0.0)),
    )
    assert sorted(waits) == [0.0, 1.0]


def test_a_heartbeat_extends_only_a_held_claim(store: Store) -> None:
    row_id = write(store, lambda tx: enqueue(tx, "k1", 100.0))
    write(store, lambda tx: tx.claim_outbox("w1", 100.0, LEASE))
    assert write(store, lambda tx: tx.extend_outbox_claim(row_id, "w1", 120.0, LEASE)) is True
    assert read(store, lambda tx: tx.get_outbox(row_id)).claim_expires_at == 120.0 + LEASE
    assert write(store, lambda tx: tx.claim_outbox("w2", 100.0 + LEASE, LEASE)) is None  # renewed
    assert write(store, lambda tx: tx.extend_outbox_claim(row_id, "w2", 121.0, LEASE)) is False
    taken = write(store, lambda tx: tx.claim_outbox("w2", 120.0 + LEASE, LEASE))
    assert taken is not None and taken.claimed_by == "w2"
    assert (
        write(store, lambda tx: tx.extend_outbox_claim(row_id, "w1", 151.0, LEASE)) is False
    )  # lost
    write(store, lambda tx: tx.finish_outbox(row_id, "w2", 152.0, status="done"))
    assert write(store, lambda tx: tx.extend_outbox_claim(row_id, "w2", 153.0, LEASE)) is False
