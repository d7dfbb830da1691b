"""The Store interface: everything the service persists, as a handful of verbs.

Every write happens inside ``store.atomic()``, which yields a ``Tx``: one transaction that holds
the write lock from its first statement, so checks and writes inside it cannot interleave with
another writer (another thread, or another process on the same file). ``store.reading()`` yields a
``Tx`` for consistent reads. ``store.waker()`` gives the ``Waker`` that tells delivery workers, in
this process and in others, that work was written.

Implementations are named in ``STORES`` by the scheme of ``store.url`` and imported only when
chosen; each must pass the contract suite in ``tests/store/test_contract*.py``. Today: ``sqlite``
(``connector/store/sqlite/``, the default) and ``postgresql`` (``connector/store/postgres/``, for
several replicas on one database).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connector.errors import ConfigError

if TYPE_CHECKING:
    from connector.store_config import StoreSettings


@dataclass
class ConversationRow:
    id: str
    source: str
    owner: str
    version: int
    owner_since: str
    created_at: str
    updated_at: str
    handoff_id: str | None = None
    channel: str | None = None
    language: str | None = None
    url: str | None = None
    customer: dict[str, Any] = field(default_factory=dict)
    bot: dict[str, Any] = field(default_factory=dict)


@dataclass
class MessageRow:
    conversation_id: str
    id: str
    role: str
    text: str
    at: str | None
    data: dict[str, Any] = field(default_factory=dict)
    seq: int = 0


@dataclass
class HandoffRow:
    id: str
    conversation_id: str
    source: str
    status: str
    team: str | None
    priority: str
    payload: dict[str, Any]
    created_at: str
    updated_at: str
    customer_id: str | None = None
    claimed_by: str | None = None
    handback: dict[str, Any] | None = None


@dataclass
class OutboxRow:
    id: int
    kind: str  # "destination" | "callback"
    target: str  # destination name, or bot source name
    idempotency_key: str
    body: dict[str, Any]
    status: str  # pending | delivering | done | dead
    attempts: int
    next_attempt_at: float
    created_at: float
    updated_at: float
    handoff_id: str | None = None
    conversation_id: str | None = None
    claimed_by: str | None = None
    claim_expires_at: float | None = None
    last_error: str | None = None
    result: dict[str, Any] | None = None


@dataclass
class AuditRow:
    id: int
    at: str
    action: str
    actor: str
    conversation_id: str | None
    handoff_id: str | None
    reason: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass
class AuditCheckpoint:
    """A sealed checkpoint of the audit trail (``Tx.seal_audit``; ``connector/audit.py`` checks it).

    ``heads`` maps each chain changed since the previous checkpoint (a conversation id, or ``""``
    for rows of no conversation) to the hash of its last row then. ``legacy_upto``, on the
    checkpoint a migration writes, is the last id of the older single chain (rows up to it link
    one to the next regardless of conversation). Checkpoints chain like rows (``checkpoint_hash``).
    """

    id: int
    at: str
    heads: dict[str, str]
    prev_hash: str
    hash: str
    legacy_upto: int | None = None


@dataclass
class TimerRow:
    """A response-window timer (``connector/timers.py``): fires once, at ``due_at``, unless stopped."""

    id: int
    handoff_id: str
    conversation_id: str
    kind: str  # "response_window"
    round: int  # 1, then 2 after a route_to_team fallback
    step: int  # 1..max_reminders are reminders; the step after them is the fallback
    due_at: float
    status: str  # pending | fired | cancelled
    created_at: float
    updated_at: float
    data: dict[str, Any] = field(default_factory=dict)
    claimed_by: str | None = None
    fired_at: float | None = None


@dataclass
class FactRow:
    """Something learnt about a handoff after it opened: first_response, reassigned, rerouted, csat."""

    id: int
    handoff_id: str
    kind: str
    at: str
    data: dict[str, Any] = field(default_factory=dict)


# made once: ``json.dumps`` with options builds a new encoder on every call
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the one form audit hashes and digests are taken over."""
    if isinstance(value, Encoded) and value.canonical is not None:
        return value.canonical
    return _CANONICAL.encode(value)


