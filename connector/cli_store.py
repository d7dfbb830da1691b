"""``handoff backup`` and ``handoff restore`` (the work is in ``connector/backup.py``).

Registered on ``handoff``'s group by the import at the end of ``connector/cli.py``, which keeps
that module under its size budget.
"""

from __future__ import annotations

import click

from connector.cli import CONFIG_HELP, _fail, _load, main


@main.command()
@click.option("--config", "-c", help=CONFIG_HELP)
@click.argument("file", type=click.Path(dir_okay=False))
def backup(config: str | None, file: str) -> None:
    """Copy the store to FILE, consistent while the server keeps writing; then check the copy."""
    from connector import backup as backups

    settings = _load(config)
    try:
        summary = backups.backup(settings.store.path, file)
    except backups.BackupError as exc:
        _fail(str(exc))
    click.echo(f"backed up {settings.store.path} to {file}: {summary.line()}")


@main.command()
@click.option("--config", "-c", help=CONFIG_HELP)
@click.option("--force", is_flag=True, help="Restore even while a running serve or worker holds the store.")
@click.argument("file", type=click.Path(dir_okay=False))
def restore(config: str | None, force: bool, file: str) -> None:
    """Replace the store's contents with backup FILE (checked first; audit chain verified after)."""
    from connector import backup as backups

    settings = _load(config)
    try:
        summary = backups.restore(file, settings.store.path, force=force)
    except backups.BackupError as exc:
        _fail(str(exc))
    click.echo(f"restored {settings.store.path} from {file}: {summary.line()}")
