"""Bad input: always a 4xx RFC 9457 problem that names the problem, never a 500, nothing stored."""

from __future__ import annotations

import time

import pytest

from tests.helpers import API_KEY, SECRET, dumps, event, make_settings, post_event, signed_headers

AGENT = {"X-API-Key": API_KEY}


def _nothing_stored(runtime) -> None:  # type: ignore[no-untyped-def]
    with runtime.store.reading() as tx:
        assert tx.get_conversation("conv-1") is None
        assert tx.list_outbox() == [] and tx.list_audit() == []


def _raw(body: bytes, **headers: str):  # type: ignore[no-untyped-def]
    return body, {**signed_headers(body), **headers}


def _typed(mutate) -> bytes:  # type: ignore[no-untyped-def]
    data = event()
    mutate(data)
    return dumps(data)


CASES = {
    "malformed-json": (b'{"id": "evt-1", ', 400, "malformed-json", None),
    "empty-body": (b"", 400, "malformed-json", None),
    "array-body": (b"[1, 2]", 400, "malformed-json", None),
    "not-utf8": (b'{"id": "\xff\xfe"}', 400, "malformed-json", None),
    "missing-fields": (dumps({"id": "evt-1"}), 400, "validation-error", "type"),
    "wrong-type": (
        _typed(lambda d: d.update(messages="hello")),
        400,
        "validation-error",
        "messages",
    ),
    "unknown-event-type": (
        _typed(lambda d: d.update(type="conversation.exploded")),
        400,
        "validation-error",
        "type",
    ),
    "bad-role": (
        _typed(lambda d: d["messages"][0].update(role="robot")),
        400,
        "validation-error",
        "messages[0].role",
    ),
    "confidence-out-of-range": (
        _typed(lambda d: d["messages"][0].update(confidence=1.5)),
        400,
        "validation-error",
        "messages[0].confidence",
    ),
    "unknown-field": (_typed(lambda d: d.update(colour="red")), 400, "validation-error", "colour"),
    "bad-timestamp": (
        _typed(lambda d: d.update(occurred_at="yesterday")),
        400,
        "validation-error",
        "occurred_at",
    ),
    "empty-conversation-id": (
        _typed(lambda d: d["conversation"].update(id="")),
        400,
        "validation-error",
        "conversation.id",
    ),
}


@pytest.mark.parametrize("body,status,slug,path", CASES.values(), ids=CASES.keys())
def test_bad_event_bodies(client, runtime, body, status, slug, path):  # type: ignore[no-untyped-def]
    response = client.post("/v1/events", data=body, headers=signed_headers(body))
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert (
        problem["status"] == status and problem["type"].endswith("/" + slug) and problem["detail"]
    )
    if path:
        assert path in [e["path"] for e in problem["errors"]], problem["errors"]
    _nothing_stored(runtime)


def _stale():  # type: ignore[no-untyped-def]
    body = dumps(event())
    return body, signed_headers(body, timestamp=int(time.time()) - 301)


SIGNATURE_CASES = {
    "no-signature": lambda b: {"Content-Type": "application/json", "X-Handoff-Source": "demo"},
    "no-source": lambda b: {k: v for k, v in signed_headers(b).items() if k != "X-Handoff-Source"},
    "unknown-source": lambda b: signed_headers(b, source="rasa-prod"),
    "wrong-secret": lambda b: signed_headers(b, secret="not-the-secret"),
    "stale-timestamp": lambda b: signed_headers(b, timestamp=int(time.time()) - 301),
    "future-timestamp": lambda b: signed_headers(b, timestamp=int(time.time()) + 301),
    "garbage-header": lambda b: {**signed_headers(b), "X-Handoff-Signature": "sha256=abc"},
    "non-integer-timestamp": lambda b: {**signed_headers(b), "X-Handoff-Signature": "t=now,v1=00"},
    "signature-of-other-body": lambda b: signed_headers(b + b" "),
}
SIGNATURE_SLUGS = {
    "no-signature": "missing-signature",
    "no-source": "missing-source",
    "unknown-source": "unknown-source",
    "wrong-secret": "bad-signature",
    "stale-timestamp": "stale-signature",
    "future-timestamp": "stale-signature",
    "garbage-header": "bad-signature",
    "non-integer-timestamp": "bad-signature",
    "signature-of-other-body": "bad-signature",
}


@pytest.mark.parametrize("name", SIGNATURE_CASES)
def test_signature_cases(client, runtime, name):  # type: ignore[no-untyped-def]
    body = dumps(event())
    response = client.post("/v1/events", data=body, headers=SIGNATURE_CASES[name](body))
    assert response.status_code == 401, response.json
    assert response.json["type"].endswith("/" + SIGNATURE_SLUGS[name])
    _nothing_stored(runtime)


def test_signature_is_checked_before_parsing(client, runtime):  # type: ignore[no-untyped-def]
    body = b"this is not json"
    response = client.post(
        "/v1/events", data=body, headers=signed_headers(body, secret="wrong-secret")
    )
    assert response.status_code == 401


