"""Storage behind one narrow interface; ``open_store(settings)`` picks the implementation.

The scheme of ``store.url`` names the store in ``STORES`` (``connector/store/base.py``).
"""

from __future__ import annotations

from connector.store.base import (
    STORES,
    AuditCheckpoint,
    AuditRow,
    ConversationRow,
    FactRow,
    HandoffRow,
    MessageRow,
    OutboxRow,
    Store,
    TimerRow,
    Tx,
    Waker,
    store_class,
    url_scheme,
)

__all__ = [
    "STORES",
    "AuditCheckpoint",
    "AuditRow",
    "ConversationRow",
    "FactRow",
    "HandoffRow",
    "MessageRow",
    "OutboxRow",
    "Store",
    "TimerRow",
    "Tx",
    "Waker",
    "open_store",
    "store_class",
    "url_scheme",
]


def open_store(settings) -> Store:  # type: ignore[no-untyped-def]
    """Open (and migrate) the store named by ``settings.store.url``; ``ConfigError`` on a bad one."""
    url = settings.store.url
    store = store_class(url_scheme(url)).from_url(url, settings.store)
    store.migrate()
    return store
