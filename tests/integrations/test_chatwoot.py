"""Chatwoot as a destination: the handoff note in the Chatwoot conversation (or a conversation of
its own for other channels), exactly once; Chatwoot's account webhooks back to the bot; the
failure table. Every call goes to a stand-in that validates it against Chatwoot's swagger."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from connector.config import Settings
from connector.schemas import HandoffPayload
from integrations.base import Delivery, TicketRef
from integrations.chatwoot import webhooks
from integrations.chatwoot.build import display_id, render_note
from tests.channels.test_chatwoot import message_created, post
from tests.helpers import API_KEY, drain, event, make_settings, post_event
from tests.integrations.harness import FAILURE_TABLE, check_failure, connection_refused_case
from tests.standins.chatwoot import ChatwootStandin

WEBHOOK_SECRET = "account-webhook-secret"


@pytest.fixture
def chatwoot(clock) -> Any:  # type: ignore[no-untyped-def]
    with ChatwootStandin(clock=clock) as standin:
        yield standin
    assert standin.validation_errors == [] and standin.internal_errors == []


def destination_settings(chatwoot: ChatwootStandin, **extra: Any) -> dict[str, Any]:
    return {
        "base_url": chatwoot.base_url,
        "account_id": 1,
        "api_access_token": chatwoot.user_token,
        "inbox_id": 3,
        "team_ids": {"general": 11, "billing": 12},
        "webhook_secret": WEBHOOK_SECRET,
        "timeout_seconds": 2,
        **extra,
    }


@pytest.fixture
def settings(tmp_path: Path, chatwoot: ChatwootStandin, receiver) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(
        tmp_path,
        callback_url=receiver.url,
        destinations={"chatwoot": destination_settings(chatwoot)},
        sources={
            "chatwoot": {
                "channel": "chatwoot",
                "secret": "chatwoot-bot-secret",
                "base_url": chatwoot.base_url,
                "account_id": 1,
                "api_access_token": chatwoot.bot_token,
                "team_ids": {"general": 11, "billing": 12},
            }
        },
    )


def signed(body: dict[str, Any], now: float) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    mac = hmac.new(
        WEBHOOK_SECRET.encode(), f"{int(now)}.".encode() + raw, hashlib.sha256
    ).hexdigest()
    return raw, {
        "Content-Type": "application/json",
        "X-Chatwoot-Signature": f"sha256={mac}",
        "X-Chatwoot-Timestamp": str(int(now)),
    }


def status_changed(
    display: int, status: str, handoff_id: str, stamp: float = 1764930100.5
) -> dict[str, Any]:
    """An account webhook: ``Conversation#webhook_data`` merged with the event and changes."""
    return {
        "event": "conversation_status_changed",
        "id": display,
        "status": status,
        "inbox_id": 3,
        "custom_attributes": {"handoff_id": handoff_id},
        "labels": [],
        "messages": [],
        "meta": {
            "assignee": {"id": 5, "name": "Grace", "type": "user"},
            "assignee_type": "User",
            "team": None,
            "sender": {"id": 77},
        },
        "updated_at": stamp,
        "timestamp": int(stamp),
        "changed_attributes": [{"status": {"previous_value": "open", "current_value": status}}],
    }


def escalate_in_chatwoot(
    live_server: str, chatwoot: ChatwootStandin, clock, worker, display: int = 42
) -> str:  # type: ignore[no-untyped-def]
    chatwoot.add_conversation(display)
    asked = post(
        live_server,
        message_created(display, "I want to talk to a real person about my bill."),
        clock.now.timestamp(),
    )
    assert asked.json()["escalated"] is True
    drain(worker)
    return str(asked.json()["handoff_id"])


def test_a_chatwoot_handoff_is_noted_in_its_conversation_once_and_handed_back_from_chatwoot(
    live_server, worker, chatwoot, clock, runtime
) -> None:  # type: ignore[no-untyped-def]
    handoff_id = escalate_in_chatwoot(live_server, chatwoot, clock, worker)
    conversation = chatwoot.conversations[42]
    assert conversation["custom_attributes"] == {"handoff_id": handoff_id}
    notes = chatwoot.notes(42)
    full = [n for n in notes if n.endswith(f"handoff: {handoff_id}")]
    assert len(full) == 1 and "**Summary:**" in full[0] and "Open the handoff" in full[0]
    assert conversation["status"] == "open"  # the channel's hand-off

    destination = runtime.destinations["chatwoot"]
    ref = TicketRef("chatwoot", "42")
    destination.add_note(ref, "Still waiting.", key="reminder:1")
    destination.add_note(ref, "Still waiting.", key="reminder:1")  # a retry
    destination.add_note(ref, "Still waiting.", key="reminder:2")  # a later round
    assert sum("Still waiting." in n for n in chatwoot.notes(42)) == 2
    destination.update(ref, {"team": "billing", "priority": "high"})
    assert conversation["team_id"] == 12 and conversation["priority"] == "high"

    raw, headers = signed(status_changed(42, "pending", handoff_id), clock.now.timestamp())
    answer = requests.post(
        f"{live_server}/v1/webhooks/chatwoot", data=raw, headers=headers, timeout=10
    )
    assert answer.status_code == 200 and answer.json()["results"] == ["handed back"]
    again = requests.post(
        f"{live_server}/v1/webhooks/chatwoot", data=raw, headers=headers, timeout=10
    )
    assert again.json()["results"] == ["duplicate"]
    control = requests.get(
        f"{live_server}/v1/conversations/chatwoot:1:42/control",
        timeout=10,
        headers={"X-API-Key": API_KEY},
    ).json()
    assert control["owner"] == "bot"
    drain(worker)
    assert conversation["status"] == "pending"


