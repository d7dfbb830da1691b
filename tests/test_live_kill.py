"""Real processes: a worker killed with SIGKILL between two agent messages loses nothing and
breaks no order: the bot receives every ``agent.message``, each id kept once, in the order written.
"""

from __future__ import annotations

import signal
import time

import pytest
import requests

from connector.store.sqlite import SqliteStore
from tests.helpers import API_KEY, dumps, event, signed_headers
from tests.test_cli_e2e import free_port, start, stop, wait_healthy, write_config

pytestmark = pytest.mark.slow
AGENT = {"Authorization": f"Bearer {API_KEY}"}


def test_worker_killed_between_agent_messages_keeps_order_and_exactly_once(tmp_path, receiver):  # type: ignore[no-untyped-def]
    port = free_port()
    # four delivery threads: without the conversation's lane, the messages would race each other
    config = write_config(tmp_path, port, receiver.url, concurrency=4, claim_timeout_seconds=1)
    base = f"http://127.0.0.1:{port}"
    server = start(["serve", "--no-worker", "--config", str(config)], tmp_path, "api")
    texts = [f"message {i}" for i in range(1, 6)]
    try:
        wait_healthy(base, server)
        raw = dumps(event())
        handoff_id = requests.post(
            f"{base}/v1/events", data=raw, headers=signed_headers(raw), timeout=10
        ).json()["handoff"]["id"]
        assert (
            requests.post(
                f"{base}/v1/handoffs/{handoff_id}/claim",
                json={"actor": "mia"},
                headers=AGENT,
                timeout=10,
            ).status_code
            == 200
        )
        ids = []
        for i, text in enumerate(texts):
            answer = requests.post(
                f"{base}/v1/handoffs/{handoff_id}/messages",
                json={"text": text, "actor": "mia"},
                headers={**AGENT, "Idempotency-Key": f"k{i}"},
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
        receiver.delay = 0.5  # each delivery is in flight long enough to be cut
        worker = start(["worker", "--config", str(config)], tmp_path, "worker1")
        deadline = time.monotonic() + 20
        while not any(r["json"]["type"] == "agent.message" for r in receiver.accepted()):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        worker.send_signal(
            signal.SIGKILL
        )  # message 1 reached the bot; its outcome was never recorded
        worker.wait()
        receiver.delay = 0.0
        worker = start(["worker", "--config", str(config)], tmp_path, "worker2")
        store = SqliteStore(tmp_path / "e2e.db")
        deadline = time.monotonic() + 30
        while True:
            with store.reading() as tx:
                rows = tx.list_outbox(limit=1000)
            if rows and all(r.status == "done" for r in rows):
                break
            assert time.monotonic() < deadline, [(r.id, r.status, r.last_error) for r in rows]
            time.sleep(0.05)
        stop(worker)
        store.close()
    finally:
        stop(server)
    arrivals = [
        r["json"]["id"] for r in receiver.accepted() if r["json"]["type"] == "agent.message"
    ]
    kept = list(dict.fromkeys(arrivals))  # the receiver keeps the first copy of each id
    assert kept == ids
    assert [ids.index(i) for i in arrivals] == sorted(
        ids.index(i) for i in arrivals
    )  # no copy overtook
    assert len(arrivals) - len(ids) <= 1  # only the message in flight at the kill came twice
    texts_seen = [
        r["json"]["text"] for r in receiver.accepted() if r["json"]["type"] == "agent.message"
    ]
    assert list(dict.fromkeys(texts_seen)) == texts
