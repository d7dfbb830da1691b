"""The Chatwoot Agent Bot channel end to end: Chatwoot's own webhook payloads (shaped as
``Message#webhook_data`` / ``Conversation#webhook_data`` in Chatwoot's source, signed as Chatwoot
signs them) over a real socket to the connector, and the connector's hand-off, relays and handback
through Chatwoot's API to a stand-in that validates every call against Chatwoot's swagger."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from channels.chatwoot import ChatwootChannel
from connector import outbox
from connector.config import Settings
from connector.errors import PermanentDeliveryError, TransientDeliveryError
from tests.helpers import API_KEY, drain, make_settings
from tests.standins.chatwoot import ChatwootStandin

SECRET = "chatwoot-bot-secret"
TEAMS = {"general": 11, "billing": 12, "technical": 13, "fraud": 14, "retention": 15, "sales": 16}
_ids = itertools.count(500)


@pytest.fixture
def chatwoot(clock) -> Any:  # type: ignore[no-untyped-def]
    with ChatwootStandin(clock=clock) as standin:
        yield standin
    assert standin.validation_errors == [] and standin.internal_errors == []


@pytest.fixture
def settings(tmp_path: Path, chatwoot: ChatwootStandin) -> Settings:
    return make_settings(
        tmp_path,
        sources={
            "chatwoot": {
                "channel": "chatwoot",
                "secret": SECRET,
                "base_url": chatwoot.base_url,
                "account_id": 1,
                "api_access_token": chatwoot.bot_token,
                "user_access_token": chatwoot.user_token,
                "labels": ["handoff"],
                "team_ids": TEAMS,
                "callback_timeout_seconds": 5,
            }
        },
    )


def conversation_data(display_id: int, status: str = "pending") -> dict[str, Any]:
    """``Conversations::EventDataPresenter#push_data``, as in every payload's ``conversation``."""
    contact = {
        "id": 77,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone_number": "+441234",
        "identifier": None,
        "thumbnail": "",
        "additional_attributes": {},
        "custom_attributes": {},
    }
    return {
        "additional_attributes": {},
        "can_reply": True,
        "channel": "Channel::WebWidget",
        "contact_inbox": {"id": 9, "contact_id": 77, "inbox_id": 3, "source_id": "abc"},
        "id": display_id,
        "inbox_id": 3,
        "messages": [],
        "labels": ["vip"],
        "meta": {
            "sender": contact,
            "assignee": None,
            "assignee_type": None,
            "team": None,
            "hmac_verified": False,
        },
        "status": status,
        "custom_attributes": {},
        "snoozed_until": None,
        "unread_count": 1,
        "first_reply_created_at": None,
        "priority": None,
        "waiting_since": 1764930000,
        "agent_last_seen_at": 0,
        "contact_last_seen_at": 0,
        "last_activity_at": 1764930000,
        "timestamp": 1764930000,
        "created_at": 1764930000,
        "updated_at": 1764930000.5,
    }


def message_created(
    display_id: int,
    content: str,
    *,
    message_type: str = "incoming",
    private: bool = False,
    sender_type: str | None = None,
) -> dict[str, Any]:
    """``Message#webhook_data`` merged with ``event: message_created`` (AgentBotListener)."""
    conversation = conversation_data(display_id)
    sender: dict[str, Any] = dict(conversation["meta"]["sender"], account={"id": 1, "name": "Acme"})
    if sender_type == "user":
        sender = {"id": 5, "name": "Grace", "email": "grace@acme.test", "type": "user"}
    elif sender_type:
        sender = {"id": 2, "name": "Bot", "type": sender_type}
    return {
        "account": {"id": 1, "name": "Acme"},
        "additional_attributes": {},
        "content_attributes": {},
        "content_type": "text",
        "content": content,
        "conversation": conversation,
        "created_at": "2026-12-05T11:00:00.000Z",
        "id": next(_ids),
        "inbox": {"id": 3, "name": "Web"},
        "message_type": message_type,
        "private": private,
        "sender": sender,
        "source_id": None,
        "event": "message_created",
    }


def signed(
    body: dict[str, Any] | bytes, now: float, *, secret: str = SECRET
) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(now))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return raw, {
        "Content-Type": "application/json",
        "X-Chatwoot-Signature": f"sha256={mac}",
        "X-Chatwoot-Timestamp": stamp,
        "X-Chatwoot-Delivery": "d-1",
    }


def post(base: str, body: dict[str, Any] | bytes, now: float, **sign: Any) -> requests.Response:
    raw, headers = signed(body, now, **sign)
    return requests.post(f"{base}/v1/channels/chatwoot", data=raw, headers=headers, timeout=10)


