"""The audit trail: digests of decision inputs, chain verification, checkpoints and export.

Rows are appended by ``Tx.append_audit`` (``connector/store``) to one hash chain per conversation
(``audit_chain``): each row carries the hash of the previous row of its conversation
(``audit_hash``), so replicas writing different conversations never queue on one head row.
``verify`` recomputes every chain: an edited row no longer matches its own hash, a deleted row
leaves the next row of its conversation pointing at a hash that is not its predecessor's, and on
stores whose ids have no gaps (SQLite) a gap in the ids is reported too.

Deleting the last rows of a chain leaves a shorter chain that is still valid; checkpoints catch
that. ``seal`` (the worker runs it every ``SEAL_INTERVAL_SECONDS``; ``handoff audit seal`` on
demand) records the heads of the chains changed since the last checkpoint in a new one, and
checkpoints are chained too: ``verify`` checks that every sealed head is still there. Rows after
the last checkpoint are covered by the head hash ``verify`` prints: keep it elsewhere and pass it
back as ``anchor``.

Rows written before per-conversation chains (SQLite files older than migration 015_audit_chains)
stay one chain, checked as before up to the id the migration's checkpoint records (``legacy_upto``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connector.store.base import (
    AuditCheckpoint,
    AuditRow,
    audit_chain,
    audit_hash,
    canonical_json,
    checkpoint_hash,
)

if TYPE_CHECKING:
    from connector.store import Store

logger = logging.getLogger(__name__)

SEAL_INTERVAL_SECONDS = 300.0
LEGACY = "(single chain)"  # the heads key of the checkpoint that closes the older single chain


def digest(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``: what a decision was made from."""
    return "sha256:" + hashlib.sha256(canonical_json(value).encode()).hexdigest()


@dataclass
class Verification:
    rows: int = 0
    head: str = ""
    last_id: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    anchor_found: bool | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.anchor_found is not False


def _check_checkpoints(
    checkpoints: Sequence[AuditCheckpoint], result: Verification
) -> dict[str, str]:
    """Check the checkpoints' own chain; return the sealed heads to look for, by hash → chain."""
    wanted: dict[str, str] = {}
    prev = ""
    for cp in checkpoints:
        result.checkpoints += 1
        if cp.prev_hash != prev:
            result.problems.append(
                f"checkpoint {cp.id}: prev_hash does not match the checkpoint before it "
                "(a checkpoint was deleted or edited)"
            )
        if checkpoint_hash(cp.prev_hash, cp.at, cp.heads, cp.legacy_upto) != cp.hash:
            result.problems.append(
                f"checkpoint {cp.id} (at {cp.at}): content does not match its hash (edited)"
            )
        for chain, head in cp.heads.items():
            wanted[head] = chain
        prev = cp.hash
    return wanted


def verify(
    rows: Iterable[AuditRow],
    *,
    anchor: str | None = None,
    first_id: int = 1,
    checkpoints: Sequence[AuditCheckpoint] = (),
    id_gaps: bool = True,
) -> Verification:
    """Recompute every chain over ``rows``, check the checkpoints and that each head they sealed
    is still there, and list every break found.

    Rows are checked in id order, whatever order they come in: within a conversation ids grow
    in the order rows were appended (appenders of a chain take turns), while times need not (a
    worker stamps a delivery before it waits for the chain). ``id_gaps`` reports a jump in the
    ids as deleted rows (``Store.audit_ids_contiguous``).
    """
    result = Verification(anchor_found=None if anchor is None else False)
    wanted = _check_checkpoints(checkpoints, result)
    if anchor is not None and any(cp.hash == anchor for cp in checkpoints):
        result.anchor_found = True
    legacy_upto = max((cp.legacy_upto or 0 for cp in checkpoints), default=0)
    last: dict[str, tuple[int, str]] = {}  # chain → (id, hash) of its latest row
    expected_id = first_id
    for row in sorted(rows, key=lambda r: r.id):
        result.rows += 1
        if id_gaps and row.id != expected_id:
            missing = (
                f"{expected_id}" if row.id == expected_id + 1 else f"{expected_id}..{row.id - 1}"
            )
            result.problems.append(
                f"row(s) {missing} deleted: ids jump from {expected_id - 1} to {row.id}"
            )
        chain = LEGACY if row.id <= legacy_upto else audit_chain(row.conversation_id)
        before_id, before_hash = last.get(chain, (0, ""))
        if row.prev_hash != before_hash:
            result.problems.append(
                f"row {row.id}: prev_hash does not match row {before_id or '-'}'s "
                "hash (a row before it was deleted or edited)"
            )
        computed = audit_hash(
            row.prev_hash,
            row.at,
            row.action,
            row.actor,
            row.conversation_id,
            row.handoff_id,
            row.reason,
            row.data,
        )
        if computed != row.hash:
            result.problems.append(
                f"row {row.id} ({row.action} at {row.at}): content does not match its hash (edited)"
            )
        if anchor is not None and row.hash == anchor:
            result.anchor_found = True
        if wanted.get(row.hash) == chain:
            del wanted[row.hash]
        last[chain] = (row.id, row.hash)
        expected_id = row.id + 1
        result.last_id = row.id
        result.head = row.hash
    for head, chain in wanted.items():
        whose = (
            "the older single chain"
            if chain == LEGACY
            else f"conversation {chain!r}"
            if chain
            else "rows of no conversation"
        )
        result.problems.append(
            f"sealed head {head[:16]}… of {whose} is missing: rows at the end of its chain "
            "were deleted"
        )
    return result


def verify_store(store: Store, *, anchor: str | None = None) -> Verification:
    """``verify`` over a whole store, with its checkpoints."""
    return verify(
        store.iter_audit(),
        anchor=anchor,
        checkpoints=store.audit_checkpoints(),
        id_gaps=store.audit_ids_contiguous,
    )


def seal(store: Store, at: str) -> AuditCheckpoint | None:
    """Seal the chains changed since the last checkpoint (None when none changed)."""
    with store.atomic() as tx:
        return tx.seal_audit(at)


class Sealer:
    """Seals a checkpoint at most every ``interval`` seconds of ``now()`` (the delivery worker's
    idle loop calls ``maybe``); several workers sealing at once only write empty-handed Nones."""

    def __init__(
        self, store: Store, now: Callable[[], datetime], interval: float = SEAL_INTERVAL_SECONDS
    ):
        self.store, self.now, self.interval = store, now, interval
        self._last: datetime | None = None

    def maybe(self) -> AuditCheckpoint | None:
        moment = self.now()
        if self._last is not None and (moment - self._last).total_seconds() < self.interval:
            return None
        self._last = moment
        try:
            return seal(self.store, moment.isoformat(timespec="microseconds"))
        except Exception:  # sealing is housekeeping: the next round tries again
            logger.warning("could not seal an audit checkpoint", exc_info=True)
            return None


def as_json(row: AuditRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at,
        "action": row.action,
        "actor": row.actor,
        "conversation_id": row.conversation_id,
        "handoff_id": row.handoff_id,
        "reason": row.reason,
        "data": row.data,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def export_lines(rows: Iterable[AuditRow], since: str | None = None) -> Iterator[str]:
    """JSON lines, one row each, with the hashes (so the export can be verified on its own)."""
    for row in rows:
        if since is not None and row.at < since:
            continue
        yield json.dumps(as_json(row), ensure_ascii=False, separators=(",", ":"))