def test_a_handoff_of_another_channel_gets_its_own_conversation_once(
    client, worker, chatwoot, runtime
) -> None:  # type: ignore[no-untyped-def]
    answer = post_event(client, event("conv-web-1", "e1"))
    handoff_id = answer.json["handoff"]["id"]
    chatwoot.fail_next(
        503, route="POST .*/messages"
    )  # the note fails after the conversation exists
    drain(worker)
    handoff = client.get(f"/v1/handoffs/{handoff_id}", headers={"X-API-Key": API_KEY}).json
    payload = HandoffPayload.model_validate(handoff["payload"])
    destination = runtime.destinations["chatwoot"]
    ref = destination.deliver(Delivery(handoff_id, payload, "deliver:x", widget_url="http://w/x"))
    ref_again = destination.deliver(
        Delivery(handoff_id, payload, "deliver:x", widget_url="http://w/x")
    )
    assert ref == ref_again
    (contact,) = chatwoot.contacts.values()
    assert contact["identifier"] == f"handoff-{handoff_id}"
    created = [c for c in chatwoot.conversations.values() if c["contact_id"] == contact["id"]]
    assert len(created) == 1 and created[0]["custom_attributes"] == {"handoff_id": handoff_id}
    assert created[0]["status"] == "open"
    assert (
        len([n for n in chatwoot.notes(int(ref.id)) if n.endswith(f"handoff: {handoff_id}")]) == 1
    )


def test_without_an_inbox_other_channels_are_a_permanent_error(tmp_path, chatwoot, runtime) -> None:  # type: ignore[no-untyped-def]
    from integrations.base import PermanentDeliveryError
    from integrations.chatwoot.destination import ChatwootDestination

    destination = ChatwootDestination.from_config(
        destination_settings(chatwoot, inbox_id=None), runtime
    )
    payload = _payload(runtime, "conv-x")
    with pytest.raises(PermanentDeliveryError, match="inbox_id"):
        destination.deliver(Delivery(payload.handoff_id, payload, "k", widget_url="http://w"))


def _payload(runtime, conversation_id: str) -> HandoffPayload:  # type: ignore[no-untyped-def]
    from connector import service
    from connector.schemas import Event

    response = service.ingest_event(
        runtime, "demo", Event.model_validate(event(conversation_id, f"{conversation_id}-e"))
    )
    with runtime.store.reading() as tx:
        handoff = tx.get_handoff(response.handoff.id)
    return HandoffPayload.model_validate(handoff.payload)


@pytest.mark.parametrize("case", FAILURE_TABLE, ids=lambda c: c.id)
def test_failure_table(chatwoot, runtime, case) -> None:  # type: ignore[no-untyped-def]
    chatwoot.add_conversation(50)
    payload = _payload(runtime, "chatwoot:1:50")
    destination = runtime.destinations["chatwoot"]
    check_failure(
        chatwoot,
        lambda: destination.deliver(
            Delivery(payload.handoff_id, payload, "k", widget_url="http://w")
        ),
        case,
    )


def test_connection_refused_is_transient(runtime) -> None:  # type: ignore[no-untyped-def]
    from integrations.chatwoot.destination import ChatwootDestination

    class Down:
        base_url, user_token = "http://127.0.0.1:1", "t"

    destination = ChatwootDestination.from_config(
        destination_settings(Down(), inbox_id=None), runtime
    )  # type: ignore[arg-type]
    connection_refused_case(lambda: destination.add_note(TicketRef("chatwoot", "1"), "x", key="k"))


@pytest.mark.parametrize(
    ("headers", "slug"),
    [
        ({}, "missing-signature"),
        ({"X-Chatwoot-Signature": "sha256=00", "X-Chatwoot-Timestamp": "{now}"}, "bad-signature"),
        ({"X-Chatwoot-Signature": "sha256=00", "X-Chatwoot-Timestamp": "1"}, "stale-signature"),
    ],
)
def test_webhook_signatures(live_server, clock, headers, slug) -> None:  # type: ignore[no-untyped-def]
    headers = {k: v.replace("{now}", str(int(clock.now.timestamp()))) for k, v in headers.items()}
    answer = requests.post(
        f"{live_server}/v1/webhooks/chatwoot", data=b"{}", headers=headers, timeout=10
    )
    assert answer.status_code == 401 and answer.json()["type"].endswith(f"/{slug}")