def test_a_chatwoot_conversation_is_handed_off_the_chatwoot_way_and_back(
    live_server, worker, chatwoot, clock, runtime
) -> None:  # type: ignore[no-untyped-def]
    now = clock.now.timestamp()
    chatwoot.add_conversation(42)
    chatwoot.conversations[42]["labels"] = ["vip"]
    calm = post(live_server, message_created(42, "What are your opening hours?"), now)
    assert calm.status_code == 200 and calm.json() == {
        "events": 1,
        "escalated": False,
        "handoff_id": None,
    }
    bot = post(
        live_server,
        message_created(
            42, "We open at 9.", message_type="outgoing", sender_type="captain_assistant"
        ),
        now,
    )
    assert bot.json()["events"] == 1
    wanted = message_created(42, "I want to talk to a real person.")
    asked = post(live_server, wanted, now)
    assert asked.status_code == 200 and asked.json()["escalated"] is True
    handoff_id = asked.json()["handoff_id"]
    again = post(live_server, wanted, now)  # Chatwoot delivering the same webhook twice
    assert again.json()["handoff_id"] == handoff_id

    handoff = requests.get(
        f"{live_server}/v1/handoffs/{handoff_id}", headers={"X-API-Key": API_KEY}, timeout=10
    ).json()
    turns = [(t["role"], t["text"]) for t in handoff["payload"]["transcript"]["turns"]]
    assert turns == [
        ("customer", "What are your opening hours?"),
        ("bot", "We open at 9."),
        ("customer", "I want to talk to a real person."),
    ]
    assert handoff["conversation_id"] == "chatwoot:1:42"

    drain(worker)
    conversation = chatwoot.conversations[42]
    (note,) = chatwoot.notes(42)
    assert handoff_id in note
    assert conversation["status"] == "open" and conversation["labels"] == ["vip", "handoff"]
    assert conversation["team_id"] == TEAMS[handoff["team"]]
    (wait_message,) = chatwoot.public(42)  # our answer's wait message, which Chatwoot does not read
    assert wait_message

    # our own note and relays come back as webhooks: they are not turns
    echo = post(
        live_server,
        message_created(42, note, message_type="outgoing", private=True, sender_type="agent_bot"),
        now,
    )
    assert echo.json()["events"] == 0

    # an agent's message from elsewhere (the widget, another helpdesk) reaches the customer
    with runtime.store.atomic() as tx:
        outbox.write(
            tx,
            outbox.Callback.at(
                clock.now,
                source="chatwoot",
                type="agent.message",
                id="am-1",
                conversation_id="chatwoot:1:42",
                handoff_id=handoff_id,
                fields={
                    "conversation_id": "chatwoot:1:42",
                    "handoff_id": handoff_id,
                    "text": "Hi Ada, I'm Grace.",
                    "author": {"name": "Grace"},
                    "attachments": [],
                },
            ),
            clock.now,
        )
    chatwoot.drop_next(apply=True, route="POST .*/messages")  # posted, but the answer is lost
    drain(worker)
    clock.advance(120)
    drain(worker)
    assert chatwoot.public(42) == [wait_message, "Hi Ada, I'm Grace."]

    back = requests.post(
        f"{live_server}/v1/handoffs/{handoff_id}/handback",
        timeout=10,
        headers={"X-API-Key": API_KEY},
        json={"actor": "grace", "note": "Refund issued.", "resolution": "solved"},
    )
    assert back.status_code == 200
    drain(worker)
    assert conversation["status"] == "pending"  # the bot's state again
    assert "Refund issued." in chatwoot.notes(42)[-1]


def test_a_resolved_conversation_ends_ours(live_server, clock) -> None:  # type: ignore[no-untyped-def]
    now = clock.now.timestamp()
    post(live_server, message_created(43, "hello"), now)
    resolved = dict(conversation_data(43, status="resolved"), event="conversation_resolved")
    answer = post(live_server, resolved, now)
    assert answer.status_code == 200 and answer.json()["events"] == 1
    for quiet in ("conversation_opened", "webwidget_triggered", "message_updated", "something_new"):
        assert post(live_server, {"event": quiet, "id": 43}, now).json()["events"] == 0


@pytest.mark.parametrize(
    ("mutate", "slug"),
    [
        (lambda raw, h: h.pop("X-Chatwoot-Signature"), "missing-signature"),
        (lambda raw, h: h.update({"X-Chatwoot-Signature": "sha256=" + "0" * 64}), "bad-signature"),
        (lambda raw, h: h.update({"X-Chatwoot-Timestamp": "yesterday"}), "bad-signature"),
    ],
)
def test_bad_signatures_are_refused_before_parsing(live_server, clock, mutate, slug) -> None:  # type: ignore[no-untyped-def]
    raw, headers = signed(message_created(44, "hi"), clock.now.timestamp())
    mutate(raw, headers)
    answer = requests.post(
        f"{live_server}/v1/channels/chatwoot", data=raw, headers=headers, timeout=10
    )
    assert answer.status_code == 401 and answer.json()["type"].endswith(f"/{slug}")


