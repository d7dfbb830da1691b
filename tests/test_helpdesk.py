"""``connector.helpdesk.apply_event``: what a helpdesk's event does to a handoff, vendor aside."""

from __future__ import annotations

from connector import helpdesk
from integrations.base import HelpdeskEvent
from tests.helpers import event, post_event


def escalate(client) -> str:  # type: ignore[no-untyped-def]
    answer = post_event(client, event())
    assert answer.status_code == 200, answer.json
    return str(answer.json["handoff"]["id"])


def team_of(runtime, handoff_id: str) -> str | None:  # type: ignore[no-untyped-def]
    with runtime.store.reading() as tx:
        handoff = tx.get_handoff(handoff_id)
    assert handoff is not None
    return handoff.team


def test_a_reassignment_without_a_team_changes_nothing(client, runtime):  # type: ignore[no-untyped-def]
    handoff_id = escalate(client)
    team = team_of(runtime, handoff_id)
    blank = HelpdeskEvent(kind="reassigned", handoff_id=handoff_id, team=None, raw_id="r1")
    assert helpdesk.apply_event(runtime, "zendesk", blank) == "ignored: reassigned without a team"
    assert team_of(runtime, handoff_id) == team
    other = "billing" if team != "billing" else "general"
    moved = HelpdeskEvent(kind="reassigned", handoff_id=handoff_id, team=other, raw_id="r2")
    assert helpdesk.apply_event(runtime, "zendesk", moved) == "reassigned"
    assert team_of(runtime, handoff_id) == other
    assert helpdesk.apply_event(runtime, "zendesk", moved) == "duplicate"


def test_an_effect_that_fails_is_applied_when_the_vendor_retries(client, runtime, monkeypatch):  # type: ignore[no-untyped-def]
    """The vendor's event id and its effect commit together: a failure in the effect (here the
    store answering busy half-way) leaves no id behind, so the retry is applied, not a duplicate."""
    import pytest

    from connector import service
    from connector.errors import StoreBusy

    handoff_id = escalate(client)
    reply = HelpdeskEvent(
        kind="agent_replied", handoff_id=handoff_id, actor="agent.kim", raw_id="evt-9"
    )
    real = service.record_agent_reply_in
    failures = iter([StoreBusy("the store stayed locked")])

    def busy_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        failure = next(failures, None)
        if failure is not None:
            real(*args, **kwargs)  # some of the effect is written, then the store gives up
            raise failure
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "record_agent_reply_in", busy_once)
    with pytest.raises(StoreBusy):
        helpdesk.apply_event(runtime, "zendesk", reply)
    with runtime.store.reading() as tx:
        assert tx.list_facts(handoff_id, "first_response") == []  # nothing of it stayed
    assert helpdesk.apply_event(runtime, "zendesk", reply) == "agent replied"
    with runtime.store.reading() as tx:
        assert [f.data["actor"] for f in tx.list_facts(handoff_id, "first_response")] == [
            "agent.kim"
        ]
    assert helpdesk.apply_event(runtime, "zendesk", reply) == "duplicate"