def test_rotating_secret_accepts_either_signature(client):  # type: ignore[no-untyped-def]
    body = dumps(event())
    good = signed_headers(body)["X-Handoff-Signature"]
    t = good.split(",")[0]
    header = f"{t},v1={'0' * 64},{good.split(',')[1]}"
    response = client.post(
        "/v1/events", data=body, headers={**signed_headers(body), "X-Handoff-Signature": header}
    )
    assert response.status_code == 200


def test_oversized_body_is_413(tmp_path, clock):  # type: ignore[no-untyped-def]
    from connector.app import create_app
    from connector.runtime import build_runtime

    settings = make_settings(tmp_path, server={"max_body_bytes": 4096})
    runtime = build_runtime(settings, clock=clock)
    client = create_app(runtime=runtime).test_client()
    big = event(messages=[{"id": "m", "role": "customer", "text": "x" * 5000}])
    body = dumps(big)
    response = client.post("/v1/events", data=body, headers=signed_headers(body))
    assert response.status_code == 413 and "4096" in response.json["detail"]
    runtime.close()


def test_default_body_limit_is_one_mebibyte(client, runtime):  # type: ignore[no-untyped-def]
    body = dumps(
        event(
            messages=[{"id": f"m{i}", "role": "customer", "text": "y" * 99_000} for i in range(11)]
        )
    )
    assert len(body) > 1_048_576
    assert client.post("/v1/events", data=body, headers=signed_headers(body)).status_code == 413
    _nothing_stored(runtime)


@pytest.mark.parametrize(
    "method,path,status,slug",
    [
        ("get", "/v1/handoffs/ho_nope", 404, "unknown-handoff"),
        ("post", "/v1/handoffs/ho_nope/claim", 404, "unknown-handoff"),
        ("post", "/v1/handoffs/ho_nope/handback", 404, "unknown-handoff"),
        ("get", "/v1/conversations/nope/control", 404, "unknown-conversation"),
        ("get", "/v1/handoffs?status=bogus", 400, "bad-query"),
        ("get", "/v1/handoffs?limit=0", 400, "bad-query"),
        ("get", "/v1/handoffs?limit=ten", 400, "bad-query"),
        ("get", "/v1/nothing-here", 404, "not-found"),
        ("delete", "/v1/events", 405, "method-not-allowed"),
        ("get", "/inbox/ho_nope?key=" + API_KEY, 404, "unknown-handoff"),
    ],
    ids=lambda v: str(v),
)
def test_unknown_things(client, method, path, status, slug):  # type: ignore[no-untyped-def]
    json_body = None
    if method == "post":
        json_body = {"actor": "a", "note": "n"} if path.endswith("handback") else {"actor": "a"}
    response = getattr(client, method)(path, headers=AGENT, json=json_body)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].endswith("/" + slug)


def test_bot_reply_to_unknown_conversation(client):  # type: ignore[no-untyped-def]
    body = dumps({"text": "hi"})
    response = client.post(
        "/v1/conversations/ghost/bot-replies", data=body, headers=signed_headers(body)
    )
    assert response.status_code == 404 and response.json["type"].endswith("/unknown-conversation")


def test_bot_reply_bad_body(client):  # type: ignore[no-untyped-def]
    post_event(client, event())
    body = dumps({"text": ""})
    response = client.post(
        "/v1/conversations/conv-1/bot-replies", data=body, headers=signed_headers(body)
    )
    assert response.status_code == 400 and response.json["errors"][0]["path"] == "text"


def test_conversation_of_another_source_is_refused(tmp_path, clock):  # type: ignore[no-untyped-def]
    from connector.app import create_app
    from connector.config import load_config
    from connector.runtime import build_runtime

    settings = make_settings(tmp_path)
    data = settings.model_dump(mode="json")
    data["sources"]["other"] = {"secret": "other-secret-1", "callback_url": None}
    import yaml

    (tmp_path / "two.yaml").write_text(yaml.safe_dump(data))
    runtime = build_runtime(load_config(tmp_path / "two.yaml", env={}), clock=clock)
    client = create_app(runtime=runtime).test_client()
    body = dumps(event())
    assert client.post("/v1/events", data=body, headers=signed_headers(body)).status_code == 200
    other = dumps(event(event_id="evt-9"))
    response = client.post(
        "/v1/events",
        data=other,
        headers=signed_headers(other, source="other", secret="other-secret-1"),
    )
    assert response.status_code == 409 and response.json["type"].endswith(
        "/conversation-source-mismatch"
    )
    runtime.close()


def test_unexpected_errors_are_problem_json_without_a_stack(client, runtime, monkeypatch):  # type: ignore[no-untyped-def]
    # one I/O seam: the store failing underneath a request
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr(runtime.store, "atomic", broken)
    body = dumps(event())
    response = client.post("/v1/events", data=body, headers=signed_headers(body))
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert "disk on fire" not in response.get_data(as_text=True)


assert SECRET  # the helpers' secret is what make_settings configures
