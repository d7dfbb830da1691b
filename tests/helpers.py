"""Test helpers: settings, signed requests, a real HTTP callback receiver, a clock, draining the
worker. Test modules import from here; ``conftest.py`` holds only fixtures."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import pytest
import yaml
from waitress.channel import HTTPChannel

from connector import security, serving
from connector.config import Settings, load_config
from connector.delivery import Worker

SECRET = "test-secret-123"
API_KEY = "test-agent-key"


class Clock:
    """A clock the test owns: starts at the real time (or ``start``), moves only when told.

    ``Clock.at("2026-12-08 21:17", "Europe/Paris")`` starts it at a chosen local instant, for
    anything that depends on the time of day (team hours, holidays): no sleeping, no real time.
    Requests signed for a runtime on such a clock carry its time (``post_event(..., clock=)``).
    """

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime.now(UTC)

    @classmethod
    def at(cls, local: str, zone: str = "UTC") -> Clock:
        return cls(datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def event(
    conversation_id: str = "conv-1",
    event_id: str = "evt-1",
    *,
    type: str = "conversation.updated",
    messages: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event_id,
        "type": type,
        "occurred_at": datetime.now(UTC).isoformat(),
        "conversation": {"id": conversation_id, "channel": "web", "language": "en"},
        "customer": {
            "id": "cus-1",
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "tags": ["vip"],
        },
        "messages": messages
        if messages is not None
        else [
            {"id": f"{event_id}-m1", "role": "customer", "text": "My order never arrived."},
            {
                "id": f"{event_id}-m2",
                "role": "bot",
                "text": "Sorry! Let me check.",
                "citations": [
                    {"title": "Shipping times", "url": "https://help.example.com/shipping"}
                ],
            },
            {
                "id": f"{event_id}-m3",
                "role": "customer",
                "text": "I want to talk to a real person.",
            },
        ],
    }
    body.update(extra)
    return body


def signed_headers(
    body: bytes,
    *,
    source: str = "demo",
    secret: str = SECRET,
    timestamp: int | None = None,
    method: str | None = None,
    path: str | None = None,
) -> dict[str, str]:
    """A source's headers for ``body``: v1, plus v2 when the request's ``method`` and ``path`` are given."""
    return {
        "Content-Type": "application/json",
        security.SOURCE_HEADER: source,
        security.SIGNATURE_HEADER: security.sign(secret, body, timestamp, method=method, path=path),
    }


def dumps(data: Any) -> bytes:
    return json.dumps(data).encode()


def post_event(client: Any, body: dict[str, Any], clock: Clock | None = None, **sign: Any) -> Any:
    """POST ``body`` to ``/v1/events`` through a Flask test client, signed (``signed_headers``);
    at ``clock``'s time when given (a runtime on a chosen clock checks signatures against it)."""
    raw = dumps(body)
    sign = {"method": "POST", "path": "/v1/events", **sign}
    if clock is not None:
        sign["timestamp"] = int(clock.now.timestamp())
    return client.post("/v1/events", data=raw, headers=signed_headers(raw, **sign))


class Receiver:
    """A real HTTP server on 127.0.0.1 that records what it receives and answers as told.

    ``responses`` is a list of (status, headers) consumed one per request; when empty: 200.
    """

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.responses: list[tuple[int, dict[str, str]]] = []
        self.delay = 0.0  # seconds to wait after recording a request, before answering
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                with receiver.lock:
                    status, headers = receiver.responses.pop(0) if receiver.responses else (200, {})
                    receiver.received.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "raw": raw,
                            "json": json.loads(raw or b"null"),
                            "status": status,
                        }
                    )
                    receiver.arrived.notify_all()
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.received if r["status"] < 300]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(
                lambda: len([r for r in self.received if r["status"] < 300]) >= count,
                timeout=timeout,
            )
        return self.accepted()

    def delivery_ids(self) -> list[str]:
        """The X-Handoff-Delivery id of every request received, repeats included."""
        with self.lock:
            return [r["headers"].get("X-Handoff-Delivery", "") for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# The store URL ``make_settings`` uses instead of a SQLite file in ``tmp_path``: set for the length
# of a test by the ``store_kind`` fixture (``tests/conftest.py``) when the test runs on PostgreSQL.
STORE_URL: dict[str, str | None] = {"url": None}


# The labelled conversations of ../shared/data (beside the checkout), or HANDOFF_SHARED_DATA.
SHARED_DATA = Path(
    os.environ.get(
        "HANDOFF_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
)


def shared_data_missing(what: str) -> NoReturn:
    """A test that needs ``SHARED_DATA`` and found ``what`` missing: a failure under CI=true,
    where the shared data must be there, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} and CI=true: set HANDOFF_SHARED_DATA to the shared data folder")
    pytest.skip(f"{what} (set HANDOFF_SHARED_DATA to the shared data folder)")


def stop_waitress(server: Any, loop: threading.Thread | None = None) -> None:
    """Stop a waitress server a test ran on ``loop``, its worker threads included (``close()``
    leaves them waiting for tasks for the rest of the test process).

    In an order that leaves no thread writing to a closed descriptor: a request still running (a
    live view's stream) wakes the event loop by writing a byte to the server's pipe, by its
    number, and once the pipe is closed that number may be a later test's SQLite file, whose
    first byte it then overwrites ("file is not a database"). So the connections close first (a
    running request's next write ends it), the worker threads finish, and only then the listening
    socket and the pipe close."""
    for channel in list(server._map.values()):
        if isinstance(channel, HTTPChannel):
            channel.handle_close()
    server.task_dispatcher.shutdown(timeout=5)
    serving.close_all(server)
    if loop is not None:
        loop.join(timeout=5)


def store_env(settings: Settings) -> dict[str, str]:
    """The environment that points a CLI command at the test's store, SQLite or PostgreSQL."""
    return {"HANDOFF_STORE_URL": settings.store.url}


def raw_execute(settings: Settings, sql: str) -> None:
    """Run ``sql`` on the test's store behind the service's back (tampering, in the audit tests)."""
    if settings.store.backend == "sqlite":
        import sqlite3

        with sqlite3.connect(settings.store.path) as db:
            db.execute(sql)
        return
    import psycopg

    with psycopg.connect(settings.store.url, autocommit=True) as conn:
        conn.execute(sql.encode())


def make_settings(tmp_path: Path, callback_url: str | None = None, **sections: Any) -> Settings:
    """Settings for a test: a store in ``tmp_path`` (or the test's PostgreSQL schema, see
    ``STORE_URL``), the ``demo`` source, ``sections`` merged in."""
    url = STORE_URL["url"]
    data = {
        "store": {"url": url} if url else {"path": str(tmp_path / "handoff.db")},
        "security": {"api_keys": [API_KEY]},
        "sources": {"demo": {"secret": SECRET, "callback_url": callback_url}},
        "worker": {"backoff_initial_seconds": 1, "backoff_max_seconds": 60},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path, env={})


def drain(worker: Worker, limit: int = 100) -> int:
    """Run the worker by hand until nothing is due (at most ``limit`` rows); return how many ran."""
    count = 0
    while count < limit and worker.run_once() is not None:
        count += 1
    return count
