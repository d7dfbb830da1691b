"""The SQLite store (the default): ``SqliteStore`` in ``store.py``, its queries in ``tx.py``, its schema
in ``migrations.py``, the KPI queries in ``reports.py``, the writers' turns across processes in
``queue.py`` and the workers' wake-up in ``waker.py``."""

from __future__ import annotations

from connector.store.sqlite.store import SqliteStore
from connector.store.sqlite.waker import SqliteWaker

__all__ = ["SqliteStore", "SqliteWaker"]
