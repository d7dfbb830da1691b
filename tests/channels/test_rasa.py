"""The Rasa channel end to end: Rasa's event-broker JSON published to a real RabbitMQ (as Rasa's
PikaEventBroker publishes it), consumed by the channel, and the hand-off, agent messages and
handback through Rasa's HTTP API to a stand-in that validates every call against Rasa's spec."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from channels.base import InboundRequest
from channels.rasa import RasaChannel
from connector import outbox, service
from connector.config import Settings
from connector.errors import (
    BadRequest,
    Conflict,
    PermanentDeliveryError,
    StoreBusy,
    TransientDeliveryError,
)
from tests.helpers import API_KEY, drain, make_settings
from tests.standins.rasa import RasaStandin

pika = pytest.importorskip("pika")

AMQP_URL = os.environ.get("HANDOFF_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
SECRET = "rasa-route-token-123456"
HANDOFF = str(Path(sys.executable).parent / "handoff")


def _broker_or_skip() -> None:
    try:
        pika.BlockingConnection(pika.URLParameters(AMQP_URL)).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "no broker here"
        message = f"RabbitMQ not reachable at {AMQP_URL} ({exc!r}); set HANDOFF_TEST_AMQP_URL"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def publish(queue: str, event: dict[str, Any] | bytes) -> None:
    """Publish as Rasa's pika broker does: persistent JSON on a durable queue. A connection per
    call, so the stand-in's server thread and the test may both publish."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        channel.queue_declare(queue=queue, durable=True)
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        channel.basic_publish(
            exchange="",
            routing_key=queue,
            body=body,
            properties=pika.BasicProperties(delivery_mode=2, content_type="application/json"),
        )
    finally:
        connection.close()


def wait_until(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """Wait for the consumer thread to have done something (a bound, not a timing assertion)."""
    pause = threading.Event()
    deadline = datetime.now(UTC).timestamp() + timeout
    while datetime.now(UTC).timestamp() < deadline:
        if found := check():
            return found
        pause.wait(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def queue() -> Iterator[str]:
    _broker_or_skip()
    name = f"rasa_events_test_{uuid.uuid4().hex[:12]}"
    yield name
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    connection.channel().queue_delete(queue=name)
    connection.close()


@pytest.fixture
def rasa(queue: str, clock) -> Iterator[RasaStandin]:  # type: ignore[no-untyped-def]
    with RasaStandin(publish=lambda event: publish(queue, event), clock=clock) as standin:
        yield standin
    assert standin.validation_errors == [] and standin.internal_errors == []


@pytest.fixture
def settings(tmp_path: Path, rasa: RasaStandin, queue: str) -> Settings:
    return make_settings(
        tmp_path,
        sources={
            "rasa": {
                "channel": "rasa",
                "secret": SECRET,
                "rasa_url": rasa.base_url,
                "rasa_token": rasa.token,
                "amqp_url": AMQP_URL,
                "queue": queue,
                "output_channel": "socketio",
                "callback_timeout_seconds": 5,
            }
        },
    )


@pytest.fixture
def consumer(runtime) -> Iterator[threading.Thread]:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    channel = runtime.channels["rasa"]
    thread = threading.Thread(
        target=channel.consume,
        daemon=True,
        args=(lambda events: [service.ingest_event(runtime, "rasa", e) for e in events], stop),
        kwargs={"now": runtime.now, "retry_seconds": 0.1},
    )
    thread.start()
    yield thread
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def user(sender: str, text: str, message_id: str, *, intent: str = "chitchat") -> dict[str, Any]:
    """A ``user`` event as Rasa's tracker store publishes it."""
    return {
        "sender_id": sender,
        "event": "user",
        "timestamp": 1764930000.25,
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.91},
            "entities": [],
            "text": text,
            "message_id": message_id,
            "metadata": {},
            "intent_ranking": [{"name": intent, "confidence": 0.91}],
        },
        "input_channel": "socketio",
        "message_id": message_id,
        "metadata": {},
    }


