"""The ``mapped`` channel: no-code builders (Typebot, Voiceflow, n8n) posting their own JSON with a
bearer token, end to end over a real socket, with the body templates docs/channels/mapped.md gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from channels.mapped import MappedChannel, transcript_turns, turn_id
from connector import outbox
from connector.config import Settings, load_config
from connector.errors import ConfigError, TransientDeliveryError
from tests.helpers import API_KEY, Receiver, drain, make_settings

TOKEN = "typebot-bearer-token-1234"
HANDOFF = str(Path(sys.executable).parent / "handoff")

# the "map:" blocks of the two templates in docs/channels/mapped.md
TYPEBOT_MAP = {
    "conversation_id": "resultId",
    "text": "message",
    "transcript": "transcript",
    "customer_name": "name",
    "customer_email": "email",
    "handoff_requested": "wantsHuman == 'true'",
    "reason": "reason",
}
VOICEFLOW_MAP = {"conversation_id": "userID", "text": "last_utterance", "transcript": "vf_memory"}


@pytest.mark.parametrize(
    ("value", "turns"),
    [
        (
            'Assistant: "Hi! How can I help?"\n\nUser: "Where is my order?"',
            [("bot", "Hi! How can I help?"), ("customer", "Where is my order?")],
        ),
        (
            "assistant: Hello\nuser: my parcel is late\nit was due monday\nassistant: Sorry",
            [
                ("bot", "Hello"),
                ("customer", "my parcel is late\nit was due monday"),
                ("bot", "Sorry"),
            ],
        ),
        (
            [
                {"role": "user", "content": "hi"},
                {"type": "bot", "text": "hello"},
                {"speaker": "x", "text": "?"},
            ],
            [("customer", "hi"), ("bot", "hello")],
        ),
        ("", []),
        (None, []),
        ("no prefix at all", []),
        ("User: \nAssistant: fine", [("bot", "fine")]),
    ],
)
def test_transcripts_in_the_builders_formats(value: Any, turns: list[tuple[str, str]]) -> None:
    assert transcript_turns(value) == turns


@pytest.mark.parametrize("value", [42, [1, 2], {"role": "user"}])
def test_a_transcript_of_another_shape_is_refused(value: Any) -> None:
    with pytest.raises(ValueError):
        transcript_turns(value)


def test_a_turn_keeps_its_id_when_the_history_is_sent_again() -> None:
    assert turn_id("customer", "hi", 1) == turn_id("customer", "hi", 1)
    assert (
        len({turn_id("customer", "hi", 1), turn_id("customer", "hi", 2), turn_id("bot", "hi", 1)})
        == 3
    )


def _config(tmp_path: Path, mapping: dict[str, Any]) -> Path:
    path = tmp_path / "mapped.yaml"
    import yaml

    path.write_text(
        yaml.safe_dump(
            {
                "store": {"path": str(tmp_path / "h.db")},
                "sources": {"typebot": {"channel": "mapped", "secret": TOKEN, "map": mapping}},
            }
        )
    )
    return path


def test_a_bad_expression_is_named_by_its_key_path(tmp_path: Path) -> None:
    path = _config(tmp_path, {"conversation_id": "resultId", "text": "messages[?role=='user'"})
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    (line,) = caught.value.lines()
    assert line.startswith("sources.typebot.map.text: ") and "JMESPath" in line
    checked = subprocess.run(
        [HANDOFF, "check-config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode != 0 and "sources.typebot.map.text" in checked.stdout + checked.stderr


def test_the_conversation_expression_is_required_and_unknown_keys_refused(tmp_path: Path) -> None:
    path = _config(tmp_path, {"text": "message", "txet": "x"})
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert sorted(caught.value.lines()) == [
        "sources.typebot.map.conversation_id: Field required",
        "sources.typebot.map.txet: unknown key (did you mean 'text'?)",
    ]


@pytest.fixture
def settings(tmp_path: Path, receiver: Receiver) -> Settings:
    return make_settings(
        tmp_path,
        callback_url=receiver.url,
        sources={
            "typebot": {
                "channel": "mapped",
                "secret": TOKEN,
                "map": TYPEBOT_MAP,
                "channel_label": "typebot",
                "callback_url": receiver.url,
            },
            "voiceflow": {
                "channel": "mapped",
                "secret": "voiceflow-token-123456",
                "map": VOICEFLOW_MAP,
            },
        },
    )


def _post(base: str, source: str, body: Any, token: str = TOKEN) -> requests.Response:
    return requests.post(
        f"{base}/v1/channels/{source}",
        json=body,
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
    )


def _typebot(
    result_id: str, message: str, transcript: str, wants_human: str = "false"
) -> dict[str, Any]:
    # what Typebot's HTTP Request block sends once its variables are filled in
    return {
        "resultId": result_id,
        "message": message,
        "transcript": transcript,
        "name": "Ada",
        "email": "ada@example.com",
        "wantsHuman": wants_human,
        "reason": "",
    }


def test_a_typebot_flow_hands_off_and_gets_callbacks(live_server, worker, receiver) -> None:  # type: ignore[no-untyped-def]
    history = 'Assistant: "Hi! How can I help?"\n\nUser: "What are your opening hours?"'
    calm = _post(live_server, "typebot", _typebot("res-1", "What are your opening hours?", history))
    assert calm.status_code == 200
    assert calm.json() == {
        "escalate": False,
        "owner": "bot",
        "handoff_id": None,
        "team": None,
        "message": "",
        "wait_minutes": None,
        "duplicate": False,
    }
    history += '\n\nAssistant: "9 to 5."\n\nUser: "I want to talk to a real person."'
    asked = _post(
        live_server, "typebot", _typebot("res-1", "I want to talk to a real person.", history)
    )
    assert asked.status_code == 200 and asked.json()["escalate"] is True
    assert asked.json()["owner"] == "pending_agent" and asked.json()["message"]
    again = _post(
        live_server, "typebot", _typebot("res-1", "I want to talk to a real person.", history)
    )
    assert (
        again.json()["duplicate"] is True
        and again.json()["handoff_id"] == asked.json()["handoff_id"]
    )

    handoff = requests.get(
        f"{live_server}/v1/handoffs/{asked.json()['handoff_id']}",
        timeout=10,
        headers={"X-API-Key": API_KEY},
    ).json()
    turns = [(t["role"], t["text"]) for t in handoff["payload"]["transcript"]["turns"]]
    assert turns == [
        ("bot", "Hi! How can I help?"),
        ("customer", "What are your opening hours?"),
        ("bot", "9 to 5."),
        ("customer", "I want to talk to a real person."),
    ]
    assert handoff["payload"]["customer"]["email"] == "ada@example.com"

    drain(worker)
    (callback,) = [r for r in receiver.accepted() if r["headers"].get("X-Handoff-Event")]
    assert callback["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert (
        callback["json"]["type"] == "control.changed"
        and callback["json"]["owner"] == "pending_agent"
    )


def test_a_flow_may_ask_for_a_human_itself(live_server) -> None:  # type: ignore[no-untyped-def]
    body = _typebot("res-2", "hmm", 'User: "hmm"', wants_human="true")
    answer = _post(live_server, "typebot", body)
    assert answer.status_code == 200 and answer.json()["escalate"] is True


def test_a_voiceflow_api_step_with_vf_memory(live_server) -> None:  # type: ignore[no-untyped-def]
    body = {
        "userID": "vf-user-7",
        "last_utterance": "this is useless, get me a human",
        "vf_memory": "assistant: Hi, I'm the Acme assistant.\nuser: my refund never came\n"
        "assistant: Refunds take 5 days.\nuser: this is useless, get me a human",
    }
    answer = _post(live_server, "voiceflow", body, token="voiceflow-token-123456")
    assert answer.status_code == 200 and answer.json()["escalate"] is True


@pytest.mark.parametrize(
    ("headers", "slug"),
    [
        ({}, "bad-token"),
        ({"Authorization": "Bearer wrong-token-wrong-token"}, "bad-token"),
        ({"Authorization": f"Basic {TOKEN}"}, "bad-token"),
    ],
)
def test_a_wrong_token_is_refused_before_the_body_is_read(live_server, headers, slug) -> None:  # type: ignore[no-untyped-def]
    answer = requests.post(
        f"{live_server}/v1/channels/typebot", data=b"{not json", headers=headers, timeout=10
    )
    assert answer.status_code == 401 and answer.json()["type"].endswith(f"/{slug}")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "not JSON"),
        (b'{"message": "hi"}', "map.conversation_id (resultId) found nothing"),
        (b'{"resultId": {"a": 1}}', "map.conversation_id (resultId) is a dict"),
        (b'{"resultId": "r", "transcript": 42}', "map.transcript"),
    ],
)
def test_malformed_bodies_name_the_mapping(live_server, body: bytes, detail: str) -> None:  # type: ignore[no-untyped-def]
    answer = requests.post(
        f"{live_server}/v1/channels/typebot",
        data=body,
        timeout=10,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and answer.json()["type"].endswith("/malformed-mapped")
    assert detail in answer.json()["detail"]


def test_callbacks_retry_through_the_outbox_and_unknown_types_are_skipped(
    live_server, worker, receiver, runtime, clock
) -> None:  # type: ignore[no-untyped-def]
    receiver.responses = [(503, {}), (429, {"Retry-After": "5"})]
    asked = _post(live_server, "typebot", _typebot("res-3", "I want to talk to a real person.", ""))
    assert asked.json()["escalate"] is True
    for _ in range(3):
        drain(worker)
        clock.advance(120)
    statuses = [r["status"] for r in receiver.received if r["headers"].get("X-Handoff-Event")]
    assert statuses == [503, 429, 200]
    assert (
        len(
            {
                r["headers"]["X-Handoff-Delivery"]
                for r in receiver.received
                if r["headers"].get("X-Handoff-Event")
            }
        )
        == 1
    )

    channel = runtime.channels["typebot"]
    assert isinstance(channel, MappedChannel)
    skipped = channel.send(
        outbox.Callback(
            source="typebot", type="survey.sent", id="x", handoff_id=None, conversation_id="res-3"
        ),
        delivery_id="1",
    )
    assert "skipped" in skipped
    receiver.close()  # the builder's endpoint is gone: a transient error, the outbox keeps it
    with pytest.raises(TransientDeliveryError):
        channel.send(
            outbox.Callback(
                source="typebot",
                type="agent.message",
                id="y",
                handoff_id="h",
                conversation_id="res-3",
                fields={"text": "hello"},
            ),
            delivery_id="2",
        )
