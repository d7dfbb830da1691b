from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import waitress

from connector.app import create_app
from connector.config import Settings
from connector.delivery import Worker
from connector.runtime import Runtime, build_runtime
from tests import helpers, pg
from tests.helpers import Clock, Receiver, make_settings

# The suites that run on both stores: the API, outbox, timers (reminders), helpdesk webhooks and
# audit ones, where a store's locking and claiming show. The rest run on SQLite only, which keeps
# `make test` short; the store contract suite (tests/store/) covers every store's verbs.
BOTH_STORES = frozenset(
    {
        "tests.test_ingest",
        "tests.test_spine",
        "tests.test_outbox",
        "tests.test_reminders",
        "tests.test_audit",
        "tests.integrations.test_zendesk",
        "tests.integrations.test_intercom",
        "tests.integrations.test_salesforce",
        "tests.integrations.test_bursts",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test of a module in ``BOTH_STORES`` runs on SQLite and on PostgreSQL
    (``@pytest.mark.stores("sqlite")`` narrows one test: what it checks is that store's own)."""
    kinds = ("sqlite", "postgresql") if metafunc.module.__name__ in BOTH_STORES else None
    marker = metafunc.definition.get_closest_marker("stores")
    if kinds and marker is not None:
        kinds = marker.args
    if kinds and "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", kinds, indirect=True)


@pytest.fixture(autouse=True)
def store_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """The store this test's ``make_settings`` opens: SQLite in ``tmp_path`` unless the module
    asks for PostgreSQL too; then a schema of the test's own, dropped after (``tests/pg.py``)."""
    kind = getattr(request, "param", "sqlite")
    if kind != "postgresql":
        yield kind
        return
    with pg.fresh_url() as url:
        helpers.STORE_URL["url"] = url
        try:
            yield kind
        finally:
            helpers.STORE_URL["url"] = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path, receiver: Receiver) -> Settings:
    return make_settings(tmp_path, callback_url=receiver.url)


@pytest.fixture
def runtime(settings: Settings, clock: Clock) -> Iterator[Runtime]:
    rt = build_runtime(settings, clock=clock)
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime):  # type: ignore[no-untyped-def]
    return create_app(runtime=runtime)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def worker(runtime: Runtime) -> Worker:
    """A worker the test drives by hand with ``drain()``/``run_once()``."""
    return Worker(runtime, concurrency=1, worker_id="test-worker")


@pytest.fixture
def live_server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app on a real waitress server on 127.0.0.1 (a free port)."""
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=16)
    closing = threading.Event()

    def run() -> None:
        try:
            server.run()
        except OSError:
            # close() from this thread can shut a socket while the loop is in select(): EBADF
            # then is the server stopping, not failing (it surfaced as a later test's error)
            if not closing.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    closing.set()
    helpers.stop_waitress(server, thread)
