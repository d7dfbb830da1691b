"""Requests generated from ``/openapi.json`` for every operation: never a 5xx, every answer matches
the schema, every 4xx a problem.

Schemathesis (Hypothesis underneath) builds bodies, queries and path parameters from the same
schema that validates requests: valid ones (positive) and deliberately wrong ones (negative: wrong
types, missing fields, odd strings). A ``before_call`` hook gives each generated request the
credential its operation takes, so the input reaches past authentication into the handlers: bot
requests are signed (``v1`` and ``v2``, over the exact bytes, method and path sent), agent requests
carry the API key, widget-only routes a widget token with its CSRF value. Half the generated handoff
and conversation ids are swapped for ones that exist, so claim, handback, the send gate, control and
draft events see real rows too. Derandomized with a bounded number of examples: the same cases on
every run, in a few seconds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
from schemathesis.specs.openapi.checks import response_schema_conformance

from connector import security
from tests.helpers import API_KEY, SECRET, event, make_settings, post_event

EXAMPLES = 20  # per operation and generation mode
CHECKS = [not_a_server_error, response_schema_conformance]
CREDENTIAL_HEADERS = {
    "authorization",
    "x-api-key",
    security.WIDGET_TOKEN_HEADER.lower(),
    security.SIGNATURE_HEADER.lower(),
    security.SOURCE_HEADER.lower(),
}
WIDGET_ORIGIN = "http://localhost"  # the Flask test client's origin: what check_same_origin allows


@pytest.fixture
def settings(tmp_path, receiver):  # type: ignore[no-untyped-def]
    """A live view's response ends at once here: the fuzzer sends hundreds of requests, and each
    valid one to the stream would otherwise hold its answer open for the stream's whole life."""
    return make_settings(tmp_path, callback_url=receiver.url, widget={"stream_seconds": 0.05})


@pytest.fixture
def existing(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    body = event("conv-1", "evt-1", bot={"draft_reply": "Hi Ada, checking order 881."})
    answer = post_event(client, body)
    assert answer.status_code == 200
    return {
        "handoff_id": answer.json["handoff"]["id"],
        "conversation_id": "conv-1",
        "source": "demo",
        "filename": "widget.js",
    }


def operations(app):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def kind_of(operation: Any) -> str:
    """Which credential an operation takes: ``bot``, ``agent``, ``widget`` or ``none`` (public
    routes and those signed by a vendor's own scheme)."""
    if operation.path.startswith("/v1/channels/"):
        return "bot"  # each channel verifies its own way; the native one with our signature
    schemes = {
        name
        for requirement in operation.definition.raw.get("security") or []
        for name in requirement
    }
    if "handoffSignature" in schemes:
        return "bot"
    if schemes & {"apiKey", "bearer"}:
        return "agent"
    return "widget" if "widgetToken" in schemes else "none"


def body_bytes(case: Any) -> bytes | None:
    """The exact bytes a JSON body goes out as, so that the signature covers what is sent."""
    if case.body is None or type(case.body).__name__ == "NotSet":
        return None
    if isinstance(case.body, bytes):
        return case.body
    return json.dumps(
        case.body, default=lambda v: v.decode("latin-1") if isinstance(v, bytes) else str(v)
    ).encode()


class Credentials:
    """The ``before_call`` hook: real ids for half the cases, then the operation's credential."""

    def __init__(self, runtime: Any, existing: dict[str, str]):
        self.runtime, self.existing = runtime, existing
        self.bot_statuses: Counter[tuple[str, int]] = Counter()

    def widget_token(self) -> str:
        widget = self.runtime.settings.widget
        return security.issue_widget_token(
            widget.secret,
            self.existing["handoff_id"],
            now=self.runtime.now().timestamp(),
            ttl=widget.token_ttl_seconds,
            agent="fuzz@example.com",
        )

    def __call__(self, context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        params = case.path_parameters or {}
        for name, value in params.items():
            if name in self.existing and len(str(value)) % 2 == 0:
                params[name] = self.existing[name]
        kind = kind_of(case.operation)
        # generated credential headers are replaced, not kept beside ours: a wrong key next to a
        # signature would be judged as the key (and count towards the failed-auth throttle)
        headers = {
            k: str(v)
            for k, v in (case.headers or {}).items()
            if k.lower() not in CREDENTIAL_HEADERS
        }
        if kind == "bot":
            raw = body_bytes(case) or b""
            kwargs["data"] = raw  # sent as is: the bytes the signature covers
            path = case.path  # generated path parameters come percent-encoded already
            for name, value in params.items():
                path = path.replace("{" + name + "}", str(value))
            headers[security.SOURCE_HEADER] = "demo"
            headers[security.SIGNATURE_HEADER] = security.sign(
                SECRET,
                raw,
                int(self.runtime.now().timestamp()),
                method=case.method,
                path=unquote(path),
            )
        elif kind == "agent":
            headers["Authorization"] = f"Bearer {API_KEY}"
        elif kind == "widget":
            token = self.widget_token()
            headers.update(
                {
                    security.WIDGET_TOKEN_HEADER: token,
                    "Origin": WIDGET_ORIGIN,
                    security.CSRF_HEADER: security.csrf_token(
                        self.runtime.settings.widget.secret, token
                    ),
                }
            )
        case.headers = headers


@pytest.fixture
def credentials(runtime, existing) -> Iterator[Credentials]:  # type: ignore[no-untyped-def]
    hook = Credentials(runtime, existing)

    def before_call(context, case, kwargs):  # type: ignore[no-untyped-def]
        hook(context, case, kwargs)

    schemathesis.hook(before_call)
    try:
        yield hook
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)


def test_generated_requests_never_get_a_server_error(app, credentials) -> None:  # type: ignore[no-untyped-def]
    found = operations(app)
    assert len(found) >= 12  # every operation of the API is in the schema
    for operation in found:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @examples(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):  # type: ignore[no-untyped-def]
                send(case, credentials)

            try:
                check()
            except Unsatisfiable:
                assert (
                    mode is GenerationMode.NEGATIVE
                )  # nothing to get wrong (no parameters, no body)
    # the signatures are right: every bot operation was answered past authentication
    for operation in found:
        if kind_of(operation) == "bot" and "{path}" not in operation.path:
            past = [
                s
                for (label, s), n in credentials.bot_statuses.items()
                if label == operation.label and s != 401
            ]
            assert past, (
                f"{operation.label}: every signed request was refused {credentials.bot_statuses}"
            )


def send(case: Any, credentials: Credentials) -> None:
    response = case.call(buffered=True)  # werkzeug then closes what it streamed (the static files)
    where = f"{case.method} {case.formatted_path} {str(case.body)[:300]}"
    if kind_of(case.operation) == "bot":
        credentials.bot_statuses[(case.operation.label, response.status_code)] += 1
    assert response.status_code < 500, f"{where} → {response.status_code}: {response.text[:300]}"
    case.validate_response(response, checks=CHECKS)
    if response.status_code >= 400:
        found = {k.lower(): v for k, v in response.headers.items()}.get("content-type", [""])
        content_type = found[0] if isinstance(found, list) else found
        assert content_type.startswith("application/problem+json"), f"{where} → {content_type}"
        problem = json.loads(response.content)
        assert problem["status"] == response.status_code and problem["title"], (
            f"{where} → {problem}"
        )
