"""Bot Framework / Copilot Studio end to end: activities built and serialised with Microsoft's
``botbuilder-schema`` models, as a bot sends them, posted over a real socket; our ``handoff.status``
answer read back with the same models; the way back through a Direct Line 3.0 stand-in that checks
each activity against Microsoft's published Direct Line document; the failure table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    Transcript,
)

from channels.base import InboundRequest
from channels.botframework import BotFrameworkChannel
from connector import outbox
from connector.errors import PermanentDeliveryError
from connector.schemas import Control, Decision, EventResponse
from tests.channels.conftest import settings_with_source
from tests.helpers import API_KEY, drain
from tests.integrations.harness import FAILURE_TABLE, check_failure
from tests.standins.directline import DirectLineStandin, activity_errors
from tests.standins.fixtures import require_vendor_specs

TOKEN = "bot-forwarder-token"
DIRECTLINE = "directline-secret-abc"
AGENT = {"X-API-Key": API_KEY}
BOT = ChannelAccount(id="copilot-bot", name="Contoso Agent", role="bot")
USER = ChannelAccount(id="dl_user-7", name="Ada Lovelace", role="user")


@pytest.fixture
def directline() -> Iterator[DirectLineStandin]:
    require_vendor_specs()  # a loud skip locally, a failure under CI=true
    with DirectLineStandin(DIRECTLINE) as standin:
        yield standin


@pytest.fixture
def settings(tmp_path, directline):  # type: ignore[no-untyped-def]
    return settings_with_source(
        tmp_path,
        "copilot",
        {
            "channel": "botframework",
            "secret": TOKEN,
            "directline_secret": DIRECTLINE,
            "directline_url": directline.base_url,
            "callback_timeout_seconds": 1.0,
        },
    )


def message(conversation: str, activity_id: str, text: str, sender: ChannelAccount) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        id=activity_id,
        text=text,
        from_property=sender,
        recipient=BOT if sender is USER else USER,
        channel_id="directline",
        conversation=ConversationAccount(id=conversation),
        timestamp=None,
    )


def initiate(conversation: str, history: list[Activity], **value: Any) -> Activity:
    """Copilot Studio's "Transfer to agent": handoff.initiate with va_* context and a transcript."""
    transcript = Attachment(
        content_type="application/json",
        name="Transcript",
        content=Transcript(activities=history).serialize(),
    )
    return Activity(
        type=ActivityTypes.event,
        name="handoff.initiate",
        id=f"{conversation}|init",
        from_property=BOT,
        recipient=USER,
        channel_id="directline",
        locale="en-US",
        conversation=ConversationAccount(id=conversation),
        attachments=[transcript],
        value={
            "va_Scope": "bot",
            "va_LastTopic": "Refunds",
            "va_Language": "en-us",
            "va_AgentMessage": "Customer is asking for a refund of order A-1001",
            "va_ConversationId": conversation,
            "Skill": "billing",
            **value,
        },
    )


