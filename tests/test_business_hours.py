"""Response windows count the team's open minutes: nights, weekends, holidays, on call.

Every test runs the real service, store and worker on a clock started at a chosen local instant
(``Clock.at``) and moved by hand, so the time of day is part of the test, not of the machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connector.app import create_app
from connector.delivery import Worker
from connector.routing_config import default_teams
from connector.runtime import Runtime, build_runtime
from tests.helpers import Clock, drain, event, make_settings, post_event

PARIS = ZoneInfo("Europe/Paris")
# Mon-Fri 08:00-20:00 in Paris: the billing team
BILLING = {"queue": "billing", "wait_minutes": 10, "timezone": "Europe/Paris",
           "hours": ["mon-fri 08:00-20:00"]}  # fmt: skip


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


@contextmanager
def connector(
    tmp_path, receiver, clock: Clock, teams: dict[str, Any], **sections: Any
) -> Iterator[tuple[Runtime, Any, Worker]]:  # type: ignore[no-untyped-def]
    """A runtime on ``clock`` whose teams are ``teams`` (the first is the default, and takes the
    test's conversation) beside the built-in ones, made plain (no hours) so the rules still name
    known teams."""
    plain = {name: {"queue": name} for name in default_teams()}
    routing = {"default_team": next(iter(teams)), "teams": {**plain, **teams}}
    settings = make_settings(tmp_path, callback_url=receiver.url, routing=routing, **sections)
    runtime = build_runtime(settings, clock=clock)
    try:
        yield (
            runtime,
            create_app(runtime=runtime).test_client(),
            Worker(runtime, concurrency=1, worker_id="w"),
        )
    finally:
        runtime.close()


def escalate(client, clock: Clock, conversation_id: str = "conv-1") -> dict:  # type: ignore[no-untyped-def]
    answer = post_event(client, event(conversation_id, f"evt-{conversation_id}"), clock=clock)
    assert answer.status_code == 200, answer.json
    return answer.json


def updates(receiver) -> list[dict]:  # type: ignore[no-untyped-def]
    return [r["json"] for r in receiver.accepted() if r["json"]["type"] == "customer.update"]


def pending_due(runtime: Runtime, handoff_id: str) -> datetime:
    with runtime.store.reading() as tx:
        [timer] = tx.list_timers(handoff_id, status="pending")
    return datetime.fromtimestamp(timer.due_at, PARIS)


def priority(runtime: Runtime, handoff_id: str) -> str:
    with runtime.store.reading() as tx:
        return tx.get_handoff(handoff_id).priority


def run_until(clock: Clock, worker: Worker, moment: datetime) -> None:
    """Move the clock to ``moment`` a quarter of an hour at a time, and to each
    timer's due time on the way, running the worker at every stop."""
    while clock.now < moment:
        with worker.runtime.store.reading() as tx:
            due = tx.next_timer_due_at()
        step = min(900.0, (moment - clock.now).total_seconds())
        if due is not None and due > clock.now.timestamp():
            step = min(step, due - clock.now.timestamp())
        clock.advance(step)
        drain(worker)


def test_a_handoff_at_night_waits_for_the_opening(tmp_path, receiver):  # type: ignore[no-untyped-def]
    """The issue's case: Tuesday 21:17 in Paris, billing opens Wednesday 08:00."""
    clock = Clock.at("2026-12-08 21:17", "Europe/Paris")
    with connector(tmp_path, receiver, clock, {"billing": BILLING}) as (runtime, client, worker):
        answer = escalate(client, clock)
        handoff_id = answer["handoff"]["id"]
        told = answer["customer_message"]
        assert answer["decision"]["team"] == "billing"
        # told once, with what happens next: who answers and when, in the team's zone
        assert "Wed 2026-12-09 08:00 CET" in told["text"] and "nobody" not in told["text"].lower()
        assert told["callback_offered"] is True
        assert datetime.fromisoformat(told["callback_at"]) == paris("2026-12-09 08:00")
        with runtime.store.reading() as tx:
            routing = tx.get_handoff(handoff_id).payload["routing"]
        respond_by = datetime.fromisoformat(routing["respond_by"])
        assert respond_by == paris("2026-12-09 08:00")
        # the first reminder: a 10-minute window of open time, after the respond-by time
        assert pending_due(runtime, handoff_id) == paris("2026-12-09 08:10")
        start = priority(runtime, handoff_id)
        drain(worker)

        run_until(clock, worker, paris("2026-12-09 08:09"))
        assert updates(receiver) == [] and priority(runtime, handoff_id) == start

        run_until(clock, worker, paris("2026-12-09 08:11"))
        [update] = updates(receiver)
        assert update["reminder"] == 1 and update["wait_minutes"] == 10
        assert priority(runtime, handoff_id) != start  # one bump, in the morning


def test_weekend_and_holiday_count_nothing(tmp_path, receiver):  # type: ignore[no-untyped-def]
    """Friday 19:45: the first reminder at 19:55 tells the customer when the next update comes,
    which skips the weekend and Monday's holiday: Tuesday 08:05."""
    clock = Clock.at("2026-12-18 19:45", "Europe/Paris")
    team = {**BILLING, "holidays": ["2026-12-21"]}
    with connector(tmp_path, receiver, clock, {"billing": team}) as (runtime, client, worker):
        handoff_id = escalate(client, clock)["handoff"]["id"]
        assert pending_due(runtime, handoff_id) == paris("2026-12-18 19:55")
        run_until(clock, worker, paris("2026-12-18 19:56"))
        [first] = updates(receiver)
        assert first["reminder"] == 1
        assert "at Tue 2026-12-22 08:05 CET, once the team is back" in first["text"]
        assert "about 10 minutes" not in first["text"]
        assert datetime.fromisoformat(first["next_update_at"]) == paris("2026-12-22 08:05")
        assert first["wait_minutes"] == (3 * 24 + 12) * 60 + 10  # Fri 19:55 to Tue 08:05
        assert pending_due(runtime, handoff_id) == paris("2026-12-22 08:05")
        bumped = priority(runtime, handoff_id)

        run_until(clock, worker, paris("2026-12-22 08:04"))  # the weekend and the holiday
        assert len(updates(receiver)) == 1 and priority(runtime, handoff_id) == bumped

        run_until(clock, worker, paris("2026-12-22 08:06"))
        assert [u["reminder"] for u in updates(receiver)] == [1, 2]


@pytest.mark.parametrize(
    "team",
    [
        {"queue": "support"},  # no hours: always staffed
        {**BILLING, "on_call": "night-desk", "on_call_wait_minutes": 20},  # covered at night
    ],
    ids=["always-open", "on-call"],
)
def test_a_staffed_team_counts_plain_minutes(tmp_path, receiver, team):  # type: ignore[no-untyped-def]
    clock = Clock.at("2026-12-13 03:00", "Europe/Paris")  # a Sunday night
    with connector(tmp_path, receiver, clock, {"general": team}) as (runtime, client, worker):
        answer = escalate(client, clock)
        handoff_id = answer["handoff"]["id"]
        assert answer["customer_message"]["callback_offered"] is False
        assert pending_due(runtime, handoff_id) == paris("2026-12-13 03:10")
        with runtime.store.reading() as tx:
            routing = tx.get_handoff(handoff_id).payload["routing"]
        wait = answer["customer_message"]["wait_minutes"]
        respond_by = datetime.fromisoformat(routing["respond_by"])
        assert (respond_by - clock.now).total_seconds() == wait * 60
        run_until(clock, worker, paris("2026-12-13 03:11"))
        assert [u["reminder"] for u in updates(receiver)] == [1]


def test_a_reroute_to_a_closed_team_waits_for_it(tmp_path, receiver):  # type: ignore[no-untyped-def]
    """The fallback team is closed: its window starts when it opens, and the customer is told."""
    clock = Clock.at("2026-12-08 19:58", "Europe/Paris")
    teams = {
        "general": {"queue": "support"},
        "partners": {"queue": "partners", "timezone": "Europe/London",
                     "hours": ["mon-fri 09:00-17:00"]},
    }  # fmt: skip
    reminders = {
        "max_reminders": 0,
        "fallback": {"action": "route_to_team", "team": "partners"},
        "teams": {"partners": {"response_window_minutes": 5}},
    }
    with connector(tmp_path, receiver, clock, teams, reminders=reminders) as (rt, client, worker):
        handoff_id = escalate(client, clock)["handoff"]["id"]
        run_until(clock, worker, paris("2026-12-08 20:09"))
        with rt.store.reading() as tx:
            assert tx.get_handoff(handoff_id).team == "partners"
        [moved] = updates(receiver)
        assert "at Wed 2026-12-09 09:05 GMT, once the team is back" in moved["text"]
        assert pending_due(rt, handoff_id) == paris("2026-12-09 10:05")  # 09:05 in London
        run_until(clock, worker, paris("2026-12-09 10:04"))
        with rt.store.reading() as tx:
            assert tx.get_handoff(handoff_id).status != "handed_back"
        run_until(clock, worker, paris("2026-12-09 10:06"))
        with rt.store.reading() as tx:
            assert tx.get_handoff(handoff_id).status == "handed_back"


def test_the_night_message_speaks_the_customers_language(tmp_path, receiver):  # type: ignore[no-untyped-def]
    clock = Clock.at("2026-12-08 21:17", "Europe/Paris")
    with connector(tmp_path, receiver, clock, {"billing": BILLING}) as (runtime, client, worker):
        body = event("conv-fr", "evt-fr")
        body["conversation"]["language"] = "fr"
        told = post_event(client, body, clock=clock).json["customer_message"]
    assert "répondra à partir de mer. 2026-12-09 08:00 CET" in told["text"]
    assert told["language"] == "fr"
