"""The PostgreSQL store (``store.url: postgresql://…``), for several replicas on one database:
``PostgresStore`` in ``store.py``, its queries in ``tx.py``, its schema in ``migrations.py``, the
KPI queries in ``reports.py`` and the workers' wake-up (LISTEN/NOTIFY) in ``waker.py``.

Needs the ``[postgres]`` extra (psycopg 3 and psycopg_pool)."""

from __future__ import annotations

from connector.store.postgres.store import PostgresStore
from connector.store.postgres.waker import PostgresWaker

__all__ = ["PostgresStore", "PostgresWaker"]