def bot(sender: str, text: str, stamp: float) -> dict[str, Any]:
    return {
        "sender_id": sender,
        "event": "bot",
        "timestamp": stamp,
        "text": text,
        "data": {
            "elements": None,
            "quick_replies": None,
            "buttons": None,
            "attachment": None,
            "image": None,
            "custom": None,
        },
        "metadata": {"utter_action": "utter_hours"},
    }


def turns(runtime, conversation_id: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """The conversation's transcript as the store keeps it."""
    with runtime.store.reading() as tx:
        return [(m.role, m.text) for m in tx.list_messages(conversation_id)]


def test_a_rasa_conversation_is_paused_relayed_and_resumed(
    client, worker, runtime, rasa, queue, consumer, clock
) -> None:  # type: ignore[no-untyped-def]
    publish(queue, {"sender_id": "u-1", "event": "session_started", "timestamp": 1764929999.0})
    publish(queue, user("u-1", "What are your opening hours?", "m1", intent="ask_hours"))
    publish(queue, bot("u-1", "We open at 9.", 1764930001.5))
    publish(queue, user("u-1", "I want to talk to a real person.", "m2", intent="human_handoff"))
    handoffs = wait_until(
        lambda: client.get("/v1/handoffs", headers={"X-API-Key": API_KEY}).json["items"],
        "the handoff",
    )
    (handoff,) = handoffs
    assert handoff["conversation_id"] == "rasa:u-1"
    assert turns(runtime, "rasa:u-1") == [
        ("customer", "What are your opening hours?"),
        ("bot", "We open at 9."),
        ("customer", "I want to talk to a real person."),
    ]
    drain(worker)
    assert rasa.tracker("u-1")["paused"] is True

    with runtime.store.atomic() as tx:
        outbox.write(
            tx,
            outbox.Callback.at(
                clock.now,
                source="rasa",
                type="agent.message",
                id="am-1",
                conversation_id="rasa:u-1",
                handoff_id=handoff["id"],
                fields={
                    "conversation_id": "rasa:u-1",
                    "handoff_id": handoff["id"],
                    "text": "Hi, I'm Grace.",
                    "author": {"name": "Grace"},
                    "attachments": [],
                },
            ),
            clock.now,
        )
    rasa.drop_next(apply=True, route="POST .*/tracker/events")  # appended, but the answer is lost
    drain(worker)
    clock.advance(120)
    drain(worker)
    assert rasa.sent == [("u-1", "socketio", "Hi, I'm Grace.")]
    # the injected utterance came back through the broker: not a bot turn; a later user turn is
    publish(queue, user("u-1", "Thanks Grace", "m3"))
    wait_until(lambda: ("customer", "Thanks Grace") in turns(runtime, "rasa:u-1"), "the next turn")
    assert ("bot", "Hi, I'm Grace.") not in turns(runtime, "rasa:u-1")

    back = client.post(
        f"/v1/handoffs/{handoff['id']}/handback",
        headers={"X-API-Key": API_KEY},
        json={"actor": "grace", "note": "Sorted.", "resolution": "solved"},
    )
    assert back.status_code == 200
    drain(worker)
    assert rasa.tracker("u-1")["paused"] is False
    assert [e["event"] for e in rasa.tracker("u-1")["events"]] == ["pause", "bot", "resume"]


def test_the_handoff_action_hands_off(client, queue, consumer) -> None:  # type: ignore[no-untyped-def]
    publish(queue, user("u-2", "my card was charged twice", "m1"))
    publish(
        queue,
        {
            "sender_id": "u-2",
            "event": "action",
            "timestamp": 1764930002.0,
            "name": "action_handoff_metric",
            "policy": "FlowPolicy",
            "confidence": 1.0,
        },
    )
    (handoff,) = wait_until(
        lambda: client.get("/v1/handoffs", headers={"X-API-Key": API_KEY}).json["items"],
        "the handoff",
    )
    assert handoff["conversation_id"] == "rasa:u-2"


def test_a_malformed_broker_message_is_rejected_and_logged_not_retried(
    client, queue, consumer, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.ERROR, logger="channels.rasa")
    publish(queue, b"{not json")
    publish(queue, {"event": "user", "text": "no sender"})
    publish(queue, user("u-3", "I want to talk to a real person.", "m1"))
    wait_until(
        lambda: client.get("/v1/handoffs", headers={"X-API-Key": API_KEY}).json["items"],
        "the handoff",
    )
    assert caplog.text.count("rejected a broker event") == 2


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (None, "ack"),
        (BadRequest("too many messages"), "reject"),
        (StoreBusy("busy"), "retry"),
        (Conflict("raced"), "retry"),
        (RuntimeError("disk"), "retry"),
    ],
)
def test_what_happens_to_a_broker_message(outcome: Exception | None, expected: str) -> None:
    channel = RasaChannel.from_config("rasa", {"secret": SECRET, "rasa_url": "http://127.0.0.1:1"})

    def ingest(events: list[Any]) -> None:
        if outcome is not None:
            raise outcome

    body = json.dumps(user("u", "hi", "m")).encode()
    assert channel.handle(body, ingest, datetime.now(UTC)) == expected