def test_unsigned_webhooks_are_refused_without_a_secret() -> None:
    from connector.errors import Unauthorized

    with pytest.raises(Unauthorized, match="webhook_secret"):
        webhooks.verify(None, {}, b"{}", now=0, window=300)


USER = {"id": 5, "name": "Grace", "type": "user"}


@pytest.mark.parametrize(
    ("body", "kinds"),
    [
        (status_changed(1, "pending", "ho_1"), [("handback", "ho_1")]),
        (status_changed(1, "resolved", "ho_1"), [("solved", "ho_1")]),
        (status_changed(1, "snoozed", "ho_1"), []),
        (
            {
                **status_changed(1, "open", "ho_1"),
                "event": "conversation_updated",
                "changed_attributes": [{"assignee_id": {}}],
                "meta": {"assignee": {"id": 9, "name": "Bot"}, "assignee_type": "AgentBot"},
            },
            [("handback", "ho_1")],
        ),
        (
            {
                **status_changed(1, "open", "ho_1"),
                "event": "conversation_updated",
                "changed_attributes": [{"assignee_id": {}}],
                "meta": {"assignee": USER, "assignee_type": "User"},
            },
            [("agent_assigned", "ho_1")],
        ),
        (
            {
                **status_changed(1, "open", "ho_1"),
                "event": "conversation_updated",
                "changed_attributes": [{"team_id": {}}],
                "meta": {"team": {"id": 12, "name": "Billing"}},
            },
            [("reassigned", "ho_1")],
        ),
        (
            {
                "event": "message_created",
                "id": 3,
                "message_type": "outgoing",
                "private": False,
                "sender": USER,
                "conversation": {"id": 1, "custom_attributes": {"handoff_id": "ho_1"}},
            },
            [("agent_replied", "ho_1")],
        ),
        (
            {
                "event": "message_created",
                "id": 4,
                "message_type": "outgoing",
                "private": True,
                "sender": USER,
                "conversation": {"id": 1, "custom_attributes": {"handoff_id": "ho_1"}},
            },
            [],
        ),
        ({"event": "contact_created", "id": 1}, []),
        ({**status_changed(1, "pending", "ho_1"), "custom_attributes": {}}, [("handback", None)]),
    ],
)
def test_webhook_mapping_table(body: dict[str, Any], kinds: list[tuple[str, str | None]]) -> None:
    assert [(e.kind, e.handoff_id) for e in webhooks.parse(body, {"billing": 12})] == kinds


@pytest.mark.parametrize(
    ("conversation_id", "expected"),
    [("chatwoot:1:42", "42"), ("chatwoot:2:42", None), ("conv-1", None), ("chatwoot:1:x", None)],
)
def test_which_conversations_are_chatwoot_conversations(
    conversation_id: str, expected: str | None
) -> None:
    assert display_id(conversation_id, 1) == expected


def test_the_note_escapes_markdown_of_the_customer(runtime) -> None:  # type: ignore[no-untyped-def]
    payload = _payload(runtime, "conv-md")
    payload = payload.model_copy(update={"summary": "[click](http://evil) **now**"})
    note = render_note(payload, "http://w/1")
    assert "\\[click\\](http://evil) \\*\\*now\\*\\*" in note and note.endswith(
        f"handoff: {payload.handoff_id}"
    )


def test_team_ids_must_name_routing_teams(runtime, chatwoot) -> None:  # type: ignore[no-untyped-def]
    from connector.errors import ConfigError
    from integrations.chatwoot.destination import ChatwootDestination

    with pytest.raises(ConfigError) as caught:
        ChatwootDestination.from_config(
            destination_settings(chatwoot, team_ids={"nobody": 1}), runtime
        )
    assert caught.value.lines() == [
        "destinations.chatwoot.team_ids.nobody: not one of routing.teams"
    ]


def test_doctor(runtime, chatwoot) -> None:  # type: ignore[no-untyped-def]
    from integrations.chatwoot.destination import ChatwootDestination

    good = runtime.destinations["chatwoot"].doctor()
    assert all(f.ok for f in good) and len(good) == 4
    bad = ChatwootDestination.from_config(
        destination_settings(chatwoot, team_ids={"general": 99}, inbox_id=8), runtime
    ).doctor()
    assert [f.what for f in bad if not f.ok] == ["team_ids.general = 99", "inbox_id = 8"]
    wrong = ChatwootDestination.from_config(
        destination_settings(chatwoot, api_access_token="nope"), runtime
    ).doctor()
    assert len(wrong) == 1 and not wrong[0].ok


def test_the_commented_example_in_config_example_yaml_is_valid() -> None:
    import yaml

    from integrations.chatwoot.destination import ChatwootDestination

    text = (Path(__file__).resolve().parents[2] / "config.example.yaml").read_text()
    lines = []
    for line in text[text.index("#  chatwoot:\n  #    base_url") :].splitlines():
        if not line.lstrip().startswith("#"):
            break
        lines.append(line.lstrip()[1:])
    example = yaml.safe_load("\n".join(lines))["chatwoot"]
    assert ChatwootDestination.validate_settings(example) == []
