"""KPIs, `handoff report` and `/dashboard`: figures from the store, a self-contained HTML page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from connector import kpis, service
from connector.cli import main
from connector.report import build_report, kpi_table, render_html
from connector.schemas import Claim
from connector.store import MessageRow
from tests.helpers import API_KEY, dumps, event, post_event, signed_headers

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


# --- pure pieces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("7d", NOW - timedelta(days=7)),
        ("24h", NOW - timedelta(hours=24)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(weeks=2)),
        (" 3D ", NOW - timedelta(days=3)),
        ("2025-03-01", datetime(2025, 3, 1, tzinfo=UTC)),
        ("2025-03-01T08:00:00+01:00", datetime(2025, 3, 1, 7, tzinfo=UTC)),
    ],
    ids=lambda v: str(v),
)
def test_parse_since(text, expected):  # type: ignore[no-untyped-def]
    assert kpis.parse_since(text, NOW) == expected


@pytest.mark.parametrize(
    "text,message",
    [
        ("garbage", "is not a period"),
        ("", "is not a period"),
        ("-1d", "is not a period"),
        ("2099-01-01", "in the future"),
        ("99999999w", "too far back"),
    ],
)
def test_parse_since_rejects(text, message):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        kpis.parse_since(text, NOW)


@pytest.mark.parametrize(
    "values,q,expected",
    [
        ([], 50, None),
        ([5], 90, 5),
        ([1, 2, 3, 4], 50, 2.5),
        ([10, 20, 30, 40, 50], 90, 46),
        ([3, 1, 2], 0, 1),
    ],
)
def test_percentile(values, q, expected):  # type: ignore[no-untyped-def]
    assert kpis.percentile(values, q) == expected


KNOWN = {
    "customer": {"name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0000"},
    "customer_texts": ["My order ORD-55123 never arrived and I paid for express shipping to Leeds"],
}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Could you please confirm your email address?", "email"),
        ("What's your order number?", "reference"),
        ("Can I have your phone number?", "phone"),
        ("Hi Ada, what seems to be the problem?", "issue"),
        ("I've refunded the express shipping for ORD-55123.", None),  # not a question
        ("Is there anything else?", None),  # a question, about nothing the payload held
    ],
    ids=["email", "reference", "phone", "issue", "statement", "unrelated-question"],
)
def test_agent_asks_for_what_the_payload_held(text, expected):  # type: ignore[no-untyped-def]
    assert kpis.agent_asks_known(text, KNOWN) == expected


def test_agent_question_about_missing_data_is_fine():
    assert (
        kpis.agent_asks_known("What's your email?", {"customer": {}, "customer_texts": []}) is None
    )


@pytest.mark.parametrize(
    "text,expected",
    [
        ("It's ORD-55123", True),
        ("my email is ada@example.com", True),
        ("As I said, my order never arrived and I paid for express shipping", True),
        ("Thanks, that works", False),
        ("ok", False),
    ],
    ids=["id", "email", "restated", "thanks", "short"],
)
def test_customer_restates(text, expected):  # type: ignore[no-untyped-def]
    assert kpis.customer_restates(text, KNOWN) is expected


EMPTY = {
    "since": "a",
    "until": "b",
    "conversations": 0,
    "handoffs": [],
    "facts": [],
    "post_messages": [],
    "known": {},
    "drafts": {"available": False, "events": []},
}


def test_empty_period_is_a_report_not_an_error():
    k = kpis.compute(EMPTY)
    assert k["handoffs"] == 0 and k["handoff_rate"] is None and k["first_response"]["p50"] is None
    table = kpi_table(k)
    assert "(no handoffs in this period)" in table and "n/a" in table
    assert "<svg" in render_html(k)


def test_drafts_and_team_filter_in_compute():
    def h(i: int, team: str) -> dict:
        return {
            "id": f"h{i}",
            "conversation_id": f"c{i}",
            "created_at": "2025-03-09T10:00:00+00:00",
            "team": team,
            "status": "open",
            "priority": "normal",
            "intent": "billing",
            "reasons": ["human_request"],
            "has_draft": True,
            "handback_at": None,
            "handback_actor": None,
            "conversation_created_at": "2025-03-09T09:58:00+00:00",
        }

    data = {
        **EMPTY,
        "conversations": 4,
        "handoffs": [h(1, "billing"), h(2, "billing"), h(3, "general"), h(4, "x")],
        "facts": [
            {"handoff_id": "h4", "kind": "reassigned", "at": "t", "data": {"from_team": "general"}}
        ],
        "drafts": {
            "available": True,
            "events": [
                {"handoff_id": "h1", "action": "sent_unedited"},
                {"handoff_id": "h2", "action": "discarded"},
                {"handoff_id": "h3", "action": "sent_edited"},
                {"handoff_id": "h3", "action": "copied"},
            ],
        },
    }
    k = kpis.compute(data)
    assert k["drafts"]["usage"] == 0.5 and k["drafts"]["unedited_share"] == 0.5
    assert k["routing"]["by_team"]["general"] == {"handoffs": 2, "reassigned": 1, "accuracy": 0.5}
    assert k["handle_time"]["bot_p50"] == 120
    general = kpis.compute(data, team="general")
    assert general["handoffs"] == 2 and general["routing"]["accuracy"] == 0.5


# --- from the store --------------------------------------------------------------------------------


@pytest.fixture
def history(client, runtime, clock):  # type: ignore[no-untyped-def]
    """Four conversations, three handoffs: one answered fast, one reassigned, one with a repeat."""
    ids = []
    for i in range(3):
        raw = dumps(event(f"conv-{i}", f"evt-{i}"))
        ids.append(
            client.post("/v1/events", data=raw, headers=signed_headers(raw)).json["handoff"]["id"]
        )
    calm = dumps(
        event(
            "conv-calm", "evt-calm", messages=[{"id": "m", "role": "customer", "text": "Thanks!"}]
        )
    )
    client.post("/v1/events", data=calm, headers=signed_headers(calm))
    clock.advance(60)
    service.claim(runtime, ids[0], Claim(actor="ann"))
    clock.advance(240)
    service.record_agent_reply(runtime, ids[1], "bo")
    service.record_reassignment(runtime, ids[1], None, "billing")
    service.record_csat(runtime, ids[0], 4)
    with runtime.store.atomic() as tx:
        tx.add_messages(
            [
                MessageRow("conv-2", "a1", "agent", "Hi! What seems to be the problem?", None),
                MessageRow("conv-2", "c1", "customer", "I already said: it never arrived", None),
            ]
        )
    return ids


def test_report_from_the_store(history, runtime, clock):  # type: ignore[no-untyped-def]
    k = build_report(runtime.store, clock.now - timedelta(days=7), clock.now + timedelta(seconds=1))
    assert (k["conversations"], k["handoffs"]) == (4, 3)
    assert k["handoff_rate"] == 0.75
    assert k["first_response"]["count"] == 2 and k["first_response"]["values"] == [60.0, 300.0]
    assert k["routing"]["reassigned"] == 1 and k["routing"]["accuracy"] == pytest.approx(2 / 3)
    assert k["csat"] == {"responses": 1, "mean": 4.0, "scale": 5.0}
    assert k["repeat_context"]["observed"] == 1 and k["repeat_context"]["rate"] == 1.0
    assert k["repeat_context"]["agent_asks"] == {"issue": 1}
    assert k["top_reasons"][0] == ("human_request", 3)
    empty = build_report(
        runtime.store, clock.now + timedelta(days=1), clock.now + timedelta(days=2)
    )
    assert empty["handoffs"] == 0
    backwards = build_report(
        runtime.store, clock.now, clock.now - timedelta(hours=1)
    )  # a clock jump back
    assert backwards["handoffs"] == 0


def test_cli_report_table_and_self_contained_html(history, settings, tmp_path):  # type: ignore[no-untyped-def]
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        main,
        ["report", "--since", "7d", "--output", str(out)],
        env={"HANDOFF_DB": settings.store.path},
    )
    assert result.exit_code == 0, result.output
    for label in (
        "Handoff rate",
        "First agent response p50",
        "First agent response p90",
        "Routing accuracy",
        "Draft usage",
        "Repeat-context rate",
        "CSAT",
        "Handle time, bot",
        "Handle time, human",
    ):
        assert label in result.output
    html = out.read_text()
    assert html.count("<svg") >= 4
    assert "target 90%" in html and "target 5%" in html and "target 50%–70%" in html
    assert "Learning from handoffs" in html and "human_request" in html
    # self-contained: nothing is fetched from anywhere
    assert not re.search(r"<script|<link|src=|@import|url\(", html)
    assert set(re.findall(r"https?://[^\s\"'<]+", html)) <= {"http://www.w3.org/2000/svg"}


@pytest.mark.parametrize(
    "args,message",
    [
        (["--since", "last tuesday"], "error: --since 'last tuesday' is not a period"),
        (["--team", "ghosts"], "error: unknown team 'ghosts'"),
    ],
    ids=["since-garbage", "unknown-team"],
)
def test_cli_report_bad_input_is_one_line(settings, args, message):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, ["report", *args], env={"HANDOFF_DB": settings.store.path})
    assert result.exit_code == 1 and result.output.strip() == result.output.strip().splitlines()[0]
    assert result.output.startswith(message)


def test_cli_report_on_an_empty_store(settings, runtime):  # type: ignore[no-untyped-def]
    # ``runtime`` creates the (empty) store: a missing one is refused (test_report_kpis.py)
    result = CliRunner().invoke(
        main, ["report", "--team", "general"], env={"HANDOFF_DB": settings.store.path}
    )
    assert result.exit_code == 0 and "(no handoffs in this period)" in result.output


def test_dashboard(history, client):  # type: ignore[no-untyped-def]
    assert client.get("/dashboard").status_code == 401
    page = client.get(f"/dashboard?key={API_KEY}")
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    assert b"<svg" in page.data and b"Routing accuracy" in page.data
    bad = client.get("/dashboard?since=soon", headers={"X-API-Key": API_KEY})
    assert bad.status_code == 400 and bad.json["errors"][0]["path"] == "since"
    unknown = client.get("/dashboard?team=ghosts", headers={"X-API-Key": API_KEY})
    assert unknown.status_code == 400 and "unknown team" in unknown.json["detail"]


def test_report_columns_backfill_matches_insert(client, runtime):  # type: ignore[no-untyped-def]
    """Migration 011's SQL backfill computes what insert_handoff stores for new rows."""
    from connector.store.sqlite.migrations import BACKFILL_REPORT_COLUMNS
    from tests.helpers import event

    for i in range(3):
        body = event(f"conv-b{i}", f"evt-b{i}", bot={"draft_reply": "Hi!"} if i else {})
        assert post_event(client, body).status_code == 200
    query = "SELECT id, intent, triggers, has_draft, transcript_turns FROM handoffs ORDER BY id"
    with runtime.store.atomic() as tx:
        inserted = [tuple(r) for r in tx.conn.execute(query)]
        tx.conn.execute(
            "UPDATE handoffs SET intent=NULL, triggers=NULL, has_draft=NULL, transcript_turns=NULL"
        )
        tx.conn.execute(BACKFILL_REPORT_COLUMNS)
        backfilled = [tuple(r) for r in tx.conn.execute(query)]
    assert backfilled == inserted
    # a draft is built from templates when the bot sends none, so every handoff has one
    assert {row[2] for row in inserted} == {"human_request"} and {row[3] for row in inserted} == {1}
    assert all(row[4] == 3 for row in inserted)
