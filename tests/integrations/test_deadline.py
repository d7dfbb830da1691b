"""A total deadline on outbound calls (issue 13, item 3): a receiver that trickles its answer is cut off.

The receiver is real (a socket on 127.0.0.1) and bounded: it answers one byte every 50 ms for at
most three seconds. Each read gets a byte well within the per-read timeout, so only a deadline on
the whole call ends it; the test checks the call ended before the receiver finished.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from connector.config import WebhookChannelSettings
from integrations.alerts import WebhookNotifier
from integrations.base import TransientDeliveryError

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class Trickle:
    """Accepts one call at a time, reads its request, then answers a byte at a time."""

    def __init__(self, gap: float = 0.05, most: float = 3.0) -> None:
        self.gap, self.most = gap, most
        self.finished = threading.Event()  # a whole answer went out
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.server.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                padding = b"X-Slow: " + b"." * int(self.most / self.gap) + b"\r\n"
                answer = ANSWER.replace(b"\r\n\r\n", b"\r\n" + padding + b"\r\n", 1)
                try:
                    for i in range(len(answer)):
                        if self.stop.wait(self.gap):
                            break
                        conn.sendall(answer[i : i + 1])
                    else:
                        self.finished.set()
                except OSError:
                    pass  # the client hung up: what the deadline is for

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.server.close()


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    server = Trickle()
    yield server
    server.close()


def test_an_alert_webhook_that_trickles_is_cut_off_at_the_deadline(trickle: Trickle) -> None:
    settings = WebhookChannelSettings(
        type="webhook",
        url=f"http://127.0.0.1:{trickle.port}/hook",
        secret="a-long-secret",
        timeout_seconds=0.3,
    )
    with pytest.raises(TransientDeliveryError, match="no complete answer within 0.3s"):
        WebhookNotifier(settings).send({"event": "dead_letter", "text": "x"}, "d-1")
    assert not trickle.finished.is_set()  # it ended before the receiver was done


def test_a_bot_callback_that_trickles_is_cut_off_at_the_deadline(trickle: Trickle) -> None:
    from channels.native import NativeChannel
    from connector.outbox import Callback

    channel = NativeChannel.from_config(
        "demo",
        {
            "secret": "a-long-secret-123",
            "callback_url": f"http://127.0.0.1:{trickle.port}/cb",
            "callback_timeout_seconds": 0.3,
        },
    )
    callback = Callback(
        handoff_id="h-1",
        conversation_id="conv-1",
        source="demo",
        type="customer.update",
        id="cb-1",
        occurred_at="2026-07-01T00:00:00Z",
    )
    with pytest.raises(TransientDeliveryError, match="no complete answer within 0.3s"):
        channel.send(callback, delivery_id="d-1")
    assert not trickle.finished.is_set()


def test_a_zendesk_call_that_trickles_is_cut_off_at_the_deadline(trickle, runtime, monkeypatch):  # type: ignore[no-untyped-def]
    pytest.importorskip("zenpy")
    from integrations.zendesk import ZendeskDestination

    monkeypatch.setenv("ZENPY_FORCE_NETLOC", f"127.0.0.1:{trickle.port}")
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    destination = ZendeskDestination.from_config(
        {
            "subdomain": "standin",
            "email": "agent@example.com",
            "token": "a-long-token",
            "timeout_seconds": 0.3,
        },
        runtime,
    )
    with pytest.raises(TransientDeliveryError, match="timed out"):
        destination.find_ticket("ho_slow")  # the real zenpy, its answer trickling in
    assert not trickle.finished.is_set()