def compact_json(value: Any) -> str:
    """No spaces, keys in their order, UTF-8 kept: the form JSON columns are stored in."""
    if isinstance(value, Encoded) and value.compact is not None:
        return value.compact
    return _COMPACT.encode(value)


class Encoded(dict[str, Any]):
    """A JSON object whose text was made ahead, before the write transaction: ``compact`` (the
    stored form, ``compact_json``) and/or ``canonical`` (``canonical_json``, what audit hashes are
    taken over). Stores use the text rather than encode the object again while they hold the
    write lock; to anything else it is a plain dict. Never changed once made."""

    compact: str | None = None
    canonical: str | None = None

    @classmethod
    def of(
        cls, value: dict[str, Any], *, compact: bool = False, canonical: bool = False
    ) -> Encoded:
        made = cls(value)
        if compact:
            made.compact = compact_json(value)
        if canonical:
            made.canonical = canonical_json(value)
        return made


def audit_hash(
    prev_hash: str,
    at: str,
    action: str,
    actor: str,
    conversation_id: str | None,
    handoff_id: str | None,
    reason: str,
    data: dict[str, Any],
    *,
    data_json: str | None = None,
) -> str:
    """The chain link: any edit to a row, or a deleted row, breaks every hash after it.

    It is the SHA-256 of the canonical JSON array of the row's fields. ``data_json``, when the
    caller already holds ``canonical_json(data)``, saves encoding the largest field twice.
    """
    head = canonical_json([prev_hash, at, action, actor, conversation_id, handoff_id, reason])
    canonical = head[:-1] + "," + (canonical_json(data) if data_json is None else data_json) + "]"
    return hashlib.sha256(canonical.encode()).hexdigest()


def audit_chain(conversation_id: str | None) -> str:
    """The chain an audit row belongs to: its conversation's, or ``""`` for rows of none."""
    return conversation_id or ""


def checkpoint_hash(prev_hash: str, at: str, heads: dict[str, str], legacy_upto: int | None) -> str:
    """The SHA-256 of the canonical JSON of a checkpoint's fields, linked to the one before it."""
    return hashlib.sha256(canonical_json([prev_hash, at, heads, legacy_upto]).encode()).hexdigest()


@dataclass
class IngestSnapshot:
    """What an event's decision reads (``ingest_snapshot``): the answer kept for the event when it
    was seen before (and then nothing else), else its conversation and that one's messages."""

    response: dict[str, Any] | None
    conversation: ConversationRow | None
    messages: list[MessageRow]


@dataclass
class RoutingHistory:
    """What planning a handoff reads (``routing_history``): the team's latest first-response
    seconds, newest first (``recent_first_responses``), and the customer's handoffs so far."""

    first_responses: list[float]
    prior_handoffs: int


@dataclass
class WorkLook:
    """An idle worker's look (``look_for_work``): is an outbox row claimable now (``any_due``),
    the earliest pending timer (``next_timer_due_at``), and, only when no row is claimable, when
    the next one will be (``next_due_at``; None when a row is)."""

    due: bool
    timer_due_at: float | None
    next_due_at: float | None


