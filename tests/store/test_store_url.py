"""``store.url`` picks the store by scheme; ``store.path`` and ``HANDOFF_DB`` keep working beside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import load_config
from connector.errors import ConfigError
from connector.runtime import build_runtime
from connector.store import open_store
from connector.store.sqlite import SqliteStore, SqliteWaker

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def loaded(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    store = load_config(path, env=env or {}).store
    return store.url, store.path


@pytest.mark.parametrize(
    "text,env,url,path",
    [
        ("{}\n", {}, "sqlite:///handoff.db", "handoff.db"),
        ("store:\n  path: data/x.db\n", {}, "sqlite:///data/x.db", "data/x.db"),
        (
            "store:\n  url: sqlite:////var/lib/h.db\n",
            {},
            "sqlite:////var/lib/h.db",
            "/var/lib/h.db",
        ),
        ("store:\n  url: sqlite:///x.db\n  path: ./x.db\n", {}, "sqlite:///x.db", "x.db"),
        ("store:\n  backend: sqlite\n  path: x.db\n", {}, "sqlite:///x.db", "x.db"),
        ("{}\n", {"HANDOFF_DB": "/tmp/a.db"}, "sqlite:////tmp/a.db", "/tmp/a.db"),
        ("store:\n  url: sqlite:///x.db\n", {"HANDOFF_DB": "y.db"}, "sqlite:///y.db", "y.db"),
        (
            "store:\n  path: x.db\n",
            {"HANDOFF_STORE_URL": "sqlite:///y.db"},
            "sqlite:///y.db",
            "y.db",
        ),
        (
            "store:\n  path: x.db\n",
            {"HANDOFF_STORE__URL": "sqlite:///y.db"},
            "sqlite:///y.db",
            "y.db",
        ),
        ("store:\n  path: x.db\n", {"HANDOFF_STORE__PATH": "y.db"}, "sqlite:///y.db", "y.db"),
    ],
    ids=[
        "default",
        "path",
        "absolute url",
        "same file twice",
        "old backend key",
        "HANDOFF_DB",
        "HANDOFF_DB replaces url",
        "HANDOFF_STORE_URL replaces path",
        "HANDOFF_STORE__URL",
        "HANDOFF_STORE__PATH",
    ],
)
def test_where_the_store_is(
    tmp_path: Path, text: str, env: dict[str, str], url: str, path: str
) -> None:
    assert loaded(tmp_path, text, env) == (url, path)


@pytest.mark.parametrize(
    "text,env,expected",
    [
        (
            "store:\n  url: sqlit:///x.db\n",
            {},
            "store.url: unknown store 'sqlit' (did you mean 'sqlite'?); known: postgresql, sqlite",
        ),
        ("store:\n  url: postgresql://db\n", {}, "store.url: 'postgresql://db' names no database"),
        (
            "store:\n  url: handoff.db\n",
            {},
            "store.url: Value error, must be a URL like sqlite:///handoff.db",
        ),
        ("store:\n  url: sqlite://x.db\n", {}, "store.url: 'sqlite://x.db' is not a SQLite URL"),
        (
            "store:\n  url: sqlite:///x.db\n  path: y.db\n",
            {},
            "store: Value error, store.url (sqlite:///x.db) and store.path (y.db) name different files",
        ),
        (
            "{}\n",
            {"HANDOFF_STORE_URL": "sqlite:///x.db", "HANDOFF_DB": "y.db"},
            "name different files",
        ),
        ("store:\n  url: redis://h/0\n  path: y.db\n", {}, "store.path is for SQLite only"),
        ("store:\n  backend: postgres\n  path: y.db\n", {}, "store.backend 'postgres' disagrees"),
    ],
    ids=[
        "typo",
        "postgresql without a database",
        "not a url",
        "two slashes",
        "url and path disagree",
        "env url and path disagree",
        "path with another store",
        "old backend key disagrees",
    ],
)
def test_a_bad_store_names_its_key(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    assert any(expected in line for line in info.value.lines()), info.value.lines()


def test_check_config_lists_the_known_stores_for_an_unknown_scheme(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("store:\n  url: mysql://db/handoff\n")
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 1
    assert "store.url: unknown store 'mysql'; known: postgresql, sqlite" in result.output


def test_the_example_with_an_env_url_opens_that_file_and_the_runtime_wakes_through_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "elsewhere" / "h.db"
    settings = load_config(EXAMPLE, env={"HANDOFF_STORE_URL": f"sqlite:///{db}"})
    store = open_store(settings)
    runtime = build_runtime(settings, store=store)
    try:
        assert isinstance(store, SqliteStore) and Path(store.path) == db and db.exists()
        assert isinstance(runtime.waker, SqliteWaker)
    finally:
        runtime.close()
