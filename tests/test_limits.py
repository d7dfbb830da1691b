"""Limits: well-formed JSON that used to crash a handler, and bodies over a size, are 4xx problems."""

from __future__ import annotations

import threading

import pytest
import requests

from connector import limits, serving
from connector.app import create_app
from connector.errors import BadRequest
from connector.runtime import build_runtime
from integrations.intercom import webhooks as intercom_webhooks
from integrations.salesforce.webhooks import _document
from integrations.zendesk import webhooks as zendesk_webhooks
from tests.helpers import API_KEY, dumps, event, make_settings, signed_headers, stop_waitress

DEEP_OBJECT = b'{"a":' * 900 + b"1" + b"}" * 900
DEEP_ARRAY = b"[" * 5000 + b"]" * 5000
BIG_INT = b'{"n": ' + b"7" * 4301 + b"}"


def _deep(levels: int) -> bytes:
    return b'{"a":' * (levels - 1) + b"[]" + b"}" * (levels - 1)


EVENT_BODIES = {
    "object-900-deep": (DEEP_OBJECT, 400, "json-too-deep", "limits.json_max_depth"),
    "array-5000-deep": (DEEP_ARRAY, 400, "json-too-deep", "limits.json_max_depth"),
    "int-4301-digits": (BIG_INT, 400, "json-number-too-long", "limits.json_max_number_chars"),
    "float-60-digits": (
        b'{"x": 1.' + b"5" * 60 + b"}",
        400,
        "json-number-too-long",
        "limits.json_max_number_chars",
    ),
    "depth-33": (_deep(33), 400, "json-too-deep", "limits.json_max_depth"),
    "four-messages": (
        dumps(
            event(messages=[{"id": f"m{i}", "role": "customer", "text": "hi"} for i in range(4)])
        ),
        413,
        "too-many-messages",
        "limits.messages_per_event",
    ),
    "long-text": (
        dumps(event(messages=[{"id": "m1", "role": "customer", "text": "x" * 201}])),
        413,
        "text-too-long",
        "limits.text_chars",
    ),
}


@pytest.fixture
def tight(tmp_path, clock):  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path,
        limits={"messages_per_event": 3, "text_chars": 200, "messages_per_conversation": 10},
    )
    runtime = build_runtime(settings, clock=clock)
    yield create_app(runtime=runtime).test_client(), runtime
    runtime.close()


@pytest.mark.parametrize(
    ("body", "status", "slug", "key"), EVENT_BODIES.values(), ids=EVENT_BODIES.keys()
)
def test_event_bodies_over_a_limit_are_problems_naming_it(tight, body, status, slug, key) -> None:  # type: ignore[no-untyped-def]
    client, runtime = tight
    response = client.post("/v1/events", data=body, headers=signed_headers(body))
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].endswith("/" + slug)
    if key:
        assert key in response.json["detail"]
    with runtime.store.reading() as tx:
        assert tx.get_conversation("conv-1") is None and tx.list_audit() == []


@pytest.mark.parametrize(
    "path",
    ["/v1/conversations/conv-1/bot-replies", "/v1/widget/sessions", "/v1/handoffs/h-1/claim"],
)
def test_every_json_endpoint_refuses_deep_json(tight, path) -> None:  # type: ignore[no-untyped-def]
    client, _ = tight
    headers = {**signed_headers(DEEP_ARRAY), "X-API-Key": API_KEY}
    response = client.post(path, data=DEEP_ARRAY, headers=headers)
    assert response.status_code == 400 and response.json["type"].endswith("/json-too-deep")


def test_a_conversation_stops_at_messages_per_conversation(tight) -> None:  # type: ignore[no-untyped-def]
    client, runtime = tight
    for n in range(4):  # 3 messages each: 12 > 10 on the fourth
        body = dumps(
            event(
                event_id=f"evt-{n}",
                messages=[
                    {"id": f"m{n}-{i}", "role": "customer", "text": "where is my order?"}
                    for i in range(3)
                ],
            )
        )
        response = client.post("/v1/events", data=body, headers=signed_headers(body))
        if n < 3:
            assert response.status_code == 200, response.json
    assert response.status_code == 413 and response.json["type"].endswith("/conversation-too-long")
    assert "limits.messages_per_conversation" in response.json["detail"]
    reply = dumps(
        {"text": "One moment."}
    )  # the send gate adds turns too: the tenth fits, not the eleventh
    path = "/v1/conversations/conv-1/bot-replies"
    assert client.post(path, data=reply, headers=signed_headers(reply)).status_code == 200
    refused = client.post(path, data=reply, headers=signed_headers(reply))
    assert refused.status_code == 413 and refused.json["type"].endswith("/conversation-too-long")
    with runtime.store.reading() as tx:
        assert len(tx.list_messages("conv-1")) == 10 and tx.get_event("demo", "evt-3") is None


WEBHOOK_PARSERS = {
    "zendesk": lambda body: zendesk_webhooks.parse_trigger(
        body, api_email="a@b.c", handback_tag="t", teams={}
    ),
    "salesforce": _document,
    "intercom": intercom_webhooks.parse_notification,
}


@pytest.mark.parametrize("body", [DEEP_OBJECT, DEEP_ARRAY, BIG_INT], ids=["object", "array", "int"])
@pytest.mark.parametrize("parse", WEBHOOK_PARSERS.values(), ids=WEBHOOK_PARSERS.keys())
def test_helpdesk_webhook_parsers_refuse_json_over_the_limits(parse, body) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadRequest) as raised:
        parse(body)
    assert raised.value.slug in ("json-too-deep", "json-number-too-long")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"{}", {}, id="empty-object"),
        pytest.param(_deep(32), "ok", id="depth-32-is-fine"),
        pytest.param(b'{"n": ' + b"9" * 50 + b"}", "ok", id="50-digit-int-is-fine"),
        pytest.param(b'{"n": -1.5e10}', {"n": -1.5e10}, id="float"),
        pytest.param(b"[1, [2, [3]]]", [1, [2, [3]]], id="nested-lists"),
    ],
)
def test_loads_within_limits(raw: bytes, expected: object) -> None:
    data = limits.loads(raw)
    assert expected == "ok" or data == expected


def test_waitress_answers_a_body_over_max_body_bytes_with_a_problem(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    runtime = build_runtime(make_settings(tmp_path), clock=clock)
    server = serving.create_server(
        create_app(runtime=runtime), host="127.0.0.1", port=0, threads=2, max_body_bytes=1024
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        body = dumps(event(messages=[{"id": "m1", "role": "customer", "text": "x" * 5000}]))
        response = requests.post(
            f"http://127.0.0.1:{server.effective_port}/v1/events",
            data=body,
            headers=signed_headers(body),
            timeout=5,
        )
        assert response.status_code == 413
        assert response.headers["Content-Type"] == "application/problem+json"
        assert (
            response.json()["status"] == 413
            and "server.max_body_bytes (1024 bytes)" in response.json()["detail"]
        )
    finally:
        stop_waitress(server, thread)
        runtime.close()


def test_405_names_the_allowed_methods(client) -> None:  # type: ignore[no-untyped-def]
    response = client.delete("/v1/events")
    assert response.status_code == 405 and response.mimetype == "application/problem+json"
    assert "POST" in response.headers["Allow"].split(", ")