def test_the_consumer_outlives_an_unreachable_broker(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger="channels.rasa")
    channel = RasaChannel.from_config(
        "rasa",
        {
            "secret": SECRET,
            "rasa_url": "http://127.0.0.1:1",
            "amqp_url": "amqp://guest:guest@127.0.0.1:1/%2F",
        },
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=channel.consume,
        args=(lambda events: None, stop),
        kwargs={"now": lambda: datetime.now(UTC), "retry_seconds": 0.05},
        daemon=True,
    )
    thread.start()
    wait_until(lambda: "cannot reach the broker" in caplog.text, "the first failed connection")
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


@pytest.mark.parametrize(
    ("item", "kinds"),
    [
        (user("s", "hi", "m1"), ["conversation.updated"]),
        (
            {
                "sender_id": "s",
                "event": "bot",
                "text": "relay",
                "metadata": {"handoff_delivery": "x"},
            },
            [],
        ),
        ({"sender_id": "s", "event": "bot", "text": None, "data": {"image": "u"}}, []),
        ({"sender_id": "s", "event": "action", "name": "action_listen"}, []),
        (
            {"sender_id": "s", "event": "action", "name": "action_human_handoff"},
            ["handoff.requested"],
        ),
        (
            {"sender_id": "s", "event": "flow_started", "flow_id": "pattern_human_handoff"},
            ["handoff.requested"],
        ),
        ({"sender_id": "s", "event": "slot", "name": "x", "value": 1}, []),
    ],
)
def test_rasa_events_to_ours(item: dict[str, Any], kinds: list[str]) -> None:
    channel = RasaChannel.from_config("rasa", {"secret": SECRET, "rasa_url": "http://127.0.0.1:1"})
    assert [e.type for e in channel.parse_event(item, now=datetime.now(UTC))] == kinds


def test_the_same_rasa_event_maps_to_the_same_event_id() -> None:
    channel = RasaChannel.from_config("rasa", {"secret": SECRET, "rasa_url": "http://127.0.0.1:1"})
    now = datetime.now(UTC)
    assert (
        channel.parse_event(user("s", "hi", "m1"), now=now)[0].id
        == channel.parse_event(user("s", "hi", "m1"), now=now)[0].id
    )


