"""Response windows: reminders, honest customer updates, fallbacks, and timers that stop."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from connector import service, timers
from connector.errors import ConfigError
from connector.schemas import Claim
from tests.helpers import Clock, drain, dumps, event, make_settings, post_event, signed_headers

WINDOW = 10 * 60  # the default response window, in seconds


def escalate(client, conversation_id: str = "conv-1", event_id: str = "evt-1") -> dict:  # type: ignore[no-untyped-def]
    answer = post_event(client, event(conversation_id, event_id))
    assert answer.status_code == 200, answer.json
    return answer.json


def callbacks(receiver, kind: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [r["json"] for r in receiver.accepted() if r["json"]["type"] == kind]


def audit_actions(runtime, conversation_id: str = "conv-1") -> list[str]:  # type: ignore[no-untyped-def]
    with runtime.store.reading() as tx:
        return [a.action for a in tx.list_audit(conversation_id)]


def test_a_timer_starts_with_the_handoff(client, runtime, clock):  # type: ignore[no-untyped-def]
    handoff_id = escalate(client)["handoff"]["id"]
    with runtime.store.reading() as tx:
        [timer] = tx.list_timers(handoff_id)
    assert (timer.kind, timer.step, timer.round, timer.status) == (
        "response_window",
        1,
        1,
        "pending",
    )
    assert timer.due_at == pytest.approx(clock.now.timestamp() + WINDOW)


def test_reminder_notes_bumps_and_tells_the_customer(client, runtime, worker, receiver, clock):  # type: ignore[no-untyped-def]
    handoff_id = escalate(client)["handoff"]["id"]
    drain(worker)
    with runtime.store.reading() as tx:
        before = tx.get_handoff(handoff_id).priority
    clock.advance(WINDOW - 1)
    drain(worker)
    assert callbacks(receiver, "customer.update") == []  # not yet
    clock.advance(2)
    drain(worker)
    [update] = callbacks(receiver, "customer.update")
    assert update["handoff_id"] == handoff_id and update["reminder"] == 1
    assert "still in line" in update["text"] and update["wait_minutes"] == 10
    assert update["callback_offered"] is False
    with runtime.store.reading() as tx:
        handoff = tx.get_handoff(handoff_id)
        item = tx.get_inbox_item(handoff_id)
        rows = [r for r in tx.list_outbox() if r.idempotency_key.startswith("reminder:")]
        pending = tx.list_timers(handoff_id, status="pending")
    assert handoff.priority == timers.bump(before) != before
    assert {r.body["op"] for r in rows} == {"note", "update"}
    assert any("Reminder 1/2" in note["text"] for note in item["notes"])
    assert [(t.step, t.round) for t in pending] == [(2, 1)]
    assert "reminder.sent" in audit_actions(runtime)


def test_reminders_repeat_then_hand_back_with_a_callback_promise(
    client, runtime, worker, receiver, clock
):  # type: ignore[no-untyped-def]
    handoff_id = escalate(client)["handoff"]["id"]
    drain(worker)
    for _ in range(3):
        clock.advance(WINDOW + 1)
        drain(worker)
    updates = callbacks(receiver, "customer.update")
    assert [u["reminder"] for u in updates] == [1, 2]
    assert updates[-1]["callback_offered"] is True and "call you back" in updates[-1]["text"]
    [handed] = callbacks(receiver, "conversation.handed_back")
    assert handed["resolution"] == "no_agent_response" and handed["callback_promised"] is True
    assert "sorry" in handed["customer_message"]["text"].lower()
    with runtime.store.reading() as tx:
        assert tx.get_conversation("conv-1").owner == "bot"
        handoff = tx.get_handoff(handoff_id)
        assert handoff.status == "handed_back" and handoff.handback["actor"] == timers.ACTOR
        assert tx.list_timers(handoff_id, status="pending") == []
    actions = audit_actions(runtime)
    assert actions.count("reminder.sent") == 2 and "handback" in actions
    clock.advance(10 * WINDOW)
    assert drain(worker) == 0  # nothing left to fire


def test_route_to_team_fallback_then_handback(tmp_path, receiver):  # type: ignore[no-untyped-def]
    from connector.app import create_app
    from connector.delivery import Worker
    from connector.runtime import build_runtime

    clock = Clock.at("2026-12-08 10:00", "Europe/London")  # a Tuesday: partners are at work
    settings = make_settings(
        tmp_path,
        callback_url=receiver.url,
        reminders={
            "max_reminders": 0,
            "fallback": {"action": "route_to_team", "team": "partners"},
            "teams": {"partners": {"response_window_minutes": 5}},
        },
    )
    runtime = build_runtime(settings, clock=clock)
    try:
        client = create_app(runtime=runtime).test_client()
        worker = Worker(runtime, concurrency=1, worker_id="w")
        handoff_id = post_event(client, event(), clock=clock).json["handoff"]["id"]
        drain(worker)
        with runtime.store.reading() as tx:
            first_team = tx.get_handoff(handoff_id).team
        assert first_team != "partners"
        clock.advance(timers.window_for(settings, first_team).minutes * 60 + 1)
        drain(worker)
        with runtime.store.reading() as tx:
            handoff = tx.get_handoff(handoff_id)
            [moved] = tx.list_facts(handoff_id, "rerouted")
            [timer] = tx.list_timers(handoff_id, status="pending")
            updates = [r.body for r in tx.list_outbox() if r.body.get("op") == "update"]
        assert handoff.team == "partners" and moved.data == {
            "from_team": first_team,
            "to_team": "partners",
            "by": timers.ACTOR,
        }
        assert (timer.round, timer.step) == (2, 1)
        assert timer.due_at == pytest.approx(
            clock.now.timestamp() + 5 * 60
        )  # the new team's own window
        queue = settings.routing.teams["partners"].queue
        assert {"team": "partners", "queue": queue, "priority": handoff.priority} in [
            u["fields"] for u in updates
        ]
        assert "partners team" in callbacks(receiver, "customer.update")[0]["text"]
        clock.advance(5 * 60 + 1)
        drain(worker)
        with runtime.store.reading() as tx:
            assert tx.get_handoff(handoff_id).status == "handed_back"  # one reroute, then the bot
    finally:
        runtime.close()


@pytest.mark.parametrize("how", ["claim", "reply", "handback"])
def test_an_agent_stops_the_timers(client, runtime, worker, receiver, clock, how):  # type: ignore[no-untyped-def]
    handoff_id = escalate(client)["handoff"]["id"]
    drain(worker)
    clock.advance(90)
    if how == "claim":
        service.claim(runtime, handoff_id, Claim(actor="agent-ann"))
    elif how == "reply":
        service.record_agent_reply(runtime, handoff_id, "agent-ann")
    else:
        client.post(
            f"/v1/handoffs/{handoff_id}/handback",
            json={"actor": "agent-ann", "note": "sorted"},
            headers={"X-API-Key": "test-agent-key"},
        )
    with runtime.store.reading() as tx:
        assert tx.list_timers(handoff_id, status="pending") == []
        facts = tx.list_facts(handoff_id, "first_response")
    clock.advance(5 * WINDOW)
    drain(worker)
    assert callbacks(receiver, "customer.update") == []
    assert "reminder.stopped" in audit_actions(runtime)
    if how != "handback":
        assert [f.data["seconds"] for f in facts] == [90.0]


def test_agent_reply_takes_over_and_counts_the_first_response_once(client, runtime, clock):  # type: ignore[no-untyped-def]
    handoff_id = escalate(client)["handoff"]["id"]
    clock.advance(120)
    control = service.record_agent_reply(runtime, handoff_id, "agent-bo")
    assert control.owner == "agent"
    clock.advance(60)
    service.record_agent_reply(runtime, handoff_id, "agent-bo")
    with runtime.store.reading() as tx:
        [first] = tx.list_facts(handoff_id, "first_response")
        assert tx.get_handoff(handoff_id).claimed_by == "agent-bo"
    assert first.data["seconds"] == 120.0 and first.data["via"] == "reply"
    assert audit_actions(runtime).count("agent.replied") == 2


def test_recorded_first_responses_set_the_next_wait(client, runtime, clock):  # type: ignore[no-untyped-def]
    """The wait told to the next customer is the p75 of the team's recorded first responses."""

    def post(conversation_id: str) -> dict:
        raw = dumps(event(conversation_id, f"evt-{conversation_id}"))
        headers = signed_headers(raw, timestamp=int(clock.now.timestamp()))  # the test's clock
        return client.post("/v1/events", data=raw, headers=headers).json

    for i, seconds in enumerate((120, 240, 480)):
        handoff_id = post(f"conv-{i}")["handoff"]["id"]
        clock.advance(seconds)
        service.record_agent_reply(runtime, handoff_id, "agent-bo")
    answer = post("conv-next")
    assert answer["customer_message"]["wait_minutes"] == 8
    with runtime.store.reading() as tx:
        routing = tx.get_handoff(answer["handoff"]["id"]).payload["routing"]
    assert routing["wait_basis"] == "p75 of 3 recent first responses"


