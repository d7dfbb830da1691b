"""Slow peers: idle and dripping sockets must not stop `handoff serve` from answering."""

from __future__ import annotations

import gc
import resource
import signal
import socket

import pytest
import requests
from waitress import wasyncore

from connector import serving
from tests.helpers import dumps, event, signed_headers
from tests.test_cli_e2e import free_port, start, stop, wait_healthy, write_config

SLOW_SOCKETS = 300  # three times waitress's default connection limit; bounded, 127.0.0.1 only


@pytest.mark.slow
def test_serve_answers_events_and_healthz_under_hundreds_of_slow_sockets(tmp_path, receiver):  # type: ignore[no-untyped-def]
    port = free_port()
    config = write_config(tmp_path, port, receiver.url)
    base = f"http://127.0.0.1:{port}"
    server = start(["serve", "--config", str(config)], tmp_path, "serve")
    slow: list[socket.socket] = []
    try:
        wait_healthy(base, server)
        for i in range(SLOW_SOCKETS):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:  # half send the start of a request that never ends; half say nothing at all
                s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: ")
            slow.append(s)
        for s in slow[1::2]:
            s.sendall(b"a")  # one more drop: still sending, never finished
        session = requests.Session()
        assert session.get(f"{base}/healthz", timeout=5).status_code == 200
        for n in range(5):
            body = dumps(event(f"conv-slow-{n}", f"evt-slow-{n}"))
            answer = session.post(
                f"{base}/v1/events", data=body, headers=signed_headers(body), timeout=5
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["event_id"] == f"evt-slow-{n}"
    finally:
        for s in slow:
            s.close()
        stop(server)
    assert server.returncode == 0
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


@pytest.mark.slow
def test_serve_stops_cleanly_on_sigterm_with_more_than_1024_sockets_open(tmp_path, receiver):  # type: ignore[no-untyped-def]
    """The shutdown's flush loop used select(), which fails past descriptor 1024: a traceback, exit 1."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 1400:
        if hard != resource.RLIM_INFINITY and hard < 1400:
            pytest.skip("this process may not open 1,100 sockets")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1400, hard))
    port = free_port()
    config = write_config(tmp_path, port, receiver.url)
    server = start(["serve", "--config", str(config)], tmp_path, "serve")
    idle: list[socket.socket] = []
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(1100)]
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        server.send_signal(signal.SIGTERM)
        code = server.wait(30)
    finally:
        for s in idle:
            s.close()
        stop(server)
    log = (tmp_path / "serve.log").read_text()
    assert code == 0 and "Traceback" not in log, log[-1500:]


def _pump(server, until, rounds: int = 200) -> None:  # type: ignore[no-untyped-def]
    """Turn waitress's loop by hand (no thread, no sleep) until ``until()`` holds."""
    for _ in range(rounds):
        if until():
            return
        wasyncore.loop(timeout=0.01, map=server._map, count=1, use_poll=True)
    raise AssertionError("waitress never got there")


def test_a_request_dripping_past_request_timeout_is_closed_an_idle_keepalive_is_not(app):  # type: ignore[no-untyped-def]
    """The request timeout counts from a request's first byte; the clock is waitress's ``now``."""
    server = serving.create_server(
        app,
        host="127.0.0.1",
        port=0,
        threads=1,
        max_body_bytes=1024,
        channel_timeout=60,
        request_timeout=30,
    )
    port = server.effective_port
    drip, idle = (socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2))
    try:
        drip.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: a")

        def channels() -> list:  # type: ignore[type-arg]
            return list(server.active_channels.values())

        _pump(
            server, lambda: len(channels()) == 2 and any(c.request is not None for c in channels())
        )
        dripping = next(c for c in channels() if c.request is not None)
        waiting = next(c for c in channels() if c.request is None)
        started = dripping.request.started
        server.maintenance(started + 29)
        assert not dripping.will_close and not waiting.will_close
        server.maintenance(started + 31)  # drips keep it active, but the request is overdue
        assert dripping.will_close and not waiting.will_close  # idle for 31 s < channel_timeout
        server.maintenance(waiting.last_activity + 61)
        assert waiting.will_close
    finally:
        drip.close()
        idle.close()
        serving.close_all(server)


INF = resource.RLIM_INFINITY


@pytest.mark.parametrize(
    ("soft", "hard", "limit", "expected"),
    [
        pytest.param(1024, 4096, 1000, (1128, 1000), id="raise-soft-to-fit"),
        pytest.param(20000, 20000, 4000, (20000, 4000), id="already-enough-never-lowered"),
        pytest.param(1024, 2048, 4000, (2048, 1920), id="hard-too-low-shrinks-the-limit"),
        pytest.param(1024, INF, 4000, (4128, 4000), id="unlimited-hard"),
        pytest.param(INF, INF, 4000, (INF, 4000), id="unlimited-soft"),
        pytest.param(64, 64, 1000, (64, 1), id="tiny-hard-still-serves-one"),
    ],
)
def test_fit_open_file_limit(soft: int, hard: int, limit: int, expected: tuple[int, int]) -> None:
    assert serving.fit_open_file_limit(soft, hard, limit) == expected


def test_serving_uses_poll_so_descriptors_past_1024_work(app) -> None:  # type: ignore[no-untyped-def]
    server = serving.create_server(
        app, host="127.0.0.1", port=0, threads=1, max_body_bytes=1024, connection_limit=2000
    )
    try:
        assert server.adj.asyncore_use_poll and server.adj.connection_limit == 2000
    finally:
        serving.close_all(server)


def test_serving_keeps_what_start_up_built_out_of_the_collectors_full_passes(app) -> None:  # type: ignore[no-untyped-def]
    """The app, its settings and the warmed-up policy live as long as the process: frozen before
    the loop starts, so full garbage collections stop re-scanning them on every pass."""
    server = serving.create_server(app, host="127.0.0.1", port=0, threads=1, max_body_bytes=1024)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    seen: dict[str, int] = {}
    # the loop itself is exercised above and in test_cli_e2e; here, what happens before it runs
    server.run = lambda: seen.setdefault("frozen", gc.get_freeze_count())
    gc.unfreeze()
    try:
        serving.run_until_signalled(server)
    finally:
        gc.unfreeze()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        serving.close_all(server)
    assert seen["frozen"] > 1000  # the modules, the app and its runtime, not a handful


def test_closing_the_server_closes_its_connections_before_its_wake_up_pipe(app) -> None:  # type: ignore[no-untyped-def]
    """A request still running (a live view's stream) wakes the loop by writing to the pipe by
    its number: closed first, its connection ends the request at its next write; closed after the
    pipe, that write lands in whatever file took the pipe's number since (a test's SQLite file
    lost its first bytes that way: "file is not a database")."""
    server = serving.create_server(app, host="127.0.0.1", port=0, threads=1, max_body_bytes=1024)
    clients = [socket.create_connection(("127.0.0.1", server.effective_port)) for _ in range(2)]
    try:
        _pump(server, lambda: len(server.active_channels) == 2)
        channels = list(server.active_channels.values())
        still_open: list[list[bool]] = []  # at each close of the pipe: which connections were open
        trigger_close = server.trigger.close

        def close_pipe() -> None:
            still_open.append([c.connected for c in channels])
            trigger_close()

        server.trigger.close = close_pipe
        serving.close_all(server)
        assert still_open and still_open[0] == [False, False]
        assert not server._map
    finally:
        for client in clients:
            client.close()
        server.task_dispatcher.shutdown(timeout=5)
