"""The store contract, part two: the outbox and timers, and the races they must survive.

Times are plain numbers passed in (``now``), so nothing here waits for a clock. The races run two
store objects on one URL in two threads, each with its own connection as two processes would
have, released together by a barrier: whatever the store's locking, exactly one may win.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from connector.store import ConversationRow, OutboxRow, Store, TimerRow, Tx

LEASE = 30.0


def write(store: Store, fn: Callable[[Tx], Any]) -> Any:
    with store.atomic() as tx:
        return fn(tx)


def read(store: Store, fn: Callable[[Tx], Any]) -> Any:
    with store.reading() as tx:
        return fn(tx)


def enqueue(tx: Tx, key: str, now: float, target: str = "local") -> int | None:
    return tx.enqueue(
        "destination", target, key, {"key": key}, now, handoff_id="h-1", conversation_id="conv-1"
    )


def timer(
    tx: Tx, step: int, due_at: float, *, handoff_id: str = "h-1", round: int = 1
) -> int | None:
    return tx.add_timer(
        handoff_id=handoff_id,
        conversation_id="conv-1",
        kind="response_window",
        round=round,
        step=step,
        due_at=due_at,
        now=1.0,
        data={"step": step},
    )


def race(stores: list[Store], attempt: Callable[[Store, int], Any]) -> list[Any]:
    """Run ``attempt(store, i)`` in one thread per store, all released at once; their results."""
    barrier = threading.Barrier(len(stores))
    results: list[Any] = [None] * len(stores)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = attempt(stores[i], i)
        except BaseException as exc:  # surfaced below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


# --- the outbox ----------------------------------------------------------------------------------


def test_enqueue_with_a_known_key_adds_nothing(store: Store) -> None:
    first = write(store, lambda tx: enqueue(tx, "k1", 100.0))
    assert isinstance(first, int)
    assert write(store, lambda tx: enqueue(tx, "k1", 200.0, target="zendesk")) is None
    [row] = read(store, lambda tx: tx.list_outbox())
    assert (row.id, row.target, row.status, row.attempts, row.next_attempt_at, row.body) == (
        first,
        "local",
        "pending",
        0,
        100.0,
        {"key": "k1"},
    )
    assert (row.handoff_id, row.conversation_id, row.created_at) == ("h-1", "conv-1", 100.0)
    assert read(store, lambda tx: tx.get_outbox(first)) == row
    assert read(store, lambda tx: tx.get_outbox(first + 1000)) is None


def test_claim_takes_the_most_overdue_due_row_and_counts_an_attempt(store: Store) -> None:
    late = write(store, lambda tx: enqueue(tx, "late", 100.0))
    early = write(store, lambda tx: enqueue(tx, "early", 50.0))
    write(store, lambda tx: enqueue(tx, "future", 500.0))

    row = write(store, lambda tx: tx.claim_outbox("w1", 200.0, LEASE))
    assert isinstance(row, OutboxRow)
    assert (row.id, row.status, row.claimed_by, row.claim_expires_at, row.attempts) == (
        early,
        "delivering",
        "w1",
        200.0 + LEASE,
        1,
    )
    assert write(store, lambda tx: tx.claim_outbox("w1", 200.0, LEASE)).id == late
    assert (
        write(store, lambda tx: tx.claim_outbox("w1", 200.0, LEASE)) is None
    )  # "future" is not due


def test_a_batch_claim_takes_the_most_overdue_due_rows_up_to_its_limit(store: Store) -> None:
    ids = [write(store, lambda tx, i=i: enqueue(tx, f"k{i}", 100.0 - i)) for i in range(5)]
    write(store, lambda tx: enqueue(tx, "future", 500.0))
    first = write(store, lambda tx: tx.claim_outbox_batch("w1", 200.0, LEASE, 3))
    assert [r.id for r in first] == ids[::-1][:3]  # most overdue first
    assert all((r.status, r.claimed_by, r.attempts) == ("delivering", "w1", 1) for r in first)
    rest = write(store, lambda tx: tx.claim_outbox_batch("w2", 200.0, LEASE, 10))
    assert [r.id for r in rest] == ids[::-1][3:]  # "future" is not due, claimed rows are not taken
    assert (
        write(store, lambda tx: tx.claim_outbox_batch("w3", 200.0 + LEASE, LEASE, 10)) != []
    )  # leases end


def test_a_claimed_row_is_claimed_again_only_after_its_lease_and_only_the_holder_finishes(
    store: Store,
) -> None:
    row_id = write(store, lambda tx: enqueue(tx, "k1", 100.0))
    assert write(store, lambda tx: tx.claim_outbox("w1", 100.0, LEASE)).id == row_id
    assert write(store, lambda tx: tx.claim_outbox("w2", 100.0 + LEASE - 1, LEASE)) is None
    assert read(store, lambda tx: tx.any_due(100.0 + LEASE - 1)) is False
    assert read(store, lambda tx: tx.any_due(100.0 + LEASE)) is True

    taken = write(store, lambda tx: tx.claim_outbox("w2", 100.0 + LEASE, LEASE))
    assert (taken.id, taken.claimed_by, taken.attempts) == (row_id, "w2", 2)
    # w1's attempt outlived its lease: its outcome is not recorded
    assert write(store, lambda tx: tx.finish_outbox(row_id, "w1", 140.0, status="done")) is False
    assert (
        write(
            store,
            lambda tx: tx.finish_outbox(row_id, "w2", 141.0, status="done", result={"ticket": "7"}),
        )
        is True
    )
    done = read(store, lambda tx: tx.get_outbox(row_id))
    assert (done.status, done.result, done.claimed_by, done.claim_expires_at) == (
        "done",
        {"ticket": "7"},
        None,
        None,
    )
    assert (
        write(store, lambda tx: tx.finish_outbox(row_id, "w2", 142.0, status="dead")) is False
    )  # not delivering


def test_a_failed_attempt_is_due_again_later_and_a_dead_row_can_be_retried(store: Store) -> None:
    row_id = write(store, lambda tx: enqueue(tx, "k1", 100.0))
    write(store, lambda tx: tx.claim_outbox("w1", 100.0, LEASE))
    assert write(
        store,
        lambda tx: tx.finish_outbox(
            row_id, "w1", 101.0, status="pending", next_attempt_at=160.0, error="503 from vendor"
        ),
    )
    row = read(store, lambda tx: tx.get_outbox(row_id))
    assert (row.status, row.next_attempt_at, row.last_error, row.attempts) == (
        "pending",
        160.0,
        "503 from vendor",
        1,
    )
    assert read(store, lambda tx: tx.any_due(159.0)) is False
    assert read(store, lambda tx: tx.next_due_at()) == 160.0

    write(store, lambda tx: tx.claim_outbox("w1", 160.0, LEASE))
    write(store, lambda tx: tx.finish_outbox(row_id, "w1", 161.0, status="dead", error="gave up"))
    assert [r.id for r in read(store, lambda tx: tx.list_outbox(status="dead"))] == [row_id]
    assert read(store, lambda tx: tx.next_due_at()) is None
    assert write(store, lambda tx: tx.retry_outbox(row_id, 300.0)) is True
    again = read(store, lambda tx: tx.get_outbox(row_id))
    assert (again.status, again.attempts, again.next_attempt_at, again.claimed_by) == (
        "pending",
        0,
        300.0,
        None,
    )

    write(store, lambda tx: tx.claim_outbox("w1", 300.0, LEASE))
    write(store, lambda tx: tx.finish_outbox(row_id, "w1", 301.0, status="done"))
    assert write(store, lambda tx: tx.retry_outbox(row_id, 400.0)) is False  # a done row stays done
    assert write(store, lambda tx: tx.retry_outbox(row_id + 1000, 400.0)) is False


def test_a_lane_delivers_one_row_at_a_time_in_id_order(store: Store) -> None:
    def lane_row(tx: Tx, key: str, now: float, lane: str | None) -> int | None:
        return tx.enqueue(
            "callback", "bot", key, {"key": key}, now, conversation_id="conv-1", lane=lane
        )

    first = write(store, lambda tx: lane_row(tx, "m1", 100.0, "bot:conv-1"))
    second = write(
        store, lambda tx: lane_row(tx, "m2", 50.0, "bot:conv-1")
    )  # due earlier, still second
    other = write(store, lambda tx: lane_row(tx, "o1", 100.0, "bot:conv-2"))
    free = write(store, lambda tx: lane_row(tx, "f1", 100.0, None))

    taken = [write(store, lambda tx: tx.claim_outbox("w1", 200.0, LEASE)).id for _ in range(3)]
    assert sorted(taken) == sorted([first, other, free])
    assert write(store, lambda tx: tx.claim_outbox("w1", 200.0, LEASE)) is None  # m2 waits for m1
    assert read(store, lambda tx: tx.any_due(200.0)) is False
    assert read(store, lambda tx: tx.next_due_at()) == 200.0 + LEASE  # the first claim's lease

    for done in (other, free):
        write(store, lambda tx, done=done: tx.finish_outbox(done, "w1", 201.0, status="done"))
    # m1 fails and waits to be retried: m2 still waits behind it
    write(
        store,
        lambda tx: tx.finish_outbox(first, "w1", 201.0, status="pending", next_attempt_at=300.0),
    )
    assert write(store, lambda tx: tx.claim_outbox("w1", 250.0, LEASE)) is None
    assert write(store, lambda tx: tx.claim_outbox("w1", 300.0, LEASE)).id == first
    write(store, lambda tx: tx.finish_outbox(first, "w1", 301.0, status="done"))
    assert write(store, lambda tx: tx.claim_outbox("w1", 302.0, LEASE)).id == second


def test_a_dead_row_does_not_hold_its_lane(store: Store) -> None:
    first = write(store, lambda tx: tx.enqueue("callback", "bot", "m1", {}, 100.0, lane="L"))
    second = write(store, lambda tx: tx.enqueue("callback", "bot", "m2", {}, 100.0, lane="L"))
    write(store, lambda tx: tx.claim_outbox("w1", 100.0, LEASE))
    write(store, lambda tx: tx.finish_outbox(first, "w1", 101.0, status="dead", error="gave up"))
    assert write(store, lambda tx: tx.claim_outbox("w1", 102.0, LEASE)).id == second


def test_a_batch_claim_takes_only_the_first_undelivered_row_of_each_lane(store: Store) -> None:
    ids = [
        write(
            store, lambda tx, k=k, lane=lane: tx.enqueue("callback", "bot", k, {}, 100.0, lane=lane)
        )
        for k, lane in [("a1", "A"), ("a2", "A"), ("b1", "B"), ("n1", None), ("b2", "B")]
    ]
    taken = write(store, lambda tx: tx.claim_outbox_batch("w1", 200.0, LEASE, 10))
    assert sorted(r.id for r in taken) == sorted([ids[0], ids[2], ids[3]])
    assert write(store, lambda tx: tx.claim_outbox_batch("w2", 200.0, LEASE, 10)) == []


def test_next_due_at_covers_pending_rows_expiring_claims_and_timers(store: Store) -> None:
    assert read(store, lambda tx: tx.next_due_at()) is None
    write(store, lambda tx: enqueue(tx, "k1", 100.0))
    write(store, lambda tx: enqueue(tx, "k2", 150.0))
    assert read(store, lambda tx: tx.next_due_at()) == 100.0
    write(store, lambda tx: tx.claim_outbox("w1", 120.0, LEASE))  # k1, lease ends at 150
    assert read(store, lambda tx: tx.next_due_at()) == 150.0
    write(store, lambda tx: timer(tx, 1, 90.0))
    assert read(store, lambda tx: tx.next_due_at()) == 90.0


def test_outbox_stats_count_rows_by_kind_target_and_status(store: Store) -> None:
    assert read(store, lambda tx: tx.outbox_stats()) == {
        "rows": [],
        "oldest_undelivered_at": None,
        "pending_timers": 0,
    }
    first = write(store, lambda tx: enqueue(tx, "k1", 100.0))
    write(store, lambda tx: enqueue(tx, "k2", 110.0))
    write(store, lambda tx: enqueue(tx, "k3", 120.0, target="zendesk"))
    write(store, lambda tx: tx.claim_outbox("w1", 200.0, LEASE))
    write(store, lambda tx: tx.finish_outbox(first, "w1", 201.0, status="done"))
    write(store, lambda tx: timer(tx, 1, 500.0))
    stats = read(store, lambda tx: tx.outbox_stats())
    assert sorted(stats["rows"], key=lambda r: (r["target"], r["status"])) == [
        {"kind": "destination", "target": "local", "status": "done", "n": 1},
        {"kind": "destination", "target": "local", "status": "pending", "n": 1},
        {"kind": "destination", "target": "zendesk", "status": "pending", "n": 1},
    ]
    assert (stats["oldest_undelivered_at"], stats["pending_timers"]) == (110.0, 1)


def test_pending_rows_ahead_are_counted_by_kind_and_target(store: Store) -> None:
    ids = [write(store, lambda tx, i=i: enqueue(tx, f"k{i}", 100.0 + i)) for i in range(4)]
    claimed = write(store, lambda tx: tx.claim_outbox("w1", 200.0, LEASE))
    assert claimed is not None and claimed.id == ids[0]  # delivering now: not waiting ahead
    zendesk = write(store, lambda tx: enqueue(tx, "z1", 90.0, target="zendesk"))
    last = ids[-1]
    assert read(store, lambda tx: tx.count_pending_ahead(last, "destination", "local")) == 2
    assert read(store, lambda tx: tx.count_pending_ahead(ids[0], "destination", "local")) == 0
    assert read(store, lambda tx: tx.count_pending_ahead(zendesk, "destination", "zendesk")) == 0
    assert read(store, lambda tx: tx.count_pending_ahead(zendesk + 1, "callback", "zendesk")) == 0


# --- timers --------------------------------------------------------------------------------------


def test_a_timer_is_added_once_per_handoff_kind_round_and_step(store: Store) -> None:
    first = write(store, lambda tx: timer(tx, 1, 100.0))
    assert isinstance(first, int)
    assert write(store, lambda tx: timer(tx, 1, 999.0)) is None
    assert isinstance(write(store, lambda tx: timer(tx, 2, 200.0)), int)
    assert isinstance(write(store, lambda tx: timer(tx, 1, 300.0, round=2)), int)
    assert isinstance(write(store, lambda tx: timer(tx, 1, 400.0, handoff_id="h-2")), int)
    rows = read(store, lambda tx: tx.list_timers(handoff_id="h-1"))
    assert [(t.round, t.step, t.due_at, t.status, t.data) for t in rows] == [
        (1, 1, 100.0, "pending", {"step": 1}),
        (1, 2, 200.0, "pending", {"step": 2}),
        (2, 1, 300.0, "pending", {"step": 1}),
    ]
    assert read(store, lambda tx: tx.next_timer_due_at()) == 100.0


def test_a_due_timer_is_claimed_exactly_once_most_overdue_first(store: Store) -> None:
    write(store, lambda tx: timer(tx, 2, 200.0))
    write(store, lambda tx: timer(tx, 1, 100.0))
    assert write(store, lambda tx: tx.claim_due_timer("w1", 99.0)) is None
    fired = write(store, lambda tx: tx.claim_due_timer("w1", 250.0))
    assert isinstance(fired, TimerRow)
    assert (fired.step, fired.status, fired.claimed_by, fired.fired_at) == (1, "fired", "w1", 250.0)
    assert write(store, lambda tx: tx.claim_due_timer("w2", 250.0)).step == 2
    assert write(store, lambda tx: tx.claim_due_timer("w2", 250.0)) is None
    assert sorted(t.step for t in read(store, lambda tx: tx.list_timers(status="fired"))) == [1, 2]
    assert read(store, lambda tx: tx.next_timer_due_at()) is None


def test_cancel_stops_only_the_handoffs_pending_timers(store: Store) -> None:
    write(store, lambda tx: timer(tx, 1, 100.0))
    write(store, lambda tx: timer(tx, 2, 200.0))
    write(store, lambda tx: timer(tx, 1, 150.0, handoff_id="h-2"))
    write(store, lambda tx: tx.claim_due_timer("w1", 100.0))  # h-1 step 1 has fired
    assert write(store, lambda tx: tx.cancel_timers("h-1", 120.0)) == 1
    assert write(store, lambda tx: tx.cancel_timers("h-1", 130.0)) == 0
    assert [
        (t.step, t.status) for t in read(store, lambda tx: tx.list_timers(handoff_id="h-1"))
    ] == [(1, "fired"), (2, "cancelled")]
    assert read(store, lambda tx: tx.next_timer_due_at()) == 150.0
    assert write(store, lambda tx: tx.claim_due_timer("w1", 1000.0)).handoff_id == "h-2"


# --- races between two stores on one URL ---------------------------------------------------------


def test_of_two_cas_on_the_same_version_exactly_one_wins(
    store: Store, open_store: Callable[[], Store]
) -> None:
    stores = [store, open_store()]
    for round_ in range(3):
        cid = f"conv-{round_}"
        write(
            store,
            lambda tx, cid=cid: tx.insert_conversation(
                ConversationRow(
                    id=cid,
                    source="demo",
                    owner="bot",
                    version=0,
                    owner_since="t0",
                    created_at="t0",
                    updated_at="t0",
                )
            ),
        )
        # both read the version first, as the service does, then race to move control
        versions = [read(s, lambda tx, cid=cid: tx.get_conversation(cid).version) for s in stores]
        won = race(
            stores,
            lambda s, i, cid=cid, versions=versions: write(
                s, lambda tx: tx.cas_control(cid, versions[i], f"agent-{i}", None, "t1")
            ),
        )
        assert sorted(won) == [False, True]
        row = read(store, lambda tx, cid=cid: tx.get_conversation(cid))
        assert (row.owner, row.version) == (f"agent-{won.index(True)}", 1)


def test_of_two_workers_claiming_one_outbox_row_exactly_one_gets_it(
    store: Store, open_store: Callable[[], Store]
) -> None:
    stores = [store, open_store()]
    for round_ in range(3):
        row_id = write(store, lambda tx, k=f"k{round_}": enqueue(tx, k, 100.0))
        claims = race(
            stores, lambda s, i: write(s, lambda tx: tx.claim_outbox(f"w{i}", 100.0, LEASE))
        )
        winners = [c for c in claims if c is not None]
        assert [c.id for c in winners] == [row_id]
        assert read(store, lambda tx, r=row_id: tx.get_outbox(r)).attempts == 1


def test_of_two_workers_claiming_one_due_timer_exactly_one_gets_it(
    store: Store, open_store: Callable[[], Store]
) -> None:
    stores = [store, open_store()]
    for step in range(1, 4):
        timer_id = write(store, lambda tx, step=step: timer(tx, step, 100.0))
        claims = race(stores, lambda s, i: write(s, lambda tx: tx.claim_due_timer(f"w{i}", 100.0)))
        assert [c.id for c in claims if c is not None] == [timer_id]


def test_of_two_workers_claiming_rows_of_one_lane_only_the_first_row_goes_out(
    store: Store, open_store: Callable[[], Store]
) -> None:
    stores = [store, open_store()]
    ids = [
        write(store, lambda tx, k=k: tx.enqueue("callback", "bot", k, {}, 100.0, lane="L"))
        for k in ("m1", "m2", "m3")
    ]
    for now, expected in zip((100.0, 101.0, 102.0), ids, strict=True):
        claims = race(
            stores, lambda s, i, now=now: write(s, lambda tx: tx.claim_outbox(f"w{i}", now, LEASE))
        )
        winners = [c for c in claims if c is not None]
        assert [c.id for c in winners] == [expected]
        # while it is out, nobody takes the next row of the lane
        assert write(store, lambda tx, now=now: tx.claim_outbox("w9", now, LEASE)) is None
        write(
            store,
            lambda tx, w=winners[0], now=now: tx.finish_outbox(
                w.id, w.claimed_by, now, status="done"
            ),
        )