def test_the_http_route_takes_rasa_events_with_a_bearer_token(client) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps([user("u-4", "hello", "m1"), bot("u-4", "hi!", 1.0)])
    ok = client.post("/v1/channels/rasa", data=body, headers={"Authorization": f"Bearer {SECRET}"})
    assert ok.status_code == 200 and ok.json["events"] == 2
    wrong = client.post("/v1/channels/rasa", data=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json["type"].endswith("/bad-token")
    bad = client.post(
        "/v1/channels/rasa",
        data=b'{"event": "user"}',
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert bad.status_code == 400 and bad.json["type"].endswith("/malformed-rasa")
    assert "sender_id" in bad.json["detail"]


def _callback(kind: str, **fields: Any) -> outbox.Callback:
    return outbox.Callback(
        source="rasa",
        type=kind,
        id=f"{kind}-1",
        occurred_at="2026-12-05T11:00:00+00:00",
        handoff_id="ho_1",
        conversation_id="rasa:u-9",
        fields={"conversation_id": "rasa:u-9", "handoff_id": "ho_1", **fields},
    )


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PermanentDeliveryError),
        (401, PermanentDeliveryError),
        (403, PermanentDeliveryError),
        (404, PermanentDeliveryError),
        (409, PermanentDeliveryError),
        (429, TransientDeliveryError),
        (500, TransientDeliveryError),
        (503, TransientDeliveryError),
    ],
)
def test_the_failure_table_on_the_way_back(runtime, rasa, status, error) -> None:  # type: ignore[no-untyped-def]
    channel = runtime.channels["rasa"]
    rasa.fail_next(status, route="POST .*/tracker/events")
    with pytest.raises(error):
        channel.send(_callback("control.changed", owner="pending_agent"), delivery_id="1")
    channel.send(_callback("control.changed", owner="pending_agent"), delivery_id="1")
    assert rasa.tracker("u-9")["paused"] is True


def test_rasa_down_is_transient_and_nothing_to_do_is_skipped(runtime, rasa) -> None:  # type: ignore[no-untyped-def]
    channel = runtime.channels["rasa"]
    for skipped in (
        _callback("control.changed", owner="agent"),
        _callback("survey.sent"),
        _callback("agent.message", text=" "),
    ):
        assert "skipped" in channel.send(skipped, delivery_id="1")
    with pytest.raises(PermanentDeliveryError):
        channel.send(
            outbox.Callback(
                source="rasa",
                type="conversation.handed_back",
                id="x",
                handoff_id="h",
                conversation_id="c-1",
                fields={"conversation_id": "c-1"},
            ),
            delivery_id="1",
        )
    rasa.stop()
    with pytest.raises(TransientDeliveryError):
        channel.send(_callback("agent.message", text="hello"), delivery_id="1")


def test_handoff_consume_runs_as_its_own_process(tmp_path, rasa, queue) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "consume.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": {"path": str(tmp_path / "consume.db")},
                "security": {"api_keys": [API_KEY]},
                "sources": {
                    "rasa": {
                        "channel": "rasa",
                        "secret": SECRET,
                        "rasa_url": rasa.base_url,
                        "rasa_token": rasa.token,
                        "amqp_url": AMQP_URL,
                        "queue": queue,
                    }
                },
            }
        )
    )
    publish(queue, user("u-5", "I want to talk to a real person.", "m1"))
    with (tmp_path / "consume.log").open("w") as log:
        proc = subprocess.Popen(
            [HANDOFF, "consume", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        from connector.config import load_config
        from connector.runtime import build_runtime

        reader = build_runtime(load_config(config, env={}))
        try:

            def handed() -> bool:
                with reader.store.reading() as tx:
                    return tx.get_conversation("rasa:u-5") is not None and bool(
                        tx.get_conversation("rasa:u-5").handoff_id
                    )  # type: ignore[union-attr]

            wait_until(handed, "the consumer process to hand off", timeout=30)
        finally:
            reader.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert "handoff consume running for rasa" in (tmp_path / "consume.log").read_text()


def test_consume_without_a_broker_source_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    config = tmp_path / "plain.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")))
    out = subprocess.run(
        [HANDOFF, "consume", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0 and "no source reads a broker" in out.stderr


def test_inbound_request_for_the_broker_needs_no_headers() -> None:
    assert InboundRequest("AMQP", "", {}, b"{}").headers == {}
