"""``handoff backup`` and ``handoff restore`` (the work is in ``connector/backup.py``), ``handoff
migrate [--check]`` and ``handoff store copy`` (``connector/store/copy.py``).

Registered on ``handoff``'s group by the import at the end of ``connector/cli.py``, which keeps
that module under its size budget.
"""

from __future__ import annotations

import click

from connector.cli import CONFIG_HELP, _fail, _load, main


def _sqlite_only(settings, command: str) -> None:  # type: ignore[no-untyped-def]
    if settings.store.backend != "sqlite":
        _fail(
            f"handoff {command} copies a SQLite file; the store is {settings.store.backend}: use pg_dump / "
            "pg_restore (docs/operations.md)"
        )


@main.command()
@click.option("--config", "-c", help=CONFIG_HELP)
@click.argument("file", type=click.Path(dir_okay=False))
def backup(config: str | None, file: str) -> None:
    """Copy the store to FILE, consistent while the server keeps writing; then check the copy."""
    from connector import backup as backups

    settings = _load(config)
    _sqlite_only(settings, "backup")
    try:
        summary = backups.backup(settings.store.path, file)
    except backups.BackupError as exc:
        _fail(str(exc))
    click.echo(f"backed up {settings.store.path} to {file}: {summary.line()}")


@main.command()
@click.option("--config", "-c", help=CONFIG_HELP)
@click.option(
    "--force", is_flag=True, help="Restore even while a running serve or worker holds the store."
)
@click.argument("file", type=click.Path(dir_okay=False))
def restore(config: str | None, force: bool, file: str) -> None:
    """Replace the store's contents with backup FILE (checked first; audit chain verified after)."""
    from connector import backup as backups

    settings = _load(config)
    _sqlite_only(settings, "restore")
    try:
        summary = backups.restore(file, settings.store.path, force=force)
    except backups.BackupError as exc:
        _fail(str(exc))
    click.echo(f"restored {settings.store.path} from {file}: {summary.line()}")


def _open_unmigrated(url: str, settings):  # type: ignore[no-untyped-def]
    from connector.errors import ConfigError
    from connector.store import store_class, url_scheme

    try:
        return store_class(url_scheme(url)).from_url(url, settings.store)
    except ConfigError as exc:
        _fail("; ".join(f"{key}: {message}" for key, message in exc.problems))


@main.command()
@click.option("--config", "-c", help=CONFIG_HELP)
@click.option(
    "--check",
    is_flag=True,
    help="Apply nothing; exit 1 if migrations are pending (deploy pipelines).",
)
def migrate(config: str | None, check: bool) -> None:
    """Apply the store's pending migrations (serve and worker also do at start, under a lock)."""
    from connector.errors import ProblemError

    settings = _load(config)
    store = _open_unmigrated(settings.store.url, settings)
    try:
        if check:
            pending = store.pending_migrations()
            if pending:
                _fail(
                    f"{len(pending)} migration(s) pending: {', '.join(pending)} (run handoff migrate)"
                )
            click.echo("store is up to date: no migration pending")
            return
        applied = store.migrate()
    except ProblemError as exc:
        _fail(str(exc))
    finally:
        store.close()
    click.echo(
        f"applied {len(applied)} migration(s): {', '.join(applied)}"
        if applied
        else "store is up to date: no migration pending"
    )


@main.group()
def store() -> None:
    """The store itself: copy a deployment's data to another store."""


@store.command("copy")
@click.option("--config", "-c", help=CONFIG_HELP)
@click.option(
    "--from", "source_url", required=True, help="The store to copy from, e.g. sqlite:///handoff.db."
)
@click.option(
    "--to",
    "target_url",
    required=True,
    help="The store to copy to, e.g. postgresql://host/handoff.",
)
def store_copy(config: str | None, source_url: str, target_url: str) -> None:
    """Copy every row to another store (migrated first); safe to stop and run again. Checks counts
    and verifies the target's audit trail after."""
    from connector.errors import ProblemError
    from connector.store.copy import copy

    settings = _load(config)
    source = _open_unmigrated(source_url, settings)
    target = _open_unmigrated(target_url, settings)
    try:
        source.migrate()  # an older file gains the columns the target has
        target.migrate()
        report = copy(source, target)
    except ProblemError as exc:
        _fail(str(exc))
    finally:
        source.close()
        target.close()
    for table, (theirs, ours) in report.counts.items():
        click.echo(
            f"{table:18} copied {report.copied.get(table, 0):>8}   source {theirs:>8}   target {ours:>8}"
        )
    if not report.ok:
        for problem in report.problems:
            click.echo(f"PROBLEM: {problem}", err=True)
        _fail(f"copy incomplete: {len(report.problems)} problem(s)")
    click.echo("copy OK: counts match and the target's audit trail verifies")
