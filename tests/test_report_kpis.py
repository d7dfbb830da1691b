"""The KPI definitions (docs/kpis.md) against hand-computed fixtures, and the fast path (per-handoff
KPI rows) against the slow path (raw tables) on one generated store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.bench_report import fill
from connector import kpis
from connector.report import OFF_TARGET, build_report, kpi_table, render_html
from connector.store.sqlite import SqliteStore
from connector.store.sqlite.reports import backfill_kpis

DAY = "2025-03-09"


def h(i: int, reasons: list[str], **extra: object) -> dict:
    """A handoff as ``Tx.report_data`` gives it: opened 10:05, its turns 10:00 → 10:02."""
    return {
        "id": f"h{i}",
        "conversation_id": f"c{i}",
        "created_at": f"{DAY}T10:05:00+00:00",
        "team": "billing",
        "source": "demo",
        "status": "open",
        "priority": "normal",
        "intent": "billing",
        "reasons": reasons,
        "has_draft": True,
        "handback_at": None,
        "handback_actor": None,
        "claimed_by": None,
        # the bot posted every turn in one event: arrival says 0 s, the turns say 2 minutes
        "conversation_created_at": f"{DAY}T10:05:00+00:00",
        "first_message_at": f"{DAY}T10:00:00+00:00",
        "last_turn_at": f"{DAY}T10:02:00+00:00",
        **extra,
    }


def data(handoffs: list[dict], **extra: object) -> dict:
    return {
        "since": f"{DAY}T00:00:00+00:00",
        "until": "2025-03-10T00:00:00+00:00",
        "conversations": 3,
        "handoffs": handoffs,
        "facts": [],
        "post_messages": [],
        "known": {},
        "drafts": {"available": True, "events": []},
        **extra,
    }


THREE = [
    h(1, ["human_request", "frustration"]),
    h(2, ["frustration"]),
    h(3, ["low_confidence", "human_request"]),
]


def test_each_handoff_counts_once_per_day_and_the_reason_mix_is_separate() -> None:
    k = kpis.compute(data(THREE))
    assert k["per_day"] == {DAY: {"human_request": 1, "frustration": 1, "low_confidence": 1}}
    assert sum(k["per_day"][DAY].values()) == k["handoffs"] == 3
    assert k["reason_mix"] == {"human_request": 2, "frustration": 2, "low_confidence": 1}


def test_no_agent_activity_is_no_data_not_100_percent() -> None:
    k = kpis.compute(data(THREE))
    assert k["routing"]["accuracy"] is None and k["routing"]["judged"] == 0
    assert k["repeat_context"]["rate"] is None and k["first_response"]["p50"] is None
    table = kpi_table(k)
    assert (
        "no data: no agent acted on a handoff" in table
        and "100.0 %" not in table.split("Handoff rate")[1].split("\n")[3]
    )


@pytest.mark.parametrize(
    "extra,expected",
    [
        ({}, 120.0),  # the messages' own timestamps
        ({"first_message_at": None, "last_turn_at": None}, 0.0),  # none: arrival times
        ({"first_message_at": f"{DAY}T10:03:00+00:00"}, None),  # turns out of order: ignored
    ],
    ids=["turn-timestamps", "arrival-fallback", "clock-backwards"],
)
def test_bot_handle_time_reads_the_turns_own_timestamps(
    extra: dict, expected: float | None
) -> None:
    k = kpis.compute(data([h(1, ["human_request"], **extra)]))
    assert k["handle_time"]["bot_p50"] == expected
    assert k["clock_anomalies"] == (1 if expected is None else 0)


def test_routing_accuracy_counts_the_handoffs_agents_acted_on() -> None:
    facts = [
        {
            "handoff_id": "h1",
            "kind": "first_response",
            "at": f"{DAY}T10:06:00+00:00",
            "data": {"seconds": 60.0},
        },
        {
            "handoff_id": "h2",
            "kind": "reassigned",
            "at": f"{DAY}T10:07:00+00:00",
            "data": {"from_team": "billing"},
        },
        {
            "handoff_id": "h2",
            "kind": "first_response",
            "at": f"{DAY}T10:08:00+00:00",
            "data": {"seconds": 180.0},
        },
    ]
    k = kpis.compute(data(THREE, facts=facts))  # h3: nobody acted on it, so it is not judged
    assert (k["routing"]["judged"], k["routing"]["reassigned"], k["routing"]["accuracy"]) == (
        2,
        1,
        0.5,
    )
    assert k["first_response"]["values"] == [60.0, 180.0]


def test_off_target_values_are_marked() -> None:
    drafts = {"available": True, "events": [{"handoff_id": "h1", "action": "sent_unedited"}]}
    k = kpis.compute(data(THREE, drafts=drafts))  # 1 of 3 drafts used: 33 % against 50–70 %
    assert k["drafts"]["usage"] == pytest.approx(1 / 3)
    assert kpis.off_target(k) == {
        "routing_accuracy": False,
        "draft_usage": True,
        "repeat_context": False,
    }
    draft_line = next(line for line in kpi_table(k).splitlines() if line.startswith("Draft usage"))
    assert OFF_TARGET in draft_line
    assert 'class="off"' in render_html(k)
    within = kpis.compute(
        data(
            THREE,
            drafts={
                "available": True,
                "events": [{"handoff_id": f"h{i}", "action": "copied"} for i in (1, 2)],
            },
        )
    )
    assert not kpis.off_target(within)["draft_usage"]


def test_latest_csat_per_handoff() -> None:
    facts = [
        {"handoff_id": "h1", "kind": "csat", "at": "t", "data": {"score": s, "scale": 5}}
        for s in (1, 4)
    ]
    assert kpis.compute(data(THREE, facts=facts))["csat"] == {
        "responses": 1,
        "mean": 4.0,
        "scale": 5.0,
    }


# --- fast path = slow path -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[SqliteStore, datetime]:
    """400 handoffs over a week as the benchmark writes them (seeded), KPI rows back-filled."""
    path = Path(tmp_path_factory.mktemp("kpis")) / "handoff.db"
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    fill(str(path), 400, now, seed=11)
    store = SqliteStore(str(path))
    yield store, now
    store.close()


@pytest.mark.parametrize(
    "days,team", [(7, None), (2, None), (7, "billing"), (7, "ghosts")], ids=str
)
def test_kpi_rows_give_the_same_report_as_the_raw_tables(generated, days, team) -> None:  # type: ignore[no-untyped-def]
    store, now = generated
    start, end = now - timedelta(days=days), now + timedelta(seconds=1)
    fast = build_report(store, start, end, team=team)
    slow = build_report(store, start, end, team=team, from_raw=True)
    assert fast == slow
    if team != "ghosts":
        assert fast["handoffs"] > 0 and fast["routing"]["judged"] > 0
        assert fast["repeat_context"]["observed"] > 0 and fast["csat"]["responses"] > 0


def test_backfill_writes_what_the_write_verbs_keep(generated) -> None:  # type: ignore[no-untyped-def]
    """Migration 014_handoff_kpis's back-fill and the rows kept on write agree: drop the rows, back-fill, compare."""
    store, _ = generated
    with store.atomic() as tx:
        before = sorted(
            tx.list_handoff_kpis("0001", "9999"), key=lambda r: r[0]
        )  # handoff_id first
        for row in before[:50]:
            tx.refresh_handoff_kpis(row[0])  # the write verbs' way
        refreshed = sorted(
            tx.list_handoff_kpis("0001", "9999"), key=lambda r: r[0]
        )  # handoff_id first
        tx.conn.execute("DELETE FROM handoff_kpis")
        assert backfill_kpis(tx.conn) == len(before) == 400
        after = sorted(tx.list_handoff_kpis("0001", "9999"), key=lambda r: r[0])  # handoff_id first
    assert before == refreshed == after


