"""Real processes: `handoff serve`, `handoff demo`, `handoff worker`; SIGKILL mid-delivery and mid-load."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
import yaml

from connector.store.sqlite import SqliteStore
from tests.helpers import API_KEY, SECRET, dumps, event, signed_headers

pytestmark = pytest.mark.slow
HANDOFF = str(Path(sys.executable).parent / "handoff")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path: Path, port: int, callback_url: str, **worker) -> Path:  # type: ignore[no-untyped-def]
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "store": {"path": str(tmp_path / "e2e.db")},
        "security": {"api_keys": [API_KEY]},
        "sources": {"demo": {"secret": SECRET, "callback_url": callback_url}},
        "worker": {"backoff_initial_seconds": 0.2, "backoff_max_seconds": 2, **worker},
        "logging": {"level": "WARNING"},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start(args: list[str], tmp_path: Path, name: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    with open(tmp_path / f"{name}.log", "wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen([HANDOFF, *args], stdout=log, stderr=subprocess.STDOUT, env=env)


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("server did not become healthy")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_demo_inbox_handback_callback(tmp_path, receiver):  # type: ignore[no-untyped-def]
    port = free_port()
    config = write_config(tmp_path, port, receiver.url)
    base = f"http://127.0.0.1:{port}"
    server = start(["serve", "--config", str(config)], tmp_path, "serve")
    try:
        wait_healthy(base, server)
        demo = subprocess.run(
            [HANDOFF, "demo", "--config", str(config)], capture_output=True, text=True, timeout=60
        )
        assert demo.returncode == 0, demo.stderr
        assert "escalate=True" in demo.stdout and "human_request" in demo.stdout
        inbox_url = demo.stdout.strip().splitlines()[-1].split("inbox: ")[1]
        handoff_id = inbox_url.split("/inbox/")[1].split("?")[0]
        # the in-process worker files it in the inbox without being polled
        deadline = time.monotonic() + 10
        while "inbox #1" not in (page := requests.get(inbox_url, timeout=5).text):
            assert time.monotonic() < deadline, page[:500]
            time.sleep(0.05)
        assert "Dana Whitfield" in page
        back = requests.post(
            f"{base}/v1/handoffs/{handoff_id}/handback",
            timeout=5,
            headers={"Authorization": f"Bearer {API_KEY}"},
            json={"actor": "agent.sam", "note": "Refunded the duplicate $480."},
        )
        assert back.status_code == 200
        callbacks = receiver.wait_for(3)
        # delivery threads run in parallel: bots order control changes by their version
        handed = [c["json"] for c in callbacks if c["json"]["type"] == "conversation.handed_back"]
        assert len(handed) == 1 and handed[0]["note"] == "Refunded the duplicate $480."
        versions = sorted(
            c["json"]["version"] for c in callbacks if c["json"]["type"] == "control.changed"
        )
        assert versions == [2, 3]
        audit = subprocess.run(
            [HANDOFF, "audit", "--config", str(config), handed[0]["conversation_id"]],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert audit.returncode == 0 and "handback" in audit.stdout
    finally:
        stop(server)
    assert server.returncode == 0


def test_worker_killed_mid_delivery_loses_nothing(tmp_path, receiver):  # type: ignore[no-untyped-def]
    port = free_port()
    config = write_config(tmp_path, port, receiver.url, concurrency=2, claim_timeout_seconds=1)
    base = f"http://127.0.0.1:{port}"
    server = start(["serve", "--no-worker", "--config", str(config)], tmp_path, "api")
    conversations = 12
    try:
        wait_healthy(base, server)
        for i in range(conversations):
            raw = dumps(event(f"conv-{i}", f"evt-{i}"))
            assert (
                requests.post(
                    f"{base}/v1/events", data=raw, headers=signed_headers(raw), timeout=10
                ).status_code
                == 200
            )
        receiver.delay = 0.15  # deliveries are in flight long enough to be cut
        worker = start(["worker", "--config", str(config)], tmp_path, "worker1")
        deadline = time.monotonic() + 20
        while len(receiver.delivery_ids()) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        seen_at_kill = len(receiver.delivery_ids())
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
        with store.reading() as tx:
            callbacks = {r.idempotency_key for r in rows if r.kind == "callback"}
            inbox = [tx.get_inbox_item(h.id) for h in tx.list_handoffs(limit=1000)]
        store.close()
    finally:
        stop(server)
    assert seen_at_kill < 2 * conversations  # the kill really happened mid-way
    ids = Counter(receiver.delivery_ids())
    assert set(ids) == callbacks and len(callbacks) == conversations  # every row arrived
    # a request cut by the kill is sent again (at least once); the receiver dedupes by delivery id,
    # and only the rows in flight at the kill can repeat
    assert sum(n - 1 for n in ids.values()) <= 2
    assert (
        all(item is not None for item in inbox)
        and len({i["number"] for i in inbox}) == conversations
    )


def test_a_separate_worker_serves_its_own_metrics(tmp_path, receiver):  # type: ignore[no-untyped-def]
    port, metrics_port = free_port(), free_port()
    config = write_config(tmp_path, port, receiver.url, metrics_port=metrics_port)
    base = f"http://127.0.0.1:{port}"
    server = start(["serve", "--no-worker", "--config", str(config)], tmp_path, "api")
    worker = None
    try:
        wait_healthy(base, server)
        for i in range(3):
            raw = dumps(event(f"conv-{i}", f"evt-{i}"))
            assert (
                requests.post(
                    f"{base}/v1/events", data=raw, headers=signed_headers(raw), timeout=10
                ).status_code
                == 200
            )
        worker = start(["worker", "--config", str(config)], tmp_path, "worker")
        delivered = 'handoff_deliveries_total{destination="local",kind="destination",outcome="delivered"} 3.0'
        deadline = time.monotonic() + 20
        text = ""
        while delivered not in text:
            assert time.monotonic() < deadline, text or "the worker's metrics port never answered"
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            try:
                text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1).text
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        assert "handoff_outbox_depth" in text  # the store gauges too
        # the API process delivered nothing itself, so its counters show none of it
        assert 'outcome="delivered"' not in requests.get(f"{base}/metrics", timeout=5).text
        # a port already taken is one readable line and a non-zero exit
        busy = start(["worker", "--config", str(config)], tmp_path, "busy")
        assert busy.wait(20) == 1
        log = (tmp_path / "busy.log").read_text()
        assert (
            f"error: cannot serve metrics on 127.0.0.1:{metrics_port}" in log
            and "Traceback" not in log
        )
    finally:
        if worker is not None:
            stop(worker)
        stop(server)


@pytest.mark.parametrize(
    "stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"]
)
def test_serve_stopped_under_load_loses_and_duplicates_nothing(tmp_path, receiver, stop_signal):  # type: ignore[no-untyped-def]
    """Stop the API (with its in-process worker) while clients post; restart; bots retry.

    SIGTERM must also end the process by itself: it used to hang on the clients' keep-alive
    connections, with its running requests failing on a closed pipe."""
    port = free_port()
    config = write_config(tmp_path, port, receiver.url, claim_timeout_seconds=1)
    base = f"http://127.0.0.1:{port}"
    answers: dict[str, list[dict]] = {}
    unanswered: set[str] = set()
    bodies: dict[str, bytes] = {}
    lock = threading.Lock()
    halt = threading.Event()

    def post(session: requests.Session, eid: str) -> None:
        try:
            r = session.post(
                f"{base}/v1/events",
                data=bodies[eid],
                headers=signed_headers(bodies[eid]),
                timeout=10,
            )
        except requests.RequestException:  # refused, reset, or cut mid-answer
            with lock:
                unanswered.add(eid)
            return
        assert r.status_code == 200, r.text  # never a 5xx, even mid-crash
        with lock:
            answers.setdefault(eid, []).append(r.json())

    def client(n: int) -> None:
        session = requests.Session()
        i = 0
        while not halt.is_set():
            eid = f"evt-{n}-{i}"
            with lock:
                bodies[eid] = dumps(event(f"conv-{n}-{i}", eid))  # every event escalates
            post(session, eid)
            i += 1

    server = start(["serve", "--config", str(config)], tmp_path, "serve1")
    try:
        wait_healthy(base, server)
        clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for c in clients:
            c.start()
        deadline = time.monotonic() + 30
        while len(answers) < 40:
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.01)
        server.send_signal(stop_signal)
        code = server.wait(30)
        halt.set()
        for c in clients:
            c.join()
        server = start(["serve", "--config", str(config)], tmp_path, "serve2")
        wait_healthy(base, server)
        session = requests.Session()
        answered_before = sorted(answers)
        for eid in sorted(unanswered) + answered_before[:10]:  # bots retry what got no answer
            post(session, eid)
        assert not (unanswered - set(answers)), "a retry after the restart got no answer"
        store = SqliteStore(tmp_path / "e2e.db")
        deadline = time.monotonic() + 30
        while True:
            with store.reading() as tx:
                rows = tx.list_outbox(limit=10_000)
            if all(r.status == "done" for r in rows):
                break
            assert time.monotonic() < deadline, [(r.id, r.status, r.last_error) for r in rows]
            time.sleep(0.05)
        with store.reading() as tx:
            handoffs = tx.list_handoffs(limit=10_000)
            stored = {eid for eid in answers if tx.get_event("demo", eid) is not None}
            inbox = [tx.get_inbox_item(h.id) for h in handoffs]
        store.close()
        verify = subprocess.run(
            [HANDOFF, "audit", "verify", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        halt.set()
        stop(server)
    assert code == (0 if stop_signal == signal.SIGTERM else -signal.SIGKILL)
    if stop_signal == signal.SIGTERM:
        log = (tmp_path / "serve1.log").read_text()
        assert "Traceback" not in log and "Bad file descriptor" not in log, log[-2000:]
    assert stored == set(answers)  # every answered event is kept
    for eid in answered_before[:10]:  # a repeat gets the first answer: same decision, same handoff
        first, repeat = answers[eid][0], answers[eid][-1]
        assert repeat["duplicate"] and repeat["handoff"]["id"] == first["handoff"]["id"]
    ids = {a[0]["handoff"]["id"] for a in answers.values()}
    assert ids == {h.id for h in handoffs} and len(handoffs) == len(answers)  # one per conversation
    assert all(i is not None for i in inbox) and len({i["number"] for i in inbox}) == len(handoffs)
    callbacks = {r.idempotency_key for r in rows if r.kind == "callback"}
    assert len(callbacks) == len(handoffs) and callbacks <= set(receiver.delivery_ids())
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_serve_on_a_taken_or_impossible_port_says_so_in_one_line(tmp_path, receiver):  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, port, receiver.url)
        server = start(["serve", "--config", str(config)], tmp_path, "taken")
        assert server.wait(20) == 1
    log = (tmp_path / "taken.log").read_text()
    assert f"error: cannot listen on 127.0.0.1:{port}: Address already in use" in log
    assert "Traceback" not in log and "listening on" not in log
    # a port out of range is refused before anything starts (it used to wrap around: 70000 → 4464)
    out = subprocess.run(
        [HANDOFF, "serve", "--config", str(config), "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "70000 is not in the range 1<=x<=65535" in out.stderr
    # a host that does not resolve is one line too (".invalid" never resolves, RFC 6761)
    out = subprocess.run(
        [HANDOFF, "serve", "--config", str(config), "--host", "no-such-host.invalid"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "error: cannot listen on no-such-host.invalid:" in out.stderr
    assert "Traceback" not in out.stderr
