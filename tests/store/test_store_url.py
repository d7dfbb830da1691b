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
        ("{}\n", {}, "sqlite:///{dir}/handoff.db", "{dir}/handoff.db"),
        ("store:\n  path: data/x.db\n", {}, "sqlite:///{dir}/data/x.db", "{dir}/data/x.db"),
        (
            "store:\n  url: sqlite:////var/lib/h.db\n",
            {},
            "sqlite:////var/lib/h.db",
            "/var/lib/h.db",
        ),
        (
            "store:\n  url: sqlite:///x.db\n  path: ./x.db\n",
            {},
            "sqlite:///{dir}/x.db",
            "{dir}/x.db",
        ),
        ("store:\n  backend: sqlite\n  path: x.db\n", {}, "sqlite:///{dir}/x.db", "{dir}/x.db"),
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
    where = str(tmp_path)  # a relative file in a config file is relative to the file's folder
    assert loaded(tmp_path, text, env) == (url.format(dir=where), path.format(dir=where))


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
            "store.url: must be a URL like sqlite:///handoff.db",
        ),
        ("store:\n  url: sqlite://x.db\n", {}, "store.url: 'sqlite://x.db' is not a SQLite URL"),
        (
            "store:\n  url: sqlite:///x.db\n  path: y.db\n",
            {},
            "store: store.url (sqlite:///x.db) and store.path (y.db) name different files",
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


@pytest.mark.parametrize(
    "text,env,expected",
    [
        ("store:\n  path: data/x.db\n", {}, "{conf}/data/x.db"),
        ("{}\n", {"HANDOFF_HOME": "{home}"}, "{home}/handoff.db"),
        ("store:\n  url: sqlite:///x.db\n", {"HANDOFF_HOME": "{home}"}, "{home}/x.db"),
        ("store:\n  path: ~/x.db\n", {}, "~/x.db"),
        ("store:\n  path: x.db\n", {"HANDOFF_DB": "y.db"}, "y.db"),
        ("store:\n  path: x.db\n", {"HANDOFF_DB": "y.db", "HANDOFF_HOME": "{home}"}, "{home}/y.db"),
    ],
    ids=[
        "the config file's folder",
        "HANDOFF_HOME for the default file",
        "HANDOFF_HOME beats the file's folder",
        "home-relative stays",
        "a path typed in the shell is the shell's",
        "HANDOFF_HOME anchors a typed path too",
    ],
)
def test_a_relative_store_file_is_anchored(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    conf, home = tmp_path / "conf", tmp_path / "home"
    conf.mkdir()
    (conf / "c.yaml").write_text(text)
    env = {k: v.format(home=home) for k, v in env.items()}
    store = load_config(conf / "c.yaml", env=env).store
    assert store.path == expected.format(conf=conf, home=home)
    assert store.url == "sqlite:///" + store.path


def test_no_file_and_no_home_keeps_the_working_directory() -> None:
    assert load_config(None, env={}).store.path == "handoff.db"
    assert load_config(None, env={"HANDOFF_HOME": "/srv/h"}).store.path == "/srv/h/handoff.db"


def test_every_command_finds_the_store_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve`` made the store next to its config; read-only commands run from elsewhere, with
    that config, read the same store instead of refusing or making a new one in their folder."""
    conf = tmp_path / "srv"
    conf.mkdir()
    (conf / "config.yaml").write_text("store:\n  path: data/handoff.db\n")
    store = open_store(load_config(conf / "config.yaml", env={}))  # what `handoff serve` does first
    store.close()
    assert (conf / "data" / "handoff.db").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("HANDOFF_HOME", raising=False)
    monkeypatch.setenv("HANDOFF_CONFIG", str(conf / "config.yaml"))
    for args in (
        ["outbox", "list"],
        ["audit", "verify"],
        ["audit", "export"],
        ["report", "--since", "7d"],
        ["backup", str(tmp_path / "b.db")],
        ["migrate", "--check"],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
        assert "no store at" not in result.output, args
    assert list(elsewhere.iterdir()) == [], "a command made a store in the working directory"
    checked = CliRunner().invoke(main, ["check-config"])
    assert f"store: {conf / 'data' / 'handoff.db'})" in checked.output  # where it resolved
