"""The built-in inbox: the default destination, and the reference every helpdesk is compared with.

It files each handoff once (keyed by handoff id, so a retried delivery finds the item it filed
before) in the connector's own store, where ``/inbox`` shows it to agents.
"""

from __future__ import annotations

from typing import Any

from connector.clock import iso
from connector.errors import Unauthorized
from integrations.base import (
    Delivery,
    Destination,
    DestinationContext,
    HelpdeskEvent,
    PermanentDeliveryError,
    TicketRef,
)

SHOWN_FROM_PAYLOAD = frozenset({"summary", "draft_reply", "next_action"})


class LocalInboxDestination(Destination):
    name = "local"
    copies_turns = False  # the inbox shows the conversation's own transcript, live

    def __init__(self, context: DestinationContext):
        self.context = context

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        return [(key, "unknown key (the local inbox takes no settings)") for key in settings]

    @classmethod
    def from_config(
        cls, settings: dict[str, Any], context: DestinationContext
    ) -> LocalInboxDestination:
        return cls(context)

    def _url(self, handoff_id: str) -> str:
        return f"{self.context.base_url}/inbox/{handoff_id}"

    def deliver(self, delivery: Delivery) -> TicketRef:
        payload = delivery.payload.model_dump(mode="json", by_alias=True)
        with self.context.store.atomic() as tx:
            number, _created = tx.put_inbox_item(
                delivery.handoff_id, payload, iso(self.context.now())
            )
        return TicketRef(
            self.name,
            str(number),
            self._url(delivery.handoff_id),
            {"handoff_id": delivery.handoff_id},
        )

    def add_note(self, ref: TicketRef, text: str, *, key: str | None = None) -> None:
        handoff_id = ref.extra.get("handoff_id")
        with self.context.store.atomic() as tx:
            try:
                # a retry of a note filed before its outbox row was finished is not added again
                tx.add_inbox_note(handoff_id or "", text, iso(self.context.now()), key=key)
            except KeyError:
                raise PermanentDeliveryError(f"inbox item {ref.id} does not exist") from None

    def update(self, ref: TicketRef, fields: dict[str, Any], *, key: str | None = None) -> None:
        # the inbox shows these from the handoff's own payload, which the model's update changed
        fields = {k: v for k, v in fields.items() if k not in SHOWN_FROM_PAYLOAD}
        if fields:
            self.add_note(
                ref, "Updated: " + ", ".join(f"{k}={v}" for k, v in sorted(fields.items())), key=key
            )

    def verify_webhook(self, headers: dict[str, str], body: bytes) -> None:
        raise Unauthorized("the local inbox has no webhooks: agents act through /v1/handoffs")

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> list[HelpdeskEvent]:
        return []
