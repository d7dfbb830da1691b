"""The outbox worker: claim a due row, deliver it, record the outcome; retry or dead-letter.

Claiming is one conditional UPDATE (a row that is pending and due, or whose claim expired), so two
workers never hold the same row. Retry state lives on the row. Transient failures come back after
an exponential backoff with jitter, or after the ``Retry-After`` the other side asked for; permanent
failures and rows out of attempts are dead-lettered, loudly, with the reason. Nothing sleeps on a
timer while there is work: writers wake the worker (the store's ``Waker``).

Delivery is at least once; each request carries the row's idempotency key, destinations create
with an external id and look before creating again, so the effect happens once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Any

from tenacity import wait_exponential_jitter

from connector import alerts as alerting
from connector import links, metrics, outbox, timers
from connector.clock import iso
from connector.errors import (
    DeliveryError,
    PermanentDeliveryError,
    ProblemError,
    TransientDeliveryError,
)
from connector.logs import log_fields
from connector.runtime import Runtime
from connector.schemas import HandoffPayload
from connector.store import OutboxRow
from integrations import alerts
from integrations.base import Delivery, TicketRef

logger = logging.getLogger(__name__)

class _Attempt:
    """The slice of tenacity's RetryCallState that its wait strategies read."""

    def __init__(self, attempt_number: int):
        self.attempt_number = attempt_number


def backoff_seconds(runtime: Runtime, attempt: int, retry_after: float | None) -> float:
    worker = runtime.settings.worker
    if retry_after is not None:
        return min(max(retry_after, 0.0), worker.backoff_max_seconds)
    wait = wait_exponential_jitter(initial=worker.backoff_initial_seconds,
                                   max=worker.backoff_max_seconds,
                                   jitter=worker.backoff_initial_seconds)
    return float(wait(_Attempt(attempt)))  # type: ignore[arg-type]


def send_callback(runtime: Runtime, message: outbox.Callback, delivery_id: str) -> dict[str, Any]:
    """Send a callback through its source's channel. Raise a DeliveryError on any failure."""
    channel = runtime.channels.get(message.source)
    if channel is None:
        raise PermanentDeliveryError(f"bot source {message.source!r} is not configured any more")
    return channel.send(message, delivery_id=delivery_id)


def deliver_to_destination(runtime: Runtime, row: OutboxRow) -> dict[str, Any]:
    """Deliver, note or update a handoff's ticket, as the row says. Raise a DeliveryError on failure."""
    message = _read(row)
    if not isinstance(message, outbox.Deliver | outbox.Note | outbox.Update):
        raise PermanentDeliveryError(f"outbox row {row.id} is not for a destination")
    destination = runtime.destinations.get(message.destination)
    if destination is None:
        raise PermanentDeliveryError(f"destination {message.destination!r} is not configured any more")
    with runtime.store.reading() as tx:
        handoff = tx.get_handoff(message.handoff_id or "")
        refs = tx.get_ticket_refs(message.handoff_id or "")
    if handoff is None:
        raise PermanentDeliveryError(f"handoff {message.handoff_id!r} does not exist")
    previous = TicketRef.from_dict(refs[row.target]) if row.target in refs else None
    if isinstance(message, outbox.Deliver):
        ref = destination.deliver(Delivery(
            handoff_id=handoff.id, payload=HandoffPayload.model_validate(handoff.payload),
            idempotency_key=row.idempotency_key, widget_url=links.inbox_url(runtime.base_url, handoff.id),
            attempt=row.attempts, previous=previous,
        ))
        return {"ref": ref.to_dict()}
    if previous is None:
        raise TransientDeliveryError("the handoff is not delivered to this destination yet")
    if isinstance(message, outbox.Note):
        destination.add_note(previous, message.text, key=row.idempotency_key)
    else:
        destination.update(previous, dict(message.fields), key=row.idempotency_key)
    return {"ref": previous.to_dict()}


def _read(row: OutboxRow) -> outbox.Outbound:
    try:
        return outbox.read(row)
    except ValueError as exc:  # a row no message describes: retrying cannot help
        raise PermanentDeliveryError(str(exc)) from exc


def send(runtime: Runtime, row: OutboxRow) -> dict[str, Any]:
    """Send one outbox row through the registry that knows its kind."""
    message = _read(row)
    if isinstance(message, outbox.Callback):
        return send_callback(runtime, message, row.idempotency_key)
    if isinstance(message, outbox.Alert):
        return alerts.send_alert(runtime.settings, message, row.idempotency_key)
    return deliver_to_destination(runtime, row)


