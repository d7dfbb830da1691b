"""The outbox worker: claim a due row, deliver it, record the outcome; retry or dead-letter.

Claiming is one conditional UPDATE (rows that are pending and due, or whose claim expired), so two
workers never hold the same row; a thread claims as many rows as its worker has idle threads, in
one statement, and hands the rest to them (``Worker._take``). Retry state lives on the row. Transient failures come back after
an exponential backoff with jitter, or after the ``Retry-After`` the other side asked for; permanent
failures and rows out of attempts are dead-lettered, loudly, with the reason. Nothing sleeps on a
timer while there is work: writers wake the worker (the store's ``Waker``).

Delivery is at least once; each request carries the row's idempotency key, destinations create
with an external id and look before creating again, so the effect happens once.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import uuid
from collections import deque
from typing import Any

from tenacity import wait_exponential_jitter

from connector import alerts as alerting
from connector import audit, generating, links, metrics, outbox, timers
from connector.clock import iso
from connector.errors import (
    Deferred,
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
from integrations.fields import clean, clean_deep

logger = logging.getLogger(__name__)


class _Attempt:
    """The slice of tenacity's RetryCallState that its wait strategies read."""

    def __init__(self, attempt_number: int):
        self.attempt_number = attempt_number


def backoff_seconds(runtime: Runtime, attempt: int, retry_after: float | None) -> float:
    worker = runtime.settings.worker
    if retry_after is not None:
        return min(max(retry_after, 0.0), worker.backoff_max_seconds)
    wait = wait_exponential_jitter(
        initial=worker.backoff_initial_seconds,
        max=worker.backoff_max_seconds,
        jitter=worker.backoff_initial_seconds,
    )
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
    if not isinstance(message, outbox.Deliver | outbox.Note | outbox.Update | outbox.Turn):
        raise PermanentDeliveryError(f"outbox row {row.id} is not for a destination")
    destination = runtime.destinations.get(message.destination)
    if destination is None:
        raise PermanentDeliveryError(
            f"destination {message.destination!r} is not configured any more"
        )
    handoff, refs = runtime.store.handoff_with_refs(message.handoff_id or "")
    if handoff is None:
        raise PermanentDeliveryError(f"handoff {message.handoff_id!r} does not exist")
    previous = TicketRef.from_dict(refs[row.target]) if row.target in refs else None
    if isinstance(message, outbox.Deliver):
        # no control characters or bidi overrides from customer text reach any vendor
        ref = destination.deliver(
            Delivery(
                handoff_id=handoff.id,
                payload=HandoffPayload.model_validate(clean_deep(handoff.payload)),
                idempotency_key=row.idempotency_key,
                widget_url=links.inbox_url(runtime.base_url, handoff.id),
                attempt=row.attempts,
                previous=previous,
            )
        )
        return {"ref": ref.to_dict()}
    if previous is None:
        raise TransientDeliveryError("the handoff is not delivered to this destination yet")
    if isinstance(message, outbox.Note):
        destination.add_note(previous, clean(message.text), key=row.idempotency_key)
    elif isinstance(message, outbox.Turn):
        destination.add_customer_turn(
            previous,
            clean(message.text),
            author=message.author,
            key=row.idempotency_key,
            at=message.at or None,
        )
    else:
        destination.update(previous, clean_deep(dict(message.fields)), key=row.idempotency_key)
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
    if isinstance(message, outbox.Generate):
        return generating.generate(runtime, row)
    return deliver_to_destination(runtime, row)


