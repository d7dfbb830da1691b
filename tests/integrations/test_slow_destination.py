"""One slow helpdesk cannot hold every delivery thread (issue 13, item 3: per-destination concurrency).

A real, slow Zendesk stand-in (each create takes a bounded fifth of a second) and a worker with two
threads, each destination allowed one: the creates never overlap, the bot's callbacks are served
meanwhile, and a row held back because its destination was busy keeps its attempts.
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
from tests.helpers import event, make_settings, post_event

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
    settings = make_settings(tmp_path, receiver.url, destinations={"zendesk": zd_config(slow, timeout_seconds=5)},
                             worker={"concurrency": 2, "per_destination_concurrency": 1},
                             reminders={"enabled": False})
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
