"""PostgreSQL for the tests: a server to use, and a fresh schema per test that is dropped after.

The server is ``HANDOFF_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``, trust
auth on these machines). Each store under test lives in its own schema, named uniquely
(``handoff_test_<pid>_<random>``) and reached through the URL's ``options=-c search_path=…``; the
fixture drops it (CASCADE) when the test ends. Under ``CI=true`` a missing server fails the test;
elsewhere it skips with one line saying how to point the tests at one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from urllib.parse import quote

import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get("HANDOFF_TEST_PG_URL") or DEFAULT_URL


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@cache
def _unreachable() -> str | None:
    """Why the server cannot be used, or None (asked once per run). Drops the schemas a killed
    run of this machine left behind (named after a process that no longer exists)."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg is not installed ({exc}): pip install -e '.[postgres]'"
    try:
        with psycopg.connect(server_url(), connect_timeout=3, autocommit=True) as conn:
            left = [
                r[0]
                for r in conn.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'handoff\\_test\\_%'"
                )
            ]
            for schema in left:
                pid = schema.split("_")[2]
                if pid.isdigit() and not _alive(int(pid)):
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except psycopg.Error as exc:
        return f"no PostgreSQL at {server_url()} ({str(exc).strip().splitlines()[0]})"
    return None


def require_server() -> None:
    """Fail under CI=true, skip elsewhere, when no server answers."""
    problem = _unreachable()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {problem}: PostgreSQL tests must run in CI")
    pytest.skip(f"{problem}; set HANDOFF_TEST_PG_URL=postgresql://user@host:port/db to run them")


def with_schema(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-c search_path={schema}')}"


@contextmanager
def fresh_url() -> Iterator[str]:
    """A URL of an empty schema of its own on the test server; dropped on exit."""
    import psycopg

    require_server()
    schema = f"handoff_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_schema(server_url(), schema)
    finally:
        with psycopg.connect(server_url(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
