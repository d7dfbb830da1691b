"""Botpress HITL end to end: the ``hitl-api`` integration's calls (bodies checked against its
generated "Endpoints to implement" OpenAPI document, our answers too) posted over a real socket;
our webhook calls back to a stand-in that validates them against the "Call API" document; the
failure table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from channels.botpress import BotpressChannel, _user_id, _user_of
from connector import outbox
from connector.errors import PermanentDeliveryError
from tests.channels.conftest import settings_with_source
from tests.helpers import API_KEY, drain
from tests.integrations.harness import FAILURE_TABLE, check_failure
from tests.standins.botpress import BotpressWebhookStandin, external_service_validator
from tests.standins.fixtures import require_vendor_specs

SECRET = "bp-endpoint-secret-0123456789"
AGENT = {"X-API-Key": API_KEY}


@pytest.fixture
def botpress() -> Iterator[BotpressWebhookStandin]:
    require_vendor_specs()  # a loud skip locally, a failure under CI=true
    with BotpressWebhookStandin() as standin:
        yield standin


@pytest.fixture
def settings(tmp_path, botpress):  # type: ignore[no-untyped-def]
    return settings_with_source(
        tmp_path,
        "bp",
        {
            "channel": "botpress",
            "secret": SECRET,
            "webhook_url": botpress.webhook_url,
            "callback_timeout_seconds": 1.0,
        },
    )


def call(
    base: str, operation: str, body: dict[str, Any] | None, *, secret: str = SECRET
) -> requests.Response:
    """One call as the integration makes it: checked against the external-service document first."""
    errors = external_service_validator().validate("POST", f"/{operation}", {}, {}, body, b"")
    assert errors == [], errors
    return requests.post(f"{base}/v1/channels/bp/{secret}/{operation}", json=body, timeout=10)


def answer_errors(operation: str, answer: requests.Response) -> list[str]:
    """Our answer checked against the response schema the document gives for ``operation``."""
    from openapi_core.testing import MockRequest, MockResponse

    validator = external_service_validator()
    request = MockRequest(
        "http://127.0.0.1", "post", f"/{operation}", data=b"{}", content_type="application/json"
    )
    response = MockResponse(
        answer.content, status_code=answer.status_code, content_type="application/json"
    )
    return [str(e) for e in validator.openapi.iter_response_errors(request, response)]


def test_a_hitl_session_from_start_to_stop(live_server, worker, botpress):  # type: ignore[no-untyped-def]
    assert call(live_server, "ping", {"type": "ping"}).status_code == 200
    user = call(
        live_server,
        "createRemoteUser",
        {
            "type": "createRemoteUser",
            "payload": {"name": "Ada Lovelace", "email": "ada@example.com"},
        },
    )
    assert user.status_code == 200 and answer_errors("createRemoteUser", user) == []
    user_id = user.json()["id"]

    started = call(
        live_server,
        "createRemoteConversation",
        {
            "type": "createRemoteConversation",
            "payload": {
                "title": "Refund request",
                "description": "Customer wants a refund for A-1001",
                "messages": [
                    {
                        "text": "Where is my refund?",
                        "author": "user",
                        "timestamp": "2026-12-05T10:00:00.000Z",
                    },
                    {"text": "Let me get a human.", "author": "bot"},
                ],
            },
        },
    )
    assert started.status_code == 200 and answer_errors("createRemoteConversation", started) == []
    conversation = started.json()["id"]

    (handoff,) = [
        h
        for h in requests.get(f"{live_server}/v1/handoffs", headers=AGENT, timeout=10).json()[
            "items"
        ]
        if h["conversation_id"] == conversation
    ]
    payload = handoff["payload"]
    assert (
        payload["escalation"]["bot_recommendation"]
        == "Refund request: Customer wants a refund for A-1001"
    )
    assert [(t["role"], t["text"]) for t in payload["transcript"]["turns"]] == [
        ("customer", "Where is my refund?"),
        ("bot", "Let me get a human."),
    ]
    assert payload["transcript"]["turns"][0]["at"].startswith("2026-12-05T10:00:00")

    # during HITL the integration forwards every message of the conversation, the customer's
    # under the id we gave it and the bot's as "BOT": turns of the same conversation
    for user_id_, text in (
        (user_id, "Hello? Anyone there?"),
        ("BOT", "An agent will be with you soon."),
    ):
        sent = call(
            live_server,
            "botSendsMessage",
            {
                "type": "botSendsMessage",
                "remoteConversationId": conversation,
                "remoteUserId": user_id_,
                "payload": {"text": text},
            },
        )
        assert sent.status_code == 200 and answer_errors("botSendsMessage", sent) == []

    requests.post(
        f"{live_server}/v1/handoffs/{handoff['id']}/claim",
        json={"actor": "mia"},
        headers=AGENT,
        timeout=10,
    ).raise_for_status()
    requests.post(
        f"{live_server}/v1/handoffs/{handoff['id']}/handback",
        headers=AGENT,
        timeout=10,
        json={"actor": "mia", "note": "Refund issued."},
    ).raise_for_status()
    drain(worker)
    assert botpress.validation_errors == [] and botpress.internal_errors == []
    state = botpress.conversations[conversation]
    assert state["assigned"] == "handoff-agent" and state["stopped"] is True
    paths = [r.path.rsplit("/", 1)[1] for r in botpress.requests]
    assert paths == ["agent-assigned", "stop-hitl"]

    closed = call(
        live_server,
        "closeRemoteTicket",
        {"type": "closeRemoteTicket", "payload": {"botpressConversationId": "conv_01J"}},
    )
    assert closed.status_code == 200


def channel(botpress: BotpressWebhookStandin) -> BotpressChannel:
    return BotpressChannel.from_config(
        "bp",
        {"secret": SECRET, "webhook_url": botpress.webhook_url, "callback_timeout_seconds": 1.0},
    )  # type: ignore[return-value]


def callback(kind: str, **fields: Any) -> outbox.Callback:
    return outbox.Callback(
        source="bp",
        type=kind,
        id=f"x:{kind}",
        handoff_id="h-1",
        conversation_id="bp-1",
        fields={"conversation_id": "bp-1", **fields},
    )


def test_agent_messages_and_wait_updates_reach_the_customer(botpress):  # type: ignore[no-untyped-def]
    bp = channel(botpress)
    bp.send(
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
    bp.send(callback("customer.update", text="About 5 minutes."), delivery_id="d2")
    assert botpress.validation_errors == []
    assert botpress.conversations["bp-1"]["messages"] == [
        ("mia", "text", {"text": "Hi Ada, I'm Mia.\n[label.pdf](https://files.example/label.pdf)"}),
        ("handoff-agent", "text", {"text": "About 5 minutes."}),
    ]


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("control.changed", {"owner": "pending_agent"}),
        ("control.changed", {"owner": "bot"}),
        ("brand.new", {}),
    ],
)
def test_what_botpress_has_no_webhook_for_is_skipped(botpress, kind, fields):  # type: ignore[no-untyped-def]
    assert channel(botpress).send(callback(kind, **fields), delivery_id="d1")["skipped"] == kind
    assert botpress.requests == []


@pytest.mark.parametrize("case", FAILURE_TABLE, ids=lambda c: c.id)
def test_failure_table_on_the_way_back(botpress, case):  # type: ignore[no-untyped-def]
    check_failure(
        botpress,
        lambda: channel(botpress).send(callback("conversation.handed_back"), delivery_id="d1"),
        case,
    )


def test_a_conversation_botpress_never_sent_is_dead_lettered(botpress):  # type: ignore[no-untyped-def]
    stray = outbox.Callback(
        source="bp",
        type="agent.message",
        id="x",
        handoff_id="h",
        conversation_id="c",
        fields={"conversation_id": "conv-elsewhere", "text": "hi"},
    )
    with pytest.raises(PermanentDeliveryError, match="did not come from Botpress"):
        channel(botpress).send(stray, delivery_id="d1")


def test_an_outage_is_retried_through_the_outbox(client, worker, botpress, clock):  # type: ignore[no-untyped-def]
    started = client.post(
        f"/v1/channels/bp/{SECRET}/createRemoteConversation",
        json={"type": "createRemoteConversation", "payload": {"title": "help"}},
    )
    conversation = started.json["id"]
    (handoff,) = client.get("/v1/handoffs", headers=AGENT).json["items"]
    client.post(
        f"/v1/handoffs/{handoff['id']}/handback", headers=AGENT, json={"actor": "mia", "note": "ok"}
    )
    botpress.fail_next(502, times=1)
    drain(worker)
    assert conversation not in botpress.conversations
    clock.advance(3600)
    drain(worker)
    assert botpress.conversations[conversation]["stopped"] is True


@pytest.mark.parametrize(
    ("path", "body", "status", "slug"),
    [
        ("wrong-secret-0123456789/ping", {"type": "ping"}, 401, "bad-token"),
        ("ping", {"type": "ping"}, 401, "bad-token"),
        (f"{SECRET}/deleteEverything", {}, 404, "unknown-hitl-endpoint"),
        (f"{SECRET}/createRemoteConversation", "not json", 400, "malformed-hitl-call"),
        (f"{SECRET}/createRemoteConversation", {"type": "ping"}, 400, "malformed-hitl-call"),
        (
            f"{SECRET}/createRemoteConversation",
            {"type": "createRemoteConversation"},
            400,
            "malformed-hitl-call",
        ),
        (
            f"{SECRET}/createRemoteConversation",
            {"type": "createRemoteConversation", "payload": {"messages": [{"author": "bot"}]}},
            400,
            "malformed-hitl-call",
        ),
        (
            f"{SECRET}/botSendsMessage",
            {"type": "botSendsMessage", "remoteUserId": "BOT", "payload": {}},
            400,
            "malformed-hitl-call",
        ),
        (
            f"{SECRET}/closeRemoteTicket",
            {"type": "closeRemoteTicket", "payload": {}},
            400,
            "malformed-hitl-call",
        ),
    ],
)
def test_bad_calls_get_a_problem(client, path, body, status, slug):  # type: ignore[no-untyped-def]
    raw = body if isinstance(body, str) else json.dumps(body)
    answer = client.post(
        f"/v1/channels/bp/{path}", data=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == status and answer.mimetype == "application/problem+json", (
        answer.data
    )
    assert answer.json["type"].endswith(f"/{slug}")


@pytest.mark.parametrize(
    ("user", "customer"),
    [
        (
            {"name": "Ada Lovelace", "email": "ada@example.com"},
            {"name": "Ada Lovelace", "email": "ada@example.com"},
        ),
        ({"name": "Ada"}, {"name": "Ada", "email": None}),
        ({"pictureUrl": "https://x/p.png"}, {"name": None, "email": None}),
        ({"name": "Ü" * 500}, {"name": "Ü" * 120, "email": None}),  # bounded
    ],
)
def test_the_remote_user_id_carries_the_customer(client, user, customer):  # type: ignore[no-untyped-def]
    assert _user_of(_user_id(user)) == customer


@pytest.mark.parametrize(
    "remote_user_id", ["42", "u.!!!not-base64", "u.WzFd"]
)  # "u.WzFd": a JSON list
def test_a_remote_user_id_of_another_shape_is_only_an_id(remote_user_id):  # type: ignore[no-untyped-def]
    assert _user_of(remote_user_id) == {"id": remote_user_id}