def test_two_workers_fire_each_reminder_once(client, runtime, clock):  # type: ignore[no-untyped-def]
    escalate(client)
    clock.advance(WINDOW + 1)
    start = threading.Barrier(2)
    fired: list[int] = []

    def fire(worker_id: str) -> None:
        start.wait()
        fired.append(timers.fire_due(runtime, worker_id))

    threads = [threading.Thread(target=fire, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(fired) == [0, 1]
    assert audit_actions(runtime).count("reminder.sent") == 1
    with runtime.store.atomic() as tx:  # and the claim itself is conditional
        assert tx.claim_due_timer("w3", clock.now.timestamp()) is None


def test_a_clock_jump_backwards_neither_fires_early_nor_goes_negative(
    client, runtime, worker, receiver, clock
):  # type: ignore[no-untyped-def]
    handoff_id = escalate(client)["handoff"]["id"]
    clock.now -= timedelta(hours=1)
    drain(worker)
    assert callbacks(receiver, "customer.update") == []
    service.claim(runtime, handoff_id, Claim(actor="agent-cy"))
    with runtime.store.reading() as tx:
        [first] = tx.list_facts(handoff_id, "first_response")
    assert first.data["seconds"] == 0.0 and first.data["clock_skew_seconds"] == pytest.approx(-3600)


def test_reminders_can_be_switched_off(tmp_path, receiver, clock):  # type: ignore[no-untyped-def]
    from connector.app import create_app
    from connector.runtime import build_runtime

    settings = make_settings(tmp_path, callback_url=receiver.url, reminders={"enabled": False})
    runtime = build_runtime(settings, clock=clock)
    try:
        handoff_id = escalate(create_app(runtime=runtime).test_client())["handoff"]["id"]
        with runtime.store.reading() as tx:
            assert tx.list_timers(handoff_id) == []
    finally:
        runtime.close()


@pytest.mark.parametrize(
    "section,expected",
    [
        (
            {"teams": {"nosuch": {"max_reminders": 1}}},
            "reminders.teams.nosuch: unknown team 'nosuch'",
        ),
        ({"fallback": {"action": "route_to_team"}}, "needs fallback.team"),
        (
            {"fallback": {"action": "route_to_team", "team": "ghosts"}},
            "reminders.fallback.team: unknown team 'ghosts'",
        ),
        (
            {"response_window_minutes": 0},
            "reminders.response_window_minutes: Input should be greater than 0",
        ),
        ({"fallback": {"action": "escalate"}}, "reminders.fallback.action: Input should be"),
    ],
    ids=[
        "unknown-team",
        "route-without-team",
        "unknown-fallback-team",
        "zero-window",
        "bad-action",
    ],
)
def test_bad_reminder_config_names_the_key(tmp_path, section, expected):  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, reminders=section)
    assert any(expected in line for line in info.value.lines()), info.value.lines()


def test_window_for_team_overrides_and_inherits(tmp_path):  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path,
        reminders={"max_reminders": 3, "teams": {"general": {"response_window_minutes": 2}}},
    )
    window = timers.window_for(settings, "general")
    assert (window.minutes, window.max_reminders, window.fallback.action) == (2, 3, "handback")
    assert timers.window_for(settings, None).minutes == 10


@pytest.mark.parametrize(
    "priority,bumped",
    [
        ("low", "normal"),
        ("normal", "high"),
        ("high", "urgent"),
        ("urgent", "urgent"),
        ("weird", "high"),
    ],
)
def test_priority_bump(priority, bumped):  # type: ignore[no-untyped-def]
    assert timers.bump(priority) == bumped
