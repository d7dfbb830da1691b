"""Two API replicas and two workers on one PostgreSQL database, real processes and sockets, with a
replica and a worker killed (SIGKILL) mid-burst and restarted: nothing lost, nothing doubled."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml
from click.testing import CliRunner

from connector.cli import main
from connector.store.postgres import PostgresStore
from tests import pg
from tests.helpers import API_KEY, SECRET, Receiver, dumps, event, signed_headers
from tests.test_cli_e2e import free_port, start, stop, wait_healthy

pytestmark = pytest.mark.slow
CONVERSATIONS = 50
HOT_EVENTS = 50  # concurrent events on one conversation


def write_config(tmp_path: Path, name: str, url: str, port: int, callback_url: str) -> Path:
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "store": {"url": url, "pool_size": 4},
        "security": {"api_keys": [API_KEY]},
        "sources": {"demo": {"secret": SECRET, "callback_url": callback_url}},
        "worker": {
            "backoff_initial_seconds": 0.2,
            "backoff_max_seconds": 2,
            "concurrency": 2,
            "claim_timeout_seconds": 2,
        },
        "logging": {"level": "WARNING"},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


class Replicas:
    """The two API processes behind a client that, like a load balancer, sends each request to
    the next live replica and, when a connection fails, to the other one."""

    def __init__(self, tmp_path: Path, url: str, callback_url: str):
        self.tmp_path = tmp_path
        self.ports = [free_port(), free_port()]
        self.configs = [
            write_config(tmp_path, f"api{i}", url, port, callback_url)
            for i, port in enumerate(self.ports)
        ]
        self.procs = [
            start(["serve", "--no-worker", "--config", str(c)], tmp_path, f"api{i}")
            for i, c in enumerate(self.configs)
        ]
        self.turn = 0
        self.lock = threading.Lock()

    def base(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def post_event(self, body: dict) -> int:
        raw = dumps(body)
        with self.lock:
            self.turn += 1
            first = self.turn % 2
        for attempt in range(40):
            i = (first + attempt) % 2
            try:
                return requests.post(
                    f"{self.base(i)}/v1/events", data=raw, headers=signed_headers(raw), timeout=30
                ).status_code
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                # that replica is down (or was killed half-way through its answer): the other one
                # (or it, restarted) answers; a repeated event gets the answer it was first given
                time.sleep(0.05)
        raise AssertionError("no replica answered")

    def kill_and_restart(self, i: int, tmp_path: Path) -> None:
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()
        self.procs[i] = start(
            ["serve", "--no-worker", "--config", str(self.configs[i])], tmp_path, f"api{i}-again"
        )


def test_two_replicas_and_two_workers_lose_nothing_and_double_nothing_through_kills(
    tmp_path: Path,
) -> None:
    receiver = Receiver()
    receiver.delay = 0.02  # deliveries are in flight when the worker is killed
    with pg.fresh_url() as url:
        replicas = Replicas(tmp_path, url, receiver.url)  # both migrate at once: the advisory lock
        workers = [
            start(["worker", "--config", str(replicas.configs[i])], tmp_path, f"worker{i}")
            for i in range(2)
        ]
        try:
            for i in range(2):
                wait_healthy(replicas.base(i), replicas.procs[i])
            bodies = [event(f"conv-{n}", f"evt-{n}") for n in range(CONVERSATIONS)]
            bodies += [event("conv-hot", f"hot-{n}") for n in range(HOT_EVENTS)]
            sent = threading.Semaphore(0)

            def post(body: dict) -> tuple[str, int]:
                status = replicas.post_event(body)
                sent.release()
                return body["id"], status

            with ThreadPoolExecutor(16) as pool:
                futures = [pool.submit(post, body) for body in bodies]
                for _ in range(len(bodies) // 3):  # a third in: kill a replica and a worker
                    sent.acquire(timeout=60)
                replicas.kill_and_restart(0, tmp_path)
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait()
                workers[0] = start(
                    ["worker", "--config", str(replicas.configs[0])], tmp_path, "worker0-again"
                )
                answers = dict(f.result() for f in futures)
            assert set(answers.values()) == {200}, Counter(answers.values())
            wait_healthy(replicas.base(0), replicas.procs[0])

            store = PostgresStore(url)
            deadline = time.monotonic() + 60
            while True:
                with store.reading() as tx:
                    rows = tx.list_outbox(limit=10_000)
                if rows and all(r.status == "done" for r in rows):
                    break
                assert time.monotonic() < deadline, Counter(r.status for r in rows)
                time.sleep(0.1)
            with store.reading() as tx:
                handoffs = tx.list_handoffs(limit=10_000)
                stored = [tx.get_event("demo", event_id) for event_id in answers]
                hot = {m.id for m in tx.list_messages("conv-hot")}
                inbox = [tx.get_inbox_item(h.id) for h in handoffs]
            store.close()
        finally:
            for proc in (*replicas.procs, *workers):
                stop(proc)
            receiver.close()

        by_conversation = Counter(h.conversation_id for h in handoffs)
        assert len(by_conversation) == CONVERSATIONS + 1 and set(by_conversation.values()) == {1}
        assert all(item is not None for item in inbox)  # one ticket per handoff, numbered once each
        assert len({item["number"] for item in inbox if item}) == len(handoffs)
        assert all(answer is not None for answer in stored)  # every accepted event is stored
        assert hot == {f"hot-{n}-m{k}" for n in range(HOT_EVENTS) for k in (1, 2, 3)}
        callbacks = {r.idempotency_key for r in rows if r.kind == "callback"}
        ids = Counter(receiver.delivery_ids())
        assert set(ids) == callbacks  # every callback delivered
        # A request cut by the kill is sent again (at least once); the receiver applies a delivery
        # id once. Only rows in flight at the kill (two threads of one worker) may repeat.
        assert sum(n - 1 for n in ids.values()) <= 2
        verified = CliRunner().invoke(main, ["audit", "verify"], env={"HANDOFF_STORE_URL": url})
        assert verified.exit_code == 0, verified.output
