"""``handoff migrate [--check]`` and ``handoff store copy`` from SQLite to PostgreSQL (real servers)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from connector.app import create_app
from connector.cli import main
from connector.delivery import Worker
from connector.runtime import build_runtime
from connector.store.postgres import PostgresStore
from connector.store.postgres.migrations import MIGRATIONS
from tests import pg
from tests.helpers import Clock, Receiver, drain, event, make_settings, post_event


def test_migrate_check_fails_while_pending_then_migrate_applies_once() -> None:
    cli = CliRunner()
    with pg.fresh_url() as url:
        env = {"HANDOFF_STORE_URL": url}
        pending = cli.invoke(main, ["migrate", "--check"], env=env)
        assert pending.exit_code == 1 and "migration(s) pending: 001_initial" in pending.output
        applied = cli.invoke(main, ["migrate"], env=env)
        names = [name for name, _ in MIGRATIONS]
        assert (
            applied.exit_code == 0
            and f"applied {len(names)} migration(s): {', '.join(names)}" in applied.output
        )
        for args in (["migrate", "--check"], ["migrate"]):
            again = cli.invoke(main, args, env=env)
            assert again.exit_code == 0 and "no migration pending" in again.output


def test_store_copy_moves_everything_verifies_and_can_run_again(tmp_path: Path) -> None:
    receiver = Receiver()
    settings = make_settings(tmp_path, callback_url=receiver.url)
    runtime = build_runtime(settings, clock=Clock())
    try:
        client = create_app(runtime=runtime).test_client()
        for n in range(5):
            assert post_event(client, event(f"conv-{n}", f"evt-{n}")).status_code == 200
        drain(Worker(runtime, concurrency=1, worker_id="w"))
        with runtime.store.reading() as tx:
            handoffs = tx.list_handoffs()
            audit_rows = tx.list_audit()
    finally:
        runtime.close()
        receiver.close()
    assert handoffs and audit_rows

    cli = CliRunner()
    with pg.fresh_url() as url:
        args = ["store", "copy", "--from", settings.store.url, "--to", url]
        first = cli.invoke(main, args, env={"HANDOFF_STORE_URL": settings.store.url})
        assert first.exit_code == 0, first.output
        assert "copy OK" in first.output
        again = cli.invoke(main, args, env={"HANDOFF_STORE_URL": settings.store.url})
        assert again.exit_code == 0 and "copy OK" in again.output  # idempotent: nothing doubled

        copied = PostgresStore(url)
        try:
            with copied.reading() as tx:
                assert [h.id for h in tx.list_handoffs()] == [h.id for h in handoffs]
                assert sorted(r.hash for r in tx.list_audit()) == sorted(r.hash for r in audit_rows)
            with copied.atomic() as tx:  # the identity sequences moved past the copied ids
                assert tx.enqueue("callback", "demo", "after-copy", {}, 0.0) is not None
        finally:
            copied.close()
        verified = cli.invoke(main, ["audit", "verify"], env={"HANDOFF_STORE_URL": url})
        assert verified.exit_code == 0 and f"{len(audit_rows)} row(s)" in verified.output
