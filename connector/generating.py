"""The worker's side of the optional model: one ``Generate`` outbox row, one call, one write.

The row was written with the handoff (``connector.planning``), so the ticket never waits for the
model: the destinations get the extractive payload at once, and this runs beside them. It masks
the case (``connector.generator``), calls the model (``integrations.openai_compatible``), and in
one transaction replaces the stored payload's summary, draft reply and next action (what the
inbox and widget show) and queues a ``Note`` (every destination) and an ``Update`` (those that
can update a ticket) with the occasion ``generated:<handoff>``.

Failures never touch the extractive content and never dead-letter (a dead letter alerts people;
a missing suggestion is not worth it). A timeout, 429 or 5xx is raised to the worker, which tries
again after its backoff or the ``Retry-After``, while attempts (``max_attempts``) and time
(``give_up_after_seconds``) remain; then, or at once for an invalid answer or a refusal (4xx), the
row is finished with the outcome, logged without customer text, counted in
``handoff_generations_total{outcome}`` and audited.
"""

from __future__ import annotations

import logging
from typing import Any

from connector import metrics, outbox
from connector.clock import iso
from connector.errors import DeliveryError, PermanentDeliveryError
from connector.generator import (
    InvalidOutput,
    apply,
    build_request,
    masked_values,
    note_text,
    read_completion,
    update_fields,
)
from connector.generator_config import GeneratorSettings
from connector.logs import log_fields
from connector.masking import Masker
from connector.runtime import Runtime
from connector.schemas import HandoffPayload
from connector.store import OutboxRow
from integrations.openai_compatible import ChatCompletionsClient, GeneratorTimeout

logger = logging.getLogger(__name__)

FINISHED = ("handed_back", "closed")  # an agent is done: a suggestion would only be noise


def _client(runtime: Runtime, settings: GeneratorSettings) -> ChatCompletionsClient:
    client = runtime.extras.get("generator")
    if not isinstance(client, ChatCompletionsClient) or client.settings is not settings:
        client = runtime.extras["generator"] = ChatCompletionsClient(settings)
    return client


def outcome_of(exc: DeliveryError) -> str:
    """The metric label of a failed call (from configuration's vocabulary, never the answer)."""
    if isinstance(exc, GeneratorTimeout):
        return "timeout"
    if exc.status == 429:
        return "rate_limited"
    if exc.status is not None and exc.status >= 500:
        return "server_error"
    if exc.status is not None:
        return "refused"
    return "unreachable"


def _count(runtime: Runtime, outcome: str) -> None:
    metrics.safely(runtime, lambda m: m.generations.labels(outcome).inc())


def generate(runtime: Runtime, row: OutboxRow) -> dict[str, Any]:
    """Run one ``Generate`` row. Returns the row's result; raises a transient ``DeliveryError``
    for the worker to retry while the limits allow."""
    settings = runtime.settings.payload.generator
    if settings is None:
        return _finish(runtime, row, "skipped", "the generator is not configured any more")
    with runtime.store.reading() as tx:
        handoff = tx.get_handoff(row.handoff_id or "")
        conversation = tx.get_conversation(handoff.conversation_id) if handoff else None
    if handoff is None:
        raise PermanentDeliveryError(f"handoff {row.handoff_id!r} does not exist")
    if handoff.status in FINISHED or (handoff.payload or {}).get("generator"):
        return _finish(runtime, row, "skipped", f"handoff is {handoff.status} or has one already")
    policy = runtime.settings.policy
    payload = HandoffPayload.model_validate(handoff.payload)
    masker = Masker(
        masked_values(conversation.customer if conversation else {}, settings.mask_fields)
    )
    body = build_request(
        payload, settings, masker, tone=runtime.settings.payload.tone, guardrails=policy.guardrails
    )
    try:
        answer = _client(runtime, settings).complete(body)
        generated = read_completion(
            answer,
            masker,
            guardrails=policy.guardrails,
            language=payload.customer.language or payload.routing.language,
        )
    except InvalidOutput as exc:
        return _finish(runtime, row, "invalid", f"discarded the model's answer ({exc.reason})")
    except DeliveryError as exc:
        outcome = outcome_of(exc)
        age = runtime.now().timestamp() - row.created_at + (exc.retry_after or 0.0)
        if (
            exc.permanent
            or row.attempts >= settings.max_attempts
            or age >= settings.give_up_after_seconds
        ):
            return _finish(runtime, row, outcome, f"gave up after {row.attempts} attempt(s): {exc}")
        _count(runtime, outcome)
        raise
    now = runtime.now()
    with runtime.store.atomic() as tx:
        current = tx.get_handoff(handoff.id)
        if current is None or (current.payload or {}).get("generator"):
            return {"generated": False, "outcome": "skipped"}
        stamp = iso(now)
        tx.update_handoff(
            handoff.id,
            payload=apply(current.payload, generated, model=settings.model, at=stamp),
            updated_at=stamp,
        )
        occasion = f"generated:{handoff.id}"
        ids = {"handoff_id": handoff.id, "conversation_id": handoff.conversation_id}
        messages: list[outbox.Outbound] = []
        for name in runtime.settings.destinations:
            text = note_text(generated, settings.model)
            messages.append(outbox.Note(destination=name, occasion=occasion, text=text, **ids))
            if runtime.can_update(name):
                fields = update_fields(generated)
                messages.append(
                    outbox.Update(destination=name, occasion=occasion, fields=fields, **ids)
                )
        outbox.write_all(tx, messages, now)
        _audit(tx, row, "payload.generated", f"model {settings.model}", now=stamp)
    _count(runtime, "generated")
    logger.info(
        "handoff %s: the model's summary and draft are in", handoff.id, extra=log_fields(row)
    )
    return {"generated": True, "model": settings.model}


def _audit(tx: Any, row: OutboxRow, action: str, reason: str, *, now: str) -> None:
    tx.append_audit(
        at=now,
        action=action,
        actor="worker:generator",
        conversation_id=row.conversation_id,
        handoff_id=row.handoff_id,
        reason=reason[:500],
        data={"outbox_id": row.id, "attempts": row.attempts},
    )


def _finish(runtime: Runtime, row: OutboxRow, outcome: str, reason: str) -> dict[str, Any]:
    """No suggestion this time: the extractive content stays. Logged (no customer text),
    counted and audited; the row is done, not dead."""
    _count(runtime, outcome)
    if outcome != "skipped":
        with runtime.store.atomic() as tx:
            _audit(
                tx, row, "payload.generation_failed", f"{outcome}: {reason}", now=iso(runtime.now())
            )
        logger.warning(
            "handoff %s: no model suggestion (%s): %s", row.handoff_id, outcome, reason,
            extra=log_fields(row),
        )  # fmt: skip
    return {"generated": False, "outcome": outcome}
