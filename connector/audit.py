"""The audit trail: digests of decision inputs, chain verification and export.

Rows are appended by ``Tx.append_audit`` (``connector/store``), each carrying the hash of the one
before it (``audit_hash``). ``verify`` recomputes the chain: an edited row no longer matches its
own hash, a deleted row leaves the next row pointing at a hash that is not its predecessor's, and a
gap in the ids is reported too. Deleting rows at the tail leaves a shorter chain that is still
valid; keep the head hash that ``verify`` prints somewhere else and pass it back as ``anchor`` to
catch that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from connector.store.base import AuditRow, audit_hash, canonical_json


def digest(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``: what a decision was made from."""
    return "sha256:" + hashlib.sha256(canonical_json(value).encode()).hexdigest()


@dataclass
class Verification:
    rows: int = 0
    head: str = ""
    last_id: int = 0
    problems: list[str] = field(default_factory=list)
    anchor_found: bool | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.anchor_found is not False


def verify(
    rows: Iterable[AuditRow], *, anchor: str | None = None, first_id: int = 1
) -> Verification:
    """Recompute the chain over ``rows`` (in id order) and list every break found."""
    result = Verification(anchor_found=None if anchor is None else False)
    prev_hash = ""
    expected_id = first_id
    for row in rows:
        result.rows += 1
        if row.id != expected_id:
            missing = (
                f"{expected_id}" if row.id == expected_id + 1 else f"{expected_id}..{row.id - 1}"
            )
            result.problems.append(
                f"row(s) {missing} deleted: ids jump from {expected_id - 1} to {row.id}"
            )
        if row.prev_hash != prev_hash:
            result.problems.append(
                f"row {row.id}: prev_hash does not match row {result.last_id or '-'}'s "
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
        prev_hash = row.hash
        expected_id = row.id + 1
        result.last_id = row.id
    result.head = prev_hash
    return result


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