class Worker:
    """Delivery threads. ``run_once`` processes one due row (for tests and ``handoff worker --once``)."""

    def __init__(self, runtime: Runtime, *, concurrency: int | None = None, worker_id: str | None = None):
        self.runtime = runtime
        self.concurrency = concurrency or runtime.settings.worker.concurrency
        self.worker_id = worker_id or f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # one row ------------------------------------------------------------------------------------
    def run_once(self) -> OutboxRow | None:
        runtime = self.runtime
        lease = runtime.settings.worker.claim_timeout_seconds
        timers.fire_due(runtime, self.worker_id)  # response windows: their effects are outbox rows
        now = runtime.now().timestamp()
        with runtime.store.reading() as tx:
            if not tx.any_due(now):
                return None
        with runtime.store.atomic() as tx:
            row = tx.claim_outbox(self.worker_id, now, lease)
        if row is None:
            return None
        self._process(row)
        return row

    def _process(self, row: OutboxRow) -> None:
        runtime = self.runtime
        try:
            result = send(runtime, row)
        except DeliveryError as exc:
            self._failed(row, exc)
        except Exception as exc:  # a bug in a destination must not stop the worker
            logger.exception("outbox row %s: unexpected error", row.id)
            self._failed(row, TransientDeliveryError(f"unexpected {type(exc).__name__}: {exc}"))
        else:
            self._succeeded(row, result)

    def _succeeded(self, row: OutboxRow, result: dict[str, Any]) -> None:
        now = self.runtime.now()
        with self.runtime.store.atomic() as tx:
            if not tx.finish_outbox(row.id, self.worker_id, now.timestamp(), status="done", result=result):
                logger.warning("outbox row %s: claim lost before completion", row.id)
                return
            if row.kind == "destination" and "ref" in result and row.handoff_id:
                tx.put_ticket_ref(row.handoff_id, row.target, result["ref"])
            tx.append_audit(
                at=iso(now), action=f"{row.kind}.delivered", actor=f"worker:{row.target}",
                conversation_id=row.conversation_id, handoff_id=row.handoff_id,
                reason=str(row.body.get("op") or row.body.get("type") or row.kind),
                data={"outbox_id": row.id, "attempts": row.attempts, "result": result},
            )
        metrics.safely(self.runtime, lambda m: m.deliveries.labels(row.kind, row.target, "delivered").inc())
        logger.info("outbox row %s delivered to %s", row.id, row.target, extra=log_fields(row))

    def _failed(self, row: OutboxRow, exc: DeliveryError) -> None:
        runtime = self.runtime
        now = runtime.now()
        error = str(exc)
        if exc.status:
            error = f"HTTP {exc.status}: {error}"
        if exc.response:
            error += f" | response: {exc.response[:500]}"
        out_of_attempts = row.attempts >= runtime.settings.worker.max_attempts
        with runtime.store.atomic() as tx:
            if exc.permanent or out_of_attempts:
                reason = error if exc.permanent else f"gave up after {row.attempts} attempts: {error}"
                if not tx.finish_outbox(row.id, self.worker_id, now.timestamp(), status="dead", error=reason):
                    return
                tx.append_audit(at=iso(now), action=f"{row.kind}.dead_letter", actor=f"worker:{row.target}",
                                conversation_id=row.conversation_id, handoff_id=row.handoff_id,
                                reason=reason[:500], data={"outbox_id": row.id, "attempts": row.attempts})
                if row.kind != outbox.ALERT:  # an alert about a dead alert could only loop
                    outbox.write_all(tx, alerting.alerts_for(
                        runtime.settings, "dead_letter",
                        tx.get_handoff(row.handoff_id) if row.handoff_id else None,
                        occasion=str(row.id), reason=f"{row.kind} to {row.target}: {reason[:300]}",
                        now=now, conversation_id=row.conversation_id), now)
                metrics.safely(runtime, lambda m: (m.deliveries.labels(row.kind, row.target, "dead").inc(),
                                                   m.dead_letters.labels(row.kind, row.target).inc()))
                logger.error("outbox row %s to %s DEAD-LETTERED: %s", row.id, row.target, reason,
                             extra=log_fields(row))
                return
            delay = backoff_seconds(runtime, row.attempts, exc.retry_after)
            tx.finish_outbox(row.id, self.worker_id, now.timestamp(), status="pending",
                             next_attempt_at=now.timestamp() + delay, error=error)
        metrics.safely(runtime, lambda m: (m.deliveries.labels(row.kind, row.target, "retry").inc(),
                                           m.retries.labels(row.kind, row.target).inc()))
        logger.warning("outbox row %s to %s failed (attempt %s), retry in %.1fs: %s",
                       row.id, row.target, row.attempts, delay, error, extra=log_fields(row))

    # the loop -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.runtime.waker.listen()
        for index in range(self.concurrency):
            thread = threading.Thread(target=self._loop, name=f"handoff-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.runtime.waker.notify()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def _loop(self) -> None:
        waker = self.runtime.waker
        idle = self.runtime.settings.worker.idle_wake_seconds
        while not self._stop.is_set():
            generation = waker.generation
            try:
                row = self.run_once()
            except ProblemError as exc:  # the store is busy or cannot write: one line, not a trace
                logger.error("worker loop: %s; backing off", exc)
                self._stop.wait(1.0)
                continue
            except Exception:
                logger.exception("worker loop: store error; backing off")
                self._stop.wait(1.0)
                continue
            if row is not None:
                continue
            timeout = idle
            try:
                with self.runtime.store.reading() as tx:
                    due = tx.next_due_at()
                if due is not None:
                    timeout = min(idle, max(0.0, due - self.runtime.now().timestamp()) + 0.01)
            except Exception:
                logger.exception("worker loop: cannot read the next due time")
            waker.wait(generation, timeout)
