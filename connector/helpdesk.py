"""What an agent did in a helpdesk, applied to the conversation: the one path every vendor uses.

Each vendor's ``parse_webhook`` turns its payload into ``HelpdeskEvent``s (and drops echoes of the
connector's own notes and updates); this module applies them through the same domain operations as
the API, so a Zendesk reply, an Intercom assignment and a widget click have the same effects.
A webhook the vendor sends twice is applied once (its id is recorded like a bot event's).
"""

from __future__ import annotations

import logging

from connector import live, service
from connector.clock import iso
from connector.errors import Conflict
from connector.runtime import Runtime
from connector.schemas import Claim, Handback
from integrations.base import HelpdeskEvent

logger = logging.getLogger(__name__)


def _seen_before(runtime: Runtime, vendor: str, event: HelpdeskEvent) -> bool:
    """Record the vendor's event id; True if it was recorded already."""
    if not event.raw_id:
        return False
    with runtime.store.atomic() as tx:
        if tx.get_event(f"helpdesk:{vendor}", event.raw_id) is not None:
            return True
        tx.put_event(f"helpdesk:{vendor}", event.raw_id, event.handoff_id or "",
                     {"kind": event.kind}, iso(runtime.now()))
    return False


def apply_event(runtime: Runtime, vendor: str, event: HelpdeskEvent) -> str:
    """Apply one helpdesk event; return what happened, in a word, for the webhook's answer."""
    if not event.handoff_id:
        return "ignored: not a handoff of ours"
    with runtime.store.reading() as tx:
        handoff = tx.get_handoff(event.handoff_id)
    if handoff is None:
        return "ignored: unknown handoff"
    if _seen_before(runtime, vendor, event):
        return "duplicate"
    actor = event.actor or f"{vendor} agent"
    try:
        if event.kind == "agent_assigned":
            if event.team and handoff.team and event.team != handoff.team:
                service.record_reassignment(runtime, handoff.id, handoff.team, event.team)
            if handoff.status == "open":
                service.claim(runtime, handoff.id, Claim(actor=actor))
            return "assigned"
        if event.kind == "reassigned":
            if not event.team:
                return "ignored: reassigned without a team"
            service.record_reassignment(runtime, handoff.id, handoff.team, event.team)
            return "reassigned"
        if event.kind == "agent_replied":
            service.record_agent_reply(runtime, handoff.id, actor, event.at or runtime.now())
            if event.text:  # a public reply: the customer gets it through the bot (audit: agent.message)
                live.relay_helpdesk_reply(runtime, vendor, handoff.id, actor=actor, text=event.text,
                                          reply_id=event.raw_id or f"{event.at}:{event.text}")
            return "agent replied"
        if event.kind == "handback":
            note = (event.note or "").strip() or f"Handed back from {vendor} without a note."
            service.handback(runtime, handoff.id, Handback(actor=actor, note=note, resolution="handed_back"))
            return "handed back"
        if event.kind == "solved":
            if handoff.status in ("open", "with_agent"):
                service.handback(runtime, handoff.id, Handback(
                    actor=actor, note=event.note or f"Solved in {vendor}.", resolution="solved"))
            return "solved"
    except Conflict as exc:
        # the conversation moved on (handed back already, claimed by someone else): nothing to do
        logger.info("helpdesk event %s for %s not applied: %s", event.kind, handoff.id, exc.detail)
        return f"ignored: {exc.detail}"
    return "ignored: unknown kind"


def apply_events(runtime: Runtime, vendor: str, events: list[HelpdeskEvent]) -> list[str]:
    return [apply_event(runtime, vendor, event) for event in events]
