"""Requests generated from ``/openapi.json`` for every operation: never a 5xx, every 4xx a problem.

Schemathesis (Hypothesis underneath) builds bodies, queries and path parameters from the same
schema that validates requests, mostly wrong ones: wrong types, missing fields, odd strings. Bot
requests are signed and agent requests carry the API key, so the generated input reaches past
authentication into the handlers; half the generated handoff and conversation ids are swapped for
ones that exist, so claim, handback, the send gate and draft events see real rows too.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.helpers import API_KEY, event, post_event, signed_headers

BOT_PATHS = ("/v1/events", "/v1/conversations/")


@pytest.fixture
def existing(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    body = event("conv-1", "evt-1", bot={"draft_reply": "Hi Ada, checking order 881."})
    answer = post_event(client, body)
    assert answer.status_code == 200
    return {"handoff_id": answer.json["handoff"]["id"], "conversation_id": "conv-1"}


def operations(app):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_generated_requests_never_get_a_server_error(app, client, existing):  # type: ignore[no-untyped-def]
    found = operations(app)
    assert len(found) >= 12  # every operation of the API is in the schema
    for operation in found:

        @settings(max_examples=40, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):  # type: ignore[no-untyped-def]
            send(client, case, existing)

        check()


def send(client, case, existing: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    params = dict(case.path_parameters or {})
    for name, value in params.items():
        if name in existing and len(str(value)) % 2 == 0:
            params[name] = existing[name]
    path = case.path
    for name, value in params.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    body = None
    if isinstance(case.body, bytes):
        body = case.body
    elif case.body is not None and type(case.body).__name__ != "NotSet":
        body = json.dumps(case.body).encode()
    headers = {k: str(v) for k, v in (case.headers or {}).items()
               if k.lower() not in ("content-length", "host")}
    if path.startswith(BOT_PATHS):
        headers.update(signed_headers(body or b""))
    else:
        headers["Authorization"] = f"Bearer {API_KEY}"
    headers.setdefault("Content-Type", "application/json")
    response = client.open(path, method=case.method, data=body, headers=headers,
                           query_string=case.query or None)
    where = f"{case.method} {path} {body[:300] if body else b''!r}"
    assert response.status_code < 500, f"{where} → {response.status_code}: {response.get_data(as_text=True)[:300]}"
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json", f"{where} → {response.mimetype}"
        problem = response.json
        assert problem["status"] == response.status_code and problem["title"], f"{where} → {problem}"