class Worker:
    """Delivery threads. ``run_once`` processes one due row (for tests and ``handoff worker --once``)."""

    def __init__(
        self, runtime: Runtime, *, concurrency: int | None = None, worker_id: str | None = None
    ):
        self.runtime = runtime
        self.concurrency = concurrency or runtime.settings.worker.concurrency
        self.worker_id = worker_id or f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        per_target = runtime.settings.worker.per_destination_concurrency
        self.per_target = per_target or max(1, (self.concurrency + 1) // 2)
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._slots_lock = threading.Lock()
        # a running attempt renews its claim this often (real seconds), so a slow attempt is never
        # handed to another worker while it can still be running
        self.heartbeat_seconds = max(0.05, runtime.settings.worker.claim_timeout_seconds / 3)
        # Rows one thread claimed for its idle siblings (``_take``), with when they were claimed.
        self._claimed: deque[tuple[OutboxRow, float]] = deque()
        self._claimed_lock = threading.Lock()
        self._processing = 0  # loop threads processing a row now
        self._claiming = 0  # idle threads the claims in flight are claiming rows for
        self._idle = threading.local()  # per loop thread: the next due time its last look found

    # one row ------------------------------------------------------------------------------------
    def run_once(self) -> OutboxRow | None:
        row = self._take()
        if row is None:
            return None
        with self._claimed_lock:
            self._processing += 1
        try:
            self._process(row)
        finally:
            with self._claimed_lock:
                self._processing -= 1
        return row

    def _take(self) -> OutboxRow | None:
        """The next row to process: one claimed earlier for this thread, or a fresh claim.

        A claim takes as many due rows as this worker has idle threads (one when no thread runs:
        ``run_once`` by hand, ``handoff worker --once``), in one statement
        (``claim_outbox_batch``); the thread keeps the first and leaves the others here for its
        idle siblings, whom it wakes. Rows therefore wait for a free thread no longer than a
        claim of one row would; the per-destination caps still apply to each row as it starts
        (``_process``). Threads that look at once do not each claim for every idle thread: a
        claim counts out the threads a sibling's claim in flight is already claiming for, and
        takes at least the one row its own thread needs."""
        while True:
            with self._claimed_lock:
                if not self._claimed:
                    idle = (
                        max(1, self.concurrency - self._processing - self._claiming)
                        if self._threads
                        else 0
                    )
                    self._claiming += idle
                    break
                row, claimed_at = self._claimed.popleft()
            if self._still_held(row, claimed_at):
                return row
        rows: list[OutboxRow] = []
        try:
            rows = self._claim(idle)
        finally:
            with self._claimed_lock:  # the rows for siblings, and the count they replace, at once
                self._claimed.extend((row, time.monotonic()) for row in rows[1:])
                self._claiming -= idle
        if len(rows) > 1:
            self.runtime.waker.wake_here()
        return rows[0] if rows else None

    def _claim(self, idle: int) -> list[OutboxRow]:
        """Look for due work and claim up to ``idle`` rows (one when ``idle`` is 0 or 1)."""
        runtime = self.runtime
        lease = runtime.settings.worker.claim_timeout_seconds
        now = runtime.now().timestamp()
        # one cheap read (one statement on PostgreSQL): no write lock while nothing is due
        look = runtime.store.look_for_work(now)
        work, timer_due, next_due = look.due, look.timer_due_at, look.next_due_at
        if timer_due is not None and timer_due <= now:
            # response windows: their effects are outbox rows, perhaps due now
            work = timers.fire_due(runtime, self.worker_id) > 0 or work
        if not work:
            self._idle.next_due = next_due  # when to look again (``_loop``)
            return []
        if idle > 1:
            return runtime.store.claim_outbox_batch(self.worker_id, now, lease, idle)
        one = runtime.store.claim_outbox(self.worker_id, now, lease)
        return [] if one is None else [one]

    def _still_held(self, row: OutboxRow, claimed_at: float) -> bool:
        """A row left for a sibling that waited past a heartbeat renews its claim before it runs;
        one whose claim was lost meanwhile (another worker took it after expiry) is dropped."""
        if time.monotonic() - claimed_at < self.heartbeat_seconds:
            return True
        lease = self.runtime.settings.worker.claim_timeout_seconds
        with self.runtime.store.atomic() as tx:
            held = tx.extend_outbox_claim(
                row.id, self.worker_id, self.runtime.now().timestamp(), lease
            )
        if not held:
            logger.warning("outbox row %s: claim lost before its turn", row.id)
        return held

    def _release_claimed(self) -> None:
        """Give back rows claimed for threads that have stopped, at once, without an attempt."""
        with self._claimed_lock:
            left = list(self._claimed)
            self._claimed.clear()
        for row, _ in left:
            now = self.runtime.now().timestamp()
            try:
                with self.runtime.store.atomic() as tx:
                    tx.defer_outbox(row.id, self.worker_id, now, now)
            except Exception:  # its claim expires instead, and another worker takes it then
                logger.warning("outbox row %s: cannot give back its claim", row.id)

    def _slot(self, target: str) -> threading.BoundedSemaphore:
        with self._slots_lock:
            if target not in self._slots:
                self._slots[target] = threading.BoundedSemaphore(self.per_target)
            return self._slots[target]

    def _process(self, row: OutboxRow) -> None:
        slot = self._slot(f"{row.kind}:{row.target}")
        if not slot.acquire(blocking=False):
            # this destination already holds its share of the threads (it may be slow): the row
            # waits its turn, without spending an attempt, and this thread serves the others
            self._deferred(
                row, Deferred("the destination's delivery threads are busy", retry_after=0.5)
            )
            return
        beating = threading.Event()
        heart = threading.Thread(
            target=self._heartbeat,
            args=(row, beating),
            daemon=True,
            name=f"handoff-heartbeat-{row.id}",
        )
        heart.start()
        try:
            self._send(row)
        finally:
            beating.set()
            heart.join()
            slot.release()

    def _heartbeat(self, row: OutboxRow, done: threading.Event) -> None:
        lease = self.runtime.settings.worker.claim_timeout_seconds
        while not done.wait(self.heartbeat_seconds):
            try:
                with self.runtime.store.atomic() as tx:
                    held = tx.extend_outbox_claim(
                        row.id, self.worker_id, self.runtime.now().timestamp(), lease
                    )
            except Exception:  # a busy store: the next beat tries again, well within the lease
                logger.warning("outbox row %s: cannot renew the claim; trying again", row.id)
                continue
            if not held:
                logger.warning("outbox row %s: claim lost while the attempt runs", row.id)
                return

    def _send(self, row: OutboxRow) -> None:
        runtime = self.runtime
        try:
            result = send(runtime, row)
        except Deferred as exc:
            self._deferred(row, exc)
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
            if not tx.finish_outbox(
                row.id, self.worker_id, now.timestamp(), status="done", result=result
            ):
                logger.warning("outbox row %s: claim lost before completion", row.id)
                return
            if row.kind == "destination" and "ref" in result and row.handoff_id:
                tx.put_ticket_ref(row.handoff_id, row.target, result["ref"])
            tx.append_audit(
                at=iso(now),
                action=f"{row.kind}.delivered",
                actor=f"worker:{row.target}",
                conversation_id=row.conversation_id,
                handoff_id=row.handoff_id,
                reason=str(row.body.get("op") or row.body.get("type") or row.kind),
                data={"outbox_id": row.id, "attempts": row.attempts, "result": result},
            )
        metrics.safely(
            self.runtime, lambda m: m.deliveries.labels(row.kind, row.target, "delivered").inc()
        )
        logger.info("outbox row %s delivered to %s", row.id, row.target, extra=log_fields(row))

    def _deferred(self, row: OutboxRow, exc: Deferred) -> None:
        """Our own limiter held the row back: nothing was sent, so no attempt is spent.

        The row comes back when the budget has room for it behind the rows of its destination that
        arrived before it (``exc.interval`` apart), plus jitter within half an interval: a burst is
        served in arrival order, and waiting rows are not all polled again at every free slot.
        """
        now = self.runtime.now().timestamp()
        wait = max(exc.retry_after or 0.0, 0.0)
        interval = exc.interval or 0.0
        ahead = 0
        if interval:
            with self.runtime.store.reading() as tx:
                ahead = tx.count_pending_ahead(row.id, row.kind, row.target)
        spread = 0.5 * interval if interval else (min(1.0, 0.25 * wait) if wait else 0.05)
        delay = wait + ahead * interval + random.uniform(0.0, spread)
        with self.runtime.store.atomic() as tx:
            tx.defer_outbox(row.id, self.worker_id, now, now + delay)
        metrics.safely(
            self.runtime, lambda m: m.deliveries.labels(row.kind, row.target, "deferred").inc()
        )
        logger.info("outbox row %s to %s held back for %.1fs: %s", row.id, row.target, delay, exc)

    def _failed(self, row: OutboxRow, exc: DeliveryError) -> None:
        runtime = self.runtime
        now = runtime.now()
        error = str(exc)
        if exc.status:
            error = f"HTTP {exc.status}: {error}"
        said = error  # for log lines: a vendor's answer may quote the customer's name or e-mail
        if exc.response:
            error += f" | response: {exc.response[:500]}"
        age = now.timestamp() - row.created_at
        too_old = age >= runtime.settings.worker.max_age_hours * 3600
        cap = runtime.settings.worker.max_attempts
        out_of_attempts = cap is not None and row.attempts >= cap
        with runtime.store.atomic() as tx:
            if exc.permanent or out_of_attempts or too_old:
                reason = (
                    error
                    if exc.permanent
                    else f"gave up after {row.attempts} attempts: {error}"
                    if out_of_attempts
                    else f"gave up after {age / 3600:.1f} hours: {error}"
                )
                if not tx.finish_outbox(
                    row.id, self.worker_id, now.timestamp(), status="dead", error=reason
                ):
                    return
                tx.append_audit(
                    at=iso(now),
                    action=f"{row.kind}.dead_letter",
                    actor=f"worker:{row.target}",
                    conversation_id=row.conversation_id,
                    handoff_id=row.handoff_id,
                    reason=reason[:500],
                    data={"outbox_id": row.id, "attempts": row.attempts},
                )
                if row.kind != outbox.ALERT:  # an alert about a dead alert could only loop
                    outbox.write_all(
                        tx,
                        alerting.alerts_for(
                            runtime.settings,
                            "dead_letter",
                            tx.get_handoff(row.handoff_id) if row.handoff_id else None,
                            occasion=str(row.id),
                            reason=f"{row.kind} to {row.target}: {reason[:300]}",
                            now=now,
                            conversation_id=row.conversation_id,
                        ),
                        now,
                    )
                metrics.safely(
                    runtime,
                    lambda m: (
                        m.deliveries.labels(row.kind, row.target, "dead").inc(),
                        m.dead_letters.labels(row.kind, row.target).inc(),
                    ),
                )
                logger.error(
                    "outbox row %s to %s DEAD-LETTERED after %s attempts: %s (the vendor's answer "
                    "is on the row: handoff outbox list --dead)",
                    row.id,
                    row.target,
                    row.attempts,
                    said,
                    extra=log_fields(row),
                )
                return
            delay = backoff_seconds(runtime, row.attempts, exc.retry_after)
            tx.finish_outbox(
                row.id,
                self.worker_id,
                now.timestamp(),
                status="pending",
                next_attempt_at=now.timestamp() + delay,
                error=error,
            )
        metrics.safely(
            runtime,
            lambda m: (
                m.deliveries.labels(row.kind, row.target, "retry").inc(),
                m.retries.labels(row.kind, row.target).inc(),
            ),
        )
        logger.warning(
            "outbox row %s to %s failed (attempt %s), retry in %.1fs: %s",
            row.id,
            row.target,
            row.attempts,
            delay,
            said,
            extra=log_fields(row),
        )

    # the loop -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.runtime.waker.listen()
        self._threads = [
            threading.Thread(target=self._loop, name=f"handoff-worker-{index}", daemon=True)
            for index in range(self.concurrency)
        ]
        for thread in self._threads:  # all listed first: a claim counts them all (``_take``)
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.runtime.waker.notify()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        self._release_claimed()

    def _loop(self) -> None:
        waker = self.runtime.waker
        idle = self.runtime.settings.worker.idle_wake_seconds
        sealer = audit.Sealer(
            self.runtime.store, self.runtime.now
        )  # the audit's periodic checkpoints
        while not self._stop.is_set():
            generation = waker.generation
            try:
                if hasattr(self._idle, "next_due"):
                    del self._idle.next_due
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
            sealer.maybe()
            timeout = idle
            try:
                due = getattr(self._idle, "next_due", None)
                if not hasattr(self._idle, "next_due"):  # no look found it: a claim came up empty
                    with self.runtime.store.reading() as tx:
                        due = tx.next_due_at()
                if due is not None:
                    timeout = min(idle, max(0.0, due - self.runtime.now().timestamp()) + 0.01)
            except Exception:
                logger.exception("worker loop: cannot read the next due time")
            waker.wait(generation, timeout)
