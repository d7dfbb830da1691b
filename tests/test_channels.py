"""The bot-channel seam: the registry, the native channel at both routes, and a new channel added
with one module and one registry line (defined here: a plain-JSON format with a bearer token)."""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Any

import pytest
import requests
from pydantic import BaseModel, ConfigDict, Field

from channels.base import CHANNELS, BotChannel, ChannelAnswer, InboundRequest, channel_class
from connector import outbox
from connector.config import load_config
from connector.errors import (
    BadRequest,
    ConfigError,
    Unauthorized,
    error_for_status,
)
from connector.schemas import Event, EventResponse
from tests.helpers import API_KEY, drain, dumps, event, make_settings, post_event, signed_headers


class PlainSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=8)  # the bearer token
    callback_url: str | None = None
    callback_timeout_seconds: float = 10.0
    reply_field: str = "say"


class PlainChannel(BotChannel):
    """A builder that posts ``{"conversation": id, "turn": id, "text": ...}`` with a bearer token,
    wants ``{"<reply_field>": text, "human": bool}`` back, and takes callbacks as plain JSON."""

    name = "plain"
    settings_model = PlainSettings
    settings: PlainSettings

    def verify(self, request: InboundRequest, *, now: float) -> None:
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(presented.encode(), self.settings.secret.encode()):
            raise Unauthorized("wrong bearer token", slug="bad-token")

    def parse(self, request: InboundRequest, *, now: datetime) -> list[Event]:
        try:
            body = json.loads(request.body)
            return [
                Event.model_validate(
                    {
                        "id": f"{body['conversation']}:{body['turn']}",
                        "type": "conversation.updated",
                        "occurred_at": now,
                        "conversation": {"id": body["conversation"], "channel": "plain"},
                        "messages": [
                            {"id": str(body["turn"]), "role": "customer", "text": body["text"]}
                        ],
                    }
                )
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise BadRequest(f"not a plain turn: {exc}", slug="malformed-plain") from None

    def answer(self, request: InboundRequest, responses: list[EventResponse]) -> ChannelAnswer:
        (response,) = responses
        text = response.customer_message.text if response.customer_message else ""
        body = {self.settings.reply_field: text, "human": response.decision.escalate}
        return ChannelAnswer(200, json.dumps(body).encode())

    def send(self, callback: outbox.Callback, *, delivery_id: str) -> dict[str, Any]:
        assert self.settings.callback_url
        answer = requests.post(
            self.settings.callback_url,
            timeout=5,
            json={
                "kind": callback.type,
                "delivery": delivery_id,
                "owner": callback.fields.get("owner"),
            },
        )
        if answer.status_code >= 300:
            raise error_for_status(answer.status_code, "plain callback refused")
        return {"status": answer.status_code}


@pytest.fixture
def plain_registered(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(CHANNELS, "plain", "tests.test_channels:PlainChannel")


def test_unknown_channel_is_a_config_error_with_a_suggestion(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text("sources:\n  bot:\n    channel: natve\n    secret: long-enough-secret\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.lines() == [
        "sources.bot.channel: unknown channel 'natve' (did you mean 'native'?); "
        f"known: {', '.join(sorted(CHANNELS))}"
    ]


def test_a_native_source_rejects_keys_it_does_not_know(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text("sources:\n  bot:\n    secret: long-enough-secret\n    calback_url: http://x\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.lines() == [
        "sources.bot.calback_url: unknown key (did you mean 'callback_url'?)"
    ]


def test_channel_class_resolves_the_registry():  # type: ignore[no-untyped-def]
    assert channel_class("native", key_path="x").name == "native"


def test_a_native_source_may_post_to_its_channel_route_too(client):  # type: ignore[no-untyped-def]
    raw = dumps(event("conv-route", "e1"))
    answer = client.post("/v1/channels/demo", data=raw, headers=signed_headers(raw))
    assert answer.status_code == 200 and answer.json["decision"]["escalate"] is True
    again = post_event(client, event("conv-route", "e1"))
    assert (
        again.json["duplicate"] is True
        and again.json["handoff"]["id"] == answer.json["handoff"]["id"]
    )


def test_the_channel_route_verifies_before_parsing(client):  # type: ignore[no-untyped-def]
    answer = client.post(
        "/v1/channels/demo", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 401 and answer.mimetype == "application/problem+json"
    unknown = client.post("/v1/channels/nobody", data=b"{}")
    assert unknown.status_code == 401 and unknown.json["type"].endswith("/unknown-source")


class TestANewChannel:
    @pytest.fixture
    def settings(self, tmp_path, receiver, plain_registered):  # type: ignore[no-untyped-def]
        settings = make_settings(tmp_path, callback_url=receiver.url)
        plain = {
            "channel": "plain",
            "secret": "builder-token-1234",
            "callback_url": receiver.url,
            "reply_field": "message",
        }
        data = settings.model_dump(mode="json")
        data["sources"]["builder"] = plain
        path = tmp_path / "plain.yaml"
        path.write_text(json.dumps(data))
        return load_config(path, env={})

    def post(self, client, body: Any, token: str = "builder-token-1234"):  # type: ignore[no-untyped-def]
        return client.post(
            "/v1/channels/builder",
            data=json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )

    def test_events_in_the_platform_format_reach_the_policy_and_callbacks_go_back_in_it(
        self, client, worker, receiver
    ):  # type: ignore[no-untyped-def]
        calm = self.post(
            client, {"conversation": "c-plain", "turn": 1, "text": "What are your hours?"}
        )
        assert calm.status_code == 200 and calm.json == {"message": "", "human": False}
        asked = self.post(
            client,
            {"conversation": "c-plain", "turn": 2, "text": "I want to talk to a real person."},
        )
        assert asked.status_code == 200 and asked.json["human"] is True
        assert asked.json["message"]  # what to tell the customer while they wait

        handoffs = client.get("/v1/handoffs", headers={"X-API-Key": API_KEY}).json["items"]
        assert [h["source"] for h in handoffs] == ["builder"]
        drain(worker)
        plain = [r["json"] for r in receiver.accepted() if r["json"].get("kind")]
        assert [(c["kind"], c["owner"]) for c in plain] == [("control.changed", "pending_agent")]

    def test_its_own_auth_and_its_own_errors(self, client):  # type: ignore[no-untyped-def]
        wrong = self.post(
            client, {"conversation": "c", "turn": 1, "text": "hi"}, token="nope-nope-nope"
        )
        assert wrong.status_code == 401 and wrong.json["type"].endswith("/bad-token")
        bad = self.post(client, {"conversation": "c"})
        assert bad.status_code == 400 and bad.json["type"].endswith("/malformed-plain")

    def test_its_events_are_refused_at_the_native_route(self, client):  # type: ignore[no-untyped-def]
        raw = dumps(event("c-x", "e1"))
        answer = client.post(
            "/v1/events",
            data=raw,
            headers={**signed_headers(raw, source="builder", secret="builder-token-1234")},
        )
        assert answer.status_code == 400 and answer.json["type"].endswith("/wrong-channel")
        assert "/v1/channels/builder" in answer.json["detail"]
