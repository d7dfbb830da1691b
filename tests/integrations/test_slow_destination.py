"""One slow helpdesk cannot hold every delivery thread (issue 13, item 3: per-destination concurrency).

A real, slow Zendesk stand-in (each create takes a bounded fifth of a second) and a worker with two
threads, each destination allowed one: the creates never overlap, the bot's callbacks are served
meanwhile, and a row held back because its destination was busy keeps its attempts. And an attempt
that runs past the claim's lease keeps its claim (a heartbeat renews it): the row is never handed
to a second worker while the first attempt can still be running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.app import create_app
from connector.delivery import Worker
from connector.runtime import build_runtime
from tests.helpers import drain, event, make_settings, post_event

pytest.importorskip("zenpy")

from tests.integrations.test_zendesk import TICKET_FIELDS, zd_config  # noqa: E402
from tests.standins.fixtures import _serve  # noqa: E402
from tests.standins.zendesk import ZendeskStandin  # noqa: E402

SLOW = 0.2  # seconds per create: slow, and bounded


class SlowZendesk(ZendeskStandin):
    """Creates take ``SLOW`` seconds; ``most_at_once`` is the most creates ever in flight together."""

    def __init__(self) -> None:
        super().__init__(ticket_fields=TICKET_FIELDS)
        self.in_flight = self.most_at_once = 0
        self._count = threading.Lock()

    def _dispatch(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        # outside the stand-in's lock (handlers run under it): a slow server, not a serial one
        if not (method == "POST" and path.startswith("/api/v2/tickets")):
            return super()._dispatch(method, path, headers, body)
        with self._count:
            self.in_flight += 1
            self.most_at_once = max(self.most_at_once, self.in_flight)
        try:
            time.sleep(SLOW)
            return super()._dispatch(method, path, headers, body)
        finally:
            with self._count:
                self.in_flight -= 1


@pytest.fixture
def slow(vendor_specs: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from _serve(SlowZendesk(), monkeypatch)


def test_a_slow_destination_holds_at_most_its_share_of_threads(tmp_path, receiver, clock, slow):  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path,
        receiver.url,
        destinations={"zendesk": zd_config(slow, timeout_seconds=5)},
        worker={"concurrency": 2, "per_destination_concurrency": 1},
        reminders={"enabled": False},
    )
    runtime = build_runtime(settings)  # the real clock: the worker's threads run for real here
    client = create_app(runtime=runtime).test_client()
    for i in range(3):
        assert post_event(client, event(f"conv-slow-{i}", f"evt-slow-{i}")).status_code == 200
    worker = Worker(runtime, worker_id="slow-test")
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while len(slow.tickets) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        with runtime.store.reading() as tx:
            rows = [r for r in tx.list_outbox() if r.kind == "destination"]
    finally:
        worker.stop()
        runtime.close()
    assert len(slow.tickets) == 3
    assert slow.most_at_once == 1  # the second thread never joined the slow destination
    assert [r.attempts for r in rows] == [1, 1, 1]  # waiting for a thread spent no attempt
    assert len(receiver.accepted()) >= 3  # the bot's callbacks went out meanwhile


class HeldZendesk(ZendeskStandin):
    """Creates wait until the test releases them (bounded), so an attempt runs as long as needed."""

    def __init__(self) -> None:
        super().__init__(ticket_fields=TICKET_FIELDS)
        self.arrived, self.release = threading.Event(), threading.Event()

    def _dispatch(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        if method == "POST" and path.startswith("/api/v2/tickets"):
            self.arrived.set()
            self.release.wait(5)  # bounded: a broken test cannot hang the suite
        return super()._dispatch(method, path, headers, body)


@pytest.fixture
def held(vendor_specs: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    server = HeldZendesk()
    try:
        yield from _serve(server, monkeypatch)
    finally:
        server.release.set()


def test_a_running_attempt_keeps_its_claim_past_the_lease(tmp_path, receiver, clock, held):  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path,
        receiver.url,
        destinations={"zendesk": zd_config(held, timeout_seconds=5)},
        worker={"claim_timeout_seconds": 30},
        reminders={"enabled": False},
    )
    runtime = build_runtime(settings, clock=clock)
    try:
        client = create_app(runtime=runtime).test_client()
        assert post_event(client, event("conv-held", "evt-held")).status_code == 200
        with runtime.store.reading() as tx:
            [row] = [r for r in tx.list_outbox() if r.kind == "destination"]
        first, second = Worker(runtime, worker_id="first"), Worker(runtime, worker_id="second")
        first.heartbeat_seconds = 0.02
        running = threading.Thread(target=lambda: drain(first))
        running.start()
        assert held.arrived.wait(5)  # the first worker's create is at the (held) vendor
        clock.advance(31)  # past the lease: without a heartbeat the row would be claimable now
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # bounded: until a beat has renewed it on the new clock
            with runtime.store.reading() as tx:
                expires = tx.get_outbox(row.id).claim_expires_at
            if expires is not None and expires > clock().timestamp():
                break
            time.sleep(0.01)
        taken = []
        while (claimed := second.run_once()) is not None:
            taken.append(claimed.id)
        assert row.id not in taken  # never handed out while the first attempt runs
        held.release.set()
        running.join(10)
        with runtime.store.reading() as tx:
            done = tx.get_outbox(row.id)
        assert (done.status, done.attempts, len(held.tickets)) == ("done", 1, 1)
    finally:
        held.release.set()
        runtime.close()