# --- the dashboard -----------------------------------------------------------------------------------


def test_dashboard_filters_navigation_and_web_wording(client, settings) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import API_KEY, event, post_event

    assert post_event(client, event("conv-d1", "evt-d1")).status_code == 200
    auth = {"X-API-Key": API_KEY}
    page = client.get("/dashboard?since=30d", headers=auth).get_data(as_text=True)
    for link in ('href="/"', 'href="/inbox"', 'href="/docs"', 'action="/dashboard"'):
        assert link in page
    assert '<option value="30d" selected>' in page and 'name="key"' not in page
    source = sorted(settings.sources)[0]
    mine = client.get(f"/dashboard?source={source}", headers=auth).get_data(as_text=True)
    assert f"source {source}" in mine
    bogus = client.get("/dashboard?since=bogus", headers=auth)
    assert bogus.status_code == 400 and "--since" not in bogus.json["detail"]
    assert bogus.json["detail"].startswith("the period 'bogus' is not a period")
    ghost = client.get("/dashboard?source=ghost", headers=auth)
    assert ghost.status_code == 400 and ghost.json["errors"][0]["path"] == "source"
    by_key = client.get(f"/dashboard?key={API_KEY}").get_data(as_text=True)
    assert 'name="key"' in by_key  # the filter form keeps the way the page was opened


