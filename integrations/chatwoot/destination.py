"""Chatwoot as a helpdesk: a conversation's private note is the ticket.

A handoff of a Chatwoot conversation (the ``chatwoot`` bot channel) is written into that
conversation: the full note, and ``custom_attributes.handoff_id`` so Chatwoot's account webhooks
name the handoff. Any other handoff (Rasa, Typebot, …) gets a contact and a conversation of its own in
an API inbox (``inbox_id``), open, with the routed team. Exactly once: the contact is identified by
the handoff id, the conversation by its ``handoff_id`` attribute, and each note by its last line
(``handoff: <id>`` or ``ref: <outbox key>``), each looked up before it is created again.
"""

from __future__ import annotations

from typing import Any

from integrations.base import (
    Delivery,
    Destination,
    DestinationContext,
    Finding,
    HelpdeskEvent,
    PermanentDeliveryError,
    TicketRef,
    config_error,
    settings_problems,
)
from integrations.chatwoot import build, webhooks
from integrations.chatwoot.client import ChatwootClient
from integrations.chatwoot.doctor import doctor_findings


class ChatwootDestination(Destination):
    name = "chatwoot"

    def __init__(self, settings: build.ChatwootDestinationSettings, context: DestinationContext):
        self.settings = settings
        self.context = context
        self.client = ChatwootClient(
            settings.base_url,
            settings.account_id,
            settings.api_access_token,
            settings.timeout_seconds,
        )

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        return settings_problems(build.ChatwootDestinationSettings, settings)[1]

    @classmethod
    def from_config(
        cls, settings: dict[str, Any], context: DestinationContext
    ) -> ChatwootDestination:
        parsed, problems = settings_problems(build.ChatwootDestinationSettings, settings)
        if parsed is not None:
            problems += [
                (f"team_ids.{team}", "not one of routing.teams")
                for team in parsed.team_ids
                if team not in context.team_names
            ]
        if problems or parsed is None:
            raise config_error(cls.name, problems)
        return cls(parsed, context)

    def url(self, display: str) -> str:
        return f"{self.settings.base_url}/app/accounts/{self.settings.account_id}/conversations/{display}"

    # -- deliver ---------------------------------------------------------------------------------
    def deliver(self, delivery: Delivery) -> TicketRef:
        payload = delivery.payload
        display = build.display_id(payload.conversation_id, self.settings.account_id)
        if display is not None:
            self._tag(display, payload.handoff_id)
        elif delivery.previous is not None:
            display = delivery.previous.id
        else:
            display = self._conversation_for(delivery)
        self._note_once(display, build.render_note(payload, delivery.widget_url))
        return TicketRef(self.name, display, self.url(display))

    def _tag(self, display: str, handoff_id: str) -> None:
        """Write the handoff id into the conversation's attributes (the call replaces the hash)."""
        conversation = self.client.call("GET", f"/conversations/{display}") or {}
        attributes = dict(conversation.get("custom_attributes") or {})
        if attributes.get("handoff_id") != handoff_id:
            self.client.call(
                "POST",
                f"/conversations/{display}/custom_attributes",
                {"custom_attributes": {**attributes, "handoff_id": handoff_id}},
            )

    def _conversation_for(self, delivery: Delivery) -> str:
        payload = delivery.payload
        inbox_id = self.settings.inbox_id
        if inbox_id is None:
            raise PermanentDeliveryError(
                f"handoff {payload.handoff_id} is not a Chatwoot conversation and "
                "destinations.chatwoot.inbox_id (an API inbox for other channels) is not set"
            )
        body = build.contact_body(payload, inbox_id)
        found = self.client.call("GET", "/contacts/search", params={"q": body["identifier"]}) or {}
        contact = next(
            (c for c in found.get("payload") or [] if c.get("identifier") == body["identifier"]),
            None,
        )
        if contact is None:
            created = self.client.call("POST", "/contacts", body) or {}
            inner = created.get("payload", created)
            contact = inner.get("contact", inner)
        else:  # a retry: the conversation may exist already
            listed = self.client.call("GET", f"/contacts/{contact['id']}/conversations") or {}
            for conversation in listed.get("payload") or []:
                if (conversation.get("custom_attributes") or {}).get(
                    "handoff_id"
                ) == payload.handoff_id:
                    return str(conversation["id"])
        team = payload.routing.team
        team_id = self.settings.team_ids.get(team) if team else None
        conversation = (
            self.client.call(
                "POST",
                "/conversations",
                build.conversation_body(
                    payload, f"handoff-{payload.handoff_id}", inbox_id, int(contact["id"]), team_id
                ),
            )
            or {}
        )
        return str(conversation["id"])

    def _note_once(self, display: str, content: str) -> None:
        last = content.rsplit("\n", 1)[-1]
        listed = self.client.call("GET", f"/conversations/{display}/messages") or {}
        if any(
            m.get("private") and str(m.get("content") or "").rsplit("\n", 1)[-1] == last
            for m in listed.get("payload") or []
        ):
            return
        self.client.call(
            "POST",
            f"/conversations/{display}/messages",
            {"content": content, "message_type": "outgoing", "private": True},
        )

    # -- later -----------------------------------------------------------------------------------
    def add_note(self, ref: TicketRef, text: str, *, key: str | None = None) -> None:
        self._note_once(ref.id, build.keyed_note(text, key))

    def update(self, ref: TicketRef, fields: dict[str, Any], *, key: str | None = None) -> None:
        team = fields.get("team")
        if team and team in self.settings.team_ids:
            self.client.call(
                "POST",
                f"/conversations/{ref.id}/assignments",
                {"team_id": self.settings.team_ids[team]},
            )
        priority = build.PRIORITIES.get(str(fields.get("priority")))
        if priority:
            self.client.call(
                "POST", f"/conversations/{ref.id}/toggle_priority", {"priority": priority}
            )

    # -- webhooks --------------------------------------------------------------------------------
    def verify_webhook(self, headers: dict[str, str], body: bytes) -> None:
        webhooks.verify(
            self.settings.webhook_secret,
            headers,
            body,
            now=self.context.now().timestamp(),
            window=self.context.replay_window_seconds,
        )

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> list[HelpdeskEvent]:
        return webhooks.parse(webhooks.load(body), self.settings.team_ids)

    def doctor(self) -> list[Finding]:
        return doctor_findings(self)

    def close(self) -> None:
        self.client.close()


__all__ = ["ChatwootDestination"]