def post(base: str, activity: Activity, path: str = "", token: str = TOKEN) -> requests.Response:
    return requests.post(
        f"{base}/v1/channels/copilot{path}",
        json=activity.serialize(),
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_transfer_to_agent_then_agent_then_handback(live_server, worker, directline):  # type: ignore[no-untyped-def]
    conv = "8Hq2xZ-eu"
    history = [
        message(conv, f"{conv}|0001", "Hi, what are your opening hours?", USER),
        message(conv, f"{conv}|0002", "We are open 9 to 5, Monday to Friday.", BOT),
    ]
    # the bot's own turns may come through the Connector API path, as it sends them to a channel
    routed = post(live_server, history[0], f"/v3/conversations/{conv}/activities")
    assert routed.status_code == 200 and routed.json() == {"id": f"{conv}|0001"}

    answered = post(live_server, initiate(conv, history))
    assert answered.status_code == 200
    status = Activity().deserialize(answered.json())
    assert (status.type, status.name, status.conversation.id) == ("event", "handoff.status", conv)
    assert status.value["state"] == "accepted" and status.value["message"]
    assert status.reply_to_id == f"{conv}|init" and status.recipient.id == "copilot-bot"
    handoff_id = status.value["handoff_id"]

    view = requests.get(f"{live_server}/v1/handoffs/{handoff_id}", headers=AGENT, timeout=10).json()
    payload = view["payload"]
    assert (
        payload["escalation"]["bot_recommendation"]
        == "Customer is asking for a refund of order A-1001"
    )
    assert [t["text"] for t in payload["transcript"]["turns"]] == [
        "Hi, what are your opening hours?",
        "We are open 9 to 5, Monday to Friday.",
    ]
    assert payload["customer"]["name"] == "Ada Lovelace" and payload["customer"]["attributes"] == {
        "Skill": "billing"
    }
    assert payload["intent"]["name"] == "Refunds"

    requests.post(
        f"{live_server}/v1/handoffs/{handoff_id}/claim",
        json={"actor": "mia"},
        headers=AGENT,
        timeout=10,
    ).raise_for_status()
    requests.post(
        f"{live_server}/v1/handoffs/{handoff_id}/handback",
        headers=AGENT,
        timeout=10,
        json={"actor": "mia", "note": "Refund issued.", "resolution": "solved"},
    ).raise_for_status()
    drain(worker)
    assert directline.validation_errors == [] and directline.internal_errors == []
    sent = [Activity().deserialize(a) for a in directline.activities[conv]]
    assert [(a.name, a.value["state"], a.value.get("owner")) for a in sent] == [
        ("handoff.status", "accepted", "pending_agent"),
        ("handoff.status", "accepted", "agent"),
        ("handoff.status", "completed", None),
    ]
    assert (
        sent[-1].value["message"] == "Refund issued." and sent[-1].value["resolution"] == "solved"
    )
    assert all(a.channel_data["handoffDelivery"] for a in sent)


def channel(directline: DirectLineStandin, **extra: Any) -> BotFrameworkChannel:
    return BotFrameworkChannel.from_config(
        "copilot",
        {  # type: ignore[return-value]
            "secret": TOKEN,
            "directline_secret": DIRECTLINE,
            "directline_url": directline.base_url,
            "callback_timeout_seconds": 1.0,
            **extra,
        },
    )


def callback(kind: str, conversation: str = "c-1", **fields: Any) -> outbox.Callback:
    return outbox.Callback(
        source="copilot",
        type=kind,
        id=f"x:{kind}",
        handoff_id="h-1",
        conversation_id=conversation,
        fields={"conversation_id": conversation, **fields},
    )


def test_agent_messages_are_message_activities_from_the_agent(directline):  # type: ignore[no-untyped-def]
    bf = channel(directline)
    bf.send(
        callback(
            "agent.message",
            text="Hi Ada, I'm Mia.",
            author={"name": "Mia", "id": "mia"},
            attachments=[
                {
                    "name": "label.pdf",
                    "url": "https://files.example/label.pdf",
                    "content_type": "application/pdf",
                }
            ],
        ),
        delivery_id="d1",
    )
    bf.send(callback("customer.update", text="About 5 minutes."), delivery_id="d2")
    assert directline.validation_errors == []
    agent, update = (Activity().deserialize(a) for a in directline.activities["c-1"])
    assert (agent.type, agent.text, agent.from_property.name, agent.from_property.id) == (
        "message",
        "Hi Ada, I'm Mia.",
        "Mia",
        "agent:mia",
    )
    assert agent.attachments[0].content_url == "https://files.example/label.pdf"
    assert (update.text, update.from_property.id) == ("About 5 minutes.", "handoff-connector")


@pytest.mark.parametrize(
    ("kind", "fields"), [("control.changed", {"owner": "bot"}), ("brand.new", {})]
)
def test_what_has_no_activity_is_skipped(directline, kind, fields):  # type: ignore[no-untyped-def]
    assert channel(directline).send(callback(kind, **fields), delivery_id="d1")["skipped"] == kind
    assert directline.requests == []


@pytest.mark.parametrize("case", FAILURE_TABLE, ids=lambda c: c.id)
def test_failure_table_on_the_way_back(directline, case):  # type: ignore[no-untyped-def]
    check_failure(
        directline,
        lambda: channel(directline).send(
            callback("conversation.handed_back", note="done"), delivery_id="d1"
        ),
        case,
    )


def test_a_wrong_directline_secret_is_permanent(directline):  # type: ignore[no-untyped-def]
    with pytest.raises(PermanentDeliveryError, match="403"):
        channel(directline, directline_secret="not-the-secret").send(
            callback("customer.update", text="hi"), delivery_id="d1"
        )


def test_a_policy_refusal_answers_failed():  # type: ignore[no-untyped-def]
    bf = BotFrameworkChannel.from_config(
        "copilot", {"secret": TOKEN, "directline_secret": DIRECTLINE}
    )
    raw = initiate("c-2", []).serialize()
    kept = EventResponse(
        event_id="c-2|init",
        duplicate=False,
        decision=Decision(escalate=False),
        control=Control(owner="bot", version=0),
    )
    answer = bf.answer(InboundRequest("POST", "", {}, json.dumps(raw).encode()), [kept])
    status = Activity().deserialize(json.loads(answer.body))
    assert status.value["state"] == "failed" and status.value["message"]
    assert activity_errors(json.loads(answer.body)) == []


def test_an_outage_is_retried_through_the_outbox(client, worker, directline, clock):  # type: ignore[no-untyped-def]
    answered = client.post(
        "/v1/channels/copilot",
        json=initiate("c-3", []).serialize(),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answered.json["value"]["state"] == "accepted"
    directline.fail_next(503, times=1)
    drain(worker)
    assert "c-3" not in directline.activities
    clock.advance(60)  # past the backoff, before any wait update is due
    drain(worker)
    assert [(a["name"], a["value"]["state"]) for a in directline.activities["c-3"]] == [
        ("handoff.status", "accepted")
    ]


@pytest.mark.parametrize(
    ("headers", "body", "status", "slug"),
    [
        ({}, b"{}", 401, "bad-token"),
        ({"Authorization": "Bearer wrong-token-xyz"}, b"{}", 401, "bad-token"),
        ({"Authorization": f"Bearer {TOKEN}"}, b"{not json", 400, "malformed-activity"),
        ({"Authorization": f"Bearer {TOKEN}"}, b'{"type": "message"}', 400, "malformed-activity"),
        (
            {"Authorization": f"Bearer {TOKEN}"},
            b'{"type": "event", "name": "handoff.initiate", "conversation": {"id": "c"}, "value": [1]}',
            400,
            "malformed-activity",
        ),
    ],
)
def test_bad_activities_get_a_problem(client, headers, body, status, slug):  # type: ignore[no-untyped-def]
    answer = client.post(
        "/v1/channels/copilot", data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert answer.status_code == status and answer.mimetype == "application/problem+json", (
        answer.data
    )
    assert answer.json["type"].endswith(f"/{slug}")


def test_other_activity_types_are_acknowledged_and_ignored(client):  # type: ignore[no-untyped-def]
    typing = Activity(
        type=ActivityTypes.typing,
        id="t-1",
        from_property=USER,
        conversation=ConversationAccount(id="c-4"),
    )
    answer = client.post(
        "/v1/channels/copilot",
        json=typing.serialize(),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 200 and answer.json == {"id": "t-1"}


def test_a_replayed_initiate_is_the_same_handoff_and_one_callback(client, worker, directline):  # type: ignore[no-untyped-def]
    raw = initiate("c-5", []).serialize()
    first = client.post(
        "/v1/channels/copilot", json=raw, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    again = client.post(
        "/v1/channels/copilot", json=raw, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert first.json["value"]["handoff_id"] == again.json["value"]["handoff_id"]
    drain(worker)
    assert [a["value"]["state"] for a in directline.activities["c-5"]] == ["accepted"]


@pytest.mark.parametrize(
    ("path", "role", "expected"),
    [
        ("", "bot", "bot"),
        ("", "user", "customer"),
        ("", None, "customer"),
        (
            "v3/conversations/c-6/activities/a-0",
            None,
            "bot",
        ),  # only a bot replies on the Connector API
        ("v3/conversations/c-6/activities", "user", "customer"),
    ],
)
def test_who_said_a_message(path, role, expected):  # type: ignore[no-untyped-def]
    bf = BotFrameworkChannel.from_config(
        "copilot", {"secret": TOKEN, "directline_secret": DIRECTLINE}
    )
    sender = ChannelAccount(id="someone", role=role)
    raw = json.dumps(message("c-6", "a-1", "hello", sender).serialize()).encode()
    (event,) = bf.parse(InboundRequest("POST", path, {}, raw), now=datetime.now(UTC))
    assert event.messages[0].role == expected
