"""The optional model end to end: a signed escalation, the real outbox and worker, the built-in
inbox, and a local chat-completions server that validates every request against OpenAI's
published spec (``tests/standins/openai.py``). Time is the test's clock; nothing sleeps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector import metrics
from connector.delivery import Worker
from connector.runtime import Runtime, build_runtime
from tests.helpers import Clock, drain, event, make_settings, post_event
from tests.standins.openai import OpenAIStandin, good_answer

pytestmark = pytest.mark.stores("sqlite")

CUSTOMER_TURNS = [
    {
        "id": "m1",
        "role": "customer",
        "text": "My order 5512 arrived broken, the screen is cracked.",
    },
    {"id": "m2", "role": "bot", "text": "I'm sorry to hear that. Can you describe the damage?"},
    {
        "id": "m3",
        "role": "customer",
        "text": "Useless. I want a replacement or my money back. Call me on +44 20 7946 0958 "
        "or write to ada@example.com, card 4111 1111 1111 1111.",
    },
]


@pytest.fixture
def model() -> Iterator[OpenAIStandin]:
    with OpenAIStandin() as server:
        yield server


def _runtime(tmp_path: Path, clock: Clock, model: OpenAIStandin, **generator: Any) -> Runtime:
    settings = make_settings(
        tmp_path,
        payload={
            "generator": {
                "base_url": f"{model.base_url}/v1",
                "model": "local-llm",
                "api_key": "sk-local-test",
                "timeout_seconds": 5,
                **generator,
            }
        },
    )
    return build_runtime(settings, clock=clock)


@pytest.fixture
def rt(tmp_path: Path, clock: Clock, model: OpenAIStandin) -> Iterator[Runtime]:
    runtime = _runtime(tmp_path, clock, model)
    yield runtime
    runtime.close()


def _escalate(runtime: Runtime) -> str:
    from connector.app import create_app

    client = create_app(runtime=runtime).test_client()
    response = post_event(client, event("conv-g", "evt-g", messages=CUSTOMER_TURNS))
    assert response.status_code == 200, response.get_json()
    handoff = response.get_json()["handoff"]
    assert handoff is not None
    return str(handoff["id"])


def _rows(runtime: Runtime, kind: str) -> list[Any]:
    with runtime.store.reading() as tx:
        return [r for r in tx.list_outbox(limit=1000) if r.kind == kind]


def _handoff_payload(runtime: Runtime, handoff_id: str) -> dict[str, Any]:
    with runtime.store.reading() as tx:
        handoff = tx.get_handoff(handoff_id)
    assert handoff is not None
    return handoff.payload


def _count(runtime: Runtime, outcome: str) -> float:
    value = metrics.of(runtime).registry.get_sample_value(
        "handoff_generations_total", {"outcome": outcome}
    )
    return value or 0.0


def _audit_actions(runtime: Runtime) -> list[str]:
    with runtime.store.reading() as tx:
        return [a.action for a in tx.list_audit()]


def test_the_ticket_comes_first_with_the_extractive_content_then_the_models(
    rt: Runtime, model: OpenAIStandin
) -> None:
    handoff_id = _escalate(rt)
    extractive = _handoff_payload(rt, handoff_id)
    assert extractive.get("generator") is None
    worker = Worker(rt, concurrency=1, worker_id="w")

    first = worker.run_once()  # the ticket: created before the model was asked anything
    assert first is not None and first.kind == "destination"
    assert model.bodies == []
    with rt.store.reading() as tx:
        filed = tx.get_inbox_item(handoff_id)
    assert filed is not None and filed["payload"]["summary"] == extractive["summary"]

    drain(worker)
    assert model.validation_errors == [] and len(model.bodies) == 1
    generated = _handoff_payload(rt, handoff_id)  # what the inbox and the widget show now
    answer = good_answer()
    assert generated["summary"] == answer["summary"]
    assert generated["draft_reply"].startswith("Hi Ada Lovelace, I'm sorry order 5512")
    assert "ada@example.com" in generated["draft_reply"]  # placeholders restored
    assert generated["next_action"] == {
        "action": answer["next_action"],
        "reasoning": answer["reasoning"],
    }
    assert generated["generator"]["model"] == "local-llm"
    assert generated["transcript"] == extractive["transcript"]
    with rt.store.reading() as tx:
        notes = tx.get_inbox_item(handoff_id)["notes"]
    assert [n["key"] for n in notes] == [f"generated:{handoff_id}:local:note"]
    assert "Suggested by local-llm" in notes[0]["text"] and "order 5512" in notes[0]["text"]
    assert _count(rt, "generated") == 1
    assert "payload.generated" in _audit_actions(rt)


def test_personal_data_never_leaves_for_the_model(rt: Runtime, model: OpenAIStandin) -> None:
    _escalate(rt)
    drain(Worker(rt, concurrency=1, worker_id="w"))
    sent = json.dumps(model.bodies)
    for secret in ("ada@example.com", "Ada Lovelace", "7946 0958", "4111 1111 1111 1111"):
        assert secret not in sent
    assert "[EMAIL_1]" in sent and "[CARD_1]" in sent and "[PHONE_1]" in sent
    assert "5512" in sent  # the order number is a fact the model needs
    request = model.requests[0]
    assert request.headers["Authorization"] == "Bearer sk-local-test"
    assert model.bodies[0]["response_format"] == {"type": "json_object"}
    assert model.bodies[0]["model"] == "local-llm"


@pytest.mark.parametrize(
    "answer, outcome",
    [
        pytest.param(b"<html>bad gateway</html>", "invalid", id="http-body-not-json"),
        pytest.param("Sure! Here is a summary of the case.", "invalid", id="prose-not-json"),
        pytest.param({"summary": "x"}, "invalid", id="missing-keys"),
        pytest.param(good_answer(summary="word " * 81), "invalid", id="summary-over-80-words"),
        pytest.param(good_answer(draft_reply="Write to [EMAIL_7]."), "invalid", id="invented-pii"),
        pytest.param(
            good_answer(draft_reply="I have approved a full refund for you."),
            "invalid",
            id="breaks-a-guardrail",
        ),
    ],
)
def test_an_invalid_answer_is_discarded_and_the_extractive_content_stays(
    rt: Runtime, model: OpenAIStandin, answer: Any, outcome: str
) -> None:
    handoff_id = _escalate(rt)
    extractive = _handoff_payload(rt, handoff_id)
    model.answer_next(answer)
    drain(Worker(rt, concurrency=1, worker_id="w"))
    assert _handoff_payload(rt, handoff_id) == extractive
    [row] = _rows(rt, "generate")
    assert row.status == "done" and row.result == {"generated": False, "outcome": outcome}
    assert _count(rt, outcome) == 1 and _count(rt, "generated") == 0
    with rt.store.reading() as tx:
        assert tx.get_inbox_item(handoff_id)["notes"] == []
    assert "payload.generation_failed" in _audit_actions(rt)
    assert not [r for r in _rows(rt, "alert")]  # a missing suggestion alerts no one


def test_429_with_retry_after_is_honoured_then_the_answer_arrives(
    rt: Runtime, model: OpenAIStandin, clock: Clock
) -> None:
    handoff_id = _escalate(rt)
    model.fail_next(429, retry_after=30)
    worker = Worker(rt, concurrency=1, worker_id="w")
    drain(worker)
    [row] = _rows(rt, "generate")
    assert row.status == "pending" and row.next_attempt_at == clock.now.timestamp() + 30
    assert _count(rt, "rate_limited") == 1
    assert _handoff_payload(rt, handoff_id).get("generator") is None
    clock.advance(31)
    drain(worker)
    assert _handoff_payload(rt, handoff_id)["generator"]["model"] == "local-llm"
    assert len(model.requests) == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_within_its_limits_then_given_up(
    rt: Runtime, model: OpenAIStandin, clock: Clock, status: int
) -> None:
    handoff_id = _escalate(rt)
    extractive = _handoff_payload(rt, handoff_id)
    model.fail_next(status, times=3)
    worker = Worker(rt, concurrency=1, worker_id="w")
    for _ in range(3):
        drain(worker)
        clock.advance(120)
    [row] = _rows(rt, "generate")
    assert row.status == "done" and row.attempts == 3
    assert row.result == {"generated": False, "outcome": "server_error"}
    assert len(model.requests) == 3
    assert _count(rt, "server_error") == 3
    assert _handoff_payload(rt, handoff_id) == extractive
    assert not _rows(rt, "alert")


def test_a_model_that_does_not_answer_in_time_is_cut_off(
    tmp_path: Path, clock: Clock, model: OpenAIStandin
) -> None:
    runtime = _runtime(tmp_path, clock, model, timeout_seconds=0.2, max_attempts=1)
    try:
        handoff_id = _escalate(runtime)
        extractive = _handoff_payload(runtime, handoff_id)
        model.delay_next(3.0)
        drain(Worker(runtime, concurrency=1, worker_id="w"))
        [row] = _rows(runtime, "generate")
        assert row.result == {"generated": False, "outcome": "timeout"}
        assert _handoff_payload(runtime, handoff_id) == extractive
        assert _count(runtime, "timeout") == 1
    finally:
        runtime.close()


def test_a_refused_key_gives_up_at_once(tmp_path: Path, clock: Clock, model: OpenAIStandin) -> None:
    runtime = _runtime(tmp_path, clock, model, api_key="sk-wrong")
    try:
        _escalate(runtime)
        drain(Worker(runtime, concurrency=1, worker_id="w"))
        [row] = _rows(runtime, "generate")
        assert row.attempts == 1 and row.result == {"generated": False, "outcome": "refused"}
    finally:
        runtime.close()


def test_no_generator_no_call(tmp_path: Path, clock: Clock, model: OpenAIStandin) -> None:
    runtime = build_runtime(make_settings(tmp_path), clock=clock)
    try:
        _escalate(runtime)
        drain(Worker(runtime, concurrency=1, worker_id="w"))
        assert not _rows(runtime, "generate") and model.requests == []
    finally:
        runtime.close()


def test_the_inbox_shows_the_extractive_text_then_the_models_with_its_name(
    rt: Runtime, model: OpenAIStandin
) -> None:
    from markupsafe import escape

    from connector.app import create_app
    from tests.helpers import API_KEY

    handoff_id = _escalate(rt)
    extractive = str(escape(_handoff_payload(rt, handoff_id)["summary"]))
    client = create_app(runtime=rt).test_client()
    before = client.get(f"/inbox/{handoff_id}?key={API_KEY}").get_data(as_text=True)
    assert "suggested by local-llm" not in before and extractive in before
    drain(Worker(rt, concurrency=1, worker_id="w"))
    after = client.get(f"/inbox/{handoff_id}?key={API_KEY}").get_data(as_text=True)
    assert "suggested by local-llm" in after
    assert "Customer reports order 5512 arrived with a cracked screen" in after
    assert extractive not in after


def test_the_token_cap_can_go_as_max_completion_tokens(
    tmp_path: Path, clock: Clock, model: OpenAIStandin
) -> None:
    runtime = _runtime(
        tmp_path, clock, model, max_tokens=500, max_tokens_field="max_completion_tokens"
    )
    try:
        _escalate(runtime)
        drain(Worker(runtime, concurrency=1, worker_id="w"))
    finally:
        runtime.close()
    assert model.validation_errors == [] and len(model.bodies) == 1  # valid against the spec
    assert model.bodies[0]["max_completion_tokens"] == 500
    assert "max_tokens" not in model.bodies[0]
    assert _count(runtime, "generated") == 1
