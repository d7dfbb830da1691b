"""A platform channel in front of a real helpdesk path: a Dialogflow CX webhook turn escalates, the
handoff reaches the Zendesk stand-in through zenpy as a ticket (its note links the transcript kept
from every webhook call), the agent's handback notes the ticket and reaches Dialogflow as a detectIntent."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

pytest.importorskip("zenpy")

from connector.config import load_config  # noqa: E402
from tests.channels.conftest import settings_with_source  # noqa: E402
from tests.channels.test_dialogflow import GOOGLE_TOKEN, SESSION, TOKEN, post, webhook_request  # noqa: E402
from tests.helpers import API_KEY, drain  # noqa: E402
from tests.integrations.test_zendesk import TICKET_FIELDS, zd_config  # noqa: E402
from tests.standins.dialogflow import DialogflowStandin  # noqa: E402
from tests.standins.fixtures import _serve, require_vendor_specs  # noqa: E402
from tests.standins.zendesk import ZendeskStandin  # noqa: E402

AGENT = {"X-API-Key": API_KEY}


@pytest.fixture
def google() -> Iterator[DialogflowStandin]:
    with DialogflowStandin(GOOGLE_TOKEN) as standin:
        yield standin


@pytest.fixture
def zendesk(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    require_vendor_specs()
    yield from _serve(ZendeskStandin(ticket_fields=TICKET_FIELDS), monkeypatch)


@pytest.fixture
def settings(tmp_path, google, zendesk):  # type: ignore[no-untyped-def]
    configured = settings_with_source(
        tmp_path,
        "cx",
        {
            "channel": "dialogflow",
            "secret": TOKEN,
            "api_url": google.base_url,
            "access_token": GOOGLE_TOKEN,
        },
    )
    data = configured.model_dump(mode="json")
    data["destinations"] = {"zendesk": zd_config(zendesk)}
    path = tmp_path / "with-zendesk.yaml"
    path.write_text(json.dumps(data))
    return load_config(path, env={})


def test_a_dialogflow_handoff_lands_in_zendesk_and_comes_back(live_server, worker, google, zendesk):  # type: ignore[no-untyped-def]
    post(
        live_server,
        webhook_request("t-1", "Where is my order A-1001?", bot_says="It left on Monday."),
    )
    asked = post(
        live_server,
        webhook_request(
            "t-2", "It never came. Get me a person.", tag="handoff", reason="parcel lost"
        ),
    )
    handoff_id = asked.json()["fulfillmentResponse"]["messages"][1]["liveAgentHandoff"]["metadata"][
        "handoff_id"
    ]
    drain(worker)
    (ticket,) = zendesk.tickets.values()
    assert ticket["external_id"] == handoff_id
    (note,) = zendesk.comments[ticket["id"]]
    assert note["public"] is False
    assert handoff_id in note["html_body"] and "Where is my order A-1001?" in note["html_body"]
    view = requests.get(f"{live_server}/v1/handoffs/{handoff_id}", headers=AGENT, timeout=10).json()
    assert [t["text"] for t in view["payload"]["transcript"]["turns"]] == [
        "Where is my order A-1001?",
        "It left on Monday.",
        "It never came. Get me a person.",
    ]
    assert [d["destination"] for d in view["deliveries"]] == ["zendesk"]

    requests.post(
        f"{live_server}/v1/handoffs/{handoff_id}/handback",
        headers=AGENT,
        timeout=10,
        json={"actor": "mia", "note": "Reshipped."},
    ).raise_for_status()
    drain(worker)
    assert [event for event, _ in google.events[SESSION]] == ["handback"]
    assert len(zendesk.comments[ticket["id"]]) == 2  # the handback note on the ticket
    assert zendesk.validation_errors == [] and google.validation_errors == []
