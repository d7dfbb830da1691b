"""Bursts: 50 handoffs within one second to each vendor at its documented default rate limit.

Through the real SDKs against the stand-ins (which validate every request against the vendor's
published spec), with two replicas (two runtimes, two destination objects, two workers) on one
store, so the rate-limit budget they share is the store's. The clock is the test's: the limiter
reads it, so "how long the burst took" is the connector's schedule, not this machine's speed.

Every handoff must be delivered exactly once, none dead-lettered, in at most the time the vendor's
limit implies (the requests made, less the bucket's size, at the limit's rate) plus 20 %.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connector.app import create_app
from connector.delivery import Worker
from connector.runtime import Runtime, build_runtime
from tests.helpers import Clock, Receiver, dumps, event, make_settings, signed_headers

BURST = 50


@dataclass
class Drained:
    """What a burst took: the clock's seconds from the first handoff to the last delivery, and
    the theoretical minimum for the requests the vendor saw."""

    seconds: float
    minimum: float
    requests: int
    dead: int
    deferred_attempts: int


def run_burst(
    tmp_path: Path,
    receiver: Receiver,
    clock: Clock,
    name: str,
    config: dict[str, Any],
    conversation_ids: list[str],
    channel: str,
    vendor_requests: Callable[[], int],
) -> Drained:
    """Post ``BURST`` handoffs in one second, drain them with two workers on two runtimes; measure."""
    # a generous real-time timeout: a loaded test machine must not turn into an ambiguous failure
    config = {**config, "timeout_seconds": 5}
    settings = make_settings(
        tmp_path, receiver.url, destinations={name: config}, reminders={"enabled": False}
    )  # only the burst's rows in the outbox
    replicas = [build_runtime(settings, clock=clock) for _ in range(2)]
    try:
        for runtime in replicas:
            limiter = runtime.destinations[name].limiter
            limiter.clock = lambda: clock().timestamp()
            limiter.max_wait = 0.0  # never sleep: defer, and let the test's clock move
        client = create_app(runtime=replicas[0]).test_client()
        workers = [
            Worker(rt, concurrency=1, worker_id=f"replica-{i}") for i, rt in enumerate(replicas)
        ]
        start = clock().timestamp()
        for i, conversation in enumerate(conversation_ids):
            body = event(conversation, f"evt-burst-{i}")
            body["conversation"]["channel"] = channel
            raw = dumps(body)
            answer = client.post("/v1/events", data=raw, headers=signed_headers(raw))
            assert answer.status_code == 200, answer.get_json()
            for worker in workers:  # the workers run while the burst arrives, as in production
                worker.run_once()
            clock.advance(1.0 / len(conversation_ids))  # all within one second
        drain_with_clock(workers, replicas[0], clock)
        with replicas[0].store.reading() as tx:
            rows = [r for r in tx.list_outbox(limit=10_000) if r.kind == "destination"]
        assert len(rows) == len(conversation_ids) and all(r.status == "done" for r in rows)
        limiter = replicas[0].destinations[name].limiter
        made = vendor_requests()
        return Drained(
            seconds=max(r.updated_at for r in rows) - start,
            minimum=max(0.0, made - limiter.capacity) / limiter.rate,
            requests=made,
            dead=sum(r.status == "dead" for r in rows),
            deferred_attempts=max(r.attempts for r in rows),
        )
    finally:
        for runtime in replicas:
            close = getattr(runtime.destinations[name], "close", None)
            if close is not None:
                close()
            runtime.close()


def drain_with_clock(
    workers: list[Worker], runtime: Runtime, clock: Clock, limit: int = 20_000
) -> None:
    """The workers take turns; when none has anything due, the clock jumps to the next due row."""
    for _ in range(limit):
        if any([w.run_once() is not None for w in workers]):
            continue
        with runtime.store.reading() as tx:
            due = tx.next_due_at()
        if due is None:
            return
        clock.advance(max(0.0, due - clock().timestamp()) + 1e-6)
    raise AssertionError("the outbox did not drain")


def check(drained: Drained) -> None:
    assert drained.dead == 0
    assert drained.deferred_attempts == 1  # holding back never spent an attempt
    assert drained.minimum > 0, "the burst must be larger than the vendor's bucket to test anything"
    assert drained.seconds <= drained.minimum * 1.2, drained


# --- the vendors ----------------------------------------------------------------------------------


@pytest.fixture
def zendesk(vendor_specs: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from tests.integrations.test_zendesk import TICKET_FIELDS
    from tests.standins.fixtures import _serve
    from tests.standins.zendesk import ZendeskStandin

    yield from _serve(ZendeskStandin(ticket_fields=TICKET_FIELDS), monkeypatch)


def test_a_burst_to_zendesk_is_delivered_once_each_within_the_limit(
    tmp_path, receiver, clock, zendesk
):  # type: ignore[no-untyped-def]
    pytest.importorskip("zenpy")
    from tests.integrations.test_zendesk import zd_config

    config = zd_config(zendesk)
    del config["requests_per_minute"]  # the documented default
    drained = run_burst(
        tmp_path,
        receiver,
        clock,
        "zendesk",
        config,
        [f"conv-{i}" for i in range(BURST)],
        "web",
        lambda: len(zendesk.requests),
    )
    tickets = Counter(t.get("external_id") for t in zendesk.tickets.values())
    assert len(tickets) == BURST and set(tickets.values()) == {1}
    assert zendesk.validation_errors == []
    check(drained)


def test_a_burst_to_salesforce_is_delivered_once_each_within_the_limit(  # type: ignore[no-untyped-def]
    tmp_path, receiver, clock, salesforce_standin
):
    pytest.importorskip("simple_salesforce")
    from tests.integrations.test_salesforce import sf_config

    config = sf_config(salesforce_standin)
    del config["requests_per_minute"]
    drained = run_burst(
        tmp_path,
        receiver,
        clock,
        "salesforce",
        config,
        [f"conv-{i}" for i in range(BURST)],
        "web",
        lambda: len(salesforce_standin.requests),
    )
    cases = Counter(c.get("Handoff_Id__c") for c in salesforce_standin.find("Case"))
    assert len(cases) == BURST and set(cases.values()) == {1}
    assert salesforce_standin.validation_errors == []
    check(drained)


def test_a_burst_to_intercom_is_delivered_once_each_within_the_limit(
    tmp_path, receiver, clock, vendor_specs
):  # type: ignore[no-untyped-def]
    pytest.importorskip("intercom")
    from tests.integrations.test_intercom import HandoffIntercomStandin, intercom_config

    with HandoffIntercomStandin() as standin:
        config = intercom_config(standin)
        conversations = [standin.add_conversation() for _ in range(BURST)]
        before = len(standin.requests)
        drained = run_burst(
            tmp_path,
            receiver,
            clock,
            "intercom",
            config,
            conversations,
            "intercom",
            lambda: len(standin.requests) - before,
        )
        for conversation in conversations:
            notes = [n for n in standin.notes(conversation) if "handoff:" in n["body"]]
            assert len(notes) == 1
        assert standin.validation_errors == []
    assert standin.internal_errors == []
    check(drained)
