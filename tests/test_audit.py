"""The audit trail: what is recorded, `handoff audit verify` catching edits and deletions, export."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from connector import audit as audit_mod
from connector.cli import main
from tests.helpers import drain, event, post_event, raw_execute, store_env


@pytest.fixture
def walked(client, runtime, worker, clock, settings):  # type: ignore[no-untyped-def]
    """One escalation, one reminder, a take-over and a handback: every kind of audited step."""
    handoff_id = post_event(client, event()).json["handoff"]["id"]
    drain(worker)
    clock.advance(601)
    drain(worker)
    key = {"X-API-Key": "test-agent-key"}
    assert (
        client.post(
            f"/v1/handoffs/{handoff_id}/claim", json={"actor": "agent-ann"}, headers=key
        ).status_code
        == 200
    )
    answer = client.post(
        f"/v1/handoffs/{handoff_id}/handback",
        headers=key,
        json={"actor": "agent-ann", "note": "refund issued", "resolution": "solved"},
    )
    assert answer.status_code == 200
    drain(worker)
    return store_env(settings)


def test_every_step_is_audited_with_actor_and_reason(walked, runtime):  # type: ignore[no-untyped-def]
    with runtime.store.reading() as tx:
        rows = tx.list_audit("conv-1")
    actions = {r.action for r in rows}
    assert {
        "decision",
        "control.changed",
        "destination.delivered",
        "callback.delivered",
        "reminder.sent",
        "reminder.stopped",
        "handback",
    } <= actions
    assert all(r.actor and r.reason for r in rows)
    decision = next(r for r in rows if r.action == "decision")
    assert decision.data["inputs_digest"].startswith("sha256:")
    assert decision.data["new_messages_digest"].startswith("sha256:")
    assert decision.data["rules_fired"] and decision.data["policy_version"]
    assert decision.actor == f"policy:{decision.data['policy_version']}"


def test_digest_is_canonical():
    assert audit_mod.digest({"a": 1, "b": [1, 2]}) == audit_mod.digest({"b": [1, 2], "a": 1})
    assert audit_mod.digest({"a": 1}) != audit_mod.digest({"a": 2})


@pytest.mark.stores("sqlite")  # ids without gaps are SQLite's; PostgreSQL's case is the next test
def test_verify_ok_then_finds_an_edit_and_a_deletion(walked, settings):  # type: ignore[no-untyped-def]
    cli = CliRunner()
    ok = cli.invoke(main, ["audit", "verify"], env=walked)
    assert ok.exit_code == 0, ok.output
    assert "audit chain OK" in ok.output
    head = ok.output.strip().rsplit("head ", 1)[1]

    db = sqlite3.connect(settings.store.path)
    db.execute("UPDATE audit SET reason='nothing to see' WHERE id=3")
    db.commit()
    edited = cli.invoke(main, ["audit", "verify"], env=walked)
    assert edited.exit_code == 1
    assert "row 3" in edited.output and "(edited)" in edited.output
    assert edited.output.strip().splitlines()[-1].startswith("error: audit chain broken")

    db.execute("DELETE FROM audit WHERE id=5")
    db.commit()
    deleted = cli.invoke(main, ["audit", "verify"], env=walked)
    assert deleted.exit_code == 1 and "row(s) 5 deleted" in deleted.output
    assert "row 6: prev_hash does not match" in deleted.output

    db.execute("DELETE FROM audit WHERE id >= (SELECT MAX(id) - 1 FROM audit)")  # truncate the tail
    db.commit()
    db.close()
    truncated = cli.invoke(main, ["audit", "verify", "--anchor", head], env=walked)
    assert truncated.exit_code == 1 and f"anchor {head} is not in the chain" in truncated.output


def test_verify_finds_an_edit_a_deletion_and_a_sealed_tail_cut_on_every_store(walked, settings):  # type: ignore[no-untyped-def]
    cli = CliRunner()
    sealed = cli.invoke(main, ["audit", "seal"], env=walked)
    assert sealed.exit_code == 0 and "sealed checkpoint 1: 1 chain(s)" in sealed.output, (
        sealed.output
    )
    assert cli.invoke(main, ["audit", "seal"], env=walked).output.startswith("nothing to seal")
    ok = cli.invoke(main, ["audit", "verify"], env=walked)
    assert ok.exit_code == 0 and "1 checkpoint(s)" in ok.output, ok.output

    raw_execute(
        settings, "DELETE FROM audit WHERE id = (SELECT MAX(id) FROM audit)"
    )  # the sealed tail
    cut = cli.invoke(main, ["audit", "verify"], env=walked)
    assert cut.exit_code == 1 and "of conversation 'conv-1' is missing" in cut.output, cut.output

    raw_execute(settings, "UPDATE audit SET reason='nothing to see' WHERE id=3")
    raw_execute(settings, "DELETE FROM audit WHERE id=5")
    broken = cli.invoke(main, ["audit", "verify"], env=walked)
    assert "row 3" in broken.output and "(edited)" in broken.output
    assert "row 6: prev_hash does not match row 4's hash" in broken.output


@pytest.mark.stores("sqlite")
def test_rows_of_the_older_single_chain_still_verify_after_migration(tmp_path):  # type: ignore[no-untyped-def]
    import sqlite3

    from connector.store.base import audit_hash
    from connector.store.sqlite import SqliteStore, migrations

    path = tmp_path / "old.db"
    old = migrations.MIGRATIONS
    chains = next(i for i, m in enumerate(old) if m[0].endswith("_audit_chains"))
    migrations.MIGRATIONS = old[:chains]
    try:
        SqliteStore(path).migrate()
    finally:
        migrations.MIGRATIONS = old
    prev = ""
    with sqlite3.connect(
        path
    ) as db:  # three rows of two conversations in one chain, as before audit_chains
        for i, cid in enumerate(["c1", "c2", "c1"], start=1):
            digest = audit_hash(prev, "t", "a", "x", cid, None, "r", {})
            db.execute(
                "INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?,?)",
                (i, "t", "a", "x", cid, None, "r", "{}", prev, digest),
            )
            prev = digest
    store = SqliteStore(path)
    assert store.migrate() == [m[0] for m in old[chains:]]
    with store.atomic() as tx:
        tx.append_audit(
            at="t2",
            action="b",
            actor="x",
            conversation_id="c1",
            handoff_id=None,
            reason="r",
            data={},
        )
    result = audit_mod.verify_store(store)
    assert result.ok and result.rows == 4 and result.checkpoints == 1, result.problems
    with sqlite3.connect(path) as db:
        db.execute("UPDATE audit SET reason='x' WHERE id=2")
    assert not audit_mod.verify_store(store).ok
    store.close()


def test_verify_an_empty_trail(tmp_path):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        main, ["audit", "verify"], env={"HANDOFF_DB": str(tmp_path / "empty.db")}
    )
    assert result.exit_code == 0 and "0 row(s)" in result.output


def test_export_json_lines_with_since_and_output(walked, tmp_path, runtime):  # type: ignore[no-untyped-def]
    cli = CliRunner()
    out = tmp_path / "audit.jsonl"
    result = cli.invoke(
        main, ["audit", "export", "--since", "1d", "--output", str(out)], env=walked
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    with runtime.store.reading() as tx:
        assert len(lines) == len(tx.list_audit())
    assert set(lines[0]) == {
        "id",
        "at",
        "action",
        "actor",
        "conversation_id",
        "handoff_id",
        "reason",
        "data",
        "prev_hash",
        "hash",
    }
    # the export is verifiable on its own
    from connector.store.base import AuditRow

    rows = [AuditRow(**{k: v for k, v in line.items()}) for line in lines]
    assert audit_mod.verify(rows).ok

    stdout = cli.invoke(main, ["audit", "export"], env=walked)
    assert stdout.exit_code == 0 and len(stdout.output.splitlines()) == len(lines)
    future = cli.invoke(main, ["audit", "export", "--since", "2999-01-01"], env=walked)
    assert future.exit_code == 1 and "in the future" in future.output


@pytest.mark.parametrize("since", ["garbage", "7 days", "-3d", "d7", ""])
def test_export_since_garbage_is_one_readable_line(walked, since):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, ["audit", "export", "--since", since], env=walked)
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and result.output.startswith("error: --since")


def test_timeline_keeps_working_with_and_without_show(walked):  # type: ignore[no-untyped-def]
    cli = CliRunner()
    for args in (["audit", "conv-1"], ["audit", "show", "conv-1"], ["audit", "--json", "conv-1"]):
        result = cli.invoke(main, args, env=walked)
        assert result.exit_code == 0, (args, result.output)
        assert "reminder.sent" in result.output and "handback" in result.output
    missing = cli.invoke(main, ["audit", "no-such-conversation"], env=walked)
    assert missing.exit_code == 1 and "no audit rows" in missing.output


def test_verify_function_reports_id_gaps_and_links(clock):  # type: ignore[no-untyped-def]
    from connector.store.base import AuditRow, audit_hash

    rows, prev = [], ""
    for i in range(1, 5):
        digest = audit_hash(prev, "t", "a", "x", None, None, "r", {"i": i})
        rows.append(AuditRow(i, "t", "a", "x", None, None, "r", {"i": i}, prev, digest))
        prev = digest
    assert audit_mod.verify(rows).ok and audit_mod.verify(rows, anchor=rows[1].hash).ok
    gone = audit_mod.verify([rows[0], rows[2], rows[3]])
    assert not gone.ok and any("deleted" in p for p in gone.problems)
    assert not audit_mod.verify(rows, anchor="nope").ok


def test_audit_hash_is_the_sha256_of_the_canonical_row() -> None:
    """Rows written before and after the stored-data shortcut hash the same way, so chains verify."""
    import hashlib
    import json

    from connector.store.base import audit_hash, canonical_json

    data = {"b": [1, 2.5, None], "a": "é", "decision": {"checked": [{"rule": "x"}]}}
    row = ["prev", "2026-01-01T00:00:00Z", "decision", "policy:v1", "c1", None, "why", data]
    expected = hashlib.sha256(
        json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    assert audit_hash(*row) == expected  # type: ignore[arg-type]
    assert audit_hash(*row, data_json=canonical_json(data)) == expected  # type: ignore[arg-type]