class Tx(ABC):
    """One transaction. Methods raise on storage failure; nothing is committed until the end."""

    # events ------------------------------------------------------------------------------------
    @abstractmethod
    def get_event(self, source: str, event_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def put_event(
        self,
        source: str,
        event_id: str,
        conversation_id: str,
        response: dict[str, Any],
        received_at: str,
    ) -> None:
        """Keep the answer to an event; a (source, event id) already kept raises (the caller looks
        with ``get_event`` first, in the same transaction)."""

    # conversations and messages ----------------------------------------------------------------
    @abstractmethod
    def get_conversation(self, conversation_id: str) -> ConversationRow | None: ...

    @abstractmethod
    def insert_conversation(self, row: ConversationRow) -> None: ...

    @abstractmethod
    def update_conversation(self, conversation_id: str, **fields: Any) -> None: ...

    @abstractmethod
    def cas_control(
        self,
        conversation_id: str,
        expected_version: int,
        owner: str,
        handoff_id: str | None,
        now: str,
    ) -> bool:
        """Move control iff the version is still ``expected_version``; bump the version."""

    @abstractmethod
    def add_messages(self, rows: list[MessageRow]) -> list[MessageRow]:
        """Insert the messages not seen before (by id); return those inserted, in order."""

    @abstractmethod
    def list_messages(self, conversation_id: str) -> list[MessageRow]: ...

    # handoffs ----------------------------------------------------------------------------------
    @abstractmethod
    def insert_handoff(self, row: HandoffRow) -> None: ...

    @abstractmethod
    def get_handoff(self, handoff_id: str) -> HandoffRow | None: ...

    @abstractmethod
    def update_handoff(self, handoff_id: str, **fields: Any) -> None: ...

    @abstractmethod
    def list_handoffs(
        self, status: str | None = None, team: str | None = None, limit: int = 100
    ) -> list[HandoffRow]: ...

    @abstractmethod
    def count_customer_handoffs(self, customer_id: str) -> int: ...

    @abstractmethod
    def put_ticket_ref(self, handoff_id: str, destination: str, ref: dict[str, Any]) -> None: ...

    @abstractmethod
    def get_ticket_refs(self, handoff_id: str) -> dict[str, dict[str, Any]]: ...

    # outbox ------------------------------------------------------------------------------------
    @abstractmethod
    def enqueue(
        self,
        kind: str,
        target: str,
        idempotency_key: str,
        body: dict[str, Any],
        now: float,
        handoff_id: str | None = None,
        conversation_id: str | None = None,
        lane: str | None = None,
    ) -> int | None:
        """Add an outbox row; a repeated idempotency key adds nothing and returns None.

        Rows with the same ``lane`` are delivered in id order, one at a time: ``claim_outbox``,
        ``any_due`` and ``next_due_at`` skip a row while an earlier row of its lane is pending or
        delivering (a dead row does not hold the lane). ``None``: no order with other rows."""

    @abstractmethod
    def claim_outbox(self, worker_id: str, now: float, lease_seconds: float) -> OutboxRow | None:
        """Take the most overdue row that is pending, or whose claim expired, and whose lane is free
        (see ``enqueue``). Counts an attempt."""

    @abstractmethod
    def claim_outbox_batch(
        self, worker_id: str, now: float, lease_seconds: float, limit: int
    ) -> list[OutboxRow]:
        """``claim_outbox`` for up to ``limit`` rows at once, most overdue first: one transaction
        for many rows, for workers that deliver in batches. Concurrent claimers never share a row."""

    @abstractmethod
    def finish_outbox(
        self,
        row_id: int,
        worker_id: str,
        now: float,
        *,
        status: str,
        next_attempt_at: float | None = None,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bool:
        """Record an attempt's outcome iff ``worker_id`` still holds the claim."""

    @abstractmethod
    def defer_outbox(self, row_id: int, worker_id: str, now: float, next_attempt_at: float) -> bool:
        """Hand a claimed row back, due at ``next_attempt_at``, with the attempt its claim counted
        given back (the connector held it back itself; nothing was tried). Iff ``worker_id`` still
        holds the claim; ``last_error`` is left as it was."""

    @abstractmethod
    def extend_outbox_claim(
        self, row_id: int, worker_id: str, now: float, lease_seconds: float
    ) -> bool:
        """The heartbeat of a running attempt: its claim now expires at ``now + lease_seconds``.
        Iff ``worker_id`` still holds the claim (a lost claim stays lost)."""

    @abstractmethod
    def take_budget(
        self, key: str, cost: float, per_second: float, capacity: float, now: float, max_wait: float
    ) -> float:
        """A token bucket named ``key``, shared by every worker and replica on this store.

        The bucket starts full (``capacity``) and refills at ``per_second`` up to ``capacity``.
        Returns the seconds until ``cost`` tokens are there (0 when they are now); when that is at
        most ``max_wait`` the tokens are taken (the bucket may go below zero: the caller waits that
        long, and later takers wait behind it), else nothing changes. A negative ``cost`` gives
        tokens back (never above ``capacity``) and returns 0. A cost above ``capacity`` is taken
        from a full bucket.
        """

    @abstractmethod
    def get_outbox(self, row_id: int) -> OutboxRow | None: ...

    @abstractmethod
    def list_outbox(self, status: str | None = None, limit: int = 100) -> list[OutboxRow]: ...

    @abstractmethod
    def count_pending_ahead(self, row_id: int, kind: str, target: str) -> int:
        """Pending rows of the same kind and target that came before row ``row_id`` (lower ids):
        how many a deferred row waits behind (``delivery.Worker._deferred``). Counted, not read."""

    @abstractmethod
    def retry_outbox(self, row_id: int, now: float) -> bool:
        """Put a dead (or pending) row back in line, due now, with its attempts reset."""

    @abstractmethod
    def next_due_at(self) -> float | None: ...

    @abstractmethod
    def any_due(self, now: float) -> bool:
        """Cheap read: is any row claimable at ``now``? (Spares idle workers the write lock.)"""

    @abstractmethod
    def outbox_stats(self) -> dict[str, Any]:
        """Rows by (kind, status) and the ``created_at`` of the oldest undelivered row, for /metrics."""

    # timers (response windows) -------------------------------------------------------------------
    @abstractmethod
    def add_timer(
        self,
        *,
        handoff_id: str,
        conversation_id: str,
        kind: str,
        round: int,
        step: int,
        due_at: float,
        now: float,
        data: dict[str, Any],
    ) -> int | None:
        """Add a pending timer; the same (handoff, kind, round, step) twice adds nothing (None)."""

    @abstractmethod
    def claim_due_timer(self, worker_id: str, now: float) -> TimerRow | None:
        """Mark the most overdue pending timer ``fired`` with a conditional update, and return it.

        Of two workers racing for one timer exactly one gets it; the caller does the timer's work
        in the same transaction, so a crash undoes the claim too.
        """

    @abstractmethod
    def cancel_timers(self, handoff_id: str, now: float) -> int:
        """Cancel the handoff's pending timers; return how many."""

    @abstractmethod
    def next_timer_due_at(self) -> float | None: ...

    @abstractmethod
    def list_timers(
        self, handoff_id: str | None = None, status: str | None = None
    ) -> list[TimerRow]: ...

    # facts about handoffs (first response, reassignment, CSAT) ---------------------------------
    @abstractmethod
    def add_fact(
        self, handoff_id: str, kind: str, at: str, data: dict[str, Any], *, once: bool = False
    ) -> bool:
        """Record a fact; with ``once``, only if the handoff has none of this kind yet."""

    @abstractmethod
    def recent_first_responses(self, team: str, limit: int) -> list[float]:
        """First-response seconds of the team's ``limit`` latest answered handoffs, newest first."""

    @abstractmethod
    def list_facts(
        self, handoff_id: str | None = None, kind: str | None = None
    ) -> list[FactRow]: ...

    @abstractmethod
    def report_data(self, since: str, until: str, team: str | None = None) -> dict[str, Any]:
        """The raw rows the KPIs are computed from (``connector/kpis.py``), for handoffs in
        [since, until): the slow path, kept to prove the KPI rows right and to back-fill them."""

    # KPI rows: one per handoff, kept current in the same transaction as what they summarise -----
    @abstractmethod
    def put_handoff_kpis(self, row: dict[str, Any]) -> None:
        """Insert or replace the handoff's KPI row (``kpis.ROW_FIELDS``)."""

    @abstractmethod
    def list_handoff_kpis(self, since: str, until: str) -> list[tuple[Any, ...]]:
        """The KPI rows of handoffs opened in [since, until), in any order, each a tuple of its
        values in ``kpis.LIST_FIELDS`` order (tuples: 100,000 dicts would cost more than the read)."""

    def sum_handoff_kpis(
        self, since: str, until: str, team: str | None = None, source: str | None = None
    ) -> dict[str, Any] | None:
        """``kpis.sums`` of the KPI rows of handoffs opened in [since, until) (of one first team,
        one source), summed by the database; None (the default) when this store leaves the sums
        to ``kpis.sums`` over ``list_handoff_kpis``. Either way the report is the same."""
        return None

    @abstractmethod
    def count_conversations(self, since: str, until: str) -> int:
        """How many conversations started in [since, until)."""

    def refresh_handoff_kpis(self, handoff_id: str) -> None:
        """Recompute the handoff's KPI row from its facts (built from the read verbs, so every store
        gets it). A store calls it for every write verb that changes what a row summarises:
        ``insert_handoff``, ``update_handoff`` (team, payload, claim, handback), ``add_fact``,
        ``add_draft_event``, and ``add_messages`` (agent or customer messages: for each of the
        conversation's handoffs), inside the same transaction: at once, or once per handoff just
        before COMMIT (SQLite does that), as long as ``list_handoff_kpis`` in the same
        transaction sees the result."""
        from connector.kpis import row_from_store

        handoff = self.get_handoff(handoff_id)
        if handoff is None:
            return
        self.put_handoff_kpis(
            row_from_store(
                handoff,
                self.get_conversation(handoff.conversation_id),
                self.list_messages(handoff.conversation_id),
                self.list_facts(handoff_id),
                [e["action"] for e in self.list_draft_events(handoff_id)],
            )
        )

    # reads of several verbs at once: one snapshot (``Store`` has the same verbs, each one read) ----
    def ingest_snapshot(self, source: str, event_id: str, conversation_id: str) -> IngestSnapshot:
        """``get_event``, then (when the event is new) ``get_conversation`` and its
        ``list_messages``: what the ingest decides from. A store may answer in one statement."""
        response = self.get_event(source, event_id)
        if response is not None:
            return IngestSnapshot(response, None, [])
        found = self.get_conversation(conversation_id)
        return IngestSnapshot(None, found, self.list_messages(found.id) if found else [])

    def routing_history(self, team: str, limit: int, customer_id: str | None) -> RoutingHistory:
        """``recent_first_responses(team, limit)`` and ``count_customer_handoffs`` (0 for no
        customer id)."""
        return RoutingHistory(
            self.recent_first_responses(team, limit),
            self.count_customer_handoffs(customer_id) if customer_id else 0,
        )

    def look_for_work(self, now: float) -> WorkLook:
        """``any_due(now)``, ``next_timer_due_at()`` and, when nothing is due, ``next_due_at()``."""
        due = self.any_due(now)
        return WorkLook(due, self.next_timer_due_at(), None if due else self.next_due_at())

    def handoff_with_refs(
        self, handoff_id: str
    ) -> tuple[HandoffRow | None, dict[str, dict[str, Any]]]:
        """``get_handoff`` and ``get_ticket_refs``: what delivering to a helpdesk reads."""
        return self.get_handoff(handoff_id), self.get_ticket_refs(handoff_id)

    # local inbox -------------------------------------------------------------------------------
    @abstractmethod
    def put_inbox_item(
        self, handoff_id: str, payload: dict[str, Any], now: str
    ) -> tuple[int, bool]:
        """File a handoff in the built-in inbox; return (ticket number, created now)."""

    @abstractmethod
    def get_inbox_item(self, handoff_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def add_inbox_note(self, handoff_id: str, text: str, now: str, key: str | None = None) -> bool:
        """Append a note to the inbox item (``KeyError`` when there is none); ``key`` (the outbox
        key) is kept with it, and a note whose key is already there is not added again: False."""

    # audit -------------------------------------------------------------------------------------
    # One hash chain per conversation (``audit_chain``): a row's ``prev_hash`` is the hash of the
    # previous row of its conversation, so writers of different conversations never wait for one
    # head row. Checkpoints seal the chains' heads, so a chain cut short is caught too.
    @abstractmethod
    def append_audit(
        self,
        *,
        at: str,
        action: str,
        actor: str,
        conversation_id: str | None,
        handoff_id: str | None,
        reason: str,
        data: dict[str, Any],
    ) -> AuditRow:
        """Append a row to its conversation's chain (writers of one chain take turns)."""

    @abstractmethod
    def list_audit(self, conversation_id: str | None = None) -> list[AuditRow]:
        """Rows in the order they were written: by time, and by id within a conversation."""

    @abstractmethod
    def seal_audit(self, at: str) -> AuditCheckpoint | None:
        """Record the heads of the chains changed since the last checkpoint in a new one, chained
        to it; None (nothing written) when no chain changed."""

    @abstractmethod
    def list_audit_checkpoints(self) -> list[AuditCheckpoint]:
        """Every checkpoint, oldest first."""

    # draft events (the widget) -----------------------------------------------------------------
    @abstractmethod
    def add_draft_event(self, row: dict[str, Any]) -> int:
        """Record one use of a handoff's draft reply (``connector/drafts.py``); return its id."""

    @abstractmethod
    def list_draft_events(self, handoff_id: str | None = None) -> list[dict[str, Any]]: ...

    @abstractmethod
    def latest_handoff_for_conversation(self, conversation_id: str) -> HandoffRow | None:
        """The conversation's most recent handoff, open or not (helpdesk apps look it up by it)."""


class Waker(ABC):
    """Tells delivery workers that work was written, so they need not poll.

    The contract, which ``connector/delivery.py`` relies on:

    - ``generation`` counts the wake-ups this waker has seen; it only grows.
    - ``notify()`` raises ``generation`` here and reaches every waker that called ``listen()`` on
      the same store, in this process or another one. It never raises and never blocks: it is
      called after each commit that adds work.
    - ``wait(since, timeout)`` returns as soon as ``generation != since`` (at once if it already
      is), or after ``timeout`` seconds. Reading ``generation`` before looking for work and then
      waiting from it loses no wake-up that came in between.
    - ``listen()`` starts receiving other processes' ``notify`` (workers call it; twice is once).
    - ``close()`` stops listening and frees what the waker holds; the store does not close it.
    """

    @property
    @abstractmethod
    def generation(self) -> int: ...

    @abstractmethod
    def notify(self) -> None: ...

    @abstractmethod
    def wait(self, since: int, timeout: float) -> None: ...

    def wake_here(self) -> None:
        """Raise ``generation`` for the waiters of this process only (a worker whose thread claimed
        rows for its idle siblings wakes them); by default ``notify()``, which also does that."""
        self.notify()

    @abstractmethod
    def listen(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class Store(ABC):
    """A store: ``name`` is its key in ``STORES`` (the scheme of its ``store.url``).

    ``audit_ids_contiguous``: audit row ids have no gaps (one writer at a time takes the next
    id), so ``handoff audit verify`` reports a gap as deleted rows. Not so where many writers take
    ids from a sequence that a rolled-back transaction leaves a hole in.
    """

    name = ""
    audit_ids_contiguous = True

    @classmethod
    @abstractmethod
    def check_url(cls, url: str) -> list[tuple[str, str]]:
        """Problems with ``url`` as ``(key path, message)``, without touching the store:
        what ``handoff check-config`` reports. Empty when ``from_url`` can use it."""

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, settings: StoreSettings) -> Store:
        """The store at ``url``, not yet migrated; ``ConfigError`` if ``check_url`` finds problems."""

    @abstractmethod
    def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied."""

    @abstractmethod
    def pending_migrations(self) -> list[str]:
        """The migrations not yet applied, in order, without applying them (``migrate --check``)."""

    @abstractmethod
    def atomic(self) -> AbstractContextManager[Tx]:
        """A write transaction: commit on success, roll back on any exception."""

    @abstractmethod
    def reading(self) -> AbstractContextManager[Tx]:
        """A read transaction (consistent snapshot, no write lock)."""

    def turns(self) -> AbstractContextManager[object]:
        """Held around one event's read → decide → write (``service.ingest_event``), and by
        ``handoff serve`` around the whole request of a bot event (``service.event_turns``).

        A store whose calls are short and local returns a lock, so a process's events take turns:
        each SQLite call gives up the GIL for microseconds, and threads trading it at every call
        spend more CPU switching than the overlap saves. A store whose calls wait on the network
        keeps the default, no turns, so other events work while one waits for its answers. With
        the learned model on, events do not take turns on any store: the model's inference runs
        without the GIL, and two events' inferences overlap on two cores.
        """
        return nullcontext()

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot answer or cannot take a write now (``/readyz``).

        A real, tiny write: a disk that is full or a file that turned read-only still answers
        reads, and readiness must fail while events would.
        """

    @abstractmethod
    def waker(self) -> Waker:
        """A new ``Waker`` that meets every other waker of this same store; the caller closes it."""

    @abstractmethod
    def close(self) -> None: ...

    # one consistent read each, outside any transaction of the caller's: the ``Tx`` verbs of the
    # same names in a ``reading()`` by default; a store that answers them in one statement may
    # send it alone (``_read_alone``; PostgreSQL: no BEGIN, no COMMIT), a statement being one
    # snapshot.
    def _read_alone(self) -> AbstractContextManager[Tx]:
        return self.reading()

    # a claim, in a write transaction of its own (``_write_alone``): one statement on a store whose
    # claim is one
    def _write_alone(self) -> AbstractContextManager[Tx]:
        return self.atomic()

    def ingest_snapshot(self, source: str, event_id: str, conversation_id: str) -> IngestSnapshot:
        with self._read_alone() as tx:
            return tx.ingest_snapshot(source, event_id, conversation_id)

    def routing_history(self, team: str, limit: int, customer_id: str | None) -> RoutingHistory:
        with self._read_alone() as tx:
            return tx.routing_history(team, limit, customer_id)

    def look_for_work(self, now: float) -> WorkLook:
        with self._read_alone() as tx:
            return tx.look_for_work(now)

    def handoff_with_refs(
        self, handoff_id: str
    ) -> tuple[HandoffRow | None, dict[str, dict[str, Any]]]:
        with self._read_alone() as tx:
            return tx.handoff_with_refs(handoff_id)

    def claim_outbox(self, worker_id: str, now: float, lease_seconds: float) -> OutboxRow | None:
        with self._write_alone() as tx:
            return tx.claim_outbox(worker_id, now, lease_seconds)

    def claim_outbox_batch(
        self, worker_id: str, now: float, lease_seconds: float, limit: int
    ) -> list[OutboxRow]:
        with self._write_alone() as tx:
            return tx.claim_outbox_batch(worker_id, now, lease_seconds, limit)

    def iter_audit(self, conversation_id: str | None = None) -> Iterator[AuditRow]:
        with self.reading() as tx:
            yield from tx.list_audit(conversation_id)

    def audit_checkpoints(self) -> list[AuditCheckpoint]:
        with self.reading() as tx:
            return tx.list_audit_checkpoints()


# The stores, by the scheme of ``store.url``: import strings, so a store's driver is imported only
# when it is chosen.
STORES: dict[str, str] = {
    "postgresql": "connector.store.postgres:PostgresStore",
    "sqlite": "connector.store.sqlite:SqliteStore",
}


def url_scheme(url: str) -> str:
    """``sqlite`` of ``sqlite:///handoff.db``; empty when ``url`` has no ``scheme://``."""
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep else ""


def store_class(scheme: str, *, key_path: str = "store.url") -> type[Store]:
    """Resolve a URL scheme to its store class, with a "did you mean" for typos."""
    target = STORES.get(scheme)
    if target is None:
        close = difflib.get_close_matches(scheme, STORES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(sorted(STORES))
        raise ConfigError([(key_path, f"unknown store {scheme!r}{hint}; known: {known}")])
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError([(key_path, f"cannot load {module_name}: {exc}")]) from exc
    cls: type[Store] = getattr(module, class_name)
    return cls