# --- read-only commands never create a store ------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["outbox", "list"], ["report"], ["audit", "show", "conv-1"], ["audit", "export"]],
    ids=lambda a: " ".join(a),
)
def test_read_only_commands_refuse_a_missing_store(tmp_path: Path, args: list[str]) -> None:
    from click.testing import CliRunner

    from connector.cli import main

    db = tmp_path / "elsewhere" / "handoff.db"
    result = CliRunner().invoke(main, args, env={"HANDOFF_DB": str(db), "HANDOFF_CONFIG": ""})
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (
        f"error: no store at {db}; run `handoff serve` first, or pass --config "
        "(or set HANDOFF_CONFIG) to name the right one"
    )
    assert not db.exists() and not db.parent.exists()


def test_audit_verify_of_a_missing_store_says_so_and_creates_nothing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from connector.cli import main

    db = tmp_path / "nowhere.db"
    result = CliRunner().invoke(main, ["audit", "verify"], env={"HANDOFF_DB": str(db)})
    assert result.exit_code == 0 and f"no store at {db}" in result.output and not db.exists()


def test_audit_takes_a_handoff_id(client, settings) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from connector.cli import main
    from tests.helpers import event, post_event

    answer = post_event(client, event("conv-a1", "evt-a1"))
    handoff_id = answer.json["handoff"]["id"]
    env = {"HANDOFF_DB": settings.store.path}
    by_handoff = CliRunner().invoke(main, ["audit", handoff_id], env=env)
    by_conversation = CliRunner().invoke(main, ["audit", "conv-a1"], env=env)
    assert (
        by_handoff.exit_code == 0
        and f"handoff {handoff_id} is in conversation conv-a1" in by_handoff.output
    )
    assert by_conversation.output in by_handoff.output and "decision" in by_conversation.output
    nothing = CliRunner().invoke(main, ["audit", "ho_nope"], env=env)
    assert (
        nothing.exit_code == 1
        and "no audit rows for conversation or handoff 'ho_nope'" in nothing.output
    )


def test_targets_come_from_config(client, settings) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from connector.cli import main
    from tests.helpers import event, post_event

    assert post_event(client, event("conv-t1", "evt-t1")).status_code == 200
    env = {
        "HANDOFF_DB": settings.store.path,
        "HANDOFF_REPORT__DRAFT_USAGE_MIN": "0.0",
        "HANDOFF_REPORT__DRAFT_USAGE_MAX": "0.0",
    }
    table = CliRunner().invoke(main, ["report"], env=env).output
    draft = next(line for line in table.splitlines() if line.startswith("Draft usage"))
    assert "target 0%–0%" in draft
    bad = CliRunner().invoke(
        main, ["check-config"], env={"HANDOFF_REPORT__DRAFT_USAGE_MIN": "0.9", "HANDOFF_CONFIG": ""}
    )
    assert bad.exit_code == 1 and "draft_usage_min must not be above draft_usage_max" in bad.output
