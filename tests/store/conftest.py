"""Fresh stores of every kind in ``STORES``, for the contract suite (``test_contract*.py``).

Each kind needs one line in ``FRESH_URLS``: how to reach an empty store of it that the test owns
(a context manager: what it made is removed on exit). PostgreSQL gets a schema of its own per
test (``tests/pg.py``): it skips without a server, and fails instead under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest

from connector.store import STORES, Store, store_class, url_scheme
from connector.store_config import StoreSettings
from tests import pg


def _sqlite(tmp_path: Path) -> AbstractContextManager[str]:
    return nullcontext(
        f"sqlite:///{tmp_path / 'contract.db'}"
    )  # tmp_path is absolute: sqlite:////tmp/...


def _postgresql(tmp_path: Path) -> AbstractContextManager[str]:
    return pg.fresh_url()


FRESH_URLS: dict[str, Callable[[Path], AbstractContextManager[str]]] = {
    "postgresql": _postgresql,
    "sqlite": _sqlite,
}


@pytest.fixture(params=sorted(STORES))
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    make = FRESH_URLS.get(request.param)
    if make is None:
        pytest.fail(
            f"STORES has {request.param!r} but tests/store/conftest.py has no FRESH_URLS line for it"
        )
    with make(tmp_path) as url:
        yield url


@pytest.fixture
def open_store(store_url: str) -> Iterator[Callable[[], Store]]:
    """Open another store object on the same URL (another connection, as another process would
    have); every one opened is closed at the end of the test."""
    opened: list[Store] = []

    def open_one() -> Store:
        settings = StoreSettings(url=store_url, busy_timeout_ms=10_000)
        store = store_class(url_scheme(store_url)).from_url(store_url, settings)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    """A fresh, migrated store of the kind under test."""
    store = open_store()
    store.migrate()
    return store
