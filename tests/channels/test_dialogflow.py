"""Dialogflow CX end to end: WebhookRequests built with ``google-cloud-dialogflow-cx`` posted over a
real socket, our WebhookResponse read back with the same package, the handback as a detectIntent
against a stand-in that parses it with the package's ``DetectIntentRequest``; the failure table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from google.cloud import dialogflowcx_v3 as cx

from channels.base import InboundRequest
from channels.dialogflow import DialogflowChannel
from connector import outbox
from connector.errors import PermanentDeliveryError
from tests.channels.conftest import settings_with_source
from tests.helpers import API_KEY, drain
from tests.integrations.harness import FAILURE_TABLE, check_failure
from tests.standins.dialogflow import DialogflowStandin

TOKEN = "dialogflow-webhook-token"
GOOGLE_TOKEN = "ya29.test-access-token"
SESSION = "projects/acme/locations/europe-west1/agents/3f1c/sessions/sess-42"
AGENT = {"X-API-Key": API_KEY}


@pytest.fixture
def google() -> Iterator[DialogflowStandin]:
    with DialogflowStandin(GOOGLE_TOKEN) as standin:
        yield standin


@pytest.fixture
def source(google: DialogflowStandin) -> dict[str, Any]:
    return {
        "channel": "dialogflow",
        "secret": TOKEN,
        "api_url": google.base_url,
        "access_token": GOOGLE_TOKEN,
        "callback_timeout_seconds": 1.0,
    }


@pytest.fixture
def settings(tmp_path, source):  # type: ignore[no-untyped-def]
    return settings_with_source(tmp_path, "cx", source)


def webhook_request(
    turn: str, text: str, *, tag: str = "", reason: str | None = None, bot_says: str | None = None
) -> str:
    """A WebhookRequest as Dialogflow CX sends it: proto3 JSON from the package's own type."""
    parameters: dict[str, Any] = {"order_id": "A-1001"}
    if reason:
        parameters["handoff_reason"] = reason
    request = cx.WebhookRequest(
        detect_intent_response_id=turn,
        text=text,
        language_code="en",
        fulfillment_info=cx.WebhookRequest.FulfillmentInfo(tag=tag),
        intent_info=cx.WebhookRequest.IntentInfo(display_name="order.status", confidence=0.42),
        session_info=cx.SessionInfo(session=SESSION, parameters=parameters),
        messages=[cx.ResponseMessage(text=cx.ResponseMessage.Text(text=[bot_says]))]
        if bot_says
        else [],
    )
    return str(cx.WebhookRequest.to_json(request))


