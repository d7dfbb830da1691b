"""Storage behind one narrow interface; ``open_store(settings)`` picks the implementation."""

from __future__ import annotations

from connector.store.base import (
    AuditRow,
    ConversationRow,
    HandoffRow,
    MessageRow,
    OutboxRow,
    Store,
    Tx,
)

__all__ = [
    "AuditRow",
    "ConversationRow",
    "HandoffRow",
    "MessageRow",
    "OutboxRow",
    "Store",
    "Tx",
    "open_store",
]


def open_store(settings) -> Store:  # type: ignore[no-untyped-def]
    """Open (and migrate) the store named by ``settings.store``."""
    from connector.store.sqlite import SqliteStore

    store = SqliteStore(settings.store.path, busy_timeout_ms=settings.store.busy_timeout_ms)
    store.migrate()
    return store
