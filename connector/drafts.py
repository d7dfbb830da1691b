"""How agents use the bot's draft reply: events (copied, inserted, sent, discarded) and edit distance.

The edit distance tells whether drafts are worth having: a draft sent with distance 0 saved the
agent a reply; one rewritten from scratch did not. Only lengths and the distance are stored, never
the agent's final text.
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field

from connector.clock import iso
from connector.errors import NotFound
from connector.runtime import Runtime
from connector.schemas import Strict

logger = logging.getLogger(__name__)

DraftAction = Literal["copied", "inserted", "sent_unedited", "sent_edited", "discarded"]


class DraftEvent(Strict):
    """``POST /v1/handoffs/{id}/draft-events``."""

    action: DraftAction
    final_text: str | None = Field(default=None, max_length=20_000)
    actor: str | None = Field(default=None, max_length=200)


def levenshtein(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute: cost 1) in O(len) memory.

    Bit-parallel (Myers 1999, Hyyrö 2001): the column of the DP matrix is two bit vectors held in
    Python integers, so two 10 000-character texts take milliseconds, not 10⁸ cell updates.
    """
    if a == b:
        return 0
    # common prefix and suffix never change the distance
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    peq: dict[str, int] = {}
    for i, ch in enumerate(b):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in a:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & mask) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & mask
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
    return score


def record(runtime: Runtime, handoff_id: str, event: DraftEvent, *, actor: str, via: str) -> dict:
    """Store one draft event (and an audit row); return what was stored."""
    now = runtime.now()
    stamp = iso(now)
    with runtime.store.atomic() as tx:
        handoff = tx.get_handoff(handoff_id)
        if handoff is None:
            raise NotFound(f"no handoff {handoff_id!r}", slug="unknown-handoff")
        draft = (handoff.payload or {}).get("draft_reply") or ""
        distance = None if event.final_text is None else levenshtein(draft, event.final_text)
        row = {
            "handoff_id": handoff_id,
            "action": event.action,
            "actor": actor,
            "via": via,
            "at": stamp,
            "draft_chars": len(draft),
            "final_chars": None if event.final_text is None else len(event.final_text),
            "edit_distance": distance,
        }
        row["id"] = tx.add_draft_event(row)
        tx.append_audit(
            at=stamp,
            action=f"draft.{event.action}",
            actor=actor,
            conversation_id=handoff.conversation_id,
            handoff_id=handoff_id,
            reason=f"via {via}",
            data={"edit_distance": distance, "final_chars": row["final_chars"]},
        )
    logger.info("draft %s", event.action, extra={"handoff": handoff_id, "edit_distance": distance})
    return row
