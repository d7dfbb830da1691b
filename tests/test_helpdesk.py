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