def post(url: str, body: str | bytes, token: str = TOKEN) -> requests.Response:
    return requests.post(
        f"{url}/v1/channels/cx",
        data=body,
        timeout=10,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def test_webhook_turns_escalate_and_the_handback_goes_back_as_a_detect_intent(
    live_server, worker, google
):  # type: ignore[no-untyped-def]
    calm = post(
        live_server, webhook_request("turn-1", "Where is my order?", bot_says="Checking A-1001.")
    )
    assert calm.status_code == 200
    first = cx.WebhookResponse.from_json(calm.text, ignore_unknown_fields=False)
    assert not first.fulfillment_response.messages
    assert first.session_info.parameters["handoff_owner"] == "bot"

    raw = webhook_request(
        "turn-2",
        "This is useless, I need a person.",
        tag="handoff",
        reason="customer asked for a person",
    )
    asked = post(live_server, raw)
    assert asked.status_code == 200
    answer = cx.WebhookResponse.from_json(asked.text, ignore_unknown_fields=False)
    said, handoff = answer.fulfillment_response.messages
    assert said.text.text[0]  # what the customer is told while waiting
    handoff_id = handoff.live_agent_handoff.metadata["handoff_id"]
    assert answer.session_info.parameters["handoff_id"] == handoff_id
    assert answer.session_info.parameters["handoff_owner"] == "pending_agent"

    # Dialogflow retries a webhook call with the same detectIntentResponseId: the same handoff
    again = cx.WebhookResponse.from_json(post(live_server, raw).text)
    assert (
        again.fulfillment_response.messages[1].live_agent_handoff.metadata["handoff_id"]
        == handoff_id
    )

    view = requests.get(f"{live_server}/v1/handoffs/{handoff_id}", headers=AGENT, timeout=10).json()
    assert view["conversation_id"] == SESSION and view["source"] == "cx"
    texts = [turn["text"] for turn in view["payload"]["transcript"]["turns"]]
    assert texts == ["Where is my order?", "Checking A-1001.", "This is useless, I need a person."]
    assert view["payload"]["escalation"]["bot_recommendation"] == "customer asked for a person"

    claimed = requests.post(
        f"{live_server}/v1/handoffs/{handoff_id}/claim",
        json={"actor": "mia"},
        headers=AGENT,
        timeout=10,
    )
    assert claimed.status_code == 200
    back = requests.post(
        f"{live_server}/v1/handoffs/{handoff_id}/handback",
        headers=AGENT,
        timeout=10,
        json={"actor": "mia", "note": "Refund issued.", "resume_hint": "offer survey"},
    )
    assert back.status_code == 200
    drain(worker)
    assert google.validation_errors == [] and google.internal_errors == []
    ((event, parameters),) = google.events[SESSION]
    assert event == "handback"
    assert parameters == {
        "handoff_id": handoff_id,
        "note": "Refund issued.",
        "resume_hint": "offer survey",
    }


def channel(google: DialogflowStandin, **extra: Any) -> DialogflowChannel:
    settings = {
        "secret": TOKEN,
        "api_url": google.base_url,
        "access_token": GOOGLE_TOKEN,
        "callback_timeout_seconds": 1.0,
        **extra,
    }
    return DialogflowChannel.from_config("cx", settings)  # type: ignore[return-value]


def handed_back(conversation: str = SESSION) -> outbox.Callback:
    return outbox.Callback(
        source="cx",
        type="conversation.handed_back",
        id="h-1:handback",
        handoff_id="h-1",
        conversation_id=conversation,
        fields={"conversation_id": conversation, "handoff_id": "h-1", "note": "done"},
    )


@pytest.mark.parametrize(
    "kind", ["agent.message", "customer.update", "control.changed", "brand.new"]
)
def test_what_dialogflow_cannot_push_is_skipped_not_failed(google, kind):  # type: ignore[no-untyped-def]
    result = channel(google).send(
        outbox.Callback(
            source="cx",
            type=kind,
            id="x",
            handoff_id="h-1",
            conversation_id=SESSION,
            fields={"conversation_id": SESSION, "text": "hi"},
        ),
        delivery_id="d1",
    )
    assert result["skipped"] == kind and google.requests == []


@pytest.mark.parametrize("case", FAILURE_TABLE, ids=lambda c: c.id)
def test_failure_table_on_the_way_back(google, case):  # type: ignore[no-untyped-def]
    check_failure(google, lambda: channel(google).send(handed_back(), delivery_id="d1"), case)


def test_a_conversation_that_is_not_a_session_is_dead_lettered(google):  # type: ignore[no-untyped-def]
    with pytest.raises(PermanentDeliveryError, match="not a Dialogflow CX session path"):
        channel(google).send(handed_back("conv-from-elsewhere"), delivery_id="d1")


def test_a_wrong_google_token_is_permanent(google):  # type: ignore[no-untyped-def]
    with pytest.raises(PermanentDeliveryError, match="401"):
        channel(google, access_token="ya29.wrong").send(handed_back(), delivery_id="d1")


def test_an_outage_is_retried_through_the_outbox(client, worker, google, clock):  # type: ignore[no-untyped-def]
    raw = webhook_request("turn-9", "I need a person.", tag="handoff")
    asked = client.post("/v1/channels/cx", data=raw, headers={"Authorization": f"Bearer {TOKEN}"})
    handoff_id = asked.json["fulfillmentResponse"]["messages"][1]["liveAgentHandoff"]["metadata"][
        "handoff_id"
    ]
    client.post(
        f"/v1/handoffs/{handoff_id}/handback", headers=AGENT, json={"actor": "mia", "note": "ok"}
    )
    google.fail_next(503, times=1, route="detectIntent")
    drain(worker)
    assert SESSION not in google.events  # not delivered yet, not lost
    clock.advance(3600)
    drain(worker)
    assert [event for event, _ in google.events[SESSION]] == ["handback"]


@pytest.mark.parametrize(
    ("headers", "body", "status", "slug"),
    [
        ({}, b"{}", 401, "bad-token"),
        ({"Authorization": "Bearer wrong-token-xyz"}, b"{}", 401, "bad-token"),
        ({"Authorization": f"Basic {TOKEN}"}, b"{}", 401, "bad-token"),
        ({"Authorization": f"Bearer {TOKEN}"}, b"{not json", 400, "malformed-webhook-request"),
        ({"Authorization": f"Bearer {TOKEN}"}, b"[]", 400, "malformed-webhook-request"),
        ({"Authorization": f"Bearer {TOKEN}"}, b'{"text": "hi"}', 400, "malformed-webhook-request"),
        (
            {"Authorization": f"Bearer {TOKEN}"},
            b'{"sessionInfo": {"session": "s", "parameters": []}}',
            400,
            "malformed-webhook-request",
        ),
    ],
)
def test_bad_requests_get_a_problem(client, headers, body, status, slug):  # type: ignore[no-untyped-def]
    answer = client.post("/v1/channels/cx", data=body, headers=headers)
    assert answer.status_code == status and answer.mimetype == "application/problem+json"
    assert answer.json["type"].endswith(f"/{slug}")


def test_a_missing_session_is_named():  # type: ignore[no-untyped-def]
    from connector.errors import BadRequest

    cx_channel = DialogflowChannel.from_config("cx", {"secret": TOKEN})
    with pytest.raises(BadRequest, match="sessionInfo.session"):
        cx_channel.parse(InboundRequest("POST", "", {}, b'{"text": "hi"}'), now=None)  # type: ignore[arg-type]


def test_an_unreadable_key_file_is_permanent_and_names_the_key(google, tmp_path):  # type: ignore[no-untyped-def]
    pytest.importorskip("google.oauth2")
    broken = tmp_path / "sa.json"
    broken.write_text("{}")
    for path in (tmp_path / "missing.json", broken):
        cx_channel = channel(google, access_token=None, credentials_file=str(path))
        with pytest.raises(PermanentDeliveryError, match=r"sources\.cx\.credentials_file"):
            cx_channel.send(handed_back(), delivery_id="d1")
    assert google.requests == []
