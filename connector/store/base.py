"""The Store interface: everything the service persists, as a handful of verbs.

Every write happens inside ``store.atomic()``, which yields a ``Tx``: one transaction that holds
the write lock from its first statement, so checks and writes inside it cannot interleave with
another writer (another thread, or another process on the same file). ``store.reading()`` yields a
``Tx`` for consistent reads. Implementations: ``SqliteStore`` (the default).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any


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


def audit_hash(prev_hash: str, at: str, action: str, actor: str, conversation_id: str | None,
               handoff_id: str | None, reason: str, data: dict[str, Any]) -> str:
    """The chain link: any edit to a row, or a deleted row, breaks every hash after it."""
    canonical = json.dumps(
        [prev_hash, at, action, actor, conversation_id, handoff_id, reason, data],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class Tx(ABC):
    """One transaction. Methods raise on storage failure; nothing is committed until the end."""

    # events ------------------------------------------------------------------------------------
    @abstractmethod
    def get_event(self, source: str, event_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def put_event(self, source: str, event_id: str, conversation_id: str,
                  response: dict[str, Any], received_at: str) -> None: ...

    # conversations and messages ----------------------------------------------------------------
    @abstractmethod
    def get_conversation(self, conversation_id: str) -> ConversationRow | None: ...

    @abstractmethod
    def insert_conversation(self, row: ConversationRow) -> None: ...

    @abstractmethod
    def update_conversation(self, conversation_id: str, **fields: Any) -> None: ...

    @abstractmethod
    def cas_control(self, conversation_id: str, expected_version: int, owner: str,
                    handoff_id: str | None, now: str) -> bool:
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
    def list_handoffs(self, status: str | None = None, team: str | None = None,
                      limit: int = 100) -> list[HandoffRow]: ...

    @abstractmethod
    def count_customer_handoffs(self, customer_id: str) -> int: ...

    @abstractmethod
    def put_ticket_ref(self, handoff_id: str, destination: str, ref: dict[str, Any]) -> None: ...

    @abstractmethod
    def get_ticket_refs(self, handoff_id: str) -> dict[str, dict[str, Any]]: ...

    # outbox ------------------------------------------------------------------------------------
    @abstractmethod
    def enqueue(self, kind: str, target: str, idempotency_key: str, body: dict[str, Any], now: float,
                handoff_id: str | None = None, conversation_id: str | None = None) -> int | None:
        """Add an outbox row; a repeated idempotency key adds nothing and returns None."""

    @abstractmethod
    def claim_outbox(self, worker_id: str, now: float, lease_seconds: float) -> OutboxRow | None:
        """Take the most overdue row that is pending, or whose claim expired. Counts an attempt."""

    @abstractmethod
    def finish_outbox(self, row_id: int, worker_id: str, now: float, *, status: str,
                      next_attempt_at: float | None = None, error: str | None = None,
                      result: dict[str, Any] | None = None) -> bool:
        """Record an attempt's outcome iff ``worker_id`` still holds the claim."""

    @abstractmethod
    def get_outbox(self, row_id: int) -> OutboxRow | None: ...

    @abstractmethod
    def list_outbox(self, status: str | None = None, limit: int = 100) -> list[OutboxRow]: ...

    @abstractmethod
    def retry_outbox(self, row_id: int, now: float) -> bool:
        """Put a dead (or pending) row back in line, due now, with its attempts reset."""

    @abstractmethod
    def next_due_at(self) -> float | None: ...

    # local inbox -------------------------------------------------------------------------------
    @abstractmethod
    def put_inbox_item(self, handoff_id: str, payload: dict[str, Any], now: str) -> tuple[int, bool]:
        """File a handoff in the built-in inbox; return (ticket number, created now)."""

    @abstractmethod
    def get_inbox_item(self, handoff_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def add_inbox_note(self, handoff_id: str, text: str, now: str) -> None: ...

    # audit -------------------------------------------------------------------------------------
    @abstractmethod
    def append_audit(self, *, at: str, action: str, actor: str, conversation_id: str | None,
                     handoff_id: str | None, reason: str, data: dict[str, Any]) -> AuditRow: ...

    @abstractmethod
    def list_audit(self, conversation_id: str | None = None) -> list[AuditRow]: ...


class Store(ABC):
    name = ""

    @abstractmethod
    def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied."""

    @abstractmethod
    def atomic(self) -> AbstractContextManager[Tx]:
        """A write transaction: commit on success, roll back on any exception."""

    @abstractmethod
    def reading(self) -> AbstractContextManager[Tx]:
        """A read transaction (consistent snapshot, no write lock)."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot answer (``/readyz``)."""

    @abstractmethod
    def close(self) -> None: ...

    def iter_audit(self, conversation_id: str | None = None) -> Iterator[AuditRow]:
        with self.reading() as tx:
            yield from tx.list_audit(conversation_id)
