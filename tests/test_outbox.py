"""The outbox: retries with backoff, Retry-After, dead letters, claims, and the worker's wake-up."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from click.testing import CliRunner

from connector.cli import main
from connector.delivery import Worker, backoff_seconds
from integrations.base import (
    PermanentDeliveryError,
    TicketRef,
    TransientDeliveryError,
    error_for_status,
    parse_retry_after,
)
from tests.helpers import drain, dumps, event, make_settings, post_event, signed_headers, store_env


def escalate(client, event_id: str = "evt-1", conversation_id: str = "conv-1"):  # type: ignore[no-untyped-def]
    return post_event(client, event(conversation_id, event_id)).json


def callback_row(runtime):  # type: ignore[no-untyped-def]
    with runtime.store.reading() as tx:
        return next(r for r in tx.list_outbox() if r.kind == "callback")


@pytest.mark.parametrize(
    "status,kind",
    [
        (400, PermanentDeliveryError),
        (401, PermanentDeliveryError),
        (403, PermanentDeliveryError),
        (404, PermanentDeliveryError),
        (409, PermanentDeliveryError),
        (422, PermanentDeliveryError),
        (408, TransientDeliveryError),
        (429, TransientDeliveryError),
        (500, TransientDeliveryError),
        (502, TransientDeliveryError),
        (503, TransientDeliveryError),
        (504, TransientDeliveryError),
    ],
)
def test_status_table(status, kind):  # type: ignore[no-untyped-def]
    assert type(error_for_status(status, "x")) is kind


def test_retry_after_forms(clock):  # type: ignore[no-untyped-def]
    assert parse_retry_after("7") == 7.0
    later = clock.now.replace(microsecond=0)
    from datetime import timedelta

    assert (
        parse_retry_after(format_datetime(later + timedelta(seconds=30), usegmt=True), now=later)
        == 30.0
    )
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_transient_failure_is_retried_after_retry_after(client, worker, receiver, runtime, clock):  # type: ignore[no-untyped-def]
    receiver.responses = [(503, {"Retry-After": "42"})]
    escalate(client)
    drain(worker)  # local delivered; callback failed once
    row = callback_row(runtime)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "HTTP 503" in row.last_error
    assert row.next_attempt_at == pytest.approx(clock.now.timestamp() + 42)
    assert worker.run_once() is None  # not due yet
    clock.advance(43)
    assert drain(worker) == 1
    row = callback_row(runtime)
    assert (row.status, row.attempts) == ("done", 2)
    assert len(receiver.accepted()) == 1


def test_backoff_grows_and_is_bounded(runtime):  # type: ignore[no-untyped-def]
    waits = [backoff_seconds(runtime, n, None) for n in range(1, 12)]
    assert waits[0] >= 1 and waits[3] >= 8
    assert max(waits) <= runtime.settings.worker.backoff_max_seconds
    assert backoff_seconds(runtime, 1, 10_000) == runtime.settings.worker.backoff_max_seconds


def test_permanent_failure_is_dead_lettered_and_can_be_retried(
    client, worker, receiver, runtime, settings, clock
):  # type: ignore[no-untyped-def]
    receiver.responses = [(401, {})]
    escalate(client)
    drain(worker)
    row = callback_row(runtime)
    assert row.status == "dead" and "HTTP 401" in row.last_error
    with runtime.store.reading() as tx:
        assert "callback.dead_letter" in [a.action for a in tx.list_audit("conv-1")]

    cli = CliRunner()
    env = store_env(settings)
    listed = cli.invoke(main, ["outbox", "list", "--dead"], env=env)
    assert listed.exit_code == 0 and f"{row.id:>6}" in listed.output and "HTTP 401" in listed.output
    retried = cli.invoke(main, ["outbox", "retry", str(row.id)], env=env)
    assert retried.exit_code == 0, retried.output
    # the CLI schedules with the wall clock; the worker runs on the test's, which started when the
    # test did: move it past the wall clock, however long the test has taken so far
    clock.now = max(clock.now, datetime.now(UTC)) + timedelta(seconds=1)
    assert drain(worker) == 1
    assert callback_row(runtime).status == "done"
    again = cli.invoke(main, ["outbox", "retry", str(row.id)], env=env)
    assert again.exit_code == 1 and "only dead or pending" in again.output
    missing = cli.invoke(main, ["outbox", "retry", "9999"], env=env)
    assert missing.exit_code == 1 and "no outbox row 9999" in missing.output


def test_out_of_attempts_is_dead_lettered(client, runtime, receiver, clock, settings):  # type: ignore[no-untyped-def]
    settings.worker.max_attempts = 3
    worker = Worker(runtime, concurrency=1, worker_id="w")
    receiver.responses = [(500, {})] * 100  # every callback fails (reminders add callbacks too)
    escalate(client)
    for _ in range(3):
        drain(worker)
        clock.advance(3600)
    row = callback_row(runtime)
    assert row.status == "dead" and row.last_error.startswith("gave up after 3 attempts")


class TestUnreachableBot:
    @pytest.fixture
    def settings(self, tmp_path):  # type: ignore[no-untyped-def]
        return make_settings(tmp_path, callback_url="http://127.0.0.1:9/nothing-listens-here")

    def test_unreachable_callback_is_transient(self, client, runtime, worker):  # type: ignore[no-untyped-def]
        escalate(client)
        drain(worker)
        row = callback_row(runtime)
        assert row.status == "pending" and "callback failed" in row.last_error


def test_expired_claim_is_taken_over_and_the_late_finisher_is_ignored(client, runtime, clock):  # type: ignore[no-untyped-def]
    escalate(client)
    lease = runtime.settings.worker.claim_timeout_seconds
    now = clock.now.timestamp()
    with runtime.store.atomic() as tx:
        first = tx.claim_outbox("crashed-worker", now, lease)
    with runtime.store.atomic() as tx:
        other = tx.claim_outbox("w2", now, lease)
        assert other is not None and other.id != first.id  # the held row is not handed out twice
        tx.finish_outbox(other.id, "w2", now, status="done")
    with runtime.store.atomic() as tx:
        assert tx.claim_outbox("w2", now, lease) is None
    with runtime.store.atomic() as tx:
        retaken = tx.claim_outbox("w2", now + lease + 1, lease)
    assert retaken.id == first.id and retaken.attempts == 2
    with runtime.store.atomic() as tx:
        assert tx.finish_outbox(first.id, "crashed-worker", now, status="done") is False
        assert tx.finish_outbox(first.id, "w2", now, status="done") is True


def test_running_worker_is_woken_by_new_work(client, runtime, receiver, settings):  # type: ignore[no-untyped-def]
    settings.worker.idle_wake_seconds = 3600  # only a wake-up can get it moving
    worker = Worker(runtime, concurrency=2)
    worker.start()
    try:
        escalate(client)
        assert len(receiver.wait_for(1, timeout=10)) == 1
    finally:
        worker.stop()


def test_fifty_threads_escalating_one_conversation(live_server, runtime):  # type: ignore[no-untyped-def]
    """50 concurrent events, each asking for a human: exactly one handoff, one control change."""
    start = threading.Barrier(50)

    def send(i: int) -> dict:
        raw = dumps(
            event(
                "race",
                f"evt-{i}",
                messages=[
                    {"id": f"m-{i}", "role": "customer", "text": "Let me talk to a human, now"}
                ],
            )
        )
        start.wait()
        answer = requests.post(
            f"{live_server}/v1/events", data=raw, headers=signed_headers(raw), timeout=30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(send, range(50)))
    assert sum(a["decision"]["escalate"] for a in answers) == 1
    assert len({a["handoff"]["id"] for a in answers}) == 1
    with runtime.store.reading() as tx:
        assert len(tx.list_handoffs()) == 1
        audit = tx.list_audit("race")
        assert [a.action for a in audit].count("control.changed") == 1
        assert [a.action for a in audit].count("decision") == 50
        assert tx.get_conversation("race").version == 2
        assert len(tx.list_messages("race")) == 50
        assert len([r for r in tx.list_outbox() if r.kind == "destination"]) == 1


def test_a_note_retried_after_a_lost_finish_is_filed_once(client, worker, runtime, clock):  # type: ignore[no-untyped-def]
    """The worker filed a note, then died before finishing the row: the retry must not file it again,
    while a second note with the same words (a later reminder round) is still filed."""
    from connector.delivery import deliver_to_destination

    handoff_id = escalate(client)["handoff"]["id"]
    drain(worker)  # filed in the local inbox
    now = clock().timestamp()
    with runtime.store.atomic() as tx:
        first = tx.enqueue(
            "destination",
            "local",
            f"note:{handoff_id}:local:r1",
            {"op": "note", "text": "Waiting."},
            now,
            handoff_id=handoff_id,
        )
        again = tx.enqueue(
            "destination",
            "local",
            f"note:{handoff_id}:local:r2",
            {"op": "note", "text": "Waiting."},
            now,
            handoff_id=handoff_id,
        )
        rows = [tx.get_outbox(first), tx.get_outbox(again)]
    deliver_to_destination(runtime, rows[0])
    deliver_to_destination(runtime, rows[0])  # the retry of a row whose finish was lost
    deliver_to_destination(runtime, rows[1])
    with runtime.store.reading() as tx:
        notes = tx.get_inbox_item(handoff_id)["notes"]
    assert [(n["text"], n["key"]) for n in notes] == [
        ("Waiting.", f"note:{handoff_id}:local:r1"),
        ("Waiting.", f"note:{handoff_id}:local:r2"),
    ]


def test_a_note_for_an_item_the_local_inbox_never_filed_is_permanent(runtime):  # type: ignore[no-untyped-def]
    local = runtime.destinations["local"]
    with pytest.raises(PermanentDeliveryError, match="inbox item 7 does not exist"):
        local.add_note(
            TicketRef("local", "7", None, {"handoff_id": "ho_missing"}), "hello", key="k"
        )
    with pytest.raises(PermanentDeliveryError, match="inbox item 8 does not exist"):
        local.add_note(TicketRef("local", "8", None, {}), "hello")


def test_a_running_worker_claims_rows_for_its_idle_threads_in_one_statement(
    client, runtime, receiver, settings, monkeypatch
):  # type: ignore[no-untyped-def]
    """Six rows due when four idle threads start: the first claim asks for four rows at once
    (``claim_outbox_batch``), the siblings deliver what it took, and every row is delivered once.
    Threads that start together each claim (the others one row each: the first claims for them);
    on PostgreSQL those claims run side by side and may take rows first, so the batch may get
    fewer than four: what it asked for is what is checked here."""
    for n in range(3):
        escalate(client, f"evt-{n}", f"conv-{n}")  # each: its local ticket and a callback
    with runtime.store.reading() as tx:
        tx_class = type(tx)
        assert len(tx.list_outbox(status="pending")) == 6
    batches: list[int] = []
    claim_batch = tx_class.claim_outbox_batch

    def counted(self, worker_id, now, lease, limit):  # type: ignore[no-untyped-def]
        batches.append(limit)  # the store's own claim; only what it asked for is counted here
        return claim_batch(self, worker_id, now, lease, limit)

    monkeypatch.setattr(tx_class, "claim_outbox_batch", counted)
    settings.worker.per_destination_concurrency = 4
    worker = Worker(runtime, concurrency=4)
    worker.start()
    try:
        assert len(receiver.wait_for(3, timeout=10)) == 3
        for _ in range(200):
            with runtime.store.reading() as tx:
                rows = tx.list_outbox()
            if all(r.status == "done" for r in rows):
                break
            threading.Event().wait(0.05)
    finally:
        worker.stop()
    assert batches and max(batches) == 4
    assert [(r.status, r.attempts) for r in rows] == [("done", 1)] * 6
    assert sorted(receiver.delivery_ids()) == sorted(set(receiver.delivery_ids()))


def test_threads_that_look_at_once_do_not_each_claim_for_every_idle_thread(client, runtime):  # type: ignore[no-untyped-def]
    """Four idle threads look for work at the same moment with eight rows due. The first claim
    is for all four; the claims started while it runs are for their own thread only, so the
    worker holds at most seven rows for four threads (it held sixteen: each thread counted every
    idle one), and the rest stay pending for any other worker."""
    for n in range(4):
        escalate(client, f"evt-{n}", f"conv-{n}")  # each: its local ticket and a callback
    worker = Worker(runtime, concurrency=4)
    # its four threads, as start() lists them, already finished: a claim counts them idle
    worker._threads = [threading.Thread(target=lambda: None) for _ in range(4)]
    for thread in worker._threads:
        thread.start()
    asked: list[int] = []
    all_in = threading.Barrier(4, timeout=10)
    store = runtime.store
    batch, single = store.claim_outbox_batch, store.claim_outbox

    def claim_batch(worker_id, now, lease, limit):  # type: ignore[no-untyped-def]
        asked.append(limit)
        all_in.wait()  # every thread is claiming before any claim returns
        return batch(worker_id, now, lease, limit)

    def claim_one(worker_id, now, lease):  # type: ignore[no-untyped-def]
        asked.append(1)
        all_in.wait()
        return single(worker_id, now, lease)

    store.claim_outbox_batch, store.claim_outbox = claim_batch, claim_one  # type: ignore[method-assign]
    try:
        with ThreadPoolExecutor(4) as pool:
            taken = [f.result() for f in [pool.submit(worker._take) for _ in range(4)]]
    finally:
        store.claim_outbox_batch, store.claim_outbox = batch, single  # type: ignore[method-assign]
    assert sorted(asked) == [1, 1, 1, 4]
    assert all(row is not None for row in taken)
    assert len(worker._claimed) == 3  # the first claim's rows for its siblings
    with runtime.store.reading() as tx:
        statuses = sorted(r.status for r in tx.list_outbox())
    assert statuses == ["delivering"] * 7 + ["pending"]
    worker.stop()


def test_rows_claimed_for_sibling_threads_are_given_back_when_the_worker_stops(client, runtime):  # type: ignore[no-untyped-def]
    """A claim for four idle threads, and the worker stops before three of them took theirs: those
    three are pending again at once, their attempt not spent, for any worker to take."""
    for n in range(2):
        escalate(client, f"evt-{n}", f"conv-{n}")  # four rows, in four lanes
    worker = Worker(runtime, concurrency=4)
    # its four threads, as start() lists them, already finished: the claim counts them idle
    worker._threads = [threading.Thread(target=lambda: None) for _ in range(4)]
    for thread in worker._threads:
        thread.start()
    taken = worker._take()
    assert taken is not None
    worker.stop()
    with runtime.store.reading() as tx:
        rows = {r.id: r for r in tx.list_outbox()}
    assert (rows[taken.id].status, rows[taken.id].attempts) == ("delivering", 1)
    others = [r for i, r in rows.items() if i != taken.id]
    assert [(r.status, r.attempts, r.claimed_by) for r in others] == [("pending", 0, None)] * 3