def test_a_replayed_webhook_is_refused(live_server, clock) -> None:  # type: ignore[no-untyped-def]
    answer = post(live_server, message_created(45, "hi"), clock.now.timestamp() - 3600)
    assert answer.status_code == 401 and answer.json()["type"].endswith("/stale-signature")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "object with an 'event'"),
        (
            b'{"event": "message_created", "message_type": "incoming", "content": "hi", "id": 1}',
            "conversation",
        ),
        (
            b'{"event": "message_created", "message_type": "incoming", "content": "hi", "id": "x",'
            b' "conversation": {"id": 1}}',
            "invalid literal",
        ),
    ],
)
def test_malformed_webhooks_are_400(live_server, clock, body: bytes, detail: str) -> None:  # type: ignore[no-untyped-def]
    answer = post(live_server, body, clock.now.timestamp())
    assert answer.status_code == 400 and answer.json()["type"].endswith("/malformed-chatwoot")
    assert detail in answer.json()["detail"]


def test_unsigned_chatwoot_may_use_a_url_token_when_allowed(tmp_path, clock, chatwoot) -> None:  # type: ignore[no-untyped-def]
    from channels.base import InboundRequest
    from connector.errors import Unauthorized

    base = {
        "secret": SECRET,
        "base_url": chatwoot.base_url,
        "account_id": 1,
        "api_access_token": "t",
    }
    strict = ChatwootChannel.from_config("cw", base)
    lenient = ChatwootChannel.from_config("cw", {**base, "require_signature": False})
    request = InboundRequest("POST", "", {}, b"{}", {"token": SECRET})
    lenient.verify(request, now=clock.now.timestamp())
    with pytest.raises(Unauthorized):
        strict.verify(request, now=clock.now.timestamp())
    with pytest.raises(Unauthorized):
        lenient.verify(InboundRequest("POST", "", {}, b"{}", {"token": "wrong-token"}), now=0)


def _callback(kind: str, **fields: Any) -> outbox.Callback:
    return outbox.Callback(
        source="chatwoot",
        type=kind,
        id=f"{kind}-1",
        occurred_at="2026-12-05T11:00:00+00:00",
        handoff_id="ho_1",
        conversation_id="chatwoot:1:46",
        fields={"conversation_id": "chatwoot:1:46", "handoff_id": "ho_1", **fields},
    )


FAILURES = [
    (400, None, PermanentDeliveryError),
    (401, None, PermanentDeliveryError),
    (403, None, PermanentDeliveryError),
    (404, None, PermanentDeliveryError),
    (422, None, PermanentDeliveryError),
    (429, None, TransientDeliveryError),
    (429, 7, TransientDeliveryError),
    (500, None, TransientDeliveryError),
    (503, None, TransientDeliveryError),
]


@pytest.mark.parametrize(("status", "retry_after", "error"), FAILURES)
def test_the_failure_table_on_the_way_back(runtime, chatwoot, status, retry_after, error) -> None:  # type: ignore[no-untyped-def]
    chatwoot.add_conversation(46)
    channel = runtime.channels["chatwoot"]
    chatwoot.fail_next(status, retry_after=retry_after, route="POST .*/toggle_status")
    with pytest.raises(error) as caught:
        channel.send(
            _callback("control.changed", owner="pending_agent", reason="asked", team="billing"),
            delivery_id="1",
        )
    if retry_after:
        assert caught.value.retry_after == retry_after
    # the retry completes the hand-off without a second note
    channel.send(
        _callback("control.changed", owner="pending_agent", reason="asked", team="billing"),
        delivery_id="1",
    )
    assert len(chatwoot.notes(46)) == 1 and chatwoot.conversations[46]["status"] == "open"


def test_chatwoot_down_and_slow_are_transient(runtime, chatwoot) -> None:  # type: ignore[no-untyped-def]
    channel = runtime.channels["chatwoot"]
    chatwoot.add_conversation(46)
    chatwoot.drop_next(route="GET .*/messages")
    with pytest.raises(TransientDeliveryError):
        channel.send(_callback("agent.message", text="hello"), delivery_id="1")
    chatwoot.stop()
    with pytest.raises(TransientDeliveryError):
        channel.send(_callback("agent.message", text="hello"), delivery_id="1")


@pytest.mark.parametrize(
    ("callback", "expected"),
    [
        (_callback("control.changed", owner="agent"), "skipped"),
        (_callback("control.changed", owner="bot"), "skipped"),
        (_callback("survey.sent"), "skipped"),
        (_callback("agent.message", text=""), "skipped"),
    ],
)
def test_callbacks_with_nothing_to_do_in_chatwoot_are_skipped(runtime, callback, expected) -> None:  # type: ignore[no-untyped-def]
    assert expected in runtime.channels["chatwoot"].send(callback, delivery_id="1")


def test_an_unknown_conversation_is_permanent(runtime, chatwoot) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermanentDeliveryError):
        runtime.channels["chatwoot"].send(_callback("agent.message", text="hi"), delivery_id="1")
    bad = outbox.Callback(
        source="chatwoot",
        type="agent.message",
        id="x",
        handoff_id="h",
        conversation_id="conv-9",
        fields={"conversation_id": "conv-9", "text": "hi"},
    )
    with pytest.raises(PermanentDeliveryError):
        runtime.channels["chatwoot"].send(bad, delivery_id="1")
